#!/usr/bin/env bash
# Install what `make test` and `make demo` need, and nothing that is already there.
#
# Idempotent: every step checks first and prints one line. A second run does no work.
# Network use: crates.io (cargo install), Debian (apt), PyPI (pip), the npm registry (npm ci).
# Nothing is downloaded from anywhere else (no browser or driver downloads).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup: %-22s %s\n' "$1" "$2"; }
need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Rust toolchain pieces ---------------------------------------------------------------------
if ! need rustup || ! need cargo; then
    say rust "MISSING: install Rust with rustup first (https://rustup.rs)"
    exit 1
fi

missing_components=()
cargo fmt --version >/dev/null 2>&1 || missing_components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing_components+=(clippy)
if [ ${#missing_components[@]} -eq 0 ]; then
    say "rustfmt, clippy" "present"
else
    say "rustfmt, clippy" "installing ${missing_components[*]}"
    rustup component add "${missing_components[@]}"
fi

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "wasm32 target" "present"
else
    say "wasm32 target" "installing"
    rustup target add wasm32-unknown-unknown
fi

if need wasm-pack; then
    say wasm-pack "present ($(wasm-pack --version | awk '{print $2}'))"
else
    say wasm-pack "installing with cargo (takes a few minutes)"
    cargo install wasm-pack --locked || cargo install wasm-pack
fi

# wasm-pack would otherwise try to download a prebuilt wasm-bindgen from GitHub and then fall back
# to `cargo install`. Install the exact version Cargo.lock pins ourselves: wasm-pack uses a
# `wasm-bindgen` on PATH when its version matches the lock file, and so does `wasm-pack test`
# (the test runner ships in the same crate).
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$bindgen_version" ]; then
    say wasm-bindgen-cli "skipped: wasm-bindgen not in Cargo.lock"
elif need wasm-bindgen && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$bindgen_version" ] \
    && need wasm-bindgen-test-runner; then
    say wasm-bindgen-cli "present ($bindgen_version)"
else
    say wasm-bindgen-cli "installing $bindgen_version with cargo (takes a few minutes)"
    # --locked first (reproducible); if the registry lacks a locked dependency, let cargo resolve.
    cargo install wasm-bindgen-cli --version "=$bindgen_version" --locked --force \
        || cargo install wasm-bindgen-cli --version "=$bindgen_version" --force
fi

# --- Chromium for headless wasm tests ----------------------------------------------------------
if need chromium && need chromedriver; then
    say chromium "present ($(chromium --version 2>/dev/null | awk '{print $2}'))"
else
    say chromium "installing chromium chromium-driver with apt"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# --- Python: the vendors' reference SDKs and pytest for the conformance tests -------------------
# PyPI name -> import name: wcs-python3-sdk -> wcs, ufile -> ufile, pytest -> pytest.
if python3 -c 'import wcs, ufile, pytest' >/dev/null 2>&1; then
    say "python packages" "present (wcs, ufile, pytest)"
else
    say "python packages" "installing wcs-python3-sdk ufile pytest with pip"
    python3 -m pip install --quiet --root-user-action=ignore wcs-python3-sdk ufile pytest
fi

# --- Node (tests, benchmarks, wasm-opt) ---------------------------------------------------------
if ! need node || ! need npm; then
    say node "MISSING: install Node.js 18 or newer"
    exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    say node "too old ($(node --version)): Node 18 or newer is needed"
    exit 1
fi
say node "present ($(node --version))"

# --- npm dev dependencies ------------------------------------------------------------------------
# hash-wasm, spark-md5, wcs-js-sdk (the peers of `make bench`), binaryen (wasm-opt), and for the
# package and demo tests:
# typescript (tsc --strict on typed usage), vite (bundles a page and a worker), workerd (the
# Cloudflare Workers runtime, a binary in @cloudflare/workerd-<platform>), playwright-core
# (drives the system Chromium; it never downloads a browser). workerd is pinned exactly: newer
# releases lack some platform packages on the registry, and `npm ci` then refuses the lock file.
# Re-run `npm ci` only when node_modules is missing or package.json / package-lock.json changed.
stamp=node_modules/.yunup-setup-stamp
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "npm packages" "present"
else
    if [ -f package-lock.json ]; then
        say "npm packages" "installing with npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    else
        say "npm packages" "installing with npm install"
        npm install --no-audit --no-fund --loglevel=error
        want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
    fi
    echo "$want" >"$stamp"
fi
missing_tools=()
for tool in tsc vite workerd wasm-opt; do
    [ -x "node_modules/.bin/$tool" ] || missing_tools+=("$tool")
done
[ -f node_modules/playwright-core/package.json ] || missing_tools+=(playwright-core)
if [ ${#missing_tools[@]} -gt 0 ]; then
    say "npm tools" "MISSING after npm install: ${missing_tools[*]}"
    exit 1
fi
if ! node_modules/.bin/workerd --version >/dev/null 2>&1; then
    say "npm tools" "workerd does not run on this platform ($(uname -sm))"
    exit 1
fi
say "npm tools" "present (tsc $(node_modules/.bin/tsc --version | awk '{print $2}'), vite $(node -p 'require("vite/package.json").version'), $(node_modules/.bin/workerd --version), playwright-core $(node -p 'require("playwright-core/package.json").version'))"

# The tests write a few GiB of emulator data and Chromium blob files under TMPDIR (all removed
# after); a nearly full disk otherwise shows up later as an emulator "No space left on device".
tmp=${TMPDIR:-/tmp}
free_kib=$(df -Pk "$tmp" | awk 'NR == 2 {print $4}')
if [ "${free_kib:-0}" -lt $((4 * 1024 * 1024)) ]; then
    say "disk" "WARNING: only $((free_kib / 1024)) MiB free in $tmp; make test needs about 4 GiB there"
else
    say "disk" "$((free_kib / 1024 / 1024)) GiB free in $tmp"
fi

say done "all tools present"
