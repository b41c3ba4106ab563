# SPDX-License-Identifier: Apache-2.0
"""Least privilege, proven: the stand-in API server enforces RBAC from the
Roles, ClusterRoles and bindings it holds (tests/apiserver/apiserver/rbac.py)
for the token each client presents, and logs every decision it makes.

- The stand-in decides as a real API server does, checked with the real
  kubectl: `kubectl auth can-i`, the 403 message kubectl prints, cluster
  scope against a namespace's RoleBinding, `auth can-i --list`.
- The agent, under its ServiceAccount and exactly the rules of
  deploy/10-rbac.yaml, serves a node (pods, instance ConfigMaps, owners of
  pods, the services and nodes behind endpoint fields) without one request
  refused, and uses every permission it is granted; each rule removed gives
  a 403 for what it covered, and the symptom an operator would see.
- The users' roles of deploy/roles: one who may only run gadgets runs them
  but cannot create an instance (kubectl gadget's ConfigMap write is
  refused by the API server, and the agent refuses CreateInstance over a
  port-forward); one with the instances role creates and deletes them;
  one without either is refused by the API server.
"""

import copy
import glob
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import yaml

from apiserver import KUBECTL, ApiServer, free_port
from conftest import REPO
from containerd import containerd  # noqa: F401  (module-scoped fixture)
from test_agent import Agent

DEPLOY = os.path.join(REPO, "deploy")
BIN = os.path.join(REPO, "build", "bin")
SA_USER = "system:serviceaccount:gadget:gadget"
TOKENS = {
    "sa-token": (SA_USER, "system:serviceaccounts,system:serviceaccounts:gadget"),
    "alice-token": ("alice", ""),
    "bob-token": ("bob", ""),
    "eve-token": ("eve", ""),
}


def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


@pytest.fixture
def api(tmp_path):
    tf = tmp_path / "tokens.csv"
    tf.write_text("".join(f'{t},{u},{u}-uid,"{g}"\n' for t, (u, g) in TOKENS.items()))
    s = ApiServer(tmp_path / "apiserver", nodes=("n1",), token_file=str(tf)).start()
    try:
        for f in ("00-namespace.yaml", "10-rbac.yaml", "20-configmap.yaml"):
            s.kubectl("apply", "-f", os.path.join(DEPLOY, f))
        for f in sorted(glob.glob(os.path.join(DEPLOY, "roles", "*.yaml"))):
            s.kubectl("apply", "-f", f)
        for binding, role, user in (("alice-run", "gadget-run", "alice"),
                                    ("bob-instances", "gadget-instances", "bob")):
            s.kubectl("apply", "-f", "-", input=json.dumps({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": binding, "namespace": "gadget"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                              "name": user}]}))
        yield s
    finally:
        s.stop()


def kubeconfig_for(api, tmp_path, token):
    """The admin kubeconfig with another identity's token."""
    with open(api.kubeconfig) as f:
        kc = yaml.safe_load(f)
    for u in kc["users"]:
        u["user"] = {"token": token}
    path = tmp_path / f"kubeconfig-{token}"
    path.write_text(yaml.safe_dump(kc))
    return str(path)


def as_user(api, tmp_path, token, *args, check=False):
    return api.kubectl("--kubeconfig", kubeconfig_for(api, tmp_path, token), *args, check=check)


# ---------------------------------------------------------------- the stand-in, against kubectl


def can_i(api, tmp_path, token, *args):
    r = as_user(api, tmp_path, token, "auth", "can-i", *args)
    assert r.stdout.strip() in ("yes", "no"), (args, r.stdout, r.stderr)
    return r.stdout.strip() == "yes"


def test_decisions_as_kubectl_sees_them(api, tmp_path):
    sa, alice, bob, eve = "sa-token", "alice-token", "bob-token", "eve-token"
    # the agent: read-only, cluster-wide for what it watches, instances in its namespace
    assert can_i(api, tmp_path, sa, "list", "pods", "-A")
    assert can_i(api, tmp_path, sa, "watch", "services", "-A")
    assert can_i(api, tmp_path, sa, "get", "replicasets.apps", "-n", "shop")
    assert can_i(api, tmp_path, sa, "watch", "configmaps", "-n", "gadget")
    assert not can_i(api, tmp_path, sa, "get", "pods", "-n", "shop")
    assert not can_i(api, tmp_path, sa, "list", "configmaps", "-n", "default")
    assert not can_i(api, tmp_path, sa, "patch", "configmaps/gadget-config", "-n", "gadget")
    assert not can_i(api, tmp_path, sa, "create", "configmaps", "-n", "gadget")
    assert not can_i(api, tmp_path, sa, "list", "secrets", "-A")
    assert not can_i(api, tmp_path, sa, "create", "pods", "--subresource=portforward", "-n", "gadget")
    # users: run only, run and instances, nothing
    assert can_i(api, tmp_path, alice, "create", "pods", "--subresource=portforward", "-n", "gadget")
    assert can_i(api, tmp_path, alice, "list", "pods", "-n", "gadget")
    assert not can_i(api, tmp_path, alice, "list", "pods", "-A")  # a RoleBinding is not cluster-wide
    assert not can_i(api, tmp_path, alice, "create", "configmaps", "-n", "gadget")
    assert can_i(api, tmp_path, bob, "create", "configmaps", "-n", "gadget")
    assert can_i(api, tmp_path, bob, "delete", "configmaps", "-n", "gadget")
    assert not can_i(api, tmp_path, bob, "create", "configmaps", "-n", "default")
    assert not can_i(api, tmp_path, eve, "list", "pods", "-n", "gadget")
    # the admin (system:masters) may do anything
    assert api.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    # what kubectl prints for a refusal, word for word
    r = as_user(api, tmp_path, alice, "get", "configmaps", "-n", "gadget")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        'Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list '
        'resource "configmaps" in API group "" in the namespace "gadget"')
    r = as_user(api, tmp_path, sa, "get", "secret", "token", "-n", "kube-system")
    assert r.stderr.strip() == (
        'Error from server (Forbidden): secrets "token" is forbidden: User '
        f'"{SA_USER}" cannot get resource "secrets" in API group "" in the namespace '
        '"kube-system"')
    r = as_user(api, tmp_path, sa, "get", "deployments.apps", "-A")
    assert 'deployments.apps is forbidden' in r.stderr and "at the cluster scope" in r.stderr
    # discovery and whoami are everyone's (the bootstrap roles)
    assert as_user(api, tmp_path, eve, "get", "--raw", "/version").returncode == 0
    r = as_user(api, tmp_path, eve, "auth", "whoami", "-o", "json")
    assert "system:authenticated" in json.loads(r.stdout)["status"]["userInfo"]["groups"]
    r = as_user(api, tmp_path, alice, "auth", "can-i", "--list", "-n", "gadget")
    assert r.returncode == 0
    assert any(ln.startswith("pods/portforward ") and "[get create]" in ln
               for ln in r.stdout.splitlines()), r.stdout


# ---------------------------------------------------------------- the agent, with exactly its rules


def granted(api):
    """(verb, group, resource) the agent's ClusterRole and Role grant."""
    out = set()
    for kind, name in (("clusterrole", "gadget"), ("role", "gadget")):
        obj = json.loads(api.kubectl("get", kind, name, "-n", "gadget", "-o", "json").stdout)
        for rule in obj["rules"]:
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        out.add((v, g, r))
    return out


def used(api, since=0):
    """(verb, group, resource) -> allowed, for the agent's requests."""
    out = {}
    for e in api.audit(SA_USER)[since:]:
        k = (e["verb"], e["group"], e["resource"] + (f"/{e['subresource']}" if e["subresource"]
                                                      else ""))
        out[k] = out.get(k, True) and e["allowed"]
    return out


def owned_pods(api):
    """Pods of node n1 owned by a ReplicaSet (of a Deployment) and by a Job
    (of a CronJob): the agent names the Deployment and the CronJob."""
    api.kubectl("create", "namespace", "shop")
    for path, obj in (
            ("/apis/apps/v1/namespaces/shop/replicasets",
             {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "web-5d4f", "ownerReferences": [
                  {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1",
                   "controller": True}]},
              "spec": {"selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
            ("/apis/batch/v1/namespaces/shop/jobs",
             {"apiVersion": "batch/v1", "kind": "Job",
              "metadata": {"name": "nightly-29", "ownerReferences": [
                  {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "c1",
                   "controller": True}]},
              "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}],
                                             "restartPolicy": "Never"}}}})):
        status, body = api.json("POST", path, obj)
        assert status == 201, body
    for name, kind, owner in (("web-5d4f-abcde", "ReplicaSet", "web-5d4f"),
                              ("nightly-29-xyz", "Job", "nightly-29")):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "shop", "ownerReferences": [
                   {"apiVersion": "apps/v1" if kind == "ReplicaSet" else "batch/v1",
                    "kind": kind, "name": owner, "uid": "o1", "controller": True}]},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}}
        status, body = api.json("POST", "/api/v1/namespaces/shop/pods", pod)
        assert status == 201, body


def instance(api, name, image="trace_exec"):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": name, "namespace": "gadget", "labels": {"type": "gadget-instance"}},
          "data": {"instance.yaml": yaml.safe_dump({"name": name, "image": image})}}
    api.kubectl("apply", "-f", "-", input=json.dumps(cm))


def serve_a_node(api, agents_dir, containerd, wait_ready=True):  # noqa: F811
    """Starts the agent as its ServiceAccount and has it do everything it does
    with the API: watch its pods (with owners) and instances, and run a
    gadget with endpoint fields.  Returns the agent."""
    kc = kubeconfig_for(api, agents_dir, "sa-token")
    a = Agent(agents_dir / "agent", kubeconfig=kc,
              runtimes=[{"name": "containerd", "socketPath": containerd.socket}],
              extra_config={"logLevel": "debug"})
    try:
        a.start()
    except BaseException:
        a.stop(signal.SIGKILL)
        a.net.close()
        raise
    if wait_ready:
        deadline = time.monotonic() + 20
        while a.http("/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    # trace_tcp has endpoint fields: the agent starts watching services and nodes
    a.client("run", "trace_tcp", "--timeout", "1500")
    return a


def wait_used(api, want, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        u = used(api)
        if want <= set(u):
            return u
        time.sleep(0.2)
    return used(api)


def test_agent_works_with_exactly_its_rules(api, tmp_path, containerd):  # noqa: F811
    owned_pods(api)
    instance(api, "execs")
    a = serve_a_node(api, tmp_path, containerd)
    try:
        assert a.http("/readyz")[:3:2] == (200, "ok\n"), a.log()
        rc, lst = a.answer("list")
        assert [(i["spec"]["name"], i["state"]) for i in lst["instances"]] == \
            [("execs", "INSTANCE_RUNNING")]
        g = granted(api)
        u = wait_used(api, g)
        refused = sorted(k for k, ok in u.items() if not ok)
        assert not refused, refused
        # every permission granted is one the agent uses
        assert set(u) == g, (sorted(g - set(u)), sorted(set(u) - g))
        with open(a.log_path, errors="replace") as f:
            assert "owner /apis" not in f.read()  # the owners were read
    finally:
        a.stop()
        a.net.close()


RULES = [
    # (kind, name, verb, group, resource), and what an operator sees without it
    ("clusterrole", "gadget", "list", "", "pods", "readyz"),
    ("clusterrole", "gadget", "watch", "", "services", None),
    ("clusterrole", "gadget", "list", "", "nodes", None),
    ("clusterrole", "gadget", "get", "apps", "replicasets", "log"),
    ("clusterrole", "gadget", "get", "batch", "jobs", "log"),
    ("role", "gadget", "list", "", "configmaps", "readyz"),
]


@pytest.mark.parametrize("kind,name,verb,group,resource,symptom", RULES,
                         ids=[f"{r[2]}-{r[4]}" for r in RULES])
def test_each_rule_is_needed(api, tmp_path, containerd, kind, name, verb, group,  # noqa: F811
                             resource, symptom):
    obj = json.loads(api.kubectl("get", kind, name, "-n", "gadget", "-o", "json").stdout)
    new = copy.deepcopy(obj)
    for rule in new["rules"]:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    new["rules"] = [r for r in new["rules"] if r["verbs"]]
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        new["metadata"].pop(k, None)
    api.kubectl("replace", "-f", "-", input=json.dumps(new))
    owned_pods(api)
    instance(api, "execs")
    a = serve_a_node(api, tmp_path, containerd, wait_ready=False)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if used(api).get((verb, group, resource)) is False:
                break
            time.sleep(0.2)
        assert used(api).get((verb, group, resource)) is False, sorted(used(api).items())
        status, _, body = a.http("/readyz")
        if symptom == "readyz":
            assert status == 503, body
        else:
            # the rest of the node is served: only what needed the rule is missing
            deadline = time.monotonic() + 20
            while a.http("/readyz")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert a.http("/readyz")[0] == 200, (a.http("/readyz"), a.log())
        if resource == "configmaps":
            assert "forbidden" in body and "configmaps" in body, body
        if symptom == "log":
            # the owner is not named, and the agent says why
            with open(a.log_path, errors="replace") as f:
                log = f.read()
            assert f"owner /apis/{group}/v1/namespaces/shop/" in log, a.log()
    finally:
        a.stop()
        a.net.close()


# ---------------------------------------------------------------- kubectl gadget users


@pytest.fixture
def agent_pod(api, tmp_path):
    """An agent as its ServiceAccount in its own network namespace, without a
    runtime (runs see the whole host), and its Pod for the port-forward."""
    a = Agent(tmp_path / "agent", kubeconfig=kubeconfig_for(api, tmp_path, "sa-token"))
    try:
        a.start()
    except BaseException:
        a.stop(signal.SIGKILL)
        a.net.close()
        raise
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "gadget-n1", "namespace": "gadget", "labels": {"k8s-app": "gadget"},
                        "annotations": {"apiserver.test/netns": a.net.path}},
           "spec": {"nodeName": "n1", "containers": [{"name": "gadget", "image": "gadget-agent"}]}}
    status, body = api.json("POST", "/api/v1/namespaces/gadget/pods", pod)
    assert status == 201, body
    status, body = api.json(
        "PATCH", "/api/v1/namespaces/gadget/pods/gadget-n1/status",
        {"status": {"phase": "Running", "podIP": "10.244.0.2", "podIPs": [{"ip": "10.244.0.2"}],
                    "conditions": [{"type": "Ready", "status": "True"}]}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    try:
        yield a
    finally:
        a.stop()
        a.net.close()


def kg(api, tmp_path, token, *args, timeout=60):
    env = dict(api.env(), KUBECONFIG=kubeconfig_for(api, tmp_path, token))
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    return subprocess.run([KUBECTL, "gadget", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_run_only_role_runs_but_cannot_create_instances(api, tmp_path, agent_pod):
    r = kg(api, tmp_path, "alice-token", "run", "trace_exec", "-A", "--timeout", "1")
    assert r.returncode == 0, r.stderr
    r = kg(api, tmp_path, "alice-token", "list")
    assert r.returncode == 0, r.stderr
    # the instance is a ConfigMap alice may not write: the API server says no
    r = kg(api, tmp_path, "alice-token", "run", "trace_exec", "-A", "--detach", "--name", "sneaky")
    assert r.returncode == 1
    assert ('configmaps is forbidden: User "alice" cannot create resource "configmaps" in API '
            'group "" in the namespace "gadget"') in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "sneaky" not in api.kubectl("get", "cm", "-n", "gadget").stdout
    # nor through the agent: it refuses CreateInstance from a port-forward
    port = free_port()
    pf = subprocess.Popen([KUBECTL, "--kubeconfig", kubeconfig_for(api, tmp_path, "alice-token"),
                           "port-forward", "-n", "gadget", "pod/gadget-n1", f"{port}:8484"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=api.env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        client = os.environ.get("AGENT_CLIENT", os.path.join(REPO, "build", "tests",
                                                             "agent_client"))
        r = subprocess.run([client, f"127.0.0.1:{port}", "create", "sneaky", "trace_exec"],
                           capture_output=True, text=True, timeout=30)
        lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
        assert r.returncode == 1 and lines[-1]["code"] == "ERROR_PERMISSION_DENIED", lines
        r = subprocess.run([client, f"127.0.0.1:{port}", "delete", "anything"],
                           capture_output=True, text=True, timeout=30)
        lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
        assert lines[-1]["code"] == "ERROR_PERMISSION_DENIED", lines
    finally:
        pf.terminate()
        pf.wait(10)
    assert "sneaky" not in api.kubectl("get", "cm", "-n", "gadget").stdout


def test_instances_role_creates_and_deletes(api, tmp_path, agent_pod):
    r = kg(api, tmp_path, "bob-token", "run", "trace_exec", "-A", "--detach", "--name", "audit")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gadget instance audit created (id ")
    cm = json.loads(api.kubectl("get", "cm", "audit", "-n", "gadget", "-o", "json").stdout)
    assert cm["metadata"]["labels"] == {"type": "gadget-instance"}
    # the ConfigMap was written as bob, not by the agent
    writes = [e["user"] for e in api.audit() if e["verb"] == "create" and
              e["resource"] == "configmaps" and e["allowed"]]
    assert "bob" in writes and SA_USER not in writes, writes
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rc, lst = agent_pod.answer("list")
        if [i["state"] for i in lst["instances"]] == ["INSTANCE_RUNNING"]:
            break
        time.sleep(0.2)
    assert [i["state"] for i in lst["instances"]] == ["INSTANCE_RUNNING"], lst
    # alice may not delete it; bob may, by name or by id
    r = kg(api, tmp_path, "alice-token", "delete", "audit")
    assert r.returncode == 1 and 'User "alice" cannot get resource "configmaps"' in r.stderr
    r = kg(api, tmp_path, "bob-token", "delete", cm["metadata"]["uid"])
    assert r.returncode == 0 and r.stdout == "gadget instance audit deleted\n", r.stderr
    assert api.kubectl("get", "cm", "audit", "-n", "gadget", check=False).returncode == 1
    # a ConfigMap that is not an instance is not deleted as one
    r = kg(api, tmp_path, "bob-token", "delete", "gadget-config")
    assert r.returncode == 1 and "no gadget instance named 'gadget-config'" in r.stderr
    assert api.kubectl("get", "cm", "gadget-config", "-n", "gadget").returncode == 0


def test_no_role_no_gadgets(api, tmp_path, agent_pod):
    r = kg(api, tmp_path, "eve-token", "run", "trace_exec", "-A", "--timeout", "1")
    assert r.returncode == 1
    assert 'pods is forbidden: User "eve" cannot list resource "pods" in API group "" in the ' \
           'namespace "gadget"' in r.stderr, r.stderr
