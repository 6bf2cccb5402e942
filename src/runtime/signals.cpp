// Stop signals (signals.hpp): an async-signal-safe flag, read at step boundaries.
#include "stormrun/runtime/signals.hpp"

#include <csignal>

namespace stormrun::runtime {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
  previous_usr1_ = std::signal(SIGUSR1, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGTERM, previous_term_);
  std::signal(SIGUSR1, previous_usr1_);
}

int StopSignals::received() const {
  return static_cast<int>(g_stop_signal);
}

}  // namespace stormrun::runtime
