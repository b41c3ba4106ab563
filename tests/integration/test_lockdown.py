# SPDX-License-Identifier: Apache-2.0
"""The attacks of the lock-down review, tried again as they were tried then
(findings 3, 4 and 5 of the issue "Lock down who can run what"):

3. the control API over TCP without authentication on a plain host;
4. through the agent: a bad filter in a request, and an instance whose spec
   is bad among others;
5. exhaustion: idle connections that never say Hello, partial frames of
   many megabytes and stalled readers against the pod's memory limit,
   half-open requests to the health port, a registry that drips bytes, a
   FIFO in the image store, an interrupted image build.

Agents run in network namespaces of their own (podnet.py), as in their
pods, and, where memory is the question, in a cgroup with the memory limit
of the DaemonSet (256 MiB), whose peak usage and OOM kills the kernel
reports.
"""

import concurrent.futures
import json
import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest
import yaml

import registry
from apiserver import ApiServer
from conftest import IG, REPO, ig
from test_agent import AGENT, CLIENT, STORE, Agent, frame, of_type, read_frames
from test_registry import gadget_layout

HELLO = bytes([0x08, 0x01, 0x52, 0x02, 0x08, 0x01])  # Request{id 1, hello{major 1}}


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
        a.net.close()


class MemCgroup:
    """A memory cgroup under this process's own, with a limit: what a pod's
    resources.limits.memory is.  The child of a Popen enters it with
    preexec=cg.enter."""

    def __init__(self, limit):
        rel = ""
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctl, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctl.split(","):
                    rel = path
        base = f"/sys/fs/cgroup/memory{rel}"
        if not os.path.isdir(base):
            base = "/sys/fs/cgroup/memory"
        self.path = os.path.join(base, f"igt-{uuid.uuid4().hex[:8]}")
        os.mkdir(self.path)
        self.limit = limit
        with open(os.path.join(self.path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))

    def enter(self):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def peak(self):
        return int(self.read("memory.max_usage_in_bytes"))

    def oom_kills(self):
        for line in self.read("memory.oom_control").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def close(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


@pytest.fixture
def memcg():
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("needs the cgroup v1 memory controller")
    made = []

    def make(limit):
        made.append(MemCgroup(limit))
        return made[-1]

    yield make
    for cg in made:
        cg.close()


def metric(text, name, **labels):
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {want} in /metrics")


# ---------------------------------------------------------------- 3. TCP without authentication


def run_on_host(tmp_path, cfg, timeout=5):
    """The agent in the host's network namespace, as on a plain host."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.Popen([AGENT, "--config", str(path), "--node-name", "n1", "--state-dir",
                             str(tmp_path / "state")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture
def sockdir():
    """A directory every user may enter, for a unix socket whose own mode
    decides who may connect (pytest's temporary directories are root's)."""
    d = tempfile.mkdtemp(prefix="igt-sock-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def base_config(tmp_path, sockdir):
    return {"listen": {"unixSocket": os.path.join(sockdir, "agent.sock")},
            "health": {"address": f"127.0.0.1:{registry.free_port()}"},
            "oci": {"storeDir": STORE},
            "runtimes": [{"name": "containerd", "socketPath": str(tmp_path / "none.sock")}]}


def test_tcp_listener_refused_in_the_hosts_network_namespace(tmp_path, sockdir):
    cfg = base_config(tmp_path, sockdir)
    cfg["listen"]["address"] = f"127.0.0.1:{registry.free_port()}"
    p = run_on_host(tmp_path, cfg)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gadget-agent: listen.address: {cfg['listen']['address']} is in "
                               "the host's network namespace"), lines[0]
    assert "unix socket" in lines[0]


def test_default_listener_is_off_on_a_plain_host(tmp_path, sockdir):
    """Left at its default, the TCP listener is off in the host's network
    namespace; root keeps the unix socket, which no other user may use."""
    cfg = base_config(tmp_path, sockdir)
    p = run_on_host(tmp_path, cfg)
    sock = cfg["listen"]["unixSocket"]
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(sock) and time.monotonic() < deadline:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.05)
        r = subprocess.run([CLIENT, sock, "info"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        # the agent's only TCP listener is the health port
        r = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=10)
        mine = [ln.split()[3] for ln in r.stdout.splitlines() if f"pid={p.pid}," in ln]
        assert mine == [cfg["health"]["address"]], r.stdout
        # a local user who is not root cannot connect to the unix socket
        nobody = pwd.getpwnam("nobody")
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"

        def drop():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        r = subprocess.run([CLIENT, sock, "info"], capture_output=True, text=True, timeout=30,
                           preexec_fn=drop)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (r.stdout, r.stderr)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "no control API over TCP: this agent runs in the host's network namespace" in err


def test_unix_socket_for_a_group(tmp_path, sockdir):
    """listen.unixSocketGroup lets that group's members use the socket."""
    cfg = base_config(tmp_path, sockdir)
    cfg["listen"]["unixSocketGroup"] = "nogroup"
    p = run_on_host(tmp_path, cfg)
    sock = cfg["listen"]["unixSocket"]
    nobody = pwd.getpwnam("nobody")
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(sock) and time.monotonic() < deadline:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.05)
        st = os.stat(sock)
        assert oct(st.st_mode & 0o777) == "0o660" and st.st_gid == nobody.pw_gid

        def member():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        r = subprocess.run([CLIENT, sock, "info"], capture_output=True, text=True, timeout=30,
                           preexec_fn=member)
        assert r.returncode == 0, r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    cfg["listen"]["unixSocketGroup"] = "no-such-group"
    p = run_on_host(tmp_path, cfg)
    out, err = p.communicate(timeout=30)
    # refused with the configuration, before anything starts: exit code 2
    assert p.returncode == 2 and "listen.unixSocketGroup: no group named 'no-such-group'" in err, err


# ---------------------------------------------------------------- 4. filters and bad specs


def test_bad_filter_is_refused_at_the_request(agents):
    """Before anything is resolved or pulled: a request for an image nobody
    could pull is answered about its filter, at once."""
    a = agents()
    nowhere = "127.0.0.1:1/gadgets/trace_open:v1"
    # a{5000} is a pattern PCRE2 runs within its limits (real-clusters): a
    # back-reference is what the filter refuses instead
    for flt, why in (("fname~(", "bad regular expression"),
                     ("fname~(x)\\1", "back-references are not supported"),
                     ("fname", "expected FIELD OP VALUE"),
                     ("==/etc/shadow", "no field name")):
        for cmd in (("run", nowhere), ("gadget-info", nowhere), ("create", "x", nowhere)):
            t0 = time.monotonic()
            rc, e = a.answer(*cmd, "--filter", flt)
            assert rc == 1 and e["code"] == "ERROR_INVALID_PARAM", (cmd, flt, e)
            assert why in e["message"] and flt in e["message"], (cmd, e["message"])
            assert time.monotonic() - t0 < 5
    # the agent serves on
    rc, info = a.answer("info")
    assert rc == 0 and info["node"] == "n1"
    assert a.http("/healthz")[0] == 200


def instance_cm(name, text):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "gadget",
                         "labels": {"type": "gadget-instance"}},
            "data": {"instance.yaml": text}}


def test_instance_with_a_bad_spec_fails_alone(agents, tmp_path):
    """Anyone who can write an instance ConfigMap can write a bad one: it is
    marked failed with its reason, and every other instance runs."""
    api = ApiServer(tmp_path / "apiserver", nodes=("n1",)).start()
    try:
        api.kubectl("create", "namespace", "gadget")
        for name, text in (
                ("good", "name: good\nimage: trace_exec\n"),
                ("badfilter", "name: badfilter\nimage: trace_open\nfilters: ['fname~(']\n"),
                ("manyfilters", "name: manyfilters\nimage: trace_open\nfilters: [" +
                 ",".join(f"'pid=={i}'" for i in range(70)) + "]\n"),
                ("notyaml", "name: notyaml\nimage: [trace_exec\n"),
                ("wrongname", "name: other\nimage: trace_exec\n"),
                ("good2", "name: good2\nimage: trace_open\n")):
            api.kubectl("apply", "-f", "-", input=json.dumps(instance_cm(name, text)))
        a = agents(kubeconfig=api.kubeconfig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rc, lst = a.answer("list")
            st = {i["spec"]["name"]: i for i in lst["instances"]}
            if all(st.get(n, {}).get("state") == "INSTANCE_RUNNING" for n in ("good", "good2")):
                break
            time.sleep(0.2)
        assert {n: i["state"] for n, i in st.items()} == {
            "good": "INSTANCE_RUNNING", "good2": "INSTANCE_RUNNING",
            "badfilter": "INSTANCE_FAILED", "manyfilters": "INSTANCE_FAILED",
            "notyaml": "INSTANCE_FAILED", "wrongname": "INSTANCE_FAILED"}, lst
        assert "bad regular expression" in st["badfilter"]["error"]
        assert "more than" in st["manyfilters"]["error"]
        assert st["notyaml"]["error"].startswith("instance.yaml:")
        assert "is not the ConfigMap's name" in st["wrongname"]["error"]
        assert a.http("/healthz")[0] == 200 and a.http("/readyz")[0] == 503  # no runtime here
        # attaching to a failed one says why
        rc, e = a.answer("attach", "badfilter")
        assert e["code"] == "ERROR_UNAVAILABLE" and "bad regular expression" in e["message"]
        # fixed, it runs
        api.kubectl("apply", "-f", "-", input=json.dumps(instance_cm(
            "badfilter", "name: badfilter\nimage: trace_open\nfilters: ['fname~^/etc/']\n")))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rc, lst = a.answer("list")
            st = {i["spec"]["name"]: i for i in lst["instances"]}
            if st["badfilter"]["state"] == "INSTANCE_RUNNING":
                break
            time.sleep(0.2)
        assert st["badfilter"]["state"] == "INSTANCE_RUNNING", st["badfilter"]
    finally:
        api.stop()


def pcre2_filters():
    r = subprocess.run(["ldd", AGENT], capture_output=True, text=True)
    return "libpcre2" in r.stdout


@pytest.mark.skipif(not pcre2_filters(),
                    reason="needs the filter engine that bounds regular expressions (PCRE2, "
                           "run/filter.c): with POSIX regcomp() this pattern takes gigabytes")
def test_exploding_regex_through_the_agent(agents, memcg):
    """'fname~(a{,4000}){,4000}' grew ig to 24 GB; through the agent, it is an
    answer to the request, and the agent stays well within its memory."""
    cg = memcg(256 << 20)
    a = agents(preexec=cg.enter)
    t0 = time.monotonic()
    # refused, or run under PCRE2's limits until the timeout: either way at once
    rc, lines, err = a.client("run", "trace_open", "--filter", "fname~(a{,4000}){,4000}",
                              "--timeout", "500")
    assert time.monotonic() - t0 < 5
    assert rc in (0, 1), (lines, err)
    assert lines[-1]["type"] in ("error", "run_ended"), lines
    assert a.http("/healthz")[0] == 200
    assert cg.oom_kills() == 0 and cg.peak() < (128 << 20)


# ---------------------------------------------------------------- 5. exhaustion


def test_idle_connections_do_not_lock_root_out(agents):
    """300 TCP connections that never say Hello: root's unix socket works,
    a new TCP client is served, and the silent ones go at the deadline."""
    a = agents()  # the default Hello deadline: 10 s
    idle = []
    try:
        for _ in range(300):
            idle.append(a.connect(timeout=10))
        time.sleep(0.5)
        t0 = time.monotonic()
        rc, info = a.answer("info", via=a.unix)
        assert rc == 0 and info["node"] == "n1", info
        assert time.monotonic() - t0 < 5
        # TCP is full of silent connections: a client that says Hello takes one's place
        rc, info = a.answer("info")
        assert rc == 0 and info["node"] == "n1", info
        # past the Hello deadline every silent one was told and closed
        time.sleep(10.5)
        closed = 0
        for s in idle:
            s.settimeout(5)
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        closed += 1
                        break
                    data += chunk
            except OSError:
                closed += 1
        assert closed == len(idle)
        _, _, text = a.http("/metrics")
        assert metric(text, "gadget_agent_connections_closed_total", reason="no_hello") >= 300
        assert metric(text, "gadget_agent_connections", listener="tcp") == 0
    finally:
        for s in idle:
            s.close()


def test_idle_session_closed_unless_it_runs(agents):
    a = agents(extra_config={"listen": {"idleTimeout": "1s"}})
    with a.connect() as s:
        s.sendall(frame(HELLO))
        (welcome,) = read_frames(s, 1)
        assert welcome[:3] == b"\x08\x01\x5a"
        t0 = time.monotonic()
        frames = read_frames(s, 2, timeout=10)
        assert len(frames) == 1 and b"idle" in frames[0], frames
        assert s.recv(10) == b""
        assert 0.9 < time.monotonic() - t0 < 5
    # a run that sends nothing (its filter matches nothing) is not idle
    rc, lines, _ = a.client("run", "trace_exec", "--filter", "proc.comm==nothing-like-this",
                            "--timeout", "3500")
    assert rc == 0 and lines[-1]["type"] == "run_ended", lines[-2:]
    assert lines[-1]["reason"] == "RUN_END_TIMEOUT"


def send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass


def test_memory_stays_within_the_pod_limit(agents, memcg):
    """The worst the limits allow, in a cgroup with the DaemonSet's limit of
    256 MiB: 40 clients announcing 15 MiB frames, every TCP session holding
    a partial request of the largest size, and clients that stop reading
    gadgets that write fast.  The agent is not killed, its cgroup stays
    under the limit, and root's unix socket still answers."""
    limit = 256 << 20
    cg = memcg(limit)
    a = agents(preexec=cg.enter)
    held = []
    gen = None
    stalled = []
    used = budget = 0
    try:
        # the finding: 40 partial 15 MiB frames
        chunk = b"\0" * (1 << 20)
        for _ in range(40):
            s = a.connect(timeout=10)
            s.sendall(frame(HELLO) + struct.pack(">I", 15 << 20))
            held.append(s)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda s: send_quietly(s, chunk * 14), held))
        # every session of the TCP listener with a partial request of the largest size
        body = (2 << 20) - 64
        more = [a.connect(timeout=10) for _ in range(250)]
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda s: send_quietly(s, frame(HELLO) + struct.pack(">I", body) +
                                               b"\0" * (body - 1)), more))
        held += more
        # gadgets that write fast to clients that stopped reading
        gen = subprocess.Popen([sys.executable, "-c", (
            "import os, sys, time\n"
            "sys.stdin.readline()\n"
            "end = time.monotonic() + 8\n"
            "while time.monotonic() < end:\n"
            "    for i in range(1000):\n"
            "        os.close(os.open('/dev/null', os.O_RDONLY))\n")],
            stdin=subprocess.PIPE, text=True)
        for _ in range(8):
            stalled.append(subprocess.Popen(
                a.client_argv(a.unix if len(stalled) % 2 else None) +
                ["run", "trace_open", "--param", f"pid={gen.pid}", "--pause-ms", "0",
                 "--timeout", "20000", "--wait-ms", "60000", "--quiet-records"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        # the gadgets are loaded, their clients stopped reading: now they write fast
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, _, text = a.http("/metrics")
            if metric(text, "gadget_runs") >= 4:
                break
            time.sleep(0.2)
        gen.stdin.write("go\n")
        gen.stdin.flush()
        gen.wait(60)
        assert a.proc.poll() is None, "the agent died:\n" + a.log()
        # root on the unix socket is still served, and quickly
        t0 = time.monotonic()
        rc, info = a.answer("info", via=a.unix)
        assert rc == 0 and info["node"] == "n1"
        assert time.monotonic() - t0 < 5
        _, _, text = a.http("/metrics")
        used = metric(text, "gadget_agent_memory_peak_bytes", budget="tcp")
        budget = metric(text, "gadget_agent_memory_budget_bytes", budget="tcp")
        assert budget == limit / 4 and 0 < used <= budget
        assert metric(text, "gadget_agent_memory_refused_total", budget="tcp") > 0
        assert metric(text, "gadget_client_records_dropped_total") > 0
    finally:
        for s in held:
            s.close()
        for p in stalled:
            if p.poll() is None:
                p.kill()
            p.wait()
        if gen and gen.poll() is None:
            gen.kill()
    # the figures, for the record (pytest -s)
    print(f"\nmemory: cgroup peak {cg.peak() / (1 << 20):.1f} MiB of {limit >> 20} MiB; "
          f"budget tcp peak {used / (1 << 20):.1f} of {budget / (1 << 20):.0f} MiB")
    assert cg.oom_kills() == 0
    assert cg.peak() < limit, cg.peak()
    assert a.stop() == 0


def test_gadgets_fit_the_memory_limit(agents, memcg, clients):
    """Each loaded gadget holds kernel memory (its ring buffer and maps)
    charged to the agent's cgroup: with 128 MiB, the agent loads four and
    refuses the next ones, instead of being killed at the limit."""
    cg = memcg(128 << 20)
    a = agents(preexec=cg.enter)
    runs = [clients(a, "run", "trace_exec", "--timeout", "30000", "--quiet-records")
            for _ in range(4)]
    for c in runs:
        c.wait_for(lambda lines: [m for m in lines if m["type"] in ("run_started", "error")])
    assert all(of_type(c.snapshot(), "run_started") for c in runs), \
        [c.snapshot()[-1] for c in runs]
    rc, e = a.answer("run", "trace_exec", "--timeout", "30000")
    assert rc == 1 and e["code"] == "ERROR_RESOURCE_EXHAUSTED", e
    assert "no memory left for another gadget (4 loaded" in e["message"], e
    # an instance has to wait for room too: it is listed as failed, with the reason
    rc, inst = a.answer("create", "late", "trace_exec")
    assert rc == 0, inst
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rc, lst = a.answer("list")
        if lst["instances"] and lst["instances"][0]["state"] == "INSTANCE_FAILED":
            break
        time.sleep(0.2)
    assert "no memory left for another gadget" in lst["instances"][0]["error"], lst
    # a gadget that ends gives its room back
    runs[0].kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rc, lines, _ = a.client("run", "trace_exec", "--timeout", "200")
        if rc == 0:
            break
        time.sleep(0.5)
    assert rc == 0 and lines[-1]["reason"] == "RUN_END_TIMEOUT", lines
    assert cg.oom_kills() == 0


def test_health_port_answers_probes_under_a_half_open_flood(agents):
    """64 connections that send half a request head, and more coming: the
    kubelet's probe (1 s timeout) is answered every time."""
    a = agents()
    half = []
    stop = threading.Event()
    t = None

    def flood():
        while not stop.is_set():
            try:
                s = a.net.connect(("127.0.0.1", a.health_port), timeout=2)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                half.append(s)
            except OSError:
                pass
            time.sleep(0.01)

    try:
        for _ in range(64):
            s = a.net.connect(("127.0.0.1", a.health_port), timeout=2)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            half.append(s)
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        failures = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                status, _, body = a.net.http(a.health + "/healthz", timeout=1)
                if status != 200:
                    failures.append(status)
            except OSError as e:
                failures.append(str(e))
            assert time.monotonic() - t0 < 1.5
            time.sleep(0.25)
        assert not failures, failures
    finally:
        stop.set()
        if t:
            t.join(5)
        for s in half:
            s.close()


@pytest.fixture(scope="module")
def big_image(tmp_path_factory):
    """A registry holding an image with a 4 MiB layer."""
    reg = registry.plain()
    d = tmp_path_factory.mktemp("big")
    layout = str(d / "layout")
    gadget_layout(layout, 4 << 20)
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                    f"docker://{reg.host}/big:v1"], capture_output=True, check=True)
    yield reg
    reg.stop()


def test_dripping_registry_does_not_hold_the_agent(agents, big_image, tmp_path):
    """2 KB/s from the registry: the pull is given up within the stall time
    (the agent's 10 s); a registry just fast enough is given up at
    oci.pullTimeout."""
    drip = registry.SlowProxy(big_image.port, rate=2048)
    steady = registry.SlowProxy(big_image.port, rate=24 << 10)
    try:
        a = agents(extra_config={"oci": {"storeDir": str(tmp_path / "store"),
                                         "insecureRegistries": [drip.host]}},
                   forward=[drip.port])
        t0 = time.monotonic()
        rc, e = a.answer("run", f"{drip.host}/big:v1", timeout=60)
        took = time.monotonic() - t0
        assert rc == 1 and e["code"] == "ERROR_IMAGE", e
        assert "sends too slowly" in e["message"] and drip.host in e["message"], e
        assert took < 25, took
        b = agents(extra_config={"oci": {"storeDir": str(tmp_path / "store2"),
                                         "insecureRegistries": [steady.host],
                                         "pullTimeout": "4s"}},
                   forward=[steady.port])
        t0 = time.monotonic()
        rc, e = b.answer("run", f"{steady.host}/big:v1", timeout=60)
        took = time.monotonic() - t0
        assert rc == 1 and e["code"] == "ERROR_IMAGE", e
        assert "given up after 4 s" in e["message"], e
        assert took < 10, took
        assert a.http("/healthz")[0] == 200 and b.http("/healthz")[0] == 200
    finally:
        drip.stop()
        steady.stop()


def test_dripping_registry_does_not_hold_ig(big_image, tmp_path):
    drip = registry.SlowProxy(big_image.port, rate=2048)
    try:
        t0 = time.monotonic()
        p = subprocess.Popen([IG, "image", "pull", f"{drip.host}/big:v1", "--store",
                              str(tmp_path / "store"), "--insecure-registries", drip.host],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 1 and "sends too slowly" in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert time.monotonic() - t0 < 45
    finally:
        drip.stop()


def test_fifo_in_the_store_does_not_hang_ig(tmp_path):
    store = str(tmp_path / "store")
    shutil.copytree(STORE, store)
    r = ig("image", "inspect", "trace_exec:latest", "--store", store, "-o", "json")
    layer = json.loads(r.stdout)["manifest"]["layers"][0]["digest"].split(":")[1]
    blob = os.path.join(store, "blobs", "sha256", layer)
    os.unlink(blob)
    os.mkfifo(blob)
    r = subprocess.run([IG, "image", "export", "trace_exec:latest", str(tmp_path / "x.tar"),
                        "--store", store], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    r = subprocess.run([IG, "run", "trace_exec:latest", "--store", store, "-t", "1"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    # the store's lock file
    store2 = str(tmp_path / "store2")
    shutil.copytree(STORE, store2)
    os.unlink(os.path.join(store2, ".lock"))
    os.mkfifo(os.path.join(store2, ".lock"))
    r = subprocess.run([IG, "image", "tag", "trace_exec:latest", "x:v1", "--store", store2],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and store2 in r.stderr, r.stderr
    # a gadget's source
    src = tmp_path / "gadget"
    shutil.copytree(os.path.join(REPO, "gadgets", "trace_exec"), src)
    os.unlink(src / "program.bpf.c")
    os.mkfifo(src / "program.bpf.c")
    r = subprocess.run([IG, "image", "build", str(src), "-t", "x:v1", "--store",
                        str(tmp_path / "store3"),
                        "-I", os.path.join(REPO, "bpf", "include"),
                        "-I", os.path.join(REPO, "build", "gen")],
                       capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert r.returncode == 1 and "program.bpf.c: not a regular file" in r.stderr, r.stderr
    assert not [n for n in os.listdir(tmp_path) if n.startswith("ig-build-")]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_build_leaves_no_temporary_directory(tmp_path, how):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    p = subprocess.Popen([IG, "image", "build", os.path.join(REPO, "gadgets", "trace_exec"), "-t",
                          "x:v1", "--store", str(tmp_path / "store"),
                          "-I", os.path.join(REPO, "bpf", "include"),
                          "-I", os.path.join(REPO, "build", "gen")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TMPDIR=str(tmp)), start_new_session=True)
    deadline = time.monotonic() + 20
    while not os.listdir(tmp) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.listdir(tmp), "the build made no temporary directory"
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)  # the terminal signals the whole group
        want = -signal.SIGINT
    else:
        p.send_signal(signal.SIGTERM)  # ig alone
        want = -signal.SIGTERM
    p.communicate(timeout=60)
    assert p.returncode == want
    assert os.listdir(tmp) == []
