// What checkpointing costs a whole `stormrun run`: the same forecast (SWE, ensemble with
// Gaussian perturbation, parallel-HDF5 output) timed without a checkpoint and with a
// level-2 commit after every output step (flush interval 1, the default) — and with every
// 4th — in the same process, alternating, so that machine noise hits all sides alike.
// Prints each wall time and the ratios (checkpointed ÷ plain). Not a test: run it by hand,
//   [mpirun -np N] bench_run_overhead [--strong] [--sides plain,every,every4]
//                  [DIR] [GRID] [MEMBERS] [STEPS] [REPEATS] [-- STORMRUN-RUN-OPTIONS...]
// DIR should be on the file system the runs will use (default: $TMPDIR or /tmp). MEMBERS
// are per rank (weak scaling: N ranks run N·MEMBERS members), or in all with --strong
// (N ranks share MEMBERS). Options after "--" are `stormrun run`'s own (e.g. --sync-commits),
// parsed by the same parser as the command line; the environment's STORMRUN_* are ignored.
// The last lines are machine-readable: "result SIDE SECONDS".
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/run_options.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/run.hpp"

namespace fs = std::filesystem;
using namespace stormrun;

namespace {

workflow::RunConfig forecast(const fs::path& dir, const std::string& grid, std::int64_t members,
                             std::int64_t batch, std::int64_t steps,
                             const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--workflow",
                                   "ensemble",
                                   "--model",
                                   "swe",
                                   "--initial-condition",
                                   "galewsky",
                                   "--grid",
                                   grid,
                                   "--start-time",
                                   "2026-01-01T00:00:00Z",
                                   "--nsteps",
                                   std::to_string(steps),
                                   "--dt",
                                   "3600",
                                   "--nensemble",
                                   std::to_string(members),
                                   "--batch-size",
                                   std::to_string(batch),
                                   "--perturbation",
                                   "gaussian",
                                   "--seed",
                                   "1",
                                   "--output",
                                   (dir / "out.h5").string(),
                                   "--checkpoint-dir",
                                   (dir / "out.h5.ckpt").string(),
                                   "--overwrite",
                                   "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::ostringstream out, err;
  app::ParsedRun parsed = app::parse_run_options(args, {}, out, err, app::PathChecks::Skip);
  if (!parsed.config) {
    std::fprintf(stderr, "bench_run_overhead: stormrun run options: %s\n", parsed.error.c_str());
    std::exit(2);
  }
  return *parsed.config;
}

double timed_run(const workflow::RunConfig& config, runtime::Runtime& rt) {
  MPI_Barrier(rt.comm());
  const auto t0 = std::chrono::steady_clock::now();
  const int code = workflow::run(config, rt);
  MPI_Barrier(rt.comm());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (code != 0) {
    std::fprintf(stderr, "bench_run_overhead: run exited %d\n", code);
    std::exit(1);
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  runtime::share_one_malloc_arena();  // as `stormrun run` does
  runtime::MpiSession mpi(&argc, &argv);
  bool strong = false;
  std::vector<std::string> sides = {"plain", "every", "every4"};
  std::vector<std::string> positional, extra;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--") {
      extra.assign(argv + k + 1, argv + argc);
      break;
    }
    if (arg == "--strong") {
      strong = true;
    } else if (arg == "--sides" && k + 1 < argc) {
      sides.clear();
      std::istringstream list(argv[++k]);
      for (std::string side; std::getline(list, side, ',');) {
        if (side != "plain" && side != "every" && side != "every4") {
          std::fprintf(stderr, "bench_run_overhead: --sides: unknown side '%s'\n", side.c_str());
          return 2;
        }
        sides.push_back(side);
      }
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "bench_run_overhead: unknown option '%s' (see the file's header)\n",
                   arg.c_str());
      return 2;
    } else {
      positional.push_back(arg);
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  auto pos = [&](std::size_t i, const std::string& fallback) {
    return i < positional.size() ? positional[i] : fallback;
  };
  const fs::path base = pos(0, tmp ? tmp : "/tmp");
  const std::string grid = pos(1, "64x128");
  const std::int64_t members = std::atoll(pos(2, "4").c_str());
  const std::int64_t steps = std::atoll(pos(3, "8").c_str());
  const int repeats = std::atoi(pos(4, "3").c_str());
  if (members < 1 || steps < 1 || repeats < 1 || sides.empty()) {
    std::fprintf(stderr, "bench_run_overhead: MEMBERS, STEPS, REPEATS must be >= 1\n");
    return 2;
  }
  runtime::Runtime rt(MPI_COMM_WORLD, model::DeviceChoice::Auto, true);
  const fs::path dir = base / "stormrun_bench_run_overhead";
  if (rt.rank() == 0) fs::create_directories(dir);
  MPI_Barrier(rt.comm());

  const std::int64_t total = strong ? members : members * rt.size();
  const std::int64_t batch = std::max<std::int64_t>(1, (total + rt.size() - 1) / rt.size());
  std::vector<std::vector<double>> times(sides.size());
  for (int r = 0; r < repeats; ++r) {
    for (std::size_t s = 0; s < sides.size(); ++s) {
      if (rt.rank() == 0) {
        fs::remove_all(dir / "out.h5.ckpt");
        fs::remove(dir / "out.h5");
      }
      MPI_Barrier(rt.comm());
      workflow::RunConfig config = forecast(dir, grid, total, batch, steps, extra);
      if (sides[s] == "plain") config.checkpoint = false;
      if (sides[s] == "every4") config.flush_interval = 4;
      times[s].push_back(timed_run(config, rt));
    }
  }
  if (rt.rank() == 0) {
    auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
    const double bytes_per_commit =
        double(batch) * 3 * double(model::Grid::parse(grid).points()) * 8;
    std::string options;
    for (const std::string& e : extra)
      options += " " + e;
    std::printf(
        "bench_run_overhead: %d rank(s), grid %s, %lld members (%s), %lld steps, best of %d%s%s\n",
        rt.size(), grid.c_str(), static_cast<long long>(total), strong ? "strong" : "weak",
        static_cast<long long>(steps), repeats,
        options.empty() ? "" : ", options:", options.c_str());
    std::printf("  level-2 state per rank per commit: %.1f MiB\n", bytes_per_commit / 1048576.0);
    const auto plain = std::find(sides.begin(), sides.end(), "plain");
    for (std::size_t s = 0; s < sides.size(); ++s) {
      const char* what = sides[s] == "plain"   ? "no checkpoint"
                         : sides[s] == "every" ? "commit every step"
                                               : "commit every 4th step";
      std::printf("  %-27s %8.3f s", what, best(times[s]));
      if (plain != sides.end() && sides[s] != "plain")
        std::printf("   ratio %.3f",
                    best(times[s]) / best(times[std::size_t(plain - sides.begin())]));
      std::printf("\n");
    }
    for (std::size_t s = 0; s < sides.size(); ++s)
      std::printf("result %s %.6f\n", sides[s].c_str(), best(times[s]));
    std::printf("result state_bytes_per_rank %.0f\n", bytes_per_commit);
    fs::remove_all(dir);
  }
  return 0;
}
