#!/usr/bin/env bash
# Run one stage of `make test` with a time limit:
#
#   scripts/bounded.sh MINUTES COMMAND [ARGS...]
#
# Why: a stage that hangs (a browser or a server that never answers, a test runner waiting on a
# promise that never settles) would otherwise use up CI's 90 minutes and end without saying where
# it stopped. `timeout` runs the command in a process group of its own and signals the whole group,
# so the emulator and browsers a stage started go with it.
set -uo pipefail
minutes=$1
shift
start=$SECONDS
timeout --kill-after=30 "${minutes}m" "$@"
status=$?
# 124: stopped by TERM; 137: it ignored TERM and was killed (137 is also any other SIGKILL, hence
# the clock).
if [[ $status -eq 124 || ($status -eq 137 && $((SECONDS - start)) -ge $((${minutes%.*} * 60))) ]]; then
  echo "bounded: '$*' did not finish within $minutes minutes and was stopped." >&2
  echo "bounded: run this stage alone to see where it waits (make help lists them); on a slow machine raise STAGE_MINUTES." >&2
fi
exit "$status"
