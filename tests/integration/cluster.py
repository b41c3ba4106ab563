# SPDX-License-Identifier: Apache-2.0
"""A three-node cluster on one machine, for the end-to-end tests of cluster
mode (tests/integration/test_cluster.py).

What runs, all real except the API server:

- the stand-in API server (tests/apiserver) holding the Node objects, with a
  token for the agents' service account besides the admin's;
- the Helm chart (charts/gadget) rendered by the real helm and applied with
  the real kubectl, as a user would install it: namespace, RBAC, the
  ConfigMap `gadget-config`, the DaemonSet;
- per node, a private containerd (tests/integration/containerd.py) and a
  `gadget-agent` process.  Playing the DaemonSet controller and the kubelet,
  the fixture creates one agent Pod per node from the DaemonSet's template
  (Running, Ready) and starts the agent in a network namespace of its own,
  as its pod's (podnet.py), with the chart's config.yaml read back from the
  API server, where only the node-local things are replaced: each agent
  listens where the chart says (control API on 127.0.0.1:8484 and health on
  8485, of its own namespace), has its own unix socket and state dir, talks
  to its own node's containerd, reaches the API server through a relay in
  its namespace, and reads gadgets from the build's OCI store
  (build/oci-store, in-tree gadgets as <name>:latest).  The Pod's annotation
  apiserver.test/netns names the namespace: the stand-in's pods/portforward
  connects to 127.0.0.1:port in it, as a node's runtime does, so `kubectl
  gadget` reaches agent i there; the fixture probes /readyz from inside it,
  as the kubelet probes the pod;
- workload pods: created in the API server first (which assigns the uid, as
  it would for a kubelet), then run through CRI in that node's containerd
  with the labels the kubelet sets (io.kubernetes.pod.{name,namespace,uid}),
  then given the status a kubelet reports.

All the pods use the host network and every agent sees every exec on this
one kernel; an agent reports a process only when it belongs to one of its
own containerd's containers, so tests always select by namespace or pod.

Everything is torn down even when a test fails: agents get SIGTERM (an exit
status other than 0 fails the module at teardown, as docs/agent.md promises
0), then SIGKILL by pid if still there; the containerds clean up their pods,
shims and mounts; the API server stops; the temporary directory goes.

    from cluster import cluster   # noqa: F401  (module-scoped fixture)
    def test_x(cluster):
        w = cluster.add_pod(0, "demo", "web")
        run = cluster.gadget_bg("run", "trace_exec", "-n", "demo", "-o", "json")

The binaries are build/bin/{gadget-agent,kubectl-gadget} unless GADGET_AGENT
and KUBECTL_GADGET name others (e.g. the SANITIZE=1 builds in build/san/bin:
a sanitizer report in an agent's log or on the plugin's stderr fails the
tests).  GADGET_AGENT_WRAPPER runs the agents under a tool, e.g.
"valgrind -q --error-exitcode=99 --leak-check=full
--errors-for-leak-kinds=definite --suppressions=tests/unit/libbpf.supp".

By hand, to try `kubectl gadget` on pods of one's own (as root; prints the
KUBECONFIG and PATH to use, tears everything down on Ctrl-C):

    /usr/bin/python3 tests/integration/cluster.py --pod 0:shop/cart --pod 2:shop/web:app=web
"""

import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest
import yaml

from apiserver import KUBECTL, ApiServer
from containerd import BUSYBOX, CONTAINERD_BIN, CRI_POD, CTR_BIN, IMAGE, Containerd
from podnet import PodNet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.join(REPO, "build", "bin")
AGENT = os.environ.get("GADGET_AGENT", os.path.join(BIN_DIR, "gadget-agent"))
KUBECTL_GADGET = os.environ.get("KUBECTL_GADGET", os.path.join(BIN_DIR, "kubectl-gadget"))
HELM = os.environ.get("HELM", os.path.join(REPO, "build", "tools", "bin", "helm"))
CHART = os.path.join(REPO, "charts", "gadget")
STORE = os.environ.get("IG_OCI_STORE", os.path.join(REPO, "build", "oci-store"))
# e.g. "valgrind -q --error-exitcode=99": agents run under it (an exit status
# other than 0 after SIGTERM fails the module's teardown)
AGENT_WRAPPER = os.environ.get("GADGET_AGENT_WRAPPER", "").split()

GADGET_NS = "gadget"
AGENT_PORT = 8484
HEALTH_PORT = 8485
METRICS_PORT = 2224
AGENT_TOKEN = "gadget-agent-sa-token"
AGENT_USER = "system:serviceaccount:gadget:gadget"
NODE_NAMES = ("node-1", "node-2", "node-3")
LOOP = "while true; do /bin/true {m}; sleep 0.2; done"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sanitizer_lines(text):
    """ASan/LSan/UBSan report lines (binaries built with SANITIZE=1)."""
    return [line for line in text.splitlines() if "Sanitizer" in line or "runtime error:" in line]


def _deadline_loop(timeout, every=0.05):
    """Yields until the timeout; the caller returns from inside when done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        yield
        time.sleep(every)


class Stream:
    """A command running in the background whose stdout and stderr lines are
    collected by threads (here: `kubectl gadget run|attach`)."""

    def __init__(self, argv, env, context=None):
        self.args = list(argv)
        # called when a wait fails: more to show than the command's output
        self.context = context
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True, start_new_session=True)
        self.lines = []
        self.err_lines = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines)),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err_lines))]
        for t in self._threads:
            t.start()

    def _pump(self, f, dst):
        for line in f:
            with self._lock:
                dst.append(line.rstrip("\n"))

    def stdout(self):
        with self._lock:
            return list(self.lines)

    def stderr(self):
        with self._lock:
            return list(self.err_lines)

    def records(self):
        out = []
        for line in self.stdout():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def describe(self):
        out = (f"{' '.join(self.args)} (exit {self.proc.poll()})\nstdout:\n"
               + "\n".join(self.stdout()[-20:]) + "\nstderr:\n" + "\n".join(self.stderr()[-20:]))
        if self.context:
            out += "\n" + self.context()
        return out

    def wait_for(self, match, timeout=20.0, what="a matching record"):
        """Returns match(records, stderr lines) as soon as it is truthy;
        fails naming `what` after the timeout or when the command exits."""
        for _ in _deadline_loop(timeout):
            found = match(self.records(), self.stderr())
            if found:
                return found
            if self.proc.poll() is not None:
                self._join()
                found = match(self.records(), self.stderr())
                if found:
                    return found
                break
        self.stop(signal.SIGKILL, check=False)
        raise AssertionError(f"no {what} from {self.describe()}")

    def _join(self):
        for t in self._threads:
            t.join(5)

    def wait(self, timeout=30):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL, check=False)
            raise AssertionError(f"still running after {timeout}s: {self.describe()}")
        return self.stop()

    def stop(self, sig=signal.SIGINT, timeout=15, check=True):
        """Signals the command unless it ended; returns its exit status.
        check: a sanitizer report on its stderr fails."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._join()
        assert not (check and sanitizer_lines("\n".join(self.stderr()))), self.describe()
        return self.proc.returncode


class Agent:
    """One gadget-agent process, started as the DaemonSet's container would
    be: `--config FILE` plus the environment of the pod template."""

    def __init__(self, node, config_path, env):
        self.node = node
        self.config_path = config_path
        self.env = env
        self.log_path = os.path.join(node.dir, "agent.log")
        self.proc = None
        self.starts = 0

    def argv(self):
        return self.node.net.prefix() + AGENT_WRAPPER + [
                AGENT, "--config", self.config_path, "--kubeconfig", self.node.cluster.agent_kubeconfig,
                "--state-dir", self.node.state_dir,
                # the agent runs in the host's mount namespace, not in a
                # container with the host mounted at /host
                "--host-root", "/"]

    def start(self, wait=True):
        if self.proc and self.proc.poll() is None:
            raise RuntimeError(f"agent of {self.node.name} already running")
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(self.argv())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        self.starts += 1
        if wait:
            self.wait_ready()
        return self

    def readyz(self):
        """The kubelet's readiness probe, from the pod's network namespace."""
        try:
            status, _, body = self.node.net.http(f"http://127.0.0.1:{HEALTH_PORT}/readyz",
                                                 timeout=1)
            return status, body
        except OSError as e:
            return None, str(e)

    def wait_ready(self, timeout=None):
        """/readyz is 200 once the node's pods are watched, the runtime
        answers and the instance ConfigMaps are loaded; the control port is
        checked too, since that is what the tests talk to."""
        if timeout is None:
            timeout = 120.0 if AGENT_WRAPPER else 30.0
        last = None
        for _ in _deadline_loop(timeout, every=0.1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent of {self.node.name} exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            status, body = self.readyz()
            last = (status, body)
            if status == 200:
                try:
                    self.node.net.connect(("127.0.0.1", AGENT_PORT), timeout=1).close()
                    return self
                except OSError as e:
                    last = (status, f"control port: {e}")
        raise RuntimeError(f"agent of {self.node.name} not ready after {timeout}s "
                           f"(/readyz: {last}):\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL, timeout=35):
        """Signals the agent's own pid (never a process group or a name)
        and waits for it; returns its exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stop(self):
        return self.kill(signal.SIGTERM)

    def restart(self, sig=signal.SIGTERM):
        self.kill(sig)
        return self.start()

    def sanitizer_reports(self):
        """ASan/LSan/UBSan lines in the log (builds with SANITIZE=1)."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        return sanitizer_lines(text)

    def log_tail(self, n=40):
        """The last n lines of the log, without libbpf's debug chatter
        (CO-RE relocations) and valgrind's warnings about bpf() commands it
        does not know, which would hide everything else."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        noise = (" debug libbpf: ", "WARNING: unhandled eBPF command")  # the latter: valgrind's
        return "\n".join([line for line in lines if not any(x in line for x in noise)][-n:])


class Node:
    def __init__(self, cluster, index, name):
        self.cluster = cluster
        self.index = index
        self.name = name
        # the agent pod's network namespace, and its pod IP (never connected to)
        self.net = PodNet("igtnode")
        self.address = f"10.244.{index}.2"
        self.dir = os.path.join(cluster.dir, name)
        self.state_dir = os.path.join(self.dir, "state")
        self.unix_socket = os.path.join(self.dir, "agent.sock")
        os.makedirs(self.state_dir)
        self.containerd = Containerd(base=self.dir)
        self.agent = None
        self.pod_name = None  # the agent's Pod in the gadget namespace


class Workload:
    """A pod running in one node's containerd and mirrored in the API
    server; its container loops exec'ing `/bin/true <marker>`."""

    def __init__(self, node, ns, name, uid, labels, container, marker):
        self.node = node
        self.ns = ns
        self.name = name
        self.uid = uid
        self.labels = labels
        self.container = container
        self.marker = marker
        self.sandbox = None
        self.cid = None

    def mine(self, records):
        """The records of this pod's own loop."""
        return [r for r in records if self.marker in (r.get("args") or "")]


class Cluster:
    def __init__(self, node_names=NODE_NAMES, helm_values=None):
        """helm_values: a values file; the chart is then installed with the
        real `helm install` (a release helm upgrades later), not applied
        from `helm template`."""
        self.helm_values = helm_values
        self.dir = tempfile.mkdtemp(prefix="igcluster-")
        self.api = None
        self.nodes = []
        self.workloads = []
        self.agent_kubeconfig = os.path.join(self.dir, "agent-kubeconfig")
        self.node_names = tuple(node_names)
        self.helm_home = os.path.join(self.dir, "helm")

    # -- bring-up ------------------------------------------------------------
    def start(self, agents=True):
        token_file = os.path.join(self.dir, "tokens.csv")
        with open(token_file, "w") as f:
            f.write(f'{AGENT_TOKEN},{AGENT_USER},{uuid.uuid4()},"system:serviceaccounts,'
                    f'system:serviceaccounts:{GADGET_NS}"\n')
        api_dir = os.path.join(self.dir, "api")
        os.makedirs(api_dir)
        self.api = ApiServer(api_dir, nodes=self.node_names, token_file=token_file)
        self.api.start()
        self._write_agent_kubeconfig()
        self.nodes = [Node(self, i, n) for i, n in enumerate(self.node_names)]
        for n in self.nodes:
            # the API server, as a pod reaches it through the cluster's service network
            n.net.forward(self.api.port)
        self._start_containerds()
        self._install_chart()
        for n in self.nodes:
            self._create_agent_pod(n)
        if not agents:
            return self
        # agents start concurrently: each waits for its own /readyz
        for n in self.nodes:
            n.agent.start(wait=False)
        for n in self.nodes:
            n.agent.wait_ready()
        self._set_daemonset_status()
        return self

    def _write_agent_kubeconfig(self):
        """The admin kubeconfig with the agents' service-account token, so the
        API server records the agents under their own identity."""
        with open(self.api.kubeconfig) as f:
            kc = yaml.safe_load(f)
        for u in kc.get("users", []):
            u["user"] = {"token": AGENT_TOKEN}
        with open(self.agent_kubeconfig, "w") as f:
            yaml.safe_dump(kc, f)

    def _start_containerds(self):
        errors = []

        def up(n):
            try:
                n.containerd.start()
                n.containerd.import_image()
            except Exception as e:  # reported below, after every thread ended
                errors.append(f"{n.name}: {e}")

        threads = [threading.Thread(target=up, args=(n,)) for n in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError("containerd: " + "\n".join(errors))

    def helm(self, *args):
        env = dict(os.environ, HELM_CACHE_HOME=os.path.join(self.helm_home, "cache"),
                   HELM_CONFIG_HOME=os.path.join(self.helm_home, "config"),
                   HELM_DATA_HOME=os.path.join(self.helm_home, "data"))
        r = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        return r.stdout

    def _install_chart(self):
        if self.helm_values:
            self.helm_release("install", self.helm_values)
            return
        manifest = self.helm("template", "gadget", CHART)
        self.api.kubectl("apply", "-f", "-", input=manifest)

    def helm_release(self, verb, values):
        """`helm install|upgrade gadget CHART -f values` against the API server."""
        env = dict(self.api.env(), HELM_CACHE_HOME=os.path.join(self.helm_home, "cache"),
                   HELM_CONFIG_HOME=os.path.join(self.helm_home, "config"),
                   HELM_DATA_HOME=os.path.join(self.helm_home, "data"))
        r = subprocess.run([HELM, verb, "gadget", CHART, "-f", values], capture_output=True,
                           text=True, timeout=120, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"helm {verb} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def _config_for(self, node):
        """The chart's config.yaml as the API server holds it, with what is
        node-local on a real cluster made distinct per node here."""
        cm = json.loads(self.api.kubectl("get", "configmap", "gadget-config", "-n", GADGET_NS,
                                         "-o", "json").stdout)
        cfg = yaml.safe_load(cm["data"]["config.yaml"]) or {}
        cfg["hostRoot"] = "/"
        cfg["runtimes"] = [{"name": "containerd", "socketPath": node.containerd.socket}]
        # the control API and the health port stay where the chart puts them, in the pod's namespace
        cfg.setdefault("listen", {})
        cfg["listen"]["unixSocket"] = node.unix_socket
        cfg.setdefault("oci", {})
        cfg["oci"]["storeDir"] = STORE
        cfg["logLevel"] = "debug"
        # otel-metrics-listen-address stays the chart's (0.0.0.0:2224), in the pod's namespace
        if "logs" in cfg:
            cfg["logs"]["directory"] = os.path.join(node.dir, "logs")
        path = os.path.join(node.dir, "config.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f)
        return path

    def _create_agent_pod(self, node):
        """What the DaemonSet controller and the kubelet would do for this
        node: a Pod from the template, bound to the node, then its agent
        started with the template's environment, then Running and Ready."""
        ds = self.get_json("daemonset", "gadget", ns=GADGET_NS)
        tmpl = ds["spec"]["template"]
        suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"gadget-{suffix}", "namespace": GADGET_NS,
                            "labels": dict(tmpl["metadata"].get("labels", {})),
                            # where the stand-in's port-forward connects, as a runtime would
                            "annotations": dict(tmpl["metadata"].get("annotations", {}),
                                                **{"apiserver.test/netns": node.net.path}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                 "name": "gadget", "uid": ds["metadata"]["uid"],
                                                 "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": dict(tmpl["spec"], nodeName=node.name)}
        status, obj = self.api.json("POST", f"/api/v1/namespaces/{GADGET_NS}/pods", pod)
        assert status == 201, obj
        node.pod_name = obj["metadata"]["name"]
        node.agent = Agent(node, self._config_for(node), self._container_env(tmpl, obj))
        self._set_pod_status(GADGET_NS, node.pod_name, node, node.address,
                             [(c["name"], c["image"], None) for c in tmpl["spec"]["containers"]])

    @staticmethod
    def _container_env(tmpl, pod):
        """The first container's env with the downward API resolved."""
        env = dict(os.environ)
        for e in tmpl["spec"]["containers"][0].get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "fieldRef" in e.get("valueFrom", {}):
                cur = pod
                for part in e["valueFrom"]["fieldRef"]["fieldPath"].split("."):
                    cur = cur.get(part, {}) if isinstance(cur, dict) else {}
                env[e["name"]] = cur if isinstance(cur, str) else ""
        return env

    def _set_pod_status(self, ns, name, node, ip, containers):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        st = {"phase": "Running", "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
              "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
              "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                             for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
              "containerStatuses": [
                  {"name": cname, "image": image, "imageID": "", "ready": True, "started": True,
                   "restartCount": 0, "state": {"running": {"startedAt": now}},
                   **({"containerID": f"containerd://{cid}"} if cid else {})}
                  for cname, image, cid in containers]}
        status, obj = self.api.json("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                                    {"status": st},
                                    headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, obj

    def _set_daemonset_status(self):
        n = len(self.nodes)
        st = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
              "numberMisscheduled": 0, "numberReady": n, "updatedNumberScheduled": n,
              "observedGeneration": 1}
        status, obj = self.api.json("PATCH", f"/apis/apps/v1/namespaces/{GADGET_NS}/daemonsets/gadget/status",
                                    {"status": st},
                                    headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, obj

    # -- API helpers ---------------------------------------------------------
    def kubectl(self, *args, **kw):
        return self.api.kubectl(*args, env=self._plugin_env(), **kw)

    def get_json(self, kind, name=None, ns=None, selector=None):
        args = ["get", kind] + ([name] if name else [])
        args += ["-n", ns] if ns else []
        args += ["-l", selector] if selector else []
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def ensure_namespace(self, ns):
        status, obj = self.api.json("POST", "/api/v1/namespaces",
                                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        assert status in (201, 409), obj

    def ctr(self, node, *args):
        """containerd's own CLI on a node's containerd (k8s.io namespace),
        an independent view of what runs there."""
        r = subprocess.run([CTR_BIN, "--address", node.containerd.socket, "-n", "k8s.io", *args],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)} on {node.name} failed: {r.stderr}")
        return r.stdout

    # -- workloads -----------------------------------------------------------
    def add_pod(self, node_index, ns, name=None, labels=None, container="app", script=None):
        """A pod on nodes[node_index]: the Pod object first (the API server
        gives it its uid), then the sandbox and container in that node's
        containerd under the same name, namespace and uid, then the status
        the kubelet would report.  Returns the running Workload."""
        node = self.nodes[node_index]
        name = name or unique("pod")
        labels = dict(labels or {"app": name})
        self.ensure_namespace(ns)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"nodeName": node.name, "hostNetwork": True,
                        "containers": [{"name": container, "image": IMAGE,
                                        "command": ["/bin/sh", "-c"]}]}}
        status, obj = self.api.json("POST", f"/api/v1/namespaces/{ns}/pods", pod)
        assert status == 201, obj
        w = Workload(node, ns, name, obj["metadata"]["uid"], labels, container, unique("MARK"))
        self.workloads.append(w)
        w.sandbox = node.containerd.run_pod(name, ns, uid=w.uid, labels=labels)
        w.cid = node.containerd.run_container(container, w.sandbox,
                                              ["/bin/sh", "-c", script or LOOP.format(m=w.marker)])
        self._set_pod_status(ns, name, node, "127.0.0.1", [(container, IMAGE, w.cid)])
        return w

    def remove_pod(self, w):
        w.node.containerd.remove_container(w.cid)
        w.node.containerd.remove_pod(w.sandbox)
        self.api.json("DELETE", f"/api/v1/namespaces/{w.ns}/pods/{w.name}")
        if w in self.workloads:
            self.workloads.remove(w)

    # -- kubectl gadget ------------------------------------------------------
    def _plugin_env(self):
        """kubectl finds the plugin `kubectl-gadget` on PATH."""
        env = self.api.env()
        env["PATH"] = os.path.dirname(KUBECTL_GADGET) + os.pathsep + env.get("PATH", "")
        return env

    def gadget(self, *args, timeout=60):
        """`kubectl gadget ARGS` through the real kubectl, to completion."""
        r = subprocess.run([KUBECTL, "gadget", *args], capture_output=True, text=True,
                           timeout=timeout, env=self._plugin_env())
        assert not sanitizer_lines(r.stderr), f"kubectl gadget {' '.join(args)}:\n{r.stderr}"
        return r

    def gadget_bg(self, *args):
        """`kubectl gadget ARGS` in the background; see Stream."""
        return Stream([KUBECTL, "gadget", *args], self._plugin_env(), context=self.logs)

    # -- teardown ------------------------------------------------------------
    def cleanup(self):
        """Tears everything down; returns what went wrong in the agents on
        the way (an exit status other than 0 after SIGTERM, a sanitizer
        report in a log), for the fixture to fail on after the teardown."""
        problems = []
        try:
            for n in self.nodes:
                if n.agent and n.agent.running():
                    rc = n.agent.kill(signal.SIGTERM, timeout=15)
                    if rc != 0:
                        problems.append(f"agent of {n.name}: exit {rc} after SIGTERM:\n"
                                        + n.agent.log_tail(80))
                        continue
                if n.agent and n.agent.sanitizer_reports():
                    problems.append(f"agent of {n.name}, sanitizer report:\n" + n.agent.log_tail(80))
        finally:
            for n in self.nodes:
                if n.agent:
                    n.agent.kill(signal.SIGKILL)
            for n in self.nodes:
                n.containerd.cleanup()
                n.net.close()
            if self.api:
                self.api.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def logs(self):
        """The tails of every log, for a failing test's message."""
        out = []
        for n in self.nodes:
            if n.agent:
                out.append(f"--- agent {n.name} (netns {n.net.name}):\n{n.agent.log_tail()}")
        if self.api:
            out.append("--- apiserver:\n" + self.api.log_text()[-2000:])
        return "\n".join(out)


def missing_prerequisites():
    if os.geteuid() != 0:
        return "needs root"
    for b in (CONTAINERD_BIN, CTR_BIN, BUSYBOX, CRI_POD, KUBECTL, HELM, AGENT, KUBECTL_GADGET):
        if not os.access(b, os.X_OK):
            return f"{b} missing (make, make tools, make build/tests/cri_pod?)"
    if not os.path.exists(os.path.join(STORE, "index.json")):
        return f"{STORE} has no gadgets (make gadgets)"
    return None


@pytest.fixture(scope="module")
def cluster():
    why = missing_prerequisites()
    if why:
        pytest.fail(why)
    # a SIGTERM to pytest (a CI timeout) unwinds through the teardown below
    # instead of leaving containerds, shims and agents behind
    prev = signal.getsignal(signal.SIGTERM)
    if prev in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _interrupt)
    c = Cluster()
    problems = []
    try:
        c.start()
        yield c
    finally:
        try:
            problems = c.cleanup()
        finally:
            if prev in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert not problems, "\n".join(problems)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    """By hand: brings the cluster up with the pods asked for, prints how to
    point kubectl at it, and tears it all down on Ctrl-C or SIGTERM."""
    import argparse

    ap = argparse.ArgumentParser(description="three nodes for trying `kubectl gadget` by hand")
    ap.add_argument("--pod", action="append", default=[], metavar="NODE:NAMESPACE/NAME[:k=v,...]",
                    help="a workload pod on node index NODE (0-2) exec'ing in a loop")
    args = ap.parse_args(argv)
    why = missing_prerequisites()
    if why:
        print(f"cluster: {why}", file=sys.stderr)
        return 1
    c = Cluster()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        c.start()
        for spec in args.pod:
            idx, _, rest = spec.partition(":")
            where, _, lbl = rest.partition(":")
            ns, _, name = where.partition("/")
            labels = dict(kv.split("=", 1) for kv in lbl.split(",") if kv) or None
            w = c.add_pod(int(idx), ns, name or None, labels=labels)
            print(f"pod {w.ns}/{w.name} on {w.node.name}: exec's /bin/true {w.marker}")
        env = c._plugin_env()
        print(f"export KUBECONFIG={env['KUBECONFIG']} HOME={env['HOME']} PATH={env['PATH']}")
        for n in c.nodes:
            print(f"{n.name}: agent in netns {n.net.name} (log {n.agent.log_path}), "
                  f"containerd {n.containerd.socket}")
        print("Ctrl-C tears it down", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for p in c.cleanup():
            print(f"cluster: {p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
