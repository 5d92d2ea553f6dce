# Shared by scripts/cluster-test.sh and scripts/deploy-check.sh: the mcp-auth binary to run.
# The caller defines die().

# mcp_auth_bin ROOT: sets BIN to $MCP_AUTH_BIN, else to the debug build under CARGO_TARGET_DIR
# (built first; a no-op after scripts/test.sh's `cargo test`).
mcp_auth_bin() {
  local root="$1" target
  if [ -n "${MCP_AUTH_BIN:-}" ]; then
    BIN="$MCP_AUTH_BIN"
  else
    (cd "$root" && cargo build -p mcp-auth-gateway --locked --quiet) >&2
    target="${CARGO_TARGET_DIR:-target}"
    case "$target" in /*) ;; *) target="$root/$target" ;; esac
    BIN="$target/debug/mcp-auth"
  fi
  [ -x "$BIN" ] || die "no executable mcp-auth at $BIN"
}
