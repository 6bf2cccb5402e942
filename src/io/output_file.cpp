// OutputFile: the shared forecast output written through parallel HDF5 (DESIGN.md §5).
// Creation is atomic (built as "<path>.partial", flushed, renamed); afterwards only raw
// hyperslab writes touch the file, so a kill leaves every flushed step readable
// (reference/phdf5-crash-safety.md).
#include "stormrun/io/output.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <system_error>
#include <unordered_map>

#include "checkpoint/store/durable_io.hpp"
#include "hdf5_handle.hpp"
#include "output_build.hpp"
#include "output_schema.hpp"
#include "stormrun/bits/background_worker.hpp"
#include "stormrun/bits/text.hpp"
#include "stormrun/store.hpp"
#include "stormrun/test_kill.hpp"

namespace stormrun::io {
namespace {

namespace fs = std::filesystem;

/// Outcome of a step only rank 0 performs (file-system checks, rename), shared with all
/// ranks so that every rank throws the same error instead of some waiting forever.
enum class Outcome : int { Ok = 0, Error = 1, Mismatch = 2 };

void share_outcome(MPI_Comm comm, Outcome& outcome, std::string& message) {
  int header[2] = {static_cast<int>(outcome), static_cast<int>(message.size())};
  MPI_Bcast(header, 2, MPI_INT, 0, comm);
  outcome = static_cast<Outcome>(header[0]);
  message.resize(std::size_t(header[1]));
  if (header[1] > 0) MPI_Bcast(message.data(), header[1], MPI_CHAR, 0, comm);
  if (outcome == Outcome::Error) throw OutputError(message);
  if (outcome == Outcome::Mismatch) throw OutputMismatch(message);
}

int rank_of(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

Hid mpio_fapl(MPI_Comm comm, const fs::path& path) {
  Hid fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "/", "H5Pcreate(fapl)");
  checked(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), path, "/", "H5Pset_fapl_mpio");
  return fapl;
}

/// Serial read-only access (one process, no communicator). File locking is used where the
/// file system supports it and skipped where it does not (many parallel file systems).
Hid serial_read_fapl(const fs::path& path) {
  Hid fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "/", "H5Pcreate(fapl)");
  checked(H5Pset_file_locking(fapl.get(), true, true), path, "/", "H5Pset_file_locking");
  return fapl;
}

Hid open_serial_read_only(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw OutputError("output file " + path.string() + " does not exist or is not a regular file");
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 <= 0) {
    take_hdf5_error_text();
    throw OutputError("output file " + path.string() +
                      " is not an HDF5 file (so not a stormrun output); move it away or choose "
                      "another output path");
  }
  Hid fapl = serial_read_fapl(path);
  return checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, path, "/",
                 "open read-only");
}

/// After a failed write or flush: how much room the file's file system has left, since
/// HDF5's error stack names the failed driver call but not errno (a full disk looks like
/// any other write error there).
std::string free_space_note(const fs::path& path) {
  std::error_code ec;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::space_info space = fs::space(dir, ec);
  if (ec || space.capacity == 0) return {};
  constexpr double kMiB = 1024.0 * 1024.0;
  return "; " + dir.string() + " has " +
         text::number_text(std::floor(double(space.available) / kMiB * 10) / 10) + " MiB free" +
         (space.available < std::uintmax_t{1} << 20 ? " (is the disk full?)" : "");
}

/// Test-only fault point, as runtime::injected_fault (docs/architecture.md): when
/// STORMRUN_TEST_STARTUP_FAULT is "<point>:<rank>[,<rank>...]" naming `point` and this
/// rank, the error text of an injected failure of this rank's part of a collective
/// operation (its real part done), else empty. Points: output-write (write_members),
/// output-flush, output-close.
std::string injected_output_fault(const char* point, MPI_Comm comm, const fs::path& path) {
  const char* spec = std::getenv("STORMRUN_TEST_STARTUP_FAULT");
  if (!spec) return {};
  const std::string text = spec;
  const auto colon = text.find(':');
  if (colon == std::string::npos || text.substr(0, colon) != point) return {};
  const std::string me = std::to_string(rank_of(comm));
  std::size_t begin = colon + 1;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    if (text.substr(begin, end - begin) == me)
      return std::string("test fault injected at '") + point + "' (output file " + path.string() +
             ")";
    begin = end + 1;
  }
  return {};
}

/// The dummy buffer a rank with nothing to write hands to H5Dwrite (never dereferenced).
const double kNothing = 0.0;

}  // namespace

struct OutputFile::Impl {
  struct Dataset {
    Hid dset;
    Hid file_space;  ///< reused: its selection is rebuilt on every call
  };

  fs::path path;
  MPI_Comm comm = MPI_COMM_NULL;  ///< the caller's: it outlives the file
  OutputLayout layout;
  std::int64_t points = 0;  ///< nlat * nlon
  // Declared before the datasets: members are destroyed in reverse order, and with the
  // MPI-IO driver H5Fclose refuses while datasets are still open.
  Hid file;
  Hid collective_dxpl;
  std::unordered_map<std::string, Dataset> datasets;
  Hid memory_space;  ///< 1-D, memory_space_size doubles, all selected
  hsize_t memory_space_size = 0;
  Hid empty_space;                 ///< 1 element, none selected: a rank with nothing to do
  std::vector<double> staging;     ///< rows in ascending member order, reused
  std::vector<std::size_t> order;  ///< permutation sorting the caller's members
  bool open = false;

  // The evidence (/stormrun/step_checksum): each (member, time, lead) this rank writes
  // collects one digest per per-member field; once it has all of them its checksum waits
  // in `ready` for the next flush, which writes it before the file is flushed.
  using StepKey = std::array<std::int64_t, 3>;  ///< member, time index, lead index
  struct PendingStep {
    std::vector<std::uint64_t> digests;  ///< per field, layout order
    std::vector<bool> have;
    std::size_t count = 0;
  };
  bool has_checksums = false;  ///< false for a format-1 file, which has no such dataset
  Dataset checksums;
  std::unordered_map<std::string, std::size_t> field_index;
  std::map<StepKey, PendingStep> pending;
  std::map<StepKey, std::uint64_t> ready;  ///< ascending: the file selection's order

  // The deferred fsync (flush_deferred): this rank's fsync of the file on a thread of its
  // own, through a descriptor of its own (fsync makes the file's data durable whichever
  // descriptor it is called on). `sync_error` is written by that thread and read after
  // syncer->wait().
  std::unique_ptr<detail::BackgroundWorker> syncer;
  int sync_fd = -1;
  bool sync_pending = false;
  std::string sync_error;
  /// Local: waits for the deferred fsync, if one is pending; its error text (empty: fine).
  std::string take_deferred();
  /// Collective: take_deferred(), then the step checksums' write (every rank takes part);
  /// the first error text of the two (empty: fine), for the caller to agree on.
  std::string deferred_then_checksums();
  ~Impl() {
    syncer.reset();  // joins a deferred fsync still running
    if (sync_fd >= 0) ::close(sync_fd);
  }

  /// Local. `rows` (ascending `members`) of `field` at (time, lead) are in the file.
  void record_written(const std::string& field, std::int64_t time_index, std::int64_t lead_index,
                      std::span<const std::int64_t> members, std::span<const double> rows);
  /// Collective: the ready checksums into /stormrun/step_checksum (every rank takes part).
  void write_checksums();

  static std::unique_ptr<Impl> open_read_write(MPI_Comm comm, const fs::path& path,
                                               const OutputLayout& layout);

  void require_open(const char* operation) const {
    if (!open)
      throw OutputError("output file " + path.string() + ": " + operation +
                        " after close(); the file is closed");
  }
  Dataset& dataset(const std::string& name, const char* operation) {
    auto it = datasets.find(name);
    if (it == datasets.end())
      throw OutputError("output file " + path.string() + ": " + operation + ": no dataset '" +
                        name + "' in this output's layout");
    return it->second;
  }
  void check_step(const std::string& name, std::int64_t time_index, std::int64_t lead_index,
                  const char* operation) const {
    const auto ntime = std::int64_t(layout.times.size());
    if (time_index < 0 || time_index >= ntime || lead_index < 0 || lead_index >= layout.nlead)
      throw OutputError("output file " + path.string() + ": " + operation + " " + name +
                        ": (time_index " + std::to_string(time_index) + ", lead_index " +
                        std::to_string(lead_index) + ") is outside (0.." +
                        std::to_string(ntime - 1) + ", 0.." + std::to_string(layout.nlead - 1) +
                        ")");
  }
  /// Empty when `members` and `data` are a valid request, else what is wrong.
  std::string check_members(const std::string& name, std::span<const std::int64_t> members,
                            std::size_t data_size, const char* operation) const {
    const std::string where = "output file " + path.string() + ": " + operation + " " + name + ": ";
    for (std::size_t i = 0; i < members.size(); ++i)
      if (members[i] < 0 || members[i] >= layout.nensemble)
        return where + "member index " + std::to_string(members[i]) + " (entry " +
               std::to_string(i) + ") is outside 0.." + std::to_string(layout.nensemble - 1);
    const std::size_t want = members.size() * std::size_t(points);
    if (data_size != want)
      return where + "data holds " + std::to_string(data_size) + " values, need " +
             std::to_string(want) + " (" + std::to_string(members.size()) + " members x " +
             std::to_string(layout.grid.nlat) + "x" + std::to_string(layout.grid.nlon) + ")";
    return {};
  }
  /// Sorts the caller's rows into ascending member order (HDF5 pairs memory and file
  /// elements in ascending order of both selections); returns the rows to write, or an
  /// error text naming a repeated member.
  std::span<const double> rows_in_member_order(std::span<const std::int64_t> members,
                                               std::span<const double> data, std::string& error);
  /// Selects field[members, time, lead, :, :] in the dataset's file space, one hyperslab
  /// per run of consecutive members. `members` ascending.
  void select_members(Dataset& ds, std::span<const std::int64_t> members, std::int64_t time_index,
                      std::int64_t lead_index, const std::string& name);
  hid_t memory_space_for(hsize_t count, const std::string& name);
  /// The collective H5Dwrite of one step; a rank that `writes` nothing selects none but
  /// still takes part, so that no rank is left waiting. Returns this rank's error text
  /// (empty when its part went well); agree() then tells every rank.
  std::string collective_write(Dataset& ds, bool writes, hid_t memory, const void* buffer,
                               const std::string& what, std::int64_t time_index,
                               std::int64_t lead_index);
  /// Collective: the outcome of one collective operation, known to every rank before any
  /// leaves it. `error`: this rank's (empty: fine). Throws CollectiveOutputError on every
  /// rank when any rank failed: the failing ranks with their own text, the others saying
  /// that another rank failed. The next collective of the run then finds every rank on
  /// the same path (a rank that threw alone would leave the others inside HDF5).
  void agree(const std::string& error, const std::string& operation) const;
  std::vector<std::int64_t> sorted_members;
};

std::unique_ptr<OutputFile::Impl> OutputFile::Impl::open_read_write(MPI_Comm comm,
                                                                    const fs::path& path,
                                                                    const OutputLayout& layout) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->comm = comm;
  impl->layout = layout;
  impl->points = layout.grid.points();
  Hid fapl = mpio_fapl(comm, path);
  impl->file = checked(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose, path, "/",
                       "open read-write (MPI-IO)");
  impl->collective_dxpl =
      checked(H5Pcreate(H5P_DATASET_XFER), H5Pclose, path, "/", "H5Pcreate(dxpl)");
  checked(H5Pset_dxpl_mpio(impl->collective_dxpl.get(), H5FD_MPIO_COLLECTIVE), path, "/",
          "H5Pset_dxpl_mpio");
  for (const DataVariable& var : data_variables_of(layout)) {
    const std::string what = "dataset " + var.name;
    Dataset ds;
    ds.dset = checked(H5Dopen2(impl->file.get(), var.name.c_str(), H5P_DEFAULT), H5Dclose, path,
                      what, "open");
    ds.file_space = checked(H5Dget_space(ds.dset.get()), H5Sclose, path, what, "H5Dget_space");
    impl->datasets.emplace(var.name, std::move(ds));
  }
  if (H5Lexists(impl->file.get(), kBookkeepingGroup, H5P_DEFAULT) > 0 &&
      H5Lexists(impl->file.get(), kStepChecksumPath, H5P_DEFAULT) > 0) {
    const std::string what = std::string("dataset ") + kStepChecksumPath;
    impl->checksums.dset = checked(H5Dopen2(impl->file.get(), kStepChecksumPath, H5P_DEFAULT),
                                   H5Dclose, path, what, "open");
    impl->checksums.file_space =
        checked(H5Dget_space(impl->checksums.dset.get()), H5Sclose, path, what, "H5Dget_space");
    impl->has_checksums = true;
  }
  for (std::size_t i = 0; i < layout.fields.size(); ++i)
    impl->field_index.emplace(layout.fields[i].name, i);
  const hsize_t one = 1;
  impl->empty_space = checked(H5Screate_simple(1, &one, nullptr), H5Sclose, path, "/", "H5Screate");
  checked(H5Sselect_none(impl->empty_space.get()), path, "/", "H5Sselect_none");
  impl->open = true;
  return impl;
}

std::span<const double> OutputFile::Impl::rows_in_member_order(
    std::span<const std::int64_t> members, std::span<const double> data, std::string& error) {
  sorted_members.assign(members.begin(), members.end());
  if (std::is_sorted(members.begin(), members.end())) {
    for (std::size_t i = 1; i < members.size(); ++i)
      if (members[i] == members[i - 1]) {
        error = "member " + std::to_string(members[i]) + " appears twice";
        return {};
      }
    return data;  // the common case: rows already in order, no copy
  }
  order.resize(members.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return members[a] < members[b]; });
  const auto row = std::size_t(points);
  staging.resize(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    sorted_members[i] = members[order[i]];
    if (i > 0 && sorted_members[i] == sorted_members[i - 1]) {
      error = "member " + std::to_string(sorted_members[i]) + " appears twice";
      return {};
    }
    std::copy_n(data.begin() + std::ptrdiff_t(order[i] * row), row,
                staging.begin() + std::ptrdiff_t(i * row));
  }
  return staging;
}

void OutputFile::Impl::select_members(Dataset& ds, std::span<const std::int64_t> members,
                                      std::int64_t time_index, std::int64_t lead_index,
                                      const std::string& name) {
  const std::string what = "dataset " + name;
  checked(H5Sselect_none(ds.file_space.get()), path, what, "H5Sselect_none");
  std::size_t i = 0;
  while (i < members.size()) {
    std::size_t run = 1;
    while (i + run < members.size() && members[i + run] == members[i] + std::int64_t(run))
      ++run;
    const hsize_t start[5] = {hsize_t(members[i]), hsize_t(time_index), hsize_t(lead_index), 0, 0};
    const hsize_t count[5] = {hsize_t(run), 1, 1, hsize_t(layout.grid.nlat),
                              hsize_t(layout.grid.nlon)};
    checked(H5Sselect_hyperslab(ds.file_space.get(), H5S_SELECT_OR, start, nullptr, count, nullptr),
            path, what, "select members");
    i += run;
  }
}

std::string OutputFile::Impl::collective_write(Dataset& ds, bool writes, hid_t memory,
                                               const void* buffer, const std::string& what,
                                               std::int64_t time_index, std::int64_t lead_index) {
  try {
    if (!writes) checked(H5Sselect_none(ds.file_space.get()), path, what, "H5Sselect_none");
    test_kill_point("output-before-write");
    clear_errno();
    checked(H5Dwrite(ds.dset.get(), H5T_NATIVE_DOUBLE, memory, ds.file_space.get(),
                     collective_dxpl.get(), buffer),
            path, what,
            "collective write of time_index " + std::to_string(time_index) + ", lead_index " +
                std::to_string(lead_index));
    test_kill_point("output-after-write");
  } catch (const OutputError& e) {
    return e.what() + free_space_note(path);
  }
  return {};
}

void OutputFile::Impl::agree(const std::string& error, const std::string& operation) const {
  int failed_here = error.empty() ? 0 : 1, failed_anywhere = 0;
  MPI_Allreduce(&failed_here, &failed_anywhere, 1, MPI_INT, MPI_MAX, comm);
  if (failed_here) throw CollectiveOutputError(error, true);
  if (failed_anywhere)
    throw CollectiveOutputError(
        "output file " + path.string() + ": " + operation + " failed on another rank", false);
}

void OutputFile::Impl::record_written(const std::string& field, std::int64_t time_index,
                                      std::int64_t lead_index,
                                      std::span<const std::int64_t> members,
                                      std::span<const double> rows) {
  if (!has_checksums) return;
  const auto f = field_index.find(field);
  if (f == field_index.end()) return;
  const std::size_t nfields = layout.fields.size();
  const auto row = std::size_t(points);
  for (std::size_t i = 0; i < members.size(); ++i) {
    const StepKey key{members[i], time_index, lead_index};
    PendingStep& step = pending[key];
    if (step.digests.empty()) {
      step.digests.assign(nfields, 0);
      step.have.assign(nfields, false);
    }
    if (!step.have[f->second]) {
      step.have[f->second] = true;
      ++step.count;
    }
    step.digests[f->second] = slab_digest(rows.subspan(i * row, row));
    if (step.count == nfields) {
      ready[key] = step_checksum(step.digests);
      pending.erase(key);
    }
  }
}

void OutputFile::Impl::write_checksums() {
  if (!has_checksums) return;
  const std::string what = std::string("dataset ") + kStepChecksumPath;
  std::vector<std::uint64_t> values;
  values.reserve(ready.size());
  checked(H5Sselect_none(checksums.file_space.get()), path, what, "H5Sselect_none");
  // One block per run of consecutive lead times of one (member, time): `ready` is ascending,
  // so the values pair with the selection in its (row-major) order.
  for (auto it = ready.begin(); it != ready.end();) {
    const StepKey first = it->first;
    hsize_t run = 0;
    while (it != ready.end() && it->first[0] == first[0] && it->first[1] == first[1] &&
           it->first[2] == first[2] + std::int64_t(run)) {
      values.push_back(it->second);
      ++run;
      ++it;
    }
    const hsize_t start[3] = {hsize_t(first[0]), hsize_t(first[1]), hsize_t(first[2])};
    const hsize_t count[3] = {1, 1, run};
    checked(H5Sselect_hyperslab(checksums.file_space.get(), H5S_SELECT_OR, start, nullptr, count,
                                nullptr),
            path, what, "select steps");
  }
  const bool writes = !values.empty();
  hid_t memory = empty_space.get();
  Hid values_space;
  const void* buffer = &kNothing;
  if (writes) {
    const hsize_t n = values.size();
    values_space =
        checked(H5Screate_simple(1, &n, nullptr), H5Sclose, path, what, "H5Screate(memory)");
    memory = values_space.get();
    buffer = values.data();
  }
  clear_errno();
  checked(H5Dwrite(checksums.dset.get(), H5T_NATIVE_UINT64, memory, checksums.file_space.get(),
                   collective_dxpl.get(), buffer),
          path, what, "collective write of " + std::to_string(values.size()) + " step checksums");
  ready.clear();
}

hid_t OutputFile::Impl::memory_space_for(hsize_t count, const std::string& name) {
  if (!memory_space.valid() || memory_space_size != count) {
    memory_space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, path, "dataset " + name,
                           "H5Screate(memory)");
    memory_space_size = count;
  }
  return memory_space.get();
}

OutputFile::OutputFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutputFile::OutputFile(OutputFile&&) noexcept = default;
OutputFile& OutputFile::operator=(OutputFile&& other) noexcept {
  if (this != &other) {
    OutputFile old(std::move(*this));  // closes the file this object held, if any
    impl_ = std::move(other.impl_);
  }
  return *this;
}

OutputFile::~OutputFile() {
  if (!impl_ || !impl_->open) return;
  try {
    close();
  } catch (...) {
    // A destructor must not throw; the handles are released by their owners regardless.
  }
}

const fs::path& OutputFile::path() const {
  return impl_->path;
}
const OutputLayout& OutputFile::layout() const {
  return impl_->layout;
}

namespace {

// The bytes the early-allocated datasets take (float64): what creating the file writes.
double allocated_bytes(const OutputLayout& layout) {
  const double per_step = double(layout.times.size()) * double(layout.nlead) *
                          double(layout.grid.points()) * double(sizeof(double));
  const double checksums = double(layout.nensemble) * double(layout.times.size()) *
                           double(layout.nlead) * double(sizeof(std::uint64_t));
  return per_step * double(layout.fields.size()) *
             (double(layout.nensemble) + double(layout.statistics.size())) +
         checksums;
}

}  // namespace

OutputFile OutputFile::create(MPI_Comm comm, const fs::path& path, const OutputLayout& layout,
                              bool replace) {
  QuietHdf5Errors quiet;
  validate_layout(layout, path);
  const int rank = rank_of(comm);
  const fs::path partial = fs::path(path.string() + ".partial");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");

  Outcome outcome = Outcome::Ok;
  std::string message;
  if (rank == 0) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      outcome = Outcome::Error;
      message = "output file " + path.string() + ": directory " + dir.string() +
                " does not exist; create it first";
    } else if (fs::exists(path, ec) && !replace) {
      outcome = Outcome::Error;
      message = "output file " + path.string() +
                " already exists; remove it, choose another path, or ask to replace it";
    } else if (fs::remove(partial, ec); ec) {
      outcome = Outcome::Error;
      message = "output file " + path.string() + ": cannot remove the stale " + partial.string() +
                " (" + ec.message() + ")";
    } else if (const fs::space_info space = fs::space(dir, ec);
               // A file system that reports no capacity (some FUSE mounts) is not judged.
               !ec && space.capacity > 0 && allocated_bytes(layout) > double(space.available)) {
      // Every dataset is allocated at creation: a file that cannot fit would fail inside
      // HDF5's collective calls, where a rank that sees the error cannot leave alone.
      constexpr double kMiB = 1024.0 * 1024.0;
      outcome = Outcome::Error;
      message = "output file " + path.string() + " needs " +
                text::number_text(std::ceil(allocated_bytes(layout) / kMiB * 10) / 10) +
                " MiB, but " + dir.string() + " has " +
                text::number_text(std::floor(double(space.available) / kMiB * 10) / 10) +
                " MiB free; free space or write the output elsewhere";
    }
  }
  share_outcome(comm, outcome, message);

  {
    Hid fapl = mpio_fapl(comm, partial);
    Hid file = checked(H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                       partial, "/", "create (MPI-IO)");
    build_output_objects(file.get(), layout, partial, rank);
    // Without this flush a kill leaves no superblock or object headers at all.
    checked(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), partial, "/", "H5Fflush");
    checked(file.reset(), partial, "/", "close");
  }

  if (rank == 0) {
    try {
      fs::rename(partial, path);  // atomic: `path` names the old file or the complete new one
      fsync_dir(dir);
    } catch (const std::exception& e) {
      outcome = Outcome::Error;
      message = "output file " + path.string() + ": cannot rename " + partial.string() +
                " onto it: " + e.what();
    }
  }
  share_outcome(comm, outcome, message);
  return OutputFile(Impl::open_read_write(comm, path, layout));
}

OutputFile OutputFile::open_existing(MPI_Comm comm, const fs::path& path,
                                     const OutputLayout& layout) {
  QuietHdf5Errors quiet;
  validate_layout(layout, path);
  Outcome outcome = Outcome::Ok;
  std::string message;
  // Rank 0 alone checks, through a read-only open, so that a mismatching file is never
  // opened for writing and thousands of ranks do not all read the metadata.
  if (rank_of(comm) == 0) {
    try {
      Hid file = open_serial_read_only(path);
      const std::vector<std::string> differences = layout_differences(file.get(), layout, path);
      checked(file.reset(), path, "/", "close");
      if (!differences.empty()) {
        outcome = Outcome::Mismatch;
        message = "output file " + path.string() +
                  " does not belong to this run, so it cannot be resumed: " +
                  text::join(differences, "; ") +
                  ". Write to another path, or replace the file to start over.";
      }
    } catch (const OutputError& e) {
      outcome = Outcome::Error;
      message = e.what();
    }
  }
  share_outcome(comm, outcome, message);
  return OutputFile(Impl::open_read_write(comm, path, layout));
}

std::pair<std::string, std::string> OutputFile::read_fingerprint(const fs::path& path) {
  QuietHdf5Errors quiet;
  Hid file = open_serial_read_only(path);
  Hid root = checked(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose, path, "/", "open root");
  for (const char* name : {kFingerprintAttribute, kFingerprintJsonAttribute})
    if (H5Aexists(root.get(), name) <= 0)
      throw OutputError("output file " + path.string() + " has no root attribute " + name +
                        ": it is not a stormrun output");
  return {read_string_attribute(root.get(), kFingerprintAttribute, path, "/"),
          read_string_attribute(root.get(), kFingerprintJsonAttribute, path, "/")};
}

void OutputFile::write_members(const std::string& field, std::int64_t time_index,
                               std::int64_t lead_index, std::span<const std::int64_t> members,
                               std::span<const double> data) {
  QuietHdf5Errors quiet;
  Impl& im = *impl_;
  im.require_open("write_members");
  Impl::Dataset& ds = im.dataset(field, "write_members");
  im.check_step(field, time_index, lead_index, "write_members");

  // A bad request on this rank still takes part in the collective write (selecting nothing)
  // and throws afterwards, so the other ranks are not left waiting inside H5Dwrite.
  std::string error = im.check_members(field, members, data.size(), "write_members");
  std::span<const double> rows;
  if (error.empty() && !members.empty()) {
    rows = im.rows_in_member_order(members, data, error);
    if (!error.empty())
      error = "output file " + im.path.string() + ": write_members " + field + ": " + error;
  }
  bool writes = error.empty() && !members.empty();
  hid_t memory = im.empty_space.get();
  const void* buffer = &kNothing;
  const std::string what = "dataset " + field;
  if (writes) {
    try {
      im.select_members(ds, im.sorted_members, time_index, lead_index, field);
      memory = im.memory_space_for(hsize_t(rows.size()), field);
      buffer = rows.data();
    } catch (const OutputError& e) {
      error = e.what();
      writes = false;
      memory = im.empty_space.get();
      buffer = &kNothing;
    }
  }
  std::string failed =
      im.collective_write(ds, writes, memory, buffer, what, time_index, lead_index);
  if (failed.empty()) failed = injected_output_fault("output-write", im.comm, im.path);
  im.agree(error.empty() ? failed : error, "write_members " + field);
  if (writes) im.record_written(field, time_index, lead_index, im.sorted_members, rows);
}

void OutputFile::write_statistic(const std::string& field, const std::string& stat,
                                 std::int64_t time_index, std::int64_t lead_index,
                                 std::span<const double> data) {
  QuietHdf5Errors quiet;
  Impl& im = *impl_;
  im.require_open("write_statistic");
  const std::string name = statistic_dataset_name(field, stat);
  Impl::Dataset& ds = im.dataset(name, "write_statistic");
  im.check_step(name, time_index, lead_index, "write_statistic");

  std::string error;
  if (!data.empty() && data.size() != std::size_t(im.points))
    error = "output file " + im.path.string() + ": write_statistic " + name + ": data holds " +
            std::to_string(data.size()) + " values, need " + std::to_string(im.points) + " (" +
            std::to_string(im.layout.grid.nlat) + "x" + std::to_string(im.layout.grid.nlon) +
            ") or none";
  bool writes = error.empty() && !data.empty();
  const std::string what = "dataset " + name;
  hid_t memory = im.empty_space.get();
  const void* buffer = &kNothing;
  if (writes) {
    try {
      const hsize_t start[4] = {hsize_t(time_index), hsize_t(lead_index), 0, 0};
      const hsize_t count[4] = {1, 1, hsize_t(im.layout.grid.nlat), hsize_t(im.layout.grid.nlon)};
      checked(
          H5Sselect_hyperslab(ds.file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
          im.path, what, "select step");
      memory = im.memory_space_for(hsize_t(im.points), name);
      buffer = data.data();
    } catch (const OutputError& e) {
      error = e.what();
      writes = false;
      memory = im.empty_space.get();
      buffer = &kNothing;
    }
  }
  const std::string failed =
      im.collective_write(ds, writes, memory, buffer, what, time_index, lead_index);
  im.agree(error.empty() ? failed : error, "write_statistic " + name);
}

std::vector<double> OutputFile::read_members(const std::string& field, std::int64_t time_index,
                                             std::int64_t lead_index,
                                             std::span<const std::int64_t> members) {
  QuietHdf5Errors quiet;
  Impl& im = *impl_;
  im.require_open("read_members");
  Impl::Dataset& ds = im.dataset(field, "read_members");
  im.check_step(field, time_index, lead_index, "read_members");
  const std::size_t row = std::size_t(im.points);
  std::vector<double> result(members.size() * row);
  if (const std::string error = im.check_members(field, members, result.size(), "read_members");
      !error.empty())
    throw OutputError(error);
  if (members.empty()) return result;

  // Read in ascending member order into `staging`, then put each row where the caller
  // asked for it (members may repeat here: reading twice is harmless).
  im.order.resize(members.size());
  std::iota(im.order.begin(), im.order.end(), std::size_t(0));
  std::stable_sort(im.order.begin(), im.order.end(),
                   [&](std::size_t a, std::size_t b) { return members[a] < members[b]; });
  im.sorted_members.clear();
  for (std::size_t i : im.order)
    if (im.sorted_members.empty() || im.sorted_members.back() != members[i])
      im.sorted_members.push_back(members[i]);
  im.select_members(ds, im.sorted_members, time_index, lead_index, field);
  im.staging.resize(im.sorted_members.size() * row);
  const hid_t memory = im.memory_space_for(hsize_t(im.staging.size()), field);
  checked(H5Dread(ds.dset.get(), H5T_NATIVE_DOUBLE, memory, ds.file_space.get(), H5P_DEFAULT,
                  im.staging.data()),
          im.path, "dataset " + field,
          "read of time_index " + std::to_string(time_index) + ", lead_index " +
              std::to_string(lead_index));
  std::size_t unique = 0;
  for (std::size_t i = 0; i < im.order.size(); ++i) {
    const std::size_t caller = im.order[i];
    if (i > 0 && members[caller] != members[im.order[i - 1]]) ++unique;
    std::copy_n(im.staging.begin() + std::ptrdiff_t(unique * row), row,
                result.begin() + std::ptrdiff_t(caller * row));
  }
  return result;
}

std::string OutputFile::Impl::take_deferred() {
  if (!sync_pending) return {};
  syncer->wait();
  sync_pending = false;
  return std::exchange(sync_error, {});
}

std::string OutputFile::Impl::deferred_then_checksums() {
  std::string error = take_deferred();  // a deferred fsync's error is the next flush's
  try {
    write_checksums();
  } catch (const OutputError& e) {
    if (error.empty()) error = e.what() + free_space_note(path);
  }
  return error;
}

void OutputFile::flush() {
  QuietHdf5Errors quiet;
  impl_->require_open("flush");
  std::string error = impl_->deferred_then_checksums();
  impl_->agree(error, "flush (step checksums)");
  try {
    test_kill_point("output-before-flush");
    clear_errno();
    checked(H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL), impl_->path, "/", "H5Fflush");
    test_kill_point("output-after-flush");
  } catch (const OutputError& e) {
    error = e.what() + free_space_note(impl_->path);
  }
  if (error.empty()) error = injected_output_fault("output-flush", impl_->comm, impl_->path);
  impl_->agree(error, "flush");
}

void OutputFile::flush_deferred() {
  QuietHdf5Errors quiet;
  Impl& im = *impl_;
  im.require_open("flush_deferred");
  std::string error = im.deferred_then_checksums();
  if (error.empty() && im.sync_fd < 0) {
    im.sync_fd = ::open(im.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (im.sync_fd < 0)
      error = "output file " + im.path.string() + ": cannot open it for its deferred fsync" +
              system_error_note(errno);
  }
  im.agree(error, "flush (step checksums)");
  // Everything this rank wrote is in the kernel now (HDF5 writes raw data through MPI-IO
  // without a cache of its own, and after creation only raw data): an fsync of the file
  // makes it durable, as H5Fflush's MPI_File_sync would.
  if (!im.syncer) im.syncer = std::make_unique<detail::BackgroundWorker>();
  im.sync_pending = true;
  const int fd = im.sync_fd;
  std::string fault = injected_output_fault("output-deferred-fsync", im.comm, im.path);
  const bool skipped = store_detail::fsync_skipped(store_detail::kFsyncOutputDeferred);
  im.syncer->run([&im, fd, skipped, fault = std::move(fault)] {
    if (!skipped && ::fsync(fd) != 0) {
      const int err = errno;
      im.sync_error = "output file " + im.path.string() + ": deferred fsync failed" +
                      system_error_note(err) + free_space_note(im.path);
    } else if (!fault.empty()) {
      im.sync_error = fault;
    }
  });
}

void OutputFile::confirm_durable() {
  Impl& im = *impl_;
  im.require_open("confirm_durable");
  im.agree(im.take_deferred(), "deferred fsync");
}

void OutputFile::close() {
  QuietHdf5Errors quiet;
  Impl& im = *impl_;
  im.require_open("close");
  im.open = false;  // even if the flush fails, the handles below are released
  const std::string deferred_error = im.take_deferred();
  std::string checksum_error;
  try {
    im.write_checksums();
  } catch (const OutputError& e) {
    checksum_error = e.what();
  }
  clear_errno();
  const herr_t flushed = H5Fflush(im.file.get(), H5F_SCOPE_GLOBAL);
  const int flush_errno = errno;
  const std::string flush_error = flushed < 0 ? take_hdf5_error_text() : std::string();
  im.datasets.clear();
  im.checksums = Impl::Dataset{};
  im.memory_space.reset();
  im.empty_space.reset();
  im.collective_dxpl.reset();
  const herr_t closed = im.file.reset();
  std::string error;
  if (flushed < 0) {
    error = "output file " + im.path.string() + ": /: H5Fflush before close failed" +
            (flush_error.empty() ? "" : " (HDF5: " + flush_error + ")") +
            system_error_note(flush_errno) + free_space_note(im.path);
  } else {
    try {
      checked(closed, im.path, "/", "close");
    } catch (const OutputError& e) {
      error = e.what();
    }
  }
  if (error.empty()) error = deferred_error;
  if (error.empty() && !checksum_error.empty()) error = checksum_error + free_space_note(im.path);
  if (error.empty()) error = injected_output_fault("output-close", im.comm, im.path);
  im.agree(error, "close");
}

}  // namespace stormrun::io
