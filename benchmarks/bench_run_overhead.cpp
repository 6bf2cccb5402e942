// What checkpointing costs a whole `stormrun run`: the same forecast (SWE, ensemble with
// Gaussian perturbation, parallel-HDF5 output) timed without a checkpoint and with a
// level-2 commit after every output step (flush interval 1, the default) — and with every
// 4th — in the same process, alternating, so that machine noise hits all sides alike.
// Prints each wall time and the ratios (checkpointed ÷ plain). Not a test: run it by hand,
//   [mpirun -np N] bench_run_overhead [DIR] [GRID] [MEMBERS] [STEPS] [REPEATS]
// DIR should be on the file system the runs will use (default: $TMPDIR or /tmp).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/run.hpp"

namespace fs = std::filesystem;
using namespace stormrun;

namespace {

workflow::RunConfig forecast(const fs::path& dir, const std::string& grid, std::int64_t members,
                             std::int64_t steps) {
  workflow::RunConfig c;
  c.workflow = workflow::WorkflowKind::Ensemble;
  c.model = "swe";
  c.initial_condition = "galewsky";
  c.grid = model::Grid::parse(grid);
  c.start_times = {parse_utc("2026-01-01T00:00:00Z")};
  c.nsteps = steps;
  c.dt_seconds = 3600;
  c.nensemble = members;
  c.batch_size = members;
  c.perturbation = "gaussian";
  c.seed = 1;
  c.output_variables = {"h", "u", "v"};
  c.output = dir / "out.h5";
  c.checkpoint_dir = dir / "out.h5.ckpt";
  c.overwrite = true;
  c.quiet = true;
  c.device = model::DeviceChoice::Auto;
  return c;
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
  runtime::MpiSession mpi(&argc, &argv);
  const char* tmp = std::getenv("TMPDIR");
  const fs::path base = argc > 1 ? fs::path(argv[1]) : fs::path(tmp ? tmp : "/tmp");
  const std::string grid = argc > 2 ? argv[2] : "64x128";
  const std::int64_t members = argc > 3 ? std::atoll(argv[3]) : 4;
  const std::int64_t steps = argc > 4 ? std::atoll(argv[4]) : 8;
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  runtime::Runtime rt(MPI_COMM_WORLD, model::DeviceChoice::Auto, true);
  const fs::path dir = base / "stormrun_bench_run_overhead";
  if (rt.rank() == 0) fs::create_directories(dir);
  MPI_Barrier(rt.comm());

  std::vector<double> plain, every, every4;
  for (int r = 0; r < repeats; ++r) {
    for (int side = 0; side < 3; ++side) {
      if (rt.rank() == 0) {
        fs::remove_all(dir / "out.h5.ckpt");
        fs::remove(dir / "out.h5");
      }
      MPI_Barrier(rt.comm());
      workflow::RunConfig config = forecast(dir, grid, members * rt.size(), steps);
      config.batch_size = members;
      if (side == 0) config.checkpoint = false;
      if (side == 2) config.flush_interval = 4;
      (side == 0 ? plain : side == 1 ? every : every4).push_back(timed_run(config, rt));
    }
  }
  if (rt.rank() == 0) {
    auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
    const double bytes_per_commit =
        double(members) * 3 * double(model::Grid::parse(grid).points()) * 8;
    std::printf(
        "bench_run_overhead: %d rank(s), grid %s, %lld members per rank, %lld steps, "
        "best of %d\n",
        rt.size(), grid.c_str(), static_cast<long long>(members), static_cast<long long>(steps),
        repeats);
    std::printf("  level-2 state per rank per commit: %.1f MiB\n", bytes_per_commit / 1048576.0);
    std::printf("  no checkpoint               %8.3f s\n", best(plain));
    std::printf("  commit every step           %8.3f s   ratio %.3f\n", best(every),
                best(every) / best(plain));
    std::printf("  commit every 4th step       %8.3f s   ratio %.3f\n", best(every4),
                best(every4) / best(plain));
    fs::remove_all(dir);
  }
  return 0;
}
