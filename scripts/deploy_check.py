"""What the schemas cannot see in deploy/: that the manifests, the gateway config in the ConfigMap
and the Dockerfile agree with each other and with the gateway.

Run by scripts/deploy-check.sh with its venv's Python (PyYAML; tomllib needs Python >= 3.11):

    python deploy_check.py ROOT OUT

Writes OUT/gateway.toml (the ConfigMap's config, for `mcp-auth check`) and OUT/secret.env (the
Secret's stringData, one NAME=VALUE a line); prints one PASS/FAIL line per check and exits 1
when any failed.
"""

import re
import sys
import tomllib
from pathlib import Path

import yaml

# The gateway's drain after SIGTERM, besides server.drain_delay: open connections get the
# library's shutdown grace period (HttpOptions::shutdown_grace_period, 10 s), then upstreams
# get CLOSE_WAIT (serve/mod.rs, 10 s).
DRAIN_AFTER_DELAY_S = 20
# server.drain_delay when configmap.yaml does not set it (the gateway's default).
PLANNED_DRAIN_DELAY_S = 0
KINDS = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
}

results = []


def check(name, ok, detail=""):
    ok = bool(ok)
    results.append(ok)
    line = f"{'PASS' if ok else 'FAIL'}: {name}"
    print(line if ok or not detail else f"{line}: {detail}", flush=True)


def seconds(duration):
    """A docs/config.md duration ("5s", "2m", 600) in seconds."""
    if isinstance(duration, int):
        return duration
    m = re.fullmatch(r"(\d+)([smhd]?)", duration.strip())
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return int(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def main(root, out):
    docs, twice = {}, []
    for path in sorted((root / "deploy/k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            kind = doc.get("kind")
            if kind in docs:
                twice.append(f"{path.name}: {kind}")
            docs[kind] = doc
    check("deploy/k8s has one resource of each kind", not twice, f"again: {twice}")
    check("deploy/k8s has every kind", set(docs) == KINDS, f"got {sorted(docs)}, want {sorted(KINDS)}")

    # --- the config and the Secret, written out for `mcp-auth check` first, so that it runs
    # whatever the checks below find --------------------------------------------------------
    if "ConfigMap" in docs and "Secret" in docs:
        (out / "gateway.toml").write_text(docs["ConfigMap"]["data"]["gateway.toml"])
        data = docs["Secret"].get("stringData", {})
        (out / "secret.env").write_text("".join(f"{k}={v}\n" for k, v in data.items()))
    if not KINDS <= set(docs):
        return
    ns = docs["Namespace"]["metadata"]["name"]
    for kind, doc in docs.items():
        if kind != "Namespace":
            got = doc["metadata"].get("namespace")
            check(f"{kind} is in namespace {ns}", got == ns, f"got {got!r}")

    # --- the config and the Secret ------------------------------------------------------------
    config = tomllib.loads(docs["ConfigMap"]["data"]["gateway.toml"])
    secret = docs["Secret"]
    data = secret.get("stringData", {})
    check("the Secret has stringData only (placeholders, readable)", "data" not in secret and data)

    # Every variable the config reads, and nothing else, comes from the Secret.
    named = {
        section.get(key)
        for section, key in [
            (config.get("auth", {}), "secret_env"),
            (config.get("credentials", {}), "service_token_env"),
            (config.get("credentials", {}), "key_env"),
            (config.get("log", {}), "user_hash_key_env"),
            (config.get("redis", {}), "url_env"),
            (config.get("redis", {}), "user_hash_key_env"),
            (config.get("redis", {}), "credential_key_env"),
        ]
    } - {None}
    check("the Secret holds exactly the variables gateway.toml names", set(data) == named,
          f"Secret {sorted(data)}, config {sorted(named)}")

    # --- the Deployment ------------------------------------------------------------------------
    dep = docs["Deployment"]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    labels = pod["metadata"]["labels"]
    (container,) = spec["containers"]
    check("Deployment: 3 replicas", dep["spec"]["replicas"] == 3)
    check("Deployment: its selector matches its pods", matches(dep["spec"]["selector"]["matchLabels"], labels))
    env_from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    check("Deployment: every Secret key is set as the variable of its name",
          all(ref["name"] == secret["metadata"]["name"] and ref["key"] == name
              for name, ref in env_from_secret.items()) and set(env_from_secret) == set(data),
          f"{env_from_secret}")

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    server = config.get("server", {})
    listen_port = int(server["listen"].rsplit(":", 1)[1])
    check("config: listens on all interfaces", server["listen"].startswith("0.0.0.0:"), server["listen"])
    check("config: has a public_url (required off loopback)", "public_url" in server)
    check("Deployment: port http is the config's listen port", ports.get("http") == listen_port,
          f"{ports.get('http')} vs {listen_port}")
    if "metrics" in server and ":" in str(server["metrics"]):
        metrics_port = int(server["metrics"].rsplit(":", 1)[1])
        check("Deployment: port metrics is server.metrics's port", ports.get("metrics") == metrics_port)

    mounts = [s.get("path", "/" + s["name"]) for s in config["servers"]]
    for probe, path in [("readinessProbe", "/ready"), ("livenessProbe", "/health")]:
        get = container[probe]["httpGet"]
        check(f"Deployment: {probe} asks a mount's {path}",
              any(get["path"] == m + path for m in mounts), f"{get['path']} (mounts: {mounts})")
        check(f"Deployment: {probe} on port http", get["port"] in ("http", listen_port))
        # The gateway refuses a Host it does not know (the pod IP the kubelet would send).
        hosts = [h["value"] for h in get.get("httpHeaders", []) if h["name"].lower() == "host"]
        check(f"Deployment: {probe} sends an accepted Host",
              hosts and hosts[0] in ("localhost", "127.0.0.1", *server.get("allowed_hosts", [])), f"{hosts}")

    drain = seconds(server.get("drain_delay", PLANNED_DRAIN_DELAY_S)) + DRAIN_AFTER_DELAY_S
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(f"Deployment: terminationGracePeriodSeconds outlasts the drain (~{drain} s)",
          grace >= drain + 10, f"{grace} s")

    pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
    check("Deployment: runAsNonRoot", pod_sc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True)
    check("Deployment: seccompProfile RuntimeDefault",
          (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault")
    check("Deployment: readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
    check("Deployment: allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False)
    check("Deployment: drops ALL capabilities", sc.get("capabilities", {}).get("drop") == ["ALL"])
    res = container.get("resources", {})
    check("Deployment: cpu and memory requests and limits",
          all(k in res.get(w, {}) for w in ("requests", "limits") for k in ("cpu", "memory")))

    mount_path = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    config_volume = next(v for v in spec["volumes"] if v.get("configMap"))
    check("Deployment: mounts the ConfigMap",
          config_volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"])
    config_path = f"{mount_path[config_volume['name']]}/gateway.toml"
    check("Deployment: serves the mounted config",
          container.get("args") == ["serve", "--config", config_path], f"{container.get('args')}")

    # --- Service, PDB, HPA --------------------------------------------------------------------
    svc = docs["Service"]["spec"]
    check("Service: selects the pods", matches(svc["selector"], labels))
    check("Service: targets port http", all(p["targetPort"] in ("http", listen_port) for p in svc["ports"]))
    pdb = docs["PodDisruptionBudget"]["spec"]
    check("PodDisruptionBudget: selects the pods", matches(pdb["selector"]["matchLabels"], labels))
    check("PodDisruptionBudget: one replica down at most",
          pdb.get("maxUnavailable") == 1 or pdb.get("minAvailable") == 2)
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    target = hpa["scaleTargetRef"]
    check("HPA: scales the Deployment",
          (target["kind"], target["name"]) == ("Deployment", dep["metadata"]["name"]))
    check("HPA: never below the Deployment's replicas", hpa["minReplicas"] >= dep["spec"]["replicas"])
    check("HPA: on CPU", any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["metrics"]))

    # --- the Dockerfile -----------------------------------------------------------------------
    dockerfile = (root / "deploy/Dockerfile").read_text()
    rust_version = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]
    image = re.search(r"^FROM rust:(\S+)", dockerfile, re.M)
    check(f"Dockerfile: builds with the workspace's rust-version ({rust_version})",
          image is not None and (image[1] + ".").startswith(rust_version + "."), image and image[1])
    check("Dockerfile: runs as the pod's user",
          re.search(rf"^USER {spec['securityContext']['runAsUser']}(:|$)", dockerfile, re.M) is not None)
    check("Dockerfile: CMD serves the mounted config",
          f'CMD ["serve", "--config", "{config_path}"]' in dockerfile)
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.*)$", dockerfile, re.M) for p in line.split()}
    check("Dockerfile: EXPOSEs the container ports", set(ports.values()) <= exposed, f"{exposed}")


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
    except Exception as error:  # a manifest shaped unlike what the checks expect
        check("scripts/deploy_check.py read the manifests to the end", False, repr(error))
    sys.exit(1 if False in results or not results else 0)
