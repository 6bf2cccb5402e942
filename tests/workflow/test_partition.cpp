// Work units, the fixed partition over ranks, and a rank's batches.
#include <doctest/doctest.h>

#include <set>

#include "stormrun/workflow/ledger.hpp"

using namespace stormrun;
using namespace stormrun::workflow;

TEST_CASE("work_units: one per (start time, member) in index order, named by unit_name") {
  RunConfig config;
  config.start_times = {parse_utc("2026-01-01T00:00:00Z"), parse_utc("2026-01-02T12:00:00Z")};
  config.nensemble = 3;
  const auto units = work_units(config);
  REQUIRE(units.size() == 6);
  for (std::size_t i = 0; i < units.size(); ++i) {
    CAPTURE(i);
    CHECK(units[i].index == std::int64_t(i));
    CHECK(units[i].start_index == std::int64_t(i / 3));
    CHECK(units[i].member == std::int64_t(i % 3));
    CHECK(units[i].start == config.start_times[i / 3]);
    CHECK(units[i].name == unit_name(units[i].start, units[i].member));
  }
  CHECK(units[4].name == "2026-01-02T12:00:00Z/m0001");
}

TEST_CASE("owned_units: contiguous blocks covering every unit once, sizes within one") {
  for (std::int64_t n = 1; n <= 10; ++n) {
    for (int world = 1; world <= 10; ++world) {
      CAPTURE(n);
      CAPTURE(world);
      std::vector<std::int64_t> all;
      std::size_t smallest = SIZE_MAX;
      std::size_t largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto owned = owned_units(n, rank, world);
        for (std::size_t i = 1; i < owned.size(); ++i)
          CHECK(owned[i] == owned[i - 1] + 1);  // contiguous, ascending
        // The documented rule: [floor(r·N/R), floor((r+1)·N/R)).
        if (!owned.empty()) CHECK(owned.front() == rank * n / world);
        CHECK(std::int64_t(owned.size()) == (rank + 1) * n / world - rank * n / world);
        smallest = std::min(smallest, owned.size());
        largest = std::max(largest, owned.size());
        all.insert(all.end(), owned.begin(), owned.end());
      }
      std::vector<std::int64_t> expected(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i)
        expected[std::size_t(i)] = i;
      CHECK(all == expected);  // rank order concatenation is 0..n-1: each exactly once
      CHECK(largest - smallest <= 1);
    }
  }
  CHECK(owned_units(10, 0, 3) == std::vector<std::int64_t>{0, 1, 2});
  CHECK(owned_units(10, 2, 3) == std::vector<std::int64_t>{6, 7, 8, 9});
  CHECK(owned_units(2, 0, 4).empty());
  CHECK(owned_units(2, 1, 4) == std::vector<std::int64_t>{0});
  CHECK_THROWS_AS(owned_units(5, 3, 3), std::invalid_argument);
  CHECK_THROWS_AS(owned_units(5, 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(owned_units(-1, 0, 1), std::invalid_argument);
}

namespace {

UnitPlan fresh(std::int64_t index) {
  return {index, 0, std::nullopt};
}
UnitPlan resumed(std::int64_t index, std::int64_t first_step) {
  StateSource source;
  source.step = first_step - 1;
  return {index, first_step, source};
}
UnitPlan finished(std::int64_t index, std::int64_t nsteps) {
  return {index, nsteps + 1, std::nullopt};
}

}  // namespace

TEST_CASE("make_batches: grouped by first_step, highest first, index order, cut at batch size") {
  RestartPlan plan;
  plan.units = {fresh(0),      resumed(1, 3), finished(2, 8), resumed(3, 5), resumed(4, 3),
                resumed(5, 3), fresh(6),      resumed(7, 3),  fresh(8),      finished(9, 8)};
  const std::vector<std::int64_t> owned = {7, 1, 2, 3, 4, 5, 6, 8, 9};  // any order given

  const auto batches = make_batches(owned, plan, 2);
  REQUIRE(batches.size() == 4);
  CHECK(batches[0].first_step == 5);
  CHECK(batches[0].units == std::vector<std::int64_t>{3});
  CHECK(batches[1].first_step == 3);
  CHECK(batches[1].units == std::vector<std::int64_t>{1, 4});
  CHECK(batches[2].first_step == 3);
  CHECK(batches[2].units == std::vector<std::int64_t>{5, 7});
  CHECK(batches[3].first_step == 0);
  CHECK(batches[3].units == std::vector<std::int64_t>{6, 8});  // unit 0 is not owned

  SUBCASE("batch size larger than a group keeps each group whole") {
    const auto whole = make_batches(owned, plan, 10);
    REQUIRE(whole.size() == 3);
    CHECK(whole[0].units == std::vector<std::int64_t>{3});
    CHECK(whole[1].units == std::vector<std::int64_t>{1, 4, 5, 7});
    CHECK(whole[2].units == std::vector<std::int64_t>{6, 8});
  }
  SUBCASE("finished units make no batch") {
    CHECK(make_batches({2, 9}, plan, 1).empty());
  }
  SUBCASE("invalid input") {
    CHECK_THROWS_AS(make_batches(owned, plan, 0), std::invalid_argument);
    CHECK_THROWS_AS(make_batches({42}, plan, 1), std::invalid_argument);
  }
}
