#!/usr/bin/python3
"""Kill a parallel writer mid-step, then read and resume its file.

  crash_check.py MPIEXEC WRITER

Runs `MPIEXEC -n 2 WRITER PATH fresh K` (rank 0 SIGKILLs itself after flushing step K and
writing part of step K+1), checks with h5py that the file opens, steps 0..K are exact, the
torn step holds only NaN or right values and later steps only NaN; then resumes with
`WRITER PATH resume K` and checks the finished file through xarray (check_output.py).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_output as co  # noqa: E402

K = 4  # last flushed step before the kill; step = t * NLEAD + l


def run_writer(mpiexec, writer, path, mode):
    cmd = [mpiexec, "-n", "2", "--oversubscribe", writer, path, mode, str(K)]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)


def check_killed_file(path):
    with h5py.File(path, "r") as f:
        for fi, (name, _, _) in enumerate(co.FIELDS):
            want = co.member_values(fi)
            got = f[name][...]
            for step in range(len(co.TIMES) * co.NLEAD):
                t, l = divmod(step, co.NLEAD)
                g, w = got[:, t, l], want[:, t, l]
                if step <= K:
                    co.check(np.array_equal(g, w), f"{name} step {step} (flushed) exact")
                elif step == K + 1:
                    co.check(np.all(np.isnan(g) | (g == w)),
                             f"{name} step {step} (torn) holds only NaN or right values")
                else:
                    co.check(np.all(np.isnan(g)), f"{name} step {step} (never written) NaN")
            for si, stat in enumerate(co.STATS):
                want_s = co.statistic_values(fi, si)
                got_s = f[f"{name}_{stat}"][...]
                for step in range(len(co.TIMES) * co.NLEAD):
                    t, l = divmod(step, co.NLEAD)
                    if step <= K:
                        co.check(np.array_equal(got_s[t, l], want_s[t, l]),
                                 f"{name}_{stat} step {step} exact")
                    else:
                        co.check(np.all(np.isnan(got_s[t, l])), f"{name}_{stat} step {step} NaN")
        co.check(f.attrs["stormrun_fingerprint"] == co.FINGERPRINT, "fingerprint after kill")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mpiexec, writer = argv[1], argv[2]
    tmp = tempfile.mkdtemp(prefix="stormrun-output-crash-")
    try:
        path = os.path.join(tmp, "forecast.h5")
        killed = run_writer(mpiexec, writer, path, "fresh")
        co.check(killed.returncode != 0, "the writer was killed:\n" + killed.stdout)
        co.check(os.path.exists(path), "the killed writer's file exists")
        check_killed_file(path)
        resumed = run_writer(mpiexec, writer, path, "resume")
        co.check(resumed.returncode == 0, "the resumed writer finished:\n" + resumed.stdout)
        co.check(not os.path.exists(path + ".partial"), "no .partial left")
        co.check_xarray(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("crash_check: killed file readable up to its last flush, resumed file complete")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except AssertionError as e:
        print(f"crash_check: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
