#!/usr/bin/python3
"""Power-loss matrix: a real `stormrun run` under the power-loss shim, cut at every operation.

The shim (powerloss_shim.c, LD_PRELOAD) logs every operation of the job (all ranks) on the
files under one root, and what each fsync made durable. This script replays prefixes of that
log under the strictest POSIX model (a file's content as of its last fsync; a directory
entry only once its parent is fsynced after it, a rename only once both are) and rebuilds
the root exactly as a power cut at that point would leave it. A cut between two fsyncs
leaves the same tree whatever operation it falls on, so the matrix replays the cut just
before every durability operation (and after the last one): that is every operation's cut,
each distinct tree once. For every such tree it asserts:

  1. every commit whose RankStore::commit had returned before the cut (the store's test-only
     marker, STORMRUN_TEST_POWERLOSS_MARKS) is present: no returned commit is lost;
  2. `stormrun verify` exits 0 on the store as the cut left it, once the first commit has
     returned (before that the store may not exist yet): every commit is whole, every step
     a commit claims is in the output;
  3. the same `stormrun run` resumes and exits 0;
  4. `stormrun verify` exits 0, and every dataset of the output is byte-identical to an
     uninterrupted run's.

First, of the recorded run itself: the log with every operation applied names exactly the
files and directories the run left (the shim missed no call that changes the tree), and
every rank made its rank dir in it (the shim was loaded in every rank).

    powerloss.py --stormrun PATH --shim PATH --mpiexec PATH [--ranks 1,2] [--nsteps N]
                 [--skip-fsync LABEL] [--expect-fail] [--real-cut N | --real-cut-every K]
                 [--count-fsyncs N [--count-only]] [--window all|last-step]
                 [--max-states N] [--keep] [--run-arg=OPTION ...]

--skip-fsync LABEL: run stormrun with that fsync left out (STORMRUN_TEST_SKIP_FSYNC);
--expect-fail: exit 0 only when some cut breaks an assertion (stops at the first one);
--real-cut N: also kill the job for real at operation N (STORMRUN_PL_CUT) and check the
tree the shim's log of that job leaves; --real-cut-every K: the same at K, 2K, ... until
the job ends first (a sweep for manual runs); --count-fsyncs N: assert that one commit of a
one-rank run makes exactly N fsyncs (counted from the log, the commit's own rank dir);
--count-only: only count; --run-arg=OPTION: an option added to the run (repeatable; the
run's small commits are packs by default, --run-arg=--checkpoint-pack-below=0 makes them
directories); --max-states N: at most N trees per rank count (0: all);
--window last-step: for --window-from-ranks ranks and more (default 2), only the cuts from
just after the second-last commit returned (the last step's output write and commit, the
end); --nsteps N: a longer run (default 1: two commits, one retention). The CI matrix:
1 rank, every cut; 2 ranks, the last step. A full sweep for manual runs:
powerloss.py ... --ranks 1,2,3 --nsteps 3.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "run"))
import e2e  # noqa: E402  (Ctx, compare_outputs, kill_session, MPI_ENV)
import packs  # noqa: E402  (pack commits: is_pack, index)

T0 = e2e.T0
# A small swe ensemble, level 2, a commit every step: 3 commits per rank, retention included.
CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "8x16", "--start-time", T0, "--dt", "3600", "--nensemble", "2",
          "--perturbation", "gaussian", "--seed", "3", "--level", "2", "--flush-interval", "1",
          "--quiet", "--max-no-progress", "0"]


def unesc(name):
    out, i = bytearray(), 0
    while i < len(name):
        if name[i] == "%":
            out.append(int(name[i + 1:i + 3], 16))
            i += 3
        else:
            out += name[i].encode()
            i += 1
    return out.decode()


# ---- the log and its replay -------------------------------------------------------------
def read_log(log):
    with open(os.path.join(log, "ops")) as f:
        return [line.split() for line in f if line.strip()]


def seq_of(rec):
    return int(rec[1]) if rec[0] != "ROOT" else -1


class Replay:
    """The durable tree of a prefix of the log: records with seq < cut."""

    def __init__(self, records, cut):
        self.gen, self.types, self.content = {}, {}, {}
        self.listing = {}     # dir key -> {name: key}, as recording began
        self.pending = []     # [kind, args, needs, done]
        self.markers = []
        self.root = None
        self.pid_of_seq = {}
        self.syncs = []       # (seq, pid, key) of every S record
        for rec in records:
            kind = rec[0]
            if kind == "ROOT":
                self.root = (int(rec[1]), 0)
                continue
            if kind in ("I", "E"):
                self.initial(rec)
                continue
            if seq_of(rec) >= cut:
                break
            self.apply(rec)

    def key(self, ino):
        ino = int(ino)
        return (ino, self.gen.get(ino, 0))

    def initial(self, rec):
        if rec[0] == "I" and rec[2] == "D":
            k = (int(rec[3]), 0)
            self.types[k] = "D"
            self.listing.setdefault(k, {})
        elif rec[0] == "I":
            k = (int(rec[3]), 0)
            self.types[k] = "F"
            self.content[k] = rec[4]
        else:  # E seq dir name child type
            k = (int(rec[4]), 0)
            self.types[k] = rec[5]
            self.listing.setdefault((int(rec[2]), 0), {})[unesc(rec[3])] = k

    def add_op(self, kind, args, needs):
        self.pending.append([kind, args, set(needs), set()])

    def apply(self, rec):
        kind, seq = rec[0], int(rec[1])
        if kind == "C":  # C seq pid parent name ino type
            parent = self.key(rec[3])
            ino = int(rec[5])
            self.gen[ino] = self.gen.get(ino, 0) + 1
            k = self.key(ino)
            self.types[k] = rec[6]
            self.add_op("add", (parent, unesc(rec[4]), k), [parent])
        elif kind == "L":
            parent = self.key(rec[3])
            self.add_op("add", (parent, unesc(rec[4]), self.key(rec[5])), [parent])
        elif kind == "U":
            parent = self.key(rec[3])
            self.add_op("del", (parent, unesc(rec[4])), [parent])
        elif kind == "R":  # R seq pid sdir sname ddir dname ino
            sp, dp = self.key(rec[3]), self.key(rec[5])
            self.add_op("ren", (sp, unesc(rec[4]), dp, unesc(rec[6]), self.key(rec[7])),
                        [sp, dp])
        elif kind == "X":  # X seq pid adir aname bdir bname aino bino: names swapped
            ap, bp = self.key(rec[3]), self.key(rec[5])
            self.add_op("xch", (ap, unesc(rec[4]), bp, unesc(rec[6]), self.key(rec[7]),
                                self.key(rec[8])), [ap, bp])
        elif kind == "S":
            k = self.key(rec[4])
            self.syncs.append((seq, int(rec[2]), k))
            if rec[3] == "D":
                for op in self.pending:
                    if k in op[2]:
                        op[3].add(k)
            else:
                self.content[k] = rec[5]
        elif kind == "A":
            for op in self.pending:
                op[3] |= op[2]
        elif kind == "M":
            self.markers.append((seq, int(rec[2]), unesc(rec[3])))

    def durable_listing(self, everything=False):
        """Per directory, its durable entries (everything: every entry, durable or not)."""
        d = {k: dict(v) for k, v in self.listing.items()}
        for kind, args, needs, done in self.pending:
            if needs - done and not everything:
                continue
            if kind == "add":
                parent, name, k = args
                d.setdefault(parent, {})[name] = k
                if self.types.get(k) == "D":
                    d.setdefault(k, {})
            elif kind == "del":
                d.setdefault(args[0], {}).pop(args[1], None)
            elif kind == "xch":
                ap, aname, bp, bname, ak, bk = args
                d.setdefault(ap, {})[aname] = bk
                d.setdefault(bp, {})[bname] = ak
            else:
                sp, sname, dp, dname, k = args
                src = d.setdefault(sp, {})
                if src.get(sname) == k:
                    del src[sname]
                d.setdefault(dp, {})[dname] = k
        return d

    def entries(self, everything=False):
        """[(relative path, "D" | ("F", shadow or None))], the durable tree below the root."""
        d = self.durable_listing(everything)
        out, seen = [], set()

        def walk(dk, rel):
            for name in sorted(d.get(dk, {})):
                k = d[dk][name]
                path = os.path.join(rel, name) if rel else name
                if self.types.get(k) == "D":
                    if k in seen:
                        continue  # a directory has one name
                    seen.add(k)
                    out.append((path, "D"))
                    walk(k, path)
                else:
                    out.append((path, ("F", self.content.get(k))))
        walk(self.root, "")
        return out


_digests = {}


def shadow_digest(log, shadow):
    if shadow is None:
        return "empty"
    if shadow not in _digests:
        with open(os.path.join(log, "shadow", shadow), "rb") as f:
            _digests[shadow] = hashlib.sha256(f.read()).hexdigest()
    return _digests[shadow]


def tree_id(log, entries):
    h = hashlib.sha256()
    for path, what in entries:
        h.update(f"{path} {'D' if what == 'D' else shadow_digest(log, what[1])}\n".encode())
    return h.hexdigest()


def commit_present(commit):
    """A directory commit with its manifest, or a pack whose footer and index read."""
    if os.path.isfile(os.path.join(commit, "manifest.json")):
        return True
    if not packs.is_pack(commit):
        return False
    try:
        return "manifest.json" in packs.index(commit)
    except (ValueError, OSError):
        return False


def rebuild(root, log, entries):
    """The root as the power cut left it: everything else is gone."""
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for path, what in entries:
        p = os.path.join(root, path)
        if what == "D":
            os.mkdir(p)
        elif what[1] is None:
            open(p, "wb").close()  # its data never reached the disk
        else:
            shutil.copyfile(os.path.join(log, "shadow", what[1]), p)


def returned_commits(markers):
    return [text[len("commit-returned"):] for _, _, text in markers
            if text.startswith("commit-returned")]


# ---- running stormrun -------------------------------------------------------------------
class Job:
    def __init__(self, args, ranks, work):
        self.args, self.ranks, self.work = args, ranks, work
        self.root = os.path.join(work, "root")
        self.log = os.path.join(work, "log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STORMRUN_")}
        self.env.update(e2e.MPI_ENV)

    def argv(self, program, sub, extra=()):
        base = [program, sub] + list(extra)
        if self.ranks == 1 or sub != "run":
            return base
        return [self.args.mpiexec, "-np", str(self.ranks), "--oversubscribe",
                "-x", "LD_PRELOAD", "-x", "STORMRUN_PL_ROOT", "-x", "STORMRUN_PL_LOG",
                "-x", "STORMRUN_PL_CUT", "-x", "STORMRUN_TEST_POWERLOSS_MARKS",
                "-x", "STORMRUN_TEST_SKIP_FSYNC"] + base

    def run_args(self):
        return CONFIG + ["--nsteps", str(self.args.nsteps), "--output",
                         os.path.join(self.root, "out.h5"), "--checkpoint-dir",
                         os.path.join(self.root, "ckpt")] + list(self.args.run_arg or [])

    def start(self, shim=False, cut=None, skip=None, timeout=120):
        env = dict(self.env)
        env.setdefault("STORMRUN_PL_CUT", "")
        env["STORMRUN_TEST_SKIP_FSYNC"] = skip or ""
        env["STORMRUN_TEST_POWERLOSS_MARKS"] = "1"
        if shim:
            shutil.rmtree(self.log, ignore_errors=True)
            os.makedirs(os.path.join(self.log, "shadow"))
            env.update(LD_PRELOAD=self.args.shim, STORMRUN_PL_ROOT=self.root,
                       STORMRUN_PL_LOG=self.log, STORMRUN_PL_CUT="" if cut is None else str(cut))
        else:
            for k in ("LD_PRELOAD", "STORMRUN_PL_ROOT", "STORMRUN_PL_LOG"):
                env[k] = ""
        argv = self.argv(self.args.stormrun, "run", self.run_args())
        p = subprocess.Popen(argv, env=env, cwd=self.root, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        cut_file = os.path.join(self.log, "cut")
        while p.poll() is None:
            if (shim and os.path.exists(cut_file)) or time.monotonic() > deadline:
                e2e.kill_session(p.pid)  # the power is off for every rank
                break
            time.sleep(0.02)
        out, err = p.communicate()
        return p.returncode, out, err

    def tool(self, sub, *extra):
        return subprocess.run([self.args.stormrun, sub] + list(extra), env=self.env,
                              capture_output=True, text=True, cwd=self.root)


# ---- the matrix ---------------------------------------------------------------------------
def candidate_cuts(records):
    """The cut just before every durability record, and after the last record."""
    cuts = sorted({int(r[1]) for r in records if r[0] in ("S", "A")})
    last = max(int(r[1]) for r in records if r[0] not in ("ROOT", "I", "E"))
    return cuts + [last + 1]


def check_state(ctx, job, reference, label, entries, markers):
    """The assertions 1-4 on the root as rebuilt; True when all hold."""
    before = len(ctx.failures)
    ckpt = os.path.join(job.root, "ckpt")
    returned = returned_commits(markers)
    # 1. Per rank dir, the newest commit that had returned is there, or a newer one (in
    #    flight at the cut) is: retention may have dropped the older ones since.
    newest = {}
    for commit in returned:
        newest[os.path.dirname(commit)] = commit
    for commits, commit in sorted(newest.items()):
        done = set(returned)
        present = [os.path.join(commits, n) for n in os.listdir(commits)] \
            if os.path.isdir(commits) else []
        ctx.check(commit_present(commit) or
                  any(p not in done and os.path.basename(p).startswith("commit_")
                      for p in present),
                  f"{label}: commit {commit} had returned before the cut, and neither it nor "
                  f"a newer commit is there")
    # 2. verify: no commit damaged, no claimed step missing from the output. A catalog that
    #    does not match commits/ (it is an index, never fsynced: docs/checkpoint-format.md)
    #    is repaired by the next open, as tests/crash/crash.py allows after a kill.
    if returned:
        p = job.tool("verify", ckpt)
        out_path = os.path.join(job.root, "out.h5")
        bad = [line for line in p.stdout.splitlines() if line.startswith("PROBLEM ") and
               (line.startswith(f"PROBLEM {out_path}") or
                ("/commits/" in line.split(":")[0] and "not listed in catalog.json" not in line))]
        if p.returncode != 0 and not any(line.startswith("PROBLEM ") for line in
                                         p.stdout.splitlines()):
            bad.append(f"exit {p.returncode} without a PROBLEM line: {p.stderr[-1500:]}")
        ctx.check(not bad, f"{label}: right after the cut, stormrun verify finds damage:\n" +
                  "\n".join(bad))
    rc, out, err = job.start()
    ctx.check(rc == 0, f"{label}: the resume exited {rc}\n{out[-1500:]}{err[-2500:]}")
    if rc == 0:
        p = job.tool("verify", ckpt)
        ctx.check(p.returncode == 0, f"{label}: stormrun verify after the resume: exit "
                                     f"{p.returncode}\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
        compare_quiet(ctx, reference, os.path.join(job.root, "out.h5"), label)
    return len(ctx.failures) == before


def compare_quiet(ctx, reference, other, what):
    """e2e.compare_outputs without its line per success: dtype, shape and bytes of every
    dataset."""
    a, b = e2e.datasets(reference), e2e.datasets(other) if os.path.isfile(other) else {}
    ok = ctx.check(sorted(a) == sorted(b), f"{what}: datasets differ: {sorted(a)} vs {sorted(b)}")
    for name in sorted(set(a) & set(b)):
        ok = ctx.check(a[name] == b[name], f"{what}: /{name} differs from the reference") and ok
    return ok


def path_of(replay, key):
    """The path (relative to the root) that `key` has with every logged operation applied."""
    parents = {}
    for dk, entries in replay.durable_listing(everything=True).items():
        for name, k in entries.items():
            parents[k] = (dk, name)
    parts = []
    while key != replay.root and key in parents and len(parts) < 64:
        key, name = parents[key]
        parts.append(name)
    return "/".join(reversed(parts)) if key == replay.root else None


def count_fsyncs(records, root):
    """Fsyncs (S records) of the files and directories of the rank dir, between the marks of
    the last commit's stage and return (one rank). Only those below the rank dir count, so
    that an fsync of another thread in between (the output's, with asynchronous commits)
    does not."""
    marks = [(int(r[1]), unesc(r[3])) for r in records if r[0] == "M"]
    staged = [(s, t) for s, t in marks if t.startswith("commit-staged")]
    returned = [s for s, t in marks if t.startswith("commit-returned")]
    if not staged or not returned:
        return None, "no commit marks in the log"
    start, stop = staged[-1][0], returned[-1]
    rank_dir = os.path.relpath(staged[-1][1][len("commit-staged"):], root)
    n = other = 0
    for r in records:
        if r[0] == "S" and start < int(r[1]) < stop:
            replay = Replay(records, int(r[1]) + 1)
            path = path_of(replay, replay.key(r[4]))
            if path is not None and (path + "/").startswith(rank_dir + "/"):
                n += 1
            else:
                other += 1
    return n, (f"{n} fsyncs below {rank_dir} in the last commit (seq {start}..{stop}; "
               f"{other} other fsyncs meanwhile)")


def run_matrix(args, ranks, ctx):
    work = tempfile.mkdtemp(prefix=f"stormrun-powerloss-{ranks}r-")
    try:
        return matrix_in(args, ranks, ctx, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def matrix_in(args, ranks, ctx, work):
    job = Job(args, ranks, work)
    t0 = time.monotonic()
    # The reference: uninterrupted, no shim.
    os.makedirs(job.root)
    rc, out, err = job.start()
    ctx.require(rc == 0, f"{ranks} rank(s): the uninterrupted run exited {rc}\n{err[-2000:]}")
    reference = os.path.join(work, "reference.h5")
    shutil.move(os.path.join(job.root, "out.h5"), reference)
    shutil.rmtree(job.root)
    os.makedirs(job.root)
    # The recorded run.
    rc, out, err = job.start(shim=True, cut=args.real_cut, skip=args.skip_fsync)
    if args.real_cut is None:
        ctx.require(rc == 0, f"{ranks} rank(s): the run under the shim exited {rc}\n"
                             f"{err[-2000:]}")
    records = read_log(job.log)
    job.was_cut = os.path.exists(os.path.join(job.log, "cut"))
    if not job.was_cut:
        # The shim saw every change: the log with every operation applied names exactly
        # the files and directories the run left.
        logged = {(p, "D" if w == "D" else "F")
                  for p, w in Replay(records, 1 << 62).entries(everything=True)}
        real = set()
        for top, dirs, files in os.walk(job.root):
            rel = os.path.relpath(top, job.root)
            for n in dirs:
                real.add((os.path.normpath(os.path.join(rel, n)), "D"))
            for n in files:
                real.add((os.path.normpath(os.path.join(rel, n)), "F"))
        ctx.require(logged == real, f"{ranks} rank(s): the shim's log does not explain the tree:"
                                    f" only in the log {sorted(logged - real)[:10]}, only on "
                                    f"disk {sorted(real - logged)[:10]}")
        made = {unesc(r[4]) for r in records if r[0] == "C" and r[6] == "D" and
                unesc(r[4]).startswith("rank_")}
        ctx.require(made == {f"rank_{r:06d}" for r in range(ranks)},
                    f"{ranks} rank(s): the log shows the rank dirs {sorted(made)} made: the "
                    f"shim did not reach every rank")
    if args.real_cut is not None:
        print(f"  {ranks} rank(s): " + (f"the power cut at operation {args.real_cut} killed the job"
                                       if job.was_cut else
                                       f"the job ended (exit {rc}) before operation "
                                       f"{args.real_cut}"), flush=True)
    if args.count_fsyncs is not None and ranks == 1:
        n, text = count_fsyncs(records, job.root)
        print(f"  fsync count: {text}", flush=True)
        ctx.check(n == args.count_fsyncs,
                  f"a commit makes {n} fsyncs, not {args.count_fsyncs}: a new or a removed fsync"
                  f" (update docs/checkpoint-format.md and this count)")
    if args.count_only:
        run_matrix.was_cut = job.was_cut
        return 0
    cuts = [max(int(r[1]) for r in records if r[0] not in ("ROOT", "I", "E")) + 1] \
        if args.real_cut is not None else candidate_cuts(records)
    if args.window == "last-step" and ranks >= args.window_from_ranks and \
            args.real_cut is None:
        # From just after the second-last commit returned: the last step's output write,
        # its commit, and the end of the run.
        marks = [int(r[1]) for r in records if r[0] == "M" and
                 unesc(r[3]).startswith("commit-returned")]
        if len(marks) >= 2 * ranks:
            start = sorted(marks)[-2 * ranks]
            cuts = [c for c in cuts if c > start]
    if args.expect_fail:
        cuts.reverse()  # the latest cuts break soonest when an fsync is missing
    seen, states, failed = set(), 0, 0
    for cut in cuts:
        replay = Replay(records, cut)
        entries = replay.entries()
        ident = (tree_id(job.log, entries), tuple(returned_commits(replay.markers)))
        if ident in seen:
            continue
        seen.add(ident)
        if args.max_states and states >= args.max_states:
            break
        states += 1
        rebuild(job.root, job.log, entries)
        label = f"{ranks} rank(s), cut at operation {cut}"
        if not check_state(ctx, job, reference, label, entries, replay.markers):
            failed += 1
            if args.expect_fail:
                break
    print(f"  {ranks} rank(s): {len(records)} log records, {len(cuts)} cuts, {states} distinct "
          f"trees checked, {failed} failed, {time.monotonic() - t0:.1f} s", flush=True)
    run_matrix.was_cut = job.was_cut
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stormrun", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--nsteps", type=int, default=1)
    ap.add_argument("--skip-fsync")
    ap.add_argument("--expect-fail", action="store_true")
    ap.add_argument("--real-cut", type=int)
    ap.add_argument("--real-cut-every", type=int)
    ap.add_argument("--count-fsyncs", type=int)
    ap.add_argument("--count-only", action="store_true",
                    help="with --count-fsyncs: count, and check no power cut")
    ap.add_argument("--max-states", type=int, default=0)
    ap.add_argument("--window", choices=("all", "last-step"), default="all")
    ap.add_argument("--window-from-ranks", type=int, default=2,
                    help="--window applies to rank counts from this one on")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--run-arg", action="append",
                    help="an extra option of the stormrun run (repeatable), e.g. "
                         "--run-arg=--checkpoint-pack-below=0 for directory commits")
    args = ap.parse_args()
    args.stormrun = os.path.abspath(args.stormrun)
    args.shim = os.path.abspath(args.shim)
    ctx = e2e.Ctx(args.stormrun, args.mpiexec, "powerloss")
    failed = 0
    try:
        for ranks in [int(r) for r in args.ranks.split(",")]:
            if args.real_cut_every:
                # A real power cut at operation K, 2K, ... until the job outruns it.
                n = args.real_cut_every
                while True:
                    args.real_cut = n
                    failed += run_matrix(args, ranks, ctx)
                    if not run_matrix.was_cut:
                        break
                    n += args.real_cut_every
                args.real_cut = None
            else:
                failed += run_matrix(args, ranks, ctx)
    except e2e.CaseFailed as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)
    what = f"with fsync '{args.skip_fsync}' skipped" if args.skip_fsync else "with every fsync"
    if args.expect_fail:
        if failed:
            print(f"OK: {what}, a power cut breaks the store or the output (as expected)")
            return 0
        print(f"FAIL: {what}, no power cut broke anything: that fsync is not needed")
        return 1
    if ctx.failures:
        print(f"FAIL: {len(ctx.failures)} broken expectations {what}")
        return 1
    if args.count_only:
        print("OK: the fsync count is as expected")
        return 0
    print(f"OK: every power cut {what} left a store and an output that resume to the same bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
