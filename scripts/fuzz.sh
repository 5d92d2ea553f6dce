#!/usr/bin/env bash
# Fuzzes mcp-auth with the cargo-fuzz targets in fuzz/ (docs/reliability.md, "Fuzzing").
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS   how long each target fuzzes (default 30)
#   TARGET    jwt_verify, http_headers, jsonrpc_body, config_template (default: all four)
# Env:   FUZZ_SANITIZER   address (default) or none: none builds without ASAN (faster build and
#                         runs; panics, overflow checks and the harness's assertions still fire)
#        FUZZ_PROFILE     release (default) or dev: dev skips optimisation, so the build takes a
#                         fraction of the time and each input runs slower (what CI uses)
#        FUZZ_SEED        libFuzzer's -seed (default: a new one each run); a fixed seed makes a
#                         run of the same code explore the same inputs (what CI uses)
#        FUZZ_TARGET_DIR  cargo target dir of the fuzz build (default fuzz/target)
#        FUZZ_JOBS        cargo build jobs (default: cargo's own choice)
#
# Installs cargo-fuzz (pinned) when missing. The machine's toolchain is stable; cargo-fuzz needs
# nightly flags (-Zsanitizer, sanitizer coverage), which RUSTC_BOOTSTRAP=1 unlocks here.
# First replays fuzz/regressions/<target>-*.bin (inputs that once crashed), then fuzzes from the
# committed seeds (fuzz/corpus/<target>/) plus the corpus grown by earlier runs
# (fuzz/artifacts/corpus/<target>/). Crashing inputs land in fuzz/artifacts/<target>/, logs in
# fuzz/artifacts/logs/. Prints executions and crashes per target; exits 1 on any crash.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/fuzz"
CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(jwt_verify http_headers jsonrpc_body config_template)

SECONDS_PER_TARGET=30
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  SECONDS_PER_TARGET="$1"
  shift
fi
case "${1:-}" in -h | --help) sed -n '2,22p' "$0"; exit 0 ;; esac
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for target in "${TARGETS[@]}"; do
  [ -f "$FUZZ/fuzz_targets/$target.rs" ] || { echo "fuzz: unknown target '$target'" >&2; exit 2; }
done

log() { echo "fuzz: $*" >&2; }

# --- 1. cargo-fuzz ----------------------------------------------------------------------------
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# --- 2. build ---------------------------------------------------------------------------------
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$FUZZ/target}"
SANITIZER="${FUZZ_SANITIZER:-address}"
BUILD_ARGS=(--sanitizer "$SANITIZER")
case "${FUZZ_PROFILE:-release}" in
  release) ;;
  dev) BUILD_ARGS+=(--dev) ;;
  *) echo "fuzz: FUZZ_PROFILE must be release or dev" >&2; exit 2 ;;
esac
[ -n "${FUZZ_JOBS:-}" ] && BUILD_ARGS+=(--jobs "$FUZZ_JOBS")
cd "$FUZZ"
for target in "${TARGETS[@]}"; do
  log "building $target (sanitizer: $SANITIZER)"
  cargo fuzz build "${BUILD_ARGS[@]}" "$target"
done

# --- 3. replay regressions, then fuzz ---------------------------------------------------------
mkdir -p "$FUZZ/artifacts/logs"
failed=0
summary=()
for target in "${TARGETS[@]}"; do
  artifacts="$FUZZ/artifacts/$target"
  corpus="$FUZZ/artifacts/corpus/$target"
  mkdir -p "$artifacts" "$corpus"
  before="$(find "$artifacts" -type f | wc -l)"
  log_file="$FUZZ/artifacts/logs/$target.log"
  regression_status=ok

  shopt -s nullglob
  regressions=("$FUZZ/regressions/$target"-*.bin)
  shopt -u nullglob
  # One at a time: libFuzzer stops at the first input that crashes.
  : >"$log_file.regressions"
  for input in "${regressions[@]}"; do
    if ! cargo fuzz run "${BUILD_ARGS[@]}" "$target" "$input" -- -runs=1 \
      >>"$log_file.regressions" 2>&1; then
      [ "$regression_status" = ok ] && regression_status=""
      regression_status+="${regression_status:+,}$(basename "$input") CRASHES"
      log "$target: regression $(basename "$input") still crashes (see $log_file.regressions)"
    fi
  done

  log "$target: fuzzing for ${SECONDS_PER_TARGET}s (log: $log_file)"
  status=0
  # The first corpus directory receives new inputs; the committed seeds are only read.
  cargo fuzz run "${BUILD_ARGS[@]}" "$target" "$corpus" "$FUZZ/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
    ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
    >"$log_file" 2>&1 || status=$?
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log_file" | tail -1 | grep -o '[0-9]*$' || true)"
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # libFuzzer failed without leaving an input (e.g. a crash during start-up)
  fi
  if [ "$status" -ne 0 ] || [ "$regression_status" != ok ]; then
    failed=1
    grep -m1 -A12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log_file" >&2 || tail -20 "$log_file" >&2
  fi
  summary+=("$(printf '%-14s %8ss %12s execs %3s crash(es)  regressions: %s' \
    "$target" "$SECONDS_PER_TARGET" "${execs:-?}" "$crashes" "$regression_status")")
done

echo
echo "fuzz summary (sanitizer: $SANITIZER)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED — crashing inputs are in fuzz/artifacts/<target>/; reproduce one with" >&2
  echo "  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $SANITIZER <target> <file>" >&2
  exit 1
fi
