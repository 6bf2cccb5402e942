// What an OutputLayout means as HDF5 objects: the coordinate variables with their values
// and CF attributes, the data variables with their dimensions and shapes. Shared by the
// code that builds a new file (output_build.cpp) and the code that checks an existing one
// (output_verify.cpp), so the two cannot drift apart.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "stormrun/io/output.hpp"

namespace stormrun::io {

/// Version of the layout written here, stored as root attribute "stormrun_format":
///   1  the fields, statistics and coordinates;
///   2  also /stormrun/step_checksum (the evidence of which steps were written).
/// docs/checkpoint-format.md, "Format versions".
inline constexpr int kOutputFormat = kOutputFormatVersion;

/// The group of stormrun's own bookkeeping datasets (xarray's root dataset does not show
/// it) and the per-(member, start time, lead time) checksum dataset in it.
inline constexpr const char* kBookkeepingGroup = "stormrun";
inline constexpr const char* kStepChecksumName = "step_checksum";
inline constexpr const char* kStepChecksumPath = "/stormrun/step_checksum";

/// One coordinate variable (and dimension scale): its name, values and string attributes.
/// Integers for ensemble/time/lead_time, doubles for lat/lon.
struct Coordinate {
  std::string name;
  bool is_integer = false;
  std::vector<std::int64_t> integers;
  std::vector<double> reals;
  std::vector<std::pair<std::string, std::string>> attributes;
  hsize_t size() const { return is_integer ? integers.size() : reals.size(); }
};

/// The valid time (start time + lead time), a CF auxiliary coordinate variable: int64
/// [time, lead_time], seconds since the epoch, named in each data variable's `coordinates`
/// attribute. Files of stormrun before it have none; they are still resumed (the check
/// compares it only when present).
struct AuxiliaryCoordinate {
  std::string name;
  std::vector<std::string> dims;
  std::vector<hsize_t> shape;
  std::vector<std::int64_t> integers;  ///< row-major over `shape`
  std::vector<std::pair<std::string, std::string>> attributes;
};
inline constexpr const char* kValidTimeName = "valid_time";

/// One float64 data variable: a per-member field or an ensemble statistic.
struct DataVariable {
  std::string name;
  std::vector<std::string> dims;  ///< coordinate names, outermost first
  std::vector<hsize_t> shape;
  std::vector<std::pair<std::string, std::string>> attributes;
};

/// The CF version the file's metadata follows (root attribute "Conventions").
inline constexpr const char* kConventions = "CF-1.10";

/// Root attribute names this module writes itself (the caller's may not reuse them).
inline constexpr const char* kFingerprintAttribute = "stormrun_fingerprint";
inline constexpr const char* kFingerprintJsonAttribute = "stormrun_fingerprint_json";
inline constexpr const char* kFormatAttribute = "stormrun_format";
inline constexpr const char* kConventionsAttribute = "Conventions";

/// OutputError naming `file` and the offending setting when the layout cannot be written:
/// no fields, empty sizes, times or lead step not in whole seconds, bad or clashing names.
void validate_layout(const OutputLayout& layout, const std::filesystem::path& file);

/// The five coordinates, in the dimension order of the per-member datasets.
std::vector<Coordinate> coordinates_of(const OutputLayout& layout);
/// valid_time: [time, lead_time], values time[t] + lead_time[k] in seconds.
AuxiliaryCoordinate valid_time_of(const OutputLayout& layout);
/// Per-member fields first (layout order), then each field's statistics.
std::vector<DataVariable> data_variables_of(const OutputLayout& layout);
/// The shape of /stormrun/step_checksum: (ensemble, time, lead_time).
std::vector<hsize_t> step_checksum_shape(const OutputLayout& layout);
/// "<field>_<stat>": the dataset of an ensemble statistic.
std::string statistic_dataset_name(const std::string& field, const std::string& stat);

/// Scalar variable-length UTF-8 string attribute (h5py and xarray read it as str).
void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::filesystem::path& file, const std::string& object_name);
/// Reads a scalar string attribute, variable- or fixed-length; OutputError when missing or
/// not a string.
std::string read_string_attribute(hid_t object, const std::string& name,
                                  const std::filesystem::path& file,
                                  const std::string& object_name);

/// "(5, 2, 4, 8, 16)"
std::string shape_text(const std::vector<hsize_t>& shape);

}  // namespace stormrun::io
