#!/usr/bin/python3
"""The disk full on 2 ranks never hangs a run (as root: small tmpfs mounts).

Under `mpirun --mca orte_abort_on_non_zero_status 0` (mpirun kills no rank for us, as srun
would not; each rank's own exit status is recorded by rank_status.sh), the disk fills:
  create   at output creation: the output's directory is a tmpfs too small for the file
           (seen coming by the start-up checks: exit 2, nothing created);
  writes   during the output writes of the step loop: a run stopped after 2 steps, then the
           output's unwritten steps (leads 3..) are deallocated (fallocate --punch-hole:
           the output is allocated at creation, so this is how a full disk reaches the
           writes of a real file system, e.g. a copy-on-write one) and the tmpfs filled
           (but a page or two, for the output's lock file);
  commit   during a checkpoint commit on one rank's store dir only: rank_000001 of a run
           stopped after 2 steps moved onto a tmpfs with less room than one commit;
  store    during the checkpoint commits of every rank: the whole store on a full tmpfs.
For each it asserts: every rank exits (within 60 s), none by a signal, all with exit 1 (2
for create); the
message names the file (and the failing rank and host); the previous commit is intact (the
catalog's units and steps as before, `stormrun verify` exit 0); after the space is freed the
same command resumes to exactly the bytes of an uninterrupted run (every dataset, h5py), and
`stormrun verify` exits 0. The measured times to exit are printed, not asserted.

    disk_full.py --stormrun PATH --mpiexec PATH [CASE...]

Exits 77 (CTest: skipped) when not root or when tmpfs cannot be mounted here.
"""
import argparse
import errno
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (Ctx, compare_outputs, verify, catalog_json)
import startup_faults  # noqa: E402  (run_ranks: per-rank exit statuses)

SKIP = 77
HANG_BOUND = 60  # seconds: "no exit within 60 s" is a hang
RANKS = 2
# 16x32 doubles: one field of one member at one step is exactly 4096 bytes (one page).
CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "16x32", "--nsteps", "6", "--dt", "3600", "--nensemble", "4",
          "--perturbation", "gaussian", "--seed", "7", "--batch-size", "2", "--quiet",
          # Every commit kept: a store's disk then fills as its history grows, commit by
          # commit (the migration commit of a resume fits, the next one does not).
          "--mode", "append", "--history-size", "0"]
FIELDS = ("h", "u", "v")


class Mounts:
    """tmpfs mounts made by this test, unmounted at the end whatever happened."""

    def __init__(self):
        self.points = []

    def mount(self, path, kib):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", path],
                       check=True, capture_output=True, text=True)
        self.points.append(path)

    @staticmethod
    def resize(path, kib):
        subprocess.run(["mount", "-o", f"remount,size={kib}k", path], check=True,
                       capture_output=True, text=True)

    def unmount_all(self):
        for path in reversed(self.points):
            subprocess.run(["umount", "-l", path], capture_output=True)
        self.points.clear()


def used_kib(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def fill(path, leave_kib=0):
    """Fills the file system of `path` with a filler file, then gives `leave_kib` back;
    returns the filler's path."""
    filler = os.path.join(path, "filler")
    block = b"\1" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            os.write(fd, block)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        if leave_kib:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave_kib * 1024))
        os.close(fd)
    return filler


def punch_unwritten_steps(path, first_lead):
    """Deallocates leads first_lead.. of every member and start time of each field (the
    bytes there are fill values: no step a commit claims is touched)."""
    import h5py
    ranges = []
    with h5py.File(path, "r") as f:
        for name in FIELDS:
            ds = f[name]
            nens, ntime, nlead, nlat, nlon = ds.shape
            row = nlat * nlon * ds.dtype.itemsize
            offset = ds.id.get_offset()
            for m in range(nens):
                for s in range(ntime):
                    start = offset + ((m * ntime + s) * nlead + first_lead) * row
                    ranges.append((start, (nlead - first_lead) * row))
    for start, length in ranges:
        subprocess.run(["fallocate", "--punch-hole", "--offset", str(start), "--length",
                        str(length), path], check=True)


def commit_kib(rank_dir):
    """The tmpfs pages (KiB) of the newest commit in `rank_dir`, with one page to spare."""
    commits = os.path.join(rank_dir, "commits")
    newest = max(os.listdir(commits), key=lambda n: os.path.getmtime(os.path.join(commits, n)))
    pages = 1
    if os.path.isfile(os.path.join(commits, newest)):  # a pack (format 3): one file
        return (pages - (-os.path.getsize(os.path.join(commits, newest)) // 4096)) * 4
    for root, dirs, files in os.walk(os.path.join(commits, newest)):
        pages += len(dirs) + sum(-(-os.path.getsize(os.path.join(root, f)) // 4096)
                                 for f in files)
    return pages * 4


def rank_rows(ctx, store):
    """rank dir -> [(commit id, units)] of its catalog: what a commit claims."""
    doc = e2e.catalog_json(ctx, store)
    return {rank: [(row.get("commit_id"), row.get("units")) for row in rows]
            for rank, rows in doc["ranks"].items()}


def faulted_run(ctx, name, args, status_dir, expect_file, failing_rank=None,
                expect_code=e2e.EXIT_FAILURE):
    """The run that meets the full disk: every rank exits `expect_code` (1; 2 where the
    start-up checks see it coming) within the bound, the message names `expect_file` (and
    the failing rank with its host). Returns the slowest time."""
    statuses, err, seconds = startup_faults.run_ranks(ctx, args, RANKS, None, status_dir)
    slowest = max((t for _, t in statuses.values()), default=float("nan"))
    print(f"  [{seconds:5.1f}s, last rank ended at {slowest:4.1f}s] {name}: "
          f"{ {r: s for r, (s, _) in statuses.items()} }", flush=True)
    for line in err.splitlines():
        if ": error: " in line:
            print("    " + line, flush=True)
    ctx.require(len(statuses) == RANKS,
                f"{name}: only ranks {sorted(statuses)} of {RANKS} exited (a rank hung)\n{err}")
    for r, (status, ended) in sorted(statuses.items()):
        ctx.check(status < 128, f"{name}: rank {r} was killed by signal {status - 128}\n{err}")
        ctx.check(status == expect_code,
                  f"{name}: rank {r} exited {status}, expected {expect_code}\n{err}")
        ctx.check(ended < HANG_BOUND, f"{name}: rank {r} exited after {ended:.0f}s\n{err}")
    ctx.check(expect_file in err, f"{name}: no message names {expect_file}\n{err}")
    ctx.check(re.search(r"No space left on device|MiB free", err) is not None,
              f"{name}: the message does not say the disk is full\n{err}")
    if failing_rank is not None:
        tag = f"stormrun[rank {failing_rank}@{socket.gethostname()}]: error:"
        ctx.check(any(line.startswith(tag) and expect_file in line for line in err.splitlines()),
                  f"{name}: no message of rank {failing_rank} with its host naming "
                  f"{expect_file}\n{err}")
    return slowest


def resumed_run(ctx, name, args, status_dir, ref, out, store):
    statuses, err, seconds = startup_faults.run_ranks(ctx, args, RANKS, None, status_dir)
    print(f"  [{seconds:5.1f}s] {name}, space freed: "
          f"{ {r: s for r, (s, _) in statuses.items()} }", flush=True)
    ctx.require(len(statuses) == RANKS and all(s == 0 for s, _ in statuses.values()),
                f"{name}: the resume after freeing space: {statuses}\n{err}")
    e2e.compare_outputs(ctx, ref, out, f"{name}: resumed after the disk was freed")
    e2e.verify(ctx, store, f"{name}: after the resume")


def stopped_run(ctx, name, args, status_dir):
    statuses, err, _ = startup_faults.run_ranks(ctx, args + ["--stop-after-steps", "2"], RANKS,
                                                None, status_dir)
    ctx.require(len(statuses) == RANKS and all(s == e2e.EXIT_STOPPED
                                               for s, _ in statuses.values()),
                f"{name}: the stop after 2 steps: {statuses}\n{err}")


def case_create(ctx, mounts, ref, times):
    """The output's directory cannot hold the file."""
    disk = ctx.path("create", "disk")
    mounts.mount(disk, 128)
    out = os.path.join(disk, "out.h5")
    args = CONFIG + ["--output", out]
    status = ctx.path("create", "status")
    # Seen coming: the start-up checks compare the file's size with the free space (exit 2,
    # nothing created), before the store or the output is touched.
    times.append(("create", faulted_run(ctx, "create", args, status, out,
                                        expect_code=e2e.EXIT_CONFIG)))
    ctx.check(not os.path.exists(out + ".ckpt"), "create: the store exists after a refused start")
    ctx.check(not os.path.exists(out), "create: the output exists after a refused creation")
    Mounts.resize(disk, 4096)
    resumed_run(ctx, "create", args, status, ref, out, out + ".ckpt")


def case_writes(ctx, mounts, ref, times):
    """The output's writes in the step loop meet a full disk."""
    disk = ctx.path("writes", "disk")
    mounts.mount(disk, 2048)
    out = os.path.join(disk, "out.h5")
    store = ctx.path("writes", "store")
    args = CONFIG + ["--output", out, "--checkpoint-dir", store]
    status = ctx.path("writes", "status")
    stopped_run(ctx, "writes", args, status)
    before = rank_rows(ctx, store)
    punch_unwritten_steps(out, 3)
    # Room for the output's lock file (a page), none for the steps still to be written.
    filler = fill(disk, leave_kib=16)
    times.append(("writes", faulted_run(ctx, "writes", args, status, out)))
    after = rank_rows(ctx, store)
    ctx.check(all(after[r][-1][1] == before[r][-1][1] for r in before),
              f"writes: a commit claims more than before the failed run: {before} -> {after}")
    e2e.verify(ctx, store, "writes: after the failed run (previous commit intact)")
    os.remove(filler)
    resumed_run(ctx, "writes", args, status, ref, out, store)


def case_commit(ctx, mounts, ref, times):
    """One rank's store dir is full: its checkpoint commit fails, the other rank's not."""
    out = ctx.path("commit", "out.h5")
    store = out + ".ckpt"
    args = CONFIG + ["--output", out]
    status = ctx.path("commit", "status")
    stopped_run(ctx, "commit", args, status)
    rank1 = os.path.join(store, "rank_000001")
    saved = ctx.path("commit", "rank_000001.saved")
    shutil.copytree(rank1, saved, symlinks=True)
    shutil.rmtree(rank1)
    mounts.mount(rank1, 4096)
    shutil.copytree(saved, rank1, symlinks=True, dirs_exist_ok=True)
    # Room for the resume's migration commit and half of the next one.
    Mounts.resize(rank1, used_kib(rank1) + commit_kib(rank1) * 3 // 2)
    before = rank_rows(ctx, store)
    times.append(("commit", faulted_run(ctx, "commit", args, status, rank1, failing_rank=1)))
    after = rank_rows(ctx, store)
    ctx.check(after["rank_000001"][-1][1] == before["rank_000001"][-1][1],
              f"commit: rank 1's newest commit claims other steps: {before} -> {after}")
    # Staging dirs lie in commits/ (docs/checkpoint-format.md), older ones in the rank dir.
    left = [os.path.join(d, n) for d in (rank1, os.path.join(rank1, "commits"))
            for n in os.listdir(d) if n.startswith(".tmp_")]
    ctx.check(not left, f"commit: the failed commit left {left} in {rank1}")
    e2e.verify(ctx, store, "commit: after the failed run (previous commit intact)")
    Mounts.resize(rank1, 4096)
    resumed_run(ctx, "commit", args, status, ref, out, store)


def case_store(ctx, mounts, ref, times):
    """The whole store is on a full disk: every rank's commit fails."""
    store = ctx.path("store", "store")
    mounts.mount(store, 4096)
    out = ctx.path("store", "out.h5")
    args = CONFIG + ["--output", out, "--checkpoint-dir", store]
    status = ctx.path("store", "status")
    stopped_run(ctx, "store", args, status)
    before = rank_rows(ctx, store)
    # Room for both migration commits and half of one more.
    Mounts.resize(store, used_kib(store) +
                  commit_kib(os.path.join(store, "rank_000000")) * 5 // 2)
    times.append(("store", faulted_run(ctx, "store", args, status, store)))
    # Which rank's step commit still fits is a race: every earlier commit must be there.
    after = rank_rows(ctx, store)
    ctx.check(all(after[r][:len(rows)] == rows for r, rows in before.items()),
              f"store: an earlier commit is gone or changed: {before} -> {after}")
    e2e.verify(ctx, store, "store: after the failed run (previous commit intact)")
    Mounts.resize(store, 4096)
    resumed_run(ctx, "store", args, status, ref, out, store)


CASES = {"create": case_create, "writes": case_writes, "commit": case_commit,
         "store": case_store}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("cases", nargs="*", default=list(CASES))
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("disk_full: SKIPPED: needs root to mount a small tmpfs")
        return SKIP
    version = subprocess.run([opts.mpiexec, "--version"], capture_output=True, text=True).stdout
    if not re.search(r"\((Open MPI|OpenRTE)\) 4\.", version):
        print(f"disk_full: SKIPPED: needs Open MPI 4's mpirun (orte_abort_on_non_zero_status); "
              f"{opts.mpiexec} says: {version.strip()}")
        return SKIP
    ctx = e2e.Ctx(opts.stormrun, opts.mpiexec, "disk_full")
    mounts = Mounts()
    probe = ctx.path("probe")
    try:
        mounts.mount(probe, 64)
    except subprocess.CalledProcessError as e:
        print(f"disk_full: SKIPPED: cannot mount a tmpfs here: {e.stderr.strip()}")
        shutil.rmtree(ctx.work, ignore_errors=True)
        return SKIP
    print(f"== disk_full (in {ctx.work})", flush=True)
    times = []
    try:
        ref = e2e.prepare(ctx, "ref")
        ctx.run(CONFIG + ["--output", ref], None, e2e.EXIT_OK, what="reference, 1 rank")
        for case in opts.cases:
            os.makedirs(ctx.path(case), exist_ok=True)
            try:
                CASES[case](ctx, mounts, ref, times)
            except e2e.CaseFailed:
                pass
    finally:
        mounts.unmount_all()
    for name, seconds in times:
        print(f"  time to exit, {name}: every rank ended within {seconds:.1f}s")
    if os.environ.get("STORMRUN_KEEP_TMP") != "1":
        shutil.rmtree(ctx.work, ignore_errors=True)
    print("== disk_full: " + ("FAILED" if ctx.failures else "passed"))
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
