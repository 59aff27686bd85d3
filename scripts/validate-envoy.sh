#!/usr/bin/env bash
# Checks every Envoy config in envoy/ with `envoy --mode validate`, which also
# loads the built claude-wif .wasm and runs its on_configure.
set -euo pipefail
cd "$(dirname "$0")/.."

envoy=.venv/bin/envoy
wasm=target/wasm32-wasip1/release/claude_wif_filter.wasm
[[ -x $envoy ]] || { echo "validate-envoy: $envoy is missing; run 'make setup'" >&2; exit 1; }
[[ -f $wasm ]] || { echo "validate-envoy: $wasm is missing; run 'make build'" >&2; exit 1; }

status=0
for config in envoy/*.yaml; do
  if out=$("$envoy" --mode validate --disable-hot-restart -l error -c "$config" 2>&1); then
    echo "validate-envoy: ok   $config"
  else
    echo "validate-envoy: FAIL $config" >&2
    echo "$out" | tail -n 20 >&2
    status=1
  fi
done
exit $status
