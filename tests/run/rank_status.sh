#!/bin/sh
# Runs one MPI rank's command and records how it ended, for tests that run mpirun with
# `--mca orte_abort_on_non_zero_status 0` (so that mpirun, like srun, does not kill the other
# ranks when one fails — and then returns 0 whatever the ranks returned). Writes
# "$STORMRUN_STATUS_DIR/rank.<rank>" holding the exit status ($? of the shell: 128+N when
# the command was killed by signal N) and the seconds since the epoch when it ended.
# The wrapper itself outlives the stop signals that mpirun forwards to every process of a
# rank (SIGUSR1, SIGUSR2; SIGTERM when it ends the job; a test's SIGINT): it traps them
# (a no-op), so that the command, which receives them too, decides how the rank ends.
trap : TERM INT USR1 USR2
"$@"
rc=$?
echo "$rc $(date +%s.%N)" > "$STORMRUN_STATUS_DIR/rank.${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-x}}"
exit $rc
