// Test-only kill points (include/stormrun/test_kill.hpp). In the store library, the lowest
// one that both the checkpoint commit and the output (src/io) link, so neither needs the
// runtime library. The environment is read once; unset, a point costs one static load.
#include "stormrun/test_kill.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "stormrun/store.hpp"

namespace stormrun {
namespace {

struct KillPlan {
  bool armed = false;
  std::string point;
  bool every_rank = false;
  int rank = 0;
  long long nth = 0;
};

/// Every point a call site names: the commit's steps (as STORMRUN_FAULT_INJECT names
/// them, prefixed "commit-"), a rank store's open, the output's collective writes and
/// flushes, and the global catalog's replace.
std::vector<std::string> known_points() {
  std::vector<std::string> points;
  for (const CommitStep step : all_commit_steps())
    points.push_back("commit-" + to_string(step));
  for (const char* p :
       {"store-dirs-created", "output-before-write", "output-after-write", "output-before-flush",
        "output-after-flush", "global-catalog-before-write", "global-catalog-after-write"})
    points.emplace_back(p);
  return points;
}

[[noreturn]] void refuse(const std::string& text, const std::string& why) {
  std::fprintf(stderr, "stormrun: error: STORMRUN_TEST_KILL_AT='%s': %s\n", text.c_str(),
               why.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

long long positive(const std::string& text, const std::string& item, const char* what) {
  if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos)
    refuse(text, std::string(what) + " '" + item + "' is not a number");
  return std::stoll(item);
}

KillPlan parse(const char* value) {
  KillPlan plan;
  if (value == nullptr || *value == '\0') return plan;
  const std::string text = value;
  const auto first = text.find(':');
  const auto second = first == std::string::npos ? first : text.find(':', first + 1);
  if (second == std::string::npos) refuse(text, "expected <point>:<rank|*>:<n>");
  plan.point = text.substr(0, first);
  std::string names;
  bool known = false;
  for (const std::string& p : known_points()) {
    known = known || p == plan.point;
    names += (names.empty() ? "" : ", ") + p;
  }
  if (!known) refuse(text, "no kill point '" + plan.point + "'; the points: " + names);
  const std::string rank = text.substr(first + 1, second - first - 1);
  plan.every_rank = rank == "*";
  if (!plan.every_rank) plan.rank = int(positive(text, rank, "rank"));
  plan.nth = positive(text, text.substr(second + 1), "count");
  if (plan.nth < 1) refuse(text, "the count n starts at 1");
  plan.armed = true;
  return plan;
}

const KillPlan& plan() {
  static const KillPlan p = parse(std::getenv("STORMRUN_TEST_KILL_AT"));
  return p;
}

}  // namespace

bool test_kill_armed() {
  return plan().armed;
}

void test_kill_point(std::string_view point) {
  const KillPlan& p = plan();
  if (!p.armed || point != p.point) return;
  static const bool mine = p.every_rank || detect_rank().rank == p.rank;
  static std::atomic<long long> arrivals{0};
  if (!mine || ++arrivals != p.nth) return;
  std::raise(SIGKILL);
}

}  // namespace stormrun

// ---- test-only hooks of the power-loss matrix (tests/powerloss) -------------------------
#include <unistd.h>

#include "store/durable_io.hpp"

namespace stormrun::store_detail {

const std::vector<std::string>& fsync_labels() {
  static const std::vector<std::string> labels{
      kFsyncCommitFile, kFsyncManifest,  kFsyncSubdirs,  kFsyncStaging,       kFsyncPack,
      kFsyncCommitsDir, kFsyncStoreDirs, kFsyncLockFile, kFsyncOutputDeferred};
  return labels;
}

namespace {

std::vector<std::string> parse_skips(const char* value) {
  std::vector<std::string> skips;
  if (value == nullptr || *value == '\0') return skips;
  const std::string text = value;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string label = text.substr(start, comma - start);
    const auto& known = fsync_labels();
    if (std::find(known.begin(), known.end(), label) == known.end()) {
      std::string names;
      for (const auto& k : known)
        names += (names.empty() ? "" : ", ") + k;
      std::fprintf(stderr,
                   "stormrun: error: STORMRUN_TEST_SKIP_FSYNC='%s': no fsync '%s'; the labels: "
                   "%s\n",
                   text.c_str(), label.c_str(), names.c_str());
      std::fflush(stderr);
      std::_Exit(2);
    }
    skips.push_back(label);
    start = comma + 1;
  }
  return skips;
}

}  // namespace

bool fsync_skipped(const char* label) {
  static const std::vector<std::string> skips =
      parse_skips(std::getenv("STORMRUN_TEST_SKIP_FSYNC"));
  if (skips.empty() || label == nullptr) return false;
  return std::find(skips.begin(), skips.end(), label) != skips.end();
}

void powerloss_mark(const std::string& text) {
  static const bool on = std::getenv("STORMRUN_TEST_POWERLOSS_MARKS") != nullptr;
  if (!on) return;
  // The shim (tests/powerloss/powerloss_shim.c) records this access in its log; nothing
  // exists at that path.
  (void)::access(("/.stormrun-powerloss-mark/" + text).c_str(), F_OK);
}

}  // namespace stormrun::store_detail
