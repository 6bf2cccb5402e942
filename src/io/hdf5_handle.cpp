// HDF5 error-stack text for the output room's messages.
#include "hdf5_handle.hpp"

#include <cerrno>
#include <cstring>
#include <vector>

#include "stormrun/bits/text.hpp"
#include "stormrun/io/output.hpp"

namespace stormrun::io {
namespace {

herr_t collect_description(unsigned /*n*/, const H5E_error2_t* error, void* client) {
  auto* messages = static_cast<std::vector<std::string>*>(client);
  if (error != nullptr && error->desc != nullptr && error->desc[0] != '\0')
    messages->emplace_back(error->desc);
  return 0;
}

}  // namespace

std::string take_hdf5_error_text() {
  std::vector<std::string> messages;
  // Upward: innermost first, where HDF5 says what actually went wrong (errno, names).
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_description, &messages);
  H5Eclear2(H5E_DEFAULT);
  std::string text;
  constexpr std::size_t kShown = 2;
  for (std::size_t i = 0; i < messages.size() && i < kShown; ++i)
    text += (i ? "; " : "") + messages[i];
  return text;
}

std::string system_error_note(int err) {
  if (err == 0 || err == EINTR || err == EAGAIN) return {};
  return "; the system call failed with: " + stormrun::text::errno_text(err);
}

void throw_hdf5_failure(const std::filesystem::path& file, const std::string& object,
                        const std::string& operation) {
  // errno as the failing call left it: HDF5's error stack names the driver call, not the
  // system's reason (EIO, ENOSPC, EDQUOT). The sites that write or flush clear errno first
  // (ErrnoWatch), so a value here is this call's.
  const int err = errno;
  const std::string detail = take_hdf5_error_text();
  throw OutputError("output file " + file.string() + ": " + object + ": " + operation + " failed" +
                    (detail.empty() ? "" : " (HDF5: " + detail + ")") + system_error_note(err));
}

Hid checked(hid_t id, herr_t (*close)(hid_t), const std::filesystem::path& file,
            const std::string& object, const std::string& operation) {
  if (id < 0) throw_hdf5_failure(file, object, operation);
  return Hid(id, close);
}

void checked(herr_t status, const std::filesystem::path& file, const std::string& object,
             const std::string& operation) {
  if (status < 0) throw_hdf5_failure(file, object, operation);
}

}  // namespace stormrun::io
