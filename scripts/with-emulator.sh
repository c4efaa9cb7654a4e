#!/usr/bin/env bash
# Run a command next to a fresh yunup-emulator on fixed loopback ports, then stop it.
#
#   scripts/with-emulator.sh COMMAND [ARGS...]
#
# Exports YUNUP_TEST_WCS, YUNUP_TEST_UFILE, YUNUP_TEST_WANTU, YUNUP_TEST_DEMO (base URLs) and
# YUNUP_TEST_AK / YUNUP_TEST_SK (the emulator's credential). Buckets: public, secret (private).
# The wasm tests read these at compile time (option_env!), the Node tests at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${YUNUP_EMULATOR_BIN:-target/debug/yunup-emulator}
[[ -x $bin ]] || { echo "with-emulator: $bin not built (cargo build -p yunup-emulator)" >&2; exit 1; }
base=${YUNUP_TEST_PORT_BASE:-19100}
data=$(mktemp -d)
log="$data/emulator.log"
pid=
cleanup() { [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$data"; }
trap cleanup EXIT
# Fixed ports keep the wasm tests' compiled-in URLs stable; if another emulator holds them (a
# second checkout testing on the same machine), move to other ones.
for attempt in 1 2 3 4 5; do
  "$bin" --data "$data/store" --credential test-ak:test-sk --bucket public --bucket secret:private \
    --wcs "127.0.0.1:$((base + 1))" --ufile "127.0.0.1:$((base + 2))" --wantu "127.0.0.1:$((base + 3))" \
    --demo "127.0.0.1:$((base + 4))" --www www-demo --pkg pkg >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    [[ $(grep -c ' ready on ' "$log" 2>/dev/null) -ge 4 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ $(grep -c ' ready on ' "$log" 2>/dev/null) -ge 4 ]] && break
  wait "$pid" 2>/dev/null || true
  pid=
  grep -q 'Address already in use' "$log" || { cat "$log" >&2; echo "with-emulator: the emulator did not start" >&2; exit 1; }
  echo "with-emulator: ports $((base + 1))-$((base + 4)) are taken; trying others" >&2
  base=$((20000 + (RANDOM % 3000) * 10))
done
[[ -n $pid ]] || { echo "with-emulator: no free ports found" >&2; exit 1; }
export YUNUP_TEST_WCS="http://127.0.0.1:$((base + 1))" YUNUP_TEST_UFILE="http://127.0.0.1:$((base + 2))"
export YUNUP_TEST_WANTU="http://127.0.0.1:$((base + 3))" YUNUP_TEST_DEMO="http://127.0.0.1:$((base + 4))"
export YUNUP_TEST_AK=test-ak YUNUP_TEST_SK=test-sk
# Chromium spills big test Blobs to scoped dirs under TMPDIR and leaves them when it is killed
# rather than quit; they go with $data here instead of piling up in /tmp over many runs.
mkdir -p "$data/tmp"
TMPDIR="$data/tmp" "$@"
