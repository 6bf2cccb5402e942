// Ensemble statistics (statistics.hpp).
#include "statistics.hpp"

#include <cmath>

namespace stormrun::workflow {

MeanStd mean_and_std(std::span<const double> all, std::size_t n, std::size_t points) {
  MeanStd out{std::vector<double>(points, 0.0), std::vector<double>(points, 0.0)};
  for (std::size_t m = 0; m < n; ++m)
    for (std::size_t p = 0; p < points; ++p)
      out.mean[p] += all[m * points + p];
  for (std::size_t p = 0; p < points; ++p)
    out.mean[p] /= static_cast<double>(n);
  for (std::size_t m = 0; m < n; ++m)
    for (std::size_t p = 0; p < points; ++p) {
      const double d = all[m * points + p] - out.mean[p];
      out.stddev[p] += d * d;
    }
  for (std::size_t p = 0; p < points; ++p)
    out.stddev[p] = std::sqrt(out.stddev[p] / static_cast<double>(n));
  return out;
}

void write_statistics(const runtime::Runtime& rt, io::OutputFile& output, const std::string& field,
                      const std::vector<std::string>& statistics, std::int64_t start,
                      std::int64_t t, std::span<const double> my_members, std::size_t members,
                      std::size_t points) {
  const std::vector<double> all = rt.gather_values(my_members);
  MeanStd stats;
  if (rt.rank() == 0) stats = mean_and_std(all, members, points);
  for (const std::string& stat : statistics)
    output.write_statistic(field, stat, start, t, stat == "mean" ? stats.mean : stats.stddev);
}

}  // namespace stormrun::workflow
