// The progress line (progress.hpp).
#include "stormrun/runtime/progress.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace stormrun::runtime {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds > 1e15) return "?";  // beyond any clock a run could show
  const long long s = std::llround(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return text;
}

Progress::Progress(bool enabled) : enabled_(enabled), started_(std::chrono::steady_clock::now()) {}

void Progress::restart() {
  started_ = std::chrono::steady_clock::now();
}

std::string Progress::line(const ProgressPoint& p, double elapsed) {
  const double rate = elapsed > 0 ? double(p.steps_this_run) / elapsed : 0.0;
  // Steps left: the rest of this round, then every later round from lead time 0.
  const double remaining =
      double(p.nsteps - p.step) + double(p.nrounds - p.round - 1) * double(p.nsteps + 1);
  char text[256];
  std::snprintf(text, sizeof text,
                "step %lld/%lld  lead +%.4gh  round %lld/%lld  units done %lld/%lld  %.3g steps/s"
                "  eta %s",
                static_cast<long long>(p.step), static_cast<long long>(p.nsteps), p.lead_hours,
                static_cast<long long>(p.round) + 1, static_cast<long long>(p.nrounds),
                static_cast<long long>(p.units_done), static_cast<long long>(p.units_total), rate,
                clock_text(rate > 0 ? remaining / rate : -1).c_str());
  return text;
}

void Progress::print(const ProgressPoint& point) const {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::cout << line(point, elapsed) << std::endl;
}

}  // namespace stormrun::runtime
