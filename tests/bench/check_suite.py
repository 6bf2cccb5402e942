#!/usr/bin/python3
"""The benchmark suite's quick mode end to end (benchmarks/run-suite --quick): it runs, and
every output it promises is there and sound — results.md names every figure with its
target's pass/miss, results.csv and results.json hold the same figures, every figure is a
finite number and every ratio, time and size positive, every PNG decodes to a non-blank
image. No figure is compared with a time or a target: the machine is shared and noisy.

  check_suite.py --suite benchmarks/run-suite --build BUILD --out DIR
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402

EXPECTED_PNGS = ["targets.png", "commit_sizes.png", "reconcile.png", "scaling.png", "rss.png"]
# Every part of the list must yield at least one figure.
EXPECTED_IDS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]


def fail(message):
    print(f"check_suite: FAIL: {message}")
    sys.exit(1)


def check_png(path):
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail(f"{path} is not a PNG (bad signature)")
    image = matplotlib.image.imread(path)  # decodes every chunk (CRC, zlib)
    if image.ndim != 3 or image.shape[0] < 50 or image.shape[1] < 50:
        fail(f"{path}: unexpected image shape {image.shape}")
    rgb = image[..., :3]
    # Not blank: some pixels far from the background, and more than two colours.
    background = np.median(rgb.reshape(-1, 3), axis=0)
    drawn = np.abs(rgb - background).sum(axis=2) > 0.3
    if drawn.mean() < 0.005:
        fail(f"{path} is blank ({drawn.mean():.4%} of its pixels drawn)")
    if len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) < 3:
        fail(f"{path} has fewer than 3 colours")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    proc = subprocess.run([sys.executable, args.suite, "--quick", "--build", args.build,
                           "--out", args.out], capture_output=True, text=True)
    print(proc.stdout[-6000:])
    print(proc.stderr[-4000:], file=sys.stderr)
    if proc.returncode != 0:
        fail(f"run-suite --quick exited {proc.returncode}")

    for name in ["results.md", "results.csv", "results.json"] + EXPECTED_PNGS:
        path = os.path.join(args.out, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            fail(f"{path} is missing or empty")
    with open(os.path.join(args.out, "results.json")) as f:
        figures = json.load(f)["figures"]
    with open(os.path.join(args.out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(args.out, "results.md")) as f:
        table = f.read()
    if len(rows) != len(figures) or not figures:
        fail(f"results.csv has {len(rows)} figures, results.json {len(figures)}")
    for fid in EXPECTED_IDS:
        if not any(f["id"] == fid for f in figures):
            fail(f"no {fid} figure")
    for f, row in zip(figures, rows):
        value = f["value"]
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            fail(f"{f['id']} {f['name']}: not a finite number: {value!r}")
        # Differences (P8's async − sync) may be negative; every other figure is a ratio,
        # a time or a size.
        if value <= 0 and "−" not in f["name"]:
            fail(f"{f['id']} {f['name']}: not positive: {value}")
        if not math.isclose(float(row["value"]), value, rel_tol=1e-9):
            fail(f"{f['id']} {f['name']}: CSV says {row['value']}, JSON {value}")
        if f.get("target") is not None:
            if f["verdict"] not in ("pass", "miss"):
                fail(f"{f['id']} {f['name']}: target without a pass/miss")
            if f"| {f['verdict']} |" not in table:
                fail(f"results.md lacks the verdict of {f['id']} {f['name']}")
        if f["name"] not in table:
            fail(f"results.md lacks {f['id']} {f['name']}")
        if not f.get("command"):
            fail(f"{f['id']} {f['name']}: no command recorded")
    for name in EXPECTED_PNGS:
        check_png(os.path.join(args.out, name))
    print(f"check_suite: {len(figures)} figures, {len(EXPECTED_PNGS)} plots: ok")


if __name__ == "__main__":
    main()
