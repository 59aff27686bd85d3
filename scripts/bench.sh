#!/usr/bin/env bash
# `make bench`: claude-wif against Envoy's native ways of attaching a
# credential, plus cold burst, refresh under load, issuer-svc and footprint.
# Release builds, loopback only, every process started and stopped by
# bench/run.py, about 5 minutes on 2 cores. Results: bench/results/.
# Extra arguments go to bench/run.py (e.g. --rounds 7, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
if ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
fi
exec "$VENV/bin/python" bench/run.py "$@"
