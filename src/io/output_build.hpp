// Building a new output file's objects, and checking an existing file's objects against a
// layout. Internal to the output room.
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "stormrun/io/output.hpp"

namespace stormrun::io {

/// Collective over the file's communicator (every rank, same layout). Creates every
/// coordinate (with its values and dimension scale), every data variable (contiguous,
/// allocated early, NaN written at allocation, scales attached, attributes) and the root
/// attributes in the freshly created `file`. Rank `rank` == 0 writes the coordinate values.
/// The caller flushes. OutputError naming `path` and the object on failure.
void build_output_objects(hid_t file, const OutputLayout& layout, const std::filesystem::path& path,
                          int rank);

/// Not collective. Every difference between the file's fingerprint, format, coordinates and
/// datasets and `layout`, one human-readable line each ("fingerprint: file a1b2..., this run
/// c3d4..."; "dataset h: shape (5, 2, 4, 8, 16) in the file, (6, 2, 4, 8, 16) for this run");
/// empty when they agree. Reads only.
std::vector<std::string> layout_differences(hid_t file, const OutputLayout& layout,
                                            const std::filesystem::path& path);

}  // namespace stormrun::io
