# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes API client (k8s/) against the stand-in API server over real
TLS, driven through tests/helpers/k8s_tool: kubeconfig handling, lists with
pagination, list+watch caches through changes made by the real kubectl,
server restarts, compaction (410 Gone), cut connections, authentication
errors, in-cluster token rotation, owner resolution and IP lookups."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from apiserver import apiserver, make_apiserver  # noqa: F401  (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("K8S_TOOL", os.path.join(REPO, "build", "tests", "k8s_tool"))


def tool(*args, env=None, timeout=60):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=timeout, env=e)


class CacheRun:
    """k8s_tool cache in the background; its stdout lines are collected."""

    def __init__(self, args, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([TOOL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=e, start_new_session=True)
        self.lines, self.err = [], []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines)),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    def _pump(self, f, dst):
        for line in f:
            with self._lock:
                dst.append(line.rstrip("\n"))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def wait_for(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.snapshot()
            if pred(lines):
                return lines
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("condition not met; stdout:\n" + "\n".join(self.snapshot()[-40:])
                             + "\nstderr:\n" + "\n".join(self.err[-40:]))

    def wait_line(self, line, timeout=20):
        return self.wait_for(lambda lines: line in lines, timeout)

    def handler_lines(self):
        return [l for l in self.snapshot() if l.split(" ")[0] in ("ADD", "UPDATE", "DELETE")]

    def dump(self, timeout=10):
        """Asks for a dump (SIGUSR1); returns ({key: fields}, stats) of the newest one."""
        n = self.snapshot().count("DUMP END")
        self.proc.send_signal(signal.SIGUSR1)
        lines = self.wait_for(lambda ls: ls.count("DUMP END") > n and ls[-1].startswith("STATS"), timeout)
        end = len(lines) - 1 - lines[::-1].index("DUMP END")
        begin = end - 1 - lines[end - 1::-1].index("DUMP BEGIN")
        objs = {}
        for l in lines[begin + 1:end]:
            parts = l.split(" ")
            fields = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
            fields["rv"] = parts[2]
            objs[parts[1]] = fields
        stats = dict(p.split("=") for p in lines[end + 1].split(" ")[1:])
        return objs, {k: int(v) for k, v in stats.items()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(5)
        return self.proc.returncode


@pytest.fixture
def cache_run():
    runs = []

    def start(*args, env=None):
        r = CacheRun(args, env)
        runs.append(r)
        return r
    yield start
    for r in runs:
        rc = r.stop()
        # a clean exit: handlers done, thread joined, nothing leaked (under ASan)
        assert rc == 0, "\n".join(r.err[-40:])


def pod_yaml(name, ns="default", node=None, labels=None):
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                          "labels": labels or {}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    if node:
        doc["spec"]["nodeName"] = node
    return json.dumps(doc)


def assert_no_duplicates(run):
    """Every (verb, key, resourceVersion) handler call happens once."""
    calls = run.handler_lines()
    assert len(calls) == len(set(calls)), calls
    return calls


def kubectl_pods(api, ns="default"):
    r = api.kubectl("get", "pods", "-n", ns, "-o", "json")
    return {f"{ns}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
            for p in json.loads(r.stdout)["items"]}


# --- kubeconfig -----------------------------------------------------------------

def test_get_with_kubeconfig_and_tls(apiserver):
    r = tool("--kubeconfig", apiserver.kubeconfig, "get", "/api/v1/namespaces/default")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["kind"] == "Namespace" and obj["metadata"]["name"] == "default"

    r = tool("--kubeconfig", apiserver.kubeconfig, "get", "/api/v1/namespaces/nope")
    assert r.returncode == 1
    assert '404 Not Found: namespaces "nope" not found' in r.stderr


def test_kubeconfig_merged_from_two_files(apiserver, tmp_path):
    """KUBECONFIG=a:b: clusters and contexts from one file, the user from the
    other; the first file's current-context wins over the second's."""
    text = open(apiserver.kubeconfig).read()
    users_at = text.index("users:")
    contexts_at = text.index("contexts:")
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.write_text(text[:users_at] + text[contexts_at:])
    b.write_text(text[users_at:contexts_at] + "current-context: other\n")
    env = {"KUBECONFIG": f"{tmp_path}/missing:{a}:{b}"}
    r = tool("list", "/api/v1/namespaces", env=env)
    assert r.returncode == 0, r.stderr
    assert "kube-system" in r.stdout.split("\n")

    # a context given explicitly must exist
    r = tool("--context", "nosuch", "list", "/api/v1/namespaces", env=env)
    assert r.returncode == 1
    assert 'context "nosuch" not found' in r.stderr


def test_malformed_kubeconfig_names_file_and_line(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nclusters:\n- name: x\n  cluster: {server: [\n")
    r = tool("--kubeconfig", str(bad), "list", "/api/v1/pods")
    assert r.returncode == 1
    assert str(bad) in r.stderr and "invalid YAML" in r.stderr
    assert re.search(re.escape(str(bad)) + r":\d+:", r.stderr)

    bad.write_text("clusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\n"
                   "    certificate-authority-data: '***'\n")
    r = tool("--kubeconfig", str(bad), "list", "/api/v1/pods")
    assert r.returncode == 1
    assert f"{bad}:5: certificate-authority-data: invalid base64" in r.stderr

    r = tool("--kubeconfig", str(tmp_path / "absent"), "list", "/api/v1/pods")
    assert r.returncode == 1 and str(tmp_path / "absent") in r.stderr


def test_wrong_token_is_unauthorized(apiserver, tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(open(apiserver.kubeconfig).read().replace(apiserver.token, "not-the-token"))
    r = tool("--kubeconfig", str(kc), "list", "/api/v1/pods")
    assert r.returncode == 1
    assert "401 Unauthorized" in r.stderr

    # a cache reports it at once rather than retrying silently
    t0 = time.monotonic()
    r = tool("--kubeconfig", str(kc), "cache", "pods")
    assert r.returncode == 1 and "Unauthorized" in r.stderr
    assert time.monotonic() - t0 < 10


def test_untrusted_server_certificate_refused(apiserver, tmp_path):
    """TLS is verified: a kubeconfig trusting another CA fails."""
    other = tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(tmp_path / "k"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    text = open(apiserver.kubeconfig).read()
    text = re.sub(r"certificate-authority-data: \S+", f"certificate-authority: {other}", text)
    kc = tmp_path / "kc"
    kc.write_text(text)
    r = tool("--kubeconfig", str(kc), "list", "/api/v1/pods")
    assert r.returncode == 1 and "127.0.0.1" in r.stderr

    kc.write_text(re.sub(r"certificate-authority: \S+", "insecure-skip-tls-verify: true", text))
    r = tool("--kubeconfig", str(kc), "list", "/api/v1/namespaces")
    assert r.returncode == 0, r.stderr


# --- lists ------------------------------------------------------------------------

def test_list_paginates(apiserver):
    apiserver.kubectl("create", "namespace", "pg")
    names = [f"p{i}" for i in range(7)]
    for n in names:
        apiserver.create_pod("pg", n, labels={"app": "a" if n < "p4" else "b"})
    r = tool("-v", "--kubeconfig", apiserver.kubeconfig, "list", "/api/v1/namespaces/pg/pods",
             "--limit", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert sorted(lines[:-1]) == [f"pg/{n}" for n in names]
    pages = re.findall(r"list page (\d+): GET (\S+)", r.stderr)
    assert [p[0] for p in pages] == ["1", "2", "3"]
    assert "continue=" not in pages[0][1] and "continue=" in pages[1][1]
    rv = lines[-1].split(" ")[1]
    assert int(rv) >= 7

    r = tool("--kubeconfig", apiserver.kubeconfig, "list", "/api/v1/pods", "--label-selector",
             "app=b", "--limit", "2")
    assert sorted(r.stdout.strip().split("\n")[:-1]) == ["pg/p4", "pg/p5", "pg/p6"]


# --- caches -----------------------------------------------------------------------

def test_cache_sees_kubectl_changes(apiserver, cache_run):
    run = cache_run("--kubeconfig", apiserver.kubeconfig, "cache", "pods",
                    "--field-selector", "spec.nodeName=n1")
    run.wait_line("SYNCED")
    apiserver.kubectl("apply", "-f", "-", input=pod_yaml("web", node="n1", labels={"app": "web"}))
    apiserver.kubectl("apply", "-f", "-", input=pod_yaml("other", node="n2"))
    apiserver.kubectl("label", "pod", "web", "tier=front")
    apiserver.kubectl("delete", "pod", "web", "--wait=false")
    run.wait_for(lambda ls: any(l.startswith("DELETE default/web ") for l in ls))
    verbs = [l.split(" ")[0] + " " + l.split(" ")[1] for l in assert_no_duplicates(run)]
    assert verbs == ["ADD default/web", "UPDATE default/web", "DELETE default/web"]
    objs, _ = run.dump()
    # the deleted pod stays findable for a while, with its last labels
    assert objs["default/web"]["deleted"] == "1"
    assert objs["default/web"]["labels"] == "app=web,tier=front"
    assert "default/other" not in objs


def test_cache_survives_server_restart(apiserver, cache_run):
    run = cache_run("--kubeconfig", apiserver.kubeconfig, "cache", "pods", "--backoff-max-ms", "500")
    run.wait_line("SYNCED")
    apiserver.create_pod("default", "a")
    apiserver.create_pod("default", "b")
    run.wait_for(lambda ls: any(l.startswith("ADD default/b ") for l in ls))
    apiserver.restart()
    # changes made right after the restart, possibly before the client is back
    apiserver.create_pod("default", "c")
    apiserver.kubectl("label", "pod", "a", "x=1")
    apiserver.kubectl("delete", "pod", "b", "--wait=false")
    run.wait_for(lambda ls: any(l.startswith("DELETE default/b ") for l in ls)
                 and any(l.startswith("ADD default/c ") for l in ls)
                 and any(l.startswith("UPDATE default/a ") for l in ls))
    calls = assert_no_duplicates(run)
    assert [c.rsplit(" ", 1)[0] for c in calls] == [
        "ADD default/a", "ADD default/b", "ADD default/c", "UPDATE default/a", "DELETE default/b"]
    objs, stats = run.dump()
    assert stats["reconnects"] >= 1
    live = {k: v["rv"] for k, v in objs.items() if v["deleted"] == "0"}
    assert live == kubectl_pods(apiserver)


def test_cache_relists_after_compaction(apiserver, cache_run):
    """The client is away while things change and the history is compacted:
    its watch gets 410 Gone, it relists, and reports what it missed."""
    run = cache_run("--kubeconfig", apiserver.kubeconfig, "cache", "pods", "--backoff-max-ms", "500")
    run.wait_line("SYNCED")
    for n in ("keep", "gone", "changed"):
        apiserver.create_pod("default", n)
    run.wait_for(lambda ls: any(l.startswith("ADD default/changed ") for l in ls))
    run.proc.send_signal(signal.SIGSTOP)
    try:
        status, obj = apiserver.json("POST", "/_test/cut-watches")
        assert status == 200 and obj["cut"] >= 1
        time.sleep(0.5)
        apiserver.kubectl("delete", "pod", "gone", "--wait=false")
        apiserver.kubectl("label", "pod", "changed", "v=2")
        apiserver.create_pod("default", "new")
        status, _ = apiserver.json("POST", "/_test/compact")
        assert status == 200
    finally:
        run.proc.send_signal(signal.SIGCONT)
    run.wait_for(lambda ls: any(l.startswith("ADD default/new ") for l in ls))
    calls = assert_no_duplicates(run)
    after = [c.rsplit(" ", 1)[0] for c in calls[3:]]
    assert sorted(after) == ["ADD default/new", "DELETE default/gone", "UPDATE default/changed"]
    objs, stats = run.dump()
    assert stats["relists_gone"] == 1 and stats["lists"] == 2
    live = {k: v["rv"] for k, v in objs.items() if v["deleted"] == "0"}
    assert live == kubectl_pods(apiserver)
    assert objs["default/gone"]["deleted"] == "1"


def test_cache_connection_cut_mid_event(apiserver, cache_run):
    run = cache_run("--kubeconfig", apiserver.kubeconfig, "cache", "pods", "--backoff-max-ms", "300")
    run.wait_line("SYNCED")
    apiserver.create_pod("default", "before")
    run.wait_for(lambda ls: any(l.startswith("ADD default/before ") for l in ls))
    for i in range(3):
        status, obj = apiserver.json("POST", "/_test/cut-watches?mid=1")
        assert status == 200
        apiserver.create_pod("default", f"after{i}")
        apiserver.kubectl("label", "--overwrite", "pod", "before", f"round={i}")
    run.wait_for(lambda ls: sum(l.startswith("UPDATE default/before ") for l in ls) == 3
                 and any(l.startswith("ADD default/after2 ") for l in ls))
    time.sleep(0.5)
    calls = assert_no_duplicates(run)
    assert sum(c.startswith("ADD ") for c in calls) == 4
    objs, stats = run.dump()
    assert stats["partial_dropped"] >= 1 and stats["decode_errors"] == 0
    assert objs["default/before"]["labels"] == "round=2"
    live = {k: v["rv"] for k, v in objs.items() if v["deleted"] == "0"}
    assert live == kubectl_pods(apiserver)


def test_in_cluster_token_rotation(make_apiserver, tmp_path, cache_run):
    """In a pod: the service account token file is rotated; the old token is
    then refused by the server and the client carries on with the new one."""
    tokens = tmp_path / "tokens"
    tokens.write_text('tok-one,sa,u1,"system:masters"\ntok-two,sa,u1,"system:masters"\n')
    api = make_apiserver(token_file=str(tokens))
    root = tmp_path / "root"
    sa = root / "var/run/secrets/kubernetes.io/serviceaccount"
    sa.mkdir(parents=True)
    (sa / "token").write_text("tok-one")
    (sa / "namespace").write_text("default\n")
    (sa / "ca.crt").write_bytes(open(api.ca, "rb").read())
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}
    args = ["--in-cluster", "--root", str(root), "--token-recheck", "1"]

    r = tool(*args, "get", "/api/v1/namespaces/default", env=env)
    assert r.returncode == 0, r.stderr

    run = cache_run(*args, "cache", "pods", "--backoff-max-ms", "500", env=env)
    run.wait_line("SYNCED")
    api.create_pod("default", "p1")
    run.wait_for(lambda ls: any(l.startswith("ADD default/p1 ") for l in ls))

    # the kubelet swaps the file; then the server stops accepting the old one
    new = sa / "token.new"
    new.write_text("tok-two\n")
    os.replace(new, sa / "token")
    tokens.write_text('tok-two,sa,u1,"system:masters"\n')
    api.restart()
    r = tool("--in-cluster", "--root", str(tmp_path), "get", "/api/v1/pods", env=env)
    assert r.returncode == 1  # no token file there at all
    api.create_pod("default", "p2")
    run.wait_for(lambda ls: any(l.startswith("ADD default/p2 ") for l in ls))
    assert_no_duplicates(run)

    (sa / "token").write_text("tok-one")
    r = tool(*args, "get", "/api/v1/pods", env=env)
    assert r.returncode == 1 and "401 Unauthorized" in r.stderr


# --- enrichment lookups -------------------------------------------------------------

def test_owner_resolution(apiserver):
    api = apiserver
    status, dep = api.json("POST", "/apis/apps/v1/namespaces/default/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert status == 201, dep
    status, rs = api.json("POST", "/apis/apps/v1/namespaces/default/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5d4f", "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
            "uid": dep["metadata"]["uid"], "controller": True}]},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert status == 201, rs
    pod = json.loads(pod_yaml("web-5d4f-x1", labels={"app": "web"}))
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                           "name": "web-5d4f", "uid": rs["metadata"]["uid"],
                                           "controller": True}]
    status, obj = api.json("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, obj
    # a pod whose ReplicaSet is gone keeps the ReplicaSet as its owner
    pod["metadata"]["name"] = "orphan"
    pod["metadata"]["ownerReferences"][0]["name"] = "web-gone"
    status, obj = api.json("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, obj

    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--pod", "default/web-5d4f-x1")
    assert r.returncode == 0, r.stderr
    assert "owner=Deployment/web " in r.stdout and "labels=app=web " in r.stdout
    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--pod", "default/orphan")
    assert "owner=ReplicaSet/web-gone " in r.stdout


def test_lookup_by_ip(apiserver):
    api = apiserver
    api.create_pod("default", "db", labels={"app": "db"}, node="n1", ip="10.244.0.7")
    status, svc = api.json("POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    assert status == 201, svc
    cluster_ip = svc["spec"]["clusterIP"]

    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--ip", "10.244.0.7")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("kind=Pod namespace=default name=db labels=app=db ")
    assert "node=n1 " in r.stdout

    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--ip", cluster_ip)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("kind=Service namespace=default name=db ")

    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--ip", "10.9.9.9")
    assert r.returncode == 1 and "nothing found for 10.9.9.9" in r.stderr

    # a pod on the host network shares the node's IP: never found by it
    status, obj = api.json("POST", "/api/v1/namespaces/default/pods", json.loads(
        pod_yaml("hostnet", node="n1")) | {"spec": {"hostNetwork": True, "nodeName": "n1",
                                                     "containers": [{"name": "c", "image": "b"}]}})
    assert status == 201, obj
    status, obj = api.json("PATCH", "/api/v1/namespaces/default/pods/hostnet/status",
                           {"status": {"podIP": "10.244.0.99", "podIPs": [{"ip": "10.244.0.99"}]}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, obj
    r = tool("--kubeconfig", api.kubeconfig, "enrich", "--ip", "10.244.0.99")
    assert r.returncode == 1


def test_lookup_by_container_id(apiserver):
    api = apiserver
    api.create_pod("default", "app", labels={"app": "x"})
    cid = "a" * 64
    status, obj = api.json("PATCH", "/api/v1/namespaces/default/pods/app/status", {"status": {
        "containerStatuses": [{"name": "c", "containerID": f"containerd://{cid}", "ready": True,
                               "restartCount": 0, "image": "busybox", "imageID": "",
                               "state": {"running": {}}}]}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, obj
    for key in (cid, f"containerd://{cid}"):
        r = tool("--kubeconfig", api.kubeconfig, "enrich", "--container-id", key)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("kind=Pod namespace=default name=app labels=app=x ")
