// libFuzzer target: the ledger and plan JSON the ranks send each other at a restart
// (a rank dir's summary, the restart plan) and the global catalog (DESIGN.md §4).
#include "fuzz_support.hpp"
#include "stormrun/workflow/ledger.hpp"

namespace sw = stormrun::workflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = stormrun::fuzz::json_of(data, size);
  if (!j) return 0;
  stormrun::fuzz::refuses_cleanly([&] { (void)sw::DirSummary::from_json(*j); });
  stormrun::fuzz::refuses_cleanly([&] { (void)sw::RowSummary::from_json(*j); });
  stormrun::fuzz::refuses_cleanly([&] { (void)sw::RestartPlan::from_json(*j); });
  stormrun::fuzz::refuses_cleanly(
      [&] { (void)sw::GlobalCatalog::from_json(*j, "fuzz/catalog.json"); });
  return 0;
}
