// Writer killed mid-run, for crash_check.py (run under mpirun):
//   output_crash_writer PATH fresh K    create PATH, write and flush steps 0..K (every field
//                                       and statistic of the test layout), write field h of
//                                       step K+1 without flushing, then rank 0 SIGKILLs itself
//   output_crash_writer PATH resume K   open_existing(PATH) and write steps K+1..end, close
// A step is one (start time t, lead l), numbered t*nlead + l; values as in
// output_test_support.hpp.
#include <mpi.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "io/output_test_support.hpp"
#include "stormrun/io/output.hpp"

using namespace stormrun::io;
using stormrun_test::member_rows;
using stormrun_test::statistic_rows;

namespace {

int rank = 0;
int size = 1;

std::vector<std::int64_t> my_members(std::int64_t nensemble, std::int64_t step) {
  std::vector<std::int64_t> mine;
  for (std::int64_t m = 0; m < nensemble; ++m)
    if ((m + step) % size == rank) mine.push_back(m);
  return mine;
}

void write_field(OutputFile& out, int f, std::int64_t t, std::int64_t l) {
  const OutputLayout& layout = out.layout();
  const std::vector<std::int64_t> members = my_members(layout.nensemble, t * layout.nlead + l);
  out.write_members(layout.fields[std::size_t(f)].name, t, l, members,
                    member_rows(layout.grid, f, members, t, l));
}

void write_step(OutputFile& out, std::int64_t step) {
  const OutputLayout& layout = out.layout();
  const std::int64_t t = step / layout.nlead;
  const std::int64_t l = step % layout.nlead;
  for (int f = 0; f < int(layout.fields.size()); ++f) {
    write_field(out, f, t, l);
    for (int s = 0; s < int(layout.statistics.size()); ++s) {
      const bool mine = (step + f + s) % size == rank;
      out.write_statistic(layout.fields[std::size_t(f)].name, layout.statistics[std::size_t(s)], t,
                          l,
                          mine ? statistic_rows(layout.grid, f, s, t, l) : std::vector<double>());
    }
  }
}

int run(const std::string& path, const std::string& mode, std::int64_t k) {
  const OutputLayout layout = stormrun_test::test_layout();
  const std::int64_t steps = std::int64_t(layout.times.size()) * layout.nlead;
  if (k < 0 || k + 1 >= steps) {
    std::cerr << "K must be in 0.." << steps - 2 << "\n";
    return 2;
  }
  if (mode == "fresh") {
    OutputFile out = OutputFile::create(MPI_COMM_WORLD, path, layout, false);
    for (std::int64_t step = 0; step <= k; ++step) {
      write_step(out, step);
      out.flush();
    }
    write_field(out, 0, (k + 1) / layout.nlead, (k + 1) % layout.nlead);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) std::raise(SIGKILL);
    MPI_Barrier(MPI_COMM_WORLD);  // never returns: mpirun kills this rank too
    return 3;
  }
  if (mode == "resume") {
    OutputFile out = OutputFile::open_existing(MPI_COMM_WORLD, path, layout);
    for (std::int64_t step = k + 1; step < steps; ++step) {
      write_step(out, step);
      out.flush();
    }
    out.close();
    return 0;
  }
  std::cerr << "unknown mode " << mode << " (fresh or resume)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int status = 2;
  if (argc != 4) {
    if (rank == 0) std::cerr << "usage: output_crash_writer PATH fresh|resume K\n";
  } else {
    try {
      status = run(argv[1], argv[2], std::atoll(argv[3]));
    } catch (const std::exception& e) {
      std::cerr << "[rank " << rank << "] " << e.what() << "\n";
      status = 1;
    }
  }
  MPI_Finalize();
  return status;
}
