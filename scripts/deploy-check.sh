#!/usr/bin/env bash
# Checks deploy/ (the Dockerfile and the Kubernetes manifests) offline; no cluster, no Docker:
#  1. every manifest against the Kubernetes OpenAPI schemas of each version in K8S_VERSIONS,
#     strictly (an unknown field or a wrongly typed value fails), with kubernetes-validate;
#  2. what the schemas cannot see (scripts/deploy_check.py): the manifests, the ConfigMap's
#     gateway.toml and the Dockerfile agree (Secret keys = the variables the config names,
#     ports, probe paths and their Host header, selectors, grace period vs drain, rust-version);
#  3. the ConfigMap's gateway.toml with `mcp-auth check`: clean with the Secret's variables set
#     to dummy values, and refused with the Secret's placeholders as they ship;
#  4. the Dockerfile with hadolint, and that what it COPYs is a complete, locked workspace
#     (`cargo metadata --locked` in a copy of just those paths);
#  5. that the checks can fail: a Deployment with an unknown field and one with a wrongly typed
#     value are refused (so a validator that turned lax would be noticed).
# The tools are pinned in deploy/requirements-check.txt and installed into deploy/.deps/venv
# (from PyPI, once; skipped when already there).
#
# Usage: scripts/deploy-check.sh
# Env:   MCP_AUTH_BIN  use this mcp-auth binary instead of building one with cargo (debug,
#                      under CARGO_TARGET_DIR; a no-op after scripts/test.sh's `cargo test`)
# Prints one PASS/FAIL line per check and a last line `N passed, M failed`; exits 1 if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPLOY="$ROOT/deploy"
DEPS="$DEPLOY/.deps"
REQ="$DEPLOY/requirements-check.txt"
# The oldest Kubernetes the manifests claim (deploy/README.md) and the newest the pinned
# kubernetes-validate knows.
K8S_VERSIONS=(1.33.0 1.37.0)

log() { echo "deploy-check: $*" >&2; }
die() { echo "deploy-check: error: $*" >&2; exit 1; }

PASSED=0
FAILED=0
pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-deploy-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- tools ------------------------------------------------------------------------------------
VENV="$DEPS/venv"
stamp="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$VENV/bin/python" ]; then
  command -v python3 >/dev/null || die "python3 (>= 3.11) is needed"
  log "creating Python venv $VENV from deploy/requirements-check.txt"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
  echo "$stamp" >"$VENV/.stamp"
fi
PY="$VENV/bin/python"
"$PY" -c 'import tomllib' 2>/dev/null || die "the venv's Python has no tomllib (needs >= 3.11)"

# shellcheck source=lib/mcp_auth_bin.sh
. "$ROOT/scripts/lib/mcp_auth_bin.sh"
mcp_auth_bin "$ROOT"

# --- 1. schemas -------------------------------------------------------------------------------
# validate FILE...: strict validation against every version; kubernetes-validate only warns
# (exit 0) about a kind it has no schema for, so any WARN line counts as a failure too.
validate() {
  local version out rc
  for version in "${K8S_VERSIONS[@]}"; do
    rc=0
    out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "$@" 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ] || grep -q '^\(WARN\|ERROR\)' <<<"$out"; then
      echo "$out"
      return 1
    fi
  done
}
for f in "$DEPLOY"/k8s/*.yaml; do
  name="deploy/k8s/$(basename "$f")"
  if out="$(validate "$f")"; then
    pass "$name is valid Kubernetes ${K8S_VERSIONS[*]} (strict)"
  else
    fail "$name: $out"
  fi
done

# --- 2. consistency ---------------------------------------------------------------------------
rc=0
out="$("$PY" "$ROOT/scripts/deploy_check.py" "$ROOT" "$WORK" 2>&1)" || rc=$?
echo "$out" | grep -E '^(PASS|FAIL): ' || true
PASSED=$((PASSED + $(grep -c '^PASS: ' <<<"$out" || true)))
FAILED=$((FAILED + $(grep -c '^FAIL: ' <<<"$out" || true)))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL: ' <<<"$out"; then
  fail "scripts/deploy_check.py: $(tail -n 3 <<<"$out")"
fi

# --- 3. mcp-auth check on the shipped config --------------------------------------------------
# run_check ENV_FILE: `mcp-auth check` on the ConfigMap's gateway.toml, in an environment of
# only PATH, HOME and the NAME=VALUE lines of ENV_FILE (nothing of the caller's, such as
# MCP_AUTH_ENV or a real secret, leaks in); output in $WORK/check.out.
run_check() {
  local vars=()
  mapfile -t vars <"$1"
  env -i PATH=/usr/bin:/bin HOME="$WORK" "${vars[@]}" \
    timeout 30 "$BIN" check --config "$WORK/gateway.toml" >"$WORK/check.out" 2>&1
}
if [ -f "$WORK/gateway.toml" ] && [ -f "$WORK/secret.env" ]; then
  # Dummy values of 48 bytes: long enough for HS256 and the log key, and plainly not secrets;
  # the Redis URL a Service name, the credential key the base64 of 32 bytes.
  sed -e 's/=.*/=deploy-check-dummy-value-not-a-secret-0123456789ab/' \
    -e 's|^MCP_AUTH_REDIS_URL=.*|MCP_AUTH_REDIS_URL=redis://redis.mcp-auth.svc:6379|' \
    -e 's|^MCP_AUTH_CREDENTIAL_KEY=.*|MCP_AUTH_CREDENTIAL_KEY=ZGVwbG95LWNoZWNrLWR1bW15LWtleS0zMi1ieXRlcyE=|' \
    "$WORK/secret.env" >"$WORK/dummy.env"
  if run_check "$WORK/dummy.env"; then
    pass "mcp-auth check accepts the ConfigMap's gateway.toml (the Secret's variables set)"
  else
    fail "mcp-auth check refuses the ConfigMap's gateway.toml: $(cat "$WORK/check.out")"
  fi
  rc=0
  run_check "$WORK/secret.env" || rc=$?
  if [ "$rc" -eq 2 ] && grep -q 'auth.secret_env' "$WORK/check.out" &&
    ! grep -q 'CHANGE_ME' "$WORK/check.out"; then
    pass "mcp-auth check refuses the Secret's placeholders (exit 2, auth.secret_env named, value not shown)"
  else
    fail "the Secret's placeholders are accepted, or refused wrongly (exit $rc): $(cat "$WORK/check.out")"
  fi
  # A config broken on purpose must be refused too: the check above is not a no-op.
  sed 's/^mode = "api"$/mode = "apii"/' "$WORK/gateway.toml" >"$WORK/broken.toml"
  rc=0
  mapfile -t vars <"$WORK/dummy.env"
  env -i PATH=/usr/bin:/bin HOME="$WORK" "${vars[@]}" \
    timeout 30 "$BIN" check --config "$WORK/broken.toml" >"$WORK/check.out" 2>&1 || rc=$?
  if [ "$rc" -eq 2 ] && grep -q 'credentials.mode' "$WORK/check.out"; then
    pass "mcp-auth check refuses the config with credentials.mode misspelt"
  else
    fail "mcp-auth check on a broken config: exit $rc: $(cat "$WORK/check.out")"
  fi
else
  fail "no gateway.toml or Secret extracted (see scripts/deploy_check.py above)"
fi

# --- 4. the Dockerfile ------------------------------------------------------------------------
if out="$("$VENV/bin/hadolint" --no-color "$DEPLOY/Dockerfile" 2>&1)"; then
  pass "hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}') finds nothing in deploy/Dockerfile"
else
  fail "hadolint deploy/Dockerfile: $out"
fi
# The build stage's `COPY SRC... DEST` lines (not --from=): those paths, and nothing else, must
# make a workspace cargo accepts with the committed Cargo.lock.
mkdir -p "$WORK/context"
srcs="$(sed -n '/^FROM .* AS build$/,/^FROM /{/^COPY [^-]/p}' "$DEPLOY/Dockerfile" | awk '{for (i = 2; i < NF; i++) print $i}')"
for src in $srcs; do
  mkdir -p "$WORK/context/$(dirname "$src")"
  cp -r "$ROOT/$src" "$WORK/context/$src"
done
rm -rf "$WORK"/context/crates/*/target
if [ -n "$srcs" ] && out="$(cd "$WORK/context" && cargo metadata --locked --format-version 1 2>&1 >/dev/null)"; then
  pass "the Dockerfile's build stage copies a complete workspace ($(echo $srcs))"
else
  fail "the Dockerfile's COPY lines ($(echo $srcs)) miss part of the workspace: $out"
fi

# --- 5. the checks can fail -------------------------------------------------------------------
sed 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' "$DEPLOY/k8s/deployment.yaml" >"$WORK/unknown-field.yaml"
sed 's/containerPort: 8080/containerPort: "8080"/' "$DEPLOY/k8s/deployment.yaml" >"$WORK/wrong-type.yaml"
for f in unknown-field wrong-type; do
  case "$f" in
    unknown-field) what='an unknown field (readOnlyRootFileSystem)' ;;
    *) what='a wrongly typed value (containerPort: "8080")' ;;
  esac
  if cmp -s "$WORK/$f.yaml" "$DEPLOY/k8s/deployment.yaml"; then
    fail "the $f canary did not change deployment.yaml (update scripts/deploy-check.sh)"
  elif validate "$WORK/$f.yaml" >/dev/null; then
    fail "a Deployment with $what passed the schema check"
  else
    pass "a Deployment with $what is refused by the schema check"
  fi
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
