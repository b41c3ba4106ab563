# SPDX-License-Identifier: Apache-2.0
"""The deployment side of cluster mode: deploy/, the Helm chart and the
agent's container image.

- The real helm lints the chart and renders it; with default values the
  render is the objects in deploy/ (Helm's own labels aside), and values
  people set show up where they should.  Bad values are refused by name.
- The real kubectl applies deploy/ and the chart's render to the stand-in
  API server (tests/apiserver) and reads them back.
- scripts/agent-image.py packages build/bin/ig (linked against the same
  libraries the agent will be) and the real containerd imports the image and
  runs it as a CRI container: the image's libraries are complete.
"""

import glob
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import threading
import time
import uuid

import pytest
import yaml

from apiserver import apiserver  # noqa: F401  (fixture)
from conftest import IG, REPO
from containerd import CTR_BIN, containerd  # noqa: F401  (module-scoped fixture)

HELM = os.environ.get("HELM", os.path.join(REPO, "build", "tools", "bin", "helm"))
CHART = os.path.join(REPO, "charts", "gadget")
DEPLOY = os.path.join(REPO, "deploy")
AGENT_IMAGE = os.path.join(REPO, "scripts", "agent-image.py")
PYTHON = "/usr/bin/python3"

# labels and annotations only Helm adds; everything else must be equal
HELM_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
               "app.kubernetes.io/version"}


def helm(*args, check=True):
    if not os.access(HELM, os.X_OK):
        pytest.fail(f"helm not found at {HELM}: run `make tools`")
    r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HELM_CACHE_HOME="/tmp/igt-helm-cache",
                                HELM_CONFIG_HOME="/tmp/igt-helm-config",
                                HELM_DATA_HOME="/tmp/igt-helm-data"))
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def render(*args):
    return docs(helm("template", "gadget", CHART, *args).stdout)


def deploy_docs():
    out = []
    for f in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        with open(f) as fh:
            out += docs(fh.read())
    return out


def key(o):
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def normalize(o):
    """Drops Helm-only labels and checksum annotations; parses the YAML files
    ConfigMaps carry, so key order and quoting inside them do not matter."""
    if isinstance(o, list):
        return [normalize(x) for x in o]
    if not isinstance(o, dict):
        return o
    out = {}
    for k, v in o.items():
        if k == "labels" and isinstance(v, dict):
            v = {a: b for a, b in v.items() if a not in HELM_LABELS}
        elif k == "annotations" and isinstance(v, dict):
            v = {a: b for a, b in v.items() if not a.startswith("checksum/")}
        out[k] = normalize(v)
    if o.get("kind") == "ConfigMap" and isinstance(o.get("data"), dict):
        out["data"] = {k: yaml.safe_load(v) if k.endswith(".yaml") else v
                       for k, v in o["data"].items()}
    return out


def by_key(objs):
    return {key(o): o for o in objs}


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {[key(o) for o in found]}"
    return found[0]


def agent_container(objs):
    ds = one(objs, "DaemonSet", "gadget")
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    return ds, c


def agent_config(objs):
    return yaml.safe_load(one(objs, "ConfigMap", "gadget-config")["data"]["config.yaml"])


# --- the chart ------------------------------------------------------------------


def test_helm_lint_passes():
    r = helm("lint", "--strict", CHART)
    assert "0 chart(s) failed" in r.stdout
    assert "[ERROR]" not in r.stdout and "[WARNING]" not in r.stdout


def test_default_render_is_deploy():
    rendered = by_key(render())
    plain = by_key(deploy_docs())
    assert sorted(rendered) == sorted(plain)
    for k, obj in plain.items():
        assert normalize(rendered[k]) == normalize(obj), k
    # Helm's labels are there, on everything it makes
    for obj in rendered.values():
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", key(obj)


def test_namespace_can_exist_already():
    objs = render("--set", "namespace.create=false")
    assert not [o for o in objs if o["kind"] == "Namespace"]
    assert {o["metadata"].get("namespace") for o in objs if o["kind"] != "ClusterRole"
            and o["kind"] != "ClusterRoleBinding"} == {"gadget"}


def test_values_overrides_appear_in_render(tmp_path):
    values = {
        "image": {"repository": "registry.example:5000/team/agent", "tag": "v1.2.3",
                  "pullPolicy": "Always"},
        "resources": {"requests": {"cpu": "250m", "memory": "128Mi"},
                      "limits": {"memory": "1Gi"}},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra",
                         "effect": "NoSchedule"}],
        "nodeSelector": {"node-role.example/tracing": "yes"},
        "capabilities": ["BPF", "PERFMON", "SYS_RESOURCE"],
        "config": {"logLevel": "debug", "health": {"address": "0.0.0.0:9100"},
                   "queue": {"maxRecords": 1024},
                   "oci": {"storeDir": "/var/lib/ig/store", "insecureRegistries": ["reg.local:5000"],
                           "allowedGadgets": ["ghcr.io/example/*"]}},
        "instances": [
            {"name": "failed-opens", "image": "trace_open:latest",
             "params": {"failed": True, "max-entries": 10}, "nodes": ["n1"], "tags": ["audit"]},
            {"name": "execs", "image": "trace_exec:latest",
             "selector": {"namespace": "shop", "labels": {"app": "web"}}, "replayRecords": 100},
        ],
    }
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump(values))
    objs = render("-f", str(f))
    ds, c = agent_container(objs)
    pod = ds["spec"]["template"]["spec"]
    assert c["image"] == "registry.example:5000/team/agent:v1.2.3"
    assert c["imagePullPolicy"] == "Always"
    assert c["resources"] == values["resources"]
    assert pod["tolerations"] == values["tolerations"]
    # Helm merges maps with the defaults (set a key to null to drop it)
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", **values["nodeSelector"]}
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": values["capabilities"]}

    cfg = agent_config(objs)
    assert cfg["logLevel"] == "debug"
    assert cfg["queue"] == {"maxRecords": 1024}
    assert cfg["oci"] == values["config"]["oci"]
    # keys not overridden keep their defaults; the namespace is filled in
    assert cfg["listen"] == {"address": "127.0.0.1:8484", "unixSocket": "/run/gadget/agent.sock",
                             "unixSocketGroup": ""}
    assert cfg["gadgetNamespace"] == "gadget"
    # the health address moves the container port, the probes' target and the
    # Prometheus annotation with it
    assert c["ports"] == [{"name": "health", "containerPort": 9100, "protocol": "TCP"}]
    assert ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9100"

    # a changed config changes the pod template, so the agents restart
    default_ds, _ = agent_container(render())
    assert (ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            != default_ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    inst = {o["metadata"]["name"]: o for o in objs
            if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("type") == "gadget-instance"}
    assert sorted(inst) == ["execs", "failed-opens"]
    assert inst["failed-opens"]["metadata"]["namespace"] == "gadget"
    assert yaml.safe_load(inst["failed-opens"]["data"]["instance.yaml"]) == {
        "name": "failed-opens", "image": "trace_open:latest",
        "params": {"failed": "true", "max-entries": "10"}, "nodes": ["n1"], "tags": ["audit"]}
    assert yaml.safe_load(inst["execs"]["data"]["instance.yaml"]) == {
        "name": "execs", "image": "trace_exec:latest", "params": {}, "nodes": [], "tags": [],
        "selector": {"namespace": "shop", "labels": {"app": "web"}}, "replayRecords": 100}


def test_host_root_moves_env_and_mounts():
    objs = render("--set", "config.hostRoot=/hostfs")
    _, c = agent_container(objs)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOST_ROOT"] == "/hostfs"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["host-proc"] == "/hostfs/proc"
    assert mounts["host-run"] == "/hostfs/run"
    assert mounts["run-gadget"] == "/hostfs/run/gadget"


@pytest.mark.parametrize("args,message", [
    (["--set", "tolerations=everything"], "/tolerations"),
    (["--set", "image.repository="], "/image/repository"),
    (["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    (["--set", "config.logLevel=loud"], "/config/logLevel"),
    (["--set", "config.health.address=nowhere"], "/config/health/address"),
    (["--set", "config.instanceConfigMapLabel=gadget-instance"], "/config/instanceConfigMapLabel"),
    (["--set", "config.runtimes[0].name=docker,config.runtimes[0].socketPath=/run/d.sock"],
     "/config/runtimes/0/name"),
    (["--set", "config.queue.maxRecords=0"], "/config/queue/maxRecords"),
    (["--set", "config.typo=1"], "typo"),
    (["--set", "instances[0].name=x"], "image"),
    (["--set", "instances[0].name=Not_A_Name,instances[0].image=trace_exec"], "/instances/0/name"),
    (["--set", "namespace.name=Gadget"], "/namespace/name"),
])
def test_bad_values_are_refused(args, message):
    r = helm("template", "gadget", CHART, *args, check=False)
    assert r.returncode != 0, r.stdout
    assert message in r.stderr, r.stderr
    assert r.stdout == ""
    # helm lint refuses the same values
    r = helm("lint", CHART, *args, check=False)
    assert r.returncode != 0


# --- the contract deploy/ gives the agent ------------------------------------------


def test_deploy_agrees_with_the_agent_config():
    objs = deploy_docs()
    ds, c = agent_container(objs)
    pod = ds["spec"]["template"]["spec"]
    cfg = agent_config(objs)

    assert c["command"] == ["/usr/bin/gadget-agent"]
    assert c["args"] == ["--config", "/etc/gadget/config.yaml"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert set(m["name"] for m in c["volumeMounts"]) == set(vols)
    assert vols[mounts["/etc/gadget"]["name"]]["configMap"]["name"] == "gadget-config"

    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["GADGET_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["HOST_ROOT"]["value"] == cfg["hostRoot"] == "/host"
    assert "nodeName" not in cfg  # NODE_NAME gives it
    assert cfg["gadgetNamespace"] == ds["metadata"]["namespace"] == "gadget"
    assert cfg["instanceConfigMapLabel"] == "type=gadget-instance"

    def host_mount(host_path):
        """The container mount that shows host_path under hostRoot, the most
        specific one, and the hostPath volume behind it."""
        best = None
        for path, m in mounts.items():
            hp = vols[m["name"]].get("hostPath", {}).get("path")
            if hp and path == cfg["hostRoot"] + hp and (host_path == hp or host_path.startswith(hp + "/")):
                if best is None or len(path) > len(best[0]):
                    best = (path, m)
        assert best, f"host path {host_path} is not mounted under {cfg['hostRoot']}"
        return best[1]

    # the runtimes' sockets are on the host, read through /host/run
    assert [r["name"] for r in cfg["runtimes"]] == ["containerd", "cri-o"]
    for rt in cfg["runtimes"]:
        host_mount(rt["socketPath"])
    host_mount("/proc/1/ns/mnt")
    host_mount("/sys/fs/cgroup/kubepods")
    # the control socket's directory is writable
    m = host_mount(cfg["listen"]["unixSocket"])
    assert not m.get("readOnly"), m
    assert vols[m["name"]]["hostPath"]["type"] == "DirectoryOrCreate"
    # the OCI store is on a writable host directory (kept across restarts)
    store = [p for p in mounts if cfg["oci"]["storeDir"].startswith(p + "/")]
    assert store and not mounts[store[0]].get("readOnly")
    assert "hostPath" in vols[mounts[store[0]]["name"]]
    for path in ("/sys/kernel/tracing", "/sys/kernel/debug", "/sys/fs/bpf"):
        assert vols[mounts[path]["name"]]["hostPath"]["path"] == path

    # control API on the pod's loopback only, health on the pod IP, probed
    assert cfg["listen"]["address"].startswith("127.0.0.1:")
    assert pod.get("hostNetwork") is False
    assert pod["hostPID"] is True
    port = int(cfg["health"]["address"].rsplit(":", 1)[1])
    assert c["ports"] == [{"name": "health", "containerPort": port, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"

    sc = c["securityContext"]
    assert sc["privileged"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE"} <= set(sc["capabilities"]["add"])
    assert sc["readOnlyRootFilesystem"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"memory": "256Mi"}}
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1}}
    sel = ds["spec"]["selector"]["matchLabels"]
    assert sel.items() <= ds["spec"]["template"]["metadata"]["labels"].items()


def doc_table(heading):
    """First column of the first table after `heading` in docs/agent.md,
    without backquotes."""
    with open(os.path.join(REPO, "docs", "agent.md")) as fh:
        text = fh.read()
    rest = text[text.index(heading):]
    rows = []
    for line in rest.splitlines():
        if line.startswith("|"):
            rows.append(line.split("|")[1].strip().strip("`"))
        elif rows:
            break
    return rows[2:]  # header and separator


def leaf_keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        if isinstance(v, dict):
            out |= leaf_keys(v, prefix + k + ".")
        else:
            out.add(prefix + k)
    return out


def test_docs_describe_what_deploy_sets():
    objs = deploy_docs()
    cfg = agent_config(objs)
    assert set(doc_table("### config.yaml")) == leaf_keys(cfg) | {"nodeName"}
    _, c = agent_container(objs)
    assert set(doc_table("| container path |")) == set(m["mountPath"] for m in c["volumeMounts"])


def test_rbac_is_least_privilege():
    objs = deploy_docs()
    cluster = one(objs, "ClusterRole", "gadget")
    for rule in cluster["rules"]:
        assert set(rule["verbs"]) == {"get", "list", "watch"}, rule
        assert not {"secrets", "pods/portforward", "pods/exec", "*"} & set(rule["resources"]), rule
    readable = {(g, r) for rule in cluster["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    for need in [("", "pods"), ("", "nodes"), ("", "namespaces"), ("", "services"),
                 ("discovery.k8s.io", "endpointslices"), ("apps", "replicasets"),
                 ("apps", "deployments"), ("batch", "jobs"), ("batch", "cronjobs")]:
        assert need in readable, need
    role = one(objs, "Role", "gadget")
    assert role["metadata"]["namespace"] == "gadget"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]
    for kind, ref in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        b = one(objs, kind, "gadget")
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": ref, "name": "gadget"}
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "gadget", "namespace": "gadget"}]
    ds, _ = agent_container(objs)
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "gadget"


# --- against the API server, with the real kubectl ---------------------------------


def test_kubectl_apply_deploy(apiserver):
    r = apiserver.kubectl("apply", "-f", DEPLOY)
    for what in ("namespace/gadget created", "serviceaccount/gadget created",
                 "clusterrole.rbac.authorization.k8s.io/gadget created",
                 "clusterrolebinding.rbac.authorization.k8s.io/gadget created",
                 "role.rbac.authorization.k8s.io/gadget created",
                 "rolebinding.rbac.authorization.k8s.io/gadget created",
                 "configmap/gadget-config created", "daemonset.apps/gadget created"):
        assert what in r.stdout, r.stdout

    r = apiserver.kubectl("get", "ds", "-n", "gadget")
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "DESIRED"]
    assert [ln.split()[0] for ln in lines[1:]] == ["gadget"]

    # what the server holds is what the files say
    ds = json.loads(apiserver.kubectl("get", "ds", "gadget", "-n", "gadget", "-o", "json").stdout)
    _, want = agent_container(deploy_docs())
    (got,) = ds["spec"]["template"]["spec"]["containers"]
    assert got["image"] == want["image"]
    assert got["securityContext"] == want["securityContext"]
    cm = json.loads(apiserver.kubectl("get", "cm", "gadget-config", "-n", "gadget", "-o", "json").stdout)
    assert yaml.safe_load(cm["data"]["config.yaml"]) == agent_config(deploy_docs())

    # applying again changes nothing
    r = apiserver.kubectl("apply", "-f", DEPLOY)
    assert "daemonset.apps/gadget unchanged" in r.stdout, r.stdout
    assert "configmap/gadget-config unchanged" in r.stdout, r.stdout


def test_helm_render_applies_and_instances_are_found_by_label(apiserver, tmp_path):
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump({"instances": [
        {"name": "opens", "image": "trace_open:latest", "params": {"failed": "true"}},
        {"name": "execs", "image": "trace_exec:latest", "nodes": ["n1"]}]}))
    text = helm("template", "gadget", CHART, "-f", str(f)).stdout
    apiserver.kubectl("apply", "-f", "-", input=text)
    # the agent's view: ConfigMaps with the configured label in its namespace
    sel = agent_config(deploy_docs())["instanceConfigMapLabel"]
    cms = json.loads(apiserver.kubectl("get", "cm", "-n", "gadget", "-l", sel, "-o", "json").stdout)
    names = sorted(i["metadata"]["name"] for i in cms["items"])
    assert names == ["execs", "opens"]
    for item in cms["items"]:
        inst = yaml.safe_load(item["data"]["instance.yaml"])
        assert inst["name"] == item["metadata"]["name"]
    r = apiserver.kubectl("get", "ds", "gadget", "-n", "gadget")
    assert r.stdout.splitlines()[1].split()[0] == "gadget"


def test_helm_install_and_upgrade(apiserver, tmp_path):
    env = dict(apiserver.env(), HELM_CACHE_HOME=str(tmp_path / "hc"),
               HELM_CONFIG_HOME=str(tmp_path / "hcfg"), HELM_DATA_HOME=str(tmp_path / "hd"))

    def run(*args):
        r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, f"helm {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r

    r = run("install", "gadget", CHART)
    assert "STATUS: deployed" in r.stdout
    assert "kubectl get daemonset gadget -n gadget" in r.stdout  # NOTES.txt

    def get(kind, name):
        return json.loads(apiserver.kubectl("get", kind, name, "-n", "gadget", "-o", "json").stdout)

    ds = get("ds", "gadget")
    assert ds["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    before = ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    run("upgrade", "gadget", CHART, "--set", "config.logLevel=debug")
    cfg = yaml.safe_load(get("cm", "gadget-config")["data"]["config.yaml"])
    assert cfg["logLevel"] == "debug"
    ds = get("ds", "gadget")
    assert ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != before
    r = run("list", "-A")
    assert "gadget" in r.stdout and "deployed" in r.stdout


def test_kubectl_refuses_a_broken_manifest(apiserver, tmp_path):
    # a DaemonSet for a namespace that does not exist: the server says which
    # and nothing is created
    bad = tmp_path / "bad.yaml"
    with open(os.path.join(DEPLOY, "30-daemonset.yaml")) as fh:
        ds = yaml.safe_load(fh)
    ds["metadata"]["namespace"] = "no-such-namespace"
    bad.write_text(yaml.safe_dump(ds))
    r = apiserver.kubectl("apply", "-f", str(bad), check=False)
    assert r.returncode != 0
    assert "no-such-namespace" in r.stderr, r.stderr
    r = apiserver.kubectl("get", "ds", "-A", "-o", "name")
    assert r.stdout.strip() == ""


# --- the agent's container image ---------------------------------------------------


def build_image(binary, out, name, extra=(), **kw):
    return subprocess.run([PYTHON, AGENT_IMAGE, "--binary", binary, "--name", name, "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=120, **kw)


def read_layout(path):
    """(index, manifest, config, layer members {name: TarInfo}) of a tarball."""
    with tarfile.open(path) as t:
        def blob(digest):
            return t.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()
        index = json.loads(t.extractfile("index.json").read())
        assert json.loads(t.extractfile("oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}
        mdesc = index["manifests"][0]
        manifest = json.loads(blob(mdesc["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        (ldesc,) = manifest["layers"]
        gz = blob(ldesc["digest"])
        raw = gzip.decompress(gz)
        assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
        with tarfile.open(fileobj=io.BytesIO(raw)) as lt:
            members = {m.name.rstrip("/"): m for m in lt.getmembers()}
        return index, manifest, config, members


def ldd_paths(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = set()
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            paths.add(m.group(1).lstrip("/"))
    return paths


# what the agent dlopen()s: libcurl (API server, registries), libarchive
DLOPEN = ["libcurl.so", "libarchive.so"]


def soname(lib):
    out = subprocess.run(["objdump", "-p", lib], capture_output=True, text=True).stdout
    return re.search(r"SONAME\s+(\S+)", out).group(1)


def dlopen_sonames():
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                               text=True).stdout.strip()
    return [soname(f"/usr/lib/{multiarch}/{lib}") for lib in DLOPEN]


def test_agent_image_layout(tmp_path):
    out = tmp_path / "a.tar"
    extra = [a for s in dlopen_sonames() for a in ("--dlopen", s)]
    r = build_image(IG, out, "gadget-agent:latest", extra=extra)
    assert r.returncode == 0, r.stderr
    index, manifest, config, members = read_layout(out)
    name = index["manifests"][0]["annotations"]["io.containerd.image.name"]
    assert name == "docker.io/library/gadget-agent:latest"
    assert r.stdout.split() == [name, index["manifests"][0]["digest"]]
    assert config["config"]["Entrypoint"] == ["/usr/bin/ig"]
    assert config["os"] == "linux"
    # every library the loader maps, and the loader itself
    libs = ldd_paths(IG)
    assert any("ld-linux" in lib for lib in libs)
    assert libs <= set(members), libs - set(members)
    # ... and the dlopen()ed libraries with everything they need
    for s in dlopen_sonames():
        found = [m for m in members if os.path.basename(m) == s]
        assert found, s
        deps = ldd_paths("/" + found[0])
        assert deps <= set(members), (s, deps - set(members))
    assert members["usr/bin/ig"].isfile() and members["usr/bin/ig"].mode & 0o111
    assert members["etc/ssl/certs/ca-certificates.crt"].size > 0
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["etc/passwd"].isfile() and members["etc/nsswitch.conf"].isfile()
    # deterministic: sorted, root-owned, time 0; a second build is identical
    names = list(members)
    assert names == sorted(names)
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    out2 = tmp_path / "b.tar"
    assert build_image(IG, out2, "gadget-agent:latest", extra=extra).returncode == 0
    assert out.read_bytes() == out2.read_bytes()

    # an independent client reads it as an OCI archive
    r = subprocess.run(["skopeo", "inspect", f"oci-archive:{out}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Digest"] == index["manifests"][0]["digest"]
    assert info["Os"] == "linux" and info["Architecture"] == config["architecture"]


def test_agent_image_bad_input(tmp_path):
    out = tmp_path / "x.tar"
    for binary, message in ((str(tmp_path / "missing"), "No such file"),
                            (os.path.join(REPO, "Makefile"), "not an ELF executable")):
        r = build_image(binary, out, "gadget-agent:latest")
        assert r.returncode == 1
        assert message in r.stderr and binary in r.stderr, r.stderr
        assert not os.listdir(tmp_path), "nothing is left behind"
    r = build_image(IG, out, "Bad Name")
    assert r.returncode == 1 and "invalid image name" in r.stderr
    assert not os.listdir(tmp_path)
    # a static binary needs no loader and no libraries
    r = build_image("/bin/busybox", out, "localhost/bb:1")
    assert r.returncode == 0, r.stderr
    index, _, config, members = read_layout(out)
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "localhost/bb:1"
    assert not [m for m in members if ".so" in m]
    assert config["config"]["Entrypoint"] == ["/usr/bin/busybox"]


class Events:
    """`ctr events` on the test's containerd, collected by a thread."""

    def __init__(self, socket):
        self.proc = subprocess.Popen([CTR_BIN, "--address", socket, "events"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line)

    def exit_status(self, container_id, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                lines = list(self.lines)
            for line in lines:
                if " /tasks/exit " not in line:
                    continue
                ev = json.loads(line[line.index("{"):])
                if ev.get("container_id") == container_id and ev.get("id") == container_id:
                    return ev.get("exit_status", 0)
            time.sleep(0.05)
        raise AssertionError(f"no exit event for {container_id}: {lines[-10:]}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.t.join(5)


def test_agent_image_runs_in_containerd(containerd, tmp_path):  # noqa: F811
    c = containerd
    tag = uuid.uuid4().hex[:8]
    out = tmp_path / "agent.tar"
    r = build_image(IG, out, f"gadget-agent-test:{tag}")
    assert r.returncode == 0, r.stderr
    full = f"docker.io/library/gadget-agent-test:{tag}"
    r = subprocess.run([CTR_BIN, "--address", c.socket, "-n", "k8s.io", "images", "import", str(out)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([CTR_BIN, "--address", c.socket, "-n", "k8s.io", "images", "ls", "-q"],
                       capture_output=True, text=True, timeout=30)
    assert full in r.stdout.split(), r.stdout

    events = Events(c.socket)
    try:
        time.sleep(0.3)  # the subscription is in place before anything exits
        pod = c.run_pod(f"agent-{tag}", "gadget")
        # the short name, as a DaemonSet's image: field would give it
        ok = c.create("agent", pod, ["/usr/bin/ig", "version"], image=f"gadget-agent-test:{tag}")
        c.start_container(ok)
        assert events.exit_status(ok) == 0
        # the exit status is ig's own: a bad command fails in the image too
        bad = c.create("bad", pod, ["/usr/bin/ig", "no-such-command"], image=f"gadget-agent-test:{tag}")
        c.start_container(bad)
        assert events.exit_status(bad) != 0
    finally:
        events.stop()

    # and what it prints there is what it prints here
    want = subprocess.run([IG, "version"], capture_output=True, text=True, timeout=30)
    r = subprocess.run([CTR_BIN, "--address", c.socket, "-n", "k8s.io", "run", "--rm",
                        "--runc-root", c.runc_root, full, f"agent-run-{tag}", "/usr/bin/ig", "version"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == want.stdout
    assert "libbpf" in r.stdout
