// The forecast output: one HDF5 file shared by all ranks, written through parallel HDF5
// (MPI-IO), readable by xarray (`xarray.open_dataset(path, engine="h5netcdf")`), h5py and
// h5dump. DESIGN.md §5; crash safety from reference/phdf5-crash-safety.md.
//
// Layout (docs/user-guide.md, "The output file"):
//   /ensemble   int64 [nensemble]            member index 0..n-1 (dimension scale), CF
//                                            standard_name realization
//   /time       int64 [ntime]                start times, "seconds since 1970-01-01T00:00:00Z",
//                                            standard_name forecast_reference_time
//   /lead_time  int64 [nlead]                "seconds" (xarray: timedelta64), standard_name
//                                            forecast_period
//   /valid_time int64 [time, lead_time]      time + lead_time, standard_name time: the CF
//                                            auxiliary coordinate named by every field
//   /lat        float64 [nlat]               "degrees_north", cell centres south → north
//   /lon        float64 [nlon]               "degrees_east"
//   /<field>    float64 [ensemble, time, lead_time, lat, lon]   per-member fields
//   /<field>_<stat> float64 [time, lead_time, lat, lon]         ensemble statistics
//   /stormrun/step_checksum uint64 [ensemble, time, lead_time]  the evidence: per member,
//                start time and lead time, a checksum of the bytes written for it across
//                the per-member fields (0: never written); a group, so that xarray's root
//                dataset shows only the forecast
//   root attributes: "stormrun_fingerprint" (hash), "stormrun_fingerprint_json" (the
//   settings as JSON), "stormrun_format" = kOutputFormatVersion, "Conventions" = "CF-1.10",
//   plus the caller's.
//
// Every dataset is contiguous, allocated early with a fill value (NaN) written at
// allocation; everything is created and then flushed once, so that later writes touch raw
// data only and a kill at any instant leaves a readable file.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "stormrun/model/fields.hpp"
#include "stormrun/value.hpp"

namespace stormrun::io {

/// The output layout this stormrun writes (root attribute "stormrun_format"): 1 had no
/// step checksums; 2 adds /stormrun/step_checksum. docs/checkpoint-format.md, "Format
/// versions".
inline constexpr int kOutputFormatVersion = 2;

/// Any HDF5 failure; the message names the file and the object.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// The existing file is not this run's (fingerprint or layout differ): exit 3. The
/// message lists each difference.
class OutputMismatch : public OutputError {
 public:
  using OutputError::OutputError;
};

/// A collective operation of the output (write, flush, close) failed on some ranks: it is
/// thrown on EVERY rank of the communicator, at the same call, so that all ranks leave the
/// operation together and can agree before their next collective (runtime/agreement.hpp).
/// On a rank whose own part failed, failed_here() is true and what() names the file and
/// the HDF5 error; on the others what() says that another rank failed.
class CollectiveOutputError : public OutputError {
 public:
  CollectiveOutputError(const std::string& message, bool failed_here)
      : OutputError(message), failed_here_(failed_here) {}
  bool failed_here() const { return failed_here_; }

 private:
  bool failed_here_;
};

struct FieldInfo {
  std::string name;
  std::string units;      ///< e.g. "m", "m s-1", "s-1"
  std::string long_name;  ///< e.g. "fluid height"
};

struct OutputLayout {
  std::vector<FieldInfo> fields;        ///< per-member datasets
  std::vector<std::string> statistics;  ///< e.g. {"mean","std"}: datasets <field>_<stat>
  std::int64_t nensemble = 1;
  std::vector<TimePoint> times;  ///< start times (whole seconds)
  std::int64_t nlead = 1;        ///< lead times 0, step, ..., (nlead-1)·step
  Duration lead_step{};          ///< whole seconds
  model::Grid grid{};
  std::string fingerprint_hash;                   ///< stored as "stormrun_fingerprint"
  std::string fingerprint_json;                   ///< stored as "stormrun_fingerprint_json"
  std::map<std::string, std::string> attributes;  ///< more root string attributes
};

/// An open output file. All member functions marked collective must be called by every
/// rank of the communicator, in the same order, with the same variable/indices arguments.
class OutputFile {
 public:
  /// Collective. Creates the file atomically: everything is built in "<path>.partial"
  /// (removed first if present), flushed, closed, then renamed onto `path` by rank 0 (with
  /// an fsync of the directory) and reopened read-write. So `path` only ever names a
  /// complete file. When `path` exists and `replace` is false: OutputError (the caller
  /// decides about --overwrite before calling). OutputError naming the path on failure.
  static OutputFile create(MPI_Comm comm, const std::filesystem::path& path,
                           const OutputLayout& layout, bool replace);
  /// Collective. Reopens an existing file read-write (never truncates) and checks that
  /// its fingerprint hash and its layout (datasets, shapes, coordinates) equal `layout`;
  /// OutputMismatch listing each difference otherwise (the file is left unchanged).
  static OutputFile open_existing(MPI_Comm comm, const std::filesystem::path& path,
                                  const OutputLayout& layout);
  /// Reads the root attributes "stormrun_fingerprint" and "stormrun_fingerprint_json" of
  /// an existing file with the serial driver (any rank, no communicator); OutputError when
  /// it is not an HDF5 file or has none (then it is not a stormrun output).
  static std::pair<std::string, std::string> read_fingerprint(const std::filesystem::path& path);

  OutputFile(OutputFile&&) noexcept;
  OutputFile& operator=(OutputFile&&) noexcept;
  /// Collective when the file is still open: it then flushes and closes it as close() does
  /// (never throwing), so every rank must reach it together. Call close() explicitly on
  /// every rank; the destructor is only for paths where all ranks unwind alike (an agreed
  /// failure). A failure seen by some ranks only must not unwind through it: abort instead.
  ~OutputFile();

  const std::filesystem::path& path() const;
  const OutputLayout& layout() const;

  /// Collective. Writes `data` ([members.size()][nlat][nlon], doubles) into
  /// field[members[i], time_index, lead_index, :, :] for each i. A rank with nothing to
  /// write passes empty spans. members may be in any order and need not be contiguous.
  /// The ranks agree on the outcome (one reduction): a failure on any rank (a bad request,
  /// the disk full) throws CollectiveOutputError on every rank. So do write_statistic(),
  /// flush() and close().
  void write_members(const std::string& field, std::int64_t time_index, std::int64_t lead_index,
                     std::span<const std::int64_t> members, std::span<const double> data);
  /// Collective. Writes `data` ([nlat][nlon]) into <field>_<stat>[time_index, lead_index];
  /// exactly the ranks that have the data pass it, the others pass an empty span.
  void write_statistic(const std::string& field, const std::string& stat, std::int64_t time_index,
                       std::int64_t lead_index, std::span<const double> data);
  /// Not collective (independent I/O). Reads field[members[i], time_index, lead_index]
  /// into [members.size()][nlat][nlon]; used to read back steps a previous run wrote.
  std::vector<double> read_members(const std::string& field, std::int64_t time_index,
                                   std::int64_t lead_index, std::span<const std::int64_t> members);
  /// Collective. Writes the step checksum of every (member, time, lead) whose per-member
  /// fields this rank has written in full since the last flush (/stormrun/step_checksum),
  /// then H5Fflush(H5F_SCOPE_GLOBAL): everything written so far, checksums included, is on
  /// disk (MPI_File_sync → fsync) when it returns. A step whose checksum is not yet written
  /// reads as never written: the file claims only what a flush made durable.
  void flush();
  /// Collective. As flush(), with the fsync deferred: the step checksums are written (and
  /// their outcome agreed), then this rank's fsync of the file runs on a thread of its own
  /// while the caller goes on. What was written is durable only once confirm_durable()
  /// has returned on every rank; until then nothing may claim it (the run driver publishes
  /// the checkpoint commit of the step only after that). The next flush(),
  /// flush_deferred(), confirm_durable() or close() waits for the fsync; a failed one is
  /// that call's error (CollectiveOutputError on every rank).
  void flush_deferred();
  /// Collective. Waits for this rank's deferred fsync, if any, and agrees on the outcome:
  /// returns on every rank when every rank's fsync succeeded, else throws
  /// CollectiveOutputError on every rank (the failing ones with their own text).
  void confirm_durable();
  /// Collective. flush() then close. Further calls throw OutputError.
  void close();

 private:
  struct Impl;
  explicit OutputFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The step checksum of one (member, start time, lead time): XXH3-64 over the XXH3-64
/// digests (8 bytes little-endian each, in layout field order) of the bytes of each
/// per-member field's [lat, lon] slab as stored (float64 little-endian); 0 is never used
/// (a checksum of 0 is stored as 1), so 0 means "never written".
std::uint64_t step_checksum(std::span<const std::uint64_t> field_digests);
/// XXH3-64 of one field's slab (nlat·nlon doubles, little-endian).
std::uint64_t slab_digest(std::span<const double> slab);

/// What an output file proves about the steps written into it: read serially and
/// read-only from its metadata and /stormrun/step_checksum (O(members × times × leads)
/// numbers, none of the fields).
struct OutputEvidence {
  int format = 0;              ///< root attribute "stormrun_format" (0 when absent)
  bool has_checksums = false;  ///< the file holds /stormrun/step_checksum
  std::int64_t nensemble = 0;
  std::int64_t ntime = 0;
  std::int64_t nlead = 0;
  std::vector<std::uint64_t> checksums;  ///< [member][time][lead]; 0 = never written
  /// A format-1 file (no step checksums) read with `scan_fill`: `checksums` then holds 1
  /// where no per-member field holds the NaN fill, 0 elsewhere.
  bool scanned = false;

  std::uint64_t at(std::int64_t member, std::int64_t time, std::int64_t lead) const {
    return checksums[std::size_t((member * ntime + time) * nlead + lead)];
  }
  /// The highest s such that lead steps 0..s of (member, time) are all written; -1 when
  /// step 0 is not (or the indices are outside the file).
  std::int64_t written_prefix(std::int64_t member, std::int64_t time) const;
};
/// OutputError naming the file when it is not an HDF5 file; a file without the dataset
/// (format 1, or not a stormrun output) gives has_checksums false. With `scan_fill`, a
/// format-1 file's per-member fields are read instead (the whole file: the one slow path,
/// for outputs written before step checksums) and `scanned` is set.
OutputEvidence read_output_evidence(const std::filesystem::path& path, bool scan_fill = false);

/// Steps of one work unit that a checkpoint row claims are in the output.
struct ClaimedSteps {
  TimePoint start{};           ///< the unit's start time (a value of /time)
  std::int64_t member = 0;     ///< the unit's ensemble member
  std::int64_t last_step = 0;  ///< lead-time steps 0..last_step are claimed
  std::string claimed_by;      ///< e.g. the commit directory, for the message
};

/// Serial and read-only (`stormrun verify --output`). In a format-2 file: every claimed
/// (member, step) has a non-zero step checksum (else it was never written), and every
/// written step's fields still hash to its checksum (else its bytes were damaged or
/// edited); this reads every written step of the fields. In a format-1 file (no
/// checksums): every per-member dataset holds values (no NaN fill) at every claimed step.
/// Returns one line per problem (empty when the file agrees); OutputError when the file
/// cannot be read.
std::vector<std::string> check_claimed_steps(const std::filesystem::path& path,
                                             const std::vector<ClaimedSteps>& claims);

}  // namespace stormrun::io
