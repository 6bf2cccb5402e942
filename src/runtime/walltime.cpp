// The job's end time (walltime.hpp).
#include "stormrun/runtime/walltime.hpp"

#include "stormrun/bits/subprocess.hpp"
#include "stormrun/runtime/log.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace stormrun::runtime {

namespace {

// "12" → 12; nullopt unless 1 to 18 digits.
std::optional<long long> digits(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(text);
}

}  // namespace

std::optional<double> parse_slurm_time_left(const std::string& raw) {
  std::string text = raw;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  while (!text.empty() && text.front() == ' ')
    text.erase(text.begin());
  long long days = 0;
  const auto dash = text.find('-');
  if (dash != std::string::npos) {
    const auto d = digits(text.substr(0, dash));
    if (!d) return std::nullopt;
    days = *d;
    text = text.substr(dash + 1);
  }
  std::vector<long long> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    const auto part =
        digits(text.substr(start, colon == std::string::npos ? colon : colon - start));
    if (!part) return std::nullopt;
    parts.push_back(*part);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) return std::nullopt;
  long long seconds = 0;
  for (long long part : parts)
    seconds = seconds * 60 + part;
  if (parts.size() == 2 && dash != std::string::npos) seconds *= 60;    // D-HH:MM
  if (parts.size() == 1 && dash != std::string::npos) seconds *= 3600;  // D-HH
  return double(days * 86400 + seconds);
}

struct JobEndTime::State {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::optional<double> end;
  std::string source;
  std::string job;
  std::function<void(const std::string&)> warn;
  bool warned = false;
  std::thread thread;

  // Asks squeue for the time left; keeps the last answer when it cannot.
  void refresh() {
    const double asked = wall_clock_seconds();
    const auto out = detail::run_captured({"squeue", "-h", "-o", "%L", "-j", job}, 10);
    const auto left = out ? parse_slurm_time_left(*out) : std::nullopt;
    std::lock_guard<std::mutex> lock(mutex);
    if (left) {
      end = asked + *left;
    } else if (!warned && warn) {
      warned = true;
      warn("cannot read the time left of SLURM job " + job + " with `squeue -h -o %L -j " + job +
           "`" + (out ? " (it printed '" + *out + "')" : std::string(" (it could not be run)")) +
           (end ? "; the run keeps SLURM_JOB_END_TIME as the job's end"
                : "; the run does not know the job's end: give --end-time"));
    }
  }
};

JobEndTime::JobEndTime(std::optional<double> explicit_end,
                       std::function<void(const std::string&)> warn)
    : state_(std::make_shared<State>()) {
  state_->warn = std::move(warn);
  if (explicit_end) {
    state_->end = explicit_end;
    state_->source = "--end-time";
    return;
  }
  const char* job = std::getenv("SLURM_JOB_ID");
  if (!job || !*job) return;
  state_->job = job;
  state_->source = "SLURM job " + state_->job;
  if (const char* end = std::getenv("SLURM_JOB_END_TIME"))
    if (const auto seconds = digits(end)) state_->end = double(*seconds);
  state_->thread = std::thread([s = state_] {
    // At least one answer from squeue, even when the run ends at once; then one a period.
    std::unique_lock<std::mutex> lock(s->mutex);
    do {
      lock.unlock();
      s->refresh();
      lock.lock();
    } while (!s->wake.wait_for(lock, std::chrono::duration<double>(kEndTimeRefreshSeconds),
                               [&] { return s->stopping; }));
  });
}

JobEndTime::~JobEndTime() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

std::optional<double> JobEndTime::end() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->end;
}

const std::string& JobEndTime::source() const {
  return state_->source;
}

}  // namespace stormrun::runtime
