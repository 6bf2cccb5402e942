// Work units, their fixed partition over ranks, and a rank's batches.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "stormrun/workflow/ledger.hpp"

namespace stormrun::workflow {

std::vector<WorkUnit> work_units(const RunConfig& config) {
  if (config.nensemble < 1) {
    throw std::invalid_argument("work_units: --nensemble must be >= 1, got " +
                                std::to_string(config.nensemble));
  }
  std::vector<WorkUnit> units;
  units.reserve(config.start_times.size() * static_cast<std::size_t>(config.nensemble));
  for (std::size_t s = 0; s < config.start_times.size(); ++s) {
    for (std::int64_t member = 0; member < config.nensemble; ++member) {
      WorkUnit unit;
      unit.start_index = static_cast<std::int64_t>(s);
      unit.member = member;
      unit.index = unit.start_index * config.nensemble + member;
      unit.start = config.start_times[s];
      unit.name = unit_name(unit.start, member);
      units.push_back(std::move(unit));
    }
  }
  return units;
}

std::vector<std::int64_t> owned_units(std::int64_t unit_count, int rank, int world_size) {
  if (unit_count < 0 || world_size < 1 || rank < 0 || rank >= world_size) {
    throw std::invalid_argument(
        "owned_units: need unit_count >= 0 and 0 <= rank < world_size, got " +
        std::to_string(unit_count) + " units, rank " + std::to_string(rank) + " of " +
        std::to_string(world_size));
  }
  // floor(r·N/R) without forming r·N: N = qR + m gives floor(r·N/R) = r·q + floor(r·m/R),
  // and r·m < R² fits in 64 bits for any int R.
  const std::int64_t R = world_size;
  const std::int64_t q = unit_count / R;
  const std::int64_t m = unit_count % R;
  const auto bound = [&](std::int64_t r) { return r * q + (r * m) / R; };
  std::vector<std::int64_t> owned;
  for (std::int64_t i = bound(rank); i < bound(std::int64_t(rank) + 1); ++i)
    owned.push_back(i);
  return owned;
}

std::vector<Batch> make_batches(const std::vector<std::int64_t>& owned, const RestartPlan& plan,
                                std::int64_t batch_size) {
  if (batch_size < 1) {
    throw std::invalid_argument("make_batches: --batch-size must be >= 1, got " +
                                std::to_string(batch_size));
  }
  std::map<std::int64_t, const UnitPlan*> by_index;
  for (const UnitPlan& unit : plan.units)
    by_index.emplace(unit.index, &unit);

  // first_step (highest first) → unit indices in index order.
  std::map<std::int64_t, std::vector<std::int64_t>, std::greater<>> groups;
  std::vector<std::int64_t> sorted = owned;
  std::sort(sorted.begin(), sorted.end());
  for (const std::int64_t index : sorted) {
    const auto it = by_index.find(index);
    if (it == by_index.end()) {
      throw std::invalid_argument("make_batches: the restart plan has no unit with index " +
                                  std::to_string(index));
    }
    const UnitPlan& unit = *it->second;
    // Finished: past step 0 with no state to resume from (a resumed unit always has one).
    if (unit.first_step > 0 && !unit.source) continue;
    groups[unit.first_step].push_back(index);
  }

  std::vector<Batch> batches;
  for (const auto& [first_step, indices] : groups) {
    for (std::size_t begin = 0; begin < indices.size(); begin += std::size_t(batch_size)) {
      const std::size_t end = std::min(indices.size(), begin + std::size_t(batch_size));
      batches.push_back(
          {{indices.begin() + std::ptrdiff_t(begin), indices.begin() + std::ptrdiff_t(end)},
           first_step});
    }
  }
  return batches;
}

}  // namespace stormrun::workflow
