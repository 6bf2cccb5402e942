// STREAM triad a = b + s·c on every rank at once (each its own arrays, far larger than the
// caches), the memory-bandwidth ceiling of the scaling figures (issue 12, P7): ranks on one
// node share the memory bus, so N ranks rarely move N times the bytes of one.
//   [mpirun -np N] bench_stream [--mib M] [--sweeps S]
// Each sweep starts on a barrier; a rank's figure is its best sweep, the aggregate the
// sum over ranks. Prints "stream: N ranks, per rank X GB/s (slowest), aggregate Y GB/s".
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::size_t mib = 256;
  int sweeps = 10;
  for (int k = 1; k + 1 < argc; k += 2) {
    const std::string arg = argv[k];
    if (arg == "--mib") {
      mib = std::strtoul(argv[k + 1], nullptr, 10);
    } else if (arg == "--sweeps") {
      sweeps = std::atoi(argv[k + 1]);
    } else {
      if (rank == 0) std::fprintf(stderr, "bench_stream: unknown option '%s'\n", arg.c_str());
      MPI_Finalize();
      return 2;
    }
  }
  if (mib < 1 || sweeps < 1) {
    if (rank == 0) std::fprintf(stderr, "bench_stream: --mib and --sweeps must be >= 1\n");
    MPI_Finalize();
    return 2;
  }
  // M MiB over the three arrays.
  const std::size_t n = (mib << 20) / (3 * sizeof(double));
  std::vector<double> a(n, 0.0), b(n, 1.0), c(n, 2.0);
  double best = 1e300;
  for (int s = 0; s <= sweeps; ++s) {  // sweep 0 warms the pages, not counted
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
      a[i] = b[i] + 3.0 * c[i];
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (a[n / 2] != 7.0) {
      std::fprintf(stderr, "bench_stream: rank %d computed a wrong value\n", rank);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (s > 0) best = std::min(best, t);
  }
  const double mine = 3.0 * 8.0 * double(n) / best / 1e9;
  double slowest = 0, aggregate = 0;
  MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
  MPI_Reduce(&mine, &aggregate, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0)
    std::printf("stream: %d ranks, per rank %.3f GB/s (slowest), aggregate %.3f GB/s\n", size,
                slowest, aggregate);
  MPI_Finalize();
  return 0;
}
