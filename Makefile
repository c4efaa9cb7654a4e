# yunup: build and test entry points.
#
#   make test         install what is missing, then every check: Rust (native + wasm in Node and
#                     headless Chromium), the release npm build from Node, the npm tarball in Node,
#                     Vite + Chromium and workerd, the demo page in Chromium, the conformance tests
#   make demo         install what is missing, build the package, CLI and emulator, show the CLI on a
#                     sample file, then run the emulator and its demo host (prints the demo URL)
#   make pkg          release wasm builds: pkg/ (--target web), pkg-node/ (--target nodejs) and
#                     pkg-browser/ (--target web without the `server` feature), wasm-opt'd, and the npm
#                     package target/npm/yunup/ (pkg/ + pkg-browser/ as browser/ + pkg-template/)
#   make size         gzipped size of the .wasm and the JS glue of the npm package, per entry
#   make bench        yunup against its peers, every row of issue 7 side by side (~10-15 min, not in
#                     `make test`): one table, target/bench/results.json and results.md
#   make bench-quick  hashing throughput of the release build against hash-wasm, in Node (and sizes)
#   make clean        remove build outputs (keeps node_modules and installed tools)
#
# Single stages of `make test` can be run on their own: test-fmt test-clippy test-rust
# test-wasm-node test-wasm-chrome test-node test-npm test-e2e test-conformance.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO_TARGET_DIR ?= $(CURDIR)/target
YUNUP_BIN ?= $(CARGO_TARGET_DIR)/debug/yunup

# wasm-opt from the npm package `binaryen` (Debian's wasm-opt is too old and breaks wasm-bindgen's
# externref table). wasm-pack's own wasm-opt step is off in Cargo.toml; we run it here.
WASM_OPT := $(CURDIR)/node_modules/.bin/wasm-opt
WASM_OPT_LEVEL ?= -Os
WASM_OPT_FEATURES := --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int \
	--enable-sign-ext --enable-multivalue --enable-mutable-globals --enable-simd

DEMO_DIR := $(CARGO_TARGET_DIR)/demo
DEMO_FILE := $(DEMO_DIR)/hello.bin
DEMO_BIN := $(CARGO_TARGET_DIR)/release/yunup
DEMO_ADDR ?= 127.0.0.1:8080
DEMO_WCS ?= 127.0.0.1:9101
DEMO_UFILE ?= 127.0.0.1:9102
DEMO_WANTU ?= 127.0.0.1:9103

# Every stage of `make test` runs under a time limit (scripts/bounded.sh): one that hangs fails by
# name instead of using up CI's 90 minutes. Single node tests get 10 minutes each, so the runner
# names the test that waits and goes on with the others.
STAGE_MINUTES ?= 30
BOUNDED := scripts/bounded.sh $(STAGE_MINUTES)
NODE_TEST := node --test --test-reporter=spec --test-timeout=600000

stage = @printf '\n\033[1m==> [make %s] %s\033[0m\n' '$@' '$(1)'


.PHONY: emulator-bin
.PHONY: help setup test test-fmt test-clippy test-rust test-wasm-node test-wasm-chrome test-node \
	test-npm test-e2e test-conformance pkg pkg-build pkg-opt size demo bench bench-quick clean

help:
	@sed -n '3,18p' Makefile | sed 's/^# \{0,1\}//'

setup:
	$(call stage,install missing tools (scripts/setup.sh))
	@$(BOUNDED) bash scripts/setup.sh

# Each stage depends on setup only through `test`, so that single stages stay quick to re-run.
test: setup
	@$(MAKE) --no-print-directory test-fmt test-clippy test-rust test-wasm-node test-wasm-chrome pkg \
		test-node test-npm test-e2e test-conformance
	@printf '\n\033[1m==> make test: all stages passed\033[0m\n'

test-fmt:
	$(call stage,cargo fmt --all --check)
	cargo fmt --all --check

test-clippy:
	$(call stage,cargo clippy --workspace --all-targets -- -D warnings)
	cargo clippy --workspace --all-targets -- -D warnings

test-rust:
	$(call stage,cargo test --workspace (native))
	$(BOUNDED) cargo test --workspace

# The wasm tests include end-to-end uploads (tests/js_upload.rs): they run next to an emulator
# started by scripts/with-emulator.sh, whose URLs they read at compile time.
EMULATOR_BIN := $(CARGO_TARGET_DIR)/debug/yunup-emulator
WITH_EMULATOR := YUNUP_EMULATOR_BIN="$(EMULATOR_BIN)" $(BOUNDED) scripts/with-emulator.sh
# Browser tests time out after 20 s by default; a 100 MiB upload in a debug build takes longer.
export WASM_BINDGEN_TEST_TIMEOUT ?= 900

emulator-bin:
	cargo build -p yunup-emulator

test-wasm-node: emulator-bin
	$(call stage,wasm-pack test --node (wasm32 in Node, uploads against the emulator))
	$(WITH_EMULATOR) scripts/wasm-test.sh --node

# Chromium flags (headless, --no-sandbox for root, ...) come from webdriver.json in the crate root,
# which wasm-bindgen-test-runner reads. The driver is Debian's chromedriver, never a download.
# WASM_BINDGEN_USE_BROWSER=1 runs the test binaries that carry no `wasm_bindgen_test_configure!`
# in the browser too; without it the runner treats them as Node-only and skips them here, so this
# stage would pass having run nothing.
test-wasm-chrome: emulator-bin
	$(call stage,wasm-pack test --headless --chrome (wasm32 in Chromium))
	WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER="$$(command -v chromedriver)" \
		$(WITH_EMULATOR) scripts/wasm-test.sh --headless --chrome --chromedriver "$$(command -v chromedriver)"

test-node:
	$(call stage,node --test tests/node/ (release package in pkg-node/))
	$(BOUNDED) $(NODE_TEST) tests/node/

# The npm package as users consume it (needs `make pkg`): npm pack, install the tarball into
# target/npm/consumer, tsc --strict on typed usage, upload from plain Node, a Vite-bundled page in
# Chromium, a worker in workerd. Next to a fresh emulator.
test-npm: emulator-bin
	$(call stage,node --test tests/npm/ (the packed tarball: tsc / Node / Vite + Chromium / workerd))
	$(WITH_EMULATOR) $(NODE_TEST) tests/npm/

# The www-demo page driven by Playwright (playwright-core, Debian's Chromium) on the emulator's demo
# host; screenshots in test-output/.
test-e2e: emulator-bin
	$(call stage,node --test tests/e2e/ (www-demo in Chromium, screenshots in test-output/))
	$(WITH_EMULATOR) $(NODE_TEST) tests/e2e/

test-conformance:
	$(call stage,cargo build --workspace (CLI for the conformance tests))
	cargo build --workspace
	$(call stage,python3 -m pytest -q tests/conformance (YUNUP_BIN=$(YUNUP_BIN)))
	YUNUP_BIN="$(YUNUP_BIN)" $(BOUNDED) python3 -m pytest -q tests/conformance

# --- the npm package -------------------------------------------------------------------------------

pkg: pkg-build pkg-opt
	$(call stage,check that the optimised modules load)
	node scripts/check-pkg.mjs
	$(call stage,assemble the npm package: target/npm/yunup/ (pkg/ + pkg-browser/ + pkg-template/))
	node scripts/assemble-pkg.mjs

size: pkg
	$(call stage,sizes of the npm package per entry (the browser entry: what a page downloads))
	node scripts/size.mjs

pkg-build:
	$(call stage,wasm-pack build --profile wasm-release --target nodejs --out-dir pkg-node)
	wasm-pack build --profile wasm-release --target nodejs --out-dir pkg-node --out-name yunup
	$(call stage,wasm-pack build --profile wasm-release --target web --out-dir pkg)
	wasm-pack build --profile wasm-release --target web --out-dir pkg --out-name yunup
	$(call stage,wasm-pack build --profile wasm-release --target web --out-dir pkg-browser -- --no-default-features)
	wasm-pack build --profile wasm-release --target web --out-dir pkg-browser --out-name yunup -- --no-default-features

pkg-opt:
	$(call stage,wasm-opt $(WASM_OPT_LEVEL) (npm binaryen $(shell $(WASM_OPT) --version 2>/dev/null | awk '{print $$3}')))
	@test -x "$(WASM_OPT)" || { echo "$(WASM_OPT) missing: run scripts/setup.sh"; exit 1; }
	for f in pkg/yunup_bg.wasm pkg-node/yunup_bg.wasm pkg-browser/yunup_bg.wasm; do \
		before=$$(stat -c %s "$$f"); \
		"$(WASM_OPT)" $(WASM_OPT_LEVEL) $(WASM_OPT_FEATURES) "$$f" -o "$$f.opt"; \
		mv "$$f.opt" "$$f"; \
		echo "$$f: $$before -> $$(stat -c %s "$$f") bytes"; \
	done

# --- demo and benchmarks ---------------------------------------------------------------------------

demo: setup pkg
	$(call stage,cargo build --release -p yunup-cli)
	cargo build --release -p yunup-cli
	$(call stage,a 9 MiB sample file: $(DEMO_FILE))
	mkdir -p "$(DEMO_DIR)"
	(yes 'yunup demo' || true) | head -c 9437184 >"$(DEMO_FILE)"
	ls -l "$(DEMO_FILE)"
	@export YUNUP_ACCESS_KEY=demo-ak YUNUP_SECRET_KEY=demo-sk; \
	run() { printf '\n# %s\n$$ %s\n' "$$1" "$${*:2}"; "$${@:2}"; }; \
	echo; echo "Sample credentials: YUNUP_ACCESS_KEY=demo-ak YUNUP_SECRET_KEY=demo-sk"; \
	run "WCS etag (the 'hash' WCS reports): 3 blocks of 4 MiB, SHA-1 of the block SHA-1s" \
		"$(DEMO_BIN)" etag --kind wcs "$(DEMO_FILE)"; \
	run "UFile ETag of the same file: block count + the same digest" \
		"$(DEMO_BIN)" etag --kind ufile "$(DEMO_FILE)"; \
	run "WCS upload token for demo-bucket:hello.bin, valid for one hour (what a backend hands a browser)" \
		"$(DEMO_BIN)" token wcs --scope demo-bucket:hello.bin --expires-in 3600; \
	run "UFile Authorization header for a PUT of hello.bin into demo-bucket" \
		"$(DEMO_BIN)" sign ufile --method PUT --bucket demo-bucket --key hello.bin \
			--content-type application/octet-stream; \
	run "The same etags and a token from the release wasm build (pkg-node/), in Node" \
		node scripts/demo-wasm.mjs "$(DEMO_FILE)"
	$(call stage,cargo build --release -p yunup-emulator)
	cargo build --release -p yunup-emulator
	$(call stage,yunup-emulator: WCS $(DEMO_WCS) / UFile $(DEMO_UFILE) / Wantu $(DEMO_WANTU) + token backend and page on $(DEMO_ADDR))
	@printf '\nCredential demo-ak:demo-sk; buckets demo-bucket (public) and demo-private (private) in every service.\n'
	@printf 'Token backend: http://$(DEMO_ADDR)/api/token/wcs?bucket=demo-bucket&key=hello.bin (also /api/token/wantu, /api/token/ufile)\n'
	@printf '\n\033[1m==> Demo: http://$(DEMO_ADDR)/\033[0m  (Ctrl-C stops; data kept in $(DEMO_DIR)/emulator-data)\n\n'
	"$(CARGO_TARGET_DIR)/release/yunup-emulator" --data "$(DEMO_DIR)/emulator-data" \
		--credential demo-ak:demo-sk --bucket demo-bucket --bucket demo-private:private \
		--wcs $(DEMO_WCS) --ufile $(DEMO_UFILE) --wantu $(DEMO_WANTU) --demo $(DEMO_ADDR) \
		--www "$(CURDIR)/www-demo" --pkg "$(CURDIR)/pkg"

# The benchmark (benches/bench.mjs): hashing in Node and Chromium, a File from disk, uploads in
# Chromium and Node, the native CLI and token minting against the vendors' Python SDKs, bundle size
# and memory, each as a ratio against its peer measured in the same run. Peers come from setup.sh
# (npm: hash-wasm, spark-md5, wcs-js-sdk, playwright-core; PyPI: wcs-python3-sdk, ufile).
bench: setup pkg
	$(call stage,cargo build --release -p yunup-cli -p yunup-emulator; the token-rate binary)
	cargo build --release -p yunup-cli -p yunup-emulator
	cargo test --release --bench token_rate --no-run
	$(call stage,node benches/bench.mjs (results in target/bench/))
	node benches/bench.mjs

bench-quick: setup pkg
	$(call stage,node tests/node/throughput.mjs (yunup release build vs hash-wasm))
	node tests/node/throughput.mjs
	$(call stage,sizes of the npm package per entry (the browser entry: what a page downloads))
	node scripts/size.mjs

clean:
	cargo clean
	rm -rf pkg pkg-node pkg-browser test-output
