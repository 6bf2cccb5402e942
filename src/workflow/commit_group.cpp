// The commit group (commit_group.hpp): which ranks share a committer, and moving their row
// contributions to it.
#include "commit_group.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/agreement.hpp"
#include "stormrun/workflow/config.hpp"

namespace stormrun::workflow {

using runtime::check_mpi;

namespace {

// The test hook's group size, or 0 (the node's ranks).
int test_ranks_per_node() {
  const char* text = std::getenv("STORMRUN_TEST_RANKS_PER_NODE");
  if (!text || !*text) return 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > INT_MAX)
    throw ConfigError(
        "STORMRUN_TEST_RANKS_PER_NODE",
        "STORMRUN_TEST_RANKS_PER_NODE: '" + std::string(text) + "' is not an integer >= 1");
  return int(value);
}

constexpr int kValuesTag = 4711;
constexpr std::size_t kPiece = std::size_t(1) << 27;  // doubles per message (1 GiB)

}  // namespace

CommitGroup::CommitGroup(const runtime::Runtime& rt, CheckpointLayout layout)
    : world_rank_(rt.rank()), world_size_(rt.size()) {
  if (layout == CheckpointLayout::Rank) {
    members_ = {rt.rank()};
    return;
  }
  // Read on every rank, agreed before the split, so that a bad value on one rank ends every
  // rank instead of leaving the others in MPI_Comm_split.
  int per_node = 0;
  runtime::Outcome outcome;
  try {
    per_node = test_ranks_per_node();
  } catch (const ConfigError& e) {
    outcome = {kExitUsage, e.what()};
  }
  runtime::agree_or_throw(rt.comm(), "checkpoint", outcome);
  if (per_node > 0) {
    check_mpi(MPI_Comm_split(rt.comm(), rt.rank() / per_node, rt.rank(), &comm_), "MPI_Comm_split");
  } else {
    check_mpi(
        MPI_Comm_split_type(rt.comm(), MPI_COMM_TYPE_SHARED, rt.rank(), MPI_INFO_NULL, &comm_),
        "MPI_Comm_split_type");
  }
  int size = 1;
  MPI_Comm_rank(comm_, &group_rank_);
  MPI_Comm_size(comm_, &size);
  members_.resize(std::size_t(size));
  int mine = rt.rank();
  check_mpi(MPI_Allgather(&mine, 1, MPI_INT, members_.data(), 1, MPI_INT, comm_), "MPI_Allgather");
  // Split keys are world ranks, so group order is ascending world order.
  if (!std::is_sorted(members_.begin(), members_.end()))
    throw std::logic_error("commit group: members out of order");
}

CommitGroup::~CommitGroup() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

bool CommitGroup::any(bool value) const {
  if (!shared()) return value;
  int in = value ? 1 : 0, out = 0;
  check_mpi(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, comm_), "MPI_Allreduce");
  return out != 0;
}

void CommitGroup::gather(
    const std::string& header, std::span<const double> values,
    const std::function<std::vector<std::size_t>(const std::vector<std::string>&)>& place,
    std::vector<double>& into) const {
  if (!shared()) return;
  const int n = int(members_.size());
  // Sizes first: the value count and the header length of every member.
  const long long sizes[2] = {static_cast<long long>(values.size()),
                              static_cast<long long>(header.size())};
  std::vector<long long> all(committer() ? std::size_t(2 * n) : 0);
  check_mpi(MPI_Gather(sizes, 2, MPI_LONG_LONG, all.data(), 2, MPI_LONG_LONG, 0, comm_),
            "MPI_Gather");
  if (header.size() > INT_MAX) throw std::runtime_error("commit group: a header over 2 GiB");
  std::vector<int> lengths(std::size_t(committer() ? n : 0)), offsets(lengths.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    lengths[i] = int(all[2 * i + 1]);
    offsets[i] = int(total);
    total += lengths[i];
    if (total > INT_MAX) throw std::runtime_error("commit group: headers over 2 GiB");
  }
  std::string joined(std::size_t(total), '\0');
  check_mpi(MPI_Gatherv(header.data(), int(header.size()), MPI_CHAR, joined.data(), lengths.data(),
                        offsets.data(), MPI_CHAR, 0, comm_),
            "MPI_Gatherv");
  if (!committer()) {
    for (std::size_t done = 0; done < values.size(); done += kPiece) {
      const std::size_t count = std::min(kPiece, values.size() - done);
      check_mpi(MPI_Send(values.data() + done, int(count), MPI_DOUBLE, 0, kValuesTag, comm_),
                "MPI_Send");
    }
    return;
  }
  std::vector<std::string> headers;
  for (std::size_t i = 0; i < lengths.size(); ++i)
    headers.push_back(joined.substr(std::size_t(offsets[i]), std::size_t(lengths[i])));
  const std::vector<std::size_t> at = place(headers);
  for (int i = 1; i < n; ++i) {
    const auto count = std::size_t(all[2 * std::size_t(i)]);
    if (at.at(std::size_t(i)) + count > into.size())
      throw std::logic_error("commit group: no room for a member's values");
    for (std::size_t done = 0; done < count; done += kPiece) {
      const std::size_t piece = std::min(kPiece, count - done);
      check_mpi(MPI_Recv(into.data() + at[std::size_t(i)] + done, int(piece), MPI_DOUBLE, i,
                         kValuesTag, comm_, MPI_STATUS_IGNORE),
                "MPI_Recv");
    }
  }
}

}  // namespace stormrun::workflow
