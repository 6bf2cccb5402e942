// Initial conditions from a user's HDF5 file (see model/ic_file.hpp for the format): the
// input side of src/io (DESIGN.md §1). This file is the HDF5 side, an IcSource over the open
// file; ic_checks.cpp decides what of it is usable. Serial, read-only HDF5 access with the
// default property lists: the library is the parallel build, but a read-only open needs no
// MPI communicator and every rank may read the file at once.
#include "stormrun/model/ic_file.hpp"

#include <hdf5.h>

#include <system_error>
#include <utility>

#include "hdf5_handle.hpp"
#include "ic_checks.hpp"

namespace stormrun::model {
namespace {

using io::Hid;
using io::IcArray;
using io::IcHolder;
using io::QuietHdf5Errors;

class Hdf5IcSource final : public io::IcSource {
 public:
  explicit Hdf5IcSource(std::filesystem::path path) : path_(std::move(path)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec))
      throw fail("the file does not exist or is not a regular file");
#if H5_VERSION_GE(1, 12, 0)
    const htri_t is_hdf5 = H5Fis_accessible(path_.c_str(), H5P_DEFAULT);
#else
    const htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
#endif
    if (is_hdf5 <= 0) throw fail("the file is not an HDF5 file (or cannot be read)");
    file_ = Hid(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file_.valid()) throw fail("HDF5 cannot open it read-only");
  }

  std::string file() const override {
    return path_.string();
  }

  bool has(const std::string& name, IcHolder holder) const override {
    return holder == IcHolder::Dataset ? H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0
                                       : H5Aexists(file_.get(), name.c_str()) > 0;
  }

  IcArray describe(const std::string& name, IcHolder holder) const override {
    IcArray array;
    const Hid object = open(name, holder);
    array.opened = object.valid();
    if (!array.opened) return array;
    const bool is_dataset = holder == IcHolder::Dataset;
    const Hid type(is_dataset ? H5Dget_type(object.get()) : H5Aget_type(object.get()), H5Tclose);
    const H5T_class_t type_class = type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
    array.numeric = type_class == H5T_FLOAT || type_class == H5T_INTEGER;
    const Hid space(is_dataset ? H5Dget_space(object.get()) : H5Aget_space(object.get()), H5Sclose);
    array.rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (array.rank > 0) {
      std::vector<hsize_t> dims(std::size_t(array.rank), 0);
      if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
        array.rank = -1;
        return array;
      }
      array.dims.assign(dims.begin(), dims.end());
    }
    return array;
  }

  bool read_doubles(const std::string& name, IcHolder holder,
                    std::vector<double>& values) const override {
    const Hid object = open(name, holder);
    if (!object.valid()) return false;
    const herr_t status =
        holder == IcHolder::Dataset
            ? H5Dread(object.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data())
            : H5Aread(object.get(), H5T_NATIVE_DOUBLE, values.data());
    return status >= 0;
  }

 private:
  Hid open(const std::string& name, IcHolder holder) const {
    return holder == IcHolder::Dataset
               ? Hid(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose)
               : Hid(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  }
  InitialConditionFileError fail(const std::string& what) const {
    return InitialConditionFileError("initial-condition file " + path_.string() + ": " + what);
  }

  std::filesystem::path path_;
  Hid file_;
};

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
  const Hdf5IcSource source(path);
  return io::read_initial_conditions(source, grid, variables);
}

}  // namespace stormrun::model
