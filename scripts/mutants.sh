#!/usr/bin/env bash
# make mutants: cargo-mutants over the security-critical code listed in
# .cargo/mutants.toml, bounded in time, then every surviving ("missed")
# mutant checked against tests/mutants-accepted.txt, where each accepted one
# has a reason. Not part of `make test` (hours on 2 cores for the full list).
#
#   MUTANTS_MINUTES  overall bound (default 120); what was not reached is said
#   MUTANTS_FILES    space-separated globs to narrow the run (default: all of
#                    examine_globs), e.g. "issuer-svc/src/policy.rs src/identity.rs"
#   MUTANTS_JOBS     parallel mutants (default 1: each build already uses both cores)
#   MUTANTS_ARGS     more cargo-mutants arguments, e.g. "--cargo-test-arg=--lib"
#                    (unit tests only: a first, faster pass; rerun what it
#                    misses without it, e.g. with -F, before accepting any)
set -uo pipefail
cd "$(dirname "$0")/.."

VERSION=27.0.0
ACCEPTED=tests/mutants-accepted.txt
OUT=target/mutants
if ! cargo mutants --version 2>/dev/null | grep -q "$VERSION"; then
  cargo install --locked "cargo-mutants@$VERSION"
fi

mkdir -p "$OUT"
# --file adds to the config's examine_globs: to narrow, run with a copy of the
# config without them.
files=()
if [ -n "${MUTANTS_FILES:-}" ]; then
  awk '/^examine_globs *= *\[/{skip=1} !skip{print} skip&&/^\]/{skip=0}' .cargo/mutants.toml > "$OUT/narrowed.toml"
  files+=(--config "$OUT/narrowed.toml")
  for glob in $MUTANTS_FILES; do files+=(--file "$glob"); done
fi
timeout --signal=INT "${MUTANTS_MINUTES:-120}m" \
  cargo mutants --workspace --no-shuffle -j "${MUTANTS_JOBS:-1}" --output "$OUT" "${files[@]}" ${MUTANTS_ARGS:-}
status=$?
case "$status" in
  0|2|3|124|130) ;;
  *) echo "mutants: cargo mutants failed (exit $status; 4 is a failing baseline: the tests fail unmutated)"; exit 1 ;;
esac
missed="$OUT/mutants.out/missed.txt"
caught=$(wc -l < "$OUT/mutants.out/caught.txt" 2>/dev/null || echo 0)
timeouts=$(wc -l < "$OUT/mutants.out/timeout.txt" 2>/dev/null || echo 0)
unviable=$(wc -l < "$OUT/mutants.out/unviable.txt" 2>/dev/null || echo 0)
echo "mutants: caught $caught, missed $(wc -l < "$missed" 2>/dev/null || echo 0), timeout $timeouts, unviable $unviable"
[ "$status" = 124 ] || [ "$status" = 130 ] && echo "mutants: stopped at the ${MUTANTS_MINUTES:-120}-minute bound; run again with MUTANTS_FILES to finish the rest"

# A missed mutant is accepted when its text, less the line:column, is listed.
unexplained=0
while IFS= read -r line; do
  key=$(sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /' <<<"$line")
  if ! grep -qxF "$key" <(grep -v '^#' "$ACCEPTED" | sed -E 's/ +# .*$//'); then
    echo "mutants: survivor without a reason: $line"
    unexplained=$((unexplained + 1))
  fi
done < <(cat "$missed" 2>/dev/null)
if [ "$unexplained" -gt 0 ]; then
  echo "mutants: $unexplained survivor(s) need a test or a line with a reason in $ACCEPTED"
  exit 1
fi
echo "mutants: every survivor has a reason in $ACCEPTED"
