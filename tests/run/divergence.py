#!/usr/bin/python3
"""Divergence is its own outcome: a run whose model state turns non-finite ends on every rank
with exit 4 (kExitDiverged), and nothing non-finite reaches the output or the store.

A test model (diverging_model.cpp: persistence, but member 1 gets a NaN in u at step 3) runs
on 2 ranks under `mpirun --mca orte_abort_on_non_zero_status 0` (so mpirun kills nobody and
each rank's own exit status is recorded by rank_status.sh). It asserts:
  - every rank exits 4, none by a signal, within the timeout;
  - the message names the member, the variable and the step, and the rank and host;
  - the output holds no NaN in any written step (steps 0-2 of both members) and step 3 and
    later are unwritten; the store's newest commit of each unit is step 2;
  - `stormrun verify` says "diverged at step 3" (exit 4, no PROBLEM), `stormrun catalog`
    records status "diverged";
  - the same command again refuses (exit 4 on every rank, the same message, nothing changed);
    a command with other settings gets the usual exit 3.

    divergence.py --stormrun PATH --stormrun-diverging PATH --mpiexec PATH
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "rank_status.sh")
TIMEOUT = 120
EXIT_DIVERGED, EXIT_MISMATCH = 4, 3
from e2e import MPI_ENV  # noqa: E402  (Open MPI as root, PMIX_MCA_gds: one list)
CONFIG = ["--workflow", "ensemble", "--model", "diverging", "--initial-condition", "galewsky",
          "--grid", "8x16", "--nsteps", "6", "--dt", "3600", "--nensemble", "2",
          "--perturbation", "gaussian", "--seed", "3", "--batch-size", "1", "--quiet"]
failures = []


def check(ok, message):
    if not ok:
        print(f"FAIL: {message}", flush=True)
        failures.append(message)
    return ok


def run_ranks(opts, env, work, args, ranks=2):
    status = os.path.join(work, "status")
    shutil.rmtree(status, ignore_errors=True)
    os.makedirs(status)
    argv = [opts.mpiexec, "--oversubscribe", "--mca", "orte_abort_on_non_zero_status", "0",
            "-np", str(ranks), WRAPPER, opts.stormrun_diverging, "run"] + args
    env = dict(env, STORMRUN_STATUS_DIR=status)
    try:
        p = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True,
                           timeout=TIMEOUT)
        out, err = p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        out, err = str(e.stdout or ""), str(e.stderr or "")
        check(False, f"no exit within {TIMEOUT} s: {' '.join(args)}")
    codes = {}
    for r in range(ranks):
        path = os.path.join(status, f"rank.{r}")
        codes[r] = int(open(path).read().split()[0]) if os.path.exists(path) else None
    print(f"  exit codes {codes}: {' '.join(args[-6:])}", flush=True)
    return codes, out, err


def tool(opts, env, *args):
    p = subprocess.run([opts.stormrun] + list(args), env=env, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def tree(path):
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, path)] = open(p, "rb").read()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--stormrun-diverging", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    opts = parser.parse_args()
    opts.stormrun = os.path.abspath(opts.stormrun)
    opts.stormrun_diverging = os.path.abspath(opts.stormrun_diverging)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORMRUN_")}
    env.update(MPI_ENV)
    work = tempfile.mkdtemp(prefix="stormrun-divergence-")
    out = os.path.join(work, "out.h5")
    store = out + ".ckpt"
    args = CONFIG + ["--output", out, "--checkpoint-dir", store]
    try:
        codes, _, err = run_ranks(opts, env, work, args)
        check(all(c == EXIT_DIVERGED for c in codes.values()),
              f"every rank should exit {EXIT_DIVERGED}, got {codes}\n{err}")
        lines = [l for l in err.splitlines() if "the model diverged" in l]
        host = socket.gethostname()
        check(any("rank 1@" + host in l and "member " in l and "/m0001" in l and
                  "variable u" in l and "step 3" in l for l in lines),
              f"no message of rank 1@{host} naming member .../m0001, variable u, step 3:\n{err}")

        if not check(os.path.exists(out), f"no output {out}"):
            return 1
        with h5py.File(out, "r") as f:
            for name in ("h", "u", "v"):
                data = f[name][()]  # (ensemble, time, lead_time, lat, lon)
                check(np.isfinite(data[:, :, :3]).all(),
                      f"/{name}: steps 0-2 should be written and finite")
                check(not np.isfinite(data[:, :, 3:]).any(),
                      f"/{name}: steps 3-6 should be unwritten (fill values), "
                      f"{np.count_nonzero(np.isfinite(data[:, :, 3:]))} values are not")
                check(not np.isinf(data).any(), f"/{name} holds an Inf")

        rc, text = tool(opts, env, "catalog", store, "--json")
        check(rc == 0, f"stormrun catalog --json: exit {rc}\n{text}")
        doc = json.loads(text) if rc == 0 else {}
        check(doc.get("global", {}).get("status") == "diverged",
              f"global catalog status {doc.get('global', {}).get('status')!r}, not 'diverged'")
        newest = {}
        for rows in doc.get("ranks", {}).values():
            if rows:
                for unit, step in rows[-1]["units"].items():
                    newest[unit] = max(step, newest.get(unit, -1))
        check(len(newest) == 2 and all(s == 2 for s in newest.values()),
              f"the store's newest commit of each unit should be step 2: {newest}")

        rc, text = tool(opts, env, "verify", store)
        check(rc == EXIT_DIVERGED and "diverged at step 3" in text and "PROBLEM" not in text,
              f"stormrun verify: exit {rc} (expected {EXIT_DIVERGED}), says:\n{text}")

        before = tree(work)
        codes, _, err2 = run_ranks(opts, env, work, args)
        check(all(c == EXIT_DIVERGED for c in codes.values()),
              f"the same command again: every rank should exit {EXIT_DIVERGED}, got {codes}\n"
              f"{err2}")
        check("diverged" in err2 and "variable u" in err2 and "step 3" in err2,
              f"the refusal should repeat the divergence:\n{err2}")
        after = tree(work)
        after.pop("status/rank.0", None), after.pop("status/rank.1", None)
        before.pop("status/rank.0", None), before.pop("status/rank.1", None)
        check(before == after, "the refused resume changed files: " +
              str(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))))

        other = [a if a != "3" else "4" for a in args]  # --seed 4
        codes, _, err3 = run_ranks(opts, env, work, other)
        check(all(c == EXIT_MISMATCH for c in codes.values()),
              f"other settings: every rank should exit {EXIT_MISMATCH}, got {codes}\n{err3}")
    finally:
        if os.environ.get("STORMRUN_KEEP_TMP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    print("divergence: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
