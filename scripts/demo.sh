#!/usr/bin/env bash
# `make demo`: runs fake-claude (as Claude), issuer-svc and Envoy with the
# claude-wif filter on loopback, sends one Messages request through Envoy with
# no API key, prints the answer and fake-claude's counters, then keeps the stack
# running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY=.venv/bin/envoy
WASM=target/wasm/claude_wif_filter.wasm
ISSUER=target/release/issuer-svc
FAKE=target/release/fake-claude
STATE=.demo
for artifact in "$WASM" "$ISSUER" "$FAKE"; do
  [[ -f $artifact ]] || { echo "demo: $artifact is missing; run 'make build'" >&2; exit 1; }
done
[[ -x $ENVOY ]] || { echo "demo: $ENVOY is missing; run 'make setup'" >&2; exit 1; }

for port in 8088 8081 9090 10000 9901; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port on 127.0.0.1 is already in use (another demo running?)" >&2
    exit 1
  fi
done

mkdir -p "$STATE"
pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

wait_for() { # name url
  local name=$1 url=$2
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "demo: $name did not become ready at $url; its log is $STATE/$name.log:" >&2
  tail -n 20 "$STATE/$name.log" >&2
  exit 1
}

echo "demo: starting fake-claude (Claude simulator) on 127.0.0.1:8088"
"$FAKE" --config tests/fake-claude/demo.toml >"$STATE/fake-claude.log" 2>&1 &
pids+=($!)
wait_for fake-claude http://127.0.0.1:8088/_test/counters

echo "demo: starting issuer-svc (issuer http://127.0.0.1:8081/providers/claude-demo, token API 127.0.0.1:9090)"
"$ISSUER" serve --config issuer-svc/examples/demo.toml >"$STATE/issuer-svc.log" 2>&1 &
pids+=($!)
wait_for issuer-svc http://127.0.0.1:9090/readyz

echo "demo: starting Envoy with the claude-wif filter on 127.0.0.1:10000"
"$ENVOY" -c envoy/demo.yaml --disable-hot-restart -l warning --component-log-level wasm:info \
  >"$STATE/envoy.log" 2>&1 &
pids+=($!)
wait_for envoy http://127.0.0.1:9901/ready

request='{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello through claude-wif"}]}'
echo
echo "demo: POST http://127.0.0.1:10000/v1/messages (no API key; the app's code is unchanged)"
curl -sS -w '\nHTTP %{http_code}\n' http://127.0.0.1:10000/v1/messages \
  -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
  -d "$request"
echo
echo "demo: fake-claude counters (exchanges = token exchanges at Claude's /v1/oauth/token):"
curl -sS http://127.0.0.1:8088/_test/counters
echo
echo
echo "demo: the stack is running. Try:"
echo "  curl -sS http://127.0.0.1:10000/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '$request'"
echo "demo: issuer discovery: http://127.0.0.1:8081/providers/claude-demo/.well-known/openid-configuration"
echo "demo: issuer-svc metrics: http://127.0.0.1:9090/metrics    logs: $STATE/*.log"
echo "demo: admin page (providers, Verify, live token status): http://127.0.0.1:9090/admin"
echo "demo: press Ctrl-C to stop."
wait -n "${pids[@]}" || true
echo "demo: a component exited; see $STATE/*.log" >&2
