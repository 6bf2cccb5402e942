// The checks of an initial-condition file (model/ic_file.hpp gives the format), apart from
// the HDF5 library that reads it: ic_file.cpp is the HDF5 side (an IcSource over the open
// file), ic_checks.cpp decides what of it is usable. The split lets tests/fuzz drive the
// checks with any shapes, element classes and values a file could hold (fuzz_ic_file)
// without fuzzing HDF5 itself. Internal to src/io; no HDF5 header here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stormrun/model/fields.hpp"

namespace stormrun::io {

/// Where a named array lives: a dataset at the file's root, or an attribute of the root.
enum class IcHolder { Dataset, Attribute };

/// What a file holds under one name, as its reader reports it.
struct IcArray {
  bool opened = false;   ///< the object could be opened as a dataset (or attribute)
  bool numeric = false;  ///< integer or floating-point elements
  int rank = -1;         ///< number of dimensions; -1 when the dataspace cannot be read
  std::vector<std::uint64_t> dims;
};

/// The reading side of an initial-condition file. Every call is about one array of the
/// file's root; `read_doubles` is called only for an array that `describe` reported opened,
/// numeric and of an accepted shape, and fills exactly product(dims) values.
class IcSource {
 public:
  virtual ~IcSource() = default;
  /// The file's name as messages give it.
  virtual std::string file() const = 0;
  virtual bool has(const std::string& name, IcHolder holder) const = 0;
  virtual IcArray describe(const std::string& name, IcHolder holder) const = 0;
  /// The array's values converted to double, in C order; false when reading fails.
  virtual bool read_doubles(const std::string& name, IcHolder holder,
                            std::vector<double>& values) const = 0;
};

/// Reads `variables` on `grid` from `source` into a one-member batch, checking what
/// model/ic_file.hpp promises: shapes, element classes, finite values, coordinates on the
/// grid (north-to-south rows flipped). model::InitialConditionFileError names the file,
/// the dataset or attribute, and the fault.
model::FieldBatch read_initial_conditions(const IcSource& source, const model::Grid& grid,
                                          const std::vector<std::string>& variables);

}  // namespace stormrun::io
