#!/usr/bin/python3
"""The stored stuck-store fixture (tests/fixtures/stuck-store-after-kills.tar.xz, made by
stormrun at 52c3904 after a series of SIGKILLs; every resume of it used to abort with "the
restart plan expects step 15") resumes to completion on 1, 2 and 3 ranks, each to every
dataset's bytes of an uninterrupted run.

The fixture was computed with the swe model's dynamics 1 (before the hyperdiffusion), so the
resume continues it with those dynamics by itself (a note says so), and the uninterrupted
reference is `--model-dynamics 1`: the steps the old binary wrote and the steps this one adds
must agree to the bit (the fixture's output is format 1, without step checksums, which the
compare leaves out). Each resume must start from the store's newest valid commits, not from
zero: with --batch-size 1 rank 0 runs one round per unit it owns, each from the lowest step
any rank resumes in that round, so it computes at most (its units) x (24 - the oldest newest
commit) steps, against (its units) x 24 from zero. A resumed copy stopped again and moved to
another directory resumes too (the store follows its output). A --model-dynamics other than
the store's is refused with exit 3, nothing changed.

    fixture_resume.py --stormrun PATH --mpiexec PATH [--fixture TARBALL]
"""
import argparse
import json
import os
import shutil
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "stuck-store-after-kills.tar.xz")
NSTEPS = 24
# The fixture's output is format 1: no step checksums; and older than the CF valid_time
# (resumed as it is, without it).
IGNORE = ("stormrun/step_checksum", "valid_time")
CONFIG = ["--workflow", "ensemble", "--model", "swe", "--initial-condition", "galewsky",
          "--grid", "64x128", "--nsteps", str(NSTEPS), "--nensemble", "4",
          "--perturbation", "gaussian", "--seed", "11", "--quiet"]


def unpack(ctx, fixture, name):
    """The fixture in ctx's dir `name`, its catalog pointed at this place (the note beside
    the fixture says to: it names the output by the absolute path it was made at)."""
    where = ctx.path(name)
    os.makedirs(where)
    with tarfile.open(fixture) as tar:
        tar.extractall(where)
    catalog = os.path.join(where, "out.h5.ckpt", "catalog.json")
    doc = json.load(open(catalog))
    doc["output"] = os.path.join(where, "out.h5")
    json.dump(doc, open(catalog, "w"), indent=2)
    return os.path.join(where, "out.h5")


def case_fixture(ctx, fixture):
    ref = e2e.prepare(ctx, "reference")
    ctx.run(CONFIG + ["--output", ref, "--model-dynamics", "1", "--no-checkpoint"], expect=0,
            what="uninterrupted run, dynamics 1")
    for ranks in (1, 2, 3):
        out = unpack(ctx, fixture, f"np{ranks}")
        store = out + ".ckpt"
        done = e2e.progress(ctx, store)  # unit -> newest committed step
        ctx.require(len(done) == 4 and min(done.values()) > 0,
                    f"the fixture's store holds commits of every unit: {done}")
        # Rank 0's units: contiguous blocks, sizes within one, the larger ones first.
        units = sorted(done)
        mine = units[:-(-len(units) // ranks)]
        left = len(mine) * (NSTEPS - min(done.values()))
        r = ctx.run(CONFIG + ["--output", out, "--batch-size", "1"], ranks=ranks, expect=0,
                    what=f"resume of the fixture on {ranks} rank(s)")
        ctx.check("was computed with the swe model's dynamics 1; this run continues it" in r.err,
                  "no note that the store's dynamics 1 are continued", r)
        last = e2e.catalog_json(ctx, store)["last_run"]
        ctx.check(last.get("resumed") is True and 0 < last.get("steps", 0) <= left,
                  f"rank 0 computed {last.get('steps')} steps; from the newest commits {done} "
                  f"its {len(mine)} unit(s) need at most {left} (from zero: "
                  f"{len(mine) * NSTEPS})", r)
        e2e.compare_outputs(ctx, ref, out, f"the fixture resumed on {ranks} rank(s)", IGNORE)
        e2e.verify(ctx, store, f"the fixture resumed on {ranks} rank(s)")
    # Resumed, stopped again, moved: the store follows its output.
    first = unpack(ctx, fixture, "first")
    ctx.run(CONFIG + ["--output", first, "--batch-size", "2", "--stop-after-steps", "2"],
            ranks=2, expect=e2e.EXIT_STOPPED, what="resume of the fixture stopped after 2 steps")
    moved = ctx.path("moved")
    shutil.move(os.path.dirname(first), moved)
    out = os.path.join(moved, "out.h5")
    ctx.run(CONFIG + ["--output", out], ranks=3, expect=0, what="resume of the moved copy")
    e2e.compare_outputs(ctx, ref, out, "a moved copy of the fixture resumed", IGNORE)
    # Another --model-dynamics than the store's is refused, naming it; nothing changes.
    again = unpack(ctx, fixture, "explicit")
    before = e2e.tree_hash(again, again + ".ckpt")
    r = ctx.run(CONFIG + ["--output", again, "--model-dynamics", "3"], ranks=2,
                expect=e2e.EXIT_MISMATCH, what="--model-dynamics 3 on the dynamics-1 store")
    ctx.check("model_dynamics" in r.err, "the refusal does not name model_dynamics", r)
    ctx.check(e2e.tree_hash(again, again + ".ckpt") == before,
              "the refused run changed the fixture", r)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stormrun", required=True)
    parser.add_argument("--mpiexec", default="mpirun")
    parser.add_argument("--fixture", default=FIXTURE)
    opts = parser.parse_args()
    return e2e.run_cases(["fixture"], lambda name: e2e.Ctx(opts.stormrun, opts.mpiexec, name),
                         lambda name, ctx: case_fixture(ctx, opts.fixture))


if __name__ == "__main__":
    sys.exit(main())
