# shellcheck shell=bash
# Shell code shared by the stormrun job scripts (docs/slurm.md). Sourced, never run:
#   jobs/stormrun-preemptible.sbatch, jobs/stormrun-multinode.sbatch, and every link that
#   jobs/stormrun-chain.sh submits.
#
# The one entry point is `sr_main CONFIG [RUN_OPTION...]`: banner, progress comments, the
# `srun --mpi=pmix stormrun run` step in the background, signal forwarding, and at the end
# ONE action for the step's exit status:
#
#   exit status                         action
#   0    finished                       done: exit 0 (a chain cancels its pending links)
#   75   stopped early, checkpointed    requeue (signal, time limit, --stop-after-steps)
#   76   hang watchdog / rank lost      requeue (the store is resumable: commits are atomic)
#   2    invalid options                stop: exit 2 (nothing written; fix the config)
#   3    store/output of another run    stop: exit 3
#   4    diverged                       stop: exit 4 (a rerun diverges again)
#   5    no progress in N reruns        stop: exit 5 (stormrun's own verdict)
#   1    other failure                  stop: exit 1 (needs a look; STORMRUN_REQUEUE_ON_FAILURE=1
#                                        requeues it instead, still capped)
#   >=128 a death by signal (srun/rank  requeue (OOM kill, node trouble, a KILL after the
#        killed: 128+signal)             grace time: the store is crash-safe), capped
#   anything else                       stop
#
# "requeue" is capped: when SLURM_RESTART_COUNT (unset on the first run: 0) has reached
# STORMRUN_MAX_RESTARTS (default 10) the action becomes stop. Requeueing is explicit
# (`scontrol requeue`), since SLURM does not requeue a job whose batch shell exits during a
# preemption grace time; in a job chain (STORMRUN_CHAIN set by jobs/stormrun-chain.sh)
# "requeue" means: exit and let the next link continue.
#
# Environment (all optional):
#   STORMRUN                  the stormrun binary (default: PATH, then build/ of the submit dir
#                             or of the repository holding this file)
#   STORMRUN_MAX_RESTARTS     restart cap (default 10)
#   STORMRUN_REQUEUE_ON_FAILURE=1   requeue on exit 1 too
#   STORMRUN_COMMENT_INTERVAL seconds between progress comments (default 60; 0: none)
#   STORMRUN_SRUN_OPTIONS     extra srun options (word-split), e.g. "--cpu-bind=cores"
#   STORMRUN_DRY_ACTION=1     print the action instead of requeueing/cancelling (testing)

SR_NAME=${SR_NAME:-stormrun-job}
SR_SIG_COUNT=0
SR_STEP_PID=
SR_COMMENT_PID=
SR_SIGNALS_SEEN=

sr_say() { echo "$SR_NAME: $*"; }
sr_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# The job id that `scontrol requeue` needs: an array task is <array job>_<task> (the array's
# own id would requeue every task of the array).
sr_job_id() {
  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  else
    echo "${SLURM_JOB_ID:-}"
  fi
}

# The action for an exit status: done, requeue or stop (the table above).
sr_action() {
  local rc=$1
  case $rc in
    0) echo "done" ;;
    75 | 76) echo requeue ;;
    2 | 3 | 4 | 5) echo stop ;;
    1) if [ "${STORMRUN_REQUEUE_ON_FAILURE:-0}" = 1 ]; then echo requeue; else echo stop; fi ;;
    *) if [ "$rc" -ge 128 ]; then echo requeue; else echo stop; fi ;;
  esac
}

sr_meaning() {
  local rc=$1
  case $rc in
    0) echo "finished" ;;
    75) echo "stopped early with a durable checkpoint" ;;
    76) echo "the hang watchdog ended the run (a rank or node stopped making progress or was lost; see the message naming it above)" ;;
    2) echo "invalid options or config (nothing written)" ;;
    3) echo "the store or output belongs to another run (see the message above)" ;;
    4) echo "the forecast diverged (a rerun would diverge again)" ;;
    5) echo "no progress: the last reruns started from the same committed step and committed nothing new" ;;
    1) echo "failed (see the message above)" ;;
    *) if [ "$rc" -ge 128 ]; then echo "killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"; else echo "unexpected exit status"; fi ;;
  esac
}

# Where this file lives; sbatch runs a copy of the job script from its spool directory, so the
# scripts find it through STORMRUN_JOBS_DIR, the job's Command= path (scontrol), the submit
# dir's jobs/, then next to themselves.
sr_repo_dir() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

sr_find_stormrun() {
  local c
  for c in "${STORMRUN:-}" "$(command -v stormrun 2>/dev/null)" \
           "${SLURM_SUBMIT_DIR:-.}/build/src/app/stormrun" "$(sr_repo_dir)/build/src/app/stormrun"; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# The value of a `stormrun run` option from the arguments, then STORMRUN_<NAME>, then the
# INI file (the same precedence as stormrun's own): sr_option NAME CONFIG ARGS...
sr_option() {
  local name=$1 config=$2 value="" found=0
  shift 2
  while [ $# -gt 0 ]; do
    case $1 in
      --"$name") if [ $# -gt 1 ]; then value=$2; found=1; shift; fi ;;
      --"$name"=*) value=${1#--"$name"=}; found=1 ;;
    esac
    shift
  done
  if [ $found = 0 ]; then
    local env_name
    env_name="STORMRUN_$(echo "$name" | tr 'a-z-' 'A-Z_')"
    if [ -n "${!env_name:-}" ]; then
      value=${!env_name}
      found=1
    fi
  fi
  if [ $found = 0 ] && [ -r "$config" ]; then
    value=$(sed -n "s/^[[:space:]]*${name}[[:space:]]*=[[:space:]]*//p" "$config" | tail -n 1 |
            sed 's/[[:space:]]*$//')
  fi
  echo "$value"
}

# The run's checkpoint store (for the progress comments): sr_store CONFIG ARGS...
sr_store() {
  local store output
  store=$(sr_option checkpoint-dir "$@")
  if [ -z "$store" ]; then
    output=$(sr_option output "$@")
    [ -n "$output" ] && store=$output.ckpt
  fi
  echo "$store"
}

sr_banner() {
  local what=$1
  sr_say "==== $what $(sr_now): job $(sr_job_id)${SLURM_JOB_NAME:+ ($SLURM_JOB_NAME)}," \
         "restart ${SLURM_RESTART_COUNT:-0} of at most ${STORMRUN_MAX_RESTARTS:-10}${STORMRUN_CHAIN:+, chain $STORMRUN_CHAIN link ${STORMRUN_CHAIN_LINK:-?}}," \
         "${SLURM_JOB_NUM_NODES:-?} node(s) ${SLURM_JOB_NODELIST:-?}, ${SR_RANKS:-${SLURM_NTASKS:-?}} rank(s)," \
         "partition ${SLURM_JOB_PARTITION:-?}, batch host $(hostname)"
}

# One line of progress from the store's catalog, e.g. "stormrun: 45% (1/4 units done),
# committed 2026-12-02T03:10:04Z" (the unit-steps every rank has committed, of all). Empty when
# there is nothing to show.
sr_progress_line() {
  local stormrun=$1 store=$2 json
  [ -n "$store" ] && [ -e "$store" ] || return 0
  json=$("$stormrun" catalog "$store" --json 2>/dev/null) || return 0
  if command -v python3 > /dev/null 2>&1; then
    printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = [r[-1] for r in d.get("ranks", {}).values() if r]
fp = d.get("global", {}).get("fingerprint", {})
n = int(fp.get("nsteps", 0))
units = {}
for r in rows:
    units.update(r.get("units", {}))
total = len([t for t in fp.get("start_times", "").split(",") if t])
if fp.get("workflow") == "ensemble":
    total *= int(fp.get("nensemble", 1))
total = max(total, len(units))
when = max((r.get("saved_at", "") for r in rows), default="")[:19]
if rows and n and total:
    done = sum(min(s, n) for s in units.values())
    full = sum(1 for s in units.values() if s >= n)
    print(f"stormrun: {100 * done // (total * n)}% ({full}/{total} units done), committed {when}Z")
' 2>/dev/null
  else
    printf '%s' "$json" | grep -o '"status": *"[^"]*"' | tail -n 1 | sed 's/.*"\([^"]*\)"$/stormrun: \1/'
  fi
}

# Background loop: the job's Comment shows the newest committed step (squeue -o %k, scontrol
# show job). A failure is a note, once; never an error.
sr_comment_loop() {
  local stormrun=$1 store=$2 interval=$3 line last="" noted=0
  trap - USR1 USR2 TERM INT
  while sleep "$interval"; do
    line=$(sr_progress_line "$stormrun" "$store")
    if [ -z "$line" ] || [ "$line" = "$last" ]; then continue; fi
    line="$line (restart ${SLURM_RESTART_COUNT:-0})"
    if scontrol update JobId="$(sr_job_id)" Comment="$line" > /dev/null 2>&1; then
      last=${line% (restart*}
    elif [ $noted = 0 ]; then
      sr_say "note: could not set the job's comment to the progress (scontrol update JobId=$(sr_job_id) Comment=...); carrying on"
      noted=1
    fi
  done
}

# A stop request for the batch shell. SLURM sends SIGTERM to every task itself (scancel,
# scontrol requeue, time limit, the end of a preemption grace time), so TERM/INT are only
# noted: forwarding them would make a second signal, which ends stormrun sooner. The warning
# signal of --signal=B:USR1@N and of a preemption (preempt_send_user_signal) reaches the
# batch shell only: it is forwarded to srun, which passes it to every task on every node.
sr_on_signal() {
  local sig=$1
  SR_SIG_COUNT=$((SR_SIG_COUNT + 1))
  SR_SIGNALS_SEEN="$SR_SIGNALS_SEEN $sig"
  case $sig in
    USR1 | USR2)
      if [ -n "$SR_STEP_PID" ] && kill -s "$sig" "$SR_STEP_PID" 2> /dev/null; then
        sr_say "SIG$sig at $(sr_now): forwarded to the step (srun pid $SR_STEP_PID); stormrun stops at the next step boundary with a checkpoint"
      elif [ -n "${SLURM_JOB_ID:-}" ] && scancel --signal="$sig" "${SLURM_JOB_ID}" 2> /dev/null; then
        sr_say "SIG$sig at $(sr_now): sent to the job's steps with scancel"
      else
        sr_say "SIG$sig at $(sr_now): no step to forward it to"
      fi
      ;;
    *)
      sr_say "SIG$sig at $(sr_now): SLURM signals every task itself; waiting for the step to stop"
      ;;
  esac
}

# Runs "$@" in the background and waits for it, again after each trapped signal (a trapped
# signal interrupts `wait` with a status > 128). Sets SR_RC.
sr_run_step() {
  trap 'sr_on_signal USR1' USR1
  trap 'sr_on_signal USR2' USR2
  trap 'sr_on_signal TERM' TERM
  trap 'sr_on_signal INT' INT
  "$@" &
  SR_STEP_PID=$!
  local rc before last=
  while :; do
    before=$SR_SIG_COUNT
    wait "$SR_STEP_PID"
    rc=$?
    if [ "$rc" = 127 ] && [ -n "$last" ]; then
      rc=$last # the step was already reaped: its status came with the interrupted wait
      break
    fi
    if [ "$rc" -gt 128 ] && [ "$SR_SIG_COUNT" != "$before" ]; then
      last=$rc
      continue
    fi
    break
  done
  SR_STEP_PID=
  SR_RC=$rc
  # The step is over: nothing left to forward, and the action must not be cut short by the
  # TERM that follows a requeue (a trap run inside $(...) can also abort bash 5.2 with
  # "reader_loop: bad jump"). SLURM's KILL after KillWait still ends a shell that hangs.
  trap '' USR1 USR2 TERM INT
}

sr_cleanup() {
  if [ -n "$SR_COMMENT_PID" ]; then
    kill "$SR_COMMENT_PID" 2> /dev/null
    wait "$SR_COMMENT_PID" 2> /dev/null
    SR_COMMENT_PID=
  fi
}

# The pending links of this job's chain are no longer needed.
sr_cancel_chain() {
  [ -n "${STORMRUN_CHAIN:-}" ] || return 0
  if [ "${STORMRUN_DRY_ACTION:-0}" = 1 ]; then
    sr_say "action (dry): cancel the pending links of chain $STORMRUN_CHAIN"
    return 0
  fi
  if scancel --state=PENDING --name="$STORMRUN_CHAIN" --user="$(id -un)" 2> /dev/null; then
    sr_say "cancelled the pending links of chain $STORMRUN_CHAIN"
  else
    sr_say "note: could not cancel the pending links of chain $STORMRUN_CHAIN (scancel --name)"
  fi
}

sr_requeue() {
  local id
  id=$(sr_job_id)
  if [ -n "${STORMRUN_CHAIN:-}" ]; then
    local link=${STORMRUN_CHAIN_LINK:-?/?} state
    state=$(scontrol show job -o "$id" 2> /dev/null | head -n 1 | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
    if [ "$state" = CANCELLED ]; then
      sr_say "action: stop: job $id was cancelled (scancel); the chain ends here"
      sr_cancel_chain
      return 1
    fi
    if [ "${link%/*}" = "${link#*/}" ]; then
      sr_say "action: continue, but this was the last link ($link) of chain $STORMRUN_CHAIN;" \
             "run jobs/stormrun-chain.sh again to continue"
    else
      sr_say "action: continue in the next link of chain $STORMRUN_CHAIN (this is link $link)"
    fi
    return 0
  fi
  if [ "${STORMRUN_DRY_ACTION:-0}" = 1 ]; then
    sr_say "action (dry): scontrol requeue $id"
    return 0
  fi
  if [ -z "$id" ]; then
    sr_say "action: requeue, but this is not a SLURM job; run the same command again to continue"
    return 1
  fi
  # After a TERM the job may be ending for good or already requeued: SLURM requeues a job
  # preempted without a grace time itself, and `scontrol requeue` would also undo a scancel.
  local state out
  state=$(scontrol show job -o "$id" 2> /dev/null | head -n 1 | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
  case $state in
    PENDING | REQUEUED | REQUEUE_HOLD | REQUEUE_FED)
      sr_say "action: requeue: SLURM has requeued job $id already (state $state)"
      return 0
      ;;
    CANCELLED)
      sr_say "action: stop: job $id was cancelled (scancel); not requeueing it." \
             "Submit the same script again to continue"
      return 1
      ;;
  esac
  if out=$(scontrol requeue "$id" 2>&1); then
    sr_say "action: requeued job $id (restart $((${SLURM_RESTART_COUNT:-0} + 1)) follows)"
  elif [[ $out == *"pending execution"* ]]; then
    sr_say "action: requeue: SLURM has requeued job $id already (state ${state:-?})"
  else
    sr_say "action: requeue, but 'scontrol requeue $id' failed: $out; submit the same script again to continue"
    return 1
  fi
}

# A multi-node job (SR_ELASTIC=1) that lost a node: SLURM 22.05 gives a requeued job the node,
# task and CPU counts of its last allocation (a --nodes=MIN-MAX range is gone), so it would
# stay pending until the lost node is back. So: probe every node of this allocation (`srun
# true`, at most STORMRUN_PROBE_TIMEOUT s, default 5); when some do not answer, shrink the
# RUNNING job to the nodes that do (`scontrol update NodeList=`, which also works while a node
# is unreachable), then requeue it: it keeps that size. (The multi-node script asks for no
# task count, which SLURM would keep too.) Never below STORMRUN_MIN_NODES (default 1). Sets
# SR_ALIVE_NODES, SR_DEAD_NODES.
sr_probe_nodes() {
  SR_ALIVE_NODES=()
  SR_DEAD_NODES=()
  local nodes n pids=() i=0
  nodes=$(scontrol show hostnames "${SLURM_JOB_NODELIST:-}" 2> /dev/null) || return 0
  for n in $nodes; do
    timeout "${STORMRUN_PROBE_TIMEOUT:-5}" srun --overlap --nodes=1 --ntasks=1 --nodelist="$n" \
      --kill-on-bad-exit=0 true > /dev/null 2>&1 &
    pids+=($!)
  done
  for n in $nodes; do
    if wait "${pids[$i]}"; then SR_ALIVE_NODES+=("$n"); else SR_DEAD_NODES+=("$n"); fi
    i=$((i + 1))
  done
  if [ ${#SR_DEAD_NODES[@]} -gt 0 ]; then
    sr_say "node probe: ${SR_DEAD_NODES[*]} did not answer; ${SR_ALIVE_NODES[*]:-none} did"
  fi
}

# Before the requeue: the running job gives up the lost nodes. Returns 1 when it cannot.
sr_shrink_running() {
  local id=$1 n=${#SR_ALIVE_NODES[@]} min=${STORMRUN_MIN_NODES:-1} alive
  [ ${#SR_DEAD_NODES[@]} -gt 0 ] || return 1
  if [ "$n" -lt "$min" ]; then
    sr_say "note: only $n node(s) answer, fewer than STORMRUN_MIN_NODES=$min: the requeued job waits for nodes"
    return 1
  fi
  alive=$(IFS=,; echo "${SR_ALIVE_NODES[*]}")
  if scontrol update JobId="$id" NodeList="$alive" > /dev/null 2>&1; then
    return 0
  fi
  sr_say "note: could not shrink job $id to $alive (scontrol update NodeList=); the requeued job waits for ${SLURM_JOB_NUM_NODES:-its} node(s)"
  return 1
}

# sr_main CONFIG [RUN_OPTION...]: the whole job.
sr_main() {
  # %a in the config path and the options: the array task id (each task its own run).
  local task=${SLURM_ARRAY_TASK_ID:-0} a args=()
  for a in "$@"; do args+=("${a//%a/$task}"); done
  set -- "${args[@]}"
  local config=${1:-${SLURM_SUBMIT_DIR:-.}/jobs/example.ini}
  shift $(($# > 0 ? 1 : 0))
  local stormrun
  if ! stormrun=$(sr_find_stormrun); then
    sr_say "no stormrun binary (set STORMRUN, put it on PATH, or build it in build/)" >&2
    exit 2
  fi
  if [ ! -r "$config" ]; then
    sr_say "cannot read the config file $config" >&2
    exit 2
  fi
  local max=${STORMRUN_MAX_RESTARTS:-10}
  case $max in '' | *[!0-9]*)
    sr_say "STORMRUN_MAX_RESTARTS must be a whole number, not '$max'" >&2
    exit 2 ;;
  esac
  sr_banner start
  sr_say "stormrun $stormrun, config $config${*:+, options $*}"

  local interval=${STORMRUN_COMMENT_INTERVAL:-60} store
  store=$(sr_store "$config" "$@")
  if [ -n "${SLURM_JOB_ID:-}" ] && [ "$interval" != 0 ] && [ -n "$store" ]; then
    sr_comment_loop "$stormrun" "$store" "$interval" &
    SR_COMMENT_PID=$!
  fi
  trap sr_cleanup EXIT

  # srun of Slurm 22.05 and later does not take the job's --cpus-per-task: hand it on, so
  # that a rank given two CPUs has them (on the CPU path the asynchronous commit's threads
  # run beside the model step; docs/performance.md, "Where the commit threads run").
  if [ -n "${SLURM_CPUS_PER_TASK:-}" ] && [ -z "${SRUN_CPUS_PER_TASK:-}" ]; then
    export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
  fi
  # Debian's Open MPI speaks PMIx to srun. --kill-on-bad-exit=0: every rank agrees on the
  # outcome and exits with it; a site default of -K would kill the others when the first
  # rank exits 75 while they still finalise.
  # shellcheck disable=SC2086
  sr_run_step srun --mpi=pmix --kill-on-bad-exit=0 ${STORMRUN_SRUN_OPTIONS:-} \
    "$stormrun" run --config "$config" "$@"
  local rc=$SR_RC action
  sr_cleanup
  action=$(sr_action "$rc")
  sr_say "step ended $(sr_now) with exit $rc: $(sr_meaning "$rc")${SR_SIGNALS_SEEN:+ (signals to the batch shell:$SR_SIGNALS_SEEN)}"
  local restarts=${SLURM_RESTART_COUNT:-0}
  if [ "$action" = requeue ] && [ -z "${STORMRUN_CHAIN:-}" ] && [ "$restarts" -ge "$max" ]; then
    sr_say "restart cap reached ($restarts restarts, STORMRUN_MAX_RESTARTS=$max): not requeueing;" \
           "submit the same script again to continue"
    action=stop
  fi
  case $action in
    done)
      sr_say "action: done"
      sr_cancel_chain
      ;;
    requeue)
      if [ "${SR_ELASTIC:-0}" = 1 ] && [ -z "${STORMRUN_CHAIN:-}" ] &&
         { [ "$rc" = 76 ] || [ "$rc" -ge 128 ]; } && [ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ]; then
        sr_probe_nodes
        if sr_shrink_running "$(sr_job_id)"; then
          sr_say "job $(sr_job_id) now holds ${SR_ALIVE_NODES[*]} only; requeued it starts on ${#SR_ALIVE_NODES[@]} node(s)"
        fi
        sr_requeue
      else
        sr_requeue
      fi
      ;;
    stop)
      sr_say "action: stop (exit $rc)"
      sr_cancel_chain
      ;;
  esac
  sr_banner "end (exit $rc, $action)"
  exit "$rc"
}
