// Helpers of the codec tests: in-memory blob store, a unique temp dir, and running the
// system python (with numpy) on a script.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stormrun/codec.hpp"
#include "support/temp_dir.hpp"

namespace stormrun::test {

/// BlobSink + BlobSource over a map, recording every put.
class MemoryBlobs : public BlobSink, public BlobSource {
 public:
  std::string put(std::string_view relpath, std::span<const std::byte> bytes) override {
    const std::string path(relpath);
    if (files.count(path) != 0) throw CodecError("MemoryBlobs: path put twice: " + path);
    files[path].assign(bytes.begin(), bytes.end());
    return path;
  }
  std::vector<std::byte> get(std::string_view relpath) override {
    const auto it = files.find(std::string(relpath));
    if (it == files.end()) throw CodecError("MemoryBlobs: no file " + std::string(relpath));
    return it->second;
  }
  std::map<std::string, std::vector<std::byte>> files;
};

using TempDir = stormrun_test_support::TempDir;

inline void write_bytes(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::byte> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  for (std::size_t i = 0; i < chars.size(); ++i)
    out[i] = static_cast<std::byte>(chars[i]);
  return out;
}

struct PythonResult {
  int status = -1;
  std::string output;
};

/// Runs /usr/bin/python3 (the system python that has numpy) on `script`, saved in `dir`;
/// returns its exit status and combined output.
inline PythonResult run_python(const std::filesystem::path& dir, const std::string& script) {
  const auto script_path = dir / "script.py";
  {
    std::ofstream out(script_path);
    out << script;
  }
  const std::string command = "/usr/bin/python3 " + script_path.string() + " 2>&1";
  PythonResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    result.output += buffer.data();
  }
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

template <class T>
std::vector<std::byte> as_bytes_vector(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

}  // namespace stormrun::test
