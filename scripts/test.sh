#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, and all tests (unit, integration, doc, examples).
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

echo "== benches compile"
cargo bench --workspace --no-run --locked

echo "== e2e"
tests/e2e/run.sh

# Both requirement sets: the 2026-07-28 one adds ~7 s and guards the stateless path (MRTR,
# subscriptions/listen, SEP-2243 headers) through wrap_server. It rewrites docs/conformance.md,
# which stays unchanged while the results do.
echo "== conformance (2025-11-25 and 2026-07-28, direct and through wrap_server)"
scripts/conformance.sh
