// Ensemble statistics over members (DESIGN.md §6): population mean and standard deviation
// (ddof 0), reduced on rank 0 in member order so that their bytes do not depend on how the
// members are spread over ranks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stormrun/io/output.hpp"
#include "stormrun/runtime/runtime.hpp"

namespace stormrun::workflow {

struct MeanStd {
  std::vector<double> mean;
  std::vector<double> stddev;
};

/// Mean and population standard deviation of `members` blocks of `points` values each,
/// summed in block order. Local.
MeanStd mean_and_std(std::span<const double> blocks, std::size_t members, std::size_t points);

/// Collective over rt and `output`: every rank passes its members of one start time (in unit
/// order, `points` values each; ranks own contiguous unit blocks, so rank order is member
/// order); rank 0 reduces them and the statistics named in `statistics` ("mean", "std") of
/// `field` at (start, t) are written collectively.
void write_statistics(const runtime::Runtime& rt, io::OutputFile& output, const std::string& field,
                      const std::vector<std::string>& statistics, std::int64_t start,
                      std::int64_t t, std::span<const double> my_members, std::size_t members,
                      std::size_t points);

}  // namespace stormrun::workflow
