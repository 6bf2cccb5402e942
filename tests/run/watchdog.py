#!/usr/bin/python3
"""How a run ends when it cannot go on normally: a hung rank, a second stop signal, the job's
wall time, and reruns that make no progress. Each case ends with the same command run to
completion and a byte-for-byte compare with an uninterrupted run.

Cases (all by default, or name some):
  hang          3 ranks with --hang-timeout 6; one rank is frozen (SIGSTOP) mid-run. The
                others end the whole job with exit 76 within the bound (asserted generously:
                < 60 s), the message names the frozen rank, its host and pid as lost (its
                heartbeat stopped) and where the reporting rank was stuck (phase, step,
                collective). The resume completes to the reference bytes.
  second        2 ranks with 6 s steps (test-only STORMRUN_TEST_SLOW_STEP): a SIGTERM to
                both, then a SIGUSR1 to one 0.5 s later. The job ends with exit 75 well
                before the step in flight would have ended (< 4.5 s after the second
                signal), the note names both signals and the durable step, no rank is left
                running, and the resume completes to the reference bytes.
  walltime      --end-time 12 s from now, 1 s steps, --walltime-reserve 3: the run stops
                itself with 75 before the end time, saying why (the wall time, the end, the
                measured step and commit), and recommends a --signal=B:USR1@N; the resume
                (no end time) completes to the reference bytes.
  noprogress    A store whose last 2 starts failed before computing anything (test fault
                point "model"): with --max-no-progress 2 the next start ends with exit 5,
                naming the runs, with the output and the store unchanged; with
                --max-no-progress 0 it completes to the reference bytes.

    watchdog.py --stormrun PATH --mpiexec PATH [case...]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "16x32", "--start-time", e2e.T0, "--nsteps", "12", "--dt", "3600",
          "--nensemble", "3", "--perturbation", "gaussian", "--seed", "5", "--quiet"]


def reference(ctx):
    out = e2e.prepare(ctx, "reference")
    ctx.run(CONFIG + ["--output", out], ranks=2, expect=0, what="uninterrupted reference")
    return out


def start(ctx, args, ranks, env=None):
    """mpirun of `args` in a session of its own; returns the Popen (stdout, stderr to files)."""
    full_env = dict(ctx.env)
    full_env.update(env or {})
    argv = ctx.argv(args, ranks)
    n = len([f for f in os.listdir(ctx.work) if f.startswith("log.")])
    out = open(ctx.path(f"log.{n}.out"), "w")
    err = open(ctx.path(f"log.{n}.err"), "w")
    p = subprocess.Popen(argv, env=full_env, cwd=ctx.work, stdout=out, stderr=err,
                         start_new_session=True)
    p.logs = (out.name, err.name)
    p.argv = argv
    return p


def ranks_of(p, count, limit=30.0):
    """The pids of the `count` stormrun ranks mpirun `p` started, in rank order."""
    until = time.monotonic() + limit
    while time.monotonic() < until:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = open(f"/proc/{entry}/stat").read()
                environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) != p.pid:  # parent pid
                continue
            for item in environ:
                if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                    found.append((int(item.split(b"=")[1]), int(entry)))
        if len(found) == count:
            return [pid for _, pid in sorted(found)]
        time.sleep(0.05)
    raise e2e.CaseFailed(f"mpirun {p.pid} did not start {count} ranks")


def finish(ctx, p, timeout):
    """Waits for `p` (killing its session after `timeout`); returns a Result."""
    t0 = time.monotonic()
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        e2e.kill_session(p.pid)
        p.wait()
        rc = "timeout"
    seconds = time.monotonic() - t0
    out, err = (open(path).read() for path in p.logs)
    result = e2e.Result(p.argv, rc, out, err, seconds)
    e2e.kill_session(p.pid)  # nothing of it may outlive the test
    return result


def wait_for_step(ctx, store, step, limit=60.0):
    """Until some unit of `store` has committed `step`."""
    until = time.monotonic() + limit
    while time.monotonic() < until:
        if os.path.isfile(os.path.join(store, "catalog.json")):
            try:
                if max(e2e.progress(ctx, store).values() or [-1]) >= step:
                    return
            except (e2e.CaseFailed, ValueError):
                pass
        time.sleep(0.1)
    raise e2e.CaseFailed(f"{store}: no commit of step {step} within {limit:.0f} s")


def resume_and_compare(ctx, ref, out, ranks=2, extra=()):
    ctx.run(CONFIG + ["--output", out] + list(extra), ranks=ranks, expect=0,
            what="resume to completion")
    e2e.compare_outputs(ctx, ref, out, "after the resume")
    e2e.verify(ctx, out + ".ckpt", "after the resume")


def case_hang(ctx):
    ref = reference(ctx)
    out = e2e.prepare(ctx, "hang")
    p = start(ctx, CONFIG + ["--output", out, "--hang-timeout", "6"], 3,
              env={"STORMRUN_TEST_SLOW_STEP": "0.3"})
    pids = ranks_of(p, 3)
    wait_for_step(ctx, out + ".ckpt", 2)
    os.kill(pids[1], signal.SIGSTOP)
    frozen = time.monotonic()
    result = finish(ctx, p, timeout=90)
    took = time.monotonic() - frozen
    print(f"  frozen rank 1 -> job ended after {took:.1f} s (bound 6 s): exit {result.rc}")
    ctx.check(result.rc == 76, f"a frozen rank: exit {result.rc}, expected 76", result)
    ctx.check(took < 60, f"the job ended {took:.1f} s after a rank froze (bound 6 s)", result)
    host = re.escape(os.uname().nodename)
    ctx.check(re.search(rf"hang watchdog: this rank made no progress for [0-9.]+ s \(bound 6\.0 s",
                        result.err), "no watchdog report naming the bound", result)
    ctx.check(re.search(rf"lost: rank 1@{host} \(pid {pids[1]}, heartbeat stopped", result.err),
              "the report does not name rank 1, its host and pid as lost", result)
    ctx.check(re.search(r"in phase '[a-z-]+', step \d+", result.err),
              "the report does not say where the rank was stuck", result)
    ctx.check(not any(os.path.exists(f"/proc/{pid}") and
                      open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z" for pid in pids),
              "a rank outlived the job", result)
    resume_and_compare(ctx, ref, out, ranks=3)


def case_second(ctx):
    ref = reference(ctx)
    out = e2e.prepare(ctx, "second")
    p = start(ctx, CONFIG + ["--output", out], 2, env={"STORMRUN_TEST_SLOW_STEP": "6"})
    pids = ranks_of(p, 2)
    wait_for_step(ctx, out + ".ckpt", 1)
    time.sleep(0.5)  # inside the next 6 s step
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    time.sleep(0.5)
    os.kill(pids[1], signal.SIGUSR1)
    second = time.monotonic()
    result = finish(ctx, p, timeout=60)
    took = time.monotonic() - second
    print(f"  second signal -> exit {result.rc} after {took:.2f} s (a step takes 6 s)")
    ctx.check(result.rc == 75, f"a second signal: exit {result.rc}, expected 75", result)
    ctx.check(took < 4.5, f"the job ended {took:.2f} s after the second signal; the step in "
                          f"flight (6 s) was not abandoned", result)
    ctx.check(re.search(r"second stop signal \(SIGUSR1 .*at [0-9T:.-]+Z; the first, SIGTERM, at "
                        r"[0-9T:.-]+Z\): abandoning phase 'step', step \d+; the last durable "
                        r"commit \(step \d+\) stands", result.err),
              "the note does not name both signals, the step and the durable commit", result)
    resume_and_compare(ctx, ref, out)


def case_walltime(ctx):
    ref = reference(ctx)
    out = e2e.prepare(ctx, "walltime")
    end = time.time() + 12
    end_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))
    args = [a for a in CONFIG if a != "--quiet"]
    result = ctx.run(args + ["--output", out, "--end-time", str(int(end)),
                             "--walltime-reserve", "3"],
                     ranks=2, env={"STORMRUN_TEST_SLOW_STEP": "1"}, what="--end-time in 12 s")
    stopped_at = time.time()
    ctx.check(result.rc == 75, f"the wall time: exit {result.rc}, expected 75", result)
    ctx.check(stopped_at < end, f"stopped {stopped_at - end:.1f} s after the end time", result)
    ctx.check(re.search(rf"the wall time: the job ends at {end_text[:-1]}\.\dZ \(--end-time\), "
                        r"and the next step \([0-9.]+ s\) \+ a commit \([0-9.]+ s\) \+ "
                        r"--walltime-reserve 3 s would not fit", result.out),
              "the stop does not say why (the wall time, the end, the step and commit)", result)
    ctx.check(re.search(r"submit with --signal=B:USR1@\d+", result.out),
              "no --signal recommendation", result)
    steps = e2e.progress(ctx, out + ".ckpt")
    ctx.check(0 < max(steps.values()) < 12, f"the wall-time stop committed {steps}", result)
    resume_and_compare(ctx, ref, out)
    # A bad value is refused, naming the option.
    bad = ctx.run(CONFIG + ["--output", ctx.path("bad.h5"), "--end-time", "tomorrow"],
                  expect=2, what="--end-time tomorrow")
    ctx.check("--end-time: 'tomorrow' is neither a UTC time" in bad.err,
              "--end-time tomorrow: no error naming the option", bad)


def case_noprogress(ctx):
    ref = reference(ctx)
    out = e2e.prepare(ctx, "noprogress")
    ctx.run(CONFIG + ["--output", out, "--stop-after-steps", "3"], ranks=2, expect=75,
            what="a first start stopped after 3 steps")
    fault = {"STORMRUN_TEST_STARTUP_FAULT": "model:1"}
    for i in range(2):
        ctx.run(CONFIG + ["--output", out], ranks=2, expect=1, env=fault,
                what=f"a start that fails before its first step ({i + 1})")
    before = e2e.tree_hash(out, out + ".ckpt")
    stuck = ctx.run(CONFIG + ["--output", out, "--max-no-progress", "2"], ranks=2, expect=5,
                    what="--max-no-progress 2 after 2 starts without progress")
    ctx.check(re.search(r"no progress: the last 2 runs of the store .* all started from the "
                        r"same committed steps as this one and committed nothing new \(.*exit 1.*"
                        r"exit 1\); not running again \(exit 5\)", stuck.err),
              "exit 5 without the message naming the runs", stuck)
    ctx.check(e2e.tree_hash(out, out + ".ckpt") == before,
              "the refused start changed the output or the store", stuck)
    resume_and_compare(ctx, ref, out, extra=["--max-no-progress", "0"])


CASES = {"hang": case_hang, "second": case_second, "walltime": case_walltime,
         "noprogress": case_noprogress}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    parser.add_argument("cases", nargs="*")
    opts = parser.parse_args()
    names = opts.cases or list(CASES)
    return e2e.run_cases(names, lambda name: e2e.Ctx(opts.stormrun, opts.mpiexec, name),
                         lambda name, ctx: CASES[name](ctx))


if __name__ == "__main__":
    sys.exit(main())
