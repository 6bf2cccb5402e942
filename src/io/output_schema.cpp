// The output layout as HDF5 objects (see output_schema.hpp), string attributes.
#include "output_schema.hpp"

#include <xxhash.h>

#include <bit>
#include <chrono>
#include <cstdlib>
#include <set>
#include <sstream>

#include "hdf5_handle.hpp"

namespace stormrun::io {
namespace {

std::int64_t whole_seconds(Duration d, const std::string& what, const std::filesystem::path& file) {
  if (d % std::chrono::seconds(1) != Duration::zero())
    throw OutputError("output file " + file.string() + ": " + what + " (" +
                      std::to_string(d.count()) +
                      " ns) is not a whole number of seconds; the file stores seconds");
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

bool is_coordinate_name(const std::string& name) {
  return name == "ensemble" || name == "time" || name == "lead_time" || name == "lat" ||
         name == "lon" || name == kValidTimeName;
}

void check_object_name(const std::string& name, const std::string& what,
                       const std::filesystem::path& file) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." ||
      name.find('\0') != std::string::npos)
    throw OutputError("output file " + file.string() + ": " + what + " name '" + name +
                      "' is not a valid HDF5 dataset name (empty, '.' or containing '/')");
}

}  // namespace

void validate_layout(const OutputLayout& layout, const std::filesystem::path& file) {
  const std::string where = "output file " + file.string() + ": ";
  if (layout.fields.empty()) throw OutputError(where + "the layout has no fields to write");
  if (layout.nensemble < 1)
    throw OutputError(where + "nensemble is " + std::to_string(layout.nensemble) +
                      ", need at least 1");
  if (layout.times.empty()) throw OutputError(where + "the layout has no start times");
  if (layout.nlead < 1)
    throw OutputError(where + "nlead is " + std::to_string(layout.nlead) + ", need at least 1");
  if (layout.nlead > 1 && layout.lead_step <= Duration::zero())
    throw OutputError(where + "lead_step must be positive when nlead > 1");
  if (layout.grid.nlat < 1 || layout.grid.nlon < 1)
    throw OutputError(where + "grid " + std::to_string(layout.grid.nlat) + "x" +
                      std::to_string(layout.grid.nlon) + " is empty");
  whole_seconds(layout.lead_step, "lead_step", file);
  for (const TimePoint& t : layout.times)
    whole_seconds(t.time_since_epoch(), "start time " + format_utc(t), file);

  std::set<std::string> names;
  for (const FieldInfo& field : layout.fields) {
    check_object_name(field.name, "field", file);
    if (is_coordinate_name(field.name))
      throw OutputError(
          where + "field name '" + field.name +
          "' is the name of a coordinate (ensemble, time, lead_time, lat, lon, valid_time)");
    if (field.name == kBookkeepingGroup)
      throw OutputError(where + "field name '" + field.name +
                        "' is the name of stormrun's bookkeeping group");
    if (!names.insert(field.name).second)
      throw OutputError(where + "field '" + field.name + "' appears twice in the layout");
  }
  std::set<std::string> stats;
  for (const std::string& stat : layout.statistics) {
    check_object_name(stat, "statistic", file);
    if (!stats.insert(stat).second)
      throw OutputError(where + "statistic '" + stat + "' appears twice in the layout");
    for (const FieldInfo& field : layout.fields) {
      const std::string name = statistic_dataset_name(field.name, stat);
      if (is_coordinate_name(name) || name == kBookkeepingGroup || !names.insert(name).second)
        throw OutputError(where + "statistic dataset '" + name +
                          "' clashes with another dataset of the same name");
    }
  }
  for (const auto& [key, value] : layout.attributes) {
    if (key.empty()) throw OutputError(where + "a root attribute has an empty name");
    if (key == kFingerprintAttribute || key == kFingerprintJsonAttribute ||
        key == kFormatAttribute || key == kConventionsAttribute)
      throw OutputError(where + "root attribute '" + key +
                        "' is written by stormrun itself; choose another name");
  }
}

std::vector<Coordinate> coordinates_of(const OutputLayout& layout) {
  std::vector<Coordinate> coords(5);
  Coordinate& ensemble = coords[0];
  ensemble.name = "ensemble";
  ensemble.is_integer = true;
  for (std::int64_t m = 0; m < layout.nensemble; ++m)
    ensemble.integers.push_back(m);
  // CF: the ensemble member axis is identified by standard_name realization (no CF axis
  // letter exists for it).
  ensemble.attributes = {{"standard_name", "realization"}, {"long_name", "ensemble member"}};

  Coordinate& time = coords[1];
  time.name = "time";
  time.is_integer = true;
  for (const TimePoint& t : layout.times)
    time.integers.push_back(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  time.attributes = {{"units", "seconds since 1970-01-01T00:00:00Z"},
                     {"calendar", "proleptic_gregorian"},
                     {"standard_name", "forecast_reference_time"},
                     {"long_name", "forecast start time"}};

  Coordinate& lead = coords[2];
  lead.name = "lead_time";
  lead.is_integer = true;
  const std::int64_t step =
      std::chrono::duration_cast<std::chrono::seconds>(layout.lead_step).count();
  for (std::int64_t k = 0; k < layout.nlead; ++k)
    lead.integers.push_back(k * step);
  lead.attributes = {
      {"units", "seconds"}, {"standard_name", "forecast_period"}, {"long_name", "lead time"}};

  Coordinate& lat = coords[3];
  lat.name = "lat";
  lat.reals = layout.grid.lat_degrees();
  lat.attributes = {{"units", "degrees_north"}, {"standard_name", "latitude"}, {"axis", "Y"}};

  Coordinate& lon = coords[4];
  lon.name = "lon";
  lon.reals = layout.grid.lon_degrees();
  lon.attributes = {{"units", "degrees_east"}, {"standard_name", "longitude"}, {"axis", "X"}};
  return coords;
}

AuxiliaryCoordinate valid_time_of(const OutputLayout& layout) {
  AuxiliaryCoordinate valid;
  valid.name = kValidTimeName;
  valid.dims = {"time", "lead_time"};
  valid.shape = {hsize_t(layout.times.size()), hsize_t(layout.nlead)};
  const std::int64_t step =
      std::chrono::duration_cast<std::chrono::seconds>(layout.lead_step).count();
  for (const TimePoint& t : layout.times) {
    const std::int64_t start =
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    for (std::int64_t k = 0; k < layout.nlead; ++k)
      valid.integers.push_back(start + k * step);
  }
  valid.attributes = {{"units", "seconds since 1970-01-01T00:00:00Z"},
                      {"calendar", "proleptic_gregorian"},
                      {"standard_name", "time"},
                      {"long_name", "valid time (forecast start time + lead time)"}};
  return valid;
}

namespace {

/// CF cell_methods of an ensemble statistic: the reduction over the members, named by the
/// standard name of the dimension reduced (the statistic has no ensemble dimension).
std::string statistic_cell_methods(const std::string& stat) {
  if (stat == "mean") return "realization: mean";
  if (stat == "std") return "realization: standard_deviation";
  return "";
}

}  // namespace

std::vector<DataVariable> data_variables_of(const OutputLayout& layout) {
  const hsize_t ne = hsize_t(layout.nensemble);
  const hsize_t nt = layout.times.size();
  const hsize_t nl = hsize_t(layout.nlead);
  const hsize_t ny = hsize_t(layout.grid.nlat);
  const hsize_t nx = hsize_t(layout.grid.nlon);
  std::vector<DataVariable> vars;
  for (const FieldInfo& field : layout.fields)
    vars.push_back({field.name,
                    {"ensemble", "time", "lead_time", "lat", "lon"},
                    {ne, nt, nl, ny, nx},
                    {{"units", field.units},
                     {"long_name", field.long_name},
                     {"coordinates", kValidTimeName}}});
  for (const FieldInfo& field : layout.fields)
    for (const std::string& stat : layout.statistics) {
      DataVariable var{statistic_dataset_name(field.name, stat),
                       {"time", "lead_time", "lat", "lon"},
                       {nt, nl, ny, nx},
                       {{"units", field.units},
                        {"long_name", field.long_name + " (ensemble " + stat + ")"},
                        {"ensemble_statistic", stat},
                        {"coordinates", kValidTimeName}}};
      if (const std::string methods = statistic_cell_methods(stat); !methods.empty())
        var.attributes.emplace_back("cell_methods", methods);
      vars.push_back(std::move(var));
    }
  return vars;
}

std::vector<hsize_t> step_checksum_shape(const OutputLayout& layout) {
  return {hsize_t(layout.nensemble), hsize_t(layout.times.size()), hsize_t(layout.nlead)};
}

std::uint64_t slab_digest(std::span<const double> slab) {
  static_assert(std::endian::native == std::endian::little,
                "the step checksums hash the in-memory doubles as the file's little-endian bytes");
  return XXH3_64bits(slab.data(), slab.size_bytes());
}

std::uint64_t step_checksum(std::span<const std::uint64_t> field_digests) {
  const std::uint64_t h = XXH3_64bits(field_digests.data(), field_digests.size_bytes());
  return h == 0 ? 1 : h;
}

std::int64_t OutputEvidence::written_prefix(std::int64_t member, std::int64_t time) const {
  if (!(has_checksums || scanned) || member < 0 || member >= nensemble || time < 0 || time >= ntime)
    return -1;
  std::int64_t s = 0;
  while (s < nlead && at(member, time, s) != 0)
    ++s;
  return s - 1;
}

std::string statistic_dataset_name(const std::string& field, const std::string& stat) {
  return field + "_" + stat;
}

void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::filesystem::path& file, const std::string& object_name) {
  const std::string what = object_name + " attribute " + name;
  Hid type = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, what, "H5Tcopy");
  checked(H5Tset_size(type.get(), H5T_VARIABLE), file, what, "H5Tset_size");
  checked(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, what, "H5Tset_cset");
  Hid space = checked(H5Screate(H5S_SCALAR), H5Sclose, file, what, "H5Screate");
  Hid attr =
      checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, file, what, "create");
  const char* text = value.c_str();
  checked(H5Awrite(attr.get(), type.get(), &text), file, what, "write");
}

std::string read_string_attribute(hid_t object, const std::string& name,
                                  const std::filesystem::path& file,
                                  const std::string& object_name) {
  const std::string what = object_name + " attribute " + name;
  if (H5Aexists(object, name.c_str()) <= 0)
    throw OutputError("output file " + file.string() + ": " + what + " is missing");
  Hid attr = checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, file, what, "open");
  Hid type = checked(H5Aget_type(attr.get()), H5Tclose, file, what, "H5Aget_type");
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw OutputError("output file " + file.string() + ": " + what + " is not a string");
  Hid space = checked(H5Aget_space(attr.get()), H5Sclose, file, what, "H5Aget_space");
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw OutputError("output file " + file.string() + ": " + what + " is not a single string");
  if (H5Tis_variable_str(type.get()) > 0) {
    Hid memtype = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, what, "H5Tcopy");
    checked(H5Tset_size(memtype.get(), H5T_VARIABLE), file, what, "H5Tset_size");
    checked(H5Tset_cset(memtype.get(), H5Tget_cset(type.get())), file, what, "H5Tset_cset");
    char* text = nullptr;
    checked(H5Aread(attr.get(), memtype.get(), &text), file, what, "read");
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string value(size, '\0');
  checked(H5Aread(attr.get(), type.get(), value.data()), file, what, "read");
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out << (i ? ", " : "") << shape[i];
  out << ")";
  return out.str();
}

}  // namespace stormrun::io
