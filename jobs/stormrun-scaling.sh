#!/usr/bin/env bash
# Submits a scaling sweep of stormrun across node counts (docs/performance.md, "The
# scaling sweep"): ONE job per node count (a job array cannot vary the node count), each
# with --dependency=afterany on the one before (so they never share the nodes, and a failed
# point does not stop the rest), each appending its figures to one results file; then a
# gather job (afterany on the last) that writes the table, CSV and plots.
#
#   jobs/stormrun-scaling.sh NODES [SBATCH_OPTION...]
#   jobs/stormrun-scaling.sh 1,2,4,8,16 --partition=gpu --time=00:20:00
#   STORMRUN_RANKS_PER_NODE=8 jobs/stormrun-scaling.sh 1,2,4 --gpus-per-node=8
#
# Each point (jobs/stormrun-scaling.sbatch) runs, on N nodes × STORMRUN_RANKS_PER_NODE ranks:
#   weak    bench_run_overhead: MEMBERS per rank, without a checkpoint and with a level-2
#           commit every step (their ratio: the commit overhead at that size)
#   strong  bench_run_overhead --strong: MEMBERS × ranks of the smallest point in all
#   stream  bench_stream: the STREAM triad on every rank at once (the memory ceiling)
# Environment (all optional):
#   STORMRUN_SCALING_DIR      where results.csv, the runs' stores and the gather's output
#                             go: a directory on the shared file system under test (default:
#                             ./stormrun-scaling-<time>); must not hold a results.csv yet
#   STORMRUN_BENCH_DIR        the benchmark binaries (default: build/benchmarks of the
#                             repository holding this script)
#   STORMRUN_RANKS_PER_NODE   ranks per node (default 1; GPUs per node on GPU nodes)
#   STORMRUN_SCALING_GRID     grid (default 128x256); STORMRUN_SCALING_MEMBERS members per
#                             rank (default 4); STORMRUN_SCALING_STEPS (8);
#                             STORMRUN_SCALING_REPEATS (3, best of)
#   STORMRUN_SCALING_RUN_OPTIONS  extra `stormrun run` options, e.g. --sync-commits
#   STORMRUN_SCALING_STREAM_MIB   MiB of the STREAM arrays per rank (default 384)
# Prints one job id a line: the points in NODES order, then the gather job.
set -euo pipefail

usage() {
  sed -n '2,30p' "$0" >&2
  exit 2
}
[ $# -ge 1 ] || usage
nodes_list=$1
shift
case $nodes_list in '' | *[!0-9,]* | ,* | *, | *,,*)
  echo "stormrun-scaling.sh: NODES must be node counts separated by commas (e.g. 1,2,4), not '$nodes_list'" >&2
  exit 2 ;;
esac

for a in "$@"; do
  case $a in -N | -N* | --nodes | --nodes=* | -n | -n* | --ntasks | --ntasks=* | --array*)
    echo "stormrun-scaling.sh: '$a': the sweep sets the node and task counts itself (NODES, STORMRUN_RANKS_PER_NODE)" >&2
    exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
dir=${STORMRUN_SCALING_DIR:-$PWD/stormrun-scaling-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
results=$dir/results.csv
if [ -e "$results" ]; then
  echo "stormrun-scaling.sh: $results exists already (a sweep ran there): give another STORMRUN_SCALING_DIR" >&2
  exit 2
fi
bench=${STORMRUN_BENCH_DIR:-$repo/build/benchmarks}
for b in bench_run_overhead bench_stream; do
  [ -x "$bench/$b" ] || { echo "stormrun-scaling.sh: no $bench/$b (build the benchmarks, or set STORMRUN_BENCH_DIR)" >&2; exit 2; }
done
echo "job_id,nodes,ranks,ranks_per_node,hosts,measure,value" > "$results"

# The strong-scaling problem: the smallest point's weak problem.
smallest=$(tr ',' '\n' <<< "$nodes_list" | sort -n | head -n 1)
per_node=${STORMRUN_RANKS_PER_NODE:-1}
export STORMRUN_SCALING_RESULTS=$results STORMRUN_SCALING_DIR=$dir STORMRUN_BENCH_DIR=$bench
export STORMRUN_SCALING_STRONG_MEMBERS=$((smallest * per_node * ${STORMRUN_SCALING_MEMBERS:-4}))
prev=""
IFS=, read -r -a counts <<< "$nodes_list"
for n in "${counts[@]}"; do
  dep=()
  [ -n "$prev" ] && dep=("--dependency=afterany:$prev")
  prev=$(sbatch --parsable "${dep[@]+"${dep[@]}"}" --nodes="$n" --job-name="stormrun-scaling-$n" \
           --output="$dir/scaling-%j.log" --chdir="$dir" "$@" "$here/stormrun-scaling.sbatch")
  prev=${prev%%;*}
  echo "$prev"
done
gather=$(sbatch --parsable --dependency="afterany:$prev" --nodes=1 --ntasks=1 \
           --job-name=stormrun-scaling-gather --output="$dir/gather-%j.log" --chdir="$dir" "$@" \
           --wrap "/usr/bin/python3 '$here/stormrun-scaling-gather' '$results' --out '$dir/report'")
echo "${gather%%;*}"
