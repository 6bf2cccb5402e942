// Initial conditions from HDF5 files written by h5py (the way users make them): the good
// layouts, and every rejected one with the file, dataset and fault named.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "model_state_support.hpp"
#include "stormrun/model/ic_file.hpp"

using namespace stormrun::model;
using namespace model_state_test;

namespace {

const Grid kGrid{6, 12};

// Writes an IC file for the 6x12 grid: h = 1000 + 10·j + i/8, u = j - i, v = 0.5·i·j, then
// applies `variant` to it. Values are exact in float32 too.
const char* kWriter = R"PY(
import sys
import h5py
import numpy as np

path, variant = sys.argv[1], sys.argv[2]
nlat, nlon = 6, 12
j, i = np.meshgrid(np.arange(nlat), np.arange(nlon), indexing="ij")
fields = {"h": 1000.0 + 10.0 * j + i / 8.0, "u": (j - i).astype(float), "v": 0.5 * i * j}
lat = -90.0 + (np.arange(nlat) + 0.5) * 180.0 / nlat
lon = np.arange(nlon) * 360.0 / nlon
with h5py.File(path, "w") as f:
    for name, data in fields.items():
        if variant == "time-axis":
            data = data[np.newaxis]
        if variant == "float32":
            data = data.astype(np.float32)
        if variant == "north-to-south":
            data = data[::-1]
        if variant == "transposed":
            data = data.T
        if variant == "missing-v" and name == "v":
            continue
        if variant == "nan" and name == "u":
            data = data.copy()
            data[2, 3] = np.nan
        if variant == "string" and name == "v":
            f["v"] = np.array([b"not a number"] * 4)
            continue
        f[name] = data
    if variant in ("coords", "north-to-south", "bad-lat", "lon-180"):
        f["lat"] = lat[::-1] if variant == "north-to-south" else lat
        f["lon"] = np.where(lon >= 180, lon - 360, lon) if variant == "lon-180" else lon
        if variant == "bad-lat":
            f["lat"][0] = -89.0
    if variant in ("coord-attrs", "bad-lon-attr"):
        f.attrs["latitude"] = lat
        f.attrs["longitude"] = lon + (1.0 if variant == "bad-lon-attr" else 0.0)
    if variant == "group-h":
        del f["h"]
        f.create_group("h")
)PY";

fs::path write_ic(const TempDir& dir, const std::string& variant) {
  const fs::path script = dir / "write_ic.py";
  std::ofstream(script) << kWriter;
  const fs::path path = dir / (variant + ".h5");
  const std::string command = std::string(STORMRUN_SYSTEM_PYTHON) + " " + script.string() + " " +
                              path.string() + " " + variant;
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "h5py failed to write " << path);
  return path;
}

void check_expected_fields(const FieldBatch& batch) {
  REQUIRE(batch.members == 1);
  REQUIRE(batch.grid == kGrid);
  for (int j = 0; j < kGrid.nlat; ++j) {
    for (int i = 0; i < kGrid.nlon; ++i) {
      const std::size_t p = std::size_t(j * kGrid.nlon + i);
      CHECK(batch.field(0, batch.variable_index("h"))[p] == 1000.0 + 10.0 * j + i / 8.0);
      CHECK(batch.field(0, batch.variable_index("u"))[p] == double(j - i));
      CHECK(batch.field(0, batch.variable_index("v"))[p] == 0.5 * i * j);
    }
  }
}

}  // namespace

TEST_CASE("the file: prefix selects an HDF5 initial condition") {
  CHECK(initial_condition_file_path("file:/data/ic.h5") == fs::path("/data/ic.h5"));
  CHECK_FALSE(initial_condition_file_path("galewsky"));
  CHECK_THROWS_AS(initial_condition_file_path("file:"), std::invalid_argument);
}

TEST_CASE("good initial-condition files are read onto the grid") {
  TempDir dir;
  for (const char* variant :
       {"plain", "time-axis", "float32", "coords", "north-to-south", "lon-180", "coord-attrs"}) {
    CAPTURE(variant);
    check_expected_fields(
        read_initial_condition_file(write_ic(dir, variant), kGrid, {"h", "u", "v"}));
  }
  // Variables are read in the order asked, whatever the file's order.
  const FieldBatch vu = read_initial_condition_file(write_ic(dir, "plain"), kGrid, {"v", "u"});
  CHECK(vu.variables == std::vector<std::string>{"v", "u"});
  CHECK(vu.field(0, 0)[13] == 0.5 * 1 * 1);
}

TEST_CASE("bad initial-condition files are refused naming file, dataset and fault") {
  TempDir dir;
  auto refused = [&](const std::string& variant, const std::string& holder,
                     const std::string& fault) {
    CAPTURE(variant);
    const fs::path path = write_ic(dir, variant);
    try {
      (void)read_initial_condition_file(path, kGrid, {"h", "u", "v"});
      FAIL("no error for " << variant);
    } catch (const InitialConditionFileError& error) {
      const std::string message = error.what();
      CHECK_MESSAGE(message.find(path.string()) != std::string::npos, message);
      CHECK_MESSAGE(message.find(holder) != std::string::npos, message);
      CHECK_MESSAGE(message.find(fault) != std::string::npos, message);
    }
  };
  refused("missing-v", "dataset 'v'", "missing");
  refused("transposed", "dataset 'h'", "shape is (12, 6), expected (6, 12)");
  refused("nan", "dataset 'u'", "value nan at flat index 27 is not finite");
  refused("string", "dataset 'v'", "not numeric");
  refused("bad-lat", "dataset 'lat'", "latitudes do not match the model grid 6x12");
  refused("group-h", "dataset 'h'", "not a dataset");
  refused("bad-lon-attr", "root attribute 'longitude'", "longitudes do not match");

  // The grid of the run differs from the file's.
  const fs::path plain = write_ic(dir, "plain");
  CHECK_THROWS_WITH_AS(read_initial_condition_file(plain, {6, 10}, {"h"}),
                       doctest::Contains("shape is (6, 12), expected (6, 10)"),
                       InitialConditionFileError);
}

TEST_CASE("a missing or non-HDF5 file is refused naming it") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(read_initial_condition_file(dir / "absent.h5", kGrid, {"h"}),
                       doctest::Contains("absent.h5: the file does not exist"),
                       InitialConditionFileError);
  std::ofstream(dir / "text.h5") << "h,u,v\n1,2,3\n";
  CHECK_THROWS_WITH_AS(read_initial_condition_file(dir / "text.h5", kGrid, {"h"}),
                       doctest::Contains("text.h5: the file is not an HDF5 file"),
                       InitialConditionFileError);
}
