#!/usr/bin/env bash
# Submits a stormrun run as a CHAIN of jobs, for clusters without requeue (docs/slurm.md).
#
# Use it where `--requeue` is refused or JobRequeue=0, or to slice a long run into jobs of a
# fixed length. Each link is the preemptible script (jobs/stormrun-preemptible.sbatch, same
# exit-code table) submitted with --no-requeue and --dependency=afterany on the link before
# it: a link that stops early (75, 76, a death by signal: a time limit, a preemption) ends,
# and the next link (a new job id, maybe on other nodes) resumes from the last durable
# checkpoint; a LOCK the killed link left is recovered by stormrun once SLURM says that job
# no longer runs. A link that finishes (0) or must stop (1-5) cancels the pending links.
#
#   jobs/stormrun-chain.sh LINKS [SBATCH_OPTION...] -- CONFIG [RUN_OPTION...]
#   jobs/stormrun-chain.sh 6 --time=04:00:00 --ntasks=16 -- my.ini
#   STORMRUN_CHAIN_SCRIPT=jobs/stormrun-multinode.sbatch jobs/stormrun-chain.sh 4 --nodes=2-4 -- my.ini
#
# Prints one job id a line (the first link first). The links share the job name
# stormrun-chain-<time>-<pid> (unless --job-name is given): `squeue -n NAME` shows the chain,
# `scancel -n NAME` ends it.
set -euo pipefail

usage() {
  sed -n '2,19p' "$0" >&2
  exit 2
}
[ $# -ge 1 ] || usage
links=$1
shift
case $links in '' | *[!0-9]* | 0) echo "stormrun-chain.sh: LINKS must be a positive number, not '$links'" >&2; exit 2 ;; esac

sbatch_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  sbatch_args+=("$1")
  shift
done
[ $# -gt 0 ] || { echo "stormrun-chain.sh: missing '--' before the config file" >&2; usage; }
shift
[ $# -gt 0 ] || { echo "stormrun-chain.sh: missing the config file after '--'" >&2; usage; }

here=$(cd "$(dirname "$0")" && pwd)
script=${STORMRUN_CHAIN_SCRIPT:-$here/stormrun-preemptible.sbatch}
[ -r "$script" ] || { echo "stormrun-chain.sh: cannot read the job script $script" >&2; exit 2; }

name=""
for a in "${sbatch_args[@]+"${sbatch_args[@]}"}"; do
  case $a in --job-name=*) name=${a#--job-name=} ;; esac
done
if [ -z "$name" ]; then
  name="stormrun-chain-$(date -u +%Y%m%dT%H%M%S)-$$"
  sbatch_args+=("--job-name=$name")
fi

# The links find the shared code next to this script, and know they are links.
export STORMRUN_JOBS_DIR=$here STORMRUN_CHAIN=$name
prev=""
for ((i = 1; i <= links; i++)); do
  dep=()
  [ -n "$prev" ] && dep=("--dependency=afterany:$prev")
  prev=$(STORMRUN_CHAIN_LINK="$i/$links" sbatch --parsable --no-requeue \
           "${dep[@]+"${dep[@]}"}" "${sbatch_args[@]}" "$script" "$@")
  prev=${prev%%;*}
  echo "$prev"
done
