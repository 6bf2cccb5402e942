// Unit tests (no MPI) of the output layout: what validate_layout refuses, the objects
// build_output_objects creates (through a serial HDF5 file), what layout_differences
// reports for each kind of change, and read_fingerprint on files that are no stormrun output.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "io/hdf5_handle.hpp"
#include "io/output_build.hpp"
#include "io/output_schema.hpp"
#include "io/output_test_support.hpp"
#include "support/temp_dir.hpp"

using namespace stormrun;
using namespace stormrun::io;
using stormrun_test::test_layout;
using stormrun_test_support::TempDir;
namespace fs = std::filesystem;

namespace {

/// A file holding `layout`'s objects, built serially (the same code the parallel create runs).
void build_serial(const fs::path& path, const OutputLayout& layout) {
  QuietHdf5Errors quiet;
  Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  REQUIRE(file.valid());
  build_output_objects(file.get(), layout, path, 0);
}

std::vector<std::string> differences(const fs::path& path, const OutputLayout& layout) {
  QuietHdf5Errors quiet;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  REQUIRE(file.valid());
  return layout_differences(file.get(), layout, path);
}

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const std::string& line : lines)
    if (line.find(part) != std::string::npos) return true;
  return false;
}

std::string refusal(const OutputLayout& layout) {
  try {
    validate_layout(layout, "out.h5");
  } catch (const OutputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("validate_layout refuses layouts the file cannot hold, naming the setting") {
  CHECK(refusal(test_layout()).empty());
  OutputLayout layout = test_layout();
  layout.fields.clear();
  CHECK(refusal(layout).find("no fields") != std::string::npos);
  layout = test_layout();
  layout.fields.push_back({"h", "m", "again"});
  CHECK(refusal(layout).find("field 'h' appears twice") != std::string::npos);
  layout = test_layout();
  layout.fields.push_back({"time", "s", "clash"});
  CHECK(refusal(layout).find("name of a coordinate") != std::string::npos);
  layout = test_layout();
  layout.fields.push_back({"h_mean", "m", "clash"});
  CHECK(refusal(layout).find("'h_mean' clashes") != std::string::npos);
  layout = test_layout();
  layout.fields[0].name = "a/b";
  CHECK(refusal(layout).find("'a/b'") != std::string::npos);
  layout = test_layout();
  layout.times[1] += std::chrono::milliseconds(500);
  CHECK(refusal(layout).find("not a whole number of seconds") != std::string::npos);
  layout = test_layout();
  layout.lead_step = Duration::zero();
  CHECK(refusal(layout).find("lead_step must be positive") != std::string::npos);
  layout = test_layout();
  layout.nensemble = 0;
  CHECK(refusal(layout).find("nensemble is 0") != std::string::npos);
  layout = test_layout();
  layout.attributes["Conventions"] = "CF-1.6";
  CHECK(refusal(layout).find("'Conventions' is written by stormrun") != std::string::npos);
  CHECK(refusal(layout).find("out.h5") != std::string::npos);
}

TEST_CASE("built objects: coordinates are scales, data variables have them attached") {
  TempDir dir("stormrun-io-layout");
  const fs::path path = dir / "built.h5";
  const OutputLayout layout = test_layout();
  build_serial(path, layout);
  CHECK(differences(path, layout).empty());

  QuietHdf5Errors quiet;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  REQUIRE(file.valid());
  Hid h(H5Dopen2(file.get(), "h", H5P_DEFAULT), H5Dclose);
  Hid mean(H5Dopen2(file.get(), "u_mean", H5P_DEFAULT), H5Dclose);
  const char* dims[] = {"ensemble", "time", "lead_time", "lat", "lon"};
  for (unsigned axis = 0; axis < 5; ++axis) {
    Hid scale(H5Dopen2(file.get(), dims[axis], H5P_DEFAULT), H5Dclose);
    CHECK(H5DSis_scale(scale.get()) > 0);
    CHECK(H5DSis_attached(h.get(), scale.get(), axis) > 0);
    if (axis > 0) CHECK(H5DSis_attached(mean.get(), scale.get(), axis - 1) > 0);
  }
  Hid dcpl(H5Dget_create_plist(h.get()), H5Pclose);
  CHECK(H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS);
  H5D_alloc_time_t alloc = H5D_ALLOC_TIME_DEFAULT;
  H5Pget_alloc_time(dcpl.get(), &alloc);
  CHECK(alloc == H5D_ALLOC_TIME_EARLY);
  H5D_fill_time_t fill_time = H5D_FILL_TIME_NEVER;
  H5Pget_fill_time(dcpl.get(), &fill_time);
  CHECK(fill_time == H5D_FILL_TIME_ALLOC);
  double fill = 0.0;
  H5Pget_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &fill);
  CHECK(std::isnan(fill));
  Hid root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  CHECK(read_string_attribute(root.get(), "Conventions", path, "/") == "CF-1.10");
  CHECK(read_string_attribute(root.get(), "title", path, "/") == "stormrun output test");
  CHECK(read_string_attribute(h.get(), "units", path, "h") == "m");
  Hid time(H5Dopen2(file.get(), "time", H5P_DEFAULT), H5Dclose);
  CHECK(read_string_attribute(time.get(), "units", path, "time") ==
        "seconds since 1970-01-01T00:00:00Z");
  std::int64_t seconds[2] = {0, 0};
  REQUIRE(H5Dread(time.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, seconds) >= 0);
  CHECK(seconds[0] == 1704067200);
  CHECK(seconds[1] == 1704067200 + 43200);
}

TEST_CASE("built objects: the CF metadata of a forecast file") {
  TempDir dir("stormrun-io-layout");
  const fs::path path = dir / "built.h5";
  const OutputLayout layout = test_layout();
  build_serial(path, layout);
  QuietHdf5Errors quiet;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  REQUIRE(file.valid());
  const auto attribute = [&](const char* object, const char* name) {
    Hid dset(H5Dopen2(file.get(), object, H5P_DEFAULT), H5Dclose);
    REQUIRE(dset.valid());
    return read_string_attribute(dset.get(), name, path, object);
  };
  CHECK(attribute("ensemble", "standard_name") == "realization");
  CHECK(attribute("time", "standard_name") == "forecast_reference_time");
  CHECK(attribute("lead_time", "standard_name") == "forecast_period");
  CHECK(attribute("lead_time", "units") == "seconds");
  CHECK(attribute("lat", "axis") == "Y");
  CHECK(attribute("lon", "axis") == "X");
  CHECK(attribute("valid_time", "standard_name") == "time");
  CHECK(attribute("valid_time", "units") == "seconds since 1970-01-01T00:00:00Z");
  for (const char* name : {"h", "u", "h_mean", "u_std"})
    CHECK(attribute(name, "coordinates") == "valid_time");
  CHECK(attribute("h_mean", "cell_methods") == "realization: mean");
  CHECK(attribute("u_std", "cell_methods") == "realization: standard_deviation");

  // valid_time [time, lead_time] = start + k * 6 h, the scales of time and lead_time attached.
  Hid valid(H5Dopen2(file.get(), "valid_time", H5P_DEFAULT), H5Dclose);
  REQUIRE(valid.valid());
  std::int64_t values[2][4] = {};
  REQUIRE(H5Dread(valid.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
  for (int t = 0; t < 2; ++t)
    for (int k = 0; k < 4; ++k)
      CHECK(values[t][k] == 1704067200 + t * 43200 + k * 21600);
  Hid time(H5Dopen2(file.get(), "time", H5P_DEFAULT), H5Dclose);
  Hid lead(H5Dopen2(file.get(), "lead_time", H5P_DEFAULT), H5Dclose);
  CHECK(H5DSis_attached(valid.get(), time.get(), 0) > 0);
  CHECK(H5DSis_attached(valid.get(), lead.get(), 1) > 0);
}

TEST_CASE("layout_differences: an output without valid_time (stormrun before it) still matches") {
  TempDir dir("stormrun-io-layout");
  const fs::path path = dir / "built.h5";
  const OutputLayout layout = test_layout();
  build_serial(path, layout);
  {
    QuietHdf5Errors quiet;
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(file.valid());
    // Its values changed: named, with the index and both times.
    Hid valid(H5Dopen2(file.get(), "valid_time", H5P_DEFAULT), H5Dclose);
    std::int64_t values[2][4] = {};
    REQUIRE(H5Dread(valid.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    values[1][2] += 3600;
    REQUIRE(H5Dwrite(valid.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
  }
  auto diffs = differences(path, layout);
  REQUIRE(diffs.size() == 1);
  CHECK(diffs[0] ==
        "auxiliary coordinate valid_time[1, 2]: file 2024-01-02T01:00:00Z, this run "
        "2024-01-02T00:00:00Z");
  {
    QuietHdf5Errors quiet;
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(file.valid());
    REQUIRE(H5Ldelete(file.get(), "valid_time", H5P_DEFAULT) >= 0);
  }
  CHECK(differences(path, layout).empty());
}

TEST_CASE("layout_differences names each kind of difference") {
  TempDir dir("stormrun-io-layout");
  const fs::path path = dir / "built.h5";
  const OutputLayout layout = test_layout();
  build_serial(path, layout);

  OutputLayout other = layout;
  other.fingerprint_hash = "0000";
  other.fingerprint_json = R"({"model":"swe","seed":9,"extra":true})";
  auto diffs = differences(path, other);
  CHECK(any_contains(diffs, "fingerprint: file a1b2c3d4e5f60718, this run 0000"));
  CHECK(any_contains(diffs, "setting /seed: file 7, this run 9"));
  CHECK(any_contains(diffs, "setting /extra: file (unset), this run true"));
  CHECK(any_contains(diffs, "setting /grid: file 8x16, this run (unset)"));

  other = layout;
  other.grid = model::Grid{8, 32};
  diffs = differences(path, other);
  CHECK(any_contains(diffs, "coordinate lon: shape (16) in the file, (32) for this run"));
  CHECK(any_contains(diffs, "dataset h: shape (5, 2, 4, 8, 16) in the file, (5, 2, 4, 8, 32)"));
  CHECK(any_contains(diffs, "dataset h_std: shape (2, 4, 8, 16) in the file, (2, 4, 8, 32)"));

  other = layout;
  other.lead_step = std::chrono::hours(3);
  diffs = differences(path, other);
  REQUIRE(diffs.size() == 1);
  CHECK(diffs[0] == "coordinate lead_time[1]: file 21600, this run 10800");

  other = layout;
  other.statistics = {"mean"};
  diffs = differences(path, other);
  CHECK(any_contains(diffs, "dataset h_std: in the file but not in this run's layout"));
  CHECK(any_contains(diffs, "dataset u_std: in the file but not in this run's layout"));
}

TEST_CASE("read_fingerprint: stormrun outputs only") {
  TempDir dir("stormrun-io-layout");
  const fs::path built = dir / "built.h5";
  const OutputLayout layout = test_layout();
  build_serial(built, layout);
  const auto [hash, json] = OutputFile::read_fingerprint(built);
  CHECK(hash == layout.fingerprint_hash);
  CHECK(json == layout.fingerprint_json);

  const fs::path text = dir / "text.h5";
  std::ofstream(text) << "hello\n";
  CHECK_THROWS_WITH_AS(OutputFile::read_fingerprint(text), doctest::Contains("is not an HDF5 file"),
                       OutputError);
  CHECK_THROWS_WITH_AS(OutputFile::read_fingerprint(dir / "none.h5"),
                       doctest::Contains("none.h5 does not exist"), OutputError);
  const fs::path plain = dir / "plain.h5";
  {
    Hid file(H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    REQUIRE(file.valid());
  }
  CHECK_THROWS_WITH_AS(OutputFile::read_fingerprint(plain),
                       doctest::Contains("not a stormrun output"), OutputError);
}
