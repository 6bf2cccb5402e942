// Fault injection for crash-safety tests: STORMRUN_FAULT_INJECT=<step> makes the process
// _exit(86) right after that step of a commit (store.hpp, CommitStep).
#pragma once

#include <optional>

#include "stormrun/store.hpp"

namespace stormrun::store_detail {

inline constexpr int kFaultExitCode = 86;

class FaultPlan {
 public:
  /// Reads STORMRUN_FAULT_INJECT once; StoreError when it names no step.
  static FaultPlan from_env();
  /// Ends the process at once (no destructors, no flushing) when `step` is the one named.
  void after(CommitStep step) const;

 private:
  std::optional<CommitStep> step_;
};

}  // namespace stormrun::store_detail
