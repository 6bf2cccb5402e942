#!/usr/bin/env bash
# stormrun's commands end to end: --version, demo killed with SIGKILL and resumed to the
# same bytes as an uninterrupted run, catalog (table and JSON), verify on a clean store
# (exit 0) and on damaged ones (exit 1, naming the file), usage errors (exit 2).
set -uo pipefail
stormrun=$1
work=$(mktemp -d /tmp/stormrun-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() {  # expect_rc WANT DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$work/out" 2>&1
  local rc=$?
  [ "$rc" -eq "$want" ] || { fail "$what: exit $rc, expected $want"; cat "$work/out"; }
}

# --version names the build's features.
"$stormrun" --version >"$work/version"
grep -q "^stormrun [0-9]" "$work/version" || fail "--version: no version line"
grep -q "parallel" "$work/version" || fail "--version: HDF5 not reported parallel"
grep -Eq "CUDA [0-9]|CPU only" "$work/version" || fail "--version: no accelerator line"
grep -q "MPI:" "$work/version" || fail "--version: no MPI library"

# Usage errors: exit 2, message names the option.
expect_rc 2 "unknown command" -- "$stormrun" frobnicate
expect_rc 2 "catalog without DIR" -- "$stormrun" catalog
expect_rc 2 "demo with --steps 0" -- "$stormrun" demo --checkpoint-dir "$work/x" --steps 0
grep -q "steps" "$work/out" || fail "demo --steps 0: message does not name the option"
[ ! -e "$work/x" ] || fail "demo --steps 0 created its checkpoint dir"
for cmd in catalog verify demo; do
  expect_rc 0 "$cmd --help" -- "$stormrun" $cmd --help
done

# A run killed with SIGKILL after step 2, resumed, ends in the bytes of an uninterrupted run.
args=(--grid 16x32 --steps 5 --members 2)
"$stormrun" demo --checkpoint-dir "$work/ckpt" "${args[@]}" --kill-after 2 >"$work/killed.log" 2>&1
rc=$?
[ "$rc" -eq 137 ] || fail "demo --kill-after: exit $rc, expected 137 (SIGKILL)"
"$stormrun" demo --checkpoint-dir "$work/ckpt" "${args[@]}" >"$work/resumed.log" 2>&1 ||
  fail "resumed demo failed"
grep -q "resuming from commit_00000003_" "$work/resumed.log" || fail "resume did not start from the third commit"
grep -q "^step   3" "$work/resumed.log" || fail "resume did not continue at step 3"
grep -q "^step   2" "$work/resumed.log" && fail "resume recomputed step 2"
"$stormrun" demo --checkpoint-dir "$work/ref" "${args[@]}" >"$work/ref.log" 2>&1 || fail "reference demo failed"
resumed=$(awk '/final state digest/{print $NF}' "$work/resumed.log")
reference=$(awk '/final state digest/{print $NF}' "$work/ref.log")
[ -n "$resumed" ] && [ "$resumed" = "$reference" ] ||
  fail "resumed digest '$resumed' differs from uninterrupted '$reference'"
# Running it again finds the run complete and changes nothing.
"$stormrun" demo --checkpoint-dir "$work/ckpt" "${args[@]}" >"$work/again.log" 2>&1
grep -q "already complete; final state digest $reference" "$work/again.log" || fail "rerun of a complete run"

# catalog: table with the metadata columns; JSON parses and lists rank_000000's rows.
expect_rc 0 "catalog" -- "$stormrun" catalog "$work/ckpt"
for column in id labels digest lead_time step write_count saved_at; do
  grep -q "$column" "$work/out" || fail "catalog table lacks column $column"
done
"$stormrun" catalog "$work/ckpt" --json >"$work/catalog.json" || fail "catalog --json"
/usr/bin/python3 - "$work/catalog.json" <<'PY' || fail "catalog --json content"
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["ranks"]["rank_000000"]
assert len(rows) == 3, rows                      # append mode, history size 3
assert [r["write_count"] for r in rows] == [4, 5, 6], rows
PY

# verify: clean store → 0; a flipped byte, a missing file, a bad manifest → 1 naming the file.
# The demo's commits are small, so they are packs (checkpoint format 3): the flip damages a
# member inside the newest pack; the missing-file and manifest cases edit a directory commit
# (packs.py unpack turns each pack into the directory commit holding the same files).
packs="/usr/bin/python3 $(dirname "$0")/../run/packs.py"
expect_rc 0 "verify clean" -- "$stormrun" verify "$work/ckpt"
grep -q "3 valid, 0 problem" "$work/out" || fail "verify summary"
newest=$(ls -d "$work"/ckpt/rank_000000/commits/commit_* | sort | tail -1)
[ -f "$newest" ] || fail "the demo's newest commit $newest is not a pack"
npy=$($packs members "$newest" | awk '/\.npy /{print $1; exit}')
[ -n "$npy" ] || fail "the newest pack has no .npy member"
cp -r "$work/ckpt" "$work/flip"
$packs flip "${newest/$work\/ckpt/$work/flip}" "$npy"
expect_rc 1 "verify bit flip" -- "$stormrun" verify "$work/flip"
grep -q "PROBLEM .*$(basename "$newest")/$npy" "$work/out" || fail "verify does not name the flipped member"
cp -r "$work/ckpt" "$work/missing"
$packs unpack "$work/missing" >/dev/null
rm "${newest/$work\/ckpt/$work/missing}/$npy"
expect_rc 1 "verify missing file" -- "$stormrun" verify "$work/missing"
cp -r "$work/ckpt" "$work/manifest"
$packs unpack "$work/manifest" >/dev/null
expect_rc 0 "verify unpacked store" -- "$stormrun" verify "$work/manifest"
echo "{ not json" >"${newest/$work\/ckpt/$work/manifest}/manifest.json"
expect_rc 1 "verify bad manifest" -- "$stormrun" verify "$work/manifest"
grep -q "manifest.json" "$work/out" || fail "verify does not name the bad manifest"
expect_rc 1 "verify not a store" -- "$stormrun" verify "$work"
# The damaged store resumes from the newest valid row, never from wrong bytes.
"$stormrun" demo --checkpoint-dir "$work/flip" "${args[@]}" >"$work/flip.log" 2>&1
grep -q "resuming from commit_00000005_" "$work/flip.log" || fail "damaged newest row was not skipped"
grep -q "final state digest $reference" "$work/flip.log" || fail "resume after damage gave other bytes"

echo "$((failures == 0 ? 1 : 0)) passed, $((failures > 0 ? 1 : 0)) failed"
[ "$failures" -eq 0 ]
