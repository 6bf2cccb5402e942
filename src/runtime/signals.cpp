// Stop signals (signals.hpp): an async-signal-safe flag, installed once per process and
// read at every agreement point and step boundary.
#include "stormrun/runtime/signals.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace stormrun::runtime {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_first_signal = 0;
// Lock-free atomics are async-signal-safe; the arrival times are CLOCK_REALTIME seconds
// (clock_gettime is async-signal-safe) in milliseconds.
std::atomic<int> g_signal_count{0};
std::atomic<long long> g_first_ms{0};
std::atomic<long long> g_last_ms{0};
std::atomic<long> g_last_sender{0};
std::atomic<bool> g_installed{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<long long>::is_always_lock_free);

long long realtime_ms() {
  struct timespec now = {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

extern "C" void on_stop_signal(int signal, siginfo_t* info, void*) {
  const int saved_errno = errno;
  g_last_sender = info ? long(info->si_pid) : 0;
  const long long now = realtime_ms();
  if (g_signal_count.fetch_add(1) == 0) {
    g_first_signal = signal;
    g_first_ms = now;
  }
  g_last_ms = now;
  g_stop_signal = signal;
  errno = saved_errno;
}

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

}  // namespace

void StopSignals::install() {
  if (g_installed.exchange(true)) return;
  struct sigaction action = {};
  action.sa_sigaction = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : kStopSignals)
    sigaddset(&action.sa_mask, signal);  // one handler at a time
  action.sa_flags = SA_RESTART | SA_SIGINFO;
  for (int signal : kStopSignals)
    ::sigaction(signal, &action, nullptr);
}

int StopSignals::received() {
  return static_cast<int>(g_stop_signal);
}

int StopSignals::count() {
  return g_signal_count.load();
}

int StopSignals::first() {
  return static_cast<int>(g_first_signal);
}

double StopSignals::first_arrival() {
  return double(g_first_ms.load()) / 1000.0;
}

long StopSignals::last_sender() {
  return g_last_sender.load();
}

double StopSignals::last_arrival() {
  return double(g_last_ms.load()) / 1000.0;
}

std::string StopSignals::name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "signal " + std::to_string(signal);
  }
}

int rank_from_environment() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 0;
}

void test_pause(const std::string& point, int rank) {
  static bool paused = false;  // once per process: a point may be reached twice
  const char* spec = std::getenv("STORMRUN_TEST_PAUSE_AT");
  if (paused || !spec) return;
  const std::string text = spec;
  const auto colon = text.find(':');
  if (colon == std::string::npos || text.substr(0, colon) != point) return;
  std::stringstream ranks(text.substr(colon + 1));
  std::string item;
  bool named = false;
  while (std::getline(ranks, item, ','))
    named = named || item == std::to_string(rank);
  if (!named) return;
  paused = true;
  const char* dir_env = std::getenv("STORMRUN_TEST_PAUSE_DIR");
  const std::filesystem::path dir = dir_env ? dir_env : ".";
  const auto marker = dir / ("paused." + point + "." + std::to_string(rank));
  {
    std::ofstream out(marker.string() + ".tmp");
    out << ::getpid() << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(marker.string() + ".tmp", marker, ec);  // appears complete
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (StopSignals::received() == 0 && !std::filesystem::exists(dir / "go", ec) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace stormrun::runtime
