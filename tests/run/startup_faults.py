#!/usr/bin/python3
"""Start-up, the step loop and shut-down never hang: a test-only fault point
(STORMRUN_TEST_STARTUP_FAULT=<point>:<rank>[,<rank>...]) fails chosen ranks at each agreement
point of `stormrun run` (every phase's first, and the later ones of store, output and
migration), under `mpirun --mca orte_abort_on_non_zero_status 0` (mpirun then kills no
rank for us, as srun would not). Each rank's own exit status is recorded by a wrapper
(rank_status.sh). For every phase, on 2 and 3 ranks, it asserts:
  - every rank exited (none left waiting; the whole job is bounded by a timeout), none by a
    signal, all with the same exit code, the phase's documented one;
  - the failing rank's message names it, its host and the phase;
  - nothing was half-written: before the store is touched no file exists; after, the same
    command without the fault runs (or resumes) to exactly the bytes of an uninterrupted run.
And without any fault point, real failures that one rank alone sees (an MPMD launch gives
rank 1 an INI file it cannot read, an output directory it does not have, or another
--flush-interval in its INI file than the others) end every rank with exit 2 and a message naming rank 1.
The measured times are printed, not asserted.

    startup_faults.py --stormrun PATH --mpiexec PATH
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (the end-to-end helpers: Ctx, compare_outputs, verify)

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "rank_status.sh")
TIMEOUT = 120  # generous: a hang shows as a timeout; the times are printed

CONFIG = ["--workflow", "ensemble", "--grid", "16x32", "--nsteps", "4", "--dt", "3600",
          "--nensemble", "3", "--perturbation", "gaussian", "--seed", "5", "--batch-size", "3",
          "--quiet"]

# Where the fault is injected (a phase's first agreement, or a later one: "phase-suffix"), on
# which (world size, failing ranks), the phase the run reports stopping in, its exit code,
# whether the run resumes a stopped store, and whether files may exist afterwards.
EVERY = ((2, [1]), (3, [0]), (3, [1, 2]))
ONE = ((3, [1]),)
POINTS = {
    "options": ("options", e2e.EXIT_CONFIG, False, False, EVERY),
    "paths": ("paths", e2e.EXIT_CONFIG, False, False, EVERY),
    "device": ("device", e2e.EXIT_CONFIG, False, False, EVERY),
    "inputs": ("inputs", e2e.EXIT_CONFIG, False, False, ONE),
    "store": ("store", e2e.EXIT_MISMATCH, False, False, EVERY),
    "store-summary": ("store", e2e.EXIT_MISMATCH, False, False, ONE),
    "store-mark": ("store", e2e.EXIT_MISMATCH, False, True, ONE),
    "store-progress": ("store", e2e.EXIT_NO_PROGRESS, True, True, ONE),
    "output": ("output", e2e.EXIT_FAILURE, False, True, EVERY),
    "output-open": ("output", e2e.EXIT_FAILURE, False, True, ONE),
    "output-ready": ("output", e2e.EXIT_FAILURE, False, True, ONE),
    "checkpoint": ("checkpoint", e2e.EXIT_MISMATCH, False, True, EVERY),
    "model": ("model", e2e.EXIT_FAILURE, False, True, EVERY),
    "migration": ("migration", e2e.EXIT_MISMATCH, True, True, EVERY),
    "migration-commit": ("migration", e2e.EXIT_FAILURE, True, True, ONE),
    "finish": ("finish", e2e.EXIT_FAILURE, False, True, EVERY),
    # the step loop (forecast.cpp): local work agreed before the next collective
    "step-model": ("step", e2e.EXIT_FAILURE, False, True, ((2, [1]),)),
    "step-commit": ("step", e2e.EXIT_FAILURE, True, True, EVERY),
    "step-final-commit": ("step", e2e.EXIT_FAILURE, False, True, ONE),
    # the output's collective operations (output_file.cpp): agreed inside each one
    "output-write": ("step", e2e.EXIT_FAILURE, False, True, ((3, [0]), (3, [1, 2]))),
    "output-flush": ("step", e2e.EXIT_FAILURE, False, True, ((2, [1]),)),
    # the deferred fsync of a commit step's output (asynchronous commits), on its own thread:
    # its failure is agreed at the next step, and the commit claiming it is never published
    "output-deferred-fsync": ("step", e2e.EXIT_FAILURE, False, True, ((2, [1]), (3, [0, 2]))),
    "output-close": ("close", e2e.EXIT_FAILURE, False, True, ((2, [1]), (3, [0, 2]))),
}


def run_ranks(ctx, args, ranks, fault, status_dir, per_rank_args=None):
    """mpirun that kills nobody; returns (per-rank (status, end time), stderr, seconds).
    With per_rank_args (a list of argument lists), an MPMD launch: rank r runs its own."""
    shutil.rmtree(status_dir, ignore_errors=True)
    os.makedirs(status_dir)
    argv = [ctx.mpiexec, "--oversubscribe", "--mca", "orte_abort_on_non_zero_status", "0"]
    for r, rank_args in enumerate(per_rank_args or [args]):
        argv += ([":"] if r else []) + ["-np", "1" if per_rank_args else str(ranks),
                                        WRAPPER, ctx.stormrun, "run"] + rank_args
    env = dict(ctx.env)
    env["STORMRUN_STATUS_DIR"] = status_dir
    if fault:
        env["STORMRUN_TEST_STARTUP_FAULT"] = fault
    start = time.time()
    try:
        p = subprocess.run(argv, env=env, cwd=ctx.work, capture_output=True, text=True,
                           timeout=TIMEOUT)
        err = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        err = f"TIMEOUT after {TIMEOUT}s\n{e.stdout or ''}{e.stderr or ''}"
    seconds = time.time() - start
    statuses = {}
    for r in range(ranks):
        path = os.path.join(status_dir, f"rank.{r}")
        if os.path.exists(path):
            code, ended = open(path).read().split()
            statuses[r] = (int(code), float(ended) - start)
    return statuses, err, seconds


def check_fault(ctx, point, ranks, failing, ref, times):
    phase, code, resumes, may_write, _ = POINTS[point]
    name = f"{point}-np{ranks}-fail{'+'.join(map(str, failing))}"
    os.makedirs(ctx.path(name))
    out = ctx.path(name, "out.h5")
    args = CONFIG + ["--output", out]
    status_dir = ctx.path(name, "status")
    if resumes:
        statuses, err, _ = run_ranks(ctx, args + ["--stop-after-steps", "2"], ranks, None,
                                     status_dir)
        ctx.require(all(s == e2e.EXIT_STOPPED for s, _ in statuses.values()) and
                    len(statuses) == ranks, f"{name}: the stop before the fault: {statuses}\n{err}")
    fault = f"{point}:{','.join(map(str, failing))}"
    statuses, err, seconds = run_ranks(ctx, args, ranks, fault, status_dir)
    slowest = max((t for _, t in statuses.values()), default=float("nan"))
    times.append((name, seconds))
    print(f"  [{seconds:5.1f}s, last rank ended at {slowest:4.1f}s] {name}: "
          f"{ {r: s for r, (s, _) in statuses.items()} }", flush=True)
    ctx.check(len(statuses) == ranks,
              f"{name}: only ranks {sorted(statuses)} of {ranks} exited (a rank hung or the "
              f"job was killed)\n{err}")
    for r, (status, _) in statuses.items():
        ctx.check(status < 128, f"{name}: rank {r} was killed by signal {status - 128}\n{err}")
        ctx.check(status == code, f"{name}: rank {r} exited {status}, expected {code}\n{err}")
    host = socket.gethostname()
    # Each failing rank is named with its host: on its own line, or, when several ranks saw
    # the same message, in the "(the same on ranks R@HOST, ...)" list of the first one's line.
    first = failing[0]
    line = next((l for l in err.splitlines()
                 if l.startswith(f"stormrun[rank {first}@{host}]: error: test fault injected "
                                 f"at '{point}'")), None)
    ctx.check(line is not None, f"{name}: no message naming rank {first}, its host and the "
                                f"phase\n{err}")
    for r in failing[1:]:
        ctx.check(line is not None and f"{r}@{host}" in line.split("(the same on", 1)[-1],
                  f"{name}: rank {r} and its host are not named with the message\n{err}")
    ctx.check(f"stopped in phase '{phase}'" in err,
              f"{name}: no line naming the phase the run stopped in\n{err}")
    if point == "output-deferred-fsync":
        # The fault fails the first deferred fsync (step 0's): no rank published a row.
        p = subprocess.run([ctx.stormrun, "catalog", out + ".ckpt", "--json"],
                           capture_output=True, text=True, env=ctx.env)
        rows = json.loads(p.stdout).get("ranks", {}) if p.returncode == 0 else None
        ctx.check(rows is not None and not any(rows.values()),
                  f"{name}: a commit whose output fsync failed was published: {rows}\n"
                  f"{p.stdout}{p.stderr}")
    if not may_write:
        ctx.check(not os.path.exists(out) and not os.path.exists(out + ".ckpt"),
                  f"{name}: files were created: {os.listdir(ctx.path(name))}")
    # The same command without the fault completes to the uninterrupted bytes.
    statuses, err, _ = run_ranks(ctx, args, ranks, None, status_dir)
    ctx.check(len(statuses) == ranks and all(s == 0 for s, _ in statuses.values()),
              f"{name}: the run without the fault: {statuses}\n{err}")
    e2e.compare_outputs(ctx, ref, out, f"{name}: rerun without the fault")
    e2e.verify(ctx, out + ".ckpt", name)


def check_one_rank_sees_it(ctx, times):
    """Real failures that one rank alone sees (an MPMD launch gives rank 1 its own view): an
    INI file it cannot read, an output directory it does not have. No fault point."""
    host = socket.gethostname()
    ini = ctx.path("run.ini")
    with open(ini, "w") as f:
        f.write("flush-interval = 1\n")
    other_ini = ctx.path("other.ini")
    with open(other_ini, "w") as f:
        f.write("flush-interval = 2\n")
    for name, option in (("unreadable-ini", "--config"), ("missing-output-dir", "--output"),
                         ("other-settings", "flush-interval")):
        os.makedirs(ctx.path(name))
        out = ctx.path(name, "out.h5")
        good = CONFIG + ["--config", ini, "--output", out]
        bad = CONFIG + {"--config": ["--config", ctx.path("missing.ini"), "--output", out],
                        "--output": ["--config", ini, "--output",
                                     ctx.path("no-such-dir", "out.h5")],
                        # rank 1's node has another INI file: the ranks must refuse to run
                        "flush-interval": ["--config", other_ini, "--output", out]}[option]
        for ranks in (2, 3):
            per_rank = [good] * ranks
            per_rank[1] = bad
            statuses, err, seconds = run_ranks(ctx, [], ranks, None, ctx.path(name, "status"),
                                               per_rank)
            times.append((f"{name}-np{ranks}", seconds))
            print(f"  [{seconds:5.1f}s] {name}-np{ranks}: "
                  f"{ {r: s for r, (s, _) in statuses.items()} }", flush=True)
            ctx.check(len(statuses) == ranks and
                      all(s == e2e.EXIT_CONFIG for s, _ in statuses.values()),
                      f"{name} on {ranks} ranks: statuses {statuses}, expected all "
                      f"{e2e.EXIT_CONFIG}\n{err}")
            if option == "flush-interval":
                ctx.check(f"flush-interval: rank 0 '1', rank 1@{host} '2'" in err,
                          f"{name} on {ranks} ranks: the setting and rank 1@host are not "
                          f"named\n{err}")
            else:
                ctx.check(f"stormrun[rank 1@{host}]: error: {option}" in err,
                          f"{name} on {ranks} ranks: rank 1 does not name itself and "
                          f"{option}\n{err}")
            ctx.check(not os.path.exists(out) and not os.path.exists(out + ".ckpt"),
                      f"{name}: files were created")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("points", nargs="*", default=list(POINTS))
    opts = parser.parse_args()
    # `orte_abort_on_non_zero_status` is Open MPI 4's (ORTE); under another mpirun the test
    # would not show what it claims.
    version = subprocess.run([opts.mpiexec, "--version"], capture_output=True, text=True).stdout
    if not re.search(r"\((Open MPI|OpenRTE)\) 4\.", version):
        print(f"startup_faults: needs Open MPI 4's mpirun (orte_abort_on_non_zero_status); "
              f"{opts.mpiexec} says: {version.strip()}")
        return 1
    ctx = e2e.Ctx(opts.stormrun, opts.mpiexec, "startup_faults")
    print(f"== startup_faults (in {ctx.work})", flush=True)
    times = []
    try:
        ref = e2e.prepare(ctx, "ref")
        ctx.run(CONFIG + ["--output", ref], None, e2e.EXIT_OK, what="reference, 1 rank")
        check_one_rank_sees_it(ctx, times)
        for point in opts.points:
            for ranks, failing in POINTS[point][4]:
                check_fault(ctx, point, ranks, failing, ref, times)
    except e2e.CaseFailed:
        pass
    if times:
        worst = max(times, key=lambda t: t[1])
        print(f"  {len(times)} faulted starts; slowest {worst[1]:.1f}s ({worst[0]}), "
              f"mean {sum(t for _, t in times) / len(times):.1f}s")
    if os.environ.get("STORMRUN_KEEP_TMP") != "1":
        shutil.rmtree(ctx.work, ignore_errors=True)
    print("== startup_faults: " + ("FAILED" if ctx.failures else "passed"))
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
