// Initial conditions from a user's HDF5 file (see model/ic_file.hpp for the format): the
// input side of src/io (DESIGN.md §1). Serial, read-only HDF5 access with the default
// property lists: the library is the parallel build, but a read-only open needs no MPI
// communicator and every rank may read the file at once.
#include "stormrun/model/ic_file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <system_error>
#include <utility>

#include "hdf5_handle.hpp"
#include "output_schema.hpp"

namespace stormrun::model {
namespace {

using io::Hid;
using io::QuietHdf5Errors;

/// Where a named array lives: a dataset at the root, or an attribute of the root group.
enum class Holder { Dataset, Attribute };

class IcReader {
 public:
  explicit IcReader(std::filesystem::path path) : path_(std::move(path)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec))
      throw fail("", Holder::Dataset, "the file does not exist or is not a regular file");
#if H5_VERSION_GE(1, 12, 0)
    const htri_t is_hdf5 = H5Fis_accessible(path_.c_str(), H5P_DEFAULT);
#else
    const htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
#endif
    if (is_hdf5 <= 0)
      throw fail("", Holder::Dataset, "the file is not an HDF5 file (or cannot be read)");
    file_ = Hid(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file_.valid()) throw fail("", Holder::Dataset, "HDF5 cannot open it read-only");
  }

  bool has(const std::string& name, Holder holder) const {
    return holder == Holder::Dataset ? H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0
                                     : H5Aexists(file_.get(), name.c_str()) > 0;
  }

  /// Reads dataset or root attribute `name` as doubles; its shape must be one of `shapes`.
  std::vector<double> read(const std::string& name, Holder holder,
                           const std::vector<std::vector<hsize_t>>& shapes,
                           const std::string& shape_help) const {
    const bool is_dataset = holder == Holder::Dataset;
    if (!has(name, holder)) throw fail(name, holder, "it is missing");
    Hid object = is_dataset ? Hid(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose)
                            : Hid(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!object.valid())
      throw fail(name, holder, is_dataset ? "it is not a dataset" : "it cannot be opened");
    Hid type(is_dataset ? H5Dget_type(object.get()) : H5Aget_type(object.get()), H5Tclose);
    const H5T_class_t type_class = type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
    if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
      throw fail(name, holder, "its element type is not numeric (need integers or floating point)");
    Hid space(is_dataset ? H5Dget_space(object.get()) : H5Aget_space(object.get()), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank < 0) throw fail(name, holder, "its dataspace cannot be read");
    std::vector<hsize_t> dims(std::size_t(rank), 0);
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    if (std::find(shapes.begin(), shapes.end(), dims) == shapes.end())
      throw fail(name, holder, "its shape is " + io::shape_text(dims) + ", expected " + shape_help);
    hsize_t count = 1;
    for (hsize_t d : dims)
      count *= d;
    std::vector<double> values(count);
    const herr_t status = count == 0   ? 0
                          : is_dataset ? H5Dread(object.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                                 H5P_DEFAULT, values.data())
                                       : H5Aread(object.get(), H5T_NATIVE_DOUBLE, values.data());
    if (status < 0)
      throw fail(name, holder,
                 "reading it as double failed (damaged file or unconvertible values)");
    for (hsize_t i = 0; i < count; ++i) {
      if (!std::isfinite(values[i])) {
        std::ostringstream what;
        what << "value " << values[i] << " at flat index " << i << " is not finite";
        throw fail(name, holder, what.str());
      }
    }
    return values;
  }

  InitialConditionFileError fail(const std::string& name, Holder holder,
                                 const std::string& what) const {
    std::string where = "initial-condition file " + path_.string();
    if (!name.empty())
      where += (holder == Holder::Dataset ? ", dataset '" : ", root attribute '") + name + "'";
    return InitialConditionFileError(where + ": " + what);
  }

  /// The first of `names` present as a dataset, else as a root attribute; nullopt if none.
  std::optional<std::pair<std::string, Holder>> find_coordinate(
      std::initializer_list<const char*> names) const {
    for (Holder holder : {Holder::Dataset, Holder::Attribute})
      for (const char* name : names)
        if (has(name, holder)) return std::pair<std::string, Holder>(name, holder);
    return std::nullopt;
  }

 private:
  std::filesystem::path path_;
  Hid file_;
};

constexpr double kCoordinateTolerance = 1e-6;  // degrees

bool coordinates_match(const std::vector<double>& got, const std::vector<double>& want) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > kCoordinateTolerance) return false;
  return true;
}

}  // namespace

std::optional<std::filesystem::path> initial_condition_file_path(std::string_view spec) {
  constexpr std::string_view kPrefix = "file:";
  if (spec.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (spec.size() == kPrefix.size())
    throw std::invalid_argument(
        "--initial-condition 'file:' names no file; write file:PATH to an HDF5 file");
  return std::filesystem::path(std::string(spec.substr(kPrefix.size())));
}

FieldBatch read_initial_condition_file(const std::filesystem::path& path, const Grid& grid,
                                       const std::vector<std::string>& variables) {
  QuietHdf5Errors quiet;
  IcReader reader(path);
  const auto nlat = hsize_t(grid.nlat), nlon = hsize_t(grid.nlon);

  // Rows in the file may run north to south (common in reanalysis data): detect it from
  // the latitude coordinate and flip them into the grid's south-to-north order.
  bool flip_rows = false;
  if (const auto lat = reader.find_coordinate({"lat", "latitude"})) {
    const auto& [name, holder] = *lat;
    const std::vector<double> values =
        reader.read(name, holder, {{nlat}}, "(" + std::to_string(nlat) + ") degrees for this grid");
    std::vector<double> want = grid.lat_degrees();
    if (!coordinates_match(values, want)) {
      std::reverse(want.begin(), want.end());
      if (!coordinates_match(values, want))
        throw reader.fail(name, holder,
                          "latitudes do not match the model grid " + std::to_string(grid.nlat) +
                              "x" + std::to_string(grid.nlon) +
                              " (cell centres -90 + (j + 0.5)·180/nlat degrees)");
      flip_rows = true;
    }
  }
  if (const auto lon = reader.find_coordinate({"lon", "longitude"})) {
    const auto& [name, holder] = *lon;
    std::vector<double> values =
        reader.read(name, holder, {{nlon}}, "(" + std::to_string(nlon) + ") degrees for this grid");
    for (double& value : values)
      if (value < 0) value += 360.0;  // accept -180..180 spellings of the same meridians
    if (!coordinates_match(values, grid.lon_degrees()))
      throw reader.fail(name, holder,
                        "longitudes do not match the model grid " + std::to_string(grid.nlat) +
                            "x" + std::to_string(grid.nlon) +
                            " (i·360/nlon degrees east, starting at 0)");
  }

  FieldBatch batch(grid, variables, 1);
  const std::string shape_help = "(" + std::to_string(nlat) + ", " + std::to_string(nlon) +
                                 ") or (1, " + std::to_string(nlat) + ", " + std::to_string(nlon) +
                                 ") as (lat, lon) for grid " + std::to_string(grid.nlat) + "x" +
                                 std::to_string(grid.nlon);
  for (std::size_t v = 0; v < variables.size(); ++v) {
    const std::vector<double> values =
        reader.read(variables[v], Holder::Dataset, {{nlat, nlon}, {1, nlat, nlon}}, shape_help);
    auto field = batch.field(0, v);
    for (hsize_t j = 0; j < nlat; ++j) {
      const hsize_t source_row = flip_rows ? nlat - 1 - j : j;
      std::copy_n(values.begin() + std::ptrdiff_t(source_row * nlon), nlon,
                  field.begin() + std::ptrdiff_t(j * nlon));
    }
  }
  return batch;
}

}  // namespace stormrun::model
