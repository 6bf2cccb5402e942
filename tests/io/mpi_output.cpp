// MPI test of the parallel-HDF5 output (run with 2 and 3 ranks):
//  - create() builds the file atomically (no "<path>.partial" left), unwritten slabs read NaN;
//  - every (start time, lead) step, ranks write disjoint, non-contiguous member sets, in
//    ascending or descending order, one rank writing nothing at some steps; statistics are
//    written by one rank only; every value reads back exactly, also after open_existing;
//  - a bad request on one rank throws there without hanging the others;
//  - open_existing() with another fingerprint, ensemble size or field list throws
//    OutputMismatch naming each difference and leaves the file byte-identical;
//  - create() on an existing path throws without replace (file untouched) and replaces it
//    with replace; a stale "<path>.partial" is removed;
//  - xarray (engine h5netcdf) opens the file with the right dims, coords, attrs and values
//    (check_output.py, run by rank 0 with the system python).
#include <mpi.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "io/output_test_support.hpp"
#include "stormrun/io/output.hpp"
#include "support/mpi_harness.hpp"

using namespace stormrun;
using namespace stormrun::io;
using stormrun_test::member_rows;
using stormrun_test::member_value;
using stormrun_test::statistic_rows;
using stormrun_test::statistic_value;
using stormrun_test::test_layout;
namespace fs = std::filesystem;

namespace {

int failures = 0;
int rank = 0;
int size = 1;

void expect(bool ok, const std::string& what) {
  if (ok) return;
  ++failures;
  std::cerr << "[rank " << rank << "] FAILED: " << what << "\n";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The members this rank writes at step s = t*nlead + l: member m goes to rank (m+s) % size
/// (non-contiguous sets); at every third step the last rank gets nothing (rank 0 takes its
/// members); at odd steps the members are passed in descending order.
std::vector<std::int64_t> my_members(std::int64_t nensemble, std::int64_t step) {
  std::vector<std::int64_t> mine;
  for (std::int64_t m = 0; m < nensemble; ++m) {
    int owner = int((m + step) % size);
    if (step % 3 == 0 && owner == size - 1 && size > 1) owner = 0;
    if (owner == rank) mine.push_back(m);
  }
  if (step % 2 == 1) std::reverse(mine.begin(), mine.end());
  return mine;
}

void write_everything(OutputFile& out) {
  const OutputLayout& layout = out.layout();
  const auto ntime = std::int64_t(layout.times.size());
  for (std::int64_t t = 0; t < ntime; ++t)
    for (std::int64_t l = 0; l < layout.nlead; ++l) {
      const std::int64_t step = t * layout.nlead + l;
      const std::vector<std::int64_t> members = my_members(layout.nensemble, step);
      for (int f = 0; f < int(layout.fields.size()); ++f) {
        out.write_members(layout.fields[std::size_t(f)].name, t, l, members,
                          member_rows(layout.grid, f, members, t, l));
        for (int s = 0; s < int(layout.statistics.size()); ++s) {
          // Exactly one rank has each statistic, a different one from step to step.
          const bool mine = (step + f + s) % size == rank;
          const std::vector<double> rows =
              mine ? statistic_rows(layout.grid, f, s, t, l) : std::vector<double>();
          out.write_statistic(layout.fields[std::size_t(f)].name, layout.statistics[std::size_t(s)],
                              t, l, rows);
        }
      }
      // Every kind of flush in turn: a deferred fsync (asynchronous commits), its agreement
      // then another one, and a synchronous flush that takes the one still pending; the
      // last step's may be left pending for close() to take. The checks below read it all.
      if (step % 3 == 1) {
        out.flush_deferred();
      } else if (step % 3 == 2) {
        out.confirm_durable();
        out.flush_deferred();
      } else {
        out.flush();
      }
    }
}

/// Every member value through read_members (members asked in a scrambled order, one twice).
void check_members(OutputFile& out, const std::string& when) {
  const OutputLayout& layout = out.layout();
  std::vector<std::int64_t> asked = {3, 0, 4, 1, 2, 3};
  asked.resize(std::min<std::size_t>(asked.size(), std::size_t(layout.nensemble) + 1));
  int wrong = 0;
  for (std::int64_t t = 0; t < std::int64_t(layout.times.size()); ++t)
    for (std::int64_t l = 0; l < layout.nlead; ++l)
      for (int f = 0; f < int(layout.fields.size()); ++f) {
        const std::vector<double> got =
            out.read_members(layout.fields[std::size_t(f)].name, t, l, asked);
        if (got != member_rows(layout.grid, f, asked, t, l)) ++wrong;
      }
  expect(wrong == 0, when + ": " + std::to_string(wrong) + " member slabs read back wrong");
}

/// Requests that are wrong on one rank or on all; the statistics written by single ranks
/// have no read-back API and are checked by check_output.py.
void check_bad_requests(OutputFile& out) {
  const OutputLayout& layout = out.layout();
  // A bad member on rank 0 only: the others still take part in the collective write, and
  // the outcome is agreed: every rank throws CollectiveOutputError at this call (none is
  // left inside a later collective), rank 0 naming the member and the field, the others
  // saying it failed elsewhere.
  {
    std::vector<std::int64_t> members =
        rank == 0 ? std::vector<std::int64_t>{layout.nensemble + 4} : std::vector<std::int64_t>{};
    std::vector<double> rows(members.size() * std::size_t(layout.grid.points()), 1.0);
    bool threw = false;
    bool here = false;
    try {
      out.write_members("h", 0, 0, members, rows);
    } catch (const CollectiveOutputError& e) {
      threw = true;
      here = e.failed_here();
      if (rank == 0)
        expect(contains(e.what(), "member index " + std::to_string(layout.nensemble + 4)) &&
                   contains(e.what(), "h"),
               std::string("bad member message names field and index: ") + e.what());
      else
        expect(contains(e.what(), "another rank"),
               std::string("the other ranks hear that another rank failed: ") + e.what());
    }
    expect(threw, "every rank throws when one rank's member index is bad");
    expect(here == (rank == 0), "only the rank with the bad member index failed here");
  }
  // Wrong data size and a repeated member, on every rank.
  {
    const std::vector<std::int64_t> members = {0};
    std::vector<double> rows(5, 1.0);
    bool threw = false;
    try {
      out.write_members("u", 0, 0, members, rows);
    } catch (const OutputError& e) {
      threw = contains(e.what(), "data holds 5 values, need 128");
    }
    expect(threw, "a wrong data size throws naming the sizes");
    const std::vector<std::int64_t> twice = {1, 0, 1};
    const std::vector<double> three = member_rows(layout.grid, 1, twice, 0, 0);
    threw = false;
    try {
      out.write_members("u", 0, 0, twice, three);
    } catch (const OutputError& e) {
      threw = contains(e.what(), "member 1 appears twice");
    }
    expect(threw, "a repeated member throws");
  }
  // Indices and names that are wrong on all ranks alike.
  bool threw = false;
  try {
    out.write_members("h", std::int64_t(layout.times.size()), 0, {}, {});
  } catch (const OutputError& e) {
    threw = contains(e.what(), "time_index 2");
  }
  expect(threw, "a time index out of range throws naming it");
  threw = false;
  try {
    out.write_statistic("h", "median", 0, 0, {});
  } catch (const OutputError& e) {
    threw = contains(e.what(), "h_median");
  }
  expect(threw, "an unknown statistic throws naming its dataset");
  threw = false;
  try {
    (void)out.read_members("h", 0, layout.nlead, std::vector<std::int64_t>{0});
  } catch (const OutputError& e) {
    threw = contains(e.what(), "lead_index 4");
  }
  expect(threw, "read_members with a lead index out of range throws naming it");
}

/// open_existing with `layout` must throw OutputMismatch mentioning each of `parts` and must
/// leave the file's bytes as they were.
void expect_mismatch(const fs::path& path, const OutputLayout& layout,
                     const std::vector<std::string>& parts, const std::string& what) {
  std::string before;
  if (rank == 0) before = file_bytes(path);
  MPI_Barrier(MPI_COMM_WORLD);
  bool mismatch = false;
  try {
    OutputFile out = OutputFile::open_existing(MPI_COMM_WORLD, path, layout);
  } catch (const OutputMismatch& e) {
    mismatch = true;
    for (const std::string& part : parts)
      expect(contains(e.what(), part), what + ": message lacks '" + part + "': " + e.what());
  } catch (const std::exception& e) {
    expect(false, what + ": unexpected " + e.what());
  }
  expect(mismatch, what + ": OutputMismatch thrown");
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) expect(file_bytes(path) == before, what + ": the file is left byte-identical");
}

void run_python_check(const fs::path& path) {
  if (rank != 0) return;
  const std::string command = std::string(STORMRUN_SYSTEM_PYTHON) + " " + STORMRUN_IO_TEST_DIR +
                              "/check_output.py xarray '" + path.string() + "'";
  const int status = std::system(command.c_str());
  expect(status == 0, "xarray/h5netcdf check of the file (" + command + ")");
}

void run_check(const fs::path& dir) {
  const OutputLayout layout = test_layout();
  const fs::path path = dir / "forecast.h5";
  {
    OutputFile out = OutputFile::create(MPI_COMM_WORLD, path, layout, false);
    expect(fs::exists(path), "create() leaves the file at its path");
    expect(!fs::exists(fs::path(path.string() + ".partial")), "no .partial after create()");
    const std::vector<double> unwritten = out.read_members("h", 1, 3, std::vector<std::int64_t>{4});
    bool all_nan = true;
    for (double v : unwritten)
      all_nan = all_nan && std::isnan(v);
    expect(all_nan, "an unwritten slab reads NaN (fill value written at allocation)");
    write_everything(out);
    check_members(out, "after writing");
    check_bad_requests(out);
    check_members(out, "after the bad requests");  // the failed writes wrote nothing
    out.close();
    bool threw = false;
    try {
      out.flush();
    } catch (const OutputError&) {
      threw = true;
    }
    expect(threw, "flush() after close() throws");
  }
  MPI_Barrier(MPI_COMM_WORLD);

  if (rank == 0) {
    const auto [hash, json] = OutputFile::read_fingerprint(path);
    expect(hash == layout.fingerprint_hash, "read_fingerprint: hash");
    expect(json == layout.fingerprint_json, "read_fingerprint: json");
  }

  // Resume: reopen, check everything, rewrite one step with the same values.
  {
    OutputFile out = OutputFile::open_existing(MPI_COMM_WORLD, path, layout);
    check_members(out, "after open_existing");
    const std::vector<std::int64_t> members = my_members(layout.nensemble, 5);
    out.write_members("u", 1, 1, members, member_rows(layout.grid, 1, members, 1, 1));
    check_members(out, "after rewriting a step");
  }  // the destructor flushes and closes
  MPI_Barrier(MPI_COMM_WORLD);
  run_python_check(path);

  OutputLayout other_fingerprint = layout;
  other_fingerprint.fingerprint_hash = "ffff000011112222";
  other_fingerprint.fingerprint_json = R"({"model":"swe","seed":8,"grid":"8x16"})";
  expect_mismatch(path, other_fingerprint,
                  {"fingerprint: file a1b2c3d4e5f60718, this run ffff000011112222",
                   "setting /seed: file 7, this run 8"},
                  "other fingerprint");
  OutputLayout other_shape = layout;
  other_shape.nensemble = 6;
  expect_mismatch(path, other_shape,
                  {"dataset h: shape (5, 2, 4, 8, 16) in the file, (6, 2, 4, 8, 16) for this run",
                   "dataset u: shape", "coordinate ensemble: shape (5) in the file, (6)"},
                  "other ensemble size");
  OutputLayout other_fields = layout;
  other_fields.fields.push_back({"v", "m s-1", "northward velocity"});
  other_fields.times[1] += std::chrono::hours(6);
  expect_mismatch(path, other_fields,
                  {"dataset v: missing in the file", "dataset v_mean: missing in the file",
                   "coordinate time[1]: file 2024-01-01T12:00:00"},
                  "an extra field and another start time");
  OutputLayout fewer_fields = layout;
  fewer_fields.fields.pop_back();
  expect_mismatch(path, fewer_fields, {"dataset u: in the file but not in this run's layout"},
                  "a field fewer");

  // Not an HDF5 file at all: OutputError, not a mismatch.
  const fs::path text_file = dir / "notes.h5";
  if (rank == 0) std::ofstream(text_file) << "not hdf5\n";
  MPI_Barrier(MPI_COMM_WORLD);
  bool plain_error = false;
  try {
    OutputFile out = OutputFile::open_existing(MPI_COMM_WORLD, text_file, layout);
  } catch (const OutputMismatch&) {
  } catch (const OutputError& e) {
    plain_error = contains(e.what(), text_file.string()) && contains(e.what(), "not an HDF5");
  }
  expect(plain_error, "open_existing on a text file throws OutputError naming it");

  // create() on an existing path: refused without replace (file untouched), done with it.
  std::string before;
  if (rank == 0) before = file_bytes(path);
  bool refused = false;
  try {
    OutputFile out = OutputFile::create(MPI_COMM_WORLD, path, layout, false);
  } catch (const OutputError& e) {
    refused = contains(e.what(), path.string()) && contains(e.what(), "already exists");
  }
  expect(refused, "create() on an existing path without replace throws naming it");
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) expect(file_bytes(path) == before, "refused create() leaves the file untouched");

  // A stale partial from a killed creation is replaced; replace=true swaps the file.
  if (rank == 0) std::ofstream(path.string() + ".partial") << "stale\n";
  MPI_Barrier(MPI_COMM_WORLD);
  {
    OutputLayout second = layout;
    second.fingerprint_hash = "5555666677778888";
    second.nensemble = 3;
    OutputFile out = OutputFile::create(MPI_COMM_WORLD, path, second, true);
    expect(!fs::exists(fs::path(path.string() + ".partial")), "no .partial after replace");
    const std::vector<double> unwritten = out.read_members("h", 0, 0, std::vector<std::int64_t>{0});
    expect(std::isnan(unwritten[0]), "the replaced file starts empty (NaN)");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    expect(OutputFile::read_fingerprint(path).first == "5555666677778888",
           "create(replace) replaced the file");
    bool threw = false;
    try {
      OutputFile::read_fingerprint(dir / "missing.h5");
    } catch (const OutputError& e) {
      threw = contains(e.what(), "missing.h5");
    }
    expect(threw, "read_fingerprint of a missing file throws naming it");
  }
}

}  // namespace

int main(int argc, char** argv) {
  return stormrun_test_support::run_mpi_test(argc, argv, "output",
                                             [](stormrun_test_support::MpiCheck& check) {
                                               rank = check.rank;
                                               size = check.size;
                                               run_check(check.dir);
                                               check.failures += failures;
                                             });
}
