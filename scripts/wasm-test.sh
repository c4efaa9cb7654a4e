#!/usr/bin/env bash
# Run `wasm-pack test ARGS...` and fail unless every test binary it ran reported
# "test result: ok".
#
#   scripts/wasm-test.sh --node
#   scripts/wasm-test.sh --headless --chrome --chromedriver /usr/bin/chromedriver
#
# Why the output is checked and the exit status is not enough: in wasm a panic is a trap. When an
# async test panics, the trap can leave wasm-bindgen-futures' task queue unable to run any other
# task. Then the remaining tests never run, no summary is printed, and Node exits with status 0
# because nothing is left to do. Measured here: a failing test in js_upload.rs printed "FAIL",
# and `wasm-pack test --node` returned 0. So every "Running <binary>" line must be followed by its
# own "test result: ok." line, and there must be no FAIL line.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
wasm-pack test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [[ $status -ne 0 ]]; then
  exit "$status"
fi
# Drop terminal colour codes before matching.
clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
binaries=$(grep -cE '^ *Running (unittests src/|tests/)' <<<"$clean" || true)
passed=$(grep -cE '^test result: ok\.' <<<"$clean" || true)
failed=$(grep -cE '^test .* \.\.\. FAIL' <<<"$clean" || true)
if [[ $failed -gt 0 || $passed -ne $binaries ]]; then
  echo "wasm-test: $binaries test binaries ran, $passed reported \"test result: ok\", $failed FAIL lines:" >&2
  grep -E '^test .* \.\.\. FAIL' <<<"$clean" >&2 || true
  echo "wasm-test: a panicking async test can stop the run without an error status; see $0" >&2
  exit 1
fi
echo "wasm-test: all $binaries test binaries reported \"test result: ok\""
