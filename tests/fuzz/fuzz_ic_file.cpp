// libFuzzer target: stormrun's checks of an initial-condition file (io/ic_checks.hpp), on
// whatever a file could hold: which of h, u, v, lat/latitude, lon/longitude are there as a
// dataset or a root attribute, whether each opens, its element class, rank, shape and
// values (on-grid coordinates, reversed, shifted, -180..180, or arbitrary doubles with NaN
// and infinities), and readers that fail or return the wrong count. HDF5 itself is not
// fuzzed: the source is in memory. The checks either return a batch that holds the
// source's values row for row (flipped when the latitudes run north to south), or refuse
// with InitialConditionFileError naming the file.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "io/ic_checks.hpp"
#include "stormrun/model/ic_file.hpp"

namespace {

using stormrun::io::IcArray;
using stormrun::io::IcHolder;

struct FakeArray {
  IcArray array;
  std::vector<double> values;  // what read_doubles hands back
  bool read_fails = false;
};

class FakeSource final : public stormrun::io::IcSource {
 public:
  std::map<std::pair<std::string, IcHolder>, FakeArray> arrays;

  std::string file() const override { return "fuzz/ic.h5"; }
  bool has(const std::string& name, IcHolder holder) const override {
    return arrays.count({name, holder}) != 0;
  }
  IcArray describe(const std::string& name, IcHolder holder) const override {
    return arrays.at({name, holder}).array;
  }
  bool read_doubles(const std::string& name, IcHolder holder,
                    std::vector<double>& values) const override {
    const FakeArray& fake = arrays.at({name, holder});
    if (fake.read_fails) return false;
    values = fake.values;
    return true;
  }
};

double any_double(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return std::nan("");
    case 1:
      return HUGE_VAL;
    case 2:
      return -HUGE_VAL;
    case 3:
      return in.ConsumeFloatingPoint<double>();
    default:
      return double(in.ConsumeIntegralInRange<int>(-1000, 1000)) / 8.0;
  }
}

std::vector<double> coordinates(FuzzedDataProvider& in, bool latitude, int n) {
  std::vector<double> values(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    values[std::size_t(k)] = latitude ? -90.0 + (k + 0.5) * 180.0 / n : k * 360.0 / n;
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      std::reverse(values.begin(), values.end());
      break;
    case 1:
      for (double& v : values)
        if (v >= 180.0) v -= 360.0;
      break;
    case 2:
      if (!values.empty())
        values[in.ConsumeIntegralInRange<std::size_t>(0, values.size() - 1)] += any_double(in);
      break;
    default:
      break;
  }
  return values;
}

FakeArray fake_array(FuzzedDataProvider& in, const std::string& name,
                     const stormrun::model::Grid& grid) {
  FakeArray fake;
  fake.array.opened = in.ConsumeIntegralInRange<int>(0, 15) != 0;
  fake.array.numeric = in.ConsumeIntegralInRange<int>(0, 15) != 0;
  const bool latitude = name.rfind("lat", 0) == 0, longitude = name.rfind("lon", 0) == 0;
  // Mostly the shape the checks want (so that the values are reached), else anything.
  const std::uint64_t nlat = std::uint64_t(grid.nlat), nlon = std::uint64_t(grid.nlon);
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      fake.array.rank = in.ConsumeIntegralInRange<int>(-1, 4);
      for (int d = 0; d < std::max(fake.array.rank, 0); ++d)
        fake.array.dims.push_back(in.ConsumeIntegralInRange<std::uint64_t>(0, 40));
      break;
    case 1:
      fake.array.rank = 3;
      fake.array.dims = {1, nlat, nlon};
      break;
    default:
      fake.array.dims = latitude    ? std::vector<std::uint64_t>{nlat}
                        : longitude ? std::vector<std::uint64_t>{nlon}
                                    : std::vector<std::uint64_t>{nlat, nlon};
      fake.array.rank = int(fake.array.dims.size());
  }
  std::size_t count = 1;
  for (const std::uint64_t d : fake.array.dims)
    count = count * std::size_t(std::min<std::uint64_t>(d, 64));
  if (fake.array.rank < 0) count = 0;
  count = std::min<std::size_t>(count, 4096);
  if ((latitude || longitude) && in.ConsumeBool()) {
    fake.values = coordinates(in, latitude, latitude ? grid.nlat : grid.nlon);
  } else {
    fake.values.resize(count);
    for (std::size_t k = 0; k < count && in.remaining_bytes() > 0; ++k)
      fake.values[k] = in.ConsumeIntegralInRange<int>(0, 31) == 0 ? any_double(in) : double(k);
  }
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0:
      fake.read_fails = true;
      break;
    case 1:  // a reader that returns the wrong count
      if (!fake.values.empty()) fake.values.pop_back();
      break;
    case 2:
      fake.values.push_back(0.0);
      break;
    default:
      break;
  }
  return fake;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const stormrun::model::Grid grid{in.ConsumeIntegralInRange<int>(1, 8),
                                   in.ConsumeIntegralInRange<int>(1, 8)};
  std::vector<std::string> variables;
  for (const char* name : {"h", "u", "v"})
    if (in.ConsumeBool()) variables.emplace_back(name);
  if (in.ConsumeBool()) std::reverse(variables.begin(), variables.end());

  FakeSource source;
  for (const char* name : {"h", "u", "v", "lat", "latitude", "lon", "longitude"})
    for (const IcHolder holder : {IcHolder::Dataset, IcHolder::Attribute})
      if (in.ConsumeIntegralInRange<int>(0, 3) == 0 ||
          (holder == IcHolder::Dataset && std::string(name).size() == 1 && in.ConsumeBool()))
        source.arrays[{name, holder}] = fake_array(in, name, grid);

  stormrun::model::FieldBatch batch;
  try {
    batch = stormrun::io::read_initial_conditions(source, grid, variables);
  } catch (const stormrun::model::InitialConditionFileError& error) {
    if (std::string(error.what()).find("fuzz/ic.h5") == std::string::npos) std::abort();
    return 0;
  }
  // Accepted: every field is the dataset's values, row for row or flipped, all finite.
  if (batch.members != 1 || batch.variables != variables || !(batch.grid == grid)) std::abort();
  for (std::size_t v = 0; v < variables.size(); ++v) {
    const auto& values = source.arrays.at({variables[v], IcHolder::Dataset}).values;
    const auto field = batch.field(0, v);
    const std::size_t nlon = std::size_t(grid.nlon);
    for (std::size_t p = 0; p < field.size(); ++p) {
      if (!std::isfinite(field[p])) std::abort();
      const std::size_t row = p / nlon, flipped = std::size_t(grid.nlat) - 1 - row;
      const double straight = values[p], mirrored = values[flipped * nlon + p % nlon];
      if (field[p] != straight && field[p] != mirrored) std::abort();
    }
  }
  return 0;
}
