#!/usr/bin/env bash
# `make fuzz`: a bounded cargo-fuzz run of every target in fuzz/ (nightly).
#
#   FUZZ_SECONDS=60   run length per target (default 60)
#   FUZZ_TARGETS="filter_config jwt_identity"   a subset (default: all)
#   FUZZ_SANITIZER=none   cargo-fuzz sanitizer (default none: the code is
#                     safe Rust, the targets look for panics and broken
#                     invariants, and without ASan a run does ~5x more execs;
#                     use address for unsafe code in dependencies)
#   FUZZ_MERGE=1      merge new interesting inputs into fuzz/corpus/<target>
#                     (minimized with -merge=1, so the corpus stays small)
#
# The seeds in fuzz/corpus/<target> are read, never written (unless
# FUZZ_MERGE=1): each run grows a scratch corpus under fuzz/target/. A crash
# leaves its input in fuzz/artifacts/<target>/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
mkdir -p target

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
SANITIZER="${FUZZ_SANITIZER:-none}"
# Install what is missing (both come from the registries this machine reaches).
if ! cargo "+$TOOLCHAIN" --version >/dev/null 2>&1; then
  echo "fuzz: installing the $TOOLCHAIN toolchain"
  rustup toolchain install "$TOOLCHAIN" --profile minimal || {
    echo "fuzz: needs the $TOOLCHAIN toolchain: rustup toolchain install $TOOLCHAIN --profile minimal" >&2
    exit 2
  }
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked || {
    echo "fuzz: needs cargo-fuzz: cargo install cargo-fuzz --locked" >&2
    exit 2
  }
fi
TARGETS="${FUZZ_TARGETS:-$(cargo "+$TOOLCHAIN" fuzz list)}"

# Build every target once, then run the binaries directly (no rebuild
# between targets).
if ! cargo "+$TOOLCHAIN" fuzz build -O --sanitizer "$SANITIZER" >target/fuzz-build.log 2>&1; then
  tail -n 30 target/fuzz-build.log >&2
  echo "fuzz: build failed (fuzz/target/fuzz-build.log)" >&2
  exit 2
fi
BIN_DIR="target/$(rustc "+$TOOLCHAIN" -vV | sed -n 's/^host: //p')/release"
summary=()
status=0
for target in $TARGETS; do
  seeds="corpus/$target"
  scratch="target/corpus-work/$target"
  mkdir -p "$seeds" "$scratch" "artifacts/$target"
  log="target/fuzz-$target.log"
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  if "$BIN_DIR/$target" "$scratch" "$seeds" -artifact_prefix="artifacts/$target/" \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=262144 \
      -print_final_stats=1 >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED (see fuzz/$log and fuzz/artifacts/$target/)"
    status=1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)
  summary+=("$(printf '%-16s %-6s %10s execs  cov %s' "$target" "$result" "${runs:-?}" "${cov:-?}")")
  if [[ "${FUZZ_MERGE:-0}" == 1 && "$result" == ok ]]; then
    "$BIN_DIR/$target" -merge=1 "$seeds" "$scratch" >/dev/null 2>&1 || true
  fi
done
echo
echo "fuzz summary (${SECONDS_PER_TARGET}s per target):"
printf '  %s\n' "${summary[@]}"
exit "$status"
