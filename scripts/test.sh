#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, all tests (unit, integration, doc, examples), the
# official clients end to end, the conformance suite, and a short fuzzing run.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Each section prints the seconds since the start, so a slow CI run shows where the time went.
START=$SECONDS
section() { echo "== $* (at $((SECONDS - START)) s)"; }

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# mcp-auth-store's OAuth tests run a real provider (oidc-provider, pinned) as a child process:
# install it (pinned Node 22 + npm ci, skipped when already there) and tell the tests where.
section "OAuth test provider (tests/oauth-provider)"
MCP_AUTH_TEST_NODE="$(tests/oauth-provider/install.sh)"
MCP_AUTH_TEST_OIDC_PROVIDER="$PWD/tests/oauth-provider/provider.mjs"
export MCP_AUTH_TEST_NODE MCP_AUTH_TEST_OIDC_PROVIDER

# mcp-auth-redis's tests and the gateway's shared rate limit tests run real redis-server
# children (never a service): install it when missing. They fail, not skip, without it;
# MCP_AUTH_TEST_REDIS_SERVER may name another binary.
section "redis-server (tests of the shared rate limit)"
command -v redis-server || { apt-get update && apt-get install -y redis-server; }

section "cargo test"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
# The ApiTokenResolver tests again, pointed at the built-in tenant manager (mcp-auth-store's
# TenantManagerService over a real encrypted store) instead of their test double.
MCP_AUTH_TEST_TENANT_MANAGER=store cargo test -p mcp-auth --locked --test tenant_api_requests \
  --test tenant_api_caching --test tenant_api_outages --test fault_tenant_manager_restart --test metrics

section "e2e"
tests/e2e/run.sh

# Three replicas behind HAProxy (deploy/haproxy/haproxy.cfg) and nginx (deploy/nginx/nginx.conf)
# on loopback: user affinity across requests and token refreshes, 2025-era sessions, one
# replica killed and one drained, 1 vs 3 replicas' throughput (docs/scale-out.md); installs
# haproxy, nginx and wrk from Debian when missing. ~40 s.
section "cluster (scripts/cluster-test.sh)"
scripts/cluster-test.sh

# deploy/ (Dockerfile, Kubernetes manifests) offline: strict schema validation (pinned
# kubernetes-validate), the manifests against each other, `mcp-auth check` on the ConfigMap's
# config, hadolint; ~3 s warm, ~15 s when it installs its venv. No Docker and no cluster: the
# image is not built here.
section "deploy manifests"
scripts/deploy-check.sh

# Both requirement sets, each run directly, through wrap_server and through the gateway (the
# fixture as its stdio child and as its http upstream), the four at once: ~13 s warm. The
# 2026-07-28 set guards the stateless path (MRTR, subscriptions/listen, SEP-2243 headers). It
# rewrites docs/conformance.md, which stays unchanged while the results do.
section "conformance (2025-11-25 and 2026-07-28: direct, wrap_server, gateway stdio and http)"
scripts/conformance.sh

# Each cargo-fuzz target for 30 s after replaying its regressions (docs/reliability.md,
# "Fuzzing"): the dev profile at opt-level 1 without a sanitizer builds in a few minutes, where
# a release build with coverage on every dependency takes ~23; longer runs use scripts/fuzz.sh.
# A fixed seed: the same code explores the same inputs, so a CI failure is a finding that
# reproduces, not luck; new seeds are for the long runs by hand.
section "fuzz (30 s per target)"
FUZZ_PROFILE=dev FUZZ_SANITIZER=none CARGO_PROFILE_DEV_OPT_LEVEL=1 FUZZ_SEED=1 scripts/fuzz.sh 30

section "done"
