// The hang watchdog, the heartbeats and the second-signal stop (watchdog.hpp).
#include "stormrun/runtime/watchdog.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "stormrun/exit_codes.hpp"
#include "stormrun/runtime/log.hpp"
#include "stormrun/runtime/signals.hpp"

namespace stormrun::runtime {

namespace fs = std::filesystem;

namespace {

// Where the main thread is: written by it (relaxed atomic stores), read by the watchdog.
std::atomic<std::uint64_t> g_progress{0};
std::atomic<const char*> g_phase{"start-up"};
std::atomic<std::int64_t> g_step{-1};
std::atomic<const char*> g_collective{nullptr};
std::atomic<std::int64_t> g_durable{-1};
std::atomic<bool> g_finished{false};
std::atomic<Watchdog*> g_current{nullptr};

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr double kAbortGraceSeconds = 5;  // MPI_Abort that hangs on a lost node: _exit then

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string utc_text(double seconds_since_epoch) {
  const auto whole = static_cast<std::time_t>(std::floor(seconds_since_epoch));
  std::tm tm = {};
  ::gmtime_r(&whole, &tm);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%04.1fZ", tm.tm_hour, tm.tm_min,
                double(tm.tm_sec) + (seconds_since_epoch - double(whole)));
  return text;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, seconds < 10 ? "%.1f s" : "%.0f s", seconds);
  return text;
}

// One rank's heartbeat as written in its file: one line of key=value (no spaces in the
// values), the collective last, to the end of the line.
struct Heartbeat {
  int rank = -1;
  std::string host = "?";
  long pid = 0;
  double beat = 0;      // wall time of this heartbeat
  double interval = 0;  // the writer's heartbeat interval
  double progress_at = 0;
  std::string phase = "?";
  std::int64_t step = -1;
  std::string collective;
};

fs::path heartbeat_path(const fs::path& dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank_%06d", rank);
  return dir / name;
}

std::optional<Heartbeat> read_heartbeat(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // "collective=" comes last and runs to the end of the line (it has spaces).
  std::string collective;
  const auto at = line.find(" collective=");
  if (at != std::string::npos) {
    collective = line.substr(at + 12);
    line.resize(at);
  }
  std::istringstream fields(line);
  std::string magic, item;
  if (!(fields >> magic) || magic != "stormrun-heartbeat") return std::nullopt;
  Heartbeat h;
  h.collective = collective;
  try {
    while (fields >> item) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "rank") h.rank = std::stoi(value);
      if (key == "host") h.host = value;
      if (key == "pid") h.pid = std::stol(value);
      if (key == "beat") h.beat = std::stod(value);
      if (key == "interval") h.interval = std::stod(value);
      if (key == "progress_at") h.progress_at = std::stod(value);
      if (key == "phase") h.phase = value;
      if (key == "step") h.step = std::stoll(value);
    }
  } catch (const std::exception&) {
    return std::nullopt;  // a torn or foreign file: as if there were none
  }
  return h;
}

std::string place_text(const char* phase, std::int64_t step, const char* collective) {
  std::string text = std::string("phase '") + (phase ? phase : "?") + "'";
  if (step >= 0) text += ", step " + std::to_string(step);
  if (collective && *collective) text += ", waiting in " + std::string(collective);
  return text;
}

// "rank 3@node2 (…)", at most `limit` of them, then "and N more".
std::string list_text(const std::vector<std::string>& items, std::size_t limit = 8) {
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i)
    text += (i ? "; " : "") + items[i];
  if (items.size() > limit) text += "; and " + std::to_string(items.size() - limit) + " more";
  return text;
}

}  // namespace

void progress_mark(const char* phase, std::int64_t step) {
  g_phase.store(phase, std::memory_order_relaxed);
  g_step.store(step, std::memory_order_relaxed);
  g_progress.fetch_add(1, std::memory_order_relaxed);
}

const char* intern_label(const std::string& text) {
  static std::mutex mutex;
  static std::set<std::string> labels;  // nodes never move: their c_str() stays valid
  std::lock_guard<std::mutex> lock(mutex);
  return labels.insert(text).first->c_str();
}

void progress_tick() {
  g_progress.fetch_add(1, std::memory_order_relaxed);
}

CollectiveScope::CollectiveScope(const char* what)
    : previous_(g_collective.exchange(what, std::memory_order_relaxed)) {}

CollectiveScope::~CollectiveScope() {
  g_collective.store(previous_, std::memory_order_relaxed);
  g_progress.fetch_add(1, std::memory_order_relaxed);  // leaving a collective is progress
}

void note_durable_step(std::int64_t step) {
  g_durable.store(step, std::memory_order_relaxed);
}

void note_finished() {
  g_finished.store(true);
}

double auto_hang_timeout(double step_seconds, double commit_seconds) {
  return std::max(kHangFloorSeconds, 10.0 * (step_seconds + commit_seconds));
}

struct Watchdog::State {
  int rank = 0;
  int size = 1;
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::optional<double> explicit_timeout;
  double step_seconds = 0, commit_seconds = 0;
  bool measured = false;
  fs::path heartbeat_dir;
  bool heartbeat_failed = false;  // said once
  std::thread thread;

  double timeout() const {
    std::lock_guard<std::mutex> lock(mutex);
    if (explicit_timeout) return *explicit_timeout;
    return measured ? auto_hang_timeout(step_seconds, commit_seconds) : kHangStartupSeconds;
  }

  void loop();
  void write_heartbeat(const fs::path& dir, double interval, double progress_at);
  std::string peers_report(const fs::path& dir, double timeout) const;
  [[noreturn]] void end_job(int code);
};

void Watchdog::State::write_heartbeat(const fs::path& dir, double interval, double progress_at) {
  const fs::path path = heartbeat_path(dir, rank);
  const fs::path tmp = path.string() + ".tmp";
  const bool written = [&] {
    std::ofstream out(tmp, std::ios::trunc);
    const char* collective = g_collective.load(std::memory_order_relaxed);
    char numbers[160];
    std::snprintf(numbers, sizeof numbers, "beat=%.3f interval=%.3f progress_at=%.3f", wall_now(),
                  interval, progress_at);
    out << "stormrun-heartbeat rank=" << rank << " host=" << host_name() << " pid=" << ::getpid()
        << " " << numbers << " phase=" << g_phase.load(std::memory_order_relaxed)
        << " step=" << g_step.load(std::memory_order_relaxed)
        << " collective=" << (collective ? collective : "") << "\n";
    out.close();
    if (!out) return false;
    std::error_code ec;
    fs::rename(tmp, path, ec);  // appears whole; no fsync: a heartbeat need not survive a crash
    return !ec;
  }();
  if (!written && !heartbeat_failed) {
    heartbeat_failed = true;
    log_warning(rank, "cannot write the heartbeat file " + path.string() +
                          "; the hang watchdog still ends a stuck job, but cannot name the ranks "
                          "it lost");
  }
}

std::string Watchdog::State::peers_report(const fs::path& dir, double timeout) const {
  if (dir.empty()) return "; the other ranks cannot be told apart (no heartbeats without a store)";
  const double now = wall_now();
  std::vector<std::string> lost, stuck, moving;
  for (int r = 0; r < size; ++r) {
    if (r == rank) continue;
    const auto h = read_heartbeat(heartbeat_path(dir, r));
    if (!h) {
      lost.push_back("rank " + std::to_string(r) + " (no heartbeat at all)");
      continue;
    }
    const std::string who = "rank " + std::to_string(r) + "@" + h->host;
    const double silent = now - h->beat;
    if (silent > 3 * h->interval + 2) {
      lost.push_back(who + " (pid " + std::to_string(h->pid) + ", heartbeat stopped " +
                     seconds_text(silent) + " ago in " +
                     place_text(h->phase.c_str(), h->step, h->collective.c_str()) + ")");
    } else if (now - h->progress_at > timeout) {
      stuck.push_back(who + " (" + place_text(h->phase.c_str(), h->step, h->collective.c_str()) +
                      ")");
    } else {
      moving.push_back(who + " (" + place_text(h->phase.c_str(), h->step, h->collective.c_str()) +
                       ")");
    }
  }
  std::string text;
  if (!lost.empty()) text += "; lost: " + list_text(lost);
  if (!stuck.empty()) text += "; stuck as well: " + list_text(stuck);
  if (!moving.empty()) text += "; still making progress: " + list_text(moving);
  if (lost.empty() && stuck.empty() && moving.empty()) text += "; it is the only rank";
  return text;
}

void Watchdog::State::end_job(int code) {
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::duration<double>(kAbortGraceSeconds));
    ::_exit(code);
  }).detach();
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Abort(MPI_COMM_WORLD, code);
  ::_exit(code);
}

void Watchdog::State::loop() {
  using clock = std::chrono::steady_clock;
  std::uint64_t seen = g_progress.load(std::memory_order_relaxed);
  auto changed = clock::now();
  double changed_wall = wall_now();
  auto last_beat = clock::now() - std::chrono::hours(1);
  std::unique_lock<std::mutex> lock(mutex);
  while (!stopping) {
    wake.wait_for(lock, kTick);
    if (stopping) break;
    const fs::path dir = heartbeat_dir;
    lock.unlock();

    const auto now = clock::now();
    const std::uint64_t progress = g_progress.load(std::memory_order_relaxed);
    if (progress != seen) {
      seen = progress;
      changed = now;
      changed_wall = wall_now();
    }
    // A second stop signal: the whole job ends now; the last durable commit stands.
    if (StopSignals::count() >= 2 && !g_finished.load()) {
      const std::int64_t durable = g_durable.load();
      const long sender = StopSignals::last_sender();
      log_note(rank, "second stop signal (" + StopSignals::name(StopSignals::received()) +
                         (sender > 0 ? " from pid " + std::to_string(sender) +
                                           (sender == long(::getppid()) ? " (the launcher)" : "")
                                     : std::string()) +
                         " at " + utc_text(StopSignals::last_arrival()) + "; the first, " +
                         StopSignals::name(StopSignals::first()) + ", at " +
                         utc_text(StopSignals::first_arrival()) + "): abandoning " +
                         place_text(g_phase.load(), g_step.load(), g_collective.load()) + "; " +
                         (durable >= 0 ? "the last durable commit (step " +
                                             std::to_string(durable) + ") stands"
                                       : std::string("the last durable commit stands")) +
                         "; the job ends now with exit 75: run the same command again to resume");
      end_job(kExitStoppedEarly);
    }
    const double bound = timeout();
    const double stalled = std::chrono::duration<double>(now - changed).count();
    const double interval = std::clamp(bound > 0 ? bound / 8 : 10.0, 0.5, 10.0);
    if (!dir.empty() && bound > 0 &&
        std::chrono::duration<double>(now - last_beat).count() >= interval) {
      write_heartbeat(dir, interval, changed_wall);
      last_beat = now;
    }
    if (bound > 0 && stalled > bound && !g_finished.load()) {
      const std::int64_t durable = g_durable.load();
      log_error(rank, "hang watchdog: this rank made no progress for " + seconds_text(stalled) +
                          " (bound " + seconds_text(bound) + ", --hang-timeout) in " +
                          place_text(g_phase.load(), g_step.load(), g_collective.load()) +
                          peers_report(dir, bound) +
                          "; the job ends with exit 76: run the same command again to resume "
                          "from the last durable commit" +
                          (durable >= 0 ? " (step " + std::to_string(durable) + ")" : ""));
      end_job(kExitHung);
    }
    lock.lock();
  }
}

Watchdog::Watchdog(int rank, int size) : state_(std::make_unique<State>()) {
  state_->rank = rank;
  state_->size = size;
  g_current.store(this);
  state_->thread = std::thread([s = state_.get()] { s->loop(); });
}

Watchdog::~Watchdog() {
  fs::path dir;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    dir = state_->heartbeat_dir;
  }
  state_->wake.notify_all();
  state_->thread.join();
  g_current.store(nullptr);
  if (!dir.empty()) {
    std::error_code ec;
    fs::remove(heartbeat_path(dir, state_->rank), ec);
  }
}

Watchdog* Watchdog::current() {
  return g_current.load();
}

void Watchdog::configure(const HangSettings& settings) {
  if (!settings.heartbeat_dir.empty()) {
    std::error_code ec;
    fs::create_directories(settings.heartbeat_dir, ec);
  }
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->explicit_timeout = settings.timeout_s;
  state_->heartbeat_dir = settings.heartbeat_dir;
}

void Watchdog::measured(double step_seconds, double commit_seconds) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->step_seconds = std::max(state_->step_seconds, step_seconds);
  state_->commit_seconds = std::max(state_->commit_seconds, commit_seconds);
  state_->measured = true;
}

double Watchdog::timeout() const {
  return state_->timeout();
}

}  // namespace stormrun::runtime
