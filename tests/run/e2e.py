#!/usr/bin/python3
"""End-to-end tests of `stormrun run`: the real binary, under a real mpirun, on real
checkpoint stores and output files.

    e2e.py --stormrun PATH --mpiexec PATH CASE [CASE...]     (CASE "all": every case)
           [--stormrun-zonal PATH]                           (for zonal_model)

Each case prints what it checked and "FAIL: ..." for each broken expectation, and the
script exits 1 when any expectation broke. The cases (see CASES at the bottom):

  ensemble_matrix       byte-identical output of the ensemble workflow (SWE, Gaussian
                        perturbation, 2 start times, statistics mean,std) over: 1 rank
                        uninterrupted (no mpirun), 1 rank stopped twice with
                        --stop-after-steps and resumed, 2 ranks, 2 ranks stopped and resumed
                        on 3 ranks with another batch size, 3 ranks stopped and resumed on
                        1 rank with --mode overwrite, another batch size
  deterministic_matrix  the same matrix for the deterministic workflow (3 start times)
  sigkill_resume        mpirun's whole session SIGKILLed before its first commit and at
                        random instants after commits it is seen to make, resumed: same
                        bytes; `stormrun verify` on the store exits 0
  levels_rerun          level 0 and 1 stores: unfinished units rerun from step 0 with the
                        warning, finished units are not named; same bytes
  mixed_steps_resume    one rank's row holds units at different steps (rank 1's newest commits
                        removed, a 1-rank resume stopped mid-way); resumed on 1, 2 and 3
                        ranks: same bytes, verify 0
  diagnostic_resume     diagnostic workflow stopped and resumed: same bytes; the store's
                        lead_time metadata is the prognostic lead time
  filtered_output       --output-variables h stopped and resumed: same bytes, only h in the
                        file, and h equal to h of a run that writes every variable
  bad_inputs            each invalid input: exit 2, message names the option, nothing created
                        (also a --checkpoint-dir that is neither empty nor a store: /etc, .)
  mismatched_resume     another --seed / --nsteps / --grid on an existing store, the output
                        file missing, --resume never/require: exit 3 (naming the setting),
                        nothing changed; the original command still resumes to the same
                        bytes; an output no checkpoint claims: exit 3, --overwrite: 0
  xarray_layout         xarray (h5netcdf) sees the dims, coords and values of the config
  config_precedence     INI file < STORMRUN_* environment < command line, through the binary
  node_layout           --checkpoint-layout node on 4 ranks as 2 nodes: only the committers'
                        rank dirs, each row holding its node's units; stopped and resumed,
                        across layouts and world sizes (node 4 -> rank 3 -> node 2 ranks),
                        level 1, SIGKILLed twice: same bytes, verify 0; bad values named
  zonal_model           a third model added through the registry (--stormrun-zonal: the
                        binary of tests/run/zonal_relaxation_model.cpp): 2 ranks stopped and
                        resumed on 3, 3 ranks stopped and resumed on 1: same bytes as 2 ranks
                        uninterrupted; `stormrun verify` exits 0; its --help lists it; the
                        fields relax as the model says; plain stormrun refuses it (exit 2)

Temporary directories are removed at the end unless STORMRUN_KEEP_TMP=1.
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import packs  # pack commits (checkpoint format 3): read, damage, unpack

# Open MPI as root in a container (the CTest ENVIRONMENT sets these too).
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "PMIX_MCA_gds": "hash",  # docs/user-guide.md, "Hangs, lost ranks": mpirun finalize hang
}
EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_MISMATCH, EXIT_STOPPED = 0, 1, 2, 3, 75
EXIT_NO_PROGRESS, EXIT_HUNG = 5, 76
COORDS = ("ensemble", "time", "lead_time", "lat", "lon", "valid_time")
# Not a forecast variable: the group of stormrun's bookkeeping (/stormrun/step_checksum).
BOOKKEEPING = "stormrun"

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T12:00:00Z"
T2 = "2026-01-02T00:00:00Z"

# Small configurations: a 16x32 grid, 5 output steps of one hour.
ENSEMBLE = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
            "--grid", "16x32", "--start-time", T0, "--start-time", T1, "--nsteps", "5",
            "--dt", "3600", "--nensemble", "3", "--perturbation", "gaussian", "--seed", "42",
            "--statistics", "mean,std"]
DETERMINISTIC = ["--workflow", "deterministic", "--model", "swe", "--initial-condition", "tc6",
                 "--grid", "16x32", "--start-time", T0, "--start-time", T1, "--start-time", T2,
                 "--nsteps", "5", "--dt", "3600"]


class CaseFailed(Exception):
    """An expectation whose failure makes the rest of the case meaningless."""


class Result:
    def __init__(self, argv, rc, out, err, seconds):
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    def describe(self):
        return (f"command: {' '.join(self.argv)}\nexit {self.rc}\n--- stdout (tail)\n"
                f"{self.out[-3000:]}\n--- stderr (tail)\n{self.err[-3000:]}")


class Ctx:
    def __init__(self, stormrun, mpiexec, case, stormrun_zonal=None):
        self.stormrun = os.path.abspath(stormrun)
        self.stormrun_zonal = os.path.abspath(stormrun_zonal) if stormrun_zonal else None
        self.mpiexec = mpiexec
        self.case = case
        self.work = tempfile.mkdtemp(prefix=f"stormrun-run-{case}-")
        self.failures = []
        self.env = dict(os.environ)
        self.env.update(MPI_ENV)
        # The tests' own configuration must not be changed by the caller's environment.
        for key in list(self.env):
            if key.startswith("STORMRUN_"):
                del self.env[key]

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    # ---- expectations ------------------------------------------------------------------
    def check(self, ok, message, result=None):
        if ok:
            return True
        text = f"FAIL [{self.case}]: {message}"
        if result is not None:
            text += "\n" + result.describe()
        print(text, flush=True)
        self.failures.append(message)
        return False

    def require(self, ok, message, result=None):
        if not self.check(ok, message, result):
            raise CaseFailed(message)

    # ---- running stormrun --------------------------------------------------------------
    def argv(self, args, ranks, program=None, mpi_args=()):
        base = [program or self.stormrun, "run"] + list(args)
        if ranks is None:  # a plain process: MPI singleton, 1 rank
            return base
        return [self.mpiexec, "-np", str(ranks), "--oversubscribe"] + list(mpi_args) + base

    def run(self, args, ranks=None, expect=None, env=None, what="", timeout=240, program=None,
            mpi_args=()):
        argv = self.argv(args, ranks, program, mpi_args)
        full_env = dict(self.env)
        full_env.update(env or {})
        start = time.monotonic()
        try:
            p = subprocess.run(argv, env=full_env, cwd=self.work, capture_output=True,
                               text=True, timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout", str(e.stdout or ""), str(e.stderr or "")
        result = Result(argv, rc, out, err, time.monotonic() - start)
        label = what or " ".join(args[-4:])
        print(f"  [{result.seconds:5.1f}s] exit {rc}: {ranks or 1} rank(s) {label}", flush=True)
        if expect is not None:
            self.require(rc == expect, f"{label}: exit {rc}, expected {expect}", result)
        return result


# ---- comparing outputs ---------------------------------------------------------------
def datasets(path):
    """name -> (dtype, shape, bytes) of every dataset in the file."""
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                found[name] = (str(obj.dtype), obj.shape, np.ascontiguousarray(data).tobytes())
        f.visititems(visit)
    return found


def root_attr(path, name):
    with h5py.File(path, "r") as f:
        value = f.attrs.get(name)
    return value.decode() if isinstance(value, bytes) else value


def compare_outputs(ctx, reference, other, what, ignore=()):
    """Every dataset of `other` equals `reference`'s in dtype, shape and bytes (but those
    named in `ignore`)."""
    if not ctx.check(os.path.isfile(other), f"{what}: no output file {other}"):
        return False
    a, b = datasets(reference), datasets(other)
    for name in ignore:
        a.pop(name, None)
        b.pop(name, None)
    ok = ctx.check(sorted(a) == sorted(b),
                   f"{what}: datasets differ: {sorted(a)} vs {sorted(b)}")
    for name in sorted(set(a) & set(b)):
        if a[name][:2] != b[name][:2]:
            ok = ctx.check(False, f"{what}: /{name} dtype/shape {a[name][:2]} vs {b[name][:2]}")
        elif a[name][2] != b[name][2]:
            x = np.frombuffer(a[name][2], dtype=a[name][0])
            y = np.frombuffer(b[name][2], dtype=b[name][0])
            ne = np.count_nonzero(np.any(x.view(np.uint8).reshape(x.size, -1) !=
                                         y.view(np.uint8).reshape(y.size, -1), axis=1))
            ok = ctx.check(False, f"{what}: /{name} differs from the reference in {ne} of "
                                  f"{x.size} values")
    ok = ctx.check(root_attr(reference, "stormrun_fingerprint") ==
                   root_attr(other, "stormrun_fingerprint"),
                   f"{what}: stormrun_fingerprint attribute differs") and ok
    if ok:
        print(f"  same bytes as the reference: {what} ({len(a)} datasets)", flush=True)
    return ok


def check_complete(ctx, path, what):
    """A finished output has no fill value (NaN) left in any field or statistic."""
    with h5py.File(path, "r") as f:
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset) and name not in COORDS:
                data = obj[()]
                ctx.check(np.isfinite(data).all(),
                          f"{what}: /{name} has {np.count_nonzero(~np.isfinite(data))} "
                          f"non-finite values (unwritten?)")


# ---- the store -----------------------------------------------------------------------
def catalog_json(ctx, store):
    p = subprocess.run([ctx.stormrun, "catalog", store, "--json"], capture_output=True,
                       text=True, env=ctx.env)
    ctx.require(p.returncode == 0, f"stormrun catalog {store} --json: exit {p.returncode}: "
                                   f"{p.stderr}")
    return json.loads(p.stdout)


def progress(ctx, store):
    """unit -> highest completed step over the newest row of every rank dir."""
    return newest_steps(catalog_json(ctx, store))


def newest_steps(doc):
    """progress() of a `stormrun catalog --json` document."""
    units = {}
    for rows in doc["ranks"].values():
        if rows:
            for unit, step in rows[-1]["units"].items():
                units[unit] = max(step, units.get(unit, -1))
    return units


def verify(ctx, store, what):
    p = subprocess.run([ctx.stormrun, "verify", store], capture_output=True, text=True,
                       env=ctx.env)
    ctx.check(p.returncode == 0, f"{what}: stormrun verify {store}: exit {p.returncode}\n"
                                 f"{p.stdout}{p.stderr}")
    return p


def tree_hash(*paths):
    """sha256 over the names, kinds and contents of everything under `paths`."""
    h = hashlib.sha256()
    for top in paths:
        if not os.path.lexists(top):
            h.update(f"missing {top}\n".encode())
            continue
        if os.path.isfile(top):
            h.update(f"file {top}\n".encode())
            h.update(open(top, "rb").read())
            continue
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for d in dirs:
                h.update(f"dir {os.path.relpath(os.path.join(root, d), top)}\n".encode())
            for name in sorted(files):
                p = os.path.join(root, name)
                h.update(f"file {os.path.relpath(p, top)}\n".encode())
                h.update(open(p, "rb").read())
    return h.hexdigest()


def out_args(ctx, name):
    return ["--output", ctx.path(name, "out.h5")]


def prepare(ctx, name):
    os.makedirs(ctx.path(name), exist_ok=True)
    return ctx.path(name, "out.h5")


# ---- cases ---------------------------------------------------------------------------
def byte_matrix(ctx, config, layouts, nsteps):
    """Runs the reference and each interrupted/other-layout run; compares every output."""
    ref = prepare(ctx, "ref")
    r = ctx.run(config + out_args(ctx, "ref") + ["--batch-size", str(layouts["batch"])], None,
                EXIT_OK, what="reference, 1 rank, no mpirun")
    lines = [line for line in r.out.splitlines() if line.strip()]
    ctx.check(len(lines) >= nsteps, f"reference: {len(lines)} progress lines on stdout, "
                                    f"expected one per output step (>= {nsteps})", r)
    check_complete(ctx, ref, "reference")
    ctx.check(os.path.isdir(ref + ".ckpt"), "reference: no checkpoint dir <output>.ckpt")
    verify(ctx, ref + ".ckpt", "reference")

    # 1 rank, stopped twice with --stop-after-steps and resumed, --quiet.
    out = prepare(ctx, "stopped")
    args = config + out_args(ctx, "stopped") + ["--batch-size", str(layouts["batch"]), "--quiet"]
    k = layouts["stop1"]
    r1 = ctx.run(args + ["--stop-after-steps", str(k)], 1, EXIT_STOPPED, what=f"stop after {k}")
    ctx.check(r1.out.strip() == "", "--quiet: rank 0 still printed on stdout", r1)
    done1 = progress(ctx, out + ".ckpt")
    ctx.check(0 < sum(done1.values()), f"stop after {k}: the store records no progress {done1}")
    ctx.run(args + ["--stop-after-steps", str(k)], 1, EXIT_STOPPED, what=f"again stop after {k}")
    done2 = progress(ctx, out + ".ckpt")
    ctx.check(sum(done2.values()) > sum(done1.values()),
              f"second stopped run made no progress: {done1} then {done2}")
    ctx.check(any(s < nsteps for s in done2.values()) or len(done2) < layouts["units"],
              f"the two stopped runs already finished every unit ({done2}): choose a smaller "
              f"--stop-after-steps")
    r = ctx.run(args, 1, EXIT_OK, what="resume to the end")
    ctx.check("reruns from step 0" not in r.err, "a level-2 resume reran units from step 0", r)
    compare_outputs(ctx, ref, out, "1 rank stopped twice and resumed")
    verify(ctx, out + ".ckpt", "stopped twice and resumed")

    prepare(ctx, "two")
    ctx.run(config + out_args(ctx, "two") + ["--batch-size", str(layouts["batch"])], 2, EXIT_OK,
            what="2 ranks")
    compare_outputs(ctx, ref, ctx.path("two", "out.h5"), "2 ranks")

    # 2 ranks stopped part-way, resumed on 3 ranks with another batch size.
    out = prepare(ctx, "elastic")
    k = layouts["stop2"]
    ctx.run(config + out_args(ctx, "elastic") + ["--batch-size", str(layouts["batch"]),
                                                 "--stop-after-steps", str(k)],
            2, EXIT_STOPPED, what=f"2 ranks stop after {k}")
    before = progress(ctx, out + ".ckpt")
    ctx.check(any(0 < s < nsteps for s in before.values()),
              f"2-rank stop after {k}: no unit is mid-rollout ({before}), the elastic resume "
              f"would not restore any level-2 state")
    r = ctx.run(config + out_args(ctx, "elastic") + ["--batch-size", str(layouts["batch3"])], 3,
                EXIT_OK, what=f"resume on 3 ranks, batch size {layouts['batch3']}")
    ctx.check("reruns from step 0" not in r.err, "the 3-rank resume reran units from step 0", r)
    compare_outputs(ctx, ref, out, "2 ranks stopped, resumed on 3 ranks")
    verify(ctx, out + ".ckpt", "resumed on 3 ranks")
    rank_dirs = sorted(d for d in os.listdir(out + ".ckpt") if d.startswith("rank_"))
    ctx.check(rank_dirs == ["rank_000000", "rank_000001", "rank_000002"],
              f"store after the 3-rank resume holds {rank_dirs}")
    # Running the finished command again changes nothing and exits 0.
    h = tree_hash(out)
    ctx.run(config + out_args(ctx, "elastic") + ["--batch-size", str(layouts["batch3"])], 3,
            EXIT_OK, what="the finished run again")
    ctx.check(tree_hash(out) == h, "rerunning a finished run changed the output file")

    # 3 ranks stopped part-way, resumed on 1 rank keeping only the newest commit
    # (--mode overwrite): rank dirs 1 and 2 are pruned once rank 0 holds all their units.
    out = prepare(ctx, "shrink")
    ctx.run(config + out_args(ctx, "shrink") + ["--batch-size", str(layouts["batch3"]),
                                                "--stop-after-steps", str(layouts["stop2"])],
            3, EXIT_STOPPED, what=f"3 ranks stop after {layouts['stop2']}")
    before = progress(ctx, out + ".ckpt")
    ctx.check(any(0 < s < nsteps for s in before.values()),
              f"3-rank stop: no unit is mid-rollout ({before})")
    r = ctx.run(config + out_args(ctx, "shrink") + ["--batch-size", str(layouts["batch"]),
                                                    "--mode", "overwrite"],
                1, EXIT_OK, what="resume on 1 rank, --mode overwrite")
    ctx.check("reruns from step 0" not in r.err, "the 1-rank resume reran units from step 0", r)
    compare_outputs(ctx, ref, out, "3 ranks stopped, resumed on 1 rank")
    verify(ctx, out + ".ckpt", "resumed on 1 rank")
    rank_dirs = sorted(d for d in os.listdir(out + ".ckpt") if d.startswith("rank_"))
    ctx.check(rank_dirs == ["rank_000000"], f"store after the 1-rank resume holds {rank_dirs}")

    prepare(ctx, "batch")
    ctx.run(config + out_args(ctx, "batch") + ["--batch-size", str(layouts["other_batch"])], 1,
            EXIT_OK, what=f"batch size {layouts['other_batch']}")
    compare_outputs(ctx, ref, ctx.path("batch", "out.h5"),
                    f"batch size {layouts['other_batch']}")

    # Synchronous commits (every run above commits asynchronously, the default): the same
    # bytes, and the store records the same progress as the reference's.
    sync = prepare(ctx, "sync")
    ctx.run(config + out_args(ctx, "sync") + ["--batch-size", str(layouts["batch"]),
                                              "--sync-commits"], 2, EXIT_OK,
            what="2 ranks, --sync-commits")
    compare_outputs(ctx, ref, sync, "2 ranks, --sync-commits")
    verify(ctx, sync + ".ckpt", "--sync-commits")
    ctx.check(progress(ctx, sync + ".ckpt") == progress(ctx, ref + ".ckpt"),
              "--sync-commits: the store's progress differs from the reference's")


def case_ensemble_matrix(ctx):
    # 6 units (2 start times x 3 members). Statistics need every member of a start time in
    # flight at once, so batches hold whole start times (3) or more (6), or 2 per rank on
    # 3 ranks (the three members of a start time then sit on 2 ranks in lockstep).
    # 1 rank, batch 3: 2 batches x 5 steps; stopping after 3 twice leaves batch 2 at step 1.
    byte_matrix(ctx, ENSEMBLE, {"batch": 3, "stop1": 3, "stop2": 2, "batch3": 2,
                                "other_batch": 6, "units": 6}, 5)


def case_deterministic_matrix(ctx):
    # 3 units (3 start times). 1 rank, batch 1: 15 steps; stopping after 4 twice leaves
    # unit 1 at step 3. 2 ranks own {0} and {1, 2}: stopping after 3 leaves units 0 and 1
    # mid-rollout and unit 2 untouched; 3 ranks then own one each.
    byte_matrix(ctx, DETERMINISTIC, {"batch": 1, "stop1": 4, "stop2": 3, "batch3": 1,
                                     "other_batch": 3, "units": 3}, 5)


def session_members(leader, zombies=False):
    """[(pid, command name, state)] of the processes of the session `leader` heads (mpirun
    and all its ranks, which Open MPI puts into process groups of their own)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == leader and (zombies or fields[0] != "Z"):  # 6: session id
                found.append((int(entry), stat[stat.index("(") + 1:stat.rindex(")")],
                              fields[0]))
    return found


def describe_session(leader):
    """What is left of the session `leader` heads, for a hang report: each process with its
    state and the kernel function it waits in. Tells a stuck rank from a launcher stuck
    after every rank ended (docs/user-guide.md, "Hangs, lost ranks")."""
    lines = []
    for pid, name, state in sorted(session_members(leader, zombies=True)):
        try:
            wchan = open(f"/proc/{pid}/wchan").read().strip() or "-"
        except OSError:
            wchan = "?"
        lines.append(f"{pid} {name} state {state} wchan {wchan}")
    return "; ".join(lines) or "no process left"


def kill_session(leader):
    """SIGKILL every process of the session `leader` heads: mpirun and all its ranks (which
    Open MPI puts into process groups of their own), at once."""
    def members():
        return [pid for pid, _, _ in session_members(leader)]
    for _ in range(100):
        pids = members()
        if not pids:
            return
        for pid in sorted(pids, key=lambda p: p == leader):  # ranks first, mpirun last
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def become_subreaper():
    """Makes this process the reaper of orphans of its descendants (Linux prctl), so that
    the ranks of a killed mpirun do not stay zombies for ever in a container whose init
    does not reap. They are reaped only at the end (reap_orphans), so the resumed runs do
    meet the realistic case of a LOCK held by a zombie."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def case_sigkill_resume(ctx):
    become_subreaper()
    try:
        sigkill_resume(ctx)
    finally:
        for _ in range(50):  # the killed ranks may take a moment to become zombies
            reap_orphans()
            time.sleep(0.02)


COMMIT_DIR = re.compile(r"commit_(\d+)_")


def commit_dirs(store):
    """name -> write count of every commit dir in the rank dirs of `store`. A cheap poll
    (a few directory listings), unlike reading the catalogs."""
    found = {}
    try:
        ranks = [d for d in os.listdir(store) if d.startswith("rank_")]
    except FileNotFoundError:
        return found
    for d in ranks:
        try:
            names = os.listdir(os.path.join(store, d, "commits"))
        except FileNotFoundError:
            continue
        for name in names:
            m = COMMIT_DIR.match(name)
            if m:
                found[f"{d}/{name}"] = int(m.group(1))
    return found


def wait_for_commit(p, store, known, min_count, start, limit=120.0):
    """Polls until `store` holds a commit that is not in `known` and has a write count of at
    least `min_count`, or `p` ends; returns the seconds since `start` when it appeared, or
    None if `p` ended (or `limit` passed) first. (Write counts start again in a resumed run,
    see docs/checkpoint-format.md, so a new commit is told by its name.)"""
    while p.poll() is None and time.monotonic() - start < limit:
        if any(n not in known and c >= min_count for n, c in commit_dirs(store).items()):
            return time.monotonic() - start
        time.sleep(0.001)
    return None


def store_started(store):
    """Whether `store` has a rank dir yet. A kill before the first one existed leaves a store
    root without one (its LOCK or heartbeat dir only), which `stormrun catalog` refuses as
    no store: nothing is committed there yet."""
    return os.path.isdir(store) and any(d.startswith("rank_") for d in os.listdir(store))


def sigkill_resume(ctx):
    nsteps, members = 24, 4
    total = nsteps * members  # unit-steps past lead time 0 when the run is complete
    config = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
              "--grid", "32x64", "--start-time", T0, "--nsteps", str(nsteps), "--dt", "3600",
              "--nensemble", str(members), "--perturbation", "gaussian", "--seed", "7",
              "--statistics", "mean,std", "--batch-size", "2"]
    # The reference run, watched: when its first step past lead time 0 is committed (commit
    # 1 holds lead time 0, commit 2 the first step) and how long the commits go on after.
    ref = prepare(ctx, "ref")
    start = time.monotonic()
    with open(ctx.path("ref.log"), "w") as log:
        p = subprocess.Popen(ctx.argv(config + out_args(ctx, "ref"), 2), env=ctx.env,
                             cwd=ctx.work, stdout=log, stderr=log)
        first = wait_for_commit(p, ref + ".ckpt", {}, 2, start)
        p.wait()
    duration = time.monotonic() - start
    ctx.require(p.returncode == EXIT_OK, f"uninterrupted run exited {p.returncode}:\n"
                + open(ctx.path("ref.log")).read()[-3000:])
    ctx.require(first is not None, "uninterrupted run: no commit past lead time 0 was seen")
    window = duration - first
    print(f"  uninterrupted, 2 ranks: {duration:.2f}s, first step committed at {first:.2f}s, "
          f"commits for {window:.2f}s after", flush=True)
    check_complete(ctx, ref, "reference")
    seed = int(os.environ.get("STORMRUN_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"  random seed {seed} (STORMRUN_TEST_SEED={seed} repeats these kill instants)")

    # Attempt 1 kills before any step is committed (a crash to recover from all the same);
    # the later ones wait until the attempt has committed a step of its own, then kill at a
    # random instant of what is left of the window. Instants measured from the commits, not
    # from the start, keep landing mid-run however fast the model or slow the machine. A
    # kill that lands after the last commit starts over (unless a kill already counted);
    # a resumed run that ends before its kill ends the loop.
    out = prepare(ctx, "killed")
    store = out + ".ckpt"
    argv = ctx.argv(config + out_args(ctx, "killed"), 2)
    kills, resumed_to_end = 0, False
    for attempt in range(1, 11):
        if kills == 2:
            break
        log_path = ctx.path(f"attempt{attempt}.log")
        before = commit_dirs(store)
        remaining = window * (1 - sum(progress(ctx, store).values()) / total) \
            if store_started(store) else window
        with open(log_path, "w") as log:
            start = time.monotonic()
            p = subprocess.Popen(argv, env=ctx.env, cwd=ctx.work, stdout=log, stderr=log,
                                 start_new_session=True)
            if attempt == 1:
                at = rng.uniform(0.1, 0.9) * first
                time.sleep(at)
            else:
                seen = wait_for_commit(p, store, before, 0 if before else 2, start)
                at = rng.uniform(0.0, 0.7) * remaining
                time.sleep(at)
                at += seen if seen is not None else 0.0
            finished = p.poll() is not None
            if not finished:
                kill_session(p.pid)
            p.wait()
        if finished:
            ctx.require(p.returncode == EXIT_OK, f"attempt {attempt} exited {p.returncode}:\n"
                        + open(log_path).read()[-3000:])
            if kills > 0:
                print(f"  attempt {attempt}: the resumed run ended (exit 0) before its kill at "
                      f"{at:.2f}s", flush=True)
                resumed_to_end = True
                break
            print(f"  attempt {attempt}: ended before the kill at {at:.2f}s; starting over",
                  flush=True)
            shutil.rmtree(ctx.path("killed"))
            prepare(ctx, "killed")
            continue
        done = progress(ctx, store) if store_started(store) else {}
        committed = sum(done.values())
        print(f"  attempt {attempt}: SIGKILL at {at:.2f}s, {committed} of {total} unit-steps "
              "committed", flush=True)
        if 0 < committed < total:
            kills += 1  # mid-run, after some commits: the next attempt resumes from them
            # The durability order, checked on the killed store as it is: every step a
            # commit claims is already in the output file. (Other findings of verify, e.g.
            # a commit renamed but not yet in the catalog, are legitimate crash states.)
            v = subprocess.run([ctx.stormrun, "verify", store], capture_output=True,
                               text=True, env=ctx.env)
            ctx.check("holds NaN" not in v.stdout and "output file missing" not in v.stdout
                      and "claimed step" in v.stdout,
                      f"right after SIGKILL: a committed step is not in the output:\n{v.stdout}")
        elif committed == total and kills == 0:  # after the last commit: start over
            shutil.rmtree(ctx.path("killed"))
            prepare(ctx, "killed")
        elif committed == total:
            break  # a later kill landed after the last commit: the resume below finds it done
    ctx.require(kills >= 1, "could not kill the run mid-way (after a commit) in 10 attempts")
    if not resumed_to_end:
        ctx.run(config + out_args(ctx, "killed"), 2, EXIT_OK, what="resume after SIGKILL")
    compare_outputs(ctx, ref, out, f"killed {kills} time(s) with SIGKILL, resumed")
    verify(ctx, store, "after SIGKILL and resume")


def rank_dir_names(store):
    return sorted(d for d in os.listdir(store) if d.startswith("rank_"))


def newest_rows(ctx, store):
    """rank dir name -> the units of its newest row (absent: no row)."""
    return {r: rows[-1]["units"]
            for r, rows in catalog_json(ctx, store)["ranks"].items() if rows}


def case_node_layout(ctx):
    become_subreaper()
    try:
        node_layout(ctx)
    finally:
        for _ in range(50):
            reap_orphans()
            time.sleep(0.02)


def node_layout(ctx):
    """--checkpoint-layout node: one committer per node (the test hook
    STORMRUN_TEST_RANKS_PER_NODE=2 makes 4 ranks on this machine two nodes of 2)."""
    # Without statistics (whose rounds run one start time at a time), batches of 2: every
    # unit is in flight from the start on 2, 3 and 4 ranks.
    config = [a for a in ENSEMBLE if a not in ("--statistics", "mean,std")] + [
        "--batch-size", "2"]
    two_nodes = {"STORMRUN_TEST_RANKS_PER_NODE": "2"}
    node = ["--checkpoint-layout", "node"]
    ref = prepare(ctx, "ref")
    ctx.run(config + out_args(ctx, "ref"), None, EXIT_OK, what="reference, 1 rank")
    units = set(progress(ctx, ref + ".ckpt"))
    ctx.require(len(units) == 6, f"reference store records {sorted(units)}, expected 6 units")

    # 4 ranks in two nodes, stopped: only the committers (ranks 0 and 2) have rank dirs, and
    # their rows hold every unit between them, each node's own.
    out = prepare(ctx, "two_nodes")
    store = out + ".ckpt"
    args = config + out_args(ctx, "two_nodes") + node
    ctx.run(args + ["--stop-after-steps", "2"], 4, EXIT_STOPPED, env=two_nodes,
            what="4 ranks as 2 nodes of 2, node layout, stopped after 2 steps")
    ctx.check(rank_dir_names(store) == ["rank_000000", "rank_000002"],
              f"node layout on 2 nodes: rank dirs {rank_dir_names(store)}, expected the "
              "committers' rank_000000 and rank_000002")
    rows = newest_rows(ctx, store)
    held = [set(rows.get(d, {})) for d in ("rank_000000", "rank_000002")]
    ctx.check(held[0] and held[1] and not held[0] & held[1] and held[0] | held[1] == units,
              f"node layout: the committers' rows hold {[sorted(h) for h in held]}, expected "
              f"the 6 units split between the two nodes")
    ctx.check(all(step == 2 for step in progress(ctx, store).values()),
              f"node layout stop after 2 steps: progress {progress(ctx, store)}")
    verify(ctx, store, "node layout, stopped")
    r = ctx.run(args, 4, EXIT_OK, env=two_nodes, what="resumed on the same 2 nodes")
    ctx.check("reruns from step 0" not in r.err, "the node-layout resume reran units", r)
    compare_outputs(ctx, ref, out, "node layout on 2 nodes, stopped and resumed")
    verify(ctx, store, "node layout, resumed")
    ctx.check(rank_dir_names(store) == ["rank_000000", "rank_000002"],
              f"node layout resumed: rank dirs {rank_dir_names(store)}")

    # Across layouts and world sizes: 4 ranks on 2 nodes (node layout) -> 3 ranks with their
    # own rows -> 2 ranks on one node (node layout, no hook: this machine is one node).
    out = prepare(ctx, "relayout")
    store = out + ".ckpt"
    base = config + out_args(ctx, "relayout")
    ctx.run(base + node + ["--stop-after-steps", "2"], 4, EXIT_STOPPED, env=two_nodes,
            what="4 ranks, 2 nodes, node layout, stop after 2")
    r = ctx.run(base + ["--stop-after-steps", "1"], 3, EXIT_STOPPED,
                what="resumed on 3 ranks, rank layout, stop after 1 more")
    ctx.check("reruns from step 0" not in r.err, "the rank-layout resume reran units", r)
    ctx.check(rank_dir_names(store) == ["rank_000000", "rank_000001", "rank_000002"],
              f"rank layout on 3 ranks: rank dirs {rank_dir_names(store)}")
    ctx.check(all(step == 3 for step in progress(ctx, store).values()),
              f"after the 3-rank resume: progress {progress(ctx, store)}")
    r = ctx.run(base + node, 2, EXIT_OK, what="resumed on 2 ranks, one node, node layout")
    ctx.check("reruns from step 0" not in r.err, "the one-node resume reran units", r)
    compare_outputs(ctx, ref, out, "node -> rank -> node layout, 4 -> 3 -> 2 ranks")
    verify(ctx, store, "node -> rank -> node layout")
    ctx.check(rank_dir_names(store) == ["rank_000000"],
              f"one node: rank dirs {rank_dir_names(store)}, expected only the committer's "
              "(the others pruned once its row held their units)")
    ctx.check(set(newest_rows(ctx, store).get("rank_000000", {})) == units,
              "one node: the committer's row does not hold every unit")

    # Level 1 keeps no fields: the node's committer records the progress of all, the
    # unfinished units rerun from step 0 with the warning, and the bytes are the same.
    out = prepare(ctx, "level1")
    args = config + out_args(ctx, "level1") + node + ["--level", "1"]
    ctx.run(args + ["--stop-after-steps", "2"], 4, EXIT_STOPPED, env=two_nodes,
            what="node layout, level 1, stop after 2")
    ctx.check(all(step == 2 for step in progress(ctx, out + ".ckpt").values()),
              f"level 1, node layout: progress {progress(ctx, out + '.ckpt')}")
    r = ctx.run(args, 4, EXIT_OK, env=two_nodes, what="node layout, level 1, resumed")
    ctx.check("reruns from step 0" in r.err, "level 1: no rerun warning", r)
    compare_outputs(ctx, ref, out, "node layout, level 1")

    # SIGKILL of the whole job at a random instant after a commit past lead time 0, twice,
    # then resumed: the same bytes.
    seed = int(os.environ.get("STORMRUN_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"  random seed {seed} (STORMRUN_TEST_SEED={seed} repeats these kill instants)")
    out = prepare(ctx, "killed")
    store = out + ".ckpt"
    argv = ctx.argv(config + out_args(ctx, "killed") + node, 4)
    slow = dict(ctx.env, STORMRUN_TEST_SLOW_STEP="0.25", **two_nodes)
    for attempt in (1, 2):
        before = commit_dirs(store)
        with open(ctx.path(f"kill{attempt}.log"), "w") as log:
            start = time.monotonic()
            p = subprocess.Popen(argv, env=slow, cwd=ctx.work, stdout=log, stderr=log,
                                 start_new_session=True)
            seen = wait_for_commit(p, store, before, 0 if before else 2, start)
            time.sleep(rng.uniform(0.0, 0.5))
            finished = p.poll() is not None
            if not finished:
                kill_session(p.pid)
            p.wait()
        print(f"  kill {attempt}: commit seen at {seen}, "
              f"{'ended first' if finished else 'SIGKILL'}, progress {progress(ctx, store)}",
              flush=True)
        ctx.check(not finished or p.returncode == EXIT_OK,
                  f"kill attempt {attempt} exited {p.returncode}")
        if finished:
            break
    ctx.run(config + out_args(ctx, "killed") + node, 4, EXIT_OK, env=two_nodes,
            what="resume after SIGKILL, node layout")
    compare_outputs(ctx, ref, out, "node layout, SIGKILLed and resumed")
    verify(ctx, store, "node layout, SIGKILLed and resumed")

    # Bad values: the option and the test hook are named, nothing is written.
    out = prepare(ctx, "bad")
    r = ctx.run(config + out_args(ctx, "bad") + ["--checkpoint-layout", "rack"], 2,
                EXIT_CONFIG, what="--checkpoint-layout rack")
    ctx.check("--checkpoint-layout" in r.err and "rack" in r.err,
              "--checkpoint-layout rack: the message does not name the option and value", r)
    r = ctx.run(config + out_args(ctx, "bad") + node, 2, EXIT_CONFIG,
                env={"STORMRUN_TEST_RANKS_PER_NODE": "two"}, what="a bad test hook value")
    ctx.check("STORMRUN_TEST_RANKS_PER_NODE" in r.err,
              "a bad STORMRUN_TEST_RANKS_PER_NODE is not named", r)


def warning_lines(text):
    return [line for line in text.splitlines() if "warning:" in line]


def case_levels_rerun(ctx):
    ref = prepare(ctx, "ref")
    args = DETERMINISTIC + ["--batch-size", "1"]
    ctx.run(args + ["--output", ref], 1, EXIT_OK, what="reference at level 2")
    # 1 rank, batch 1: after 8 computed steps unit 0 (T0) has finished, unit 1 (T1) is at
    # step 3, unit 2 (T2) has not started.
    for level in ("0", "1"):
        out = prepare(ctx, f"level{level}")
        a = args + ["--output", out, "--level", level]
        ctx.run(a + ["--stop-after-steps", "8"], 1, EXIT_STOPPED, what=f"level {level}, stop")
        done = progress(ctx, out + ".ckpt")
        ctx.check(done.get(f"{T0}/m0000") == 5,
                  f"level {level}: unit {T0}/m0000 not recorded finished after 8 steps: {done}")
        ctx.check(0 < done.get(f"{T1}/m0000", -1) < 5,
                  f"level {level}: unit {T1}/m0000 is not mid-rollout after 8 steps: {done}")
        r = ctx.run(a, 1, EXIT_OK, what=f"level {level}, resume")
        warns = [w for w in warning_lines(r.err) if "reruns from step 0" in w]
        ctx.check(any(T1 in w for w in warns),
                  f"level {level}: no 'reruns from step 0' warning naming unit {T1}/m0000", r)
        ctx.check(not any(T0 in w for w in warns),
                  f"level {level}: the finished unit {T0}/m0000 was named as rerun", r)
        ctx.check(all(re.match(r"stormrun\[rank 0@[^\]]+\]: warning:", w)
                      for w in warning_lines(r.err)),
                  f"level {level}: warnings not prefixed 'stormrun[rank 0@HOST]: warning:'", r)
        compare_outputs(ctx, ref, out, f"level {level} stopped and resumed")
        verify(ctx, out + ".ckpt", f"level {level}")


def case_mixed_steps_resume(ctx):
    """The stuck-store class (shared/fixtures/stuck-store-after-kills): one rank's row holds
    units at different steps, and the next start must load all of them in one migration.
    Made without kills: rank 1's two newest commits are removed (as if it had been killed
    before their renames), so its units are behind rank 0's; a 1-rank resume parks all four
    units (steps 4,4,2,2) in its migration row and runs one batch while the other waits;
    then it is stopped again and resumed on 1, 2 and 3 ranks."""
    config = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
              "--grid", "16x32", "--nsteps", "8", "--dt", "3600", "--nensemble", "4",
              "--perturbation", "gaussian", "--seed", "11", "--batch-size", "2"]
    ref = prepare(ctx, "ref")
    ctx.run(config + ["--output", ref], 1, EXIT_OK, what="reference, uninterrupted")
    base = prepare(ctx, "base")
    ctx.run(config + ["--output", base, "--stop-after-steps", "4"], 2, EXIT_STOPPED,
            what="2 ranks, stop after 4")
    rank1 = os.path.join(base + ".ckpt", "rank_000001", "commits")
    commits = sorted(os.listdir(rank1))
    ctx.require(len(commits) >= 3, f"rank_000001 holds {commits}, expected 3 or more commits")
    for name in commits[-2:]:
        packs.remove_commit(os.path.join(rank1, name))  # a pack or a directory
    ctx.run(config + ["--output", base, "--stop-after-steps", "2"], 1, EXIT_STOPPED,
            what="1 rank from mixed progress, stop after 2")
    rows = catalog_json(ctx, base + ".ckpt")["ranks"].get("rank_000000", [])
    ctx.require(rows, "no rows in rank_000000 after the 1-rank stop")
    steps = sorted(set(rows[-1]["units"].values()))
    ctx.check(len(steps) > 1 and max(steps) < 8,
              f"the 1-rank row holds units at steps {rows[-1]['units']}; the case needs "
              f"unfinished units at different steps in one row")
    for ranks in (1, 2, 3):
        out = prepare(ctx, f"np{ranks}")
        shutil.copytree(base + ".ckpt", out + ".ckpt")
        shutil.copy(base, out)
        fix_output_path(out + ".ckpt", out)
        ctx.run(config + ["--output", out], ranks, EXIT_OK,
                what=f"resume of a row with units at different steps on {ranks} rank(s)")
        compare_outputs(ctx, ref, out, f"mixed steps resumed on {ranks} rank(s)")
        verify(ctx, out + ".ckpt", f"mixed steps, {ranks} rank(s)")


def fix_output_path(store, output):
    """Points a copied store's global catalog at its copied output (it names the output by
    its absolute path)."""
    path = os.path.join(store, "catalog.json")
    with open(path) as f:
        doc = json.load(f)
    doc["output"] = os.path.abspath(output)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)


def case_diagnostic_resume(ctx):
    config = ["--workflow", "diagnostic", "--model", "swe", "--initial-condition", "galewsky",
              "--grid", "16x32", "--start-time", T0, "--nsteps", "5", "--dt", "3600",
              "--diagnostics", "vorticity,wind_speed"]
    ref = prepare(ctx, "ref")
    ctx.run(config + ["--output", ref], 1, EXIT_OK, what="diagnostic, uninterrupted")
    with h5py.File(ref, "r") as f:
        names = sorted(n for n in f if n not in COORDS and n != BOOKKEEPING)
    ctx.check(names == ["vorticity", "wind_speed"],
              f"diagnostic output holds {names}, expected vorticity and wind_speed only")
    check_complete(ctx, ref, "diagnostic reference")
    out = prepare(ctx, "stopped")
    stopped = ctx.run(config + ["--output", out, "--stop-after-steps", "3"], 1, EXIT_STOPPED,
                      what="diagnostic, stop after 3")
    doc = catalog_json(ctx, out + ".ckpt")
    rows = doc["ranks"].get("rank_000000", [])
    ctx.require(rows, "diagnostic: no rows in rank_000000 after the stop")
    meta = rows[-1]["metadata"]
    step = rows[-1]["units"].get(f"{T0}/m0000")
    ctx.check(isinstance(step, int) and 0 < step < 5,
              f"diagnostic: the unit's completed step after the stop is {step}, expected "
              f"mid-run")
    ctx.check(meta.get("step") in (step, {"$int64": step}),
              f"diagnostic: newest row's step metadata {meta.get('step')}, expected the unit's "
              f"completed step {step}")
    lead = meta.get("lead_time")
    want = (step or 0) * 3600 * 10**9
    ctx.check(isinstance(lead, dict) and lead.get("$duration_ns") == want,
              f"diagnostic: newest row's lead_time metadata {lead}, expected the prognostic "
              f"lead time of step {step}: {{'$duration_ns': {want}}}")
    r = ctx.run(config + ["--output", out], 1, EXIT_OK, what="diagnostic, resume")
    ctx.check("reruns from step 0" not in r.err, "diagnostic level-2 resume reran the unit", r)
    steps = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", r.out, re.M)]
    ctx.check(steps and steps[0] == step + 1,
              f"diagnostic resume: progress lines start at step {steps[:1]}, expected the step "
              f"after the committed one ({step + 1 if step else '?'})", r)
    # One progress line per output step: the stopped run's and the resumed run's lines
    # together name every lead-time step once.
    before = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", stopped.out, re.M)]
    ctx.check(before + steps == list(range(6)),
              f"progress lines of the stopped run {before} and of the resumed run {steps}: "
              f"expected one per output step, 0..5 once each", stopped)
    compare_outputs(ctx, ref, out, "diagnostic stopped and resumed")
    verify(ctx, out + ".ckpt", "diagnostic")


def case_filtered_output(ctx):
    config = DETERMINISTIC[:]  # 3 start times, tc6
    full = prepare(ctx, "full")
    ctx.run(config + ["--output", full], 1, EXIT_OK, what="all variables")
    ref = prepare(ctx, "ref")
    ctx.run(config + ["--output", ref, "--output-variables", "h"], 1, EXIT_OK,
            what="only h, uninterrupted")
    with h5py.File(ref, "r") as f:
        names = sorted(n for n in f if n not in COORDS and n != BOOKKEEPING)
    ctx.check(names == ["h"], f"--output-variables h: the file holds {names}")
    check_complete(ctx, ref, "only h")
    a, b = datasets(full), datasets(ref)
    ctx.check(a.get("h") == b.get("h"), "h of the only-h run differs from h of the full run")
    out = prepare(ctx, "stopped")
    args = config + ["--output", out, "--output-variables", "h", "--batch-size", "2"]
    ctx.run(args + ["--stop-after-steps", "3"], 1, EXIT_STOPPED, what="only h, stop after 3")
    ctx.run(args + ["--stop-after-steps", "3"], 1, EXIT_STOPPED, what="only h, stop again")
    ctx.run(args, 1, EXIT_OK, what="only h, resume")
    compare_outputs(ctx, ref, out, "only h, stopped twice and resumed")


def case_bad_inputs(ctx):
    good = ["--workflow", "deterministic", "--model", "swe", "--grid", "16x32", "--nsteps", "2",
            "--dt", "3600"]
    cases = [
        ("--model", ["--model", "foo"]),
        ("--grid", ["--grid", "10"]),
        ("--nsteps", ["--nsteps", "0"]),
        ("--nsteps", ["--nsteps", "-3"]),
        ("--batch-size", ["--batch-size", "0"]),
        ("--output", ["--output", "/nonexistent/dir/x.h5"]),
        ("--level", ["--level", "3"]),
        ("--workflow", ["--workflow", "bogus"]),
        ("--statistics", ["--statistics", "mean"]),  # statistics need the ensemble workflow
        ("--initial-condition", ["--initial-condition", "file:" + ctx.path("missing.h5")]),
        ("--output-variables", ["--output-variables", "h,q"]),
        # only stores are stores: a directory holding anything else is refused, untouched
        ("--checkpoint-dir", ["--checkpoint-dir", "/etc"]),
        ("--checkpoint-dir", ["--checkpoint-dir", ctx.work]),
    ]
    for i, (option, bad) in enumerate(cases):
        d = ctx.path(f"bad{i}")
        os.makedirs(d)
        args = good + ["--output", os.path.join(d, "out.h5")] + bad
        ranks = 2 if i == 2 else None  # one of them under mpirun on 2 ranks
        r = ctx.run(args, ranks, what=f"{' '.join(bad)}")
        ctx.check(r.rc == EXIT_CONFIG, f"{' '.join(bad)}: exit {r.rc}, expected 2", r)
        ctx.check(option in r.err, f"{' '.join(bad)}: the message does not name {option}", r)
        ctx.check(os.listdir(d) == [], f"{' '.join(bad)}: created {os.listdir(d)}")
    ctx.check(not os.path.exists("/nonexistent"), "--output /nonexistent/dir/x.h5 created a path")
    for name in ("catalog.json", "LOCK", "rank_000000"):
        ctx.check(not os.path.exists(os.path.join("/etc", name)),
                  f"--checkpoint-dir /etc created /etc/{name}")
    r = ctx.run(good, None, what="no --output")
    ctx.check(r.rc == EXIT_CONFIG and "--output" in r.err,
              "a run without --output: expected exit 2 naming --output", r)
    ctx.check(sorted(os.listdir(ctx.work)) == sorted(f"bad{i}" for i in range(len(cases))),
              f"the runs created {sorted(os.listdir(ctx.work))} in their working directory")
    r = subprocess.run([ctx.stormrun, "run", "--help"], capture_output=True, text=True,
                       env=ctx.env)
    ctx.check(r.returncode == 0, f"stormrun run --help: exit {r.returncode}")
    for option in ("--workflow", "--model", "--initial-condition", "--grid", "--start-time",
                   "--nsteps", "--dt", "--substeps", "--nensemble", "--batch-size",
                   "--perturbation", "--noise-amplitude", "--seed", "--output",
                   "--output-variables", "--diagnostics", "--statistics", "--overwrite",
                   "--checkpoint-dir", "--checkpoint-name", "--mode", "--history-size",
                   "--flush-interval", "--level", "--no-checkpoint", "--device",
                   "--stop-after-steps", "--resume", "--quiet", "--config"):
        ctx.check(option in r.stdout, f"stormrun run --help does not document {option}")


def case_mismatched_resume(ctx):
    out = prepare(ctx, "run")
    store = out + ".ckpt"
    args = ENSEMBLE + ["--batch-size", "3"]
    ctx.run(args + ["--output", out, "--stop-after-steps", "2"], 1, EXIT_STOPPED,
            what="stop after 2")
    before = tree_hash(out, store)
    for option, value, setting in (("--seed", "43", "seed"), ("--nsteps", "6", "nsteps"),
                                   ("--grid", "32x64", "grid")):
        changed = args[:]
        changed[changed.index(option) + 1] = value
        r = ctx.run(changed + ["--output", out], 1, what=f"resume with {option} {value}")
        ctx.check(r.rc == EXIT_MISMATCH, f"resume with {option} {value}: exit {r.rc}, expected 3",
                  r)
        ctx.check(setting in r.err, f"resume with {option} {value}: message does not name "
                                    f"'{setting}'", r)
        ctx.check(tree_hash(out, store) == before,
                  f"resume with {option} {value} changed the output or the store")
    # The output moved away: the store records finished steps in a file that is missing.
    os.rename(out, out + ".moved")
    r = ctx.run(args + ["--output", out], 1, what="output file missing")
    ctx.check(r.rc == EXIT_MISMATCH and "missing" in r.err,
              f"resume with the output file missing: exit {r.rc}, expected 3 saying so", r)
    ctx.check(not os.path.exists(out), "resume with the output missing created a new output")
    os.rename(out + ".moved", out)
    ctx.check(tree_hash(out, store) == before, "the refused resume changed the store")
    r = ctx.run(args + ["--output", out, "--resume", "never"], 1, what="--resume never")
    ctx.check(r.rc == EXIT_MISMATCH and "--resume" in r.err,
              f"--resume never on a store with a run: exit {r.rc}, expected 3 naming --resume", r)
    ctx.check(tree_hash(out, store) == before, "--resume never changed the output or the store")
    fresh = prepare(ctx, "fresh")
    r = ctx.run(args + ["--output", fresh, "--resume", "require"], 1, what="--resume require")
    ctx.check(r.rc == EXIT_MISMATCH, f"--resume require without a store: exit {r.rc}, expected 3",
              r)
    ctx.check(os.listdir(ctx.path("fresh")) == [],
              f"--resume require without a store created {os.listdir(ctx.path('fresh'))}")
    # The store is still good for the original command.
    ctx.run(args + ["--output", out], 1, EXIT_OK, what="the original command resumes")
    ref = prepare(ctx, "ref")
    ctx.run(args + ["--output", ref], 1, EXIT_OK, what="uninterrupted")
    compare_outputs(ctx, ref, out, "resumed after refused mismatches")

    # An output that no checkpoint claims: the store was deleted ...
    shutil.rmtree(ref + ".ckpt")
    before = tree_hash(ref)
    r = ctx.run(args + ["--output", ref], 1, what="output without its store")
    ctx.check(r.rc == EXIT_MISMATCH, f"output without its store: exit {r.rc}, expected 3", r)
    ctx.check(tree_hash(ref) == before and not os.path.exists(ref + ".ckpt"),
              "output without its store: the output changed or a store was created")
    # ... or it is some other HDF5 file.
    foreign = prepare(ctx, "foreign")
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(10.0)
    before = tree_hash(foreign)
    r = ctx.run(args + ["--output", foreign], 1, what="foreign HDF5 file")
    ctx.check(r.rc == EXIT_MISMATCH, f"foreign HDF5 output: exit {r.rc}, expected 3", r)
    ctx.check("--overwrite" in r.err, "foreign HDF5 output: the message does not suggest "
                                      "--overwrite", r)
    ctx.check(tree_hash(foreign) == before and not os.path.exists(foreign + ".ckpt"),
              "foreign HDF5 output: the file changed or a store was created")
    ctx.run(args + ["--output", foreign, "--overwrite"], 1, EXIT_OK, what="foreign, --overwrite")
    compare_outputs(ctx, out, foreign, "--overwrite of a foreign file")


def case_xarray_layout(ctx):
    import xarray
    out = prepare(ctx, "x")
    nsteps, dt = 4, 3600
    config = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
              "--grid", "16x32", "--start-time", T0, "--start-time", T1, "--nsteps",
              str(nsteps), "--dt", str(dt), "--nensemble", "3", "--perturbation", "gaussian",
              "--seed", "5", "--statistics", "mean,std", "--batch-size", "3", "--output", out]
    ctx.run(config, 2, EXIT_OK, what="ensemble for xarray")
    ds = xarray.open_dataset(out, engine="h5netcdf")
    try:
        want = {"ensemble": 3, "time": 2, "lead_time": nsteps + 1, "lat": 16, "lon": 32}
        ctx.check(dict(ds.sizes) == want, f"xarray dims {dict(ds.sizes)}, expected {want}")
        ctx.check(sorted(ds.data_vars) ==
                  sorted(["h", "u", "v"] + [f"{v}_{s}" for v in "huv" for s in ("mean", "std")]),
                  f"xarray data variables {sorted(ds.data_vars)}")
        for v in "huv":
            ctx.check(ds[v].dims == ("ensemble", "time", "lead_time", "lat", "lon"),
                      f"{v} dims {ds[v].dims}")
            for s in ("mean", "std"):
                ctx.check(ds[f"{v}_{s}"].dims == ("time", "lead_time", "lat", "lon"),
                          f"{v}_{s} dims {ds[f'{v}_{s}'].dims}")
        ctx.check(ds["h"].attrs.get("units") == "m", f"h units {ds['h'].attrs.get('units')}")
        ctx.check(ds["u"].attrs.get("units") == "m s-1", f"u units {ds['u'].attrs.get('units')}")
        times = [np.datetime64(t.rstrip("Z")) for t in (T0, T1)]
        ctx.check(ds["time"].dtype.kind == "M" and list(ds["time"].values) ==
                  [t.astype("datetime64[ns]") for t in times],
                  f"time coordinate {ds['time'].values}, expected {times}")
        leads = [np.timedelta64(k * dt, "s").astype("timedelta64[ns]") for k in range(nsteps + 1)]
        ctx.check(ds["lead_time"].dtype.kind == "m" and list(ds["lead_time"].values) == leads,
                  f"lead_time coordinate {ds['lead_time'].values}, expected k*{dt}s")
        ctx.check(list(ds["ensemble"].values) == [0, 1, 2],
                  f"ensemble coordinate {ds['ensemble'].values}")
        lat, lon = ds["lat"].values, ds["lon"].values
        ctx.check(len(lat) == 16 and np.all(np.diff(lat) > 0) and -90 < lat[0] and lat[-1] < 90,
                  f"lat not 16 ascending cell centres in (-90, 90): {lat}")
        ctx.check(len(lon) == 32 and np.all(np.diff(lon) > 0) and 0 <= lon[0] and lon[-1] < 360,
                  f"lon not 32 ascending values in [0, 360): {lon}")
        ctx.check(np.allclose(np.diff(lat), 180 / 16) and np.allclose(np.diff(lon), 360 / 32),
                  "lat/lon spacing is not 180/nlat, 360/nlon")
        with h5py.File(out, "r") as f:
            for name in ds.data_vars:
                ctx.check(ds[name].values.tobytes() == f[name][()].tobytes(),
                          f"xarray and h5py disagree on {name}")
            ctx.check(f["time"].dtype == np.int64 and f["lead_time"].dtype == np.int64,
                      "time / lead_time are not int64 on disk")
        h = ds["h"].values
        ctx.check(np.allclose(ds["h_mean"].values, h.mean(axis=0), rtol=1e-13, atol=0),
                  "h_mean is not the member mean of h")
        # <field>_std is the population standard deviation (divide by n; docs/user-guide.md).
        ctx.check(np.allclose(ds["h_std"].values, h.std(axis=0, ddof=0), rtol=1e-9, atol=1e-12),
                  "h_std is not the population standard deviation of h over members")
        # The perturbation acts on the initial condition: members differ from lead time 0.
        ctx.check(not np.array_equal(h[0, :, 0], h[1, :, 0]),
                  "members 0 and 1 are equal at lead time 0: no perturbation?")
    finally:
        ds.close()


def case_config_precedence(ctx):
    out = prepare(ctx, "c")
    ini = ctx.path("c", "run.ini")
    with open(ini, "w") as f:
        f.write(f"""# stormrun run --config run.ini
workflow = ensemble
model = swe
initial-condition = galewsky
grid = 16x32
start-time = {T0}
start-time = {T1}
nsteps = 2
dt = 3600
nensemble = 2
perturbation = gaussian
noise-amplitude = 2.0
seed = 11
output = {out}
quiet = true
""")
    env = {"STORMRUN_NSTEPS": "3", "STORMRUN_SEED": "12", "STORMRUN_NOISE_AMPLITUDE": "0.5"}
    r = ctx.run(["--config", ini, "--nsteps", "4"], 1, EXIT_OK, env=env,
                what="INI + env + command line")
    ctx.check(r.out.strip() == "", "quiet = true in the INI file did not silence stdout", r)
    ctx.require(os.path.isfile(out), "the INI file's output was not written")
    fp = json.loads(root_attr(out, "stormrun_fingerprint_json"))
    print(f"  fingerprint: {fp}")
    with h5py.File(out, "r") as f:
        ctx.check(f["h"].shape == (2, 2, 5, 16, 32),
                  f"h shape {f['h'].shape}: expected (2 members, 2 start times from the INI, "
                  f"5 lead times from --nsteps 4 on the command line, 16, 32)")
    ctx.check(str(fp.get("nsteps")) == "4", f"nsteps {fp.get('nsteps')}: the command line "
                                            f"must win over env and INI")
    ctx.check(str(fp.get("seed")) == "12", f"seed {fp.get('seed')}: STORMRUN_SEED must win "
                                           f"over the INI file")
    ctx.check(float(fp.get("noise_amplitude", "nan")) == 0.5,
              f"noise_amplitude {fp.get('noise_amplitude')}: STORMRUN_NOISE_AMPLITUDE must "
              f"win over the INI file")
    ctx.check("16" in str(fp.get("grid")) and "32" in str(fp.get("grid")),
              f"grid {fp.get('grid')}: expected the INI file's 16x32")
    r = ctx.run(["--config", ctx.path("c", "missing.ini")], None, what="missing --config file")
    ctx.check(r.rc == EXIT_CONFIG and "--config" in r.err,
              "a missing --config file: expected exit 2 naming --config", r)
    bad = ctx.path("c", "bad.ini")
    with open(bad, "w") as f:
        f.write(f"output = {ctx.path('c', 'bad.h5')}\nnstepz = 3\n")
    r = ctx.run(["--config", bad], None, what="unknown INI key")
    ctx.check(r.rc == EXIT_CONFIG and "nstepz" in r.err,
              "an unknown INI key: expected exit 2 naming it", r)


def case_zonal_model(ctx):
    zonal = ctx.stormrun_zonal
    ctx.require(zonal is not None, "zonal_model needs --stormrun-zonal PATH")
    nsteps, dt, tau = 4, 21600, 2 * 86400  # tau: the model's e-folding time
    # 4 units (2 start times x 2 members); batches of 1, so that a stopped rank leaves a
    # unit mid-rollout whose level-2 state the resume restores.
    config = ["--workflow", "ensemble", "--model", "zonal-relaxation", "--initial-condition",
              "galewsky", "--grid", "16x32", "--start-time", T0, "--start-time", T1,
              "--nsteps", str(nsteps), "--dt", str(dt), "--nensemble", "2", "--perturbation",
              "gaussian", "--seed", "7"]

    r = subprocess.run([zonal, "run", "--help"], capture_output=True, text=True, env=ctx.env)
    ctx.check(r.returncode == 0 and "zonal-relaxation" in r.stdout,
              f"stormrun-with-zonal run --help: exit {r.returncode}, lists zonal-relaxation: "
              f"{'zonal-relaxation' in r.stdout}")
    d = ctx.path("refused")
    os.makedirs(d)
    r = ctx.run(config + ["--output", os.path.join(d, "out.h5")], None,
                what="plain stormrun, --model zonal-relaxation")
    ctx.check(r.rc == EXIT_CONFIG and "--model" in r.err and "zonal-relaxation" in r.err,
              "plain stormrun: expected exit 2 naming --model zonal-relaxation", r)
    ctx.check(os.listdir(d) == [], f"plain stormrun with an unknown model created {os.listdir(d)}")

    ref = prepare(ctx, "ref")
    ctx.run(config + out_args(ctx, "ref"), 2, EXIT_OK, what="2 ranks uninterrupted",
            program=zonal)
    check_complete(ctx, ref, "reference")
    verify(ctx, ref + ".ckpt", "reference")
    ctx.check(root_attr(ref, "model") == "zonal-relaxation",
              f"reference: model attribute {root_attr(ref, 'model')!r}")
    with h5py.File(ref, "r") as f:
        ctx.check(f["h"].attrs.get("units") in ("m", b"m"), f"h units {f['h'].attrs.get('units')}")
        # x - zonal mean decays by exp(-dt/tau) per step; the zonal mean stays.
        h = f["h"][()]  # (ensemble, time, lead_time, lat, lon)
    anomaly = h - h.mean(axis=-1, keepdims=True)
    want = anomaly[:, :, 0] * np.exp(-dt / tau) ** nsteps
    ctx.check(np.allclose(anomaly[:, :, nsteps], want, rtol=1e-9, atol=1e-9),
              "h's departure from its zonal mean did not decay by exp(-dt/tau) per step")
    ctx.check(np.allclose(h.mean(axis=-1)[:, :, nsteps], h.mean(axis=-1)[:, :, 0], rtol=1e-12),
              "h's zonal mean changed")

    for name, (ranks, stop, resume_ranks) in {"grow": (2, 3, 3), "shrink": (3, 2, 1)}.items():
        out = prepare(ctx, name)
        ctx.run(config + out_args(ctx, name) + ["--stop-after-steps", str(stop)], ranks,
                EXIT_STOPPED, what=f"{ranks} ranks stop after {stop}", program=zonal)
        before = progress(ctx, out + ".ckpt")
        ctx.check(any(0 < s < nsteps for s in before.values()),
                  f"{ranks}-rank stop after {stop}: no unit is mid-rollout ({before})")
        r = ctx.run(config + out_args(ctx, name), resume_ranks, EXIT_OK,
                    what=f"resume on {resume_ranks} rank(s)", program=zonal)
        ctx.check("reruns from step 0" not in r.err, f"the resume on {resume_ranks} rank(s) "
                                                     f"reran units from step 0", r)
        compare_outputs(ctx, ref, out, f"{ranks} ranks stopped, resumed on {resume_ranks}")
        verify(ctx, out + ".ckpt", f"resumed on {resume_ranks} rank(s)")


PLACEMENT_NOTE = re.compile(r"note: (ranks? [0-9, -]+) \(of (\d+)\) (?:is|are) bound to one "
                            r"CPU(?: each)? \(rank (\d+): (\S+) CPU (\d+)\): the asynchronous "
                            r"commits' threads share it with the model step.*srun "
                            r"--cpus-per-task=2")


def case_cpu_placement(ctx):
    """A rank bound to one CPU with asynchronous commits on the CPU path is named once by
    rank 0 (docs/performance.md, "Where the commit threads run"); ranks with a second CPU,
    --sync-commits and --no-checkpoint are not."""
    config = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
              "--grid", "16x32", "--start-time", T0, "--nsteps", "2", "--dt", "3600",
              "--nensemble", "4"]

    def notes(result):
        return list(PLACEMENT_NOTE.finditer(result.err))

    def attempt(name, ranks, extra=(), mpi_args=(), program=None):
        out = prepare(ctx, name)
        return ctx.run(config + ["--output", out] + list(extra), ranks, EXIT_OK, what=name,
                       mpi_args=mpi_args, program=program)

    both = attempt("both bound", 2, mpi_args=["--bind-to", "core"])
    found = notes(both)
    ctx.check(len(found) == 1 and found[0].group(1) == "ranks 0, 1" and found[0].group(2) == "2"
              and found[0].group(3) == "0", "two ranks bound to one CPU each: expected one note "
              f"naming ranks 0, 1 (of 2), got {[m.group(0) for m in found]}", both)
    ctx.check(both.err.count("bound to one CPU") == 1, "the note is printed more than once",
              both)
    for name, extra in (("sync commits", ["--sync-commits"]), ("no checkpoint",
                                                               ["--no-checkpoint"])):
        r = attempt(name, 2, extra, mpi_args=["--bind-to", "core"])
        ctx.check(not notes(r) and "bound to one CPU" not in r.err,
                  f"{name}: no asynchronous commit threads, but the placement note is printed",
                  r)
    if len(os.sched_getaffinity(0)) < 2:
        print("  (this machine lets the tests use one CPU: the unbound cases are left out)")
        return
    free = attempt("unbound", 2, mpi_args=["--bind-to", "none"])
    ctx.check("bound to one CPU" not in free.err,
              "ranks free to use every CPU: the placement note is printed", free)
    # One rank of two bound by taskset inside an unbound job: the note names it, and only it.
    cpu = sorted(os.sched_getaffinity(0))[-1]
    wrapper = ctx.path("bind-rank-1.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                f'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec taskset -c {cpu} '
                f'"{ctx.stormrun}" "$@"; fi\n'
                f'exec "{ctx.stormrun}" "$@"\n')
    os.chmod(wrapper, 0o755)
    one = attempt("rank 1 bound", 2, mpi_args=["--bind-to", "none"], program=wrapper)
    found = notes(one)
    ctx.check(len(found) == 1 and found[0].group(1) == "rank 1" and found[0].group(3) == "1"
              and found[0].group(5) == str(cpu) and found[0].group(4) == socket.gethostname(),
              f"rank 1 alone bound to CPU {cpu}: expected a note naming rank 1 on "
              f"{socket.gethostname()} CPU {cpu}, got {[m.group(0) for m in found]}", one)


CASES = {
    "ensemble_matrix": case_ensemble_matrix,
    "deterministic_matrix": case_deterministic_matrix,
    "sigkill_resume": case_sigkill_resume,
    "levels_rerun": case_levels_rerun,
    "mixed_steps_resume": case_mixed_steps_resume,
    "diagnostic_resume": case_diagnostic_resume,
    "filtered_output": case_filtered_output,
    "bad_inputs": case_bad_inputs,
    "mismatched_resume": case_mismatched_resume,
    "xarray_layout": case_xarray_layout,
    "config_precedence": case_config_precedence,
    "node_layout": case_node_layout,
    "zonal_model": case_zonal_model,
    "cpu_placement": case_cpu_placement,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    parser.add_argument("--stormrun-zonal", help="stormrun built with the zonal-relaxation "
                                                 "test model (zonal_model)")
    parser.add_argument("cases", nargs="+", choices=list(CASES) + ["all"])
    opts = parser.parse_args()
    names = list(CASES) if "all" in opts.cases else opts.cases
    return run_cases(names, lambda name: Ctx(opts.stormrun, opts.mpiexec, name,
                                             opts.stormrun_zonal),
                     lambda name, ctx: CASES[name](ctx))


def run_cases(names, make_ctx, run_one):
    """Runs each case `name` as run_one(name, make_ctx(name)) in its own work dir, prints
    how each went and a summary; returns the exit status (1 when any case failed). Shared by
    the e2e scripts (e2e.py, evidence.py, trust_inputs.py)."""
    failed = []
    for name in names:
        ctx = make_ctx(name)
        print(f"== {name} (in {ctx.work})", flush=True)
        start = time.monotonic()
        try:
            run_one(name, ctx)
        except CaseFailed as e:
            if not ctx.failures:
                ctx.failures.append(str(e))
        except Exception as e:  # a crash of the test itself is a failure too
            import traceback
            traceback.print_exc()
            ctx.failures.append(f"{type(e).__name__}: {e}")
        took = time.monotonic() - start
        if ctx.failures:
            failed.append(name)
            print(f"== {name}: FAILED ({len(ctx.failures)} problem(s), {took:.1f}s)")
        else:
            print(f"== {name}: passed ({took:.1f}s)")
        if os.environ.get("STORMRUN_KEEP_TMP") != "1":
            shutil.rmtree(ctx.work, ignore_errors=True)
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed"
          + (f": {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
