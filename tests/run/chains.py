#!/usr/bin/python3
"""Randomised chains of stops and resumes end byte-identical to an uninterrupted run.

Each chain (built from a seeded random generator) picks a configuration (the ensemble
workflow on SWE or persistence, or the deterministic one, at small sizes, several work
units per rank) and then a sequence of starts of the same command on 1-3 ranks: each one
stopped with --stop-after-steps k (k = 1 often, so that a run stops again right after it
migrated), with another --batch-size now and then, and now and then SIGKILLed on one rank
after it was seen to commit instead of stopped; then a resume to completion. It asserts that
every stopped start exits 75 (or 0 when it finished), every resume makes progress, the
final output equals the uninterrupted run's in every dataset's bytes, and `stormrun verify`
exits 0.

    chains.py --stormrun PATH --mpiexec PATH

STORMRUN_CHAIN_SEED=S repeats a run (the seed is printed; chain i uses seed S+i);
STORMRUN_CHAINS=N runs N random chains (default 3). Before them, always, the chain of the
issue's stuck store (2 ranks stopped after 2 steps, 1 rank stopped after 1, 1 rank to the
end: it used to abort on every try with "the restart plan expects step ...").
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (Ctx, compare_outputs, verify, progress, commit_dirs, ...)

T0, T1 = e2e.T0, e2e.T1
CONFIGS = {
    "swe-ensemble": ["--workflow", "ensemble", "--model", "swe", "--initial-condition",
                     "galewsky", "--grid", "16x32", "--start-time", T0, "--nsteps", "6",
                     "--dt", "3600", "--nensemble", "5", "--perturbation", "gaussian",
                     "--seed", "3"],
    "persistence-ensemble": ["--workflow", "ensemble", "--model", "persistence",
                             "--initial-condition", "tc2", "--grid", "8x16", "--start-time", T0,
                             "--start-time", T1, "--nsteps", "5", "--dt", "3600",
                             "--nensemble", "3", "--perturbation", "gaussian", "--seed", "9"],
    "swe-deterministic": ["--workflow", "deterministic", "--model", "swe",
                          "--initial-condition", "tc6", "--grid", "16x32", "--start-time", T0,
                          "--start-time", T1, "--start-time", e2e.T2, "--nsteps", "5", "--dt",
                          "3600"],
}
# With statistics every member of a start time is resident together: batch = members.
STATS = {"swe-ensemble": 5, "persistence-ensemble": 3}


# The chain that made the stuck store of issue 10 (point 9), always run first.
REGRESSION = ("swe-ensemble", ["--quiet"], [(2, 2, 2, False), (1, 2, 1, False),
                                            (1, 2, None, False)])


def make_chain(rng):
    """(config name, extra args, [(ranks, batch, k or None for the final run, kill)])."""
    name = rng.choice(sorted(CONFIGS))
    extra = ["--quiet"]
    stats = name in STATS and rng.random() < 0.3
    if stats:
        extra += ["--statistics", "mean,std"]
    starts = []
    ranks = rng.randint(1, 3)
    for _ in range(rng.randint(2, 5)):
        batch = STATS[name] if stats else rng.randint(1, 3)
        k = 1 if rng.random() < 0.5 else rng.randint(1, 4)
        kill = ranks > 1 and rng.random() < 0.15
        starts.append((ranks, batch, k, kill))
        # Change the rank count most of the time: grow or shrink.
        if rng.random() < 0.75:
            ranks = rng.choice([r for r in (1, 2, 3) if r != ranks])
    starts.append((ranks, STATS[name] if stats else rng.randint(1, 3), None, False))
    return name, extra, starts


def stormrun_ranks(ctx, out):
    """pids of the stormrun processes (ranks) whose command line names `out`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if os.path.realpath(exe) == os.path.realpath(ctx.stormrun) and out.encode() in cmd:
            pids.append(int(pid))
    return pids


def killed_start(ctx, argv, out, rng, label):
    """Runs `argv` until it has committed a new step, then SIGKILLs one of its ranks.
    Returns the exit status of mpirun (or 0/75 when the run ended before the kill)."""
    store = out + ".ckpt"
    before = e2e.commit_dirs(store)
    start = time.monotonic()
    with open(ctx.path(label + ".log"), "w") as log:
        p = subprocess.Popen(argv, env=ctx.env, cwd=ctx.work, stdout=log, stderr=log,
                             start_new_session=True)
        seen = e2e.wait_for_commit(p, store, before, 0, start, limit=60)
        victim = None
        if seen is not None:
            time.sleep(rng.uniform(0.0, 0.3))
        if seen is not None and p.poll() is None:
            ranks = stormrun_ranks(ctx, out)
            if ranks:
                victim = rng.choice(sorted(ranks))
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    victim = None
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            e2e.kill_session(p.pid)
            p.wait()
            ctx.check(False, f"{label}: mpirun did not end within 60 s after a rank was "
                             f"SIGKILLed")
    return p.returncode, victim


def run_chain(ctx, index, seed, refs, chain=None):
    rng = random.Random(seed)
    name, extra, starts = chain or make_chain(rng)
    config = CONFIGS[name] + extra
    plan = " -> ".join(f"{r}r/b{b}/" + ("kill" if kill else f"k{k}" if k else "end")
                       for r, b, k, kill in starts)
    print(f"-- chain {index} (seed {seed}): {name}{' +statistics' if '--statistics' in extra else ''}:"
          f" {plan}", flush=True)
    key = name + ("+stats" if "--statistics" in extra else "")
    if key not in refs:
        ref = e2e.prepare(ctx, f"ref-{key}")
        batch = STATS[name] if "--statistics" in extra else 1
        ctx.run(config + ["--output", ref, "--batch-size", str(batch)], None, e2e.EXIT_OK,
                what=f"reference {key}")
        refs[key] = ref
    out = e2e.prepare(ctx, f"chain{index}")
    store = out + ".ckpt"
    finished = False
    for i, (ranks, batch, k, kill) in enumerate(starts):
        args = config + ["--output", out, "--batch-size", str(batch)]
        label = f"chain{index}.{i}"
        done_before = sum(e2e.progress(ctx, store).values()) if os.path.isdir(store) else 0
        if k is None:
            r = ctx.run(args, ranks, None, what=f"{label}: {ranks} rank(s), to the end")
            ctx.require(r.rc == e2e.EXIT_OK, f"chain {index} (seed {seed}): the final resume "
                                             f"on {ranks} rank(s) exited {r.rc}", r)
            finished = True
            break
        if kill:
            rc, victim = killed_start(ctx, ctx.argv(args, ranks), out, rng, label)
            print(f"  {label}: {ranks} ranks, SIGKILL of pid {victim}: mpirun exit {rc}",
                  flush=True)
            ctx.require(victim is not None or rc in (e2e.EXIT_OK,),
                        f"chain {index} (seed {seed}): {label} ended with {rc} before the kill")
            continue
        r = ctx.run(args + ["--stop-after-steps", str(k)], ranks, None,
                    what=f"{label}: {ranks} rank(s), batch {batch}, stop after {k}")
        ctx.require(r.rc in (e2e.EXIT_STOPPED, e2e.EXIT_OK),
                    f"chain {index} (seed {seed}): {label} on {ranks} rank(s) exited {r.rc}", r)
        done = sum(e2e.progress(ctx, store).values())
        ctx.check(done > done_before or r.rc == e2e.EXIT_OK,
                  f"chain {index} (seed {seed}): {label} made no progress ({done_before} -> "
                  f"{done} unit-steps)", r)
    ctx.require(finished, "chain without a final run")
    e2e.compare_outputs(ctx, refs[key], out, f"chain {index} (seed {seed})")
    e2e.check_complete(ctx, out, f"chain {index} (seed {seed})")
    e2e.verify(ctx, store, f"chain {index} (seed {seed})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    opts = parser.parse_args()
    seed = int(os.environ.get("STORMRUN_CHAIN_SEED", random.randrange(1 << 30)))
    count = int(os.environ.get("STORMRUN_CHAINS", "3"))
    ctx = e2e.Ctx(opts.stormrun, opts.mpiexec, "chains")
    print(f"== chains (in {ctx.work}): {count} chains, seed {seed} "
          f"(STORMRUN_CHAIN_SEED={seed} repeats them)", flush=True)
    e2e.become_subreaper()
    refs, failed = {}, []
    start = time.monotonic()
    try:
        try:
            run_chain(ctx, "stuck-store", seed, refs, REGRESSION)
        except e2e.CaseFailed:
            pass
        for i in range(count):
            before = len(ctx.failures)
            try:
                run_chain(ctx, i, seed + i, refs)
            except e2e.CaseFailed:
                pass
            if len(ctx.failures) > before:
                failed.append(seed + i)
    finally:
        for _ in range(50):
            e2e.reap_orphans()
            time.sleep(0.02)
    print(f"  {count} chains in {time.monotonic() - start:.0f}s")
    if failed:
        print("  failed chains: " + ", ".join(f"STORMRUN_CHAIN_SEED={s} STORMRUN_CHAINS=1"
                                              for s in failed))
    if os.environ.get("STORMRUN_KEEP_TMP") != "1":
        shutil.rmtree(ctx.work, ignore_errors=True)
    print("== chains: " + ("FAILED" if ctx.failures else "passed"))
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
