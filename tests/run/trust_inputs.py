#!/usr/bin/python3
"""Nothing is written before the input is known good, and a run finds its own files:
  validate_first  an unstable --substeps, a --noise-amplitude that makes the initial state
                  non-finite, sizes that cannot fit in memory (--grid 100000x200000, a
                  billion members) and an output that cannot fit on its disk (a small tmpfs,
                  as root): each ends every rank of 2 with exit 2 naming the option and the
                  estimate, and creates nothing — so the corrected command then just runs
                  (exit 0), where it used to be refused with exit 3 over the files the bad
                  one had left;
  moved_run       a run stopped early, its directory moved (and reached through a symlink)
                  resumes there, on another rank count, to the bytes of an uninterrupted
                  run, and verify finds the output where it now lies;
  build_id        ranks running different binaries (an MPMD line: stormrun and the
                  zonal-relaxation build) are refused with exit 2 naming the build id;
  small_items     a truncated catalog.json is set aside and the run resumes; a damaged
                  commit is reported once; a misspelt STORMRUN_ variable is named;
                  --config /dev/zero is refused; ranks' stderr lines never interleave.

    trust_inputs.py --stormrun PATH --mpiexec PATH [--stormrun-zonal PATH] [case ...]
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (the end-to-end helpers: Ctx, compare_outputs, verify)

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "rank_status.sh")
def swe(**options):
    """A small swe run's arguments; keyword options (noise_amplitude=...) override or add."""
    given = {"model": "swe", "grid": "16x32", "nsteps": "2", "dt": "3600"}
    given.update({k.replace("_", "-"): str(v) for k, v in options.items()})
    return [a for k, v in given.items() for a in (f"--{k}", v)] + ["--quiet"]


SWE = swe()
ENSEMBLE = {"workflow": "ensemble", "perturbation": "gaussian", "nensemble": 2}


def rank_statuses(status_dir, ranks):
    statuses = {}
    for r in range(ranks):
        path = os.path.join(status_dir, f"rank.{r}")
        if os.path.exists(path):
            with open(path) as f:
                statuses[r] = f.read().split()[0]
    return statuses


def run_two_ranks(ctx, args, what, per_rank_programs=None):
    """2 ranks under an mpirun that kills nobody; each rank's own exit status."""
    status_dir = ctx.path("status-" + str(len(os.listdir(ctx.work))))
    os.makedirs(status_dir)
    argv = [ctx.mpiexec, "--oversubscribe", "--mca", "orte_abort_on_non_zero_status", "0"]
    programs = per_rank_programs or [ctx.stormrun, ctx.stormrun]
    for r, program in enumerate(programs):
        argv += ([":"] if r else []) + ["-np", "1", WRAPPER, program, "run"] + args
    env = dict(ctx.env)
    env["STORMRUN_STATUS_DIR"] = status_dir
    try:
        p = subprocess.run(argv, env=env, cwd=ctx.work, capture_output=True, text=True,
                           timeout=120)
        err = p.stderr
    except subprocess.TimeoutExpired as e:
        err = f"TIMEOUT (a rank hangs)\n{e.stderr}"
    statuses = rank_statuses(status_dir, len(programs))
    shutil.rmtree(status_dir)
    print(f"  ranks exited {statuses}: {what}", flush=True)
    return statuses, err


def case_validate_first(ctx):
    cases = [
        # (what, the option the message must name, the bad arguments, the corrected ones)
        ("unstable sub-steps", "--substeps", swe(dt=21600, substeps=1),
         swe(dt=21600, substeps="auto")),
        ("non-finite noise", "--noise-amplitude", swe(**ENSEMBLE, noise_amplitude="1e300"),
         swe(**ENSEMBLE, noise_amplitude=1)),
        ("a grid no node holds", "--grid", swe(grid="100000x200000"), SWE),
        ("a billion members", "--nensemble",
         swe(workflow="ensemble", nensemble=1000000000), swe(**ENSEMBLE)),
    ]
    for i, (what, option, bad, good) in enumerate(cases):
        d = ctx.path(f"case{i}")
        os.makedirs(d)
        out = os.path.join(d, "out.h5")
        statuses, err = run_two_ranks(ctx, bad + ["--output", out], what)
        ctx.check(statuses == {0: "2", 1: "2"},
                  f"{what}: ranks exited {statuses}, expected 2 on both\n{err}")
        ctx.check(option in err, f"{what}: the message does not name {option}:\n{err}")
        ctx.check(os.listdir(d) == [], f"{what}: created {os.listdir(d)}")
        r = ctx.run(good + ["--output", out], 2, what=f"{what}, corrected")
        ctx.check(r.rc == e2e.EXIT_OK, f"{what}: the corrected command: exit {r.rc}", r)
    # An output that cannot fit on its disk: refused before the store is created.
    if os.geteuid() != 0:
        print("  (not root: the small-disk case needs a tmpfs mount; skipped)")
        return
    small = ctx.path("small")
    os.makedirs(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small], check=True)
    try:
        out = os.path.join(small, "out.h5")
        big = swe(grid="64x128", nsteps=8)
        statuses, err = run_two_ranks(ctx, big + ["--output", out], "an output too big")
        ctx.check(statuses == {0: "2", 1: "2"},
                  f"output too big: ranks exited {statuses}, expected 2\n{err}")
        ctx.check("--output" in err and "MiB" in err and "free" in err,
                  f"output too big: the message names no size and free space:\n{err}")
        ctx.check(os.listdir(small) == [], f"output too big: created {os.listdir(small)}")
    finally:
        subprocess.run(["umount", small], check=False)


def case_moved_run(ctx):
    config = swe(**dict(ENSEMBLE, nensemble=3), nsteps=6)
    ref = ctx.path("ref.h5")
    ctx.run(config + ["--output", ref], None, e2e.EXIT_OK, what="reference")
    first = ctx.path("first")
    os.makedirs(first)
    ctx.run(config + ["--output", "first/out.h5", "--stop-after-steps", "2"], 2,
            e2e.EXIT_STOPPED, what="stopped in first/")
    # Moved, then reached through a symlink from another working directory.
    os.rename(first, ctx.path("moved"))
    os.symlink(ctx.path("moved"), ctx.path("link"))
    r = ctx.run(config + ["--output", "link/out.h5", "--stop-after-steps", "2"], 3,
                e2e.EXIT_STOPPED, what="resumed through link/ on 3 ranks, stopped again")
    ctx.check("moved" in r.err or "now" in r.err,
              "the resume in a moved directory does not say where the output is now", r)
    ctx.run(config + ["--output", "moved/out.h5"], 1, e2e.EXIT_OK,
            what="resumed in moved/ on 1 rank")
    e2e.compare_outputs(ctx, ref, ctx.path("moved", "out.h5"), "moved run")
    os.unlink(ctx.path("link"))
    os.rename(ctx.path("moved"), ctx.path("again"))
    e2e.verify(ctx, ctx.path("again", "out.h5.ckpt"), "moved store")


def case_build_id(ctx):
    if not ctx.stormrun_zonal:
        ctx.check(False, "build_id needs --stormrun-zonal (another binary)")
        return
    d = ctx.path("mpmd")
    os.makedirs(d)
    statuses, err = run_two_ranks(ctx, SWE + ["--output", os.path.join(d, "out.h5")],
                                  "rank 1 another binary",
                                  [ctx.stormrun, ctx.stormrun_zonal])
    ctx.check(statuses == {0: "2", 1: "2"},
              f"two binaries: ranks exited {statuses}, expected 2 on both\n{err}")
    ctx.check("build-id" in err and "rank 1" in err,
              f"two binaries: the message names neither the build id nor rank 1:\n{err}")
    ctx.check(os.listdir(d) == [], f"two binaries: created {os.listdir(d)}")


def case_small_items(ctx):
    config = swe(**ENSEMBLE, nsteps=4)
    ref = ctx.path("ref.h5")
    ctx.run(config + ["--output", ref], None, e2e.EXIT_OK, what="reference")
    # A truncated global catalog (a full disk): set aside, the run resumes from the commits.
    os.makedirs(ctx.path("cut"))
    out = ctx.path("cut", "out.h5")
    ctx.run(config + ["--output", out, "--stop-after-steps", "2"], 2, e2e.EXIT_STOPPED,
            what="stopped")
    catalog = out + ".ckpt/catalog.json"
    with open(catalog, "rb") as f:
        text = f.read()
    with open(catalog, "wb") as f:
        f.write(text[: len(text) // 2])
    r = ctx.run(config + ["--output", out], 2, what="resume with a truncated catalog.json")
    ctx.check(r.rc == e2e.EXIT_OK, f"truncated catalog.json: exit {r.rc}, expected 0", r)
    ctx.check("set aside" in r.err, "truncated catalog.json: no warning that it was set aside", r)
    ctx.check(any(n.startswith("catalog.json.damaged-") for n in os.listdir(out + ".ckpt")),
              "truncated catalog.json: the damaged file was not kept")
    e2e.compare_outputs(ctx, ref, out, "resumed past a truncated catalog.json")
    e2e.verify(ctx, out + ".ckpt", "store with a damaged catalog set aside")
    # A damaged newest commit is reported once, not once per reader.
    os.makedirs(ctx.path("dmg"))
    out = ctx.path("dmg", "out.h5")
    ctx.run(config + ["--output", out, "--stop-after-steps", "2"], 1, e2e.EXIT_STOPPED,
            what="stopped")
    commits = e2e.commit_dirs(out + ".ckpt")
    newest = max(commits, key=commits.get)
    rank_dir, commit_name = newest.split("/")
    commit = os.path.join(out + ".ckpt", rank_dir, "commits", commit_name)
    victims = [rel for rel in e2e.packs.member_paths(commit) if rel.endswith(".npy")]
    ctx.require(victims, f"no .npy file in {newest}")
    e2e.packs.flip(commit, victims[-1], back=1)  # its last byte, in a pack or a directory
    r = ctx.run(config + ["--output", out], 1, e2e.EXIT_OK, what="resume past a damaged commit")
    lines = [line for line in r.err.splitlines() if commit_name in line and "warning" in line]
    ctx.check(len(lines) == 1, f"the damaged commit {commit_name} is reported "
                               f"{len(lines)} times, expected once:\n{r.err}")
    e2e.compare_outputs(ctx, ref, out, "resumed past a damaged commit")
    # A misspelt STORMRUN_ variable is named, with the setting meant.
    os.makedirs(ctx.path("env"))
    r = ctx.run(SWE + ["--output", ctx.path("env", "out.h5")], 2, e2e.EXIT_OK,
                env={"STORMRUN_NSTEP": "3"}, what="STORMRUN_NSTEP=3")
    ctx.check("STORMRUN_NSTEP " in r.err and "STORMRUN_NSTEPS" in r.err,
              "STORMRUN_NSTEP: no warning naming STORMRUN_NSTEPS", r)
    ctx.check(r.err.count("did you mean") == 1, "the misspelt variable is reported more than once",
              r)
    # --config that is not an INI file: refused at once, nothing read for ever.
    os.makedirs(ctx.path("zero"))
    r = ctx.run(SWE + ["--output", ctx.path("zero", "out.h5"), "--config", "/dev/zero"], 2,
                what="--config /dev/zero", timeout=60)
    ctx.check(r.rc == e2e.EXIT_CONFIG and "--config" in r.err,
              f"--config /dev/zero: exit {r.rc}, expected 2 naming --config", r)
    ctx.check(os.listdir(ctx.path("zero")) == [], "--config /dev/zero created files")
    # Every stderr line of every rank is whole: a prefix at the start of each.
    os.makedirs(ctx.path("lines"))
    r = ctx.run(swe(nsteps=0) + ["--output", ctx.path("lines", "out.h5")], 3,
                what="3 ranks, one error each")
    bad = [line for line in r.err.splitlines()
           if line.strip() and "stormrun" in line and not line.startswith("stormrun")]
    ctx.check(r.rc == e2e.EXIT_CONFIG and not bad,
              f"stderr lines of 3 ranks interleave mid-line: {bad[:3]}", r)


CASES = {"validate_first": case_validate_first, "moved_run": case_moved_run,
         "build_id": case_build_id, "small_items": case_small_items}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--stormrun-zonal")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    opts = parser.parse_args()
    return e2e.run_cases(
        opts.cases, lambda name: e2e.Ctx(opts.stormrun, opts.mpiexec, name, opts.stormrun_zonal),
        lambda name, ctx: CASES[name](ctx))


if __name__ == "__main__":
    sys.exit(main())
