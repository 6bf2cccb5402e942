#!/usr/bin/python3
"""Stop signals end `stormrun run` cleanly at every instant, and the run's lock covers its
output. Every rank's own exit status is recorded by a wrapper (rank_status.sh) under
`mpirun --mca orte_abort_on_non_zero_status 0` (mpirun then kills no rank for us).

Cases (all by default, or name some):
  startup   For every start-up phase (the agreement points of agreement.hpp, and "mpi-init"
            before MPI_Init), the test-only pause hook (STORMRUN_TEST_PAUSE_AT=<point>:0,1)
            holds both ranks of a 2-rank run there; SIGTERM, SIGINT, SIGUSR1 or SIGUSR2 is
            sent to one rank or to both, and the other is released. Asserted: every rank
            exits 75 (0 at "finish": the run had finished), the LOCKs are gone, the catalog
            agrees (stopped / complete), nothing was created before the phase that creates
            it, and the same command then completes to the bytes of an uninterrupted run.
  random    SIGTERM/SIGINT to every rank at random instants of a run, mostly near its end:
            each rank exits 0 or 75 (never 128+N), all alike, matching the catalog's last
            run (complete / stopped), no LOCK left, and the rerun gives the same bytes.
  mpirun    Which signals sent to mpirun (Open MPI 4) reach the ranks: SIGUSR1 and SIGUSR2
            are forwarded (every rank 75, mpirun 75, no lock left); SIGTERM and SIGINT make
            mpirun end the job and return 1 whatever the ranks recorded (the catalog says
            stopped, or failed when mpirun's SIGKILL came first). The same command then
            completes to the reference bytes.
  catalog   `stormrun catalog --json` gives the last run's outcome: complete, stopped,
            failed (an agreed failure; a killed run), in progress (a paused run); a path
            that is not a store exits 1.
  lock      A second run with another store and --overwrite (or --no-checkpoint) onto the
            output of a running one is refused with exit 3 naming the output, the holder
            and what to do, on every rank; the first run's file is untouched and it
            completes to the reference bytes; a stale output lock is recovered.

    signals.py --stormrun PATH --mpiexec PATH [case...]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (the end-to-end helpers: Ctx, compare_outputs, verify)

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "rank_status.sh")
TIMEOUT = 120  # generous: a hang shows as a timeout

CONFIG = ["--workflow", "ensemble", "--grid", "16x32", "--nsteps", "4", "--dt", "3600",
          "--nensemble", "3", "--perturbation", "gaussian", "--seed", "5", "--batch-size", "3",
          "--quiet"]

# Every pause point in the order a run meets it; whether the run must resume a stopped
# store to reach it (migration), and the first point at which the store / output may exist.
POINTS = ["mpi-init", "options", "paths", "device", "store", "store-summary", "store-mark",
          "output", "output-open", "output-ready", "checkpoint", "model", "migration",
          "migration-commit", "finish"]
RESUMES = {"migration", "migration-commit"}
STORE_FROM = POINTS.index("store-mark")
OUTPUT_FROM = POINTS.index("output-open")
# (signal, ranks that receive it), cycled over the points so that every pair is met.
VARIANTS = [(signal.SIGTERM, [1]), (signal.SIGINT, [0, 1]), (signal.SIGUSR1, [0]),
            (signal.SIGUSR2, [1]), (signal.SIGTERM, [0, 1]), (signal.SIGINT, [1]),
            (signal.SIGUSR1, [0, 1]), (signal.SIGTERM, [0])]


class Job:
    """One mpirun of `ranks` ranks under the status wrapper, in the background."""

    def __init__(self, ctx, args, ranks, status_dir, env=None, abort_on_failure=False,
                 wrapper=True):
        shutil.rmtree(status_dir, ignore_errors=True)
        os.makedirs(status_dir)
        self.ctx, self.ranks, self.status_dir = ctx, ranks, status_dir
        argv = [ctx.mpiexec, "--oversubscribe", "-np", str(ranks)]
        if not abort_on_failure:
            argv[1:1] = ["--mca", "orte_abort_on_non_zero_status", "0"]
        argv += ([WRAPPER] if wrapper else []) + [ctx.stormrun, "run"] + args
        full = dict(ctx.env)
        full["STORMRUN_STATUS_DIR"] = status_dir
        full.update(env or {})
        self.start = time.time()
        self.p = subprocess.Popen(argv, env=full, cwd=ctx.work, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.output = ""

    def wait(self, timeout=TIMEOUT):
        try:
            self.output, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            e2e.kill_session(self.p.pid)
            self.output, _ = self.p.communicate()
            self.output = f"TIMEOUT after {timeout}s\n{self.output}"
        return self.p.returncode

    def statuses(self):
        found = {}
        for r in range(self.ranks):
            path = os.path.join(self.status_dir, f"rank.{r}")
            if os.path.exists(path):
                found[r] = int(open(path).read().split()[0])
        return found


def wait_for_files(paths, job, limit=60.0):
    """True once every path exists; False if the job ended (or `limit` passed) first."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if all(os.path.exists(p) for p in paths):
            return True
        if job.p.poll() is not None:
            return all(os.path.exists(p) for p in paths)
        time.sleep(0.01)
    return False


def catalog(ctx, store):
    """(exit code, parsed --json or None, stderr) of `stormrun catalog STORE --json`; a
    document without "last_run" gets one of "outcome" null, so that checks fail cleanly."""
    p = subprocess.run([ctx.stormrun, "catalog", store, "--json"], capture_output=True,
                       text=True, env=ctx.env)
    doc = json.loads(p.stdout) if p.returncode == 0 else None
    if doc is not None:
        doc.setdefault("last_run", {"outcome": None, "exit": None, "steps": None,
                                    "ended_at": None})
        doc.setdefault("lock", None)
    return p.returncode, doc, p.stderr


def locks_left(out):
    return [p for p in (out + ".ckpt/LOCK", out + ".lock") if os.path.exists(p)]


def rerun_matches(ctx, name, args, ref, out, status_dir):
    job = Job(ctx, args, 2, status_dir)
    job.wait()
    st = job.statuses()
    ok = ctx.check(len(st) == 2 and all(s == 0 for s in st.values()),
                   f"{name}: the identical rerun: statuses {st}\n{job.output}")
    if ok:
        e2e.compare_outputs(ctx, ref, out, f"{name}: rerun after the stop")
        e2e.verify(ctx, out + ".ckpt", name)


# ---- startup ---------------------------------------------------------------------------
def check_pause_point(ctx, index, point, ref):
    sig, targets = VARIANTS[index % len(VARIANTS)]
    name = f"{point}-{sig.name}-to-{'+'.join(map(str, targets))}"
    os.makedirs(ctx.path(name))
    out = ctx.path(name, "out.h5")
    args = CONFIG + ["--output", out]
    status_dir, pause_dir = ctx.path(name, "status"), ctx.path(name, "pause")
    os.makedirs(pause_dir)
    if point in RESUMES:
        job = Job(ctx, args + ["--stop-after-steps", "2"], 2, status_dir)
        job.wait()
        ctx.require(job.statuses() == {0: 75, 1: 75},
                    f"{name}: the stop before the resume: {job.statuses()}\n{job.output}")
    job = Job(ctx, args, 2, status_dir, env={"STORMRUN_TEST_PAUSE_AT": f"{point}:0,1",
                                            "STORMRUN_TEST_PAUSE_DIR": pause_dir})
    markers = [os.path.join(pause_dir, f"paused.{point}.{r}") for r in (0, 1)]
    if not ctx.check(wait_for_files(markers, job), f"{name}: the ranks never paused"):
        job.wait()
        print(job.output)
        return
    pids = {r: int(open(markers[r]).read()) for r in (0, 1)}
    for r in targets:
        os.kill(pids[r], sig)
    time.sleep(0.05)
    open(os.path.join(pause_dir, "go"), "w").close()  # releases the rank not signalled
    job.wait()
    st = job.statuses()
    expected = 0 if point == "finish" else e2e.EXIT_STOPPED
    print(f"  [{time.time() - job.start:4.1f}s] {name}: {st}", flush=True)
    ctx.check(len(st) == 2, f"{name}: only ranks {sorted(st)} exited\n{job.output}")
    for r, s in st.items():
        ctx.check(s == expected, f"{name}: rank {r} exited {s}, expected {expected}"
                                 f"{' (killed by the signal)' if s > 128 else ''}\n{job.output}")
    ctx.check(not locks_left(out), f"{name}: stale locks left: {locks_left(out)}")
    if point != "finish":
        ctx.check(re.search(rf"note: {sig.name} received by rank {min(targets)}: the run stops "
                            rf"in phase", job.output) is not None,
                  f"{name}: no note naming {sig.name} and rank {min(targets)}\n{job.output}")
    first = point in RESUMES
    if not first and POINTS.index(point) < STORE_FROM:
        ctx.check(not os.path.exists(out + ".ckpt"), f"{name}: a store was created")
    if not first and POINTS.index(point) < OUTPUT_FROM:
        ctx.check(not os.path.exists(out), f"{name}: an output was created")
    if os.path.exists(out + ".ckpt/catalog.json"):
        code, doc, err = catalog(ctx, out + ".ckpt")
        want = "complete" if point == "finish" else "stopped"
        ctx.check(code == 0 and doc["last_run"]["outcome"] == want and
                  doc["last_run"]["exit"] == expected,
                  f"{name}: catalog --json last_run {doc and doc['last_run']} (exit {code} "
                  f"{err}), expected {want}/{expected}")
    rerun_matches(ctx, name, args, ref, out, status_dir)


def case_startup(ctx, ref, points):
    for i, point in enumerate(points):
        check_pause_point(ctx, i, point, ref)


# ---- random ----------------------------------------------------------------------------
def catches_stop_signals(pid):
    """True once `pid` has installed its stop handlers (main's first instruction): a signal
    before that, while the program is still being loaded, meets the default action, which
    no program can change."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("SigCgt:"):
            caught = int(line.split()[1], 16)
            return all(caught & (1 << (s - 1)) for s in (signal.SIGTERM, signal.SIGINT))
    return False


def rank_pids(ctx, out):
    """Pids of the stormrun processes (not their wrappers) writing `out` that catch the stop
    signals."""
    pids = []
    real = os.path.realpath(ctx.stormrun)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.path.realpath(f"/proc/{entry}/exe") != real:
                continue
            if (out in open(f"/proc/{entry}/cmdline").read().split("\0") and
                    catches_stop_signals(entry)):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def case_random(ctx, _, rounds=8):
    """Every rank is signalled once it catches the stop signals (from main's first
    instruction), at a random instant of a run, mostly in its last second."""
    seed = int(os.environ.get("STORMRUN_TEST_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"  random: seed {seed} (STORMRUN_TEST_SEED to repeat)", flush=True)
    config = [a if a != "4" else "12" for a in CONFIG]  # --nsteps 12
    os.makedirs(ctx.path("random-ref"))
    ref = ctx.path("random-ref", "out.h5")
    # The window: from when both ranks catch the signals to when the first rank ends.
    job = Job(ctx, config + ["--output", ref], 2, ctx.path("random-ref", "status"))
    while len(rank_pids(ctx, ref)) < 2 and job.p.poll() is None:
        time.sleep(0.005)
    first = time.time() - job.start
    job.wait()
    ctx.require(job.statuses() == {0: 0, 1: 0}, f"random: the reference\n{job.output}")
    ends = [float(open(os.path.join(job.status_dir, f"rank.{r}")).read().split()[1])
            for r in (0, 1)]
    length = min(ends) - job.start
    print(f"  random: ranks catch signals from {first:.2f}s, end at {length:.2f}s", flush=True)
    outcomes = {}
    for i in range(rounds):
        name = f"random-{i}"
        os.makedirs(ctx.path(name))
        out = ctx.path(name, "out.h5")
        args = config + ["--output", out]
        sig = rng.choice([signal.SIGTERM, signal.SIGINT])
        delay = first + (length - first) * (rng.uniform(0.0, 1.0) if i % 4 == 0 else
                                            rng.uniform(0.7, 1.02))
        job = Job(ctx, args, 2, ctx.path(name, "status"))
        time.sleep(delay)
        pids = []
        while len(pids) < 2 and job.p.poll() is None:  # both ranks catch the signals
            pids = rank_pids(ctx, out)
        pids = rank_pids(ctx, out)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        job.wait()
        st = job.statuses()
        values = set(st.values())
        print(f"  [{delay:4.1f}s of {length:4.1f}s] {name}: {sig.name} to {len(pids)} "
              f"rank(s): {st}", flush=True)
        ctx.check(len(st) == 2 and len(values) == 1 and values <= {0, 75},
                  f"{name}: statuses {st}, expected every rank 0 or every rank 75\n{job.output}")
        ctx.check(not locks_left(out), f"{name}: stale locks left: {locks_left(out)}")
        code = next(iter(values)) if len(values) == 1 else None
        outcomes[code] = outcomes.get(code, 0) + 1
        if os.path.exists(out + ".ckpt/catalog.json"):
            rc, doc, err = catalog(ctx, out + ".ckpt")
            want = {0: "complete", 75: "stopped"}.get(code)
            ctx.check(rc == 0 and doc["last_run"]["outcome"] == want and
                      doc["last_run"]["exit"] == code,
                      f"{name}: exit {code} but catalog --json says {doc and doc['last_run']}")
        else:
            ctx.check(code == 75, f"{name}: exit {code} without a store")
        rerun_matches(ctx, name, args, ref, out, ctx.path(name, "status"))
    print(f"  random: outcomes {outcomes}", flush=True)


# ---- mpirun ----------------------------------------------------------------------------
def case_mpirun(ctx, ref):
    """Signals sent to mpirun itself. The ranks pause at "model" (after the output and the
    store exist), so the signal meets a running job deterministically."""
    facts = []
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        name = f"mpirun-{sig.name}"
        os.makedirs(ctx.path(name))
        out = ctx.path(name, "out.h5")
        args = CONFIG + ["--output", out]
        pause_dir = ctx.path(name, "pause")
        os.makedirs(pause_dir)
        # mpirun as it is usually run (it ends the job when a rank fails), status wrapper on.
        job = Job(ctx, args, 2, ctx.path(name, "status"), abort_on_failure=True,
                  env={"STORMRUN_TEST_PAUSE_AT": "model:0,1", "STORMRUN_TEST_PAUSE_DIR": pause_dir})
        markers = [os.path.join(pause_dir, f"paused.model.{r}") for r in (0, 1)]
        ctx.require(wait_for_files(markers, job), f"{name}: the ranks never paused\n")
        job.p.send_signal(sig)
        try:
            rc = job.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Not forwarded and not ending the job: release the ranks.
            open(os.path.join(pause_dir, "go"), "w").close()
            rc = None
        job.wait()
        rc = job.p.returncode if rc is None else rc
        st = job.statuses()
        facts.append((sig.name, rc, st))
        print(f"  {name}: mpirun exit {rc}, ranks {st}", flush=True)
        if sig in (signal.SIGUSR1, signal.SIGUSR2):
            ctx.check(st == {0: 75, 1: 75},
                      f"{name}: forwarded to every rank: expected every rank 75, got {st}\n"
                      f"{job.output}")
            ctx.check(rc == 75, f"{name}: mpirun exit {rc}, expected the ranks' 75")
            ctx.check(not locks_left(out), f"{name}: stale locks left: {locks_left(out)}")
        else:
            # mpirun ends the job itself: SIGTERM to every process of every rank, SIGKILL a
            # second later. The ranks stop at their next agreement (the catalog records it)
            # but mpirun kills them before they exit (in MPI_Finalize), so no rank status
            # comes back and mpirun returns 1. Timing decides how far the ranks got: only
            # what never depends on it is asserted; the rest is printed.
            ctx.check(rc == 1, f"{name}: mpirun exit {rc}: expected 1 (it ends the job)")
            code, doc, _ = catalog(ctx, out + ".ckpt")
            outcome = doc and doc["last_run"]["outcome"]
            print(f"  {name}: catalog last run {outcome}, locks left {locks_left(out)}",
                  flush=True)
            ctx.check(outcome in ("stopped", "failed"),
                      f"{name}: the catalog says {outcome}\n{job.output}")
        rerun_matches(ctx, name, args, ref, out, ctx.path(name, "status"))
    print("  facts (signal to mpirun: mpirun exit, rank statuses): " +
          "; ".join(f"{s}: {rc}, {st}" for s, rc, st in facts), flush=True)


# ---- catalog ---------------------------------------------------------------------------
def case_catalog(ctx, ref):
    # Not stores: exit 1 with a message naming the path.
    os.makedirs(ctx.path("empty"))
    os.makedirs(ctx.path("foreign"))
    open(ctx.path("foreign", "notes.txt"), "w").write("x")
    open(ctx.path("a-file"), "w").write("x")
    for path in (ctx.path("empty"), ctx.path("foreign"), ctx.path("a-file"), ctx.path("none")):
        for extra in ([], ["--json"]):
            p = subprocess.run([ctx.stormrun, "catalog", path] + extra, capture_output=True,
                               text=True, env=ctx.env)
            ctx.check(p.returncode == 1 and path in p.stderr,
                      f"catalog {path} {extra}: exit {p.returncode}, expected 1 naming it\n"
                      f"{p.stdout}{p.stderr}")
    name = "catalog-runs"
    os.makedirs(ctx.path(name))
    out = ctx.path(name, "out.h5")
    store = out + ".ckpt"
    args = CONFIG + ["--output", out]
    status_dir = ctx.path(name, "status")

    def last():
        code, doc, err = catalog(ctx, store)
        ctx.require(code == 0, f"catalog {store} --json: exit {code}\n{err}")
        return doc["last_run"]

    job = Job(ctx, args + ["--stop-after-steps", "2"], 2, status_dir)
    job.wait()
    ctx.require(job.statuses() == {0: 75, 1: 75}, f"{name}: stop: {job.statuses()}")
    run = last()
    ctx.check(run["outcome"] == "stopped" and run["exit"] == 75 and run["steps"] == 2 and
              run["ended_at"], f"{name}: after --stop-after-steps 2: {run}")
    # An agreed failure after the catalog was written: failed, exit 1.
    job = Job(ctx, args, 2, status_dir, env={"STORMRUN_TEST_STARTUP_FAULT": "model:1"})
    job.wait()
    ctx.require(job.statuses() == {0: 1, 1: 1}, f"{name}: fault: {job.statuses()}")
    run = last()
    ctx.check(run["outcome"] == "failed" and run["exit"] == 1,
              f"{name}: after an agreed failure: {run}")
    # A paused run: in progress, its LOCK named.
    pause_dir = ctx.path(name, "pause")
    os.makedirs(pause_dir)
    job = Job(ctx, args, 2, status_dir, env={"STORMRUN_TEST_PAUSE_AT": "model:0,1",
                                            "STORMRUN_TEST_PAUSE_DIR": pause_dir})
    markers = [os.path.join(pause_dir, f"paused.model.{r}") for r in (0, 1)]
    ctx.require(wait_for_files(markers, job), f"{name}: never paused")
    code, doc, err = catalog(ctx, store)
    ctx.check(code == 0 and doc["last_run"]["outcome"] == "in progress" and
              doc["lock"] and doc["lock"]["alive"] is True and
              doc["lock"]["host"] == socket.gethostname(),
              f"{name}: while running: {doc and (doc['last_run'], doc['lock'])}")
    # Killed (SIGKILL of every process of the job: mpirun and the ranks, which Open MPI puts
    # into process groups of their own, so that none outlives it to write its status file
    # while the next Job clears the directory): failed, the outcome not recorded.
    e2e.kill_session(job.p.pid)
    job.wait()
    for _ in range(100):
        code, doc, err = catalog(ctx, store)
        if doc and doc["last_run"]["outcome"] != "in progress":
            break
        time.sleep(0.05)
    ctx.check(doc and doc["last_run"]["outcome"] == "failed" and doc["last_run"]["exit"] is None,
              f"{name}: after SIGKILL: {doc and doc['last_run']}")
    # Complete.
    job = Job(ctx, args, 2, status_dir)
    job.wait()
    ctx.require(job.statuses() == {0: 0, 1: 0}, f"{name}: resume: {job.statuses()}\n{job.output}")
    run = last()
    ctx.check(run["outcome"] == "complete" and run["exit"] == 0 and run["steps"] == 2,
              f"{name}: after the resume: {run}")
    e2e.compare_outputs(ctx, ref, out, f"{name}: resumed after stop, failure and kill")
    p = subprocess.run([ctx.stormrun, "catalog", store], capture_output=True, text=True,
                       env=ctx.env)
    ctx.check(p.returncode == 0 and "last run: complete (exit 0), 2 step(s)" in p.stdout,
              f"{name}: the text form: {p.stdout}")


# ---- lock ------------------------------------------------------------------------------
def case_lock(ctx, ref):
    host = socket.gethostname()
    name = "lock"
    os.makedirs(ctx.path(name))
    out = ctx.path(name, "out.h5")
    pause_dir = ctx.path(name, "pause")
    os.makedirs(pause_dir)
    first = Job(ctx, CONFIG + ["--output", out], 2, ctx.path(name, "status-a"),
                env={"STORMRUN_TEST_PAUSE_AT": "model:0,1", "STORMRUN_TEST_PAUSE_DIR": pause_dir})
    markers = [os.path.join(pause_dir, f"paused.model.{r}") for r in (0, 1)]
    ctx.require(wait_for_files(markers, first), "lock: the first run never paused")
    holder_pid = int(open(markers[0]).read())
    before = e2e.tree_hash(out)
    for label, extra in (("other store, --overwrite",
                          ["--checkpoint-dir", ctx.path(name, "other.ckpt"), "--overwrite"]),
                         ("--no-checkpoint --overwrite", ["--no-checkpoint", "--overwrite"])):
        for ranks in (1, 2):
            second = Job(ctx, CONFIG + ["--output", out] + extra, ranks,
                         ctx.path(name, "status-b"))
            second.wait()
            st = second.statuses()
            print(f"  second run ({label}, {ranks} rank(s)): {st}", flush=True)
            ctx.check(len(st) == ranks and all(s == e2e.EXIT_MISMATCH for s in st.values()),
                      f"lock: second run ({label}): statuses {st}, expected all 3\n"
                      f"{second.output}")
            ctx.check(f"output {out} is in use by another run: host {host} pid {holder_pid}"
                      in second.output and "give another --output" in second.output and
                      "(MPI job" in second.output,
                      f"lock: the refusal does not name the output, holder and remedy\n"
                      f"{second.output}")
            ctx.check(e2e.tree_hash(out) == before, f"lock: ({label}) changed the first run's "
                                                    f"output")
            ctx.check(not os.path.exists(ctx.path(name, "other.ckpt", "catalog.json")),
                      f"lock: ({label}) wrote a catalog")
    open(os.path.join(pause_dir, "go"), "w").close()
    first.wait()
    st = first.statuses()
    ctx.check(st == {0: 0, 1: 0}, f"lock: the first run: {st}\n{first.output}")
    e2e.compare_outputs(ctx, ref, out, "lock: the first run beside refused ones")
    ctx.check(not locks_left(out), f"lock: locks left: {locks_left(out)}")
    # Released: the same second run now replaces the file (it asked to).
    second = Job(ctx, CONFIG + ["--output", out, "--checkpoint-dir", ctx.path(name, "other.ckpt"),
                                "--overwrite"], 1, ctx.path(name, "status-b"))
    second.wait()
    ctx.check(second.statuses() == {0: 0}, f"lock: after the first ended: {second.statuses()}\n"
                                           f"{second.output}")
    # A stale output lock (its process gone from this host) is recovered with a warning.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = {"format_version": 1, "host": host, "pid": dead.pid, "job": f"pid:{dead.pid}",
             "restart_count": 0, "started_at": "2026-01-01T00:00:00Z", "token": "0" * 32}
    name = "stale"
    os.makedirs(ctx.path(name))
    out = ctx.path(name, "out.h5")
    with open(out + ".lock", "w") as f:
        json.dump(stale, f)
    job = Job(ctx, CONFIG + ["--output", out], 2, ctx.path(name, "status"))
    job.wait()
    ctx.check(job.statuses() == {0: 0, 1: 0} and f"recovering {out}.lock" in job.output,
              f"stale lock: {job.statuses()}\n{job.output}")
    ctx.check(not locks_left(out), f"stale lock: locks left: {locks_left(out)}")
    e2e.compare_outputs(ctx, ref, out, "stale output lock recovered")


CASES = ("startup", "random", "mpirun", "catalog", "lock")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--points", default=",".join(POINTS),
                        help="startup: the pause points, comma-separated")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    opts = parser.parse_args()
    version = subprocess.run([opts.mpiexec, "--version"], capture_output=True, text=True).stdout
    if not re.search(r"\((Open MPI|OpenRTE)\) 4\.", version):
        print(f"signals: needs Open MPI 4's mpirun (orte_abort_on_non_zero_status); "
              f"{opts.mpiexec} says: {version.strip()}")
        return 1
    ctx = e2e.Ctx(opts.stormrun, opts.mpiexec, "signals")
    print(f"== signals {' '.join(opts.cases)} (in {ctx.work})", flush=True)
    try:
        ref = e2e.prepare(ctx, "ref")
        ctx.run(CONFIG + ["--output", ref], None, e2e.EXIT_OK, what="reference, 1 rank")
        for case in opts.cases:
            print(f"-- {case}", flush=True)
            try:
                if case == "startup":
                    case_startup(ctx, ref, opts.points.split(","))
                else:
                    globals()[f"case_{case}"](ctx, ref)
            except e2e.CaseFailed:
                pass
    except e2e.CaseFailed:
        pass
    if os.environ.get("STORMRUN_KEEP_TMP") != "1":
        shutil.rmtree(ctx.work, ignore_errors=True)
    print("== signals: " + ("FAILED" if ctx.failures else "passed"))
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
