#!/usr/bin/python3
"""Injected I/O errors: EIO, ENOSPC and EDQUOT at a write, fsync, rename and close of a
checkpoint commit, and at a write, fsync and close of the output file, on one rank of a
2-rank `stormrun run` (ioerror_shim.c, LD_PRELOAD); EIO at a write, rename and close of a
rank catalog, and at a write and fsync of the commit of a node's committer
(--checkpoint-layout node). For each case:

  - the run fails (exit 1) within the time limit: no rank hangs;
  - an error line names the rank that saw it and its host, the operation, the file and
    the errno's text;
  - `stormrun verify` on the store exits 0: the rows before the failure are intact;
  - the same command without the fault resumes (exit 0) to the bytes of an uninterrupted
    run, and verify exits 0 again.

The output file's close is the exception: Open MPI's MPI-IO does not pass close(2)'s
error on, so the case checks instead that nothing was lost (the output was fsynced before
it: the run's bytes are complete and identical, verify exits 0).

The failing call is the middle one of its kind on that rank (counted in a run without a
fault first), so it lands mid-run; it fails once, the calls after it succeed, so a retry
that went on as if the data were safe would let the run finish and fail the case.

    ioerror.py --stormrun PATH --shim PATH --mpiexec PATH [--only TARGET:OP:ERRNO]
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "run"))
import e2e  # noqa: E402  (Ctx, compare_outputs, verify, run_cases)

CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "16x32", "--start-time", e2e.T0, "--start-time", e2e.T1,
          "--nsteps", "4", "--dt", "3600", "--nensemble", "2", "--perturbation", "gaussian",
          "--seed", "3", "--batch-size", "2", "--quiet"]
ERRNOS = {"EIO": "Input/output error", "ENOSPC": "No space left on device",
          "EDQUOT": "Disk quota exceeded"}
# target -> (the text a matching path contains, the operations to fail, the errnos): the
# files of the commits, the rank catalogs (an index: written, renamed, never fsynced) and
# the output file itself (its root is the file).
TARGETS = {"commit": ("/commits/", ["write", "fsync", "rename", "close"], list(ERRNOS)),
           "catalog": ("catalog.json", ["write", "rename", "close"], ["EIO"]),
           "output": ("", ["write", "fsync", "close"], list(ERRNOS)),
           # one committer for both ranks (--checkpoint-layout node): its commit thread fails
           "node-commit": ("/commits/", ["write", "fsync"], ["EIO"])}
EXTRA = {"node-commit": ["--checkpoint-layout", "node"]}
# What verify may find after a failure: a commit that was complete on disk when a later
# step of it failed (its catalog entry), which the next open re-adds (docs/checkpoint-format.md).
BENIGN = "complete commit not listed in catalog.json (re-added on next open)"
VICTIM = {"EIO": 1, "ENOSPC": 0, "EDQUOT": 1}  # the rank whose call fails


def shim_env(shim, root, match, op, errno_name, at, rank, count_file=None):
    env = {"LD_PRELOAD": shim, "STORMRUN_IOERR_ROOT": root, "STORMRUN_IOERR_MATCH": match,
           "STORMRUN_IOERR_OP": op, "STORMRUN_IOERR_ERRNO": errno_name,
           "STORMRUN_IOERR_AT": str(at), "STORMRUN_IOERR_RANK": str(rank)}
    if count_file:
        env["STORMRUN_IOERR_COUNT"] = count_file
    return env


def run_matrix(ctx, shim, only):
    ref = e2e.prepare(ctx, "ref")
    ctx.run(CONFIG + ["--output", ref], 2, e2e.EXIT_OK, what="reference, no fault")
    counts = {}
    cases = [(t, op, e) for t, (_, ops, errnos) in TARGETS.items() for op in ops
             for e in errnos]
    if only:
        cases = [c for c in cases if ":".join(c) == only]
        ctx.require(cases, f"--only {only}: no such case")
    for target, op, errno_name in cases:
        match = TARGETS[target][0]
        rank = 0 if target == "node-commit" else VICTIM[errno_name]
        config = CONFIG + EXTRA.get(target, [])
        name = f"{target}-{op}-{errno_name}"
        out = e2e.prepare(ctx, name)
        work = os.path.dirname(out)
        store = out + ".ckpt"
        root = out if target == "output" else store
        key = (target, op, rank)
        if key not in counts:  # how many such calls that rank makes in a whole run
            count_dir = e2e.prepare(ctx, f"count-{target}-{op}-{rank}")
            count_file = os.path.join(os.path.dirname(count_dir), "counts")
            croot = count_dir if target == "output" else count_dir + ".ckpt"
            ctx.run(config + ["--output", count_dir], 2, e2e.EXIT_OK,
                    env=shim_env(shim, croot, match, op, errno_name, 0, rank, count_file),
                    what=f"counting the {op} calls of rank {rank} on the {target}")
            lines = [line.split() for line in open(count_file)]
            counts[key] = max(int(n) for r, n, _ in lines if int(r) == rank)
        total = counts[key]
        ctx.require(total > 0, f"{name}: rank {rank} makes no {op} call on the {target}")
        at = max(1, (total + 1) // 2)
        r = ctx.run(config + ["--output", out], 2, None, timeout=120,
                    env=shim_env(shim, root, match, op, errno_name, at, rank),
                    what=f"{op} #{at} of {total} on the {target} fails with {errno_name} "
                         f"on rank {rank}")
        if target == "output" and op == "close" and r.rc == e2e.EXIT_OK:
            # Open MPI's MPI-IO (OMPIO) does not report close(2)'s result to MPI_File_close,
            # so stormrun cannot see it; nothing depends on it either: the output was fsynced
            # (MPI_File_sync) before the close, and before any commit claimed its steps. What
            # must hold then: the run's output is complete and identical, the store verifies.
            print(f"  {name}: MPI-IO hid the failed close (exit 0); checking nothing was lost")
            e2e.compare_outputs(ctx, ref, out, f"{name}, close error hidden by MPI-IO")
            e2e.verify(ctx, store, f"{name}: close error hidden by MPI-IO")
            continue
        ctx.check(r.rc == e2e.EXIT_FAILURE,
                  f"{name}: exit {r.rc}, expected {e2e.EXIT_FAILURE} (a failed {op} must fail "
                  "the run, never be taken for success)", r)
        errors = [line for line in r.err.splitlines() if "error:" in line]
        named = [line for line in errors
                 if f"rank {rank}@" in line and ERRNOS[errno_name] in line and op in line
                 and (store in line or out in line)]
        ctx.check(named, f"{name}: no error line names rank {rank}@host, the {op}, the file "
                         f"and '{ERRNOS[errno_name]}'; the error lines:\n" + "\n".join(errors),
                  None if named else r)
        if os.path.isdir(store):
            v = subprocess.run([ctx.stormrun, "verify", store], capture_output=True, text=True,
                               env=ctx.env)
            problems = [line for line in v.stdout.splitlines() if line.startswith("PROBLEM")]
            ctx.check(v.returncode == 0 or (problems and all(BENIGN in p for p in problems)),
                      f"{name}: after the failure: stormrun verify {store}: exit {v.returncode}"
                      f"\n{v.stdout}{v.stderr}")
        ctx.run(config + ["--output", out], 2, e2e.EXIT_OK, what=f"{name}: resumed, no fault")
        e2e.compare_outputs(ctx, ref, out, f"{name}, resumed")
        e2e.verify(ctx, store, f"{name}: resumed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--shim", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    parser.add_argument("--only", help="one case, TARGET:OP:ERRNO (e.g. commit:fsync:EIO)")
    opts = parser.parse_args()
    shim = os.path.abspath(opts.shim)
    return e2e.run_cases(["io_errors"],
                         lambda name: e2e.Ctx(opts.stormrun, opts.mpiexec, name),
                         lambda name, ctx: run_matrix(ctx, shim, opts.only))


if __name__ == "__main__":
    sys.exit(main())
