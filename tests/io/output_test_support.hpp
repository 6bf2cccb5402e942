// The test layout and the deterministic values the output tests write, so that any reader
// (C++, h5py, xarray in check_output.py) can recompute every element:
//   field f, member m:  f*100000 + m*1000 + t*100 + l*10 + j*0.01 + i*0.0001
//   statistic s of f:  -(s+1)*100000 - f*10000 + t*100 + l*10 + j*0.01 + i*0.0001
// (t start-time index, l lead index, j latitude row, i longitude column).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stormrun/io/output.hpp"

namespace stormrun_test {

/// 2 fields (h, u) with mean and std, 5 members, starts 2024-01-01T00Z and T12Z, 4 leads
/// of 6 h, grid 8x16.
inline stormrun::io::OutputLayout test_layout() {
  using namespace std::chrono;
  stormrun::io::OutputLayout layout;
  layout.fields = {{"h", "m", "fluid height"}, {"u", "m s-1", "eastward velocity"}};
  layout.statistics = {"mean", "std"};
  layout.nensemble = 5;
  layout.times = {stormrun::TimePoint(seconds(1704067200)),
                  stormrun::TimePoint(seconds(1704067200 + 12 * 3600))};
  layout.nlead = 4;
  layout.lead_step = hours(6);
  layout.grid = stormrun::model::Grid{8, 16};
  layout.fingerprint_hash = "a1b2c3d4e5f60718";
  layout.fingerprint_json = R"({"model":"swe","seed":7,"grid":"8x16"})";
  layout.attributes = {{"title", "stormrun output test"}, {"source", "stormrun tests/io"}};
  return layout;
}

inline double member_value(int field, std::int64_t member, std::int64_t t, std::int64_t l, int j,
                           int i) {
  return field * 100000.0 + double(member) * 1000.0 + double(t) * 100.0 + double(l) * 10.0 +
         j * 0.01 + i * 0.0001;
}

inline double statistic_value(int field, int stat, std::int64_t t, std::int64_t l, int j, int i) {
  return -(stat + 1) * 100000.0 - field * 10000.0 + double(t) * 100.0 + double(l) * 10.0 +
         j * 0.01 + i * 0.0001;
}

/// Rows [members.size()][nlat][nlon] of field `field` at (t, l), in the order of `members`.
inline std::vector<double> member_rows(const stormrun::model::Grid& grid, int field,
                                       std::span<const std::int64_t> members, std::int64_t t,
                                       std::int64_t l) {
  std::vector<double> rows;
  rows.reserve(members.size() * std::size_t(grid.points()));
  for (std::int64_t m : members)
    for (int j = 0; j < grid.nlat; ++j)
      for (int i = 0; i < grid.nlon; ++i)
        rows.push_back(member_value(field, m, t, l, j, i));
  return rows;
}

inline std::vector<double> statistic_rows(const stormrun::model::Grid& grid, int field, int stat,
                                          std::int64_t t, std::int64_t l) {
  std::vector<double> rows;
  rows.reserve(std::size_t(grid.points()));
  for (int j = 0; j < grid.nlat; ++j)
    for (int i = 0; i < grid.nlon; ++i)
      rows.push_back(statistic_value(field, stat, t, l, j, i));
  return rows;
}

}  // namespace stormrun_test
