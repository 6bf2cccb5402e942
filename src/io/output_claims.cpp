// What the output proves about its steps (output.hpp): the evidence read on resume
// (read_output_evidence: the step checksums only) and by `stormrun verify`
// (check_claimed_steps: every claimed step written, every written step's bytes matching its
// checksum). The durability order (output flushed, checksums included, before the commit
// that claims a step) promises it. Serial, read-only HDF5.
#include <chrono>
#include <cmath>
#include <map>

#include "hdf5_handle.hpp"
#include "output_schema.hpp"
#include "stormrun/io/output.hpp"

namespace stormrun::io {

namespace {

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->emplace_back(name);
  return 0;
}

std::vector<hsize_t> shape_of(hid_t dataset) {
  Hid space(H5Dget_space(dataset), H5Sclose);
  const int ndims = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (ndims <= 0) return {};
  std::vector<hsize_t> shape(static_cast<std::size_t>(ndims));
  H5Sget_simple_extent_dims(space.get(), shape.data(), nullptr);
  return shape;
}

int format_of(hid_t file, const std::filesystem::path& path) {
  Hid root = checked(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, path, "/", "open root group");
  if (H5Aexists(root.get(), kFormatAttribute) <= 0) return 0;
  Hid attr = checked(H5Aopen(root.get(), kFormatAttribute, H5P_DEFAULT), H5Aclose, path,
                     kFormatAttribute, "open");
  int format = 0;
  checked(H5Aread(attr.get(), H5T_NATIVE_INT, &format), path, kFormatAttribute, "read");
  return format;
}

OutputEvidence read_evidence(hid_t file, const std::filesystem::path& path) {
  OutputEvidence evidence;
  evidence.format = format_of(file, path);
  if (H5Lexists(file, kBookkeepingGroup, H5P_DEFAULT) <= 0 ||
      H5Lexists(file, kStepChecksumPath, H5P_DEFAULT) <= 0)
    return evidence;
  const std::string what = std::string("dataset ") + kStepChecksumPath;
  Hid dset = checked(H5Dopen2(file, kStepChecksumPath, H5P_DEFAULT), H5Dclose, path, what, "open");
  const std::vector<hsize_t> shape = shape_of(dset.get());
  if (shape.size() != 3)
    throw OutputError("output " + path.string() + ": " + kStepChecksumPath + " is not 3-D");
  evidence.nensemble = std::int64_t(shape[0]);
  evidence.ntime = std::int64_t(shape[1]);
  evidence.nlead = std::int64_t(shape[2]);
  evidence.checksums.resize(std::size_t(shape[0] * shape[1] * shape[2]));
  if (!evidence.checksums.empty())
    checked(H5Dread(dset.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    evidence.checksums.data()),
            path, what, "read");
  evidence.has_checksums = true;
  return evidence;
}

Hid open_read_only(const std::filesystem::path& path) {
  return checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path, "/",
                 "open read-only");
}

/// "3", "3..5"
std::string step_range(std::int64_t first, std::int64_t last) {
  return first == last ? std::to_string(first)
                       : std::to_string(first) + ".." + std::to_string(last);
}

std::vector<std::string> check_claims_by_checksum(
    const std::filesystem::path& path, hid_t file, const OutputEvidence& evidence,
    const std::vector<ClaimedSteps>& claims, const std::map<std::int64_t, hsize_t>& time_index);
std::vector<std::string> check_claims_by_fill(const std::filesystem::path& path, hid_t file,
                                              const std::vector<ClaimedSteps>& claims,
                                              const std::map<std::int64_t, hsize_t>& time_index);

}  // namespace

OutputEvidence read_output_evidence(const std::filesystem::path& path, bool scan_fill) {
  QuietHdf5Errors quiet;
  Hid file = open_read_only(path);
  OutputEvidence evidence = read_evidence(file.get(), path);
  if (evidence.has_checksums || !scan_fill || evidence.format != 1) return evidence;
  // Format 1: a step is written where no per-member field holds the NaN fill.
  std::vector<std::string> names;
  checked(H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), path,
          "/", "list objects");
  std::vector<Hid> fields;
  std::vector<hsize_t> shape;
  for (const std::string& name : names) {
    Hid dataset(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid() || shape_of(dataset.get()).size() != 5) continue;
    if (shape.empty()) shape = shape_of(dataset.get());
    if (shape_of(dataset.get()) != shape) continue;  // another layout: open_existing says so
    fields.push_back(std::move(dataset));
  }
  if (fields.empty()) return evidence;
  evidence.nensemble = std::int64_t(shape[0]);
  evidence.ntime = std::int64_t(shape[1]);
  evidence.nlead = std::int64_t(shape[2]);
  evidence.checksums.assign(std::size_t(shape[0] * shape[1] * shape[2]), 1);
  const hsize_t per_step = shape[3] * shape[4];
  std::vector<double> slab(std::size_t(shape[2] * per_step));
  for (hsize_t m = 0; m < shape[0]; ++m)
    for (hsize_t t = 0; t < shape[1]; ++t)
      for (const Hid& field : fields) {
        Hid space = checked(H5Dget_space(field.get()), H5Sclose, path, "field", "space");
        const hsize_t offset[5] = {m, t, 0, 0, 0};
        const hsize_t count[5] = {1, 1, shape[2], shape[3], shape[4]};
        checked(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, count, nullptr),
                path, "field", "select");
        const hsize_t values = slab.size();
        Hid memory =
            checked(H5Screate_simple(1, &values, nullptr), H5Sclose, path, "field", "memspace");
        checked(H5Dread(field.get(), H5T_NATIVE_DOUBLE, memory.get(), space.get(), H5P_DEFAULT,
                        slab.data()),
                path, "field", "read");
        for (hsize_t s = 0; s < shape[2]; ++s)
          for (hsize_t p = 0; p < per_step; ++p)
            if (std::isnan(slab[s * per_step + p])) {
              evidence.checksums[std::size_t((m * shape[1] + t) * shape[2] + s)] = 0;
              break;
            }
      }
  evidence.scanned = true;
  return evidence;
}

std::vector<std::string> check_claimed_steps(const std::filesystem::path& path,
                                             const std::vector<ClaimedSteps>& claims) {
  QuietHdf5Errors quiet;
  Hid file = open_read_only(path);

  // Start times → time index, from the /time coordinate (seconds since the epoch).
  Hid time = checked(H5Dopen2(file.get(), "time", H5P_DEFAULT), H5Dclose, path, "/time", "open");
  const std::vector<hsize_t> time_shape = shape_of(time.get());
  if (time_shape.size() != 1) throw OutputError("output " + path.string() + ": /time is not 1-D");
  std::vector<std::int64_t> seconds(time_shape[0]);
  checked(H5Dread(time.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, seconds.data()),
          path, "/time", "read");
  std::map<std::int64_t, hsize_t> time_index;
  for (hsize_t i = 0; i < seconds.size(); ++i)
    time_index[seconds[i]] = i;
  const OutputEvidence evidence = read_evidence(file.get(), path);
  if (evidence.has_checksums)
    return check_claims_by_checksum(path, file.get(), evidence, claims, time_index);
  return check_claims_by_fill(path, file.get(), claims, time_index);
}

namespace {

std::vector<std::string> check_claims_by_checksum(
    const std::filesystem::path& path, hid_t file, const OutputEvidence& evidence,
    const std::vector<ClaimedSteps>& claims, const std::map<std::int64_t, hsize_t>& time_index) {
  std::vector<std::string> problems;
  // 1. Every claimed (member, step) was written: its checksum is not 0.
  for (const ClaimedSteps& claim : claims) {
    const auto start_s =
        std::chrono::duration_cast<std::chrono::seconds>(claim.start.time_since_epoch()).count();
    const auto t = time_index.find(start_s);
    if (t == time_index.end()) {
      problems.push_back(claim.claimed_by + " claims a unit started at " + format_utc(claim.start) +
                         ", which " + path.string() + " has no time for");
      continue;
    }
    if (claim.member < 0 || claim.member >= evidence.nensemble ||
        claim.last_step >= evidence.nlead || std::int64_t(t->second) >= evidence.ntime) {
      problems.push_back(claim.claimed_by + " claims member " + std::to_string(claim.member) +
                         " to step " + std::to_string(claim.last_step) + ", beyond the shape of " +
                         kStepChecksumPath + " in " + path.string());
      continue;
    }
    std::int64_t s = 0;
    while (s <= claim.last_step) {
      if (evidence.at(claim.member, std::int64_t(t->second), s) != 0) {
        ++s;
        continue;
      }
      std::int64_t e = s;
      while (e + 1 <= claim.last_step &&
             evidence.at(claim.member, std::int64_t(t->second), e + 1) == 0)
        ++e;
      problems.push_back(path.string() + ": member " + std::to_string(claim.member) + " start " +
                         format_utc_seconds(start_s, 0, 0) + " lead step " + step_range(s, e) +
                         " never written (step checksum 0), but " + claim.claimed_by +
                         " claims steps 0.." + std::to_string(claim.last_step));
      s = e + 1;
    }
  }

  // 2. Every written step's fields still hash to its checksum, in the field order the
  // dataset's "fields" attribute names.
  Hid dset = checked(H5Dopen2(file, kStepChecksumPath, H5P_DEFAULT), H5Dclose, path,
                     kStepChecksumPath, "open");
  const std::string field_list =
      read_string_attribute(dset.get(), "fields", path, kStepChecksumPath);
  std::vector<std::string> fields;
  for (std::size_t pos = 0; pos <= field_list.size();) {
    const std::size_t end = std::min(field_list.find(' ', pos), field_list.size());
    if (end > pos) fields.push_back(field_list.substr(pos, end - pos));
    pos = end + 1;
  }
  std::vector<Hid> datasets;
  hsize_t ny = 0;
  hsize_t nx = 0;
  for (const std::string& name : fields) {
    Hid d = checked(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose, path, name, "open");
    const std::vector<hsize_t> shape = shape_of(d.get());
    if (shape.size() != 5 || std::int64_t(shape[0]) != evidence.nensemble ||
        std::int64_t(shape[1]) != evidence.ntime || std::int64_t(shape[2]) != evidence.nlead)
      throw OutputError("output " + path.string() + ": dataset " + name +
                        " does not have the shape of " + kStepChecksumPath);
    ny = shape[3];
    nx = shape[4];
    datasets.push_back(std::move(d));
  }
  const hsize_t per_step = ny * nx;
  std::vector<double> slab(std::size_t(evidence.nlead * std::int64_t(per_step)));
  std::vector<std::uint64_t> digests(fields.size() * std::size_t(evidence.nlead));
  std::vector<std::string> start_text(std::size_t(evidence.ntime), "?");
  for (const auto& [seconds, index] : time_index)
    if (std::int64_t(index) < evidence.ntime)
      start_text[std::size_t(index)] = format_utc_seconds(seconds, 0, 0);
  constexpr std::size_t kMaxListed = 20;
  std::size_t mismatched = 0;
  for (std::int64_t m = 0; m < evidence.nensemble; ++m)
    for (std::int64_t t = 0; t < evidence.ntime; ++t) {
      bool any = false;
      for (std::int64_t s = 0; s < evidence.nlead && !any; ++s)
        any = evidence.at(m, t, s) != 0;
      if (!any) continue;
      for (std::size_t f = 0; f < datasets.size(); ++f) {
        Hid space = checked(H5Dget_space(datasets[f].get()), H5Sclose, path, fields[f], "space");
        const hsize_t offset[5] = {hsize_t(m), hsize_t(t), 0, 0, 0};
        const hsize_t count[5] = {1, 1, hsize_t(evidence.nlead), ny, nx};
        checked(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, count, nullptr),
                path, fields[f], "select");
        const hsize_t values = slab.size();
        Hid memory =
            checked(H5Screate_simple(1, &values, nullptr), H5Sclose, path, fields[f], "memspace");
        checked(H5Dread(datasets[f].get(), H5T_NATIVE_DOUBLE, memory.get(), space.get(),
                        H5P_DEFAULT, slab.data()),
                path, fields[f], "read");
        for (std::int64_t s = 0; s < evidence.nlead; ++s)
          digests[std::size_t(s) * fields.size() + f] = slab_digest(
              std::span<const double>(slab).subspan(std::size_t(s) * per_step, per_step));
      }
      for (std::int64_t s = 0; s < evidence.nlead; ++s) {
        const std::uint64_t want = evidence.at(m, t, s);
        if (want == 0) continue;
        const std::uint64_t got = step_checksum(std::span<const std::uint64_t>(digests).subspan(
            std::size_t(s) * fields.size(), fields.size()));
        if (got == want) continue;
        if (++mismatched > kMaxListed) continue;
        problems.push_back(path.string() + ": member " + std::to_string(m) + " start " +
                           start_text[std::size_t(t)] + " lead step " + std::to_string(s) +
                           ": the fields' bytes do not match their step checksum (damaged or "
                           "changed after they were written)");
      }
    }
  if (mismatched > kMaxListed)
    problems.push_back(path.string() + ": ... and " + std::to_string(mismatched - kMaxListed) +
                       " more steps whose bytes do not match their checksum");
  return problems;
}

// A format-1 file has no checksums: a claimed step is taken as written when no per-member
// dataset holds the NaN fill there.
std::vector<std::string> check_claims_by_fill(const std::filesystem::path& path, hid_t file_id,
                                              const std::vector<ClaimedSteps>& claims,
                                              const std::map<std::int64_t, hsize_t>& time_index) {
  std::vector<std::string> problems;
  // The per-member datasets: five dimensions (ensemble, time, lead_time, lat, lon).
  std::vector<std::string> names;
  checked(H5Literate(file_id, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), path, "/",
          "list objects");
  for (const std::string& name : names) {
    Hid dataset(H5Dopen2(file_id, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) continue;
    const std::vector<hsize_t> shape = shape_of(dataset.get());
    if (shape.size() != 5) continue;
    Hid space = checked(H5Dget_space(dataset.get()), H5Sclose, path, name, "get space");
    for (const ClaimedSteps& claim : claims) {
      const auto start_s =
          std::chrono::duration_cast<std::chrono::seconds>(claim.start.time_since_epoch()).count();
      const auto t = time_index.find(start_s);
      if (t == time_index.end()) {
        problems.push_back(claim.claimed_by + " claims a unit started at " +
                           format_utc(claim.start) + ", which " + path.string() +
                           " has no time for");
        continue;
      }
      const auto steps = static_cast<hsize_t>(claim.last_step) + 1;
      if (claim.member < 0 || static_cast<hsize_t>(claim.member) >= shape[0] || steps > shape[2]) {
        problems.push_back(claim.claimed_by + " claims member " + std::to_string(claim.member) +
                           " to step " + std::to_string(claim.last_step) + ", beyond " + name +
                           "'s shape in " + path.string());
        continue;
      }
      const hsize_t offset[5] = {static_cast<hsize_t>(claim.member), t->second, 0, 0, 0};
      const hsize_t count[5] = {1, 1, steps, shape[3], shape[4]};
      checked(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, count, nullptr),
              path, name, "select");
      const hsize_t values = steps * shape[3] * shape[4];
      Hid memory = checked(H5Screate_simple(1, &values, nullptr), H5Sclose, path, name, "memspace");
      std::vector<double> data(values);
      checked(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, memory.get(), space.get(), H5P_DEFAULT,
                      data.data()),
              path, name, "read");
      const hsize_t per_step = shape[3] * shape[4];
      for (hsize_t s = 0; s < steps; ++s) {
        bool written = true;
        for (hsize_t p = 0; p < per_step && written; ++p)
          written = !std::isnan(data[s * per_step + p]);
        if (!written) {
          problems.push_back(
              path.string() + ": dataset " + name + " member " + std::to_string(claim.member) +
              " start " + format_utc(claim.start) + " lead step " + std::to_string(s) +
              " holds NaN (unwritten, or a diverged model), " + "but " + claim.claimed_by +
              " claims steps 0.." + std::to_string(claim.last_step));
          break;
        }
      }
    }
  }
  return problems;
}

}  // namespace

}  // namespace stormrun::io
