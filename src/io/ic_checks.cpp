// What of an initial-condition file is usable (ic_checks.hpp): the checks alone, on what an
// IcSource reports; ic_file.cpp reads the HDF5 file behind it.
#include "ic_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <sstream>
#include <utility>

#include "stormrun/model/ic_file.hpp"

namespace stormrun::io {
namespace {

using model::InitialConditionFileError;
using Shape = std::vector<std::uint64_t>;

std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

InitialConditionFileError fail(const IcSource& source, const std::string& name, IcHolder holder,
                               const std::string& what) {
  std::string where = "initial-condition file " + source.file();
  if (!name.empty())
    where += (holder == IcHolder::Dataset ? ", dataset '" : ", root attribute '") + name + "'";
  return InitialConditionFileError(where + ": " + what);
}

/// The values of array `name`, whose shape must be one of `shapes`, all finite.
std::vector<double> read(const IcSource& source, const std::string& name, IcHolder holder,
                         const std::vector<Shape>& shapes, const std::string& shape_help) {
  const bool is_dataset = holder == IcHolder::Dataset;
  if (!source.has(name, holder)) throw fail(source, name, holder, "it is missing");
  const IcArray array = source.describe(name, holder);
  if (!array.opened)
    throw fail(source, name, holder, is_dataset ? "it is not a dataset" : "it cannot be opened");
  if (!array.numeric)
    throw fail(source, name, holder,
               "its element type is not numeric (need integers or floating point)");
  if (array.rank < 0) throw fail(source, name, holder, "its dataspace cannot be read");
  if (std::find(shapes.begin(), shapes.end(), array.dims) == shapes.end())
    throw fail(source, name, holder,
               "its shape is " + shape_text(array.dims) + ", expected " + shape_help);
  std::size_t count = 1;
  for (const std::uint64_t d : array.dims)
    count *= std::size_t(d);  // an accepted shape: at most the grid's points
  std::vector<double> values(count);
  if (count > 0 && !source.read_doubles(name, holder, values))
    throw fail(source, name, holder,
               "reading it as double failed (damaged file or unconvertible values)");
  if (values.size() != count)
    throw fail(source, name, holder,
               "the reader returned " + std::to_string(values.size()) + " values for shape " +
                   shape_text(array.dims));
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) {
      std::ostringstream what;
      what << "value " << values[i] << " at flat index " << i << " is not finite";
      throw fail(source, name, holder, what.str());
    }
  }
  return values;
}

/// The first of `names` present as a dataset, else as a root attribute; nullopt if none.
std::optional<std::pair<std::string, IcHolder>> find_coordinate(
    const IcSource& source, std::initializer_list<const char*> names) {
  for (const IcHolder holder : {IcHolder::Dataset, IcHolder::Attribute})
    for (const char* name : names)
      if (source.has(name, holder)) return std::pair<std::string, IcHolder>(name, holder);
  return std::nullopt;
}

constexpr double kCoordinateTolerance = 1e-6;  // degrees

bool coordinates_match(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > kCoordinateTolerance) return false;
  return true;
}

}  // namespace

model::FieldBatch read_initial_conditions(const IcSource& source, const model::Grid& grid,
                                          const std::vector<std::string>& variables) {
  const auto nlat = std::uint64_t(grid.nlat), nlon = std::uint64_t(grid.nlon);
  const std::string grid_text = std::to_string(grid.nlat) + "x" + std::to_string(grid.nlon);

  // Rows in the file may run north to south (common in reanalysis data): detect it from
  // the latitude coordinate and flip them into the grid's south-to-north order.
  bool flip_rows = false;
  if (const auto lat = find_coordinate(source, {"lat", "latitude"})) {
    const auto& [name, holder] = *lat;
    const std::vector<double> values = read(source, name, holder, {{nlat}},
                                            "(" + std::to_string(nlat) + ") degrees for this grid");
    std::vector<double> want = grid.lat_degrees();
    if (!coordinates_match(values, want)) {
      std::reverse(want.begin(), want.end());
      if (!coordinates_match(values, want))
        throw fail(source, name, holder,
                   "latitudes do not match the model grid " + grid_text +
                       " (cell centres -90 + (j + 0.5)·180/nlat degrees)");
      flip_rows = true;
    }
  }
  if (const auto lon = find_coordinate(source, {"lon", "longitude"})) {
    const auto& [name, holder] = *lon;
    std::vector<double> values = read(source, name, holder, {{nlon}},
                                      "(" + std::to_string(nlon) + ") degrees for this grid");
    for (double& value : values)
      if (value < 0) value += 360.0;  // accept -180..180 spellings of the same meridians
    if (!coordinates_match(values, grid.lon_degrees()))
      throw fail(source, name, holder,
                 "longitudes do not match the model grid " + grid_text +
                     " (i·360/nlon degrees east, starting at 0)");
  }

  model::FieldBatch batch(grid, variables, 1);
  const std::string shape_help = "(" + std::to_string(nlat) + ", " + std::to_string(nlon) +
                                 ") or (1, " + std::to_string(nlat) + ", " + std::to_string(nlon) +
                                 ") as (lat, lon) for grid " + grid_text;
  for (std::size_t v = 0; v < variables.size(); ++v) {
    const std::vector<double> values =
        read(source, variables[v], IcHolder::Dataset, {{nlat, nlon}, {1, nlat, nlon}}, shape_help);
    auto field = batch.field(0, v);
    for (std::uint64_t j = 0; j < nlat; ++j) {
      const std::uint64_t source_row = flip_rows ? nlat - 1 - j : j;
      std::copy_n(values.begin() + std::ptrdiff_t(source_row * nlon), nlon,
                  field.begin() + std::ptrdiff_t(j * nlon));
    }
  }
  return batch;
}

}  // namespace stormrun::io
