// The coordinator's reconcile of a large store, the work a restart does before its first
// step (issue 12, P6): run_detail::coordinate() — list the rank dirs, summarise (verify)
// each one's newest row, gather, decide the restart plan — on one rank, so that this one
// process does what rank 0 and all the readers do together (an upper bound of rank 0's
// share).
//
//   bench_reconcile generate DIR N   writes a VALID store of N rank dirs under DIR: each
//                                    synthetic rank r of N commits one level-2 row through
//                                    the store library, with the run's own writer
//                                    (RestartState, UnitStates record of its one unit at step
//                                    1), plus the global catalog and an output file stand-in
//   bench_reconcile reconcile DIR N  times coordinate() on that store and prints
//                                    "reconcile: N dirs, T s, peak RSS M MiB, resumed U units",
//                                    then rank 0's own share of a restart on N ranks, timed
//                                    apart: its one dir, the parse of the N gathered
//                                    summaries, the decision and its broadcast text
//
// Run each in a fresh process (peak RSS is the process's). Generating on tmpfs (/dev/shm)
// keeps the N commits' fsyncs cheap; the reconcile reads from the page cache either way.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "stormrun/checkpoint.hpp"
#include "stormrun/runtime/runtime.hpp"
#include "stormrun/workflow/ledger.hpp"
#include "workflow/restart_state.hpp"
#include "workflow/run_start.hpp"

namespace fs = std::filesystem;
using namespace stormrun;
using namespace stormrun::workflow;

namespace {

RunConfig config_for(const fs::path& dir, std::int64_t ranks) {
  RunConfig c;
  c.workflow = WorkflowKind::Ensemble;
  c.model = "swe";
  c.initial_condition = "galewsky";
  c.grid = model::Grid::parse("8x16");
  c.start_times = {parse_utc("2026-01-01T00:00:00Z")};
  c.nsteps = 4;
  c.dt_seconds = 3600;
  c.nensemble = ranks;  // one unit per rank
  c.batch_size = 1;
  c.perturbation = "gaussian";
  c.seed = 1;
  c.output_variables = {"h", "u", "v"};
  c.output = dir / "out.h5";
  c.checkpoint_dir = dir / "out.h5.ckpt";
  c.quiet = true;
  c.device = model::DeviceChoice::Cpu;
  return c;
}

double peak_rss_mib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

void generate(const fs::path& dir, int n) {
  const RunConfig config = config_for(dir, n);
  const auto context = run_detail::StartContext::of(config);
  fs::remove_all(dir);
  fs::create_directories(context.root);
  const std::vector<WorkUnit> units = work_units(config);
  RestartPlan fresh;
  for (const WorkUnit& unit : units)
    fresh.units.push_back({unit.index, 0, std::nullopt});
  const std::vector<std::string> variables = {"h", "u", "v"};
  std::vector<double> fields(3 * std::size_t(config.grid.points()));
  for (int r = 0; r < n; ++r) {
    for (std::size_t i = 0; i < fields.size(); ++i)
      fields[i] = double(r) + 1e-3 * double(i);
    Checkpoint checkpoint(CheckpointOptions{.name = config.checkpoint_name,
                                            .path = context.root,
                                            .mode = config.mode,
                                            .flush_interval = config.flush_interval,
                                            .history_size = config.history_size,
                                            .level = 2,
                                            .rank = r,
                                            .world_size = n,
                                            .warn = [](const std::string&) {}});
    const CommitGroup own_rows(r, n);
    RestartState state(checkpoint, own_rows, 2, units, owned_units(config.unit_count(), r, n),
                       fresh, FieldShape{"swe", variables, config.grid}, config.nsteps,
                       context.fingerprint_hash);
    // Step 1 of its unit done, its fields held: a restart resumes it after step 1.
    const std::int64_t index = owned_units(config.unit_count(), r, n).front();
    state.write(1, std::chrono::hours(1), {LiveUnit{index, 1, fields}}, /*row=*/true,
                /*share=*/false);
    state.flush();
  }
  update_global_catalog(context.root, [&](GlobalCatalog& c) {
    c.fingerprint = context.fingerprint;
    c.fingerprint_hash = context.fingerprint_hash;
    c.output = context.output.string();
    c.output_from_store = output_from_store(context.root, context.output);
    c.output_state = "ready";
    c.status = "stopped";
  });
  std::ofstream(context.output) << "stand-in: the reconcile does not open the output\n";
  std::printf("generate: %d rank dirs under %s\n", n, context.root.c_str());
}

int reconcile(const fs::path& dir, int n, runtime::Runtime& rt) {
  const RunConfig config = config_for(dir, n);
  const auto context = run_detail::StartContext::of(config);
  const double rss_before = peak_rss_mib();
  const auto t0 = std::chrono::steady_clock::now();
  const run_detail::Decision decision = run_detail::coordinate(config, context, rt);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::int64_t resumed = 0;
  for (const UnitPlan& unit : decision.plan.units)
    if (unit.first_step == 2 && unit.source) ++resumed;
  if (decision.exit_code != 0 || resumed != n) {
    std::fprintf(stderr,
                 "bench_reconcile: the store did not reconcile (exit %d, %lld of %d units "
                 "resumed): %s\n",
                 decision.exit_code, static_cast<long long>(resumed), n, decision.message.c_str());
    return 1;
  }
  // Rank 0's own share on a restart on N ranks, measured apart: every dir summarised as
  // its reader would (list, summarise, the JSON the reader sends: S for all N), then what
  // rank 0 alone does with the gathered texts (parse, sort, decide: D) and the decision's
  // broadcast text (B). Its share: S/N (its own dir) + D + B.
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  const auto t1 = Clock::now();
  std::vector<std::string> gathered;
  for (const fs::path& rank_dir : list_rank_dirs(context.root)) {
    const nlohmann::json mine =
        nlohmann::json::array({{{"summary", summarise_rank_dir(rank_dir).to_json()}}});
    gathered.push_back(mine.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  const double readers = since(t1);
  if (gathered.size() != std::size_t(n)) {
    std::fprintf(stderr, "bench_reconcile: %zu rank dirs listed, expected %d\n", gathered.size(),
                 n);
    return 1;
  }
  const auto t2 = Clock::now();
  const run_detail::Decision again = run_detail::decide_gathered(config, context, gathered);
  const double decide = since(t2);
  const auto t3 = Clock::now();
  const auto sent = run_detail::Decision::from_json(nlohmann::json::parse(
      again.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  const double broadcast = since(t3);
  if (again.exit_code != 0 || sent.plan.units.size() != std::size_t(n)) {
    std::fprintf(stderr, "bench_reconcile: rank 0's decision differs: %s\n", again.message.c_str());
    return 1;
  }
  std::printf(
      "reconcile: %d dirs, %.4f s, peak RSS %.1f MiB (%.1f MiB before), resumed %lld "
      "units\n",
      n, seconds, peak_rss_mib(), rss_before, static_cast<long long>(resumed));
  std::printf(
      "readers (all dirs) %.4f s, rank 0 decides %.4f s, broadcast text %.4f s; "
      "rank 0's share on %d ranks: %.4f s\n",
      readers, decide, broadcast, n, readers / double(n) + decide + broadcast);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  runtime::MpiSession mpi(&argc, &argv);
  if (argc != 4 || (std::string(argv[1]) != "generate" && std::string(argv[1]) != "reconcile")) {
    std::fprintf(stderr, "usage: bench_reconcile generate|reconcile DIR N\n");
    return 2;
  }
  const fs::path dir = fs::absolute(argv[2]);
  const int n = std::atoi(argv[3]);
  if (n < 1) {
    std::fprintf(stderr, "bench_reconcile: N must be >= 1, got '%s'\n", argv[3]);
    return 2;
  }
  try {
    runtime::Runtime rt(MPI_COMM_WORLD, model::DeviceChoice::Cpu, true);
    if (rt.size() != 1) throw std::runtime_error("run it on one rank");
    if (std::string(argv[1]) == "generate") {
      generate(dir, n);
      return 0;
    }
    return reconcile(dir, n, rt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_reconcile: %s\n", e.what());
    return 1;
  }
}
