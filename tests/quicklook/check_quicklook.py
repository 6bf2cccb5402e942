#!/usr/bin/python3
"""scripts/stormrun-quicklook on the output of real small runs (stormrun run under mpirun,
2 ranks, a 16x32 grid): a diagnostic run of 3 perturbed members (h, u, v and the
diagnostics), an ensemble run with the file's own statistics, and an ensemble run stopped
part-way.

  check_quicklook.py --stormrun BIN --mpiexec MPIRUN --quicklook SCRIPT pictures|errors

pictures: every PNG the command prints exists, is a PNG that decodes to the size it says,
  is not blank (pixel spread in each plot area), and its colour scale spans the data's
  range and no more: the limits of its sidecar (--sidecar) hold vmin <= min and vmax >= max
  of the data read here with h5py, and are at most 10 % wider; the map's pixels at the
  cells of the data's minimum and maximum have the colormap's two end colours. The time
  series' values are the area-weighted reductions computed here, and its y range spans
  them.
errors: a missing file, a file that is not stormrun's, an unknown field, member, start time
  or lead time, a lead time not written yet, a time series of a file without diagnostics:
  each exits non-zero, names the file/option/value at fault, and writes no PNG.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "run"))
from e2e import MPI_ENV  # noqa: E402  (Open MPI as root, PMIX_MCA_gds: one list)
T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T12:00:00Z"
COMMON = ["--model", "swe", "--initial-condition", "galewsky", "--grid", "16x32",
          "--nsteps", "4", "--dt", "3600", "--nensemble", "3",
          "--perturbation", "gaussian", "--noise-amplitude", "20", "--seed", "11",
          "--batch-size", "2", "--quiet"]
DIAGNOSTIC = ["--workflow", "diagnostic", "--output-variables", "h,u,v",
              "--diagnostics", "vorticity,wind_speed", "--start-time", T0] + COMMON
ENSEMBLE = ["--workflow", "ensemble", "--statistics", "mean,std", "--start-time", T1] + COMMON
NLEAD = 5
LEADS = [3600 * k for k in range(NLEAD)]
WIDER = 1.10  # colour limits at most 10 % wider than the data's range

failures = []


def check(ok, message):
    if not ok:
        print(f"FAIL: {message}", flush=True)
        failures.append(message)
    return ok


class Ctx:
    def __init__(self, args):
        self.stormrun, self.mpiexec, self.script = args.stormrun, args.mpiexec, args.quicklook
        self.work = tempfile.mkdtemp(prefix="stormrun-quicklook-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STORMRUN_")}
        self.env.update(MPI_ENV)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def run(self, args, output, expect=0):
        argv = [self.mpiexec, "-np", "2", "--oversubscribe", self.stormrun, "run"] + args + \
            ["--output", self.path(output)]
        start = time.monotonic()
        p = subprocess.run(argv, env=self.env, cwd=self.work, capture_output=True, text=True,
                           timeout=120)
        print(f"  [{time.monotonic() - start:4.1f}s] exit {p.returncode}: stormrun run "
              f"{' '.join(args[:2])} -> {output}", flush=True)
        if p.returncode != expect:
            print(p.stdout[-3000:], p.stderr[-3000:])
            sys.exit(f"FAIL: stormrun run exited {p.returncode}, expected {expect}")
        return self.path(output)

    def quicklook(self, args):
        argv = [self.script] + args
        start = time.monotonic()
        p = subprocess.run(argv, env=self.env, cwd=self.work, capture_output=True, text=True,
                           timeout=120)
        print(f"  [{time.monotonic() - start:4.1f}s] exit {p.returncode}: stormrun-quicklook "
              f"{' '.join(args)}", flush=True)
        return p

    def quicklook_together(self, commands):
        """name -> args: run every command at once (they are independent); name -> result."""
        start = time.monotonic()
        procs = {name: subprocess.Popen([self.script] + args, env=self.env, cwd=self.work,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                 for name, args in commands.items()}
        results = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
            print(f"  exit {proc.returncode}: stormrun-quicklook {' '.join(commands[name])}",
                  flush=True)
        print(f"  [{time.monotonic() - start:4.1f}s] {len(commands)} stormrun-quicklook "
              f"commands together", flush=True)
        return results


# ---- the pictures ---------------------------------------------------------------------
def edges(centres):
    d = centres[1] - centres[0]
    return np.concatenate([centres - d / 2, [centres[-1] + d / 2]])


def decode(png):
    with open(png, "rb") as f:
        if not check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{png}: not a PNG (signature)"):
            return None
    image = matplotlib.image.imread(png)  # decodes every chunk (CRC, zlib)
    return image[..., :3]


def plot_area(image, panel, png):
    left, top, right, bottom = panel["bbox_px"]
    h, w, _ = image.shape
    if not check(0 <= left < right <= w and 0 <= top < bottom <= h and right - left > 50
                 and bottom - top > 30, f"{png}: plot area {panel['bbox_px']} outside the "
                                        f"{w}x{h} image or too small"):
        return None
    return image[top:bottom, left:right]


def check_not_blank(area, png, what, min_colours):
    spread = float(area.reshape(-1, 3).std(axis=0).max())
    colours = len(np.unique((area * 255).round().astype(np.uint8).reshape(-1, 3), axis=0))
    check(spread > 0.05, f"{png}: {what} is blank (pixel std {spread:.4f})")
    check(colours >= min_colours, f"{png}: {what} has {colours} colours (< {min_colours})")


def check_limits(panel, data, png, what):
    lo, hi = float(data.min()), float(data.max())
    vmin, vmax = panel.get("vmin", panel.get("ymin")), panel.get("vmax", panel.get("ymax"))
    check(vmin <= lo and vmax >= hi,
          f"{png}: {what}: scale {vmin:.6g}..{vmax:.6g} does not span the data {lo:.6g}..{hi:.6g}")
    check(vmax - vmin <= WIDER * (hi - lo),
          f"{png}: {what}: scale {vmin:.6g}..{vmax:.6g} is more than {WIDER - 1:.0%} wider than "
          f"the data {lo:.6g}..{hi:.6g}")


def check_map_colours(image, area, panel, data, lat, lon, png, what):
    """The cells holding the data's minimum and maximum show the colormap's ends, with north
    at the top."""
    left, top, right, bottom = panel["bbox_px"]
    lon_e, lat_e = edges(lon), np.clip(edges(lat), -90, 90)
    cmap = plt.get_cmap(panel["cmap"])
    for where, fraction in ((np.argmin(data), 0.0), (np.argmax(data), 1.0)):
        i, j = np.unravel_index(where, data.shape)
        x = left + (lon[j] - lon_e[0]) / (lon_e[-1] - lon_e[0]) * (right - left)
        y = bottom - (lat[i] - lat_e[0]) / (lat_e[-1] - lat_e[0]) * (bottom - top)
        got = image[int(round(y)), int(round(x))]
        want = np.array(cmap(fraction)[:3])
        check(np.abs(got - want).max() <= 2.5 / 255,
              f"{png}: {what}: the cell of the data's {'max' if fraction else 'min'} "
              f"(lat {lat[i]:.1f}, lon {lon[j]:.1f}) has colour {np.round(got * 255)}, the "
              f"colormap's end {np.round(want * 255)}")


def check_png(ctx, png, expect_kind, data_of):
    """data_of(panel) -> the data (read here) the panel shows."""
    if not check(os.path.isfile(png) and os.path.getsize(png) > 0, f"{png} is missing"):
        return None
    sidecar = os.path.splitext(png)[0] + ".json"
    if not check(os.path.isfile(sidecar), f"{sidecar} (--sidecar) is missing"):
        return None
    with open(sidecar) as f:
        record = json.load(f)
    check(record["kind"] == expect_kind, f"{png}: kind {record['kind']}, expected {expect_kind}")
    image = decode(png)
    if image is None:
        return None
    check(list(image.shape[1::-1]) == record["image_px"],
          f"{png}: decoded {image.shape[1]}x{image.shape[0]}, sidecar says {record['image_px']}")
    with h5py.File(ctx.path(os.path.basename(record["file"])), "r") as f:
        lat, lon = f["lat"][()], f["lon"][()]
    for panel in record["panels"]:
        what = panel["name"]
        area = plot_area(image, panel, png)
        if area is None:
            continue
        data = data_of(panel)
        check_limits(panel, data, png, what)
        if expect_kind == "timeseries":
            check_not_blank(area, png, what, min_colours=4)
            near_black = (area.max(axis=2) < 0.15).mean()
            check(near_black > 0.002, f"{png}: no thick ensemble-mean line in the plot area "
                                      f"({near_black:.4%} near-black pixels)")
        else:
            check_not_blank(area, png, what, min_colours=20)
            check_map_colours(image, area, panel, data, lat, lon, png, what)
    return record


def printed_pngs(p):
    return [line for line in p.stdout.splitlines() if line.strip()]


def area_reduce(data, lat, how):
    w = np.cos(np.radians(lat))[:, None] * np.ones(data.shape[-1])
    w = w / w.sum()
    if how == "mean":
        return (data * w).sum(axis=(-2, -1))
    if how == "rms":
        return np.sqrt((data ** 2 * w).sum(axis=(-2, -1)))
    return data.max(axis=(-2, -1)) if how == "max" else data.min(axis=(-2, -1))


def case_pictures(ctx):
    diag = ctx.run(DIAGNOSTIC, "diag.h5")
    ens = ctx.run(ENSEMBLE, "ens.h5")
    part = ctx.run(ENSEMBLE + ["--stop-after-steps", "2", "--checkpoint-dir",
                               ctx.path("part.ckpt")], "part.h5", expect=75)
    out = ctx.path("pictures")
    # -o needs its directory to exist (--out-dir creates it): made here, not by the "all"
    # command that runs beside it.
    os.makedirs(out, exist_ok=True)
    vort_png = os.path.join(out, "vorticity-m2.png")
    run = ctx.quicklook_together({
        # The defaults: the first field (h), member 0, the last lead time, all members, the
        # first diagnostic (vorticity), RMS.
        "all": ["all", diag, "--out-dir", out, "--sidecar"],
        # One picture at an explicit path; a signed field.
        "map": ["map", diag, "--field", "vorticity", "--member", "2", "--lead-time", "2h",
                "-o", vort_png, "--sidecar"],
        "timeseries": ["timeseries", diag, "--diagnostic", "wind_speed", "--reduce", "mean",
                       "--members", "0,2", "--out-dir", out, "--sidecar"],
        "ensemble-file": ["ensemble", ens, "--field", "u", "--lead-time", "3h", "--out-dir",
                          out, "--sidecar"],
        "ensemble-members": ["ensemble", ens, "--field", "u", "--lead-time", "3h",
                             "--members", "0,2", "--out-dir", out, "--sidecar"],
        "partial": ["map", part, "--out-dir", out, "--sidecar"],
    })

    p = run["all"]
    pngs = printed_pngs(p)
    check(p.returncode == 0, f"all {diag}: exit {p.returncode}: {p.stderr}")
    check(len(pngs) == 3, f"all {diag} printed {len(pngs)} paths, expected 3: {pngs}")
    with h5py.File(diag, "r") as f:
        h = f["h"][()]
        vort = f["vorticity"][()]
        wind = f["wind_speed"][()]
        lat = f["lat"][()]
    kinds = {}
    for png in pngs:
        kinds[os.path.basename(png).split("-")[1]] = png
    check(sorted(kinds) == ["ensemble", "map", "timeseries"], f"all wrote {sorted(kinds)}")
    if "map" in kinds:
        r = check_png(ctx, kinds["map"], "map", lambda panel: h[0, 0, NLEAD - 1])
        if r:
            check(r["field"] == "h" and r["member"] == 0 and r["lead_time_s"] == LEADS[-1],
                  f"map defaults: field {r['field']}, member {r['member']}, lead "
                  f"{r['lead_time_s']} s; expected h, 0, {LEADS[-1]}")
    if "ensemble" in kinds:
        def diag_ensemble(panel):
            return h[:, 0, NLEAD - 1].mean(axis=0) if panel["name"] == "mean" else \
                h[:, 0, NLEAD - 1].std(axis=0)
        r = check_png(ctx, kinds["ensemble"], "ensemble", diag_ensemble)
        if r:
            check(r["statistics"] == "members" and r["members"] == [0, 1, 2],
                  f"ensemble of a file without statistics: {r['statistics']}, members "
                  f"{r['members']}; expected computed from members 0-2")
    if "timeseries" in kinds:
        series = area_reduce(vort[:, 0], lat, "rms")  # [member, lead]
        r = check_png(ctx, kinds["timeseries"], "timeseries", lambda panel: np.concatenate(
            [series.ravel(), series.mean(axis=0)]))
        if r:
            panel = r["panels"][0]
            got = np.array([panel["members"][str(m)] for m in range(3)])
            check(r["field"] == "vorticity" and r["reduce"] == "rms",
                  f"timeseries defaults: {r['field']} {r['reduce']}")
            check(np.allclose(got, series, rtol=1e-12, atol=0),
                  f"timeseries values {got} differ from the RMS computed here {series}")
            check(np.allclose(panel["mean"], series.mean(axis=0), rtol=1e-12),
                  "timeseries mean is not the mean of the members' values")

    # One picture at an explicit path; a signed field (diverging colormap centred on zero).
    png = vort_png
    p = run["map"]
    check(p.returncode == 0 and printed_pngs(p) == [png], f"map -o: exit {p.returncode}, "
                                                          f"printed {printed_pngs(p)}")
    r = check_png(ctx, png, "map", lambda panel: vort[2, 0, 2])
    if r:
        check(r["panels"][0]["norm"].startswith("two-slope"),
              f"{png}: a field of both signs is not centred on zero: {r['panels'][0]['norm']}")

    # A diagnostic reduced by the area mean, two members.
    p = run["timeseries"]
    check(p.returncode == 0 and len(printed_pngs(p)) == 1, f"timeseries wind_speed: exit "
                                                          f"{p.returncode} {p.stderr}")
    series = area_reduce(wind[[0, 2], 0], lat, "mean")
    if printed_pngs(p):
        r = check_png(ctx, printed_pngs(p)[0], "timeseries",
                      lambda panel: np.concatenate([series.ravel(), series.mean(axis=0)]))
        if r:
            got = np.array([r["panels"][0]["members"][m] for m in ("0", "2")])
            check(np.allclose(got, series, rtol=1e-12), f"wind_speed means {got} != {series}")

    # The file's own statistics (and the title says so), then the same from two members.
    with h5py.File(ens, "r") as f:
        u = f["u"][()]
        u_mean, u_std = f["u_mean"][()], f["u_std"][()]
    p = run["ensemble-file"]
    check(p.returncode == 0 and len(printed_pngs(p)) == 1, f"ensemble {ens}: exit "
                                                          f"{p.returncode} {p.stderr}")
    if printed_pngs(p):
        r = check_png(ctx, printed_pngs(p)[0], "ensemble",
                      lambda panel: (u_mean if panel["name"] == "mean" else u_std)[0, 3])
        if r:
            check(r["statistics"] == "file" and
                  [pn["dataset"] for pn in r["panels"]] == ["u_mean", "u_std"] and
                  all("the file's" in pn["source"] for pn in r["panels"]),
                  f"ensemble of a file with statistics: {r['statistics']}, panels "
                  f"{[(pn['dataset'], pn['source']) for pn in r['panels']]}")
    p = run["ensemble-members"]
    sel = u[[0, 2], 0, 3]
    if check(p.returncode == 0 and len(printed_pngs(p)) == 1, f"ensemble --members 0,2: exit "
                                                              f"{p.returncode} {p.stderr}"):
        r = check_png(ctx, printed_pngs(p)[0], "ensemble",
                      lambda panel: (sel.mean(axis=0) if panel["name"] == "mean"
                                     else sel.std(axis=0)))
        if r:
            check(r["statistics"] == "members" and r["members"] == [0, 2],
                  f"--members 0,2: {r['statistics']} {r['members']}")

    # A run stopped part-way: the default lead time is the last one written.
    with h5py.File(part, "r") as f:
        done = f["stormrun/step_checksum"][()] != 0
        last = max(k for k in range(NLEAD) if done[:, 0, k].all())
        h_part = f["h"][0, 0, last]
    check(last < NLEAD - 1, f"the stopped run wrote every step ({done.tolist()})")
    p = run["partial"]
    if check(p.returncode == 0 and len(printed_pngs(p)) == 1, f"map of {part}: exit "
                                                              f"{p.returncode} {p.stderr}"):
        r = check_png(ctx, printed_pngs(p)[0], "map", lambda panel: h_part)
        if r:
            check(r["lead_time_s"] == LEADS[last], f"map of a stopped run: lead "
                                                  f"{r['lead_time_s']} s, expected the last "
                                                  f"written {LEADS[last]} s")


# ---- the errors ---------------------------------------------------------------------
def expect_error(ctx, args, code, needles, out):
    before = set(os.listdir(out)) if os.path.isdir(out) else set()
    p = ctx.quicklook(args + ["--out-dir", out])
    label = " ".join(args)
    check(p.returncode == code, f"{label}: exit {p.returncode}, expected {code}\n{p.stderr}")
    for needle in needles:
        check(needle in p.stderr, f"{label}: the message does not name '{needle}': {p.stderr!r}")
    check(p.stdout.strip() == "", f"{label}: printed {p.stdout!r} on an error")
    after = set(os.listdir(out)) if os.path.isdir(out) else set()
    check(after == before, f"{label}: wrote {sorted(after - before)} on an error")
    check("Traceback" not in p.stderr, f"{label}: a traceback instead of a message")


def case_errors(ctx):
    diag = ctx.run(DIAGNOSTIC, "diag.h5")
    ens = ctx.run(ENSEMBLE, "ens.h5")
    ctx.run(ENSEMBLE + ["--stop-after-steps", "2", "--checkpoint-dir", ctx.path("part.ckpt")],
            "part.h5", expect=75)
    part = ctx.path("part.h5")
    out = ctx.path("pictures")
    os.makedirs(out)
    other = ctx.path("other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(4.0)
    text = ctx.path("notes.h5")
    with open(text, "w") as f:
        f.write("not hdf5\n")

    p = ctx.quicklook(["--help"])
    check(p.returncode == 0 and all(c in p.stdout for c in ("map", "ensemble", "timeseries",
                                                              "all")), "--help")
    missing = ctx.path("nowhere.h5")
    expect_error(ctx, ["map", missing], 1, [missing, "no such file"], out)
    expect_error(ctx, ["map", text], 1, [text, "not an HDF5 file"], out)
    expect_error(ctx, ["map", other], 1, [other, "not a stormrun output file", "/ensemble"], out)
    expect_error(ctx, ["map", diag, "--field", "pressure"], 2,
                 ["--field", "pressure", diag, "h, u, v, vorticity, wind_speed"], out)
    expect_error(ctx, ["ensemble", ens, "--field", "h_std"], 2, ["h_std", "statistic", "h"],
                 out)
    expect_error(ctx, ["map", diag, "--lead-time", "7h"], 2,
                 ["--lead-time", "+7 h", diag, "+0 h to +4 h"], out)
    expect_error(ctx, ["map", diag, "--lead-time", "90min"], 2, ["--lead-time", "+90 min"], out)
    expect_error(ctx, ["map", diag, "--lead-time", "3"], 2, ["--lead-time", "'3'", "unit"], out)
    expect_error(ctx, ["map", part, "--lead-time", "4h"], 2,
                 ["--lead-time", "+4 h", part, "not written"], out)
    expect_error(ctx, ["timeseries", ens], 2, [ens, "no diagnostics", "--workflow diagnostic"],
                 out)
    expect_error(ctx, ["timeseries", diag, "--diagnostic", "h"], 2,
                 ["--diagnostic", "'h'", "vorticity, wind_speed"], out)
    expect_error(ctx, ["map", diag, "--member", "7"], 2, ["--member", "member 7", "0..2"], out)
    expect_error(ctx, ["ensemble", diag, "--members", "1,5"], 2, ["--members", "member 5"], out)
    expect_error(ctx, ["ensemble", diag, "--statistics", "file"], 2,
                 ["--statistics file", "h_mean, h_std"], out)
    expect_error(ctx, ["map", ens, "--start-time", T0], 2,
                 ["--start-time", T0, ens, T1], out)
    expect_error(ctx, ["map", ens, "--start-time", "yesterday"], 2,
                 ["--start-time", "'yesterday'"], out)
    expect_error(ctx, ["map"], 2, ["FILE"], out)  # argparse: the file is required
    expect_error(ctx, ["plot", diag], 2, ["plot"], out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--quicklook", required=True)
    parser.add_argument("case", choices=("pictures", "errors"))
    args = parser.parse_args()
    ctx = Ctx(args)
    start = time.monotonic()
    try:
        {"pictures": case_pictures, "errors": case_errors}[args.case](ctx)
    except BaseException:
        print(f"work dir kept: {ctx.work}")
        raise
    if failures:
        print(f"work dir kept: {ctx.work}")
    else:
        shutil.rmtree(ctx.work, ignore_errors=True)
    if failures:
        print(f"check_quicklook {args.case}: {len(failures)} failure(s)")
        sys.exit(1)
    print(f"check_quicklook {args.case}: ok in {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main()
