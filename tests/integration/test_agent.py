# SPDX-License-Identifier: Apache-2.0
"""gadget-agent against real parts: the running kernel, a private containerd
running real pods (containerd.py), the stand-in Kubernetes API server driven
by the real kubectl (apiserver.py), a real docker-registry (registry.py) and
Prometheus's own promtool and server for /metrics.

Clients are tests/helpers/agent_client, which speaks the control API through
the same codec (agent/wire.c) every client uses and prints each response as a
JSON line; a few malformed streams are written with raw sockets.  Every agent
gets its own ports, unix socket, state directory and config file.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import registry
from apiserver import ApiServer, free_port
from conftest import IG, REPO, get, ig
from containerd import containerd  # noqa: F401  (module-scoped fixture)

AGENT = os.environ.get("GADGET_AGENT", os.path.join(os.path.dirname(IG), "gadget-agent"))
CLIENT = os.environ.get("AGENT_CLIENT", os.path.join(REPO, "build", "tests", "agent_client"))
STORE = os.path.join(REPO, "build", "oci-store")
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
LOOP = "while true; do /bin/true {m}; sleep 0.2; done"


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def own_true(tmp_path):
    """A copy of /bin/true with a name of its own: its execs are told apart by
    comm from every other process's (other tests' pods exec /bin/true too)."""
    path = str(tmp_path / f"t{uuid.uuid4().hex[:8]}")
    shutil.copy("/bin/true", path)
    return path, os.path.basename(path)


# ---------------------------------------------------------------- the agent


class Agent:
    """One gadget-agent with its own config, ports, socket and state."""

    def __init__(self, workdir, node="n1", kubeconfig=None, runtimes=None, extra_config=None,
                 args=(), env=None):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.node = node
        self.port = free_port()
        self.health_port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.health = f"http://127.0.0.1:{self.health_port}"
        self.unix = os.path.join(self.dir, "run", "agent.sock")
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "config.yaml")
        self.log_path = os.path.join(self.dir, "agent.log")
        cfg = {
            "listen": {"address": self.addr, "unixSocket": self.unix},
            "health": {"address": f"127.0.0.1:{self.health_port}"},
            "oci": {"storeDir": STORE},
            "runtimes": runtimes or [{"name": "containerd",
                                      "socketPath": os.path.join(self.dir, "no-runtime.sock")}],
        }
        for k, v in (extra_config or {}).items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)
        self.args = [AGENT, "--config", self.config, "--node-name", node, "--state-dir", self.state,
                     *args]
        if kubeconfig:
            self.args += ["--kubeconfig", kubeconfig]
        self.env = dict(os.environ, **(env or {}))
        for k in ("NODE_NAME", "HOST_ROOT", "GADGET_NAMESPACE", "KUBERNETES_SERVICE_HOST"):
            if k not in (env or {}):
                self.env.pop(k, None)
        self.proc = None

    def start(self, timeout=15):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=logf, stderr=logf, env=self.env,
                                     start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("agent did not listen:\n" + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop within %ds:\n%s" % (timeout, self.log()))
        rc = self.proc.returncode
        self.proc = None
        # an agent built with SANITIZE=1 reports here
        if sig != signal.SIGKILL:
            assert "Sanitizer" not in self.log() and "runtime error:" not in self.log(), \
                self.log()
        return rc

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    # -- clients --

    def client(self, *args, via=None, timeout=60):
        """Runs agent_client to completion: (exit code, list of responses)."""
        r = subprocess.run([CLIENT, via or self.addr, *args], capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()], \
            r.stderr

    def client_bg(self, *args, via=None):
        return Client([CLIENT, via or self.addr, *args])

    def answer(self, *args, **kw):
        """The one answer (after Welcome) of a request/response command."""
        rc, lines, err = self.client(*args, **kw)
        assert lines and lines[0]["type"] == "welcome", (rc, lines, err, self.log())
        assert len(lines) == 2, lines
        return rc, lines[1]

    def http(self, path, method="GET", data=None):
        req = urllib.request.Request(self.health + path, method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()


class Client:
    """agent_client in the background; its JSON lines are collected."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.lines = []
        self.err = []
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines, True))
        self._te = threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False))
        self._t.start()
        self._te.start()

    def _pump(self, f, dst, parse):
        for line in f:
            with self._lock:
                dst.append(json.loads(line) if parse else line.rstrip("\n"))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def records(self):
        out = []
        for m in self.snapshot():
            if m["type"] == "records":
                out.extend(m.get("records", []))
        return out

    def wait_for(self, match, trigger=None, timeout=20.0, every=0.3):
        deadline = time.monotonic() + timeout
        next_trigger = 0.0
        while time.monotonic() < deadline:
            if trigger and time.monotonic() >= next_trigger:
                trigger()
                next_trigger = time.monotonic() + every
            found = match(self.snapshot())
            if found:
                return found
            if self.proc.poll() is not None:
                found = match(self.snapshot())
                if found:
                    return found
                break
            time.sleep(0.05)
        raise AssertionError(f"no match; client said {self.snapshot()[-5:]} {self.err[-5:]}")

    def wait(self, timeout=30):
        self.proc.wait(timeout)
        self._t.join(5)
        self._te.join(5)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def of_type(lines, t):
    return [m for m in lines if m["type"] == t]


def check_seqs(batches):
    """Records carry consecutive sequence numbers; a gap is what dropped_before says."""
    nxt = None
    for b in batches:
        if nxt is not None:
            assert b["first_seq"] == nxt + b["dropped_before"], (nxt, b)
        n = b["n_records"] if "n_records" in b else len(b["records"])
        nxt = b["first_seq"] + n
    return nxt


@pytest.fixture
def agents(tmp_path):
    started = []

    def make(**kw):
        a = Agent(tmp_path / f"agent{len(started)}", **kw)
        started.append(a)
        return a.start()

    yield make
    for a in started:
        if a.proc is not None:
            a.stop(signal.SIGKILL)


@pytest.fixture
def clients():
    made = []

    def make(agent, *args, **kw):
        c = agent.client_bg(*args, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.kill()


def crt(c):
    return [{"name": "containerd", "socketPath": c.socket}]


# ---------------------------------------------------------------- configuration


def run_agent_once(tmp_path, config_text, *args, env=None):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text)
    e = dict(os.environ, **(env or {}))
    return subprocess.run([AGENT, "--config", str(cfg), *args], capture_output=True, text=True,
                          timeout=30, env=e)


@pytest.mark.parametrize("text,needle", [
    ("listen:\n  adress: 127.0.0.1:1\n", "unknown key 'listen.adress'"),
    ("nodename: x\n", "unknown key 'nodename'"),
    ("queue:\n  maxRecords: lots\n", "queue.maxRecords: expected an integer, got 'lots'"),
    ("queue:\n  maxRecords: 0\n", "queue.maxRecords: 0 is out of range"),
    ("oci:\n  allowedGadgets: trace_exec\n", "oci.allowedGadgets: expected a list of strings"),
    ("runtimes:\n  - name: docker\n", "runtimes[0].name: must be containerd or cri-o"),
    ("listen: 8484\n", "listen: expected a mapping"),
    ("logLevel: loud\n", "logLevel: 'loud' is not a level"),
    ("listen:\n  address: 0.0.0.0:8484\n", "listen.address: '0.0.0.0:8484' is not a loopback"),
    ("health:\n  address: nowhere\n", "health.address: 'nowhere' is not a host:port"),
    ("instanceConfigMapLabel: gadget\n", "instanceConfigMapLabel: 'gadget' is not a key=value"),
    ("gadgetNamespace: Not_A_Namespace\n", "gadgetNamespace: 'Not_A_Namespace'"),
    ("a: [1\n", "invalid YAML"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, text, needle):
    r = run_agent_once(tmp_path, text)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0], r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,needle", [
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["--node-name"], "--node-name needs a value"),
    (["--log-level", "loud"], "--log-level: 'loud' is not a log level"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig /nonexistent/kubeconfig"),
])
def test_bad_flags_exit_2(tmp_path, args, needle):
    r = run_agent_once(tmp_path, "", *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert needle in r.stderr


def test_a_cluster_agent_needs_a_node_name(tmp_path, cluster):
    env = {k: v for k, v in os.environ.items() if k != "NODE_NAME"}
    (tmp_path / "empty.yaml").write_text("")
    r = subprocess.run([AGENT, "--config", str(tmp_path / "empty.yaml"), "--kubeconfig",
                        cluster.kubeconfig],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2 and "no node name" in r.stderr and "NODE_NAME" in r.stderr


def test_missing_config_named_by_flag_is_an_error(tmp_path):
    r = subprocess.run([AGENT, "--config", str(tmp_path / "absent.yaml")], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    assert str(tmp_path / "absent.yaml") in r.stderr and "No such file" in r.stderr


def test_help_and_version():
    r = subprocess.run([AGENT, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--kubeconfig FILE" in r.stdout and "--state-dir" in r.stdout
    r = subprocess.run([AGENT, "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("gadget-agent version ")


def test_precedence_flag_env_file(agents, tmp_path):
    # the file, the environment and the flag each name a node: the flag wins
    a = agents(extra_config={"nodeName": "from-file"}, env={"NODE_NAME": "from-env"})
    rc, info = a.answer("info")
    assert info["node"] == "n1"
    a.stop()
    a.args = [x for x in a.args if x not in ("--node-name", "n1")]
    a.start()
    rc, info = a.answer("info")
    assert info["node"] == "from-env"
    a.stop()
    a.env.pop("NODE_NAME")
    a.start()
    rc, info = a.answer("info")
    assert info["node"] == "from-file"


# ---------------------------------------------------------------- protocol


def test_hello_with_another_major_is_refused(agents):
    a = agents()
    rc, lines, _ = a.client("hello", "--hello-major", "2", "--hello-minor", "1")
    assert rc == 1
    (err,) = lines
    assert err["code"] == "ERROR_UNSUPPORTED_VERSION"
    assert "2.1" in err["message"] and "1.2" in err["message"]
    # a newer minor of the same major is fine: the session uses 1.2
    rc, lines, _ = a.client("hello", "--hello-minor", "7")
    assert rc == 0 and lines[0]["protocol_major"] == 1 and lines[0]["protocol_minor"] == 2
    assert lines[0]["node"] == "n1"


def test_request_before_hello_is_refused(agents):
    a = agents()
    rc, lines, _ = a.client("info", "--no-hello")
    assert rc == 1
    assert lines[0]["code"] == "ERROR_HELLO_REQUIRED"


def frame(body):
    return struct.pack(">I", len(body)) + body


HELLO = bytes([0x08, 0x01, 0x52, 0x02, 0x08, 0x01])  # Request{id 1, hello{major 1}}
AGENT_INFO = bytes([0x08, 0x07, 0x5a, 0x00])  # Request{id 7, get_agent_info{}}
UNKNOWN = bytes([0x08, 0x05, 0xf2, 0x01, 0x00])  # Request{id 5, field 30: a newer request}


def read_frames(sock, n, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            ln = struct.unpack(">I", buf[:4])[0]
            out.append(buf[4:4 + ln])
            buf = buf[4 + ln:]
    return out


def test_unknown_request_keeps_the_connection(agents):
    a = agents()
    with socket.create_connection(("127.0.0.1", a.port)) as s:
        s.sendall(frame(HELLO) + frame(UNKNOWN) + frame(AGENT_INFO))
        welcome, unknown, info = read_frames(s, 3)
    # Response{id, <payload field>}: Welcome is field 11, Error 10, AgentInfo 12
    assert welcome[:3] == b"\x08\x01\x5a"
    assert unknown[:3] == b"\x08\x05\x52" and b"does not know" in unknown
    assert info[:3] == b"\x08\x07\x62" and b"n1" in info


def test_garbage_and_oversized_messages_close_the_connection(agents):
    a = agents()
    with socket.create_connection(("127.0.0.1", a.port)) as s:
        s.sendall(frame(HELLO) + frame(b"\xff\xff\xff\xff"))
        frames = read_frames(s, 3)
        assert len(frames) == 2 and b"not a valid Request" in frames[1]
        assert s.recv(10) == b""  # closed
    with socket.create_connection(("127.0.0.1", a.port)) as s:
        s.sendall(frame(HELLO) + struct.pack(">I", 64 << 20))
        frames = read_frames(s, 3)
        assert len(frames) == 2 and b"over the maximum" in frames[1]
    # the agent serves on
    rc, info = a.answer("info")
    assert rc == 0 and info["node"] == "n1"


def test_agent_info(agents, containerd):  # noqa: F811
    a = agents(runtimes=crt(containerd))
    for via in (None, a.unix):
        rc, info = a.answer("info", via=via)
        assert rc == 0 and info["type"] == "agent_info"
        assert info["node"] == "n1"
        assert info["kernel_release"] == os.uname().release
        assert info["arch"] == os.uname().machine
        assert info["runtimes"] == ["containerd"]
        assert info["protocol_major"] == 1 and info["protocol_minor"] == 2
        assert info["max_message_bytes"] == 16 << 20 and info["max_queue_bytes"] == 8 << 20
        assert abs(info["started_unix_ms"] / 1000 - time.time()) < 120
        assert info["runs"] == 0 and info["instances"] == 0
    assert oct(os.stat(a.unix).st_mode & 0o777) == "0o600"


# ---------------------------------------------------------------- runs


class Pod:
    def __init__(self, c, ns, labels, container):
        self.name, self.ns, self.container = uid("pod"), ns, container
        self.marker = uid("MARK")
        self.id = c.run_pod(self.name, ns, labels=labels)
        self.cid = c.run_container(container, self.id, ["/bin/sh", "-c",
                                                        LOOP.format(m=self.marker)])


@pytest.fixture(scope="module")
def pods(containerd):  # noqa: F811
    c = containerd
    a = Pod(c, uid("shop"), {"app": "web"}, uid("web"))
    b = Pod(c, uid("other"), {"app": "db"}, uid("db"))
    yield a, b
    for p in (a, b):
        c.remove_container(p.cid)
        c.remove_pod(p.id)


@pytest.fixture
def cluster(tmp_path):
    s = ApiServer(tmp_path / "apiserver", nodes=("n1",)).start()
    s.kubectl("create", "namespace", "gadget")
    yield s
    s.stop()


def with_marker(m):
    return lambda lines: [r for ln in of_type(lines, "records") for r in ln["records"]
                          if m in (r.get("args") or "")]


def test_run_trace_exec_in_a_pod_namespace(agents, containerd, pods, cluster, clients):  # noqa: F811
    a_pod, b_pod = pods
    cluster.kubectl("create", "namespace", a_pod.ns)
    cluster.create_pod(a_pod.ns, a_pod.name, labels={"app": "web"}, node="n1")
    a = agents(kubeconfig=cluster.kubeconfig, runtimes=crt(containerd))
    # ready once the runtime answers, the node's pods are listed and the instances loaded
    deadline = time.monotonic() + 20
    while a.http("/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert a.http("/readyz")[:3:2] == (200, "ok\n")
    c = clients(a, "run", "trace_exec", "--namespace", a_pod.ns, "--timeout", "20000")
    c.wait_for(lambda lines: len(with_marker(a_pod.marker)(lines)) >= 3)
    rc, lines, _ = a.client("stop", "999999")
    assert rc == 1 and lines[1]["code"] == "ERROR_NOT_FOUND"
    lines = c.snapshot()
    (started,) = of_type(lines, "run_started")
    assert started["node"] == "n1" and started["info"]["digest"].startswith("sha256:")
    names = [f["name"] for f in started["info"]["data_sources"][0]["fields"]]
    assert "k8s.node" in names and "k8s.podName" in names and "proc.comm" in names
    batches = of_type(lines, "records")
    assert batches[0]["first_seq"] == 0 and batches[0]["data_source"] == "exec"
    check_seqs(batches)
    recs = [r for b in batches for r in b["records"]]
    assert recs and not with_marker(b_pod.marker)(lines)
    for r in recs:
        assert get(r, "k8s.node") == "n1"
        assert get(r, "k8s.namespace") == a_pod.ns
        assert get(r, "k8s.podName") == a_pod.name
        assert get(r, "k8s.containerName") == a_pod.container
        assert get(r, "runtime.containerId") == a_pod.cid
    assert a.stop() == 0
    # the end of the agent ends the stream with a reason
    assert c.wait() == 0
    end = c.snapshot()[-1]
    assert end["type"] == "run_ended" and end["reason"] == "RUN_END_SHUTDOWN"
    assert end["records"] == check_seqs(of_type(c.snapshot(), "records"))


def test_stop_run(agents):
    a = agents()
    rc, lines, _ = a.client("run", "trace_exec", "--stop-after-ms", "700")
    assert rc == 0, lines
    assert lines[1]["type"] == "run_started"
    end = lines[-1]
    assert end["type"] == "run_ended" and end["reason"] == "RUN_END_STOPPED"
    assert end["run_id"] == lines[1]["run_id"]


def test_a_gadget_detaching_does_not_stall_other_clients(agents):
    # top_file has a dozen tracepoints; closing each waits for an RCU grace
    # period, about a second in all here, which the agent spends off its loop
    a = agents()
    rc, lines, _ = a.client("run", "top_file", "--fetch-count", "1", "--fetch-interval", "100",
                            "--quiet-records")
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_DONE"
    t0 = time.monotonic()
    rc, info = a.answer("info")
    assert rc == 0 and time.monotonic() - t0 < 0.5
    # and the detach did finish: another run of it loads and ends the same way
    rc, lines, _ = a.client("run", "top_file", "--fetch-count", "1", "--fetch-interval", "100",
                            "--quiet-records")
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_DONE"
    assert lines[-2]["fetch"] == 1 and lines[-2]["fetch_end"]


def test_a_selected_gadget_detaching_does_not_stall_other_clients(agents, containerd,  # noqa: F811
                                                                   pods):
    # the same with a container selector: the run follows the container
    # collection, which only the loop may touch, yet its detach stays off it
    a_pod = pods[0]
    a = agents(runtimes=crt(containerd))
    rc, lines, _ = a.client("run", "top_file", "--namespace", a_pod.ns, "--fetch-count", "1",
                            "--fetch-interval", "100", "--quiet-records")
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_DONE", lines
    t0 = time.monotonic()
    rc, info = a.answer("info")
    assert rc == 0 and time.monotonic() - t0 < 0.5
    # and the collection goes on serving selected runs
    rc, lines, _ = a.client("run", "trace_exec", "--namespace", a_pod.ns, "--stop-after-ms",
                            "300")
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_STOPPED", lines


def test_snapshot_and_map_iterator_fetches(agents):
    a = agents()
    me = os.getpid()
    rc, lines, _ = a.client("run", "snapshot_process")
    assert rc == 0, lines
    st = of_type(lines, "run_started")[0]
    assert st["info"]["data_sources"][0]["type"] == "DATA_SOURCE_ITER"
    batches = of_type(lines, "records")
    assert batches and all(b["fetch"] == 1 for b in batches) and batches[-1]["fetch_end"]
    check_seqs(batches)
    pids = {r["pid"] for b in batches for r in b["records"]}
    assert me in pids
    assert lines[-1]["reason"] == "RUN_END_DONE"
    assert lines[-1]["records"] == sum(len(b["records"]) for b in batches)

    rc, lines, _ = a.client("run", "top_file", "--fetch-interval", "200", "--fetch-count", "3",
                            "--max-entries", "2", "--quiet-records")
    assert rc == 0, lines
    assert of_type(lines, "run_started")[0]["info"]["data_sources"][0]["type"] == \
        "DATA_SOURCE_MAPITER"
    ends = [b for b in of_type(lines, "records") if b["fetch_end"]]
    assert [b["fetch"] for b in ends] == [1, 2, 3]
    assert all(b["n_records"] <= 2 for b in of_type(lines, "records"))
    assert lines[-1]["reason"] == "RUN_END_DONE"


def test_timeout(agents, tmp_path):
    a = agents()
    marker = uid("TMO")
    true, comm = own_true(tmp_path)
    c = a.client_bg("run", "trace_exec", "--timeout", "1500", "--param", f"comm={comm}")
    c.wait_for(lambda lines: of_type(lines, "run_started"))
    subprocess.run([true, marker])
    assert c.wait() == 0
    lines = c.snapshot()
    started, end = of_type(lines, "run_started")[0], lines[-1]
    assert end["type"] == "run_ended" and end["reason"] == "RUN_END_TIMEOUT"
    assert 1400 <= end["t_ms"] - started["t_ms"] <= 4000
    recs = [r for b in of_type(lines, "records") for r in b["records"]]
    assert any(marker in r["args"] for r in recs)
    assert all(get(r, "proc.comm") == comm for r in recs)
    assert end["records"] == len(recs)


def test_bad_requests_are_answered_with_clear_errors(agents, tmp_path):
    a = agents()
    rc, e = a.answer("run", "no_such_gadget")
    assert rc == 1 and e["code"] == "ERROR_NOT_FOUND"
    assert "no_such_gadget:latest" in e["message"] and STORE in e["message"]
    rc, e = a.answer("run", "Not A Reference")
    assert e["code"] == "ERROR_IMAGE" and "not a valid image reference" in e["message"]
    rc, e = a.answer("gadget-info", "localhost:1/trace_exec:v1")
    assert e["code"] == "ERROR_IMAGE" and "localhost:1" in e["message"]
    rc, e = a.answer("run", "trace_exec", "--param", "nosuch=1")
    assert e["code"] == "ERROR_INVALID_PARAM" and "nosuch" in e["message"]
    rc, e = a.answer("run", "trace_exec", "--param", "pid=minus-one")
    assert e["code"] == "ERROR_INVALID_PARAM" and "pid" in e["message"]
    rc, e = a.answer("run", "trace_exec", "--fields", "nosuchfield")
    assert e["code"] == "ERROR_INVALID_PARAM" and "nosuchfield" in e["message"]
    # a container selector without any runtime
    rc, e = a.answer("run", "trace_exec", "--namespace", "x")
    assert e["code"] == "ERROR_UNAVAILABLE" and "no-runtime.sock" in e["message"]
    rc, e = a.answer("containers")
    assert e["code"] == "ERROR_UNAVAILABLE"
    # nothing was left running
    rc, info = a.answer("info")
    assert info["runs"] == 0


def test_allowed_gadgets(agents):
    a = agents(extra_config={"oci": {"storeDir": STORE, "allowedGadgets": ["trace_open*"]}})
    rc, e = a.answer("gadget-info", "trace_exec")
    assert e["code"] == "ERROR_IMAGE" and "oci.allowedGadgets" in e["message"]
    rc, gi = a.answer("gadget-info", "trace_open", "--param", "failed=true")
    assert rc == 0 and gi["type"] == "gadget_info" and gi["name"]
    keys = [p["key"] for p in gi["params"]]
    assert "failed" in keys and "pid" in keys


def test_slow_client_does_not_block_others(agents, clients):
    a = agents(extra_config={"queue": {"maxRecords": 200}})
    gen = subprocess.Popen([sys.executable, "-c", (
        "import os, sys\n"
        "for n in (60000, 100):\n"
        "    sys.stdin.readline()\n"
        "    for i in range(n):\n"
        "        os.close(os.open('/dev/null', os.O_RDONLY))\n")],
        stdin=subprocess.PIPE, text=True)
    try:
        pid = str(gen.pid)
        # over the unix socket, whose buffer does not grow: what the agent cannot
        # write soon waits in its own queue, where the bounds apply
        slow = clients(a, "run", "trace_open", "--param", f"pid={pid}", "--pause-ms", "4000",
                       "--timeout", "9000", "--quiet-records", via=a.unix)
        fast = clients(a, "run", "trace_open", "--param", f"pid={pid}", "--timeout", "9000",
                       "--quiet-records")
        for c in (slow, fast):
            c.wait_for(lambda lines: of_type(lines, "run_started"))
        t0 = time.monotonic()
        gen.stdin.write("go\n")
        gen.stdin.flush()
        # a few more once the slow client reads again: their batch reports the gap
        deadline = time.monotonic() + 30
        while "agent_client: reading again" not in slow.err and time.monotonic() < deadline:
            time.sleep(0.05)
        gen_s = time.monotonic() - t0
        gen.stdin.write("go\n")
        gen.stdin.flush()
        gen.wait(60)
    finally:
        if gen.poll() is None:
            gen.kill()
    assert slow.wait() == 0 and fast.wait() == 0
    fast_b, slow_b = of_type(fast.snapshot(), "records"), of_type(slow.snapshot(), "records")
    # the fast client got its records while the slow one was not reading
    fast_start = of_type(fast.snapshot(), "run_started")[0]["t_ms"]
    during = [b for b in fast_b if b["t_ms"] - fast_start < 3500]
    assert sum(b["n_records"] for b in during) >= 10000, (gen_s, len(during))
    assert fast.snapshot()[-1]["records"] == 60100
    check_seqs(fast_b)
    # the slow one saw gaps, each reported as it came
    check_seqs(slow_b)
    assert any(b["dropped_before"] > 0 for b in slow_b), slow_b[:5]
    end = slow.snapshot()[-1]
    assert end["reason"] == "RUN_END_TIMEOUT" and end["dropped_total"] > 0
    got = sum(b["n_records"] for b in slow_b)
    assert got + end["dropped_total"] == end["records"]
    # and /metrics counted the drops
    _, _, text = a.http("/metrics")
    dropped = [ln for ln in text.splitlines() if ln.startswith("gadget_client_records_dropped_total")]
    assert int(dropped[0].split()[-1]) >= end["dropped_total"]


# ---------------------------------------------------------------- instances


def kubectl_cms(cluster):
    out = cluster.kubectl("get", "cm", "-n", "gadget", "-l", "type=gadget-instance", "-o",
                          "json").stdout
    return {i["metadata"]["name"]: i for i in json.loads(out)["items"]}


def test_instance_lifecycle_in_a_cluster(agents, cluster, clients, tmp_path):
    a = agents(kubeconfig=cluster.kubeconfig)
    name = uid("execs")
    true, comm = own_true(tmp_path)
    rc, inst = a.answer("create", name, "trace_exec", "--param", f"comm={comm}", "--replay", "50",
                        "--tag", "audit")
    assert rc == 0 and inst["type"] == "instance", inst
    assert inst["spec"]["name"] == name and inst["spec"]["tags"] == ["audit"]
    cms = kubectl_cms(cluster)
    assert name in cms
    assert inst["id"] == cms[name]["metadata"]["uid"]
    spec = yaml.safe_load(cms[name]["data"]["instance.yaml"])
    assert spec["name"] == name and spec["image"] == "trace_exec"
    assert spec["params"] == {"comm": comm} and spec["replayRecords"] == 50
    # a second create of the name is refused
    rc, e = a.answer("create", name, "trace_exec")
    assert e["code"] == "ERROR_ALREADY_EXISTS"

    def running(agent):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rc, lst = agent.answer("list")
            mine = [i for i in lst["instances"] if i["spec"]["name"] == name]
            if mine and mine[0]["state"] == "INSTANCE_RUNNING":
                return mine[0]
            time.sleep(0.2)
        raise AssertionError(f"instance not running: {lst}\n{agent.log()}")

    assert running(a)["id"] == inst["id"]
    m1 = uid("BEFORE")
    att = clients(a, "attach", name, "--wait-ms", "120000")
    att.wait_for(with_marker(m1), trigger=lambda: subprocess.run([true, m1]))
    (st,) = of_type(att.snapshot(), "run_started")
    assert st["instance_id"] == inst["id"]
    # StopRun on an attach only detaches
    rc, lines, _ = a.client("attach", name, "--stop-after-ms", "300")
    assert lines[-1]["type"] == "run_ended" and lines[-1]["reason"] == "RUN_END_DETACHED"
    assert running(a)["state"] == "INSTANCE_RUNNING"

    # the agent restarts: the instance runs again from its ConfigMap
    assert a.stop() == 0
    assert att.wait() == 0
    assert att.snapshot()[-1]["reason"] == "RUN_END_SHUTDOWN"
    a.start()
    assert running(a)["id"] == inst["id"]
    m2 = uid("AFTER")
    for _ in range(3):
        subprocess.run([true, m2])
    time.sleep(0.5)
    rc, lines, _ = a.client("attach", name, "--replay", "10", "--exit-after-ms", "1500")
    replayed = [b for b in of_type(lines, "records") if b["replay"]]
    assert replayed and sum(len(b["records"]) for b in replayed) <= 10
    assert any(m2 in r["args"] for b in replayed for r in b["records"])
    check_seqs(of_type(lines, "records"))

    # delete: the ConfigMap goes, and an attached client is told
    att2 = clients(a, "attach", name, "--no-replay")
    att2.wait_for(lambda lines: of_type(lines, "run_started"))
    rc, d = a.answer("delete", name)
    assert rc == 0 and d["type"] == "instance_deleted" and d["id"] == inst["id"]
    assert name not in kubectl_cms(cluster)
    assert att2.wait() == 0
    assert att2.snapshot()[-1]["reason"] == "RUN_END_DELETED"
    rc, lst = a.answer("list")
    assert name not in [i["spec"]["name"] for i in lst["instances"]]
    rc, e = a.answer("delete", name)
    assert e["code"] == "ERROR_NOT_FOUND"


def test_instances_from_kubectl_and_node_lists(agents, cluster):
    a = agents(kubeconfig=cluster.kubeconfig)
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "opens", "namespace": "gadget",
                       "labels": {"type": "gadget-instance"}},
          "data": {"instance.yaml": yaml.safe_dump(
              {"name": "opens", "image": "trace_open:latest", "params": {"failed": "true"},
               "nodes": [], "tags": ["x"], "futureKey": {"ignored": True}})}}
    other = dict(cm, metadata=dict(cm["metadata"], name="elsewhere"),
                 data={"instance.yaml": "name: elsewhere\nimage: trace_exec\nnodes: [n9]\n"})
    broken = dict(cm, metadata=dict(cm["metadata"], name="broken"),
                  data={"instance.yaml": "name: broken\nimage: [not, a, string]\n"})
    for obj in (cm, other, broken):
        cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rc, lst = a.answer("list")
        names = {i["spec"]["name"]: i for i in lst["instances"]}
        if "opens" in names and names["opens"]["state"] == "INSTANCE_RUNNING":
            break
        time.sleep(0.2)
    assert set(names) == {"opens"}, lst
    assert names["opens"]["spec"]["gadget"]["params"] == [{"key": "failed", "value": "true"}]
    assert "instance ConfigMap broken skipped: instance.yaml:2: image: expected a string" in a.log()
    status, _, body = a.http("/metrics")
    lines = body.splitlines()
    assert "gadget_instances 1" in lines
    assert 'gadget_k8s_synced{resource="pods"} 1' in lines
    assert 'gadget_k8s_synced{resource="configmaps"} 1' in lines
    assert any(ln.startswith('gadget_k8s_last_event_age_seconds{resource="configmaps"}')
               for ln in lines)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    cluster.kubectl("delete", "cm", "-n", "gadget", "opens")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rc, lst = a.answer("list")
        if not lst["instances"]:
            break
        time.sleep(0.2)
    assert lst["instances"] == []


def test_unreachable_api_server(agents, cluster, containerd):  # noqa: F811
    cluster.stop()
    a = agents(kubeconfig=cluster.kubeconfig, runtimes=crt(containerd))
    status, _, body = a.http("/readyz")
    assert status == 503
    assert "pods of node n1 are not listed yet" in body and cluster.url in body
    # runs do not need the API
    rc, lines, _ = a.client("run", "trace_exec", "--timeout", "300")
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_TIMEOUT"
    rc, e = a.answer("create", "x", "trace_exec")
    assert e["code"] == "ERROR_UNAVAILABLE" and "ConfigMap" in e["message"]
    # the API comes back: the caches catch up without a restart
    cluster.start()
    deadline = time.monotonic() + 40
    while a.http("/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert a.http("/readyz")[0] == 200, a.http("/readyz")


def test_instances_on_a_plain_host(agents, clients):
    a = agents()
    rc, inst = a.answer("create", "local-execs", "trace_exec", "--param", "comm=true")
    assert rc == 0 and len(inst["id"]) == 32
    path = os.path.join(a.state, "instances", "local-execs.yaml")
    saved = yaml.safe_load(open(path).read())
    assert saved["name"] == "local-execs" and saved["id"] == inst["id"]
    rc, e = a.answer("create", "Bad_Name", "trace_exec")
    assert e["code"] == "ERROR_BAD_REQUEST" and "DNS label" in e["message"]
    rc, e = a.answer("create", "with-timeout", "trace_exec", "--timeout", "10")
    assert e["code"] == "ERROR_BAD_REQUEST" and "timeout_ms" in e["message"]
    rc, e = a.answer("create", "bad-param", "trace_exec", "--param", "nosuch=1")
    assert e["code"] == "ERROR_INVALID_PARAM"
    assert not os.path.exists(os.path.join(a.state, "instances", "bad-param.yaml"))
    assert a.stop() == 0
    a.start()
    rc, lst = a.answer("list")
    assert [i["id"] for i in lst["instances"]] == [inst["id"]]
    rc, d = a.answer("delete", inst["id"])
    assert d["type"] == "instance_deleted" and not os.path.exists(path)


# ---------------------------------------------------------------- health


def test_health_endpoints(agents, containerd):  # noqa: F811
    bare = agents()
    status, _, body = bare.http("/healthz")
    assert status == 200 and body == "ok\n"
    status, _, body = bare.http("/readyz")
    assert status == 503 and "no container runtime answers" in body and "no-runtime.sock" in body

    a = agents(runtimes=crt(containerd))
    status, _, body = a.http("/readyz")
    assert status == 200 and body == "ok\n"
    rc, lines, _ = a.client("run", "trace_exec", "--timeout", "800")
    assert rc == 0
    status, headers, body = a.http("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = body.splitlines()
    assert any(ln.startswith("gadget_agent_info{version=\"") and 'node="n1"' in ln for ln in lines)
    assert "gadget_instances 0" in lines
    assert any(ln.startswith("gadget_containers ") for ln in lines)
    assert any(ln.startswith('gadget_records_total{gadget="trace_exec"}') for ln in lines)
    assert any(ln.startswith('gadget_records_lost_total{gadget="trace_exec"}') for ln in lines)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr

    status, _, _ = a.http("/nope")
    assert status == 404
    status, headers, _ = a.http("/metrics", method="POST", data=b"x")
    assert status == 405 and "GET" in headers.get("Allow", "")
    status, _, body = a.http("/healthz", method="HEAD")
    assert status == 200 and body == ""
    with socket.create_connection(("127.0.0.1", a.health_port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 431 ")


def test_prometheus_scrapes_the_agent(agents, containerd, tmp_path):  # noqa: F811
    a = agents(runtimes=crt(containerd))
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "gadget", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{a.health_port}"]}]}]}))
    p = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path}/db",
                          f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        result = []
        while time.monotonic() < deadline and not result:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/query?query=gadget_agent_info",
                        timeout=5) as r:
                    result = json.loads(r.read())["data"]["result"]
            except (OSError, ValueError, KeyError):
                pass
        assert result, "Prometheus did not scrape the agent"
        assert result[0]["metric"]["node"] == "n1" and result[0]["value"][1] == "1"
    finally:
        p.terminate()
        p.wait(20)


# ---------------------------------------------------------------- shutdown


def test_sigterm_ends_streams_and_removes_the_socket(agents, clients):
    a = agents()
    run = clients(a, "run", "trace_exec", via=a.unix)
    rc, inst = a.answer("create", "sig", "trace_exec")
    att = clients(a, "attach", "sig")
    for c in (run, att):
        c.wait_for(lambda lines: of_type(lines, "run_started"))
    assert os.path.exists(a.unix)
    t0 = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 30
    assert not os.path.exists(a.unix)
    for c in (run, att):
        assert c.wait() == 0
        assert c.snapshot()[-1]["type"] == "run_ended"
        assert c.snapshot()[-1]["reason"] == "RUN_END_SHUTDOWN"
    # the instance is kept for the next start
    assert os.path.exists(os.path.join(a.state, "instances", "sig.yaml"))


# ---------------------------------------------------------------- images


def test_pulls_a_missing_image_from_the_registry(agents, tmp_path):
    reg = registry.plain()
    try:
        src = str(tmp_path / "src-store")
        shutil.copytree(STORE, src)
        ref = f"{reg.host}/gadgets/trace_exec:v1"
        r = ig("image", "tag", "trace_exec:latest", ref, "--store", src)
        assert r.returncode == 0, r.stderr
        r = ig("image", "push", ref, "--store", src, "--insecure-registries", reg.host)
        assert r.returncode == 0, r.stderr
        store = str(tmp_path / "agent-store")
        a = agents(extra_config={"oci": {"storeDir": store, "insecureRegistries": [reg.host]}})
        rc, e = a.answer("run", "trace_exec")  # short names are local only
        assert e["code"] == "ERROR_NOT_FOUND" and store in e["message"]
        rc, lines, _ = a.client("run", ref, "--timeout", "500")
        assert rc == 0, lines
        assert lines[1]["type"] == "run_started" and lines[-1]["reason"] == "RUN_END_TIMEOUT"
        assert lines[1]["info"]["image"] == ref
        r = ig("image", "list", "--store", store)
        assert f"{reg.host}/gadgets/trace_exec" in r.stdout
        rc, e = a.answer("run", f"{reg.host}/gadgets/nothere:v1")
        assert e["code"] == "ERROR_NOT_FOUND" and reg.host in e["message"]
    finally:
        reg.stop()


def test_list_containers(agents, containerd, pods):  # noqa: F811
    a_pod, b_pod = pods
    a = agents(runtimes=crt(containerd))
    rc, cl = a.answer("containers", "--namespace", a_pod.ns)
    assert rc == 0 and cl["type"] == "containers"
    (ct,) = cl["containers"]
    assert ct["id"] == a_pod.cid and ct["pod_name"] == a_pod.name and ct["node"] == "n1"
    assert ct["pid"] == containerd.pid(a_pod.cid) and ct["mntns"] > 0 and ct["running"]
    assert {"key": "app", "value": "web"} in ct["pod_labels"]
    rc, cl = a.answer("containers", "--label", "app=db")
    assert [c["id"] for c in cl["containers"]] == [b_pod.cid]
