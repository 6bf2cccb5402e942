// Creates every object of a new output file up front (reference/phdf5-crash-safety.md: once
// these are flushed, later raw writes cannot damage the file's metadata).
#include "output_build.hpp"

#include <hdf5_hl.h>

#include <cstdint>
#include <limits>
#include <map>

#include "hdf5_handle.hpp"
#include "output_schema.hpp"

namespace stormrun::io {
namespace {

/// Contiguous, allocated at creation: the dataset's extent never changes afterwards, so no
/// metadata is touched by the writes that follow.
Hid contiguous_early_dcpl(const std::filesystem::path& path, const std::string& name) {
  Hid dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path, name, "H5Pcreate(dcpl)");
  checked(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), path, name, "H5Pset_layout");
  checked(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), path, name, "H5Pset_alloc_time");
  return dcpl;
}

Hid create_coordinate(hid_t file, const Coordinate& coord, const std::filesystem::path& path,
                      int rank) {
  const std::string what = "coordinate " + coord.name;
  const hsize_t dims[1] = {coord.size()};
  Hid space = checked(H5Screate_simple(1, dims, nullptr), H5Sclose, path, what, "H5Screate");
  Hid dcpl = contiguous_early_dcpl(path, what);
  // No fill: rank 0 writes the values right away, and a fill by other ranks must not race it.
  checked(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), path, what, "H5Pset_fill_time");
  const hid_t file_type = coord.is_integer ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  Hid dset = checked(H5Dcreate2(file, coord.name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                dcpl.get(), H5P_DEFAULT),
                     H5Dclose, path, what, "create");
  // Independent write of the (small) values by one rank; the other ranks hold the same.
  if (rank == 0) {
    const void* values = coord.is_integer ? static_cast<const void*>(coord.integers.data())
                                          : static_cast<const void*>(coord.reals.data());
    checked(H5Dwrite(dset.get(), coord.is_integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL,
                     H5S_ALL, H5P_DEFAULT, values),
            path, what, "write values");
  }
  checked(H5DSset_scale(dset.get(), coord.name.c_str()), path, what, "H5DSset_scale");
  for (const auto& [key, value] : coord.attributes)
    write_string_attribute(dset.get(), key, value, path, what);
  return dset;
}

void write_nan_attribute(hid_t object, const char* name, const std::filesystem::path& path,
                         const std::string& what) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Hid space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, what, "H5Screate");
  Hid attr =
      checked(H5Acreate2(object, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, path, what + " attribute " + name, "create");
  checked(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &nan), path, what + " attribute " + name,
          "write");
}

void write_int_attribute(hid_t object, const char* name, int value,
                         const std::filesystem::path& path) {
  Hid space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, "/", "H5Screate");
  Hid attr = checked(H5Acreate2(object, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     H5Aclose, path, std::string("root attribute ") + name, "create");
  checked(H5Awrite(attr.get(), H5T_NATIVE_INT, &value), path, std::string("root attribute ") + name,
          "write");
}

// /stormrun/step_checksum: uint64 [ensemble, time, lead_time], 0 written at allocation
// (never written), the root's dimension scales attached so that netCDF readers see its dims.
void create_step_checksums(hid_t file, const OutputLayout& layout,
                           const std::filesystem::path& path,
                           const std::map<std::string, Hid>& scales) {
  const std::string what = std::string("dataset ") + kStepChecksumPath;
  Hid group = checked(H5Gcreate2(file, kBookkeepingGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      H5Gclose, path, std::string("group /") + kBookkeepingGroup, "create");
  write_string_attribute(group.get(), "description",
                         "stormrun's bookkeeping: which steps this file holds "
                         "(docs/checkpoint-format.md, \"Output evidence\")",
                         path, std::string("group /") + kBookkeepingGroup);
  const std::vector<hsize_t> shape = step_checksum_shape(layout);
  Hid space = checked(H5Screate_simple(int(shape.size()), shape.data(), nullptr), H5Sclose, path,
                      what, "H5Screate");
  Hid dcpl = contiguous_early_dcpl(path, what);
  const std::uint64_t zero = 0;
  checked(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_UINT64, &zero), path, what, "H5Pset_fill_value");
  checked(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC), path, what, "H5Pset_fill_time");
  Hid dset = checked(H5Dcreate2(group.get(), kStepChecksumName, H5T_STD_U64LE, space.get(),
                                H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                     H5Dclose, path, what, "create");
  const char* dims[3] = {"ensemble", "time", "lead_time"};
  for (unsigned axis = 0; axis < 3; ++axis)
    checked(H5DSattach_scale(dset.get(), scales.at(dims[axis]).get(), axis), path, what,
            std::string("H5DSattach_scale(") + dims[axis] + ")");
  write_string_attribute(dset.get(), "long_name",
                         "checksum of the member's fields written at this step (0: never written)",
                         path, what);
  write_string_attribute(dset.get(), "checksum",
                         "XXH3-64 over the XXH3-64 digests of each per-member field's "
                         "[lat, lon] slab (float64 little-endian), in the order of the "
                         "attribute 'fields'",
                         path, what);
  std::string fields;
  for (const FieldInfo& field : layout.fields)
    fields += (fields.empty() ? "" : " ") + field.name;
  write_string_attribute(dset.get(), "fields", fields, path, what);
}

// /valid_time: int64 [time, lead_time], the CF auxiliary coordinate of the valid time; the
// scales of time and lead_time attached (netCDF readers see its dims), written by rank 0.
void create_valid_time(hid_t file, const OutputLayout& layout, const std::filesystem::path& path,
                       int rank, const std::map<std::string, Hid>& scales) {
  const AuxiliaryCoordinate valid = valid_time_of(layout);
  const std::string what = "auxiliary coordinate " + valid.name;
  Hid space = checked(H5Screate_simple(int(valid.shape.size()), valid.shape.data(), nullptr),
                      H5Sclose, path, what, "H5Screate");
  Hid dcpl = contiguous_early_dcpl(path, what);
  checked(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), path, what, "H5Pset_fill_time");
  Hid dset = checked(H5Dcreate2(file, valid.name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                dcpl.get(), H5P_DEFAULT),
                     H5Dclose, path, what, "create");
  if (rank == 0)
    checked(H5Dwrite(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     valid.integers.data()),
            path, what, "write values");
  for (std::size_t axis = 0; axis < valid.dims.size(); ++axis)
    checked(H5DSattach_scale(dset.get(), scales.at(valid.dims[axis]).get(), unsigned(axis)), path,
            what, "H5DSattach_scale(" + valid.dims[axis] + ")");
  for (const auto& [key, value] : valid.attributes)
    write_string_attribute(dset.get(), key, value, path, what);
}

}  // namespace

void build_output_objects(hid_t file, const OutputLayout& layout, const std::filesystem::path& path,
                          int rank) {
  std::map<std::string, Hid> scales;
  for (const Coordinate& coord : coordinates_of(layout))
    scales.emplace(coord.name, create_coordinate(file, coord, path, rank));
  create_valid_time(file, layout, path, rank, scales);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const DataVariable& var : data_variables_of(layout)) {
    const std::string what = "dataset " + var.name;
    Hid space = checked(H5Screate_simple(int(var.shape.size()), var.shape.data(), nullptr),
                        H5Sclose, path, what, "H5Screate");
    Hid dcpl = contiguous_early_dcpl(path, what);
    // NaN written at allocation: a slab never written reads NaN, unlike a real zero.
    checked(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &nan), path, what,
            "H5Pset_fill_value");
    checked(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC), path, what, "H5Pset_fill_time");
    Hid dset = checked(H5Dcreate2(file, var.name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                  dcpl.get(), H5P_DEFAULT),
                       H5Dclose, path, what, "create");
    for (std::size_t axis = 0; axis < var.dims.size(); ++axis)
      checked(H5DSattach_scale(dset.get(), scales.at(var.dims[axis]).get(), unsigned(axis)), path,
              what, "H5DSattach_scale(" + var.dims[axis] + ")");
    for (const auto& [key, value] : var.attributes)
      write_string_attribute(dset.get(), key, value, path, what);
    // netCDF readers take the missing-value marker from this attribute.
    write_nan_attribute(dset.get(), "_FillValue", path, what);
  }

  create_step_checksums(file, layout, path, scales);

  Hid root = checked(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "/", "open root group");
  write_string_attribute(root.get(), kFingerprintAttribute, layout.fingerprint_hash, path, "/");
  write_string_attribute(root.get(), kFingerprintJsonAttribute, layout.fingerprint_json, path, "/");
  write_int_attribute(root.get(), kFormatAttribute, kOutputFormat, path);
  write_string_attribute(root.get(), kConventionsAttribute, kConventions, path, "/");
  for (const auto& [key, value] : layout.attributes)
    write_string_attribute(root.get(), key, value, path, "/");
}

}  // namespace stormrun::io
