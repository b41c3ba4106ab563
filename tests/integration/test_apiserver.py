# SPDX-License-Identifier: Apache-2.0
"""The stand-in API server, checked with the real kubectl client and plain
HTTPS: discovery, create/apply/get/list/watch/patch/delete, selectors,
pagination, resourceVersion semantics (410 Gone after compaction), restarts
with a data directory, bearer tokens and pods/portforward."""

import base64
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

# the apiserver and make_apiserver fixtures
pytest_plugins = ["apiserver"]

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: gadget
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gadget
  namespace: gadget
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: gadget-config
  namespace: gadget
data:
  config.yaml: "operator: {}"
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gadget-cluster-role
rules:
- apiGroups: [""]
  resources: ["pods", "nodes", "namespaces"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gadget-cluster-role-binding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: gadget-cluster-role
subjects:
- kind: ServiceAccount
  name: gadget
  namespace: gadget
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: gadget
  namespace: gadget
spec:
  selector:
    matchLabels: {k8s-app: gadget}
  template:
    metadata:
      labels: {k8s-app: gadget}
    spec:
      serviceAccountName: gadget
      containers:
      - name: gadget
        image: IMAGE
        env:
        - {name: A, value: "1"}
      - name: sidecar
        image: busybox
"""


def names(out):
    """First column of kubectl's table output, header skipped."""
    return [line.split()[0] for line in out.strip().splitlines()[1:] if line.strip()]


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- discovery and basics -----------------------------------------------------

def test_version_and_namespaces(apiserver):
    out = apiserver.kubectl("version").stdout
    assert "Server Version: v1.33" in out
    ns = names(apiserver.kubectl("get", "ns").stdout)
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(ns)
    assert names(apiserver.kubectl("get", "no").stdout) == ["n1", "n2"]
    assert "pods" in apiserver.kubectl("api-resources").stdout


def test_legacy_discovery_documents(apiserver):
    status, v1 = apiserver.json("GET", "/api/v1")
    assert status == 200 and v1["kind"] == "APIResourceList"
    pods = next(r for r in v1["resources"] if r["name"] == "pods")
    assert pods["namespaced"] and pods["kind"] == "Pod" and "po" in pods["shortNames"]
    assert "watch" in pods["verbs"]
    assert any(r["name"] == "pods/portforward" for r in v1["resources"])
    status, groups = apiserver.json("GET", "/apis")
    assert {"apps", "rbac.authorization.k8s.io", "discovery.k8s.io", "batch"} <= \
        {g["name"] for g in groups["groups"]}
    status, apps = apiserver.json("GET", "/apis/apps/v1")
    ds = next(r for r in apps["resources"] if r["name"] == "daemonsets")
    assert ds["shortNames"] == ["ds"] and ds["kind"] == "DaemonSet"
    status, _ = apiserver.json("GET", "/apis/nosuch.group/v1")
    assert status == 404


def test_create_namespace_and_already_exists(apiserver):
    assert "namespace/demo created" in apiserver.kubectl("create", "ns", "demo").stdout
    ns = json.loads(apiserver.kubectl("get", "ns", "demo", "-o", "json").stdout)
    assert ns["status"]["phase"] == "Active" and ns["metadata"]["uid"]
    r = apiserver.kubectl("create", "ns", "demo", check=False)
    assert r.returncode != 0 and 'namespaces "demo" already exists' in r.stderr


def test_get_missing_is_not_found(apiserver):
    r = apiserver.kubectl("get", "pod", "nope", check=False)
    assert r.returncode != 0 and 'pods "nope" not found' in r.stderr
    status, body = apiserver.json("GET", "/api/v1/namespaces/default/pods/nope")
    assert status == 404 and body["reason"] == "NotFound" and body["details"]["name"] == "nope"


def test_apply_manifest(apiserver, tmp_path):
    m = tmp_path / "gadget.yaml"
    m.write_text(MANIFEST.replace("IMAGE", "ghcr.io/example/gadget:v1"))
    out = apiserver.kubectl("apply", "-f", str(m)).stdout
    for what in ("namespace/gadget created", "serviceaccount/gadget created", "configmap/gadget-config created",
                 "clusterrole.rbac.authorization.k8s.io/gadget-cluster-role created",
                 "clusterrolebinding.rbac.authorization.k8s.io/gadget-cluster-role-binding created",
                 "daemonset.apps/gadget created"):
        assert what in out
    assert names(apiserver.kubectl("get", "ds", "-n", "gadget").stdout) == ["gadget"]
    # unchanged manifest: nothing to do; changed image: a strategic merge patch
    assert "daemonset.apps/gadget unchanged" in apiserver.kubectl("apply", "-f", str(m)).stdout
    m.write_text(MANIFEST.replace("IMAGE", "ghcr.io/example/gadget:v2").replace('value: "1"', 'value: "2"'))
    assert "daemonset.apps/gadget configured" in apiserver.kubectl("apply", "-f", str(m)).stdout
    ds = json.loads(apiserver.kubectl("get", "ds", "gadget", "-n", "gadget", "-o", "json").stdout)
    cs = ds["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["gadget", "sidecar"]
    assert cs[0]["image"] == "ghcr.io/example/gadget:v2" and cs[0]["env"] == [{"name": "A", "value": "2"}]
    assert ds["metadata"]["generation"] == 2
    out = apiserver.kubectl("apply", "--server-side", "-f", str(m)).stdout
    assert "daemonset.apps/gadget serverside-applied" in out
    assert "gadget-config" in apiserver.kubectl("get", "cm", "-n", "gadget").stdout


def test_patch_types_and_status_subresource(apiserver):
    apiserver.create_pod("default", "pp", labels={"a": "1"})
    apiserver.kubectl("patch", "pod", "pp", "--type=merge", "-p", '{"metadata":{"labels":{"b":"2"}}}')
    apiserver.kubectl("patch", "pod", "pp", "--type=json", "-p",
                      '[{"op":"remove","path":"/metadata/labels/a"}]')
    apiserver.kubectl("patch", "pod", "pp", "-p", '{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}')
    pod = apiserver.json("GET", "/api/v1/namespaces/default/pods/pp")[1]
    assert pod["metadata"]["labels"] == {"b": "2"}
    assert pod["spec"]["containers"][0]["image"] == "busybox:2"
    # status written through the main resource is ignored, through /status kept
    pod["status"]["phase"] = "Running"
    status, upd = apiserver.json("PUT", "/api/v1/namespaces/default/pods/pp", pod)
    assert status == 200 and upd["status"]["phase"] == "Pending"
    r = apiserver.kubectl("patch", "pod", "pp", "--subresource=status", "--type=merge",
                          "-p", '{"status":{"phase":"Running","podIP":"10.0.0.7"}}')
    assert r.returncode == 0
    assert apiserver.kubectl("get", "pod", "pp", "-o", "jsonpath={.status.podIP}").stdout == "10.0.0.7"
    status, body = apiserver.json("PATCH", "/api/v1/namespaces/default/pods/pp", [{"op": "test", "path":
                                  "/metadata/name", "value": "other"}],
                                  headers={"Content-Type": "application/json-patch+json"})
    assert status == 422
    status, body = apiserver.json("PATCH", "/api/v1/namespaces/default/pods/pp", {"a": 1},
                                  headers={"Content-Type": "text/plain"})
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_update_conflict(apiserver):
    apiserver.kubectl("create", "configmap", "cm1", "--from-literal=k=v1")
    status, cm = apiserver.json("GET", "/api/v1/namespaces/default/configmaps/cm1")
    stale = json.loads(json.dumps(cm))
    cm["data"]["k"] = "v2"
    status, new = apiserver.json("PUT", "/api/v1/namespaces/default/configmaps/cm1", cm)
    assert status == 200 and int(new["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
    stale["data"]["k"] = "v3"
    status, body = apiserver.json("PUT", "/api/v1/namespaces/default/configmaps/cm1", stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert 'Operation cannot be fulfilled on configmaps "cm1"' in body["message"]
    assert apiserver.json("GET", "/api/v1/namespaces/default/configmaps/cm1")[1]["data"]["k"] == "v2"


def test_bad_input_is_rejected_and_nothing_stored(apiserver):
    status, _, data = apiserver.request("POST", "/api/v1/namespaces/default/configmaps", b"{not json",
                                        headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(data)["kind"] == "Status"
    status, body = apiserver.json("POST", "/api/v1/namespaces/default/configmaps",
                                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})
    assert status == 422 and body["reason"] == "Invalid" and "metadata.name" in body["message"]
    status, body = apiserver.json("POST", "/api/v1/namespaces/nosuch/configmaps",
                                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert status == 404 and body["message"] == 'namespaces "nosuch" not found'
    status, _, data = apiserver.request("POST", "/api/v1/namespaces/default/configmaps", b"x" * (4 << 20),
                                        headers={"Content-Type": "application/json"})
    assert status == 413
    status, body = apiserver.json("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(")
    assert status == 400 and body["reason"] == "BadRequest"
    status, lst = apiserver.json("GET", "/api/v1/namespaces/default/configmaps")
    assert lst["items"] == []


def test_wrong_token_is_unauthorized(apiserver):
    # cold discovery cache: kubectl reports the 401 of discovery its own way
    r = apiserver.kubectl("--token", "wrong", "get", "pods", check=False)
    assert r.returncode != 0 and "You must be logged in to the server" in r.stderr
    # warm cache: the 401 of the list itself, with the server's message
    apiserver.kubectl("get", "ns")
    r = apiserver.kubectl("--token", "wrong", "get", "pods", check=False)
    assert r.returncode != 0 and "error: You must be logged in to the server (Unauthorized)" in r.stderr
    for token in ("wrong", None):
        status, body = apiserver.json("GET", "/api/v1/pods", token=token)
        assert status == 401
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_token_file_identities(make_apiserver, tmp_path):
    tf = tmp_path / "tokens.csv"
    tf.write_text('agent-token,system:serviceaccount:gadget:gadget,sa-uid,"system:serviceaccounts"\n')
    s = make_apiserver(token_file=str(tf))
    # known, but allowed nothing yet: RBAC (test_rbac.py) answers 403, not 401
    status, body = s.json("GET", "/api/v1/nodes", token="agent-token")
    assert status == 403 and body["reason"] == "Forbidden"
    assert s.json("GET", "/api/v1/nodes", token=s.token)[0] == 200
    assert s.json("GET", "/api/v1/nodes", token="other")[0] == 401


# --- list semantics -----------------------------------------------------------

def test_label_and_field_selectors(apiserver):
    apiserver.create_pod("default", "a1", {"app": "x", "tier": "web"}, node="n1", phase="Running")
    apiserver.create_pod("default", "a2", {"app": "x", "tier": "db"}, node="n2")
    apiserver.create_pod("default", "b1", {"app": "y"}, node="n1")
    k = apiserver.kubectl
    assert names(k("get", "pods", "-l", "app=x").stdout) == ["a1", "a2"]
    assert names(k("get", "pods", "-l", "app==x,tier!=web").stdout) == ["a2"]
    assert names(k("get", "pods", "-l", "tier in (web,db)").stdout) == ["a1", "a2"]
    assert names(k("get", "pods", "-l", "tier notin (web)").stdout) == ["a2", "b1"]
    assert names(k("get", "pods", "-l", "!tier").stdout) == ["b1"]
    assert names(k("get", "pods", "-l", "tier").stdout) == ["a1", "a2"]
    assert names(k("get", "pods", "--field-selector", "spec.nodeName=n1").stdout) == ["a1", "b1"]
    assert names(k("get", "pods", "--field-selector", "spec.nodeName=n1,status.phase=Running").stdout) == ["a1"]
    assert names(k("get", "pods", "--field-selector", "metadata.name!=a1", "-l", "app=x").stdout) == ["a2"]
    r = k("get", "pods", "--field-selector", "spec.bogus=1", check=False)
    assert r.returncode != 0 and "field label not supported: spec.bogus" in r.stderr


def test_pagination(apiserver):
    for i in range(5):
        apiserver.create_pod("default", f"p{i}")
    r = apiserver.kubectl("get", "pods", "--chunk-size", "2", "-v=6")
    assert names(r.stdout) == [f"p{i}" for i in range(5)]
    assert r.stderr.count("continue=") == 2  # three pages
    status, page = apiserver.json("GET", "/api/v1/namespaces/default/pods?limit=2")
    assert [p["metadata"]["name"] for p in page["items"]] == ["p0", "p1"]
    assert page["metadata"]["remainingItemCount"] == 3
    rv = page["metadata"]["resourceVersion"]
    # later pages are served from the first page's snapshot
    apiserver.create_pod("default", "p10")
    apiserver.kubectl("delete", "pod", "p4")
    cont = page["metadata"]["continue"]
    status, page2 = apiserver.json("GET", f"/api/v1/namespaces/default/pods?limit=10&continue={cont}")
    assert [p["metadata"]["name"] for p in page2["items"]] == ["p2", "p3", "p4"]
    assert page2["metadata"]["resourceVersion"] == rv and "continue" not in page2["metadata"]
    # exact reads of an older revision, and 410 once it is compacted
    status, old = apiserver.json("GET", f"/api/v1/namespaces/default/pods?resourceVersion={rv}"
                                 "&resourceVersionMatch=Exact")
    assert status == 200 and len(old["items"]) == 5
    apiserver.json("POST", "/_test/compact")
    status, body = apiserver.json("GET", f"/api/v1/namespaces/default/pods?limit=10&continue={cont}")
    assert status == 410 and body["reason"] == "Expired"
    status, body = apiserver.json("GET", f"/api/v1/namespaces/default/pods?resourceVersion={rv}"
                                  "&resourceVersionMatch=Exact")
    assert status == 410 and body["code"] == 410


def test_pagination_across_namespaces(apiserver):
    """Pages of a cluster-wide list never skip or repeat an object, whatever
    the namespace names sort like."""
    for ns in ("a", "a-b", "ab", "b"):
        apiserver.kubectl("create", "ns", ns)
        for n in ("x", "y"):
            apiserver.create_pod(ns, n)
    seen, cont = [], ""
    while True:
        status, page = apiserver.json("GET", f"/api/v1/pods?limit=3{cont}")
        assert status == 200
        seen += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in page["items"]]
        if not page["metadata"].get("continue"):
            break
        cont = "&continue=" + page["metadata"]["continue"]
    assert sorted(seen) == sorted((ns, n) for ns in ("a", "a-b", "ab", "b") for n in ("x", "y"))
    assert len(seen) == len(set(seen))
    out = apiserver.kubectl("get", "pods", "-A", "--chunk-size", "3").stdout
    assert len(out.strip().splitlines()) == 9


def test_delete(apiserver):
    apiserver.create_pod("default", "gone")
    assert 'pod "gone" deleted' in apiserver.kubectl("delete", "pod", "gone").stdout
    r = apiserver.kubectl("get", "pod", "gone", check=False)
    assert 'pods "gone" not found' in r.stderr
    apiserver.kubectl("create", "ns", "tmpns")
    apiserver.create_pod("tmpns", "inside")
    apiserver.kubectl("delete", "ns", "tmpns")
    assert apiserver.json("GET", "/api/v1/namespaces/tmpns/pods/inside")[0] == 404


def test_namespace_terminates_then_goes(apiserver, tmp_path):
    """kubectl delete -f of a file holding a namespace and a pod in it, as
    on a real cluster: the namespace is Terminating first, so the pod's own
    delete still finds it; then the namespace controller removes both."""
    f = tmp_path / "app.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n"
                 "spec:\n  containers: [{name: c, image: busybox}]\n")
    apiserver.kubectl("apply", "-f", str(f))
    r = apiserver.kubectl("delete", "-f", str(f))
    assert 'namespace "shop" deleted' in r.stdout and 'pod "web" deleted' in r.stdout, r.stdout
    assert apiserver.kubectl("get", "ns", "shop", check=False).returncode != 0
    # without waiting: Terminating, content readable, nothing new, a second delete is 409
    apiserver.kubectl("create", "ns", "slow")
    apiserver.create_pod("slow", "p")
    status, ns = apiserver.json("DELETE", "/api/v1/namespaces/slow")
    assert status == 202 and ns["status"]["phase"] == "Terminating", ns
    assert ns["metadata"]["deletionTimestamp"]
    assert apiserver.json("GET", "/api/v1/namespaces/slow/pods/p")[0] == 200
    status, err = apiserver.json("POST", "/api/v1/namespaces/slow/configmaps",
                                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    assert status == 403 and "is being terminated" in err["message"]
    status, err = apiserver.json("DELETE", "/api/v1/namespaces/slow")
    assert status == 409 and "ensuring all content is removed" in err["message"], err
    status, err = apiserver.json("POST", "/api/v1/namespaces",
                                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "slow"}})
    assert status == 409 and err["message"].startswith("object is being deleted"), err
    r = apiserver.kubectl("get", "ns", "slow")
    assert "Terminating" in r.stdout
    deadline = time.monotonic() + 10
    while apiserver.json("GET", "/api/v1/namespaces/slow")[0] != 404:
        assert time.monotonic() < deadline, "the namespace never went"
        time.sleep(0.1)
    assert apiserver.json("GET", "/api/v1/namespaces/slow/pods/p")[0] == 404


def test_every_object_has_a_creation_timestamp(apiserver):
    apiserver.kubectl("create", "ns", "later")
    apiserver.create_pod("later", "p")
    apiserver.kubectl("create", "configmap", "cm", "-n", "later", "--from-literal=a=b")
    for path in ("/api/v1/namespaces", "/api/v1/nodes", "/api/v1/serviceaccounts", "/api/v1/pods",
                 "/api/v1/configmaps"):
        status, lst = apiserver.json("GET", path)
        assert status == 200 and lst["items"], path
        for o in lst["items"]:
            ts = o["metadata"].get("creationTimestamp")
            assert ts and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ts), (path, o["metadata"])
            assert o["metadata"].get("uid"), o["metadata"]
    r = apiserver.kubectl("get", "ns")
    assert "<unknown>" not in r.stdout


def test_client_certificates_and_impersonation(apiserver, tmp_path):
    d = apiserver.data_dir
    key, csr, crt = (str(tmp_path / x) for x in ("u.key", "u.csr", "u.crt"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=carol/O=ops/O=dev"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca.crt"), "-CAkey",
                    os.path.join(d, "ca.key"), "-CAcreateserial", "-out", crt, "-days", "1"],
                   check=True, capture_output=True)
    kc = tmp_path / "kc"
    kc.write_text(open(apiserver.kubeconfig).read())
    e = {"KUBECONFIG": str(kc)}
    apiserver.kubectl("config", "set-credentials", "admin", "--token=", "--client-certificate", crt,
                      "--client-key", key, env=e)
    r = apiserver.kubectl("auth", "whoami", "-o", "json", env=e)
    info = json.loads(r.stdout)["status"]["userInfo"]
    assert info["username"] == "carol" and info["groups"] == ["ops", "dev", "system:authenticated"]
    r = apiserver.kubectl("auth", "whoami", "-o", "json", "--as", "dave", "--as-group", "qa")
    info = json.loads(r.stdout)["status"]["userInfo"]
    assert info["username"] == "dave" and info["groups"] == ["qa", "system:authenticated"]
    # a certificate from another CA is no identity
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt, "-subj",
                    "/CN=mallory", "-days", "1"], check=True, capture_output=True)
    r = apiserver.kubectl("auth", "whoami", env=e, check=False)
    assert r.returncode != 0


# --- watch --------------------------------------------------------------------

def test_kubectl_watch_sees_new_pod(apiserver):
    apiserver.create_pod("default", "before")
    w = apiserver.kubectl_bg("get", "pods", "-w", "--request-timeout=0")
    lines = []

    def pump():
        for line in w.stdout:
            lines.append(line)
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        wait_for(lambda: any(line.startswith("before") for line in lines), what="initial list")
        apiserver.create_pod("default", "after", phase="Running")
        wait_for(lambda: any(line.startswith("after") for line in lines), what="watch event")
    finally:
        w.terminate()
        w.wait(5)


def read_events(resp, n, timeout=10.0):
    out = []
    for _ in range(n):
        line = resp.readline()
        if not line:
            break
        out.append(json.loads(line))
    return out


def test_watch_from_resource_version_and_bookmarks(make_apiserver):
    s = make_apiserver(bookmark_interval=0.3)
    rv = s.json("GET", "/api/v1/namespaces/default/pods")[1]["metadata"]["resourceVersion"]
    s.create_pod("default", "w1", {"app": "w"})
    s.create_pod("default", "w2", {"app": "other"})
    c, r = s.watch(f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}&labelSelector=app%3Dw"
                   "&allowWatchBookmarks=true&timeoutSeconds=5")
    try:
        assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
        ev = read_events(r, 1)[0]
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "w1"
        # relabelled out of the selector: the watcher sees it leave
        s.json("PATCH", "/api/v1/namespaces/default/pods/w1", {"metadata": {"labels": {"app": "x"}}},
               headers={"Content-Type": "application/merge-patch+json"})
        ev = read_events(r, 1)[0]
        assert ev["type"] == "DELETED" and ev["object"]["metadata"]["name"] == "w1"
        ev = read_events(r, 1)[0]
        assert ev["type"] == "BOOKMARK" and int(ev["object"]["metadata"]["resourceVersion"]) > int(rv)
        assert ev["object"]["kind"] == "Pod"
    finally:
        c.close()
    # sendInitialEvents: current state, then a bookmark marking its end
    c, r = s.watch("/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                   "&resourceVersionMatch=NotOlderThan&timeoutSeconds=2")
    try:
        evs = read_events(r, 3)
        assert [e["type"] for e in evs] == ["ADDED", "ADDED", "BOOKMARK"]
        assert evs[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    finally:
        c.close()


def test_watch_too_old_resource_version_is_gone(make_apiserver):
    s = make_apiserver(compaction_window=3)
    rv = s.json("GET", "/api/v1/namespaces/default/pods")[1]["metadata"]["resourceVersion"]
    for i in range(5):
        s.create_pod("default", f"c{i}")
    # the real kubectl shows the 410 ERROR event of the watch
    out = s.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}").stdout
    ev = json.loads(out.splitlines()[0])
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    assert "too old resource version" in ev["object"]["message"]
    # a recent revision is still in the window
    recent = int(s.json("GET", "/api/v1/namespaces/default/pods")[1]["metadata"]["resourceVersion"]) - 1
    c, r = s.watch(f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={recent}&timeoutSeconds=2")
    try:
        ev = read_events(r, 1)[0]
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "c4"
    finally:
        c.close()
    status, body = s.json("GET", f"/api/v1/namespaces/default/pods?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert status == 410
    # from the future: 504 with the cause clients retry on
    status, body = s.json("GET", "/api/v1/namespaces/default/pods?resourceVersion=999999"
                          "&resourceVersionMatch=Exact")
    assert status == 504 and body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_cut_watches(apiserver):
    apiserver.create_pod("default", "x0")
    c, r = apiserver.watch("/api/v1/namespaces/default/pods?watch=1")
    try:
        assert read_events(r, 1)[0]["object"]["metadata"]["name"] == "x0"
        status, body = apiserver.json("POST", "/_test/cut-watches?mid=1")
        assert status == 200 and body["cut"] == 1
        with pytest.raises(Exception):
            line = r.readline()
            json.loads(line)  # half an event, then the connection drops
            r.readline()
    finally:
        c.close()


def test_restart_keeps_objects_and_revisions(apiserver):
    apiserver.kubectl("create", "ns", "keep")
    apiserver.create_pod("keep", "k1")
    rv = int(apiserver.json("GET", "/api/v1/namespaces/keep/pods")[1]["metadata"]["resourceVersion"])
    apiserver.restart(sig=signal.SIGKILL)
    assert names(apiserver.kubectl("get", "pods", "-n", "keep").stdout) == ["k1"]
    new = apiserver.create_pod("keep", "k2")
    assert int(new["metadata"]["resourceVersion"]) > rv
    # a watcher resumes from its pre-restart revision
    c, r = apiserver.watch(f"/api/v1/namespaces/keep/pods?watch=1&resourceVersion={rv}&timeoutSeconds=2")
    try:
        ev = read_events(r, 1)[0]
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "k2"
    finally:
        c.close()


# --- port-forward -------------------------------------------------------------

class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)


def roundtrip(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)), daemon=True).start()
        got = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                return bytes(got)
            got += d


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_kubectl_port_forward(apiserver, websockets):
    echo = EchoServer()
    apiserver.create_pod("default", "fwd", ip="127.0.0.1", phase="Running")
    local = apiserver.free_port()
    pf = apiserver.kubectl_bg("port-forward", "pod/fwd", f"{local}:{echo.port}",
                              env={"KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets})
    try:
        wait_for(lambda: pf.poll() is not None or roundtrip_ok(local), what="port-forward to listen")
        assert pf.poll() is None, pf.stderr.read()
        payload = os.urandom(1 << 20)
        assert roundtrip(local, payload) == payload
        assert roundtrip(local, b"second connection") == b"second connection"
    finally:
        pf.terminate()
        pf.wait(5)
    echo.sock.close()


def roundtrip_ok(port):
    try:
        return roundtrip(port, b"ping") == b"ping"
    except OSError:
        return False


def ws_send(sock, payload, opcode=2):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                                               else bytes([0x80 | 127]) + struct.pack(">Q", n))
    sock.sendall(head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload)))


def ws_recv(f):
    b0, b1 = f.read(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", f.read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", f.read(8))[0]
    return b0 & 0x0F, f.read(n)


def test_websocket_channel_port_forward(apiserver):
    """The plain channel protocol our C client speaks: channel-prefixed
    binary messages, the port first on each channel."""
    echo = EchoServer()
    apiserver.create_pod("default", "wsf", ip="127.0.0.1", phase="Running")
    ctx = ssl.create_default_context(cafile=apiserver.ca)
    raw = socket.create_connection(("127.0.0.1", apiserver.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /api/v1/namespaces/default/pods/wsf/portforward?ports={echo.port} HTTP/1.1\r\n"
               f"Host: 127.0.0.1\r\nAuthorization: Bearer {apiserver.token}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n").encode())
    f = s.makefile("rb")
    head = []
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        head.append(line.decode().strip())
    assert head[0].startswith("HTTP/1.1 101")
    assert "Sec-WebSocket-Protocol: v4.channel.k8s.io" in head
    port_le = struct.pack("<H", echo.port)
    assert ws_recv(f) == (2, b"\x00" + port_le)
    assert ws_recv(f) == (2, b"\x01" + port_le)
    ws_send(s, b"\x00hello over websocket")
    got = b""
    while len(got) < len(b"hello over websocket"):
        op, data = ws_recv(f)
        assert op == 2 and data[0] == 0
        got += data[1:]
    assert got == b"hello over websocket"
    ws_send(s, struct.pack(">H", 1000), opcode=8)
    op, _ = ws_recv(f)
    assert op == 8
    s.close()
    echo.sock.close()


def test_port_forward_to_pod_without_ip_fails(apiserver):
    apiserver.create_pod("default", "pending")
    r = apiserver.kubectl("port-forward", "pod/pending", "0:80", check=False, timeout=20)
    assert r.returncode != 0 and "pod is not running" in r.stderr
