#!/usr/bin/python3
"""Crash consistency: SIGKILLed at random instants, resumed until done, the same bytes.

Each trial (built from a seeded random generator) picks a configuration (tests/run/chains.py's:
the ensemble workflow on SWE or persistence, or the deterministic one, small grids, several
units per rank; now and then with statistics), a checkpoint level and a flush interval,
then starts the same command on 1-3 ranks again and again, each start SIGKILLed:

  time-job    the whole job (mpirun and every rank) at a random wall-clock instant,
  time-rank   one rank at a random wall-clock instant (mpirun then ends the others),
  point-rank  one rank kills itself at the n-th arrival at a kill point (a commit step,
              an output write or flush, the global catalog's replace), through the
              test-only STORMRUN_TEST_KILL_AT=<point>:<rank>:<n> (docs/architecture.md),
  point-all   every rank kills itself at its n-th arrival at that point;

with another rank count, --batch-size, --mode, --history-size or --checkpoint-layout node
(nodes of 2 ranks) now and then, and at last a start that runs to the end. Wall-clock instants are drawn over the time the run
is expected to take (an uninterrupted run's duration, for what is left to do); a start
that ends before its kill counts as no kill. After every kill it asserts: the store opens
(`stormrun catalog --json`); no committed step is lost: per unit, the newest committed
step the catalogs record never goes back (from the catalog read just before a wall-clock
kill, and from the previous kill; at level 0 and 1, where an unfinished unit reruns from
step 0 by design, finished units stay finished), nor do the units `stormrun verify`'s
ledger counts (the newest valid row of every rank dir, what a resume restores), and
verify finds every rank dir's newest listed commit present and valid and every committed
step in the output; the output opens and every dataset reads (h5py). The next start must
resume (never exit 1, 2 or 3). At the end of each trial: every dataset's bytes equal
those of an uninterrupted run, and `stormrun verify` exits 0. A start stopped (exit 75) by
a stop signal from outside the harness (another job on the machine) is counted as a
foreign stop, shown, checked like a kill, and the trial goes on.

    crash.py --stormrun PATH --mpiexec PATH [--kills N] [--seed S] [--trial T]

--kills N: trials until N kills have landed (default 50); --seed S: the seed (printed;
random when not given; trial i uses seed S+i); --trial T: only the trial of seed T (a
failure prints it). Wall-clock instants repeat only roughly; kill points exactly.
The last line is the summary: kills, failed resumes, unreadable outputs, byte
differences, committed steps lost (each 0 when the store is crash-consistent).
"""
import argparse
import collections
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "run"))
import chains  # noqa: E402  (CONFIGS, STATS, stormrun_ranks)
import e2e  # noqa: E402  (Ctx, compare_outputs, progress, verify, kill_session, ...)

# The kill points of src/checkpoint/store/test_kill.cpp, in the order a commit reaches them.
COMMIT_POINTS = ["commit-" + s for s in (
    "files_written", "files_synced", "manifest_written", "staging_synced", "renamed",
    "commits_synced", "retention_renamed", "catalog_tmp_written", "catalog_renamed",
    "catalog_synced", "retention_done")]
OUTPUT_POINTS = ["output-before-write", "output-after-write", "output-before-flush",
                 "output-after-flush"]
GLOBAL_POINTS = ["global-catalog-before-write", "global-catalog-after-write"]
# A rank store's open, between making its directories and writing its first catalog.json.
# A kill there on a rank of a larger world, then a run on fewer ranks that resumed nothing,
# used to leave that rank dir unpruned and without a catalog (verify then exited 1 on the
# finished store); store_open_regression() repeats that sequence at every run.
STORE_POINTS = ["store-dirs-created"]
KILL_KINDS = ["time-job", "time-rank", "point-rank", "point-all"]
KILL_WEIGHTS = [2, 2, 4, 2]
# What mpirun returns when we killed it (-9), when a rank died by a signal (137), and when
# the hang watchdog of the survivors ended the job over a lost rank (76).
KILLED_STATUSES = (-signal.SIGKILL, 128 + signal.SIGKILL, 76)
START_TIMEOUT = 120

COUNTS = ("kills", "no kill", "failed resumes", "unreadable outputs", "byte differences",
          "committed steps lost", "verify failures", "hangs", "foreign stops")


class Start:
    def __init__(self, ranks, batch, kind, extra, point=None, victim=None, draw=0.0,
                 term_first=False):
        self.ranks, self.batch, self.kind, self.extra = ranks, batch, kind, extra
        self.point, self.victim, self.draw = point, victim, draw
        # When one rank dies, mpirun ends the others: at once with SIGKILL, or (its default)
        # SIGTERM first, which they take as a stop request, and SIGKILL 1 s later.
        self.term_first = term_first

    def describe(self):
        what = {"time-job": "job@t", "time-rank": f"rank{self.victim}@t",
                "point-rank": f"rank{self.victim}@{self.point}",
                "point-all": f"all@{self.point}", None: "end"}[self.kind]
        return (f"{self.ranks}r/b{self.batch}{''.join(' ' + a for a in self.extra)}/{what}"
                + ("+TERM" if self.term_first and self.kind in ("time-rank", "point-rank")
                   else ""))


def make_trial(rng, max_kills):
    """(config name, statistics?, common args, [Start...] ending with the run to the end)."""
    name = rng.choice(sorted(chains.CONFIGS))
    stats = name in chains.STATS and rng.random() < 0.3
    level = rng.choice([2, 2, 2, 1, 0])
    flush = rng.choice([1, 1, 1, 2])
    # Killed starts in a row commit nothing new by design: no --max-no-progress stop here.
    common = ["--quiet", "--max-no-progress", "0", "--level", str(level), "--flush-interval",
              str(flush)]
    if stats:
        common += ["--statistics", "mean,std"]
    starts = []
    ranks = rng.randint(1, 3)
    for _ in range(rng.randint(min(2, max_kills), max_kills)):
        kind = rng.choices(KILL_KINDS, KILL_WEIGHTS)[0]
        extra = []
        r = rng.random()
        if r < 0.15:
            extra = ["--mode", "overwrite"]
        elif r < 0.3:
            extra = ["--history-size", "1"]
        if rng.random() < 0.3:  # one committer per node (2 ranks a node, see main)
            extra = extra + ["--checkpoint-layout", "node"]
        point = victim = None
        if kind.startswith("point"):
            groups = [COMMIT_POINTS, OUTPUT_POINTS, GLOBAL_POINTS, STORE_POINTS]
            group = rng.choices(groups, [6, 3, 1, 1])[0]
            point = rng.choice(group)
        if kind in ("time-rank", "point-rank"):
            victim = rng.randrange(ranks)
        batch = chains.STATS[name] if stats else rng.randint(1, 3)
        starts.append(Start(ranks, batch, kind, extra, point, victim, rng.random(),
                            rng.random() < 0.3))
        if rng.random() < 0.5:  # another rank count for the resume
            ranks = rng.choice([n for n in (1, 2, 3) if n != ranks])
    starts.append(Start(ranks, chains.STATS[name] if stats else rng.randint(1, 3), None, []))
    return name, stats, level, flush, common, starts


def option(config, flag):
    return [config[i + 1] for i, a in enumerate(config) if a == flag]


def rounds(config, ranks, batch):
    """Per rank, the batches it runs one after the other in a run from scratch (the
    partition rule of docs/user-guide.md)."""
    members = int((option(config, "--nensemble") or ["1"])[0])
    units = len(option(config, "--start-time")) * members
    return [math.ceil(((r + 1) * units // ranks - r * units // ranks) / batch)
            for r in range(ranks)]


def expected_arrivals(config, stats, flush, start):
    """About how often one rank reaches `start.point` in a run from scratch (the n of a
    point kill is drawn below it, scaled by the work left)."""
    nsteps = int(option(config, "--nsteps")[0])
    rounds_ = rounds(config, start.ranks, start.batch)
    fields = 3 * (3 if stats else 1)  # h, u, v (+ their mean and std)
    if start.point in GLOBAL_POINTS or start.point in STORE_POINTS:
        return 1
    if start.point in OUTPUT_POINTS:
        writes = max(rounds_) * (nsteps + 1)
        return writes * fields if "write" in start.point else writes // flush
    commits = min(rounds_) * (nsteps // flush + 1)
    return commits * (2 if start.point == "commit-files_written" else 1)


def read_catalog(ctx, store):
    """(`stormrun catalog --json` document, or None when it refuses the store; the
    refusal's text). A store directory without catalog.json and rank dirs holds nothing
    committed yet (a kill before the first catalog write): an empty document."""
    empty = {"ranks": {}}
    if not os.path.isdir(store):
        return empty, ""
    p = subprocess.run([ctx.stormrun, "catalog", store, "--json"], capture_output=True,
                       text=True, env=ctx.env)
    if p.returncode != 0:
        names = os.listdir(store)
        if "catalog.json" not in names and not any(n.startswith("rank_") for n in names):
            return empty, ""
        return None, p.stderr
    return json.loads(p.stdout), ""


LEDGER = re.compile(r"ledger: (\d+) unit\(s\) recorded, (\d+) finished")


def world_rank(pid):
    """The MPI rank of the process `pid` (OMPI_COMM_WORLD_RANK in its environment)."""
    try:
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"OMPI_COMM_WORLD_RANK="):
            return int(item.split(b"=", 1)[1])
    return None


class Harness:
    def __init__(self, ctx):
        self.ctx = ctx
        self.counts = collections.Counter()
        self.by_kind = collections.Counter()
        self.by_point = collections.Counter()
        self.refs = {}
        self.scale = collections.defaultdict(lambda: 1.0)

    def fail(self, count, message, log=None, n=1):
        self.counts[count] += n
        self.ctx.check(False, message + (f"\n--- log (tail)\n{log[-3000:]}" if log else ""))

    # ---- the uninterrupted run of a configuration -----------------------------------------
    def reference(self, key, args):
        """(output, seconds to its first commit past lead time 0, total seconds) of an
        uninterrupted 2-rank run of `args`, made once per configuration."""
        if key in self.refs:
            return self.refs[key]
        ctx = self.ctx
        ref = e2e.prepare(ctx, "ref-" + key)
        log_path = ctx.path(f"ref-{key}.log")
        start = time.monotonic()
        with open(log_path, "w") as log:
            p = subprocess.Popen(ctx.argv(args + ["--output", ref], 2), env=ctx.env,
                                 cwd=ctx.work, stdout=log, stderr=log)
            first = e2e.wait_for_commit(p, ref + ".ckpt", {}, 2, start)
            p.wait()
        duration = time.monotonic() - start
        ctx.require(p.returncode == e2e.EXIT_OK, f"reference {key} exited {p.returncode}:\n"
                    + open(log_path).read()[-3000:])
        e2e.check_complete(ctx, ref, f"reference {key}")
        first = min(first if first is not None else duration / 2, duration)
        print(f"  reference {key}: 2 ranks, {duration:.2f}s, first step committed at "
              f"{first:.2f}s", flush=True)
        self.refs[key] = (ref, first, duration)
        return self.refs[key]

    # ---- one killed start ---------------------------------------------------------------
    def killed_start(self, argv, env, st, out, delay, label):
        """Runs `argv`, kills it as `st` says; returns (exit status, killed, progress read
        just before a wall-clock kill or None, log text)."""
        ctx = self.ctx
        log_path = ctx.path(label + ".log")
        killed, before = False, None
        with open(log_path, "w") as log:
            p = subprocess.Popen(argv, env=env, cwd=ctx.work, stdout=log, stderr=log,
                                 start_new_session=True)
            if st.kind.startswith("time"):
                until = time.monotonic() + delay
                while p.poll() is None and time.monotonic() < until:
                    time.sleep(0.002)
                if p.poll() is None:
                    doc = read_catalog(ctx, out + ".ckpt")[0]  # a refusal: no finding here
                    before = e2e.newest_steps(doc) if doc else None
                    victims = chains.stormrun_ranks(ctx, out) if st.kind == "time-rank" else []
                    pid = next((v for v in victims if world_rank(v) == st.victim), None)
                    if pid is not None:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            killed = True
                        except ProcessLookupError:
                            pass
                    if not killed and p.poll() is None:  # the whole job (or no rank yet)
                        e2e.kill_session(p.pid)
                        killed = True
            try:
                p.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                left = e2e.describe_session(p.pid)
                e2e.kill_session(p.pid)
                p.wait()
                self.fail("hangs", f"{label}: did not end within {START_TIMEOUT}s "
                                   f"({st.describe()}), killed; left then: {left}",
                          open(log_path).read())
        text = open(log_path).read()
        if st.kind.startswith("point"):
            killed = p.returncode != 0 and ("signal 9" in text or p.returncode in KILLED_STATUSES)
        return p.returncode, killed, before, text

    # ---- after a kill ---------------------------------------------------------------------
    def check_after_kill(self, label, out, level, nsteps, previous, before):
        """The store opens, no committed step went back, the output reads, verify finds
        every committed step in it. `previous`: (progress, ledger counts) after the previous
        kill; returns them now."""
        store = out + ".ckpt"
        doc, refusal = read_catalog(self.ctx, store)
        if doc is None:
            self.fail("failed resumes", f"{label}: after the kill `stormrun catalog {store} "
                                        f"--json` refuses the store: {refusal}")
            return previous
        now = e2e.newest_steps(doc)
        # From the previous kill: at level 2 every step stays; at 0 and 1 finished units
        # (an unfinished one reruns from step 0 by design).
        floor = {u: s for u, s in previous[0].items() if level == 2 or s == nsteps}
        # Read just before the kill, with the same rule: at levels 0 and 1 an unfinished
        # unit's record may be the previous start's (the read can begin before this start's
        # migration row, which reruns it from step 0, is published).
        for u, s in (before or {}).items():
            if level == 2 or s == nsteps:
                floor[u] = max(s, floor.get(u, -1))
        lost = {u: (s, now.get(u)) for u, s in floor.items() if now.get(u, -1) < s}
        if lost:
            self.fail("committed steps lost", f"{label}: committed steps lost by the kill "
                                              f"(unit: was, now): {lost}",
                      n=sum(s - (n if n is not None else -1) for s, n in lost.values()))
        if os.path.exists(out):
            try:
                e2e.datasets(out)
            except Exception as e:  # noqa: BLE001 (h5py raises several kinds)
                self.fail("unreadable outputs", f"{label}: the output {out} is unreadable "
                                                f"after the kill: {type(e).__name__}: {e}")
        ledger = previous[1]
        if os.path.isdir(store):
            v = subprocess.run([self.ctx.stormrun, "verify", store], capture_output=True,
                               text=True, env=self.ctx.env)
            problems = [line for line in v.stdout.splitlines() if line.startswith("PROBLEM ")]
            # A commit renamed but not yet in its catalog, an old one listed but already
            # moved away by retention, staging left behind: crash states the next open
            # repairs (docs/checkpoint-format.md). A committed step missing from the output
            # is not, nor a rank dir's newest listed commit gone or damaged unless a newer
            # complete one waits unlisted beside it (retention ran, the catalog's replace
            # did not): the catalog would claim what no commit holds.
            unlisted = {d for d in doc["ranks"] for line in problems
                        if f"/{d}/commits/" in line and "not listed in catalog.json" in line}
            newest = [rows[-1]["commit_id"] for d, rows in doc["ranks"].items()
                      if rows and d not in unlisted]
            bad = [line for line in problems if line.startswith(f"PROBLEM {out}:")
                   or any(c in line for c in newest)]
            if bad:
                self.fail("committed steps lost", f"{label}: right after the kill, verify "
                                                  f"finds committed steps that are not there:\n"
                          + "\n".join(bad))
            # The ledger (the newest valid row of every rank dir, what a resume restores):
            # never fewer units finished, nor at level 2 fewer recorded.
            m = LEDGER.search(v.stdout)
            if m:
                ledger = (int(m.group(1)), int(m.group(2)))
                if (level == 2 and ledger[0] < previous[1][0]) or ledger[1] < previous[1][1]:
                    self.fail("committed steps lost",
                              f"{label}: verify's ledger went from {previous[1][0]} units "
                              f"recorded, {previous[1][1]} finished to {ledger[0]}, {ledger[1]}")
        return now, ledger

    # ---- one trial ----------------------------------------------------------------------
    def trial(self, seed, max_kills):
        ctx = self.ctx
        rng = random.Random(seed)
        name, stats, level, flush, common, starts = make_trial(rng, max_kills)
        config = chains.CONFIGS[name] + common
        key = name + ("+stats" if stats else "")
        print(f"-- trial {seed}: {key}, level {level}, flush {flush}: "
              + " -> ".join(s.describe() for s in starts), flush=True)
        ref, first, duration = self.reference(
            key, chains.CONFIGS[name] + (["--statistics", "mean,std"] if stats else [])
            + ["--quiet", "--batch-size", str(chains.STATS[name] if stats else 1)])
        nsteps = int(option(config, "--nsteps")[0])
        out = e2e.prepare(ctx, f"trial{seed}")
        store = out + ".ckpt"
        previous, kills = ({}, (0, 0)), 0
        total = None
        for i, st in enumerate(starts):
            label = f"trial {seed}.{i}"
            args = config + st.extra + ["--output", out, "--batch-size", str(st.batch)]
            argv = ctx.argv(args, st.ranks)
            done = sum(max(s, 0) for s in previous[0].values())
            total = total or nsteps * len(option(config, "--start-time")) * int(
                (option(config, "--nensemble") or ["1"])[0])
            left = max(0.0, 1.0 - done / total)
            if st.kind is None:  # to the end
                r = ctx.run(args, st.ranks, None, what=f"{label}: {st.describe()}",
                            timeout=START_TIMEOUT)
                if r.rc != e2e.EXIT_OK:
                    self.fail("failed resumes", f"{label}: the final resume exited {r.rc} "
                                                f"(repeat: --trial {seed})", r.describe())
                    return
                break
            env = dict(ctx.env)
            if not st.term_first:
                env["OMPI_MCA_odls_base_sigkill_timeout"] = "0"
            delay = 0.0
            if st.kind.startswith("point"):
                n = 1 + int(st.draw * max(1.0, expected_arrivals(config, stats, flush, st)
                                          * (left if st.point not in GLOBAL_POINTS else 1)))
                rank = "*" if st.kind == "point-all" else str(st.victim)
                env["STORMRUN_TEST_KILL_AT"] = f"{st.point}:{rank}:{n}"
                how = f"STORMRUN_TEST_KILL_AT={env['STORMRUN_TEST_KILL_AT']}"
            else:  # 30% in the start-up, 70% over the steps left
                # From the reference's times, shrunk for each (configuration, ranks) whose
                # start ended before its kill (rank counts and batches change the speed).
                scale = self.scale[(key, st.ranks)]
                delay = scale * (st.draw / 0.3 * first if st.draw < 0.3 else
                                 first + (st.draw - 0.3) / 0.7 * (duration - first) * left)
                how = f"SIGKILL at {delay:.2f}s"
            began = time.monotonic()
            rc, killed, before, text = self.killed_start(argv, env, st, out, delay, label)
            ran = time.monotonic() - began
            if rc == e2e.EXIT_OK:
                self.counts["no kill"] += 1
                if st.kind.startswith("time"):
                    self.scale[(key, st.ranks)] *= 0.8
                print(f"  {label}: {st.describe()}, {how}: ended (exit 0) before the kill",
                      flush=True)
                break
            if not killed and rc == e2e.EXIT_STOPPED and "received by rank" in text:
                # A stop signal this harness never sends: from another job on the machine (a
                # signal sender whose pid was reused). The stop itself is a clean one (75);
                # counted and shown, the store checked as after a kill, the trial goes on.
                self.counts["foreign stops"] += 1
                note = [line for line in text.splitlines() if "received by rank" in line]
                print(f"  WARNING {label}: {st.describe()}: stopped (exit 75) by a signal from "
                      f"outside the harness: {note[0]}", flush=True)
                previous = self.check_after_kill(f"{label} (repeat: --trial {seed})", out,
                                                 level, nsteps, previous, before)
                continue
            if not killed:
                self.fail("failed resumes", f"{label}: {st.describe()}, {how}: exit {rc} "
                                            f"without being killed (repeat: --trial {seed})",
                          text)
                return
            kills += 1
            self.counts["kills"] += 1
            self.by_kind[st.kind] += 1
            if st.point:
                self.by_point[st.point] += 1
            previous = self.check_after_kill(f"{label} (repeat: --trial {seed})", out, level,
                                             nsteps, previous, before)
            print(f"  [{ran:4.1f}s+{time.monotonic() - began - ran:3.1f}s] {label}: "
                  f"{st.describe()}, {how}: exit {rc}; "
                  f"{sum(max(s, 0) for s in previous[0].values())} of {total} unit-steps "
                  f"committed", flush=True)
        before = len(ctx.failures)
        e2e.compare_outputs(ctx, ref, out, f"trial {seed} ({kills} kills)")
        e2e.check_complete(ctx, out, f"trial {seed}")
        if len(ctx.failures) > before:
            self.counts["byte differences"] += 1
        self.final_verify(store, f"trial {seed}")

    def final_verify(self, store, what):
        """`stormrun verify` exits 0 on the finished store."""
        v = subprocess.run([self.ctx.stormrun, "verify", store], capture_output=True,
                           text=True, env=self.ctx.env)
        if v.returncode == 0:
            return
        self.fail("verify failures", f"{what}: stormrun verify {store}: exit {v.returncode}\n"
                                     f"{v.stdout}{v.stderr}")

    def store_open_regression(self):
        """The sequence the harness once found (seed 115553842): 2 ranks, rank 1 killed at its
        store's open, then 1 rank to the end: exit 0, the same bytes, verify exits 0 (the
        dead rank's empty dir is pruned)."""
        ctx = self.ctx
        name = "swe-deterministic"
        config = chains.CONFIGS[name] + ["--quiet", "--batch-size", "1"]
        ref = self.reference(name, config)[0]
        out = e2e.prepare(ctx, "store-open")
        env = dict(ctx.env, STORMRUN_TEST_KILL_AT="store-dirs-created:1:1",
                   OMPI_MCA_odls_base_sigkill_timeout="0")
        p = subprocess.run(ctx.argv(config + ["--output", out], 2), env=env, cwd=ctx.work,
                           capture_output=True, text=True)
        print(f"  store open: 2 ranks, STORMRUN_TEST_KILL_AT=store-dirs-created:1:1: exit "
              f"{p.returncode}", flush=True)
        ctx.run(config + ["--output", out], 1, e2e.EXIT_OK, what="store open: 1 rank to the end")
        e2e.compare_outputs(ctx, ref, out, "store open")
        self.final_verify(out + ".ckpt", "store open")

    def refused_spec(self):
        """A malformed STORMRUN_TEST_KILL_AT is refused (exit 2, naming it), not ignored."""
        out = e2e.prepare(self.ctx, "spec")
        name = sorted(chains.CONFIGS)[0]
        r = self.ctx.run(chains.CONFIGS[name] + ["--quiet", "--output", out], None, None,
                         env={"STORMRUN_TEST_KILL_AT": "commit-nowhere:0:1"},
                         what="STORMRUN_TEST_KILL_AT naming no point")
        self.ctx.check(r.rc == e2e.EXIT_CONFIG and "STORMRUN_TEST_KILL_AT" in r.err
                       and "commit-renamed" in r.err,
                       "a kill point that does not exist: expected exit 2 naming the variable "
                       "and listing the points", r)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--trial", type=int, help="run only the trial of this seed")
    opts = parser.parse_args()
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
    ctx = e2e.Ctx(opts.stormrun, opts.mpiexec, "crash")
    # Starts with --checkpoint-layout node see this machine as nodes of 2 ranks (3 ranks:
    # committers 0 and 2); the rank layout ignores it.
    ctx.env["STORMRUN_TEST_RANKS_PER_NODE"] = "2"
    h = Harness(ctx)
    print(f"== crash (in {ctx.work}): {opts.kills} kills, seed {seed} (--seed {seed} "
          f"repeats them)", flush=True)
    e2e.become_subreaper()
    wall = time.monotonic()
    trials = 0
    try:
        h.refused_spec()
        h.store_open_regression()
        seeds = [opts.trial] if opts.trial is not None else (seed + i for i in range(10**6))
        for trial_seed in seeds:
            if opts.trial is None and h.counts["kills"] >= opts.kills:
                break
            trials += 1
            try:
                h.trial(trial_seed, min(8, opts.kills - h.counts["kills"]) if opts.trial is None
                        else 8)
            except e2e.CaseFailed:
                h.counts["failed resumes"] += 0  # the failure is counted where it was seen
            finally:
                for _ in range(20):  # the killed ranks: zombies until now (LOCK holders)
                    e2e.reap_orphans()
                    time.sleep(0.01)
            if opts.trial is None and trials > 4 * opts.kills + 10:
                ctx.check(False, f"only {h.counts['kills']} kills landed in {trials} trials")
                break
    finally:
        for _ in range(50):
            e2e.reap_orphans()
            time.sleep(0.02)
    took = time.monotonic() - wall
    print("  kills by kind: " + ", ".join(f"{k} {h.by_kind[k]}" for k in KILL_KINDS))
    print("  point kills by point: " + ", ".join(f"{p} {n}" for p, n in sorted(h.by_point.items())))
    if os.environ.get("STORMRUN_KEEP_TMP") != "1":
        shutil.rmtree(ctx.work, ignore_errors=True)
    ok = not ctx.failures
    print(f"== crash: {'passed' if ok else 'FAILED'}: seed {seed}, {trials} trials, "
          + ", ".join(f"{h.counts[c]} {c}" for c in COUNTS) + f"; {took:.0f}s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
