// Move-only owners of HDF5 identifiers, the scope that silences HDF5's own error printing,
// and the text of HDF5's error stack for our messages. Internal to the output room.
#pragma once

#include <hdf5.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>

namespace stormrun::io {

/// Owns one HDF5 identifier and the function that closes it (H5Fclose, H5Dclose, ...).
/// Closing errors are ignored: a destructor cannot report them, and every path that cares
/// (the file) closes explicitly first.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(Hid&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  Hid& operator=(Hid&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      close_ = other.close_;
    }
    return *this;
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; returns the close function's result (0 when there was nothing to close).
  herr_t reset() {
    herr_t status = 0;
    if (id_ >= 0 && close_ != nullptr) status = close_(id_);
    id_ = H5I_INVALID_HID;
    return status;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

/// Turns off HDF5's automatic printing of its error stack for the lifetime of the scope
/// (failures become OutputError with our own message), restoring the previous handler.
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

/// The innermost messages of HDF5's current error stack (e.g. "unable to open file: ...
/// errno = 2, error message = 'No such file or directory'"), then clears the stack; empty
/// when HDF5 recorded nothing.
std::string take_hdf5_error_text();
/// "; the system call failed with: <strerror(err)>", or "" for 0, EINTR and EAGAIN.
std::string system_error_note(int err);
/// Sets errno to 0, so that the errno a failing HDF5 write or flush leaves behind is that
/// call's own (throw_hdf5_failure reports it).
inline void clear_errno() {
  errno = 0;
}

/// Throws OutputError "output file FILE: OBJECT: OPERATION failed (HDF5: ...)".
[[noreturn]] void throw_hdf5_failure(const std::filesystem::path& file, const std::string& object,
                                     const std::string& operation);

/// `id` when valid, else throw_hdf5_failure; wraps it with its close function.
Hid checked(hid_t id, herr_t (*close)(hid_t), const std::filesystem::path& file,
            const std::string& object, const std::string& operation);
/// Nothing when `status` >= 0, else throw_hdf5_failure.
void checked(herr_t status, const std::filesystem::path& file, const std::string& object,
             const std::string& operation);

}  // namespace stormrun::io
