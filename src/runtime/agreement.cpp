// Agreed outcomes (agreement.hpp): one gather of every rank's outcome to rank 0, which
// prints the failures and broadcasts the code.
#include "stormrun/runtime/agreement.hpp"

#include <climits>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/signals.hpp"
#include "stormrun/runtime/watchdog.hpp"

namespace stormrun::runtime {

namespace {

struct Reported {
  int rank = 0;
  int code = 0;
  std::string host;
  std::string message;
};

// Fields separated by a unit separator, which no host name or message holds.
constexpr char kSeparator = '\x1f';

std::string encode(const Outcome& outcome) {
  return std::to_string(outcome.code) + kSeparator + host_name() + kSeparator + outcome.message;
}

Reported decode(int rank, const std::string& text) {
  Reported r;
  r.rank = rank;
  const auto first = text.find(kSeparator);
  const auto second = text.find(kSeparator, first + 1);
  r.code = std::atoi(text.substr(0, first).c_str());
  r.host = text.substr(first + 1, second - first - 1);
  r.message = text.substr(second + 1);
  return r;
}

// Every rank's text on rank 0, in rank order. MPI errors abort the job (the default error
// handler): a broken communicator cannot agree on anything.
std::vector<std::string> gather_text(MPI_Comm comm, int rank, int size, const std::string& text) {
  const int length = text.size() > INT_MAX / 2 ? INT_MAX / 2 : static_cast<int>(text.size());
  std::vector<int> lengths(rank == 0 ? size : 0);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm);
  std::vector<int> offsets(lengths.size());
  long long total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += lengths[r];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
              0, comm);
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lengths.size(); ++r)
    out.push_back(all.substr(std::size_t(offsets[r]), std::size_t(lengths[r])));
  return out;
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks)
    out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

void report(int my_rank, int size, const std::string& phase, const std::vector<Reported>& failed,
            int code) {
  // Identical messages (the usual case: every rank read the same bad option) once.
  std::vector<std::pair<const Reported*, std::vector<const Reported*>>> groups;
  for (const Reported& f : failed) {
    bool merged = false;
    for (auto& [first, others] : groups)
      if (first->message == f.message && first->code == f.code) {
        others.push_back(&f);
        merged = true;
        break;
      }
    if (!merged) groups.push_back({&f, {}});
  }
  constexpr std::size_t kListed = 8;  // ranks named in full per message; the rest counted
  std::ostringstream out;
  for (const auto& [first, others] : groups) {
    out << rank_tag(first->rank, first->host) << ": error: " << first->message;
    if (!others.empty()) {
      out << " (the same on rank" << (others.size() > 1 ? "s " : " ");
      for (std::size_t i = 0; i < others.size() && i < kListed; ++i)
        out << (i ? ", " : "") << others[i]->rank << "@" << others[i]->host;
      if (others.size() > kListed) out << " and " << others.size() - kListed << " more";
      out << ")";
    }
    out << "\n";
  }
  std::vector<int> ranks;
  ranks.reserve(failed.size());
  for (const Reported& f : failed)
    ranks.push_back(f.rank);
  if (size > 1)
    out << rank_tag(my_rank) << ": error: stopped in phase '" << phase << "' after the error"
        << (groups.size() > 1 ? "s" : "") << " above (rank" << (ranks.size() > 1 ? "s " : " ")
        << rank_list(ranks) << "); all " << size << " ranks exit " << code << "\n";
  write_stderr(out.str());
}

}  // namespace

int agree(MPI_Comm comm, const std::string& phase, const Outcome& mine, OnStop on_stop) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const CollectiveScope scope(intern_label("the agreement of phase '" + phase + "'"));
  // One cheap reduction when every rank is fine (the common case); the gather only then.
  // [0]: any rank failed; [1]: the lowest rank with a stop signal and that signal, as
  // (size - rank) * 256 + signal, so that the maximum names it.
  const int signal = StopSignals::received();
  long long here[2] = {mine.failed() ? 1 : 0,
                       signal ? (long long)(size - rank) * 256 + (signal & 255) : 0};
  long long anywhere[2] = {0, 0};
  MPI_Allreduce(here, anywhere, 2, MPI_LONG_LONG, MPI_MAX, comm);
  const bool failed_anywhere = anywhere[0] != 0;
  if (!failed_anywhere) {
    if (anywhere[1] == 0 || on_stop == OnStop::Continue) return 0;
    if (rank == 0) {
      const int by = size - int(anywhere[1] / 256);
      log_note(rank, StopSignals::name(int(anywhere[1] % 256)) + " received by rank " +
                         std::to_string(by) + ": the run stops in phase '" + phase + "'; all " +
                         std::to_string(size) + " rank" + (size > 1 ? "s" : "") + " exit " +
                         std::to_string(kExitStoppedEarly) +
                         "; run the same command again to continue");
    }
    return kExitStoppedEarly;
  }
  const std::vector<std::string> texts =
      gather_text(comm, rank, size, mine.failed() ? encode(mine) : std::string());
  int code = 0;
  if (rank == 0) {
    std::vector<Reported> failed;
    for (int r = 0; r < size; ++r)
      if (!texts[std::size_t(r)].empty()) failed.push_back(decode(r, texts[std::size_t(r)]));
    code = failed.front().code;
    report(rank, size, phase, failed, code);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, comm);
  return code;
}

void agree_or_throw(MPI_Comm comm, const std::string& phase, const Outcome& mine, OnStop on_stop) {
  if (const int code = agree(comm, phase, mine, on_stop)) throw AgreedFailure(code);
}

Outcome injected_fault(const std::string& point, int rank, int code) {
  test_pause(point, rank);
  const char* spec = std::getenv("STORMRUN_TEST_STARTUP_FAULT");
  if (!spec) return {};
  const std::string text = spec;
  const auto colon = text.find(':');
  if (colon == std::string::npos || text.substr(0, colon) != point) return {};
  std::stringstream ranks(text.substr(colon + 1));
  std::string item;
  while (std::getline(ranks, item, ','))
    if (item == std::to_string(rank))
      return {code,
              "test fault injected at '" + point + "' (STORMRUN_TEST_STARTUP_FAULT=" + text + ")"};
  return {};
}

}  // namespace stormrun::runtime
