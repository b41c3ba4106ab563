# SPDX-License-Identifier: Apache-2.0
"""ig run --kubeconfig: records of a real containerd pod enriched from the
Kubernetes API (k8s.podLabels as the API has them now, k8s.owner.kind/name
with a ReplicaSet resolved to its Deployment), network endpoints named after
the pod, service or node behind their address, and the errors of a bad
kubeconfig or an API server that cannot be reached.

The pod runs in a private containerd (tests/integration/containerd.py); the
Pod, its ReplicaSet and Deployment, a Service and the Node live in the
stand-in API server (tests/integration/apiserver.py), relabelled with the real
kubectl, as a cluster's kubelet and controllers would have them.
"""

import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from apiserver import apiserver, make_apiserver  # noqa: F401  (fixtures)
from conftest import get, ig
from containerd import containerd  # noqa: F401  (module-scoped fixture)

LOOP = "while true; do /bin/true {m}; sleep 0.2; done"


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rt_args(c):
    return ["--runtimes", "containerd", "--containerd-socketpath", c.socket]


def with_marker(marker):
    return lambda recs: [r for r in recs if marker in (r.get("args") or "")]


def create(api, path, obj):
    status, out = api.json("POST", path, obj)
    assert status == 201, out
    return out


def owned_pod(api, ns, name, labels, cid=None):
    """A Deployment, its ReplicaSet and the ReplicaSet's pod, linked by
    ownerReferences the way the controllers link them."""
    api.kubectl("create", "namespace", ns)
    dep = create(api, f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    rs = create(api, f"/apis/apps/v1/namespaces/{ns}/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-7d9f8", "namespace": ns, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
            "uid": dep["metadata"]["uid"], "controller": True}]},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    create(api, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8",
            "uid": rs["metadata"]["uid"], "controller": True}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})
    if cid:
        # what the kubelet reports once the container runs
        status, out = api.json(
            "PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
            {"status": {"phase": "Running", "containerStatuses": [{
                "name": "c", "containerID": f"containerd://{cid}", "ready": True,
                "restartCount": 0, "image": "busybox", "imageID": "",
                "state": {"running": {}}}]}},
            headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, out


@pytest.fixture
def pod(containerd):  # noqa: F811
    """A containerd pod running a marker loop; removed afterwards."""
    c = containerd
    ns, name, marker = uid("shop"), uid("web"), uid("MARK")
    labels = {"app": "web", "tier": "front"}
    pid = c.run_pod(name, ns, labels=labels)
    cid = c.run_container("c", pid, ["/bin/sh", "-c", LOOP.format(m=marker)])
    yield {"ns": ns, "name": name, "marker": marker, "labels": labels, "cid": cid}
    c.remove_container(cid)
    c.remove_pod(pid)


def test_pod_labels_and_owner_from_the_api(containerd, apiserver, pod, ig_run):  # noqa: F811
    api = apiserver
    owned_pod(api, pod["ns"], pod["name"], pod["labels"], cid=pod["cid"])
    run = ig_run("trace_exec", "-o", "json", "--kubeconfig", api.kubeconfig,
                 "--k8s-podname", pod["name"], *rt_args(containerd))
    rec = run.wait_for(with_marker(pod["marker"]))[0]
    assert get(rec, "k8s.namespace") == pod["ns"]
    assert get(rec, "k8s.podName") == pod["name"]
    assert get(rec, "k8s.podLabels") == "app=web,tier=front"
    assert get(rec, "k8s.owner.kind") == "Deployment"
    assert get(rec, "k8s.owner.name") == "web"

    # relabelled through the API: the next records say so
    api.kubectl("label", "pod", pod["name"], "-n", pod["ns"], "tier=gold", "canary=yes",
                "--overwrite")
    rec = run.wait_for(lambda recs: [r for r in with_marker(pod["marker"])(recs)
                                     if "tier=gold" in get(r, "k8s.podLabels")])[0]
    assert get(rec, "k8s.podLabels") == "app=web,canary=yes,tier=gold"
    assert get(rec, "k8s.owner.kind") == "Deployment"
    assert run.stop() == 0
    assert not [line for line in run.err_lines if line.strip()], run.err_lines

    # the table keeps the owner out of the way unless asked for
    r = ig("run", "trace_exec", "-t", "1500ms", "--kubeconfig", api.kubeconfig,
           "--k8s-podname", pod["name"], "--fields", "+k8s.owner.kind,k8s.owner.name",
           *rt_args(containerd))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header[-2:] == ["K8S.OWNER.KIND", "K8S.OWNER.NAME"] and "K8S.PODLABELS" not in header
    rows = [line.split() for line in r.stdout.splitlines() if pod["marker"] in line]
    assert rows and rows[0][-2:] == ["Deployment", "web"], r.stdout


def test_pod_unknown_to_the_api_keeps_runtime_labels(containerd, apiserver, pod,  # noqa: F811
                                                     ig_run):
    run = ig_run("trace_exec", "-o", "json", "--kubeconfig", apiserver.kubeconfig,
                 "--k8s-podname", pod["name"], *rt_args(containerd))
    rec = run.wait_for(with_marker(pod["marker"]))[0]
    assert sorted(get(rec, "k8s.podLabels").split(",")) == ["app=web", "tier=front"]
    assert get(rec, "k8s.owner.kind") == "" and get(rec, "k8s.owner.name") == ""
    assert run.stop() == 0


@pytest.mark.parametrize("node,owner", [("n1", "Deployment"), ("n2", "")])
def test_node_name_watches_only_that_nodes_pods(containerd, apiserver, pod, ig_run,  # noqa: F811
                                                node, owner):
    # the API pod runs on n1: an ig told it is on n2 does not see it
    owned_pod(apiserver, pod["ns"], pod["name"], pod["labels"])
    run = ig_run("trace_exec", "-o", "json", "--kubeconfig", apiserver.kubeconfig,
                 "--k8s-podname", pod["name"], *rt_args(containerd), env={"NODE_NAME": node})
    rec = run.wait_for(with_marker(pod["marker"]))[0]
    assert get(rec, "k8s.owner.kind") == owner
    assert run.stop() == 0


def test_without_kubeconfig_no_api_fields(containerd, pod, ig_run):  # noqa: F811
    run = ig_run("trace_exec", "-o", "json", "--k8s-podname", pod["name"],
                 *rt_args(containerd), env={"KUBECONFIG": "/nonexistent/kubeconfig"})
    rec = run.wait_for(with_marker(pod["marker"]))[0]
    assert get(rec, "k8s.owner") is None
    assert run.stop() == 0


class Listener:
    """A TCP server on addr that accepts and closes, in a thread."""

    def __init__(self, addr):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.bind((addr, 0))
        self.s.listen(64)
        self.port = self.s.getsockname()[1]
        self.stopped = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.s.accept()
                c.close()
            except OSError:
                return

    def close(self):
        self.stopped = True
        self.s.close()


def connect(addr, port):
    code = (f"import socket\ns=socket.create_connection(('{addr}',{port}))\n"
            "s.recv(1)\ns.close()")
    subprocess.run([sys.executable, "-c", code], timeout=10)


def test_endpoints_named_after_service_pod_and_node(make_apiserver, ig_run):  # noqa: F811
    # n1's InternalIP is 127.0.0.1, the source of every loopback connection
    api = make_apiserver(nodes=("n1",))
    ns = uid("net")
    api.kubectl("create", "namespace", ns)
    create(api, f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": ns},
        "spec": {"clusterIP": "127.0.0.2", "ports": [{"port": 5432}]}})
    api.create_pod(ns, "cache-0", labels={"app": "cache"}, node="n1", ip="127.0.0.3")
    svc, pod = Listener("127.0.0.2"), Listener("127.0.0.3")
    try:
        run = ig_run("trace_tcp", "-o", "json", "--kubeconfig", api.kubeconfig)

        def connected(port):
            return lambda recs: [r for r in recs if r.get("type") == "connect"
                                 and get(r, "dst.port") == port]

        rec = run.wait_for(connected(svc.port), lambda: connect("127.0.0.2", svc.port))[0]
        assert get(rec, "dst.addr") == "127.0.0.2"
        assert get(rec, "dst.k8s") == {"kind": "Service", "name": "db", "namespace": ns}
        assert get(rec, "src.k8s") == {"kind": "Node", "name": "n1", "namespace": ""}

        rec = run.wait_for(connected(pod.port), lambda: connect("127.0.0.3", pod.port))[0]
        assert get(rec, "dst.k8s") == {"kind": "Pod", "name": "cache-0", "namespace": ns}
        assert run.stop() == 0
    finally:
        svc.close()
        pod.close()

    # columns: the endpoint's names are fields of their own
    svc = Listener("127.0.0.2")
    try:
        run = ig_run("trace_tcp", "--kubeconfig", api.kubeconfig, "--fields",
                     "type,dst,dst.k8s.kind,dst.k8s.name,dst.k8s.namespace",
                     "-F", "dst.k8s.name==db")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            connect("127.0.0.2", svc.port)
            rows = [line.split() for line in run.snapshot()[1:] if "db" in line.split()]
            if rows:
                break
            time.sleep(0.3)
        assert run.snapshot()[0].split() == ["TYPE", "DST", "DST.K8S.KIND", "DST.K8S.NAME",
                                             "DST.K8S.NAMESPACE"]
        assert rows and rows[0][2:] == ["Service", "db", ns], run.snapshot()
        assert all(line.split()[3] == "db" for line in run.snapshot()[1:])
        assert run.stop() == 0
    finally:
        svc.close()


def assert_one_line_error(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_kubeconfig(tmp_path):
    path = str(tmp_path / "nope" / "kubeconfig")
    assert_one_line_error(ig("run", "trace_exec", "--kubeconfig", path, "-t", "1"), path)


def test_broken_kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters: [oops\n")
    assert_one_line_error(ig("run", "trace_exec", "--kubeconfig", str(path), "-t", "1"),
                          str(path))


def test_unknown_context(apiserver):  # noqa: F811
    r = ig("run", "trace_exec", "--kubeconfig", apiserver.kubeconfig, "--context", "nosuch",
           "-t", "1")
    assert_one_line_error(r, "nosuch")


def test_unreachable_api_server(apiserver):  # noqa: F811
    url = apiserver.url
    apiserver.stop()
    t0 = time.monotonic()
    r = ig("run", "trace_exec", "--kubeconfig", apiserver.kubeconfig, "-t", "1")
    assert_one_line_error(r, url, "cannot reach")
    assert time.monotonic() - t0 < 8


def test_rejected_token(apiserver, tmp_path):  # noqa: F811
    text = open(apiserver.kubeconfig).read().replace(apiserver.token, "not-the-token")
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(text)
    r = ig("run", "trace_exec", "--kubeconfig", str(bad), "-t", "1")
    assert_one_line_error(r, apiserver.url, "401")


def test_context_needs_kubeconfig():
    r = ig("run", "trace_exec", "--context", "x", "-t", "1")
    assert r.returncode == 2 and "--kubeconfig" in r.stderr, r.stderr
