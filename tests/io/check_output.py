#!/usr/bin/python3
"""Readers' view of a stormrun output file written by the io tests.

  check_output.py xarray PATH   xarray (engine h5netcdf) sees dims (ensemble, time,
                                lead_time, lat, lon), decoded coords, CF attributes and
                                exactly the values mpi_output wrote (every member and
                                statistic, see output_test_support.hpp for the formula).

The layout and the value formula mirror tests/io/output_test_support.hpp; crash_check.py
imports them from here.
"""
import sys

import numpy as np

FIELDS = [("h", "m", "fluid height"), ("u", "m s-1", "eastward velocity")]
STATS = ["mean", "std"]
NENS = 5
TIMES = np.array(["2024-01-01T00:00:00", "2024-01-01T12:00:00"], dtype="datetime64[ns]")
NLEAD = 4
STEP_S = 6 * 3600
NLAT, NLON = 8, 16
FINGERPRINT = "a1b2c3d4e5f60718"


def _grid():
    t = np.arange(len(TIMES), dtype=np.float64)[:, None, None, None]
    l = np.arange(NLEAD, dtype=np.float64)[None, :, None, None]
    j = np.arange(NLAT, dtype=np.float64)[None, None, :, None]
    i = np.arange(NLON, dtype=np.float64)[None, None, None, :]
    return t, l, j, i


def member_values(field, nens=NENS):
    """[ensemble, time, lead, lat, lon] of field index `field`."""
    t, l, j, i = _grid()
    m = np.arange(nens, dtype=np.float64)[:, None, None, None, None]
    # Summed left to right like the C++ writer, so the doubles are bit-identical.
    return field * 100000.0 + m * 1000.0 + t * 100.0 + l * 10.0 + j * 0.01 + i * 0.0001


def statistic_values(field, stat):
    t, l, j, i = _grid()
    return -(stat + 1) * 100000.0 - field * 10000.0 + t * 100.0 + l * 10.0 + j * 0.01 + i * 0.0001


def expected_lead_ns():
    return (np.arange(NLEAD) * np.timedelta64(STEP_S, "s")).astype("timedelta64[ns]")


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def check_xarray(path):
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        check(dict(ds.sizes) == {"ensemble": NENS, "time": len(TIMES), "lead_time": NLEAD,
                                 "lat": NLAT, "lon": NLON}, f"dims {dict(ds.sizes)}")
        for name in ("ensemble", "time", "lead_time", "lat", "lon"):
            check(name in ds.coords, f"coordinate {name} missing: {list(ds.coords)}")
        check(np.array_equal(ds["ensemble"].values, np.arange(NENS)), "ensemble values")
        check(ds["time"].dtype.kind == "M", f"time decoded to datetime64, got {ds['time'].dtype}")
        check(np.array_equal(ds["time"].values, TIMES), f"time values {ds['time'].values}")
        check(ds["lead_time"].dtype.kind == "m",
              f"lead_time decoded to timedelta64, got {ds['lead_time'].dtype}")
        expected_lead = np.arange(NLEAD) * np.timedelta64(STEP_S, "s")
        check(np.array_equal(ds["lead_time"].values, expected_lead.astype("timedelta64[ns]")),
              f"lead_time values {ds['lead_time'].values}")
        lat = -90.0 + (np.arange(NLAT) + 0.5) * 180.0 / NLAT
        lon = np.arange(NLON) * 360.0 / NLON
        check(np.allclose(ds["lat"].values, lat, rtol=0, atol=1e-12), "lat values")
        check(np.allclose(ds["lon"].values, lon, rtol=0, atol=1e-12), "lon values")
        check(ds["lat"].attrs.get("units") == "degrees_north", "lat units")
        check(ds["lat"].attrs.get("standard_name") == "latitude", "lat standard_name")
        check(ds["lon"].attrs.get("units") == "degrees_east", "lon units")
        check(ds["lon"].attrs.get("standard_name") == "longitude", "lon standard_name")
        check(ds["time"].attrs.get("standard_name") == "forecast_reference_time",
              "time standard_name")
        check(ds["lead_time"].attrs.get("standard_name") == "forecast_period",
              "lead_time standard_name")
        check(ds["ensemble"].attrs.get("standard_name") == "realization",
              "ensemble standard_name")
        # valid_time: a coordinate through each field's `coordinates` attribute, decoded.
        check("valid_time" in ds.coords and ds["valid_time"].dims == ("time", "lead_time"),
              f"valid_time coordinate: {list(ds.coords)}")
        check(np.array_equal(ds["valid_time"].values,
                             TIMES[:, None] + expected_lead_ns()[None, :]),
              f"valid_time values {ds['valid_time'].values}")
        check(ds["time"].encoding.get("units") == "seconds since 1970-01-01T00:00:00Z",
              f"time units {ds['time'].encoding.get('units')}")
        check(ds["time"].encoding.get("calendar") == "proleptic_gregorian", "time calendar")
        check(ds["lead_time"].attrs.get("long_name") == "lead time", "lead_time long_name")

        check(ds.attrs.get("stormrun_fingerprint") == FINGERPRINT, "root stormrun_fingerprint")
        check('"seed":7' in ds.attrs.get("stormrun_fingerprint_json", ""), "fingerprint json")
        check(int(ds.attrs.get("stormrun_format")) == 2, "stormrun_format")
        check(ds.attrs.get("Conventions") == "CF-1.10", "Conventions")
        check(ds.attrs.get("title") == "stormrun output test", "caller attribute title")

        expected_vars = {name for name, _, _ in FIELDS}
        expected_vars |= {f"{name}_{stat}" for name, _, _ in FIELDS for stat in STATS}
        check(set(ds.data_vars) == expected_vars, f"data variables {sorted(ds.data_vars)}")
        for f, (name, units, long_name) in enumerate(FIELDS):
            var = ds[name]
            check(var.dims == ("ensemble", "time", "lead_time", "lat", "lon"),
                  f"{name} dims {var.dims}")
            check(var.dtype == np.float64, f"{name} dtype")
            check(var.attrs.get("units") == units, f"{name} units")
            check(var.attrs.get("long_name") == long_name, f"{name} long_name")
            check(np.array_equal(var.values, member_values(f)), f"{name} values")
            for s, stat in enumerate(STATS):
                sv = ds[f"{name}_{stat}"]
                check(sv.dims == ("time", "lead_time", "lat", "lon"), f"{name}_{stat} dims {sv.dims}")
                check(sv.attrs.get("units") == units, f"{name}_{stat} units")
                check(np.array_equal(sv.values, statistic_values(f, s)), f"{name}_{stat} values")
    check_step_checksums(path)
    print(f"check_output: {path} reads correctly through xarray/h5netcdf")


def step_checksum(slabs):
    """The step checksum (docs/checkpoint-format.md, "Output evidence"): XXH3-64 over the
    XXH3-64 digests of each field's slab, 0 stored as 1."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

    def xxh3(data):
        return lib.XXH3_64bits(data, len(data))
    digests = b"".join(xxh3(np.ascontiguousarray(slab, "<f8").tobytes()).to_bytes(8, "little")
                       for slab in slabs)
    return xxh3(digests) or 1


def check_step_checksums(path):
    """/stormrun/step_checksum: hidden from xarray's root dataset, read as a group with dims
    (ensemble, time, lead_time), and every entry the checksum of the fields' bytes there."""
    import h5py
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf", group="stormrun") as g:
        var = g["step_checksum"]
        check(var.dims == ("ensemble", "time", "lead_time"), f"step_checksum dims {var.dims}")
        check(var.dtype == np.uint64, f"step_checksum dtype {var.dtype}")
        values = var.values
    with h5py.File(path, "r") as f:
        check(f["stormrun/step_checksum"].attrs["fields"] == " ".join(n for n, _, _ in FIELDS),
              "step_checksum fields attribute")
        data = [f[name][()] for name, _, _ in FIELDS]
    for m in range(NENS):
        for t in range(len(TIMES)):
            for lead in range(NLEAD):
                want = step_checksum([d[m, t, lead] for d in data])
                check(int(values[m, t, lead]) == want,
                      f"step_checksum[{m}, {t}, {lead}] = {values[m, t, lead]}, the fields "
                      f"hash to {want}")


def main(argv):
    if len(argv) == 3 and argv[1] == "xarray":
        check_xarray(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except AssertionError as e:
        print(f"check_output: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
