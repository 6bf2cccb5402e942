// check_claimed_steps (output.hpp): does the output hold every step the checkpoint claims?
// The durability order (output flushed before the commit that claims a step) promises it;
// `stormrun verify --output` checks it. Serial, read-only HDF5.
#include <chrono>
#include <cmath>
#include <map>

#include "hdf5_handle.hpp"
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

}  // namespace

std::vector<std::string> check_claimed_steps(const std::filesystem::path& path,
                                             const std::vector<ClaimedSteps>& claims) {
  QuietHdf5Errors quiet;
  std::vector<std::string> problems;
  Hid file = checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path, "/",
                     "open read-only");

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

  // The per-member datasets: five dimensions (ensemble, time, lead_time, lat, lon).
  std::vector<std::string> names;
  checked(H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), path,
          "/", "list objects");
  for (const std::string& name : names) {
    Hid dataset(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
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
      const auto steps = static_cast<hsize_t>(claim.last_step + 1);
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

}  // namespace stormrun::io
