# SPDX-License-Identifier: Apache-2.0
"""kubectl gadget, the kubectl plugin (build/bin/kubectl-gadget), invoked the
way users do, through the real kubectl (build/tools/bin/kubectl) with
build/bin on PATH, against the stand-in API server (tests/apiserver).

- deploy applies the manifests built into the plugin (the same objects as
  deploy/*.yaml, checked with kubectl get) and waits for the DaemonSet while
  this test plays the DaemonSet controller, patching its status through the
  status subresource; nothing becoming ready is a timeout naming the nodes.
- undeploy removes everything, the namespace and its instances included.
- help texts, usage errors (exit 2), an unreachable API server, no agents,
  an agent pod nothing listens behind.
- With the real agent (build/bin/gadget-agent) started here in a network
  namespace of its own, as in its pod (podnet.py), and an agent Pod naming
  that namespace for the stand-in's port-forward: run, version,
  list-containers, detached instances.
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from datetime import datetime

import pytest
import yaml

from apiserver import KUBECTL, apiserver  # noqa: F401  (fixture)
from conftest import REPO, get
from podnet import PodNet

# KG_BIN_DIR: where kubectl finds the plugin (build/san/bin for the sanitizer build)
BIN = os.environ.get("KG_BIN_DIR", os.path.join(REPO, "build", "bin"))
PLUGIN = os.path.join(BIN, "kubectl-gadget")
AGENT = os.environ.get("GADGET_AGENT", os.path.join(REPO, "build", "bin", "gadget-agent"))
DEPLOY = os.path.join(REPO, "deploy")


def env_for(api, extra=None):
    e = api.env()
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "/usr/bin:/bin")
    if extra:
        e.update(extra)
    return e


def kg(api, *args, timeout=60, env=None):
    """kubectl gadget ARGS through the real kubectl."""
    return subprocess.run([KUBECTL, "gadget", *args], capture_output=True, text=True,
                          timeout=timeout, env=env_for(api, env))


def kg_bg(api, *args, env=None):
    return subprocess.Popen([KUBECTL, "gadget", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_for(api, env),
                            start_new_session=True)


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def deploy_objects():
    out = []
    for f in sorted(os.listdir(DEPLOY)):
        if f.endswith(".yaml"):
            with open(os.path.join(DEPLOY, f)) as fh:
                out += docs(fh.read())
    return out


def ds_status(api, **status):
    api.kubectl("patch", "daemonset", "gadget", "-n", "gadget", "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": status}))


def read_lines_until(stream, pred, timeout):
    """Reads lines from a pipe in a thread until pred(lines) holds."""
    lines, done = [], threading.Event()

    def pump():
        for line in stream:
            lines.append(line.rstrip("\n"))
            if pred(lines):
                done.set()
        done.set()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    done.wait(timeout)
    return lines


def make_agent_pod(api, name, node, ip, phase="Running", netns=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "gadget", "labels": {"k8s-app": "gadget"},
                        # where the stand-in's port-forward connects, as a runtime would
                        "annotations": {"apiserver.test/netns": netns} if netns else {}},
           "spec": {"nodeName": node, "containers": [{"name": "gadget", "image": "gadget-agent"}]}}
    status, obj = api.json("POST", "/api/v1/namespaces/gadget/pods", pod)
    assert status == 201, obj
    st = {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}],
          "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}]}
    status, obj = api.json("PATCH", f"/api/v1/namespaces/gadget/pods/{name}/status", {"status": st},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, obj


def ensure_namespace(api, ns):
    status, obj = api.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": ns}})
    assert status in (201, 409), obj


# --------------------------------------------------------------- no cluster needed

def test_plugin_is_found_by_kubectl(apiserver):
    r = apiserver.kubectl("plugin", "list", env={"PATH": BIN + os.pathsep + os.environ["PATH"]})
    assert PLUGIN in r.stdout


def test_help_texts(apiserver):
    r = kg(apiserver, "--help")
    assert r.returncode == 0, r.stderr
    for cmd in ("deploy", "undeploy", "run", "attach", "list", "delete", "list-containers",
                "version", "--gadget-namespace", "--kubeconfig", "--context"):
        assert cmd in r.stdout
    for cmd, words in (("deploy", ["--image", "--timeout", "--no-wait", "server-side apply"]),
                       ("undeploy", ["namespace", "instance", "nothing is kept"]),
                       ("run", ["-A, --all-namespaces", "-p, --podname", "-c, --containername",
                                "-l, --selector", "--node", "--detach", "-o, --output", "--fields",
                                "-F, --filter", "--sort", "--max-entries", "--map-fetch-interval",
                                "--map-fetch-count", "--timeout", "--name"]),
                       ("attach", ["Ctrl-C detaches"]), ("list", ["RECORDS", "TAGS"]),
                       ("delete", ["NAME"]), ("list-containers", ["-A", "-p", "-c", "-l"]),
                       ("version", ["agent"])):
        r = kg(apiserver, cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert r.stdout.startswith(f"Usage: kubectl gadget {cmd}"), r.stdout
        for w in words:
            assert w in r.stdout, (cmd, w)
        assert r.stderr == ""
    r = kg(apiserver, "--version")
    assert r.returncode == 0 and r.stdout.startswith("kubectl-gadget version ")


def test_usage_errors_exit_2(apiserver):
    for args, words in ((["bogus"], "unknown command 'bogus'"),
                        (["--bogus"], "unknown option '--bogus'"),
                        (["deploy", "--bogus"], "unknown option '--bogus'"),
                        (["deploy", "--timeout", "soon"], "invalid --timeout 'soon'"),
                        (["undeploy", "extra"], "unexpected argument 'extra'"),
                        (["run"], "which gadget?"),
                        (["run", "trace_exec", "-x"], "unknown option '-x'"),
                        (["run", "trace_exec", "-o", "xml"], "invalid value 'xml' for --output"),
                        (["run", "trace_exec", "--max-entries", "-3"], "--max-entries"),
                        (["run", "trace_exec", "--timeout", "5s", "--detach"], "--detach"),
                        (["run", "trace_exec", "--detach", "--name", "Bad_Name"],
                         "invalid instance name"),
                        (["run", "trace_exec", "-l", "novalue"], "invalid value 'novalue' for --selector"),
                        (["attach"], "which instance?"),
                        (["delete"], "which instance?"),
                        (["list", "-o", "xml"], "invalid output format"),
                        (["list-containers", "--bogus"], "unknown option '--bogus'"),
                        (["version", "extra"], "unexpected argument 'extra'"),
                        (["-n"], "needs a value")):
        r = kg(apiserver, *args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert r.stderr.count("error:") == 1, (args, r.stderr)


def test_print_embeds_every_manifest_of_deploy(apiserver):
    r = kg(apiserver, "deploy", "--print")
    assert r.returncode == 0, r.stderr
    assert docs(r.stdout) == deploy_objects()
    # --image replaces the agent image, --gadget-namespace moves everything
    r = kg(apiserver, "deploy", "--print", "--image", "registry.example/agent:v9",
           "--gadget-namespace", "gadget-test")
    assert r.returncode == 0, r.stderr
    objs = docs(r.stdout)
    ds = [o for o in objs if o["kind"] == "DaemonSet"][0]
    assert [c["image"] for c in ds["spec"]["template"]["spec"]["containers"]] == \
        ["registry.example/agent:v9"]
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == ["gadget-test"]
    for o in objs:
        if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == "gadget-test", o
        for s in o.get("subjects", []):
            assert s["namespace"] == "gadget-test"


def test_unreachable_api_server(apiserver, tmp_path):
    kc = tmp_path / "unreachable"
    with open(apiserver.kubeconfig) as f:
        kc.write_text(f.read().replace(f"127.0.0.1:{apiserver.port}", "127.0.0.1:1"))
    for args in (["deploy"], ["run", "trace_exec"], ["version"], ["list"], ["undeploy"]):
        r = kg(apiserver, *args, env={"KUBECONFIG": str(kc)})
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "cannot reach the API server at https://127.0.0.1:1" in r.stderr, r.stderr
        assert r.stderr.count("error:") == 1
    r = kg(apiserver, "run", "trace_exec", env={"KUBECONFIG": str(tmp_path / "missing")})
    assert r.returncode == 1 and "no usable Kubernetes configuration" in r.stderr, r.stderr
    # --kubeconfig names the file itself, as for kubectl
    r = kg(apiserver, "--kubeconfig", str(kc), "list-containers")
    assert r.returncode == 1 and "127.0.0.1:1" in r.stderr


# --------------------------------------------------------------- deploy / undeploy

def test_deploy_waits_for_the_daemonset(apiserver):
    api = apiserver
    p = kg_bg(api, "deploy", "--timeout", "30s")
    # the objects appear; then this test acts as the DaemonSet controller
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if api.kubectl("get", "ds", "-n", "gadget", "gadget", check=False).returncode == 0:
            break
        time.sleep(0.1)
    else:
        p.kill()
        pytest.fail("no DaemonSet: " + p.stderr.read())
    ds_status(api, desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=0,
              updatedNumberScheduled=2, numberMisscheduled=0, observedGeneration=1)
    time.sleep(0.5)
    assert p.poll() is None, "deploy returned before the agents were ready"
    ds_status(api, numberReady=1)
    time.sleep(0.5)
    assert p.poll() is None
    ds_status(api, numberReady=2)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert "0/2 agents ready" in err and "1/2 agents ready" in err and "2/2 agents ready" in err
    assert err.index("0/2") < err.index("1/2") < err.index("2/2")
    assert "daemonset/gadget" in out and "namespace/gadget" in out

    # everything deploy/ holds is there, as kubectl sees it
    for o in deploy_objects():
        args = ["get", o["kind"].lower(), o["metadata"]["name"], "-o", "json"]
        if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            args += ["-n", "gadget"]
        got = json.loads(api.kubectl(*args).stdout)
        assert got["metadata"].get("labels", {}).get("k8s-app") == "gadget", got
    ds = json.loads(api.kubectl("get", "ds", "-n", "gadget", "gadget", "-o", "json").stdout)
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == f"gadget-agent:{version}"

    # deploying again with another image updates in place (server-side apply);
    # the controller has not seen generation 2 yet: not ready until it has
    p = kg_bg(api, "deploy", "--image", "registry.example/agent:v2", "--timeout", "30s")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ds = json.loads(api.kubectl("get", "ds", "-n", "gadget", "gadget", "-o", "json").stdout)
        if ds["metadata"]["generation"] == 2:
            break
        time.sleep(0.1)
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/agent:v2"
    time.sleep(0.5)
    assert p.poll() is None, "ready with a status about the old spec"
    ds_status(api, observedGeneration=2)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert "not seen the new spec" in err


def test_deploy_timeout_names_the_nodes(apiserver):
    t0 = time.monotonic()
    r = kg(apiserver, "deploy", "--timeout", "2s")
    assert r.returncode == 1, r.stderr
    assert 2 <= time.monotonic() - t0 < 15
    assert "the agents are not ready after 2s: 0/0 ready" in r.stderr
    # the stand-in holds nodes n1 and n2 and runs no controller: no agent pods
    assert "no agent pod on: n1, n2" in r.stderr, r.stderr
    # with pods, the ones not ready are named with their node
    make_agent_pod(apiserver, "gadget-abcde", "n1", "127.0.0.9", phase="Pending")
    ds_status(apiserver, desiredNumberScheduled=2, numberReady=0, updatedNumberScheduled=2,
              observedGeneration=1)
    r = kg(apiserver, "deploy", "--timeout", "1s")
    assert r.returncode == 1
    assert "0/2 ready" in r.stderr
    assert "pod gadget-abcde on n1 (Pending)" in r.stderr and "no agent pod on: n2" in r.stderr
    # --no-wait returns once applied
    r = kg(apiserver, "deploy", "--no-wait")
    assert r.returncode == 0, r.stderr


def test_undeploy_removes_everything(apiserver):
    api = apiserver
    assert kg(api, "deploy", "--no-wait").returncode == 0
    make_agent_pod(api, "gadget-x1", "n1", "127.0.0.9")
    # a detached instance lives in the namespace: it goes with it
    api.kubectl("create", "configmap", "execs", "-n", "gadget",
                "--from-literal=instance.yaml=name: execs\nimage: trace_exec\n")
    api.kubectl("label", "configmap", "execs", "-n", "gadget", "type=gadget-instance")
    r = kg(api, "undeploy", "--timeout", "20s")
    assert r.returncode == 0, r.stderr
    for kind in ("daemonset", "configmap", "rolebinding", "role", "clusterrolebinding",
                 "clusterrole", "serviceaccount", "namespace"):
        assert f"{kind}/" in r.stdout, (kind, r.stdout)
    assert api.kubectl("get", "namespace", "gadget", check=False).returncode != 0
    assert api.kubectl("get", "clusterrole", "gadget", check=False).returncode != 0
    assert api.kubectl("get", "clusterrolebinding", "gadget", check=False).returncode != 0
    assert api.kubectl("get", "pods", "-A", "-l", "k8s-app=gadget", "-o", "name").stdout == ""
    assert api.kubectl("get", "cm", "-A", "-l", "type=gadget-instance", "-o", "name").stdout == ""
    # again: nothing to delete is not an error
    r = kg(api, "undeploy")
    assert r.returncode == 0, r.stderr
    assert "already gone" in r.stdout


def test_other_gadget_namespace(apiserver):
    api = apiserver
    r = kg(api, "deploy", "--no-wait", "--gadget-namespace", "tracing")
    assert r.returncode == 0, r.stderr
    assert api.kubectl("get", "ds", "-n", "tracing", "gadget").returncode == 0
    rb = json.loads(api.kubectl("get", "rolebinding", "-n", "tracing", "gadget", "-o",
                                "json").stdout)
    assert rb["subjects"][0]["namespace"] == "tracing"
    r = kg(api, "undeploy", "--gadget-namespace", "tracing")
    assert r.returncode == 0, r.stderr
    assert api.kubectl("get", "namespace", "tracing", check=False).returncode != 0


# --------------------------------------------------------------- finding agents

def test_run_without_agents_is_a_clear_error(apiserver):
    for args in (["run", "trace_exec", "-A"], ["run", "trace_exec", "--gadget-namespace", "empty"],
                 ["version"], ["list"], ["list-containers"], ["attach", "x"]):
        r = kg(apiserver, *args)
        assert r.returncode == 1, (args, r.stderr)
        assert "no gadget agent found: no pod labelled k8s-app=gadget in namespace" in r.stderr
        assert "kubectl gadget deploy" in r.stderr
    # delete needs no agent: it deletes the instance's ConfigMap
    r = kg(apiserver, "delete", "x")
    assert r.returncode == 1
    assert r.stderr == "kubectl-gadget: error: no gadget instance named 'x' (see 'kubectl gadget list')\n"


def test_unreachable_agent_is_reported_by_node(apiserver):
    api = apiserver
    ensure_namespace(api, "gadget")
    # a Running agent pod whose address nobody listens on
    make_agent_pod(api, "gadget-n1", "n1", "127.0.0.9")
    make_agent_pod(api, "gadget-n2", "n2", "127.0.0.9", phase="Pending")
    r = kg(api, "run", "trace_exec", "-A")
    assert r.returncode == 1
    assert re.search(r"n1: cannot reach the agent \(pod gadget-n1\): .*127\.0\.0\.9", r.stderr), \
        r.stderr
    assert "n2: agent pod gadget-n2 is not running (Pending)" in r.stderr
    assert "no gadget agent could be reached" in r.stderr
    r = kg(api, "version")
    assert r.returncode == 1
    assert r.stdout.startswith("kubectl-gadget version ")
    assert "node n1: not answering: cannot reach the agent" in r.stdout
    assert "node n2: not answering: agent pod gadget-n2 is not running" in r.stdout
    r = kg(api, "run", "trace_exec", "--node", "n3")
    assert r.returncode == 1 and "no gadget agent on node 'n3'" in r.stderr


# --------------------------------------------------------------- with a real agent

class Agent:
    """gadget-agent for node n1 in a network namespace of its own (its
    pod's), in Kubernetes mode against the stand-in (reached through a
    relay), with an agent Pod naming that namespace the way the DaemonSet's
    pod would have one."""

    def __init__(self, api, tmp_path, node="n1"):
        self.api, self.node = api, node
        self.net = PodNet()
        self.net.forward(api.port)
        self.addr = "10.244.0.2"  # its pod IP: shown, never connected to
        self.dir = tmp_path / f"agent-{node}"
        self.dir.mkdir()
        self.log = self.dir / "agent.log"
        cfg = {"listen": {"address": "127.0.0.1:8484", "unixSocket": ""},
               "health": {"address": "0.0.0.0:8485"},
               "oci": {"storeDir": os.path.join(REPO, "build", "oci-store")},
               # no runtime on this "node": the test is about the plugin
               "runtimes": [{"name": "containerd", "socketPath": str(self.dir / "none.sock")}],
               "gadgetNamespace": "gadget"}
        self.cfg = self.dir / "config.yaml"
        self.cfg.write_text(yaml.safe_dump(cfg))
        self.proc = None

    def start(self):
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                self.net.prefix() + [
                    AGENT, "--config", str(self.cfg), "--node-name", self.node, "--kubeconfig",
                    self.api.kubeconfig, "--state-dir", str(self.dir / "state")],
                stdout=logf, stderr=logf, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_tail()
            try:
                self.net.connect(("127.0.0.1", 8484), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("agent not listening:\n" + self.log_tail())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log_tail(self):
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture
def agent(apiserver, tmp_path):
    if not os.access(AGENT, os.X_OK):
        pytest.fail(f"{AGENT} is not built")
    ensure_namespace(apiserver, "gadget")
    a = Agent(apiserver, tmp_path)
    try:
        a.start()
    except BaseException:
        a.stop(signal.SIGKILL)
        a.net.close()
        raise
    make_agent_pod(apiserver, "gadget-n1", "n1", a.addr, netns=a.net.path)
    try:
        yield a
    finally:
        a.stop()
        a.net.close()


class Execs:
    """Runs /bin/true MARKER every 50 ms until stopped: execs to trace."""

    def __init__(self):
        self.marker = f"kgt-{os.urandom(6).hex()}"
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_ev.is_set():
            subprocess.run(["/bin/true", self.marker])
            time.sleep(0.05)

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)


@pytest.fixture
def execs():
    e = Execs()
    yield e
    e.stop()


def rfc3339(ts):
    """Seconds since the epoch of "2024-05-01T10:00:00.123456789+02:00" (or Z)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", ts)
    assert m, ts
    frac = (m.group(2) or ".0")[:7]
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + frac + zone).timestamp()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def marked(records, marker):
    return [r for r in records if marker in (get(r, "args") or "")]


def test_run_json_sees_an_exec(apiserver, agent, execs):
    t0 = time.monotonic()
    r = kg(apiserver, "run", "trace_exec", "-o", "json", "--timeout", "3s", "-A", timeout=60)
    assert r.returncode == 0, r.stderr + agent.log_tail()
    assert 3 <= time.monotonic() - t0 < 30
    recs = json_lines(r.stdout)  # every line is one JSON object
    mine = marked(recs, execs.marker)
    assert mine, r.stdout[-2000:]
    assert all(get(x, "k8s.node") == "n1" for x in recs)
    assert get(mine[0], "proc.comm") == "true"
    assert r.stderr == ""


def test_version_shows_the_node(apiserver, agent):
    r = kg(apiserver, "version")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("kubectl-gadget version ")
    assert re.match(r"node n1: gadget-agent \S+ \(protocol 1\.\d+, kernel .*, pod gadget-n1\)",
                    lines[1]), r.stdout


def test_run_outputs_params_and_fields(apiserver, agent, execs):
    # columns with chosen fields: a header, then rows
    r = kg(apiserver, "run", "trace_exec", "-A", "--timeout", "2s", "--fields",
           "k8s.node,comm,args", "--comm", "true")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[1:] == ["COMM", "ARGS"], lines[0]
    rows = [line for line in lines[1:] if execs.marker in line]
    assert rows and rows[0].split()[:2] == ["n1", "true"], r.stdout[-2000:]
    # the param reached the gadget: every exec is a "true"
    assert all(line.split()[1] == "true" for line in lines[1:]), r.stdout[-2000:]
    # jsonpretty and yaml carry the same records
    r = kg(apiserver, "run", "trace_exec", "-A", "--timeout", "2s", "-o", "yaml",
           "--fields", "k8s.node,proc.comm,args", "-F", "proc.comm==true")
    assert r.returncode == 0, r.stderr
    recs = docs(r.stdout)
    assert marked(recs, execs.marker) and all(set(x) == {"k8s", "proc", "args"} for x in recs)
    assert all(get(x, "proc.comm") == "true" for x in recs)
    r = kg(apiserver, "run", "trace_exec", "-A", "--timeout", "2s", "-o", "jsonpretty")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{\n  ")
    assert marked(json.loads("[" + r.stdout.replace("}\n{", "},\n{") + "]"), execs.marker)


def test_run_usage_errors_need_no_run(apiserver, agent):
    for args, words in ((["--bogus"], "unknown option '--bogus'"),
                        (["--fields", "nosuchfield"], "unknown field 'nosuchfield'"),
                        (["--uid", "notanumber"], "uid"),
                        (["--comm"], "param --comm needs a value"),
                        (["--ignore-failed", "extra"], "unexpected argument 'extra'")):
        r = kg(apiserver, "run", "trace_exec", "-A", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert r.stdout == ""
    assert not re.search(r"\brun \d+:", agent.log_tail()), agent.log_tail()
    r = kg(apiserver, "run", "no_such_gadget", "-A", "--timeout", "1s")
    assert r.returncode == 1 and "no_such_gadget" in r.stderr and r.stdout == ""
    # --help asks the agent for the gadget's params and fields
    r = kg(apiserver, "run", "trace_exec", "--help")
    assert r.returncode == 0, r.stderr
    assert "--ignore-failed bool" in r.stdout and "--comm string" in r.stdout
    assert "Fields of data source 'exec' (tracer)" in r.stdout and "proc.comm" in r.stdout


def test_ctrl_c_stops_the_run(apiserver, agent, execs):
    p = kg_bg(apiserver, "run", "trace_exec", "-A", "-o", "json")
    lines = read_lines_until(p.stdout, lambda ls: any(execs.marker in x for x in ls), 20)
    assert any(execs.marker in x for x in lines), p.stderr.read() if p.poll() is not None else ""
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 0
    assert p.stderr.read() == ""
    # the agent ended the run (StopRun) and serves on
    assert kg(apiserver, "version").returncode == 0


def test_two_nodes_merged_and_one_lost(apiserver, agent, execs, tmp_path):
    """Two agents (n1, n2) see the same kernel: the stream has both nodes;
    SIGKILL n2's agent mid-run: "n2: ..." once on stderr, n1 goes on, and
    the exit code is 1 at the end."""
    n2 = Agent(apiserver, tmp_path, node="n2")
    try:
        n2.start()
        make_agent_pod(apiserver, "gadget-n2", "n2", n2.addr, netns=n2.net.path)
        p = kg_bg(apiserver, "run", "trace_exec", "-A", "-o", "json")
        lines, done = [], threading.Event()

        def pump():
            for line in p.stdout:
                lines.append(json.loads(line))
            done.set()

        threading.Thread(target=pump, daemon=True).start()

        def nodes_seen(since=0):
            return {get(r, "k8s.node") for r in marked(lines[since:], execs.marker)}

        deadline = time.monotonic() + 20
        while nodes_seen() != {"n1", "n2"} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nodes_seen() == {"n1", "n2"}, lines[-5:]
        n2.stop(signal.SIGKILL)
        # n1 keeps streaming after n2 is gone
        mark = len(lines)
        deadline = time.monotonic() + 10
        while nodes_seen(mark) != {"n1"} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nodes_seen(mark) == {"n1"}
        assert p.poll() is None
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 1
        err = p.stderr.read()
        assert re.search(r"^kubectl-gadget: n2: .+", err, re.M), err
        assert err.count("n2:") == 1 and "n1:" not in err, err
    finally:
        n2.stop(signal.SIGKILL)
        n2.net.close()


# A hostile or broken agent: protobuf written by hand (field numbers from agent/api.proto).

def pb_varint(v):
    v &= (1 << 64) - 1
    out = b""
    while True:
        b, v = v & 0x7F, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def pb_uint(n, v):
    return pb_varint(n << 3) + pb_varint(v)


def pb_bytes(n, b):
    b = b.encode() if isinstance(b, str) else b
    return pb_varint(n << 3 | 2) + pb_varint(len(b)) + b


def pb_top(msg):
    """The top-level fields of a message: {number: first value (int or bytes)}."""
    out, i = {}, 0
    while i < len(msg):
        key = shift = 0
        while True:
            b = msg[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        n, wt = key >> 3, key & 7
        v = shift = 0
        while True:
            b = msg[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if wt == 2:
            v, i = msg[i:i + v], i + v
        out.setdefault(n, v)
    return out


def fake_layout(offset):
    """A data source "exec" of 8-byte records with one __u32 field at offset."""
    field = (pb_bytes(1, "x") + pb_bytes(2, "x") + pb_bytes(3, "__u32") + pb_uint(4, -1)
             + pb_uint(6, 2) + pb_uint(8, offset) + pb_uint(9, 4))
    return (pb_bytes(1, "exec") + pb_uint(2, 1) + pb_bytes(3, "event") + pb_uint(4, 8)
            + pb_bytes(5, field))


class FakeAgent:
    """Answers Hello and GetGadgetInfo like an agent of protocol 1.2, then
    answers RunGadget (after the real agent's RunStarted) with what `bad`
    says, and keeps the connection open."""

    def __init__(self, bad):
        self.bad = bad
        self.net = PodNet()
        self.ls = self.net.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 8484))
        self.ls.listen(8)
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _send(c, rid, field, body):
        msg = pb_uint(1, rid) + pb_bytes(field, body)
        c.sendall(struct.pack(">I", len(msg)) + msg)

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                n = struct.unpack(">I", buf[:4])[0]
                req, buf = pb_top(buf[4:4 + n]), buf[4 + n:]
                rid = req.get(1, 0)
                if 10 in req:  # Hello -> Welcome
                    self._send(c, rid, 11, pb_uint(1, 1) + pb_uint(2, 2) + pb_bytes(3, "fake")
                               + pb_bytes(4, "n2"))
                elif 12 in req:  # GetGadgetInfo -> GadgetInfo
                    self._send(c, rid, 13, pb_bytes(1, "trace_exec"))
                elif 13 in req:  # RunGadget
                    time.sleep(3)  # the real agent describes the records first
                    self._run(c, rid)
        except OSError:
            return

    def _run(self, c, rid):
        started = pb_uint(1, 7) + pb_uint(5, 1)
        if self.bad == "layout":
            # a field past the end of the 8-byte record
            self._send(c, rid, 14, started + pb_bytes(6, fake_layout(6)))
        elif self.bad == "frame":
            c.sendall(struct.pack(">I", 100 << 20) + b"\0" * 64)
        else:
            self._send(c, rid, 14, started + pb_bytes(6, fake_layout(0)))
            # one record that says 5 bytes and has 2
            self._send(c, rid, 15, pb_bytes(5, "exec") + pb_bytes(11, b"\x05ab")
                       + pb_uint(12, 1))

    def close(self):
        self.ls.close()
        for c in self.conns:
            c.close()
        self.net.close()


@pytest.mark.parametrize("bad,why", [
    ("layout", r"n2: data source exec: field 0 \(x\) lies outside the record"),
    ("batch", r"n2: a malformed record batch: a malformed record in a batch"),
    ("frame", r"n2: .*"),
])
def test_a_broken_agent_is_dropped_in_one_line(apiserver, agent, execs, bad, why):
    """An agent that describes records wrongly, sends a malformed batch or an
    oversized frame is dropped with one line naming it; the other node's
    records go on, and the plugin ends with 1."""
    fake = FakeAgent(bad)
    try:
        make_agent_pod(apiserver, "gadget-n2", "n2", "10.244.0.3", netns=fake.net.path)
        p = kg_bg(apiserver, "run", "trace_exec", "-A", "-o", "json")
        lines = []
        threading.Thread(target=lambda: [lines.append(json.loads(ln)) for ln in p.stdout],
                         daemon=True).start()
        # the fake answers 3 s after RunGadget: by then n1 streams, and after it too
        time.sleep(6)
        seen = len(marked(lines, execs.marker))
        assert seen > 0, lines[-3:]
        time.sleep(1.5)
        # n1 goes on after n2 was dropped
        assert len(marked(lines, execs.marker)) > seen and p.poll() is None
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 1
        err = p.stderr.read()
        assert len(re.findall(r"^kubectl-gadget: n2: ", err, re.M)) == 1, err
        assert re.search(why, err), err
        assert {get(r, "k8s.node") for r in marked(lines, execs.marker)} == {"n1"}
    finally:
        fake.close()


def test_list_containers_without_runtime(apiserver, agent):
    r = kg(apiserver, "list-containers", "-A")
    assert r.returncode == 1
    assert r.stdout.startswith("NODE")
    assert "n1: " in r.stderr and "runtime" in r.stderr
    r = kg(apiserver, "list-containers", "-A", "-o", "json")
    assert r.returncode == 1 and json.loads(r.stdout) == []


def test_detached_instance(apiserver, agent, execs):
    api = apiserver
    r = kg(api, "run", "trace_exec", "-A", "--detach", "--name", "execs", "--tag", "audit",
           "--comm", "true", "--logs", "stdout", "--logs-max-size-mb", "5")
    assert r.returncode == 0, r.stderr + agent.log_tail()
    assert r.stdout.startswith("gadget instance execs created (id ")
    try:
        cm = json.loads(api.kubectl("get", "cm", "-n", "gadget", "-l", "type=gadget-instance",
                                    "-o", "json").stdout)["items"]
        assert [c["metadata"]["name"] for c in cm] == ["execs"]
        spec = yaml.safe_load(cm[0]["data"]["instance.yaml"])
        assert spec["image"] == "trace_exec" and spec["params"] == {"comm": "true"}
        assert spec["tags"] == ["audit"]
        assert spec["logs"] == {"channel": "stdout", "maxSizeMB": 5}, spec
        # taken names are refused, naming the name
        r = kg(api, "run", "trace_exec", "-A", "--detach", "--name", "execs")
        assert r.returncode == 1 and "execs" in r.stderr

        # records made while no client is attached are kept for the next one
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lst = json.loads(kg(api, "list", "-o", "json").stdout)
            if lst and lst[0]["records"] > 0:
                break
            time.sleep(0.2)
        assert lst[0]["name"] == "execs" and lst[0]["tags"] == ["audit"], lst
        assert lst[0]["states"]["n1"]["state"] == "running"
        r = kg(api, "list")
        assert r.returncode == 0
        assert re.search(r"^[0-9a-f-]{12}\s+execs\s+trace_exec\s+all\s+n1:running\s+\d+\s+audit$",
                         r.stdout, re.M), r.stdout
        before = time.time()
        p = kg_bg(api, "attach", "execs", "-o", "json")
        lines = read_lines_until(p.stdout, lambda ls: len(ls) > 3, 20)
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 0, p.stderr.read()
        recs = json_lines("\n".join(lines))
        assert marked(recs, execs.marker)
        first = rfc3339(get(recs[0], "timestamp"))
        assert first < before + 0.5, "the attach did not start with kept records"
        # detaching left it running
        assert json.loads(kg(api, "list", "-o", "json").stdout)[0]["name"] == "execs"
    finally:
        r = kg(api, "delete", "execs")
    assert r.returncode == 0 and r.stdout == "gadget instance execs deleted\n", r.stderr
    assert api.kubectl("get", "cm", "-n", "gadget", "-l", "type=gadget-instance",
                       "-o", "name").stdout == ""
    for args in (["attach", "execs"], ["delete", "execs"]):
        r = kg(api, *args)
        assert r.returncode == 1 and "no gadget instance named 'execs'" in r.stderr, r.stderr
    assert kg(api, "list").stdout.splitlines()[1:] == []


def instance_selector(api, name):
    cm = json.loads(api.kubectl("get", "cm", name, "-n", "gadget", "-o", "json").stdout)
    return yaml.safe_load(cm["data"]["instance.yaml"])


def test_selector_and_namespace_rule(apiserver, agent, tmp_path):
    """What the flags make of the selector, as the agent stores it for an
    instance: -n, else the context's namespace; -A none; -p -c -l; --node."""
    api = apiserver
    cases = [(["-p", "web", "-c", "nginx", "-l", "app=x,tier=y"],
              {"namespace": "default", "podname": "web", "containername": "nginx",
               "labels": {"app": "x", "tier": "y"}}, None),
             (["-n", "shop"], {"namespace": "shop"}, None),
             (["-A", "--node", "n1"], {}, ["n1"])]
    for i, (flags, want, nodes) in enumerate(cases):
        r = kg(api, "run", "trace_exec", "--detach", "--name", f"sel{i}", *flags)
        assert r.returncode == 0, r.stderr
        spec = instance_selector(api, f"sel{i}")
        assert {k: v for k, v in spec.get("selector", {}).items() if v} == want, spec
        assert (spec.get("nodes") or None) == nodes, spec
        assert kg(api, "delete", f"sel{i}").returncode == 0
    # the context's namespace is the default
    kc = tmp_path / "team-kubeconfig"
    with open(api.kubeconfig) as f:
        kc.write_text(f.read())
    api.kubectl("config", "set-context", "--current", "--namespace=team", "--kubeconfig", str(kc))
    r = kg(api, "run", "trace_exec", "--detach", "--name", "selctx", env={"KUBECONFIG": str(kc)})
    assert r.returncode == 0, r.stderr
    assert instance_selector(api, "selctx")["selector"]["namespace"] == "team"
    # and a selector on a node that has no container runtime is that node's error
    r = kg(api, "run", "trace_exec", "-n", "shop", "--timeout", "1s")
    assert r.returncode == 1
    assert re.search(r"kubectl-gadget: n1: .*runtime", r.stderr), r.stderr
