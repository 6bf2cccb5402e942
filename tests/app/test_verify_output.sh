#!/usr/bin/env bash
# `stormrun verify DIR [--output FILE]` on a store of `stormrun run`: the ledger agrees with
# the output file (exit 0); a written step changed (NaN), claimed steps whose step checksum
# says never written, another run's output, or a missing output are each reported with the
# file at fault (exit 1).
set -euo pipefail
stormrun=$1
python=/usr/bin/python3
work=$(mktemp -d /tmp/stormrun-verify-output.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$stormrun" run --workflow ensemble --model persistence --grid 8x16 --nensemble 2 --nsteps 3 \
  --dt 3600 --perturbation gaussian --output out.h5 --quiet
"$stormrun" verify out.h5.ckpt >log 2>&1 || { cat log; fail "clean store: verify exited $?"; }
grep -q "ledger: 2 unit(s) recorded, 2 finished" log || { cat log; fail "no ledger line"; }
grep -q "every claimed step of 2 unit(s) checked" log || { cat log; fail "output not checked"; }

# A written step changed after it was written: its bytes no longer match its checksum.
cp out.h5 holed.h5
"$python" - <<'PY'
import h5py, numpy as np
with h5py.File("holed.h5", "r+") as f:
    d = f["v"]
    slab = d[1, 0, 2]
    slab[3, 4] = np.nan
    d[1, 0, 2] = slab
PY
set +e
"$stormrun" verify out.h5.ckpt --output holed.h5 >log 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || { cat log; fail "holed output: exit $rc, expected 1"; }
grep -q "member 1 start 2026-01-01T00:00:00Z lead step 2: the fields' bytes do not match their step checksum" log ||
  { cat log; fail "changed step not named"; }

# A claimed step the output's step checksums say was never written (an older copy).
cp out.h5 unwritten.h5
"$python" - <<'PY'
import h5py
with h5py.File("unwritten.h5", "r+") as f:
    f["stormrun/step_checksum"][0, 0, 2:] = 0
PY
set +e
"$stormrun" verify out.h5.ckpt --output unwritten.h5 >log 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || { cat log; fail "unwritten steps: exit $rc, expected 1"; }
grep -q "member 0 start 2026-01-01T00:00:00Z lead step 2..3 never written (step checksum 0)" log ||
  { cat log; fail "unwritten steps not named"; }

# Another run's output: fingerprint differs.
"$stormrun" run --workflow ensemble --model persistence --grid 8x16 --nensemble 2 --nsteps 3 \
  --dt 3600 --perturbation gaussian --seed 99 --output other.h5 --quiet
set +e
"$stormrun" verify out.h5.ckpt --output other.h5 >log 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "other.h5: fingerprint" log || { cat log; fail "foreign output not refused"; }

# The store's own output removed.
mv out.h5 gone.h5
set +e
"$stormrun" verify out.h5.ckpt >log 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "out.h5: output file missing" log || { cat log; fail "missing output"; }
echo "PASS verify --output"
