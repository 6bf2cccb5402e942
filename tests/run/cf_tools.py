#!/usr/bin/python3
"""The field's own tools read a real stormrun output (Debian's netcdf-bin, nco, cdo).

A real run on 2 MPI ranks (ensemble of 3 members, 2 start times, 8x16 grid, 3 one-hour
steps, statistics mean,std), then:
  cf       the CF metadata: Conventions CF-1.10, standard names realization,
           forecast_reference_time, forecast_period, the 2-D valid_time (standard_name time,
           values start + lead) named by every field's `coordinates`, axis X/Y, cell_methods;
  ncdump   `ncdump -h` declares every dataset of the file (the bookkeeping group too) with
           its dims, and `ncdump -p 9,17 -v NAME` prints every variable's values equal to the
           HDF5 bytes (read with h5py);
  ncks     NCO's `ncks -H -C -s FORMAT -v NAME` prints every variable's values, equal to the
           HDF5 bytes;
  cdo      on the output file: the statistics, values equal to the HDF5 bytes;
           scripts/stormrun-export-cdo writes per start time one file per member and one of
           the statistics (twice: the same bytes); `cdo sinfon` lists every variable (none
           skipped), the time axis is the valid time, `cdo outputf,%.17g` of every variable
           equals the HDF5 bytes,
           `cdo infon` gives the same min/mean/max as numpy, and `cdo ensmean` of the
           member files gives the stormrun ensemble mean.

    cf_tools.py --stormrun PATH --mpiexec PATH --export PATH

Exits 77 (CTest: skipped) naming what is missing when ncdump, ncks, cdo or python3-netcdf4
are not installed (scripts/setup installs them; CI has them).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

SKIP = 77
from e2e import MPI_ENV  # noqa: E402  (Open MPI as root, PMIX_MCA_gds: one list)
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"
NENS, NSTEPS, DT, NLAT, NLON = 3, 3, 3600, 8, 16
CONFIG = ["run", "--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", f"{NLAT}x{NLON}", "--start-time", T0, "--start-time", T1,
          "--nsteps", str(NSTEPS), "--dt", str(DT), "--nensemble", str(NENS),
          "--perturbation", "gaussian", "--seed", "11", "--statistics", "mean,std",
          "--batch-size", str(NENS), "--quiet"]
FIELDS = ("h", "u", "v")
STATS = ("mean", "std")

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"  FAIL: {what}", flush=True)
    return condition


def run(cmd, what, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"cf_tools: {what}: `{' '.join(cmd)}` exit {p.returncode}\n"
                         f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def hdf5_variables(path):
    """name -> numpy array of every dataset (the bookkeeping group's as 'stormrun/...')."""
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def number_format(array):
    if array.dtype.kind == "f":
        return "%.17g"
    return "%llu" if array.dtype.kind == "u" else "%lld"


def parse_numbers(tokens, dtype):
    if dtype.kind == "f":
        return np.array([float(t) for t in tokens], dtype=np.float64)
    return np.array([int(t) for t in tokens], dtype=dtype)


def same(values, expected):
    """Equal as float64/int bytes, NaN where NaN."""
    values = np.asarray(values).reshape(-1)
    expected = np.asarray(expected).reshape(-1)
    if values.size != expected.size:
        return False
    return values.astype(expected.dtype).tobytes() == expected.tobytes()


# ---- the CF metadata ---------------------------------------------------------------
def check_cf(path):
    print("cf: the CF attributes", flush=True)
    with h5py.File(path, "r") as f:
        a = lambda obj, name: text(obj.attrs.get(name, ""))  # noqa: E731
        check(a(f, "Conventions") == "CF-1.10", f"Conventions {a(f, 'Conventions')!r}")
        check(a(f["ensemble"], "standard_name") == "realization", "ensemble standard_name")
        check(a(f["time"], "standard_name") == "forecast_reference_time",
              "time standard_name")
        check(a(f["lead_time"], "standard_name") == "forecast_period",
              "lead_time standard_name")
        check(a(f["lead_time"], "units") == "seconds", "lead_time units")
        check(a(f["lat"], "axis") == "Y" and a(f["lon"], "axis") == "X", "lat/lon axis")
        valid = f["valid_time"]
        check(a(valid, "standard_name") == "time", "valid_time standard_name")
        check(a(valid, "units") == "seconds since 1970-01-01T00:00:00Z", "valid_time units")
        check(np.array_equal(valid[()], f["time"][()][:, None] + f["lead_time"][()][None, :]),
              f"valid_time values {valid[()]}")
        for name in FIELDS + tuple(f"{v}_{s}" for v in FIELDS for s in STATS):
            check(a(f[name], "coordinates") == "valid_time", f"{name} coordinates")
        for v in FIELDS:
            check(a(f[f"{v}_mean"], "cell_methods") == "realization: mean", f"{v}_mean methods")
            check(a(f[f"{v}_std"], "cell_methods") == "realization: standard_deviation",
                  f"{v}_std cell_methods")


# ---- ncdump ------------------------------------------------------------------------
def cdl_values(cdl, name):
    """The numbers of `name = ... ;` in the data section of a CDL dump."""
    start = re.search(r"\n\s*data:", cdl)
    if not start:
        return None
    data = cdl[start.start():]
    m = re.search(r"\n\s*" + re.escape(name) + r"\s*=\s*(.*?);", data, re.S)
    if not m:
        return None
    return [t for t in re.split(r"[,\s]+", m.group(1)) if t]


def check_ncdump(path, variables):
    print("ncdump: the header declares every dataset; every variable's values", flush=True)
    header = run(["ncdump", "-h", path], "ncdump -h").stdout
    with h5py.File(path, "r") as f:
        # A coordinate is its own dimension scale; the others have scales attached.
        dims = {name: [name] if h5py.h5ds.is_scale(f[name].id)
                else [os.path.basename(d[0].name) for d in f[name].dims] for name in variables}
    for name, values in variables.items():
        base = os.path.basename(name)
        decl = f"{base}({', '.join(dims[name])})" if dims[name] else base
        check(re.search(r"\b" + re.escape(decl) + r" ;", header) is not None,
              f"ncdump -h has no declaration {decl}")
        group = os.path.dirname(name)
        cmd = ["ncdump", "-p", "9,17", "-v", base]
        if group:
            cmd += ["-g", group]
        tokens = cdl_values(run(cmd + [path], f"ncdump -v {name}").stdout, base)
        if not check(tokens is not None, f"ncdump -v {name}: no data"):
            continue
        check(same(parse_numbers(tokens, values.dtype), values),
              f"ncdump -v {name}: values differ from the HDF5 bytes")
    check('string :Conventions = "CF-1.10"' in header, "ncdump -h: Conventions")
    check('string time:standard_name = "forecast_reference_time"' in header,
          "ncdump -h: forecast_reference_time")
    check('string valid_time:standard_name = "time"' in header, "ncdump -h: valid_time")


# ---- NCO ---------------------------------------------------------------------------
def check_ncks(path, variables):
    print("ncks: every variable's values", flush=True)
    for name, values in variables.items():
        fmt = number_format(values) + "\\n"
        out = run(["ncks", "-H", "-C", "--no_blank", "-s", fmt.replace("\\n", "\n"),
                   "-v", "/" + name, path], f"ncks -v {name}").stdout
        check(same(parse_numbers(out.split(), values.dtype), values),
              f"ncks -v {name}: values differ from the HDF5 bytes "
              f"({len(out.split())} numbers, {values.size} expected)")


# ---- CDO on the export -------------------------------------------------------------
def cdo(args, what):
    p = run(["cdo"] + args, what)
    return p.stdout, p.stderr


def check_cdo_raw(path, variables):
    """CDO on the output file itself: the statistics (time first) are read, lead_time as
    its levels; the members are not (docs/user-guide.md: the export is for them)."""
    print("cdo: the output file itself: the statistics", flush=True)
    stats = [f"{v}_{s}" for v in FIELDS for s in STATS]
    out, _ = cdo(["sinfon", path], f"cdo sinfon {path}")
    got = re.findall(r"^\s+\d+ :.*:\s+(\S+)\s*$", out.split("Grid coordinates")[0], re.M)
    check(got == stats, f"cdo sinfon {path}: variables {got}, expected {stats}")
    for name in stats:
        values, _ = cdo(["-s", "outputf,%.17g,1", f"-selname,{name}", path], f"cdo outputf {name}")
        check(same(parse_numbers(values.split(), np.dtype(np.float64)), variables[name]),
              f"cdo outputf of {name} in the output file: values differ from the HDF5 bytes")


def check_cdo(path, export, outdir, variables):
    print("cdo: the export for CDO, every variable of every file", flush=True)
    listed = run([sys.executable, export, path, outdir], "stormrun-export-cdo").stdout.split()
    stem = os.path.splitext(os.path.basename(path))[0]
    times = variables["time"]
    valid = variables["valid_time"]
    want = []
    for start in ("20260101T000000Z", "20260101T120000Z"):
        want += [os.path.join(outdir, f"{stem}_{start}_member{m:03d}.nc") for m in range(NENS)]
        want.append(os.path.join(outdir, f"{stem}_{start}_stats.nc"))
    check(listed == want, f"export wrote {listed}, expected {want}")
    # No timestamp in the export: the same output exports to the same bytes.
    again = run([sys.executable, export, path, outdir + "-again"], "export again").stdout.split()
    for first, second in zip(listed, again):
        with open(first, "rb") as a, open(second, "rb") as b:
            check(a.read() == b.read(), f"{first} and {second}: two exports differ")
    for ti in range(len(times)):
        files = want[ti * (NENS + 1):(ti + 1) * (NENS + 1)]
        for fi, nc in enumerate(files):
            member = fi if fi < NENS else None
            names = FIELDS if member is not None else tuple(
                f"{v}_{s}" for v in FIELDS for s in STATS)
            out, err = cdo(["sinfon", nc], f"cdo sinfon {nc}")
            check("skipped" not in err and "Unsupported" not in err,
                  f"cdo sinfon {nc}: {err.strip()}")
            got = re.findall(r"^\s+\d+ :.*:\s+(\S+)\s*$", out.split("Grid coordinates")[0], re.M)
            check(got == list(names), f"cdo sinfon {nc}: variables {got}, expected {names}")
            check("generic" not in out, f"cdo sinfon {nc}: a generic (vertical) axis:\n{out}")
            stamps, _ = cdo(["-s", "showtimestamp", nc], f"cdo showtimestamp {nc}")
            expected_stamps = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(s)))
                               for s in valid[ti]]
            check(stamps.split() == expected_stamps,
                  f"cdo showtimestamp {nc}: {stamps.split()}, expected {expected_stamps}")
            info, _ = cdo(["-s", "infon", nc], f"cdo infon {nc}")
            rows = [line.split() for line in info.splitlines()[1:] if line.strip()]
            check(len(rows) == len(names) * (NSTEPS + 1),
                  f"cdo infon {nc}: {len(rows)} records, expected {len(names) * (NSTEPS + 1)}")
            for name in names:
                source = variables[name]
                expected = source[member, ti] if member is not None else source[ti]
                values, _ = cdo(["-s", "outputf,%.17g,1", f"-selname,{name}", nc],
                                f"cdo outputf {name} {nc}")
                check(same(parse_numbers(values.split(), expected.dtype), expected),
                      f"cdo outputf of {name} in {nc}: values differ from the HDF5 bytes")
                for k, row in enumerate(r for r in rows if r[-1] == name):
                    lo, mean, hi = (float(row[i]) for i in (-5, -4, -3))
                    slab = expected[k]
                    check(np.allclose([lo, mean, hi], [slab.min(), slab.mean(), slab.max()],
                                      rtol=1e-4, atol=1e-6),
                          f"cdo infon {name} step {k} of {nc}: {lo} {mean} {hi}, numpy "
                          f"{slab.min()} {slab.mean()} {slab.max()}")
        ens = os.path.join(outdir, f"ensmean_{ti}.nc")
        cdo(["-s", "ensmean"] + files[:NENS] + [ens], "cdo ensmean")
        for v in FIELDS:
            values, _ = cdo(["-s", "outputf,%.17g,1", f"-selname,{v}", ens], "cdo outputf")
            mean = parse_numbers(values.split(), np.dtype(np.float64))
            check(np.allclose(mean, variables[f"{v}_mean"][ti].reshape(-1), rtol=1e-12, atol=0),
                  f"cdo ensmean of the member files: {v} differs from {v}_mean")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--export", required=True, help="scripts/stormrun-export-cdo")
    args = parser.parse_args()
    missing = [tool for tool in ("ncdump", "ncks", "cdo") if shutil.which(tool) is None]
    try:
        import netCDF4  # noqa: F401
    except ImportError:
        missing.append("python3-netcdf4")
    if missing:
        print(f"cf_tools: SKIPPED: {', '.join(missing)} not installed (scripts/setup installs "
              "netcdf-bin, nco, cdo and python3-netcdf4)")
        return SKIP

    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="stormrun-cftools-")
    try:
        out = os.path.join(work, "forecast.h5")
        env = dict(os.environ, **MPI_ENV)
        run([args.mpiexec, "-n", "2", args.stormrun] + CONFIG + ["--output", out],
            "stormrun run on 2 ranks", env=env)
        variables = hdf5_variables(out)
        print(f"run: {out}: {len(variables)} datasets "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        check("stormrun/step_checksum" in variables and "valid_time" in variables,
              f"datasets {sorted(variables)}")
        check_cf(out)
        check_ncdump(out, variables)
        check_ncks(out, variables)
        check_cdo_raw(out, variables)
        check_cdo(out, args.export, os.path.join(work, "cdo"), variables)
    finally:
        if os.environ.get("STORMRUN_KEEP_TMP") == "1":
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"cf_tools: {time.monotonic() - started:.1f} s, "
          f"{'FAILED: ' + str(len(failures)) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
