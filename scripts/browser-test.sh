#!/usr/bin/env bash
# `make browser-test`: the admin page in headless Chromium. Runs
# tests/browser/admin.test.mjs, which starts the release issuer-svc and
# fake-claude on free loopback ports, drives Debian's chromium with
# playwright-core, and saves screenshots under target/ui-screenshots/.
# Needs `make build` (the binaries) and `make setup` (chromium, npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=0
for artifact in target/release/issuer-svc target/release/fake-claude; do
  [[ -x $artifact ]] || { echo "browser-test: $artifact is missing; run 'make build'" >&2; missing=1; }
done
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || {
  echo "browser-test: ${CHROMIUM:-/usr/bin/chromium} is missing; run 'make setup' (apt-get install chromium)" >&2
  missing=1
}
[[ -d tests/browser/node_modules/playwright-core ]] || {
  echo "browser-test: tests/browser/node_modules is missing; run 'make setup' (npm ci in tests/browser)" >&2
  missing=1
}
((missing == 0)) || exit 1

rm -f target/ui-screenshots/*.png
mkdir -p target
log=target/browser-test.log
status=0
node tests/browser/admin.test.mjs 2>&1 | tee "$log" || status=$?
passed=$(grep -c '^ok - ' "$log" || true)
if ((status != 0)); then
  echo "browser-test: $passed passed, 1 failed"
  exit "$status"
fi
for shot in admin-page.png admin-page-initial.png verify-success.png verify-failure.png; do
  [[ -s target/ui-screenshots/$shot ]] || {
    echo "browser-test: target/ui-screenshots/$shot was not written" >&2
    exit 1
  }
done
echo "browser-test: $passed passed, 0 failed"
