#!/usr/bin/env bash
# `make soak`: bounded soak run of the whole stack (see scripts/soak.py).
# SOAK_MINUTES (default 5), SOAK_RATE, SOAK_WORKLOADS, SOAK_TOKEN_LIFETIME_S, SOAK_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/soak.py "$@"
