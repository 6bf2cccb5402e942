// Small file helpers of the tests: whole-file read and write, and damage that keeps a
// file's size.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace stormrun_test_support {

/// The bytes of `path`; std::runtime_error naming it when it cannot be opened.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Replaces the content of `path` with `text`.
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// Flips one byte in the middle of a file (damage that keeps its size).
inline void flip_byte(const std::filesystem::path& path) {
  std::string text = read_text(path);
  if (text.empty()) throw std::runtime_error("cannot damage empty file " + path.string());
  text[text.size() / 2] = static_cast<char>(text[text.size() / 2] ^ 0x5a);
  write_text(path, text);
}

}  // namespace stormrun_test_support
