// Grid, FieldBatch and FieldDescription of the model interface (model.hpp). Kept apart from
// model.hpp so that CUDA sources can include it: nvcc's front end cannot parse value.hpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace stormrun::model {

/// Global regular latitude-longitude grid: nlat rows of cell centres from south to north
/// (lat_j = -90 + (j + 0.5)·180/nlat degrees), nlon columns (lon_i = i·360/nlon degrees).
struct Grid {
  int nlat = 64;
  int nlon = 128;
  std::int64_t points() const { return std::int64_t(nlat) * nlon; }
  std::vector<double> lat_degrees() const;
  std::vector<double> lon_degrees() const;
  /// Parses "NLATxNLON" (e.g. "64x128"); std::invalid_argument naming the text otherwise.
  static Grid parse(const std::string& text);
  bool operator==(const Grid&) const = default;
};

/// Fields of a batch of members on the host: data[member][variable][lat][lon], doubles.
struct FieldBatch {
  Grid grid;
  std::vector<std::string> variables;
  std::int64_t members = 0;
  std::vector<double> data;

  FieldBatch() = default;
  FieldBatch(Grid g, std::vector<std::string> vars, std::int64_t nmembers);
  std::span<double> field(std::int64_t member, std::size_t variable);
  std::span<const double> field(std::int64_t member, std::size_t variable) const;
  std::size_t variable_index(const std::string& name) const;  // std::out_of_range naming it
  bool operator==(const FieldBatch&) const = default;
};

/// What the output file says about a field: its CF units and long name.
struct FieldDescription {
  std::string name;       ///< "h"
  std::string units;      ///< "m"
  std::string long_name;  ///< "fluid height"
  bool operator==(const FieldDescription&) const = default;
};

}  // namespace stormrun::model
