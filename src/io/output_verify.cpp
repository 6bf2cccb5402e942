// Compares an existing output file with this run's layout before it is resumed: a file
// written for other settings must never be continued (it would mix two runs).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "hdf5_handle.hpp"
#include "output_build.hpp"
#include "output_schema.hpp"

namespace stormrun::io {
namespace {

constexpr std::size_t kMaxSettingDifferences = 20;

herr_t collect_link_name(hid_t /*group*/, const char* name, const H5L_info_t* /*info*/,
                         void* client) {
  static_cast<std::vector<std::string>*>(client)->emplace_back(name);
  return 0;
}

std::string json_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

/// "setting /seed: file 7, this run 8" for each differing leaf of two settings objects;
/// nothing when either is not JSON (the hash difference is reported anyway).
void setting_differences(const std::string& file_json, const std::string& run_json,
                         std::vector<std::string>& out) {
  nlohmann::json in_file;
  nlohmann::json in_run;
  try {
    in_file = nlohmann::json::parse(file_json).flatten();
    in_run = nlohmann::json::parse(run_json).flatten();
  } catch (const nlohmann::json::exception&) {
    return;
  }
  std::set<std::string> keys;
  for (const auto& item : in_file.items())
    keys.insert(item.key());
  for (const auto& item : in_run.items())
    keys.insert(item.key());
  std::size_t shown = 0;
  std::size_t total = 0;
  for (const std::string& key : keys) {
    const bool has_file = in_file.contains(key);
    const bool has_run = in_run.contains(key);
    if (has_file && has_run && in_file[key] == in_run[key]) continue;
    ++total;
    if (shown == kMaxSettingDifferences) continue;
    ++shown;
    out.push_back("setting " + key + ": file " + (has_file ? json_text(in_file[key]) : "(unset)") +
                  ", this run " + (has_run ? json_text(in_run[key]) : "(unset)"));
  }
  if (total > shown)
    out.push_back("... and " + std::to_string(total - shown) + " more differing settings");
}

std::string value_text(const Coordinate& coord, std::size_t i,
                       const std::vector<std::int64_t>& ints, const std::vector<double>& reals) {
  if (!coord.is_integer) {
    std::ostringstream out;
    out.precision(17);
    out << reals[i];
    return out.str();
  }
  if (coord.name == "time") return format_utc(TimePoint(std::chrono::seconds(ints[i])));
  return std::to_string(ints[i]);
}

std::vector<hsize_t> dataset_shape(hid_t dset, const std::filesystem::path& path,
                                   const std::string& what) {
  Hid space = checked(H5Dget_space(dset), H5Sclose, path, what, "H5Dget_space");
  const int ndims = H5Sget_simple_extent_ndims(space.get());
  if (ndims < 0) throw_hdf5_failure(path, what, "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> shape(std::size_t(ndims), 0);
  if (ndims > 0) H5Sget_simple_extent_dims(space.get(), shape.data(), nullptr);
  return shape;
}

H5T_class_t dataset_class(hid_t dset, const std::filesystem::path& path, const std::string& what) {
  Hid type = checked(H5Dget_type(dset), H5Tclose, path, what, "H5Dget_type");
  return H5Tget_class(type.get());
}

void compare_coordinate(hid_t file, const Coordinate& coord, const std::filesystem::path& path,
                        std::vector<std::string>& out) {
  const std::string what = "coordinate " + coord.name;
  if (H5Lexists(file, coord.name.c_str(), H5P_DEFAULT) <= 0) {
    out.push_back(what + ": missing in the file");
    return;
  }
  Hid dset = checked(H5Dopen2(file, coord.name.c_str(), H5P_DEFAULT), H5Dclose, path, what, "open");
  const H5T_class_t type_class = dataset_class(dset.get(), path, what);
  const H5T_class_t expected = coord.is_integer ? H5T_INTEGER : H5T_FLOAT;
  if (type_class != expected) {
    out.push_back(what + ": element type in the file is not " +
                  (coord.is_integer ? "an integer" : "floating point"));
    return;
  }
  const std::vector<hsize_t> shape = dataset_shape(dset.get(), path, what);
  const std::vector<hsize_t> want = {coord.size()};
  if (shape != want) {
    out.push_back(what + ": shape " + shape_text(shape) + " in the file, " + shape_text(want) +
                  " for this run");
    return;
  }
  std::vector<std::int64_t> ints(coord.is_integer ? coord.size() : 0);
  std::vector<double> reals(coord.is_integer ? 0 : coord.size());
  checked(H5Dread(dset.get(), coord.is_integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL,
                  H5S_ALL, H5P_DEFAULT,
                  coord.is_integer ? static_cast<void*>(ints.data())
                                   : static_cast<void*>(reals.data())),
          path, what, "read values");
  for (std::size_t i = 0; i < coord.size(); ++i) {
    // Degrees are computed by the same code in both runs; the tolerance only forgives a
    // last-bit change of that code, never a different grid.
    const bool same = coord.is_integer ? ints[i] == coord.integers[i]
                                       : std::abs(reals[i] - coord.reals[i]) <= 1e-9;
    if (same) continue;
    out.push_back(what + "[" + std::to_string(i) + "]: file " + value_text(coord, i, ints, reals) +
                  ", this run " + value_text(coord, i, coord.integers, coord.reals));
    return;  // one value is enough to tell the coordinates apart
  }
}

// valid_time is compared only when the file has it: files of stormrun before it carry none
// and are resumed as they are (their metadata stays that of their version).
void compare_valid_time(hid_t file, const OutputLayout& layout, const std::filesystem::path& path,
                        std::vector<std::string>& out) {
  const AuxiliaryCoordinate valid = valid_time_of(layout);
  if (H5Lexists(file, valid.name.c_str(), H5P_DEFAULT) <= 0) return;
  const std::string what = "auxiliary coordinate " + valid.name;
  Hid dset = checked(H5Dopen2(file, valid.name.c_str(), H5P_DEFAULT), H5Dclose, path, what, "open");
  if (dataset_class(dset.get(), path, what) != H5T_INTEGER) {
    out.push_back(what + ": element type in the file is not an integer");
    return;
  }
  const std::vector<hsize_t> shape = dataset_shape(dset.get(), path, what);
  if (shape != valid.shape) {
    out.push_back(what + ": shape " + shape_text(shape) + " in the file, " +
                  shape_text(valid.shape) + " for this run");
    return;
  }
  std::vector<std::int64_t> values(valid.integers.size());
  checked(H5Dread(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path,
          what, "read values");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] != valid.integers[i]) {
      out.push_back(what + "[" + std::to_string(i / valid.shape[1]) + ", " +
                    std::to_string(i % valid.shape[1]) + "]: file " +
                    format_utc_seconds(values[i], 0, 0) + ", this run " +
                    format_utc_seconds(valid.integers[i], 0, 0));
      return;
    }
}

}  // namespace

std::vector<std::string> layout_differences(hid_t file, const OutputLayout& layout,
                                            const std::filesystem::path& path) {
  std::vector<std::string> out;
  Hid root = checked(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "/", "open root group");

  if (H5Aexists(root.get(), kFingerprintAttribute) <= 0) {
    out.push_back(std::string("fingerprint: the file has no ") + kFingerprintAttribute +
                  " attribute (not a stormrun output)");
  } else {
    const std::string hash = read_string_attribute(root.get(), kFingerprintAttribute, path, "/");
    if (hash != layout.fingerprint_hash) {
      out.push_back("fingerprint: file " + hash + ", this run " + layout.fingerprint_hash);
      if (H5Aexists(root.get(), kFingerprintJsonAttribute) > 0)
        setting_differences(read_string_attribute(root.get(), kFingerprintJsonAttribute, path, "/"),
                            layout.fingerprint_json, out);
    }
  }
  int format = 0;
  if (H5Aexists(root.get(), kFormatAttribute) <= 0) {
    out.push_back(std::string("format: the file has no ") + kFormatAttribute + " attribute");
  } else {
    Hid attr = checked(H5Aopen(root.get(), kFormatAttribute, H5P_DEFAULT), H5Aclose, path,
                       kFormatAttribute, "open");
    checked(H5Aread(attr.get(), H5T_NATIVE_INT, &format), path, kFormatAttribute, "read");
    // Format 1 (no step checksums) is still resumed: docs/checkpoint-format.md.
    if (format != kOutputFormat && format != 1)
      out.push_back("format: file " + std::to_string(format) + ", this stormrun writes " +
                    std::to_string(kOutputFormat) + " and reads 1 to " +
                    std::to_string(kOutputFormat));
  }

  std::set<std::string> expected;
  const std::size_t before_coordinates = out.size();
  for (const Coordinate& coord : coordinates_of(layout)) {
    expected.insert(coord.name);
    compare_coordinate(file, coord, path, out);
  }
  expected.insert(kValidTimeName);
  // valid_time follows from time and lead_time: a difference there is already named.
  if (out.size() == before_coordinates) compare_valid_time(file, layout, path, out);
  for (const DataVariable& var : data_variables_of(layout)) {
    expected.insert(var.name);
    const std::string what = "dataset " + var.name;
    if (H5Lexists(file, var.name.c_str(), H5P_DEFAULT) <= 0) {
      out.push_back(what + ": missing in the file");
      continue;
    }
    Hid dset = checked(H5Dopen2(file, var.name.c_str(), H5P_DEFAULT), H5Dclose, path, what, "open");
    if (dataset_class(dset.get(), path, what) != H5T_FLOAT)
      out.push_back(what + ": element type in the file is not floating point");
    const std::vector<hsize_t> shape = dataset_shape(dset.get(), path, what);
    if (shape != var.shape)
      out.push_back(what + ": shape " + shape_text(shape) + " in the file, " +
                    shape_text(var.shape) + " for this run");
  }
  expected.insert(kBookkeepingGroup);
  const std::string checksum_what = std::string("dataset ") + kStepChecksumPath;
  if (format == 1) {
    // A format-1 file has no step checksums; its writer records none either.
  } else if (H5Lexists(file, kBookkeepingGroup, H5P_DEFAULT) <= 0 ||
             H5Lexists(file, kStepChecksumPath, H5P_DEFAULT) <= 0) {
    out.push_back(checksum_what + ": missing in the file");
  } else {
    Hid dset = checked(H5Dopen2(file, kStepChecksumPath, H5P_DEFAULT), H5Dclose, path,
                       checksum_what, "open");
    if (dataset_class(dset.get(), path, checksum_what) != H5T_INTEGER)
      out.push_back(checksum_what + ": element type in the file is not an integer");
    const std::vector<hsize_t> shape = dataset_shape(dset.get(), path, checksum_what);
    if (shape != step_checksum_shape(layout))
      out.push_back(checksum_what + ": shape " + shape_text(shape) + " in the file, " +
                    shape_text(step_checksum_shape(layout)) + " for this run");
  }
  std::vector<std::string> names;
  checked(H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link_name, &names), path,
          "/", "list objects");
  for (const std::string& name : names)
    if (expected.count(name) == 0)
      out.push_back("dataset " + name + ": in the file but not in this run's layout");
  return out;
}

}  // namespace stormrun::io
