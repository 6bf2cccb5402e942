#!/usr/bin/python3
"""End-to-end tests of "the output is evidence" and of format versions (issue 10):

    evidence.py --stormrun PATH --mpiexec PATH CASE [CASE...]   (CASE "all": every case)
                [--stormrun-main PATH]                          (for main_artifacts)

  store_ahead       on 2 and 3 ranks: a run stopped twice, its output replaced by the copy
                    taken at the first stop (so the store is ahead of its output); the resume
                    recomputes the steps the output lacks (from an older commit that holds
                    them, or from step 0 with --mode overwrite) and ends byte-identical to an
                    uninterrupted run, with no fill value left; `stormrun verify` then exits 0
  verify_evidence   `stormrun verify` on a store ahead of its output names each (member,
                    lead steps) the step checksums say was never written; a field value
                    changed with h5py is named as a step whose bytes do not match its checksum
  manifest_edit     a manifest whose content is edited (a unit's step changed, still valid
                    JSON) is a damaged commit: skipped with the warning, the resume uses the
                    older commit and ends byte-identical; `stormrun verify` names it
  format_versions   a store of format 1 (manifests without their checksum, catalogs of
                    version 1) resumes from its newest commit to the same bytes; an output of
                    format 1 (no step checksums), older than its store, resumes: the steps it
                    lacks are found by its NaN fill and recomputed, same field bytes; a store
                    or output claiming a future version is refused with exit 3 naming both
                    versions, nothing changed
  main_artifacts    (only with --stormrun-main: the binary of today's main) a store and
                    output written by main's binary and stopped: this binary resumes them
                    from their newest commit to the field bytes of main's uninterrupted run

Temporary directories are removed at the end unless STORMRUN_KEEP_TMP=1.
"""
import argparse
import glob
import json
import os
import re
import shutil
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (the shared harness: Ctx, compare_outputs, ...)
from e2e import EXIT_MISMATCH, EXIT_OK, EXIT_STOPPED, T0, T1  # noqa: E402

NSTEPS = 6
CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "16x32", "--start-time", T0, "--start-time", T1, "--nsteps", str(NSTEPS),
          "--dt", "3600", "--nensemble", "3", "--perturbation", "gaussian", "--seed", "11",
          "--statistics", "mean,std", "--batch-size", "3"]
FIELDS = ("h", "u", "v")


def reference(ctx, ranks=2):
    ref = e2e.prepare(ctx, "ref")
    ctx.run(CONFIG + ["--output", ref], ranks, EXIT_OK, what="reference, uninterrupted")
    e2e.check_complete(ctx, ref, "reference")
    return ref


def no_fill(ctx, path, what):
    """No per-member field or statistic holds the NaN fill (a never-written step)."""
    with h5py.File(path, "r") as f:
        for name in FIELDS + tuple(f"{v}_{s}" for v in FIELDS for s in ("mean", "std")):
            bad = np.count_nonzero(np.isnan(f[name][()]))
            ctx.check(bad == 0, f"{what}: /{name} holds {bad} fill values (never-written steps)")


def same_fields(ctx, reference, other, what):
    """Every dataset but stormrun's bookkeeping has the reference's bytes."""
    a, b = e2e.datasets(reference), e2e.datasets(other)
    names = sorted(n for n in a if not n.startswith("stormrun"))
    ctx.check(names == sorted(n for n in b if not n.startswith("stormrun")),
              f"{what}: datasets differ: {sorted(a)} vs {sorted(b)}")
    bad = [n for n in names if n in b and a[n] != b[n]]
    if ctx.check(not bad, f"{what}: {bad} differ from the reference"):
        print(f"  same field bytes as the reference: {what} ({len(names)} datasets)", flush=True)


def checksums(path):
    """[member, time, lead] step checksums; for a file without them (an old binary's, when
    this test is pointed at one to see it fail), 1 where h holds no fill."""
    with h5py.File(path, "r") as f:
        if "stormrun" in f:
            return f["stormrun/step_checksum"][()]
        return (~np.isnan(f["h"][()]).any(axis=(3, 4))).astype(np.uint64)


def stopped_twice(ctx, name, ranks, extra=()):
    """A run stopped after 2 steps, its output copied, stopped again after 2 more: returns
    (output, store, copy of the output at the first stop)."""
    out = e2e.prepare(ctx, name)
    args = CONFIG + ["--output", out] + list(extra)
    ctx.run(args + ["--stop-after-steps", "2"], ranks, EXIT_STOPPED, what=f"{name}: stop after 2")
    early = ctx.path(name, "out.early.h5")
    shutil.copy2(out, early)
    ctx.run(args + ["--stop-after-steps", "2"], ranks, EXIT_STOPPED,
            what=f"{name}: stop after 2 more")
    return out, out + ".ckpt", early


def case_store_ahead(ctx):
    ref = reference(ctx)
    for ranks in (2, 3):
        for mode in ("append", "overwrite"):
            name = f"ahead{ranks}{mode}"
            extra = ["--mode", mode]
            out, store, early = stopped_twice(ctx, name, ranks, extra)
            ahead = e2e.progress(ctx, store)
            written = checksums(early)
            ctx.check(any(step > 0 and not written[int(u[-4:]), [T0, T1].index(u[:20]), step]
                          for u, step in ahead.items()),
                      f"{name}: the store {ahead} is not ahead of the early output copy: the "
                      f"test would show nothing")
            shutil.copy2(early, out)  # the output restored from the older copy
            r = ctx.run(CONFIG + ["--output", out] + extra, ranks, EXIT_OK,
                        what=f"{name}: resume with the older output")
            ctx.check("but the output holds only" in r.err,
                      f"{name}: no warning that the output lacks claimed steps", r)
            if mode == "append":
                ctx.check("from the older commit" in r.err,
                          f"{name}: append mode keeps older commits, the resume did not use one",
                          r)
            else:
                ctx.check("reruns from step 0" in r.err,
                          f"{name}: with --mode overwrite no older commit exists; expected the "
                          f"units to rerun from step 0", r)
            no_fill(ctx, out, name)
            e2e.compare_outputs(ctx, ref, out, f"{name}: store ahead of its output, resumed")
            e2e.verify(ctx, store, f"{name}: after the resume")


def case_verify_evidence(ctx):
    out, store, early = stopped_twice(ctx, "v", 2)
    ahead = e2e.progress(ctx, store)
    shutil.copy2(early, out)
    written = checksums(out)
    p = e2e.subprocess.run([ctx.stormrun, "verify", store], capture_output=True, text=True,
                           env=ctx.env)
    ctx.check(p.returncode == 1, f"verify of a store ahead of its output: exit {p.returncode}, "
                                 f"expected 1\n{p.stdout}{p.stderr}")
    for unit, step in ahead.items():
        start, member = unit[:20], int(unit[-4:])
        t = [T0, T1].index(start)
        missing = [s for s in range(step + 1) if not written[member, t, s]]
        if not missing:
            continue
        want = (f"member {member} start {start} lead step "
                f"{missing[0] if len(missing) == 1 else f'{missing[0]}..{missing[-1]}'} "
                f"never written")
        ctx.check(want in p.stdout, f"verify does not name '{want}'\n{p.stdout}")
    # One value of a written step changed: its bytes no longer match the step checksum.
    with h5py.File(out, "r+") as f:
        h = f["h"]
        h[1, 0, 1, 3, 4] = h[1, 0, 1, 3, 4] + 1.0
    p = e2e.subprocess.run([ctx.stormrun, "verify", store], capture_output=True, text=True,
                           env=ctx.env)
    ctx.check(p.returncode == 1 and f"member 1 start {T0} lead step 1: the fields' bytes do "
                                    "not match their step checksum" in p.stdout,
              f"verify does not name the changed step (member 1, time 0, step 1)\n{p.stdout}")


def manifests(store, rank="rank_000000"):
    """Commit dirs of a rank, oldest first (by saved_at)."""
    found = []
    for m in glob.glob(os.path.join(store, rank, "commits", "commit_*", "manifest.json")):
        with open(m) as f:
            found.append((json.load(f)["saved_at"], os.path.dirname(m)))
    return [d for _, d in sorted(found)]


def case_manifest_edit(ctx):
    ref = reference(ctx)
    out = e2e.prepare(ctx, "m")
    args = CONFIG + ["--output", out]
    ctx.run(args + ["--stop-after-steps", "3"], 2, EXIT_STOPPED, what="stop after 3")
    store = out + ".ckpt"
    # The commits are small, so they are packs: edit the manifest of the same commit as a
    # directory (unpacked: the same files), since an edited pack member fails the pack's own
    # index checksum first (tests/store/test_pack_file.cpp); this case is the manifest's.
    e2e.packs.unpack_store(store)
    commits = manifests(store)
    ctx.require(len(commits) >= 2, f"rank 0 holds {len(commits)} commits; the case needs an "
                                   f"older one to fall back to")
    newest = os.path.join(commits[-1], "manifest.json")
    with open(newest) as f:
        doc = json.load(f)
    unit = sorted(doc["units"])[0]
    doc["units"][unit] -= 1  # a believable lie, still valid JSON
    with open(newest, "w") as f:
        json.dump(doc, f, indent=2)
    p = e2e.subprocess.run([ctx.stormrun, "verify", store], capture_output=True, text=True,
                           env=ctx.env)
    ctx.check(p.returncode == 1 and "manifest was edited or damaged" in p.stdout,
              f"verify does not call the edited manifest damaged\n{p.stdout}")
    r = ctx.run(args, 2, EXIT_OK, what="resume past the edited manifest")
    ctx.check("skipped damaged checkpoint commit " + commits[-1] in r.err and
              "checksum" in r.err,
              "the edited manifest's commit was not skipped as damaged (checksum)", r)
    ctx.check("reruns from step 0" not in r.err, "the resume reran from step 0", r)
    no_fill(ctx, out, "manifest edit")
    e2e.compare_outputs(ctx, ref, out, "edited manifest skipped, resumed from the older commit")


def strip_store_to_format_1(store):
    """What main wrote before format 2: directory commits, manifests without "checksum",
    format 1 everywhere."""
    e2e.packs.unpack_store(store)  # format 1 had no packs
    for m in glob.glob(os.path.join(store, "rank_*", "commits", "commit_*", "manifest.json")):
        with open(m) as f:
            doc = json.load(f)
        doc.pop("checksum", None)
        doc["format_version"] = 1
        with open(m, "w") as f:
            json.dump(doc, f, indent=2)
    for c in glob.glob(os.path.join(store, "rank_*", "catalog.json")):
        with open(c) as f:
            doc = json.load(f)
        doc["format_version"] = 1
        with open(c, "w") as f:
            json.dump(doc, f, indent=2)
    set_root_format(store, 1)


def set_root_format(store, version):
    path = os.path.join(store, "catalog.json")
    with open(path) as f:
        doc = json.load(f)
    doc["format"] = version
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)


def set_output_format(out, version, drop_checksums):
    with h5py.File(out, "r+") as f:
        if drop_checksums:
            del f["stormrun"]
        f.attrs.modify("stormrun_format", np.int32(version))


def case_format_versions(ctx):
    ref = reference(ctx)
    # A store of format 1 with its output: resumes from its newest commit.
    out = e2e.prepare(ctx, "s1")
    args = CONFIG + ["--output", out]
    ctx.run(args + ["--stop-after-steps", "3"], 2, EXIT_STOPPED, what="stop after 3")
    store = out + ".ckpt"
    done = e2e.progress(ctx, store)
    strip_store_to_format_1(store)
    r = ctx.run(args, 2, EXIT_OK, what="resume a format-1 store")
    ctx.check("reruns from step 0" not in r.err and "skipped damaged" not in r.err,
              "the format-1 store did not resume from its newest commits", r)
    steps = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", r.out, re.M)]
    ctx.check(steps and steps[0] == min(done.values()) + 1,
              f"format-1 store: the resume starts at step {steps[:1]}, expected the step after "
              f"its newest commit's ({min(done.values()) + 1})", r)
    e2e.compare_outputs(ctx, ref, out, "format-1 store resumed")
    with open(os.path.join(store, "catalog.json")) as f:
        ctx.check(json.load(f)["format"] == 2, "the resumed store's catalog is not of format 2")

    # An output of format 1 (today's main: no step checksums), restored from an older copy
    # so that the store is ahead of it: resumed, the steps it lacks found by its NaN fill
    # and recomputed; the fields end as the reference's.
    out, store, early = stopped_twice(ctx, "o1", 2)
    set_output_format(early, 1, drop_checksums=True)
    shutil.copy2(early, out)
    r = ctx.run(CONFIG + ["--output", out], 2, EXIT_OK, what="resume a format-1 output")
    ctx.check("is in output format 1" in r.err and "but the output holds only" in r.err,
              "format-1 output: no warning naming its format and the steps it lacks", r)
    no_fill(ctx, out, "format-1 output resumed")
    same_fields(ctx, ref, out, "format-1 output resumed")
    ctx.check(int(e2e.root_attr(out, "stormrun_format")) == 1,
              "the resumed format-1 output no longer says format 1")
    e2e.verify(ctx, store, "format-1 output resumed")

    # An output of a future format: refused, nothing changed.
    out = e2e.prepare(ctx, "o9")
    args = CONFIG + ["--output", out]
    ctx.run(args + ["--stop-after-steps", "3"], 2, EXIT_STOPPED, what="o9: stop")
    set_output_format(out, 9, False)
    before = e2e.tree_hash(out, out + ".ckpt")
    r = ctx.run(args, 2, EXIT_MISMATCH, what="o9: resume an output of format 9")
    ctx.check("output format 9, this stormrun writes format 2 and reads formats 1 to 2" in r.err
              and "newer stormrun" in r.err,
              "o9: the refusal does not name both output formats and what to do", r)
    ctx.check(e2e.tree_hash(out, out + ".ckpt") == before,
              "o9: the refused resume changed the output or the store")

    # A store claiming a future version: the root catalog, a rank catalog.
    for name, edit in (("root", lambda s: set_root_format(s, 7)), ("rank", None)):
        out = e2e.prepare(ctx, "f" + name)
        args = CONFIG + ["--output", out]
        ctx.run(args + ["--stop-after-steps", "2"], 2, EXIT_STOPPED, what=f"future {name}: stop")
        store = out + ".ckpt"
        if edit:
            edit(store)
            want = ["is 7", "formats 1 to 2"]
        else:
            path = os.path.join(store, "rank_000001", "catalog.json")
            with open(path) as f:
                doc = json.load(f)
            doc["format_version"] = 7
            with open(path, "w") as f:
                json.dump(doc, f, indent=2)
            want = ["format_version 7", "versions 1 to 3"]
        before = e2e.tree_hash(out, store)
        r = ctx.run(args, 2, EXIT_MISMATCH, what=f"a store whose {name} catalog is of format 7")
        ctx.check(all(w in r.err for w in want),
                  f"future {name} catalog: the refusal does not name both versions {want}", r)
        ctx.check(e2e.tree_hash(out, store) == before,
                  f"future {name} catalog: the refused resume changed the output or the store")


def case_main_artifacts(ctx, main_binary):
    ref = e2e.prepare(ctx, "ref")
    ctx.run(CONFIG + ["--output", ref], 2, EXIT_OK, what="main's binary: reference",
            program=main_binary)
    out = e2e.prepare(ctx, "main")
    args = CONFIG + ["--output", out]
    ctx.run(args + ["--stop-after-steps", "3"], 2, EXIT_STOPPED, what="main's binary: stop",
            program=main_binary)
    done = e2e.progress(ctx, out + ".ckpt")
    r = ctx.run(args, 2, EXIT_OK, what="resume main's store and output with this binary")
    ctx.check("is in output format 1" in r.err, "main's output: no format-1 warning", r)
    ctx.check("reruns from step 0" not in r.err and "skipped damaged" not in r.err,
              "main's store did not resume from its newest commits", r)
    steps = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", r.out, re.M)]
    ctx.check(steps and steps[0] == min(done.values()) + 1,
              f"main's store: the resume starts at step {steps[:1]}, expected "
              f"{min(done.values()) + 1}", r)
    same_fields(ctx, ref, out, "main's store and output resumed by this binary")
    e2e.verify(ctx, out + ".ckpt", "main's store resumed")


CASES = {
    "store_ahead": case_store_ahead,
    "verify_evidence": case_verify_evidence,
    "manifest_edit": case_manifest_edit,
    "format_versions": case_format_versions,
    "main_artifacts": None,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    parser.add_argument("--stormrun-main", help="today's main's stormrun (main_artifacts)")
    parser.add_argument("cases", nargs="+", choices=list(CASES) + ["all"])
    opts = parser.parse_args()
    names = [n for n in CASES if n != "main_artifacts" or opts.stormrun_main] \
        if "all" in opts.cases else opts.cases

    def run_one(name, ctx):
        if name == "main_artifacts":
            if not opts.stormrun_main:
                raise e2e.CaseFailed("main_artifacts needs --stormrun-main")
            case_main_artifacts(ctx, os.path.abspath(opts.stormrun_main))
        else:
            CASES[name](ctx)

    return e2e.run_cases(names, lambda name: e2e.Ctx(opts.stormrun, opts.mpiexec, name), run_one)


if __name__ == "__main__":
    sys.exit(main())
