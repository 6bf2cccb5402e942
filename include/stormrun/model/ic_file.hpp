// Initial conditions read from a user's HDF5 file (`--initial-condition file:PATH`).
// Format (docs/model-components.md): one dataset per variable at the file's root, named as
// the variable (h, u, v), of shape (nlat, nlon) or (1, nlat, nlon), any integer or
// floating-point type (read as double), every value finite, rows south to north on the
// model grid (Grid). Optional 1-D datasets `lat`/`latitude` (degrees, nlat values) and
// `lon`/`longitude` (degrees, nlon values) are checked against the grid when present; a
// file whose latitudes run north to south is flipped to the grid's order.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stormrun/model/model.hpp"

namespace stormrun::model {

/// The file cannot be used; the message names the file, the dataset and what is wrong.
class InitialConditionFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// PATH of an initial-condition spec "file:PATH"; nullopt for any other spec.
/// std::invalid_argument for "file:" without a path.
std::optional<std::filesystem::path> initial_condition_file_path(std::string_view spec);

/// Reads `variables` on `grid` from the HDF5 file at `path` into a one-member batch
/// (serial, read-only access; safe to call on every rank at once).
FieldBatch read_initial_condition_file(const std::filesystem::path& path, const Grid& grid,
                                       const std::vector<std::string>& variables);

}  // namespace stormrun::model
