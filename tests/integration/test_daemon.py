# SPDX-License-Identifier: Apache-2.0
"""ig daemon and ig --remote, against the running kernel.

Each test starts its own `ig daemon` on a socket in a directory of its own
(mode 0755, so that the users the tests create reach the socket itself and
nothing else decides), with its own state directory and a configuration that
names no real container runtime.  Clients are the real `ig --remote`; a few
malformed streams are written with raw sockets.  Users and groups the tests
create are removed afterwards.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import yaml

import registry
from conftest import IG, REPO, get

STORE = os.path.join(REPO, "build", "oci-store")


def uid(prefix="igd"):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Daemon:
    """One ig daemon with its own socket, state and configuration."""

    def __init__(self, extra_config=None, args=()):
        self.dir = tempfile.mkdtemp(prefix="igd-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "run", "ig.socket")
        self.addr = "unix://" + self.sock
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "daemon.yaml")
        self.log_path = os.path.join(self.dir, "daemon.log")
        cfg = {
            "oci": {"storeDir": STORE},
            "runtimes": [{"name": "containerd",
                          "socketPath": os.path.join(self.dir, "no-runtime.sock")}],
        }
        cfg.update(extra_config or {})
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)
        self.args = [IG, "daemon", "-H", self.addr, "--state-dir", self.state, "--config",
                     self.config, *args]
        self.proc = None

    def start(self, timeout=15):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ig daemon exited with {self.proc.returncode}:\n"
                                     + self.log())
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.sock)
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("ig daemon did not listen:\n" + self.log())

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("ig daemon did not stop:\n" + self.log())
        rc, self.proc = self.proc.returncode, None
        if sig != signal.SIGKILL:
            assert "Sanitizer" not in self.log() and "runtime error:" not in self.log(), \
                self.log()
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def ig(self, *args, user=None, timeout=60):
        """ig --remote <this daemon> ARGS; as root, or as (uid, gid) with no other groups."""
        argv = [IG, "--remote", self.addr, *args]
        if user is not None:
            argv = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--init-groups",
                    "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def bg(self, *args):
        return Bg([IG, "--remote", self.addr, *args])

    def cleanup(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Bg:
    """A command in the background; its stdout lines are collected."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.lines, self.err = [], []
        self._lock = threading.Lock()
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines)),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err))]
        for t in self._t:
            t.start()

    def _pump(self, f, dst):
        for line in f:
            with self._lock:
                dst.append(line.rstrip("\n"))

    def records(self):
        with self._lock:
            return [json.loads(ln) for ln in self.lines if ln.startswith("{")]

    def wait_for(self, match, trigger=None, timeout=20.0, every=0.3):
        deadline = time.monotonic() + timeout
        next_trigger = 0.0
        while time.monotonic() < deadline:
            if trigger and time.monotonic() >= next_trigger:
                trigger()
                next_trigger = time.monotonic() + every
            found = match(self.records())
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"no match from {' '.join(self.argv)}:\n" + "\n".join(self.lines[-20:])
                             + "\nstderr:\n" + "\n".join(self.err[-20:]))

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._t:
            t.join(5)
        return self.proc.returncode


@pytest.fixture
def daemons():
    made = []

    def make(**kw):
        d = Daemon(**kw)
        made.append(d)
        return d.start()

    yield make
    for d in made:
        d.cleanup()


@pytest.fixture
def bgs():
    made = []

    def make(d, *args):
        b = d.bg(*args)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop(signal.SIGKILL)


@pytest.fixture
def users():
    """Creates system users (and groups) for a test; removes them after it."""
    made_users, made_groups = [], []

    def group():
        name = uid("igg")
        subprocess.run(["groupadd", "--system", name], check=True)
        made_groups.append(name)
        return name

    def user(groups=()):
        name = uid("igu")
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
               "--user-group", name]
        if groups:
            cmd += ["--groups", ",".join(groups)]
        subprocess.run(cmd, check=True)
        made_users.append(name)
        out = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True)
        gid = subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True)
        return int(out.stdout), int(gid.stdout)

    yield user, group
    for name in made_users:
        subprocess.run(["userdel", name], capture_output=True)
    for name in made_groups:
        subprocess.run(["groupdel", name], capture_output=True)


def own_true(tmpdir):
    """A copy of /bin/true with a name of its own, so its execs are told apart by comm."""
    path = os.path.join(tmpdir, uid("t"))
    shutil.copy("/bin/true", path)
    return path, os.path.basename(path)


# ---------------------------------------------------------------- access


def test_unprivileged_user_is_refused_and_a_group_member_is_not(daemons, users):
    user, group = users
    outsider = user()
    d = daemons()
    st = os.stat(d.sock)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600
    r = d.ig("list", user=outsider)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("ig: error: cannot connect to the daemon at " + d.sock)
    assert "Permission denied" in line
    # root is served
    r = d.ig("list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ID", "NAME", "IMAGE", "NODES", "STATE", "RECORDS", "TAGS"]
    assert d.alive()

    # with -G, members of that group are served, others still are not
    g = group()
    member = user(groups=[g])
    d2 = daemons(args=("-G", g))
    st = os.stat(d2.sock)
    assert st.st_mode & 0o777 == 0o660
    assert st.st_gid == int(subprocess.run(["getent", "group", g], capture_output=True,
                                           text=True).stdout.split(":")[2])
    r = d2.ig("list", user=member)
    assert r.returncode == 0, r.stderr
    r = d2.ig("list", user=outsider)
    assert r.returncode == 1 and "Permission denied" in r.stderr


def test_daemon_refuses_tcp_and_unprivileged_start(users, tmp_path):
    r = subprocess.run([IG, "daemon", "-H", "tcp://127.0.0.1:9999"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert "unix socket only" in line
    r = subprocess.run([IG, "--remote", "tcp://127.0.0.1:9999", "list"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "unix" in r.stderr
    user, _ = users
    u = user()
    sock = os.path.join(tempfile.mkdtemp(prefix="igd-"), "x.socket")
    r = subprocess.run(["setpriv", f"--reuid={u[0]}", f"--regid={u[1]}", "--init-groups", "--",
                        IG, "daemon", "-H", "unix://" + sock], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "must run as root" in r.stderr
    shutil.rmtree(os.path.dirname(sock), ignore_errors=True)


def test_no_daemon_is_one_line(tmp_path):
    r = subprocess.run([IG, "--remote", f"unix://{tmp_path}/none.socket", "list"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    (line,) = r.stderr.splitlines()
    assert "is 'ig daemon' running?" in line


# ---------------------------------------------------------------- runs


def test_remote_run_prints_what_ig_run_prints(daemons, tmp_path):
    d = daemons()
    path, comm = own_true(str(tmp_path))
    marker = os.path.join(str(tmp_path), uid("f"))
    # the same gadget, options and record, from the daemon and from ig run
    args = ["trace_exec", "-F", f"proc.comm=={comm}", "--fields", "proc.comm,args"]
    remote = Bg([IG, "--remote", d.addr, "run", *args, "-o", "json"])
    local = Bg([IG, "run", *args, "-o", "json"])
    try:
        def both(recs):
            return [r for r in recs if marker in (r.get("args") or "")]
        a = remote.wait_for(both, trigger=lambda: subprocess.run([path, marker]))
        b = local.wait_for(both, trigger=lambda: subprocess.run([path, marker]))
        assert a[0] == b[0] == {"proc": {"comm": comm}, "args": f"{path} {marker}"}
    finally:
        remote.stop()
        local.stop()
    # columns: the same header and row layout
    cols = ["trace_exec", "-F", f"proc.comm=={comm}", "--fields", "comm,args", "-t", "3"]
    outs = []
    for argv in ([IG, "--remote", d.addr, "run", *cols], [IG, "run", *cols]):
        b = Bg(argv)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and b.proc.poll() is None:
            subprocess.run([path, marker])
            time.sleep(0.3)
        b.stop()
        outs.append(b.lines)
    assert outs[0][0] == outs[1][0] == "COMM             ARGS"
    row = f"{comm:<16} {path} {marker}"
    assert row in outs[0] and row in outs[1], outs


def test_short_names_run_from_the_gadgets_installed_with_ig(daemons, tmp_path):
    # an empty store of its own: trace_exec comes from the in-tree gadgets beside ig
    d = daemons(extra_config={"oci": {"storeDir": str(tmp_path / "empty-store")}})
    r = d.ig("run", "trace_exec", "-t", "1", "-o", "json")
    assert r.returncode == 0, r.stderr
    r = d.ig("run", "no_such_gadget_here")
    assert r.returncode == 1
    assert "not found in the store" in r.stderr and "installed gadgets" in r.stderr


def test_bad_flags_are_usage_errors_before_anything_runs(daemons):
    d = daemons()
    r = d.ig("run", "trace_open", "--no-such-flag", "1")
    assert r.returncode == 2
    assert "unknown option '--no-such-flag'" in r.stderr
    r = d.ig("run", "trace_open", "-F", "nosuchfield==1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    r = d.ig("run", "no_such_gadget")
    assert r.returncode == 1 and "no_such_gadget" in r.stderr
    r = d.ig("run", "trace_open", "--node", "x")
    assert r.returncode == 2 and "--node" in r.stderr
    # what configures a local ig run is the daemon's business
    for flag in (["--store", "/tmp"], ["--pull", "never"], ["--otel-metrics-listen"]):
        r = d.ig("run", "trace_open", *flag)
        assert r.returncode == 2 and flag[0] in r.stderr, (flag, r.stderr)
    assert d.alive()


def test_detach_list_attach_replay_then_live_delete(daemons, bgs, tmp_path):
    d = daemons()
    path, comm = own_true(str(tmp_path))
    r = d.ig("run", "trace_exec", "--detach", "--name", "execs", "--tag", "audit", "-F",
             f"proc.comm=={comm}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gadget instance execs created (id ")
    with open(os.path.join(d.state, "instances", "execs.yaml")) as f:
        spec = yaml.safe_load(f)
    assert spec["image"] == "trace_exec" and spec["filters"] == [f"proc.comm=={comm}"]
    assert spec["tags"] == ["audit"]

    # it runs without any client: these execs are kept for a later attach
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        subprocess.run([path, "before"])
        r = d.ig("list", "-o", "json")
        (inst,) = json.loads(r.stdout)
        if inst["records"] >= 3:
            break
        time.sleep(0.3)
    assert inst["name"] == "execs" and inst["tags"] == ["audit"]
    (state,) = inst["states"].values()
    assert state["state"] == "running"
    r = d.ig("list")
    assert r.stdout.splitlines()[1].split()[:4] == [inst["id"][:12], "execs", "trace_exec", "all"]

    # show as Inspektor Gadget shows it, by name or by the start of the id
    for ref in ("execs", inst["id"][:6]):
        r = d.ig("show", ref)
        assert r.returncode == 0, r.stderr
        shown = yaml.safe_load(r.stdout)
        assert shown["ID"] == inst["id"] and shown["Name"] == "execs"
        assert shown["Image"] == "trace_exec" and shown["Tags"] == ["audit"]
        assert [n["Status"] for n in shown["NodeInstances"]] == ["Running"]
    assert json.loads(d.ig("show", "execs", "-o", "json").stdout)["id"] == inst["id"]

    a = bgs(d, "attach", "execs", "-o", "json")
    replayed = a.wait_for(lambda recs: [x for x in recs if x.get("args", "").endswith("before")])
    assert all(get(x, "proc.comm") == comm for x in replayed)
    live = a.wait_for(lambda recs: [x for x in recs if x.get("args", "").endswith("after")],
                      trigger=lambda: subprocess.run([path, "after"]))
    recs = a.records()
    # the kept records come first, then the live ones
    assert recs.index(replayed[0]) < recs.index(live[0])
    assert a.stop() == 0
    # the instance went on without the attach
    assert json.loads(d.ig("list", "-o", "json").stdout)[0]["states"]

    # deleted by the start of its id: the daemon deletes it, named as it is
    r = d.ig("delete", inst["id"][:8])
    assert r.returncode == 0 and r.stdout == "gadget instance execs deleted\n", r.stderr
    assert not os.path.exists(os.path.join(d.state, "instances", "execs.yaml"))
    assert json.loads(d.ig("list", "-o", "json").stdout) == []
    r = d.ig("delete", "execs")
    assert r.returncode == 1 and "no gadget instance named 'execs'" in r.stderr
    r = d.ig("attach", "execs")
    assert r.returncode == 1 and "no gadget instance named 'execs'" in r.stderr


def test_instances_survive_sigkill_of_the_daemon(daemons, bgs, tmp_path):
    d = daemons()
    path, comm = own_true(str(tmp_path))
    r = d.ig("run", "trace_exec", "--detach", "--name", "keep", "-F", f"proc.comm=={comm}")
    assert r.returncode == 0, r.stderr
    first_id = json.loads(d.ig("list", "-o", "json").stdout)[0]["id"]
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL
    # the socket file the killed daemon left is taken over
    assert os.path.exists(d.sock)
    d.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lst = json.loads(d.ig("list", "-o", "json").stdout)
        if lst and list(lst[0]["states"].values())[0]["state"] == "running":
            break
        time.sleep(0.2)
    assert [i["name"] for i in lst] == ["keep"] and lst[0]["id"] == first_id
    a = bgs(d, "attach", "keep", "-o", "json", "--no-replay")
    a.wait_for(lambda recs: [x for x in recs if x.get("args", "").endswith("again")],
               trigger=lambda: subprocess.run([path, "again"]))
    a.stop()
    # and once more with a clean stop
    assert d.stop() == 0
    d.start()
    assert [i["name"] for i in json.loads(d.ig("list", "-o", "json").stdout)] == ["keep"]


# ---------------------------------------------------------------- bad input


def read_until_closed(s, timeout=10):
    s.settimeout(timeout)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_garbage_and_oversized_frames_are_refused(daemons):
    d = daemons()
    # not a protobuf Request
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(d.sock)
        s.sendall(struct.pack(">I", 6) + b"\xff\xff\xff\xff\xff\xff")
        data = read_until_closed(s)
        assert b"is not a valid Request" in data
    # a length past the 16 MiB limit: refused from the header, nothing reserved
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(d.sock)
        s.sendall(struct.pack(">I", 0x7fffffff) + b"x" * 1024)
        data = read_until_closed(s)
        assert b"over the maximum" in data
    # random bytes, and a stream cut inside a message
    for blob in (os.urandom(4096), struct.pack(">I", 1000) + b"abc"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(d.sock)
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            read_until_closed(s)
    # a request before Hello
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(d.sock)
        # Request{id: 1, list_instances: {}}: field 1 varint, field 16 empty message
        body = b"\x08\x01" + b"\x82\x01\x00"
        s.sendall(struct.pack(">I", len(body)) + body)
        assert b"must be Hello" in read_until_closed(s)
    assert d.alive()
    r = d.ig("list")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- images


def test_image_pull_and_list_in_the_daemons_store(daemons, tmp_path):
    reg = registry.plain()
    try:
        src = str(tmp_path / "src-store")
        ref = f"{reg.host}/gadgets/trace_open:v1"
        # a copy of trace_open pushed to the registry from a store of its own
        subprocess.run([IG, "image", "export", "trace_open:latest", str(tmp_path / "t.tar"),
                        "--store", STORE], check=True, capture_output=True)
        subprocess.run([IG, "image", "import", str(tmp_path / "t.tar"), "--store", src],
                       check=True, capture_output=True)
        subprocess.run([IG, "image", "tag", "trace_open:latest", ref, "--store", src],
                       check=True, capture_output=True)
        r = subprocess.run([IG, "image", "push", ref, "--store", src, "--insecure-registries",
                            reg.host], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        store = str(tmp_path / "daemon-store")
        d = daemons(extra_config={"oci": {"storeDir": store,
                                          "insecureRegistries": [reg.host]}})
        r = d.ig("image", "list")
        assert r.returncode == 0 and r.stdout.split() == ["REPOSITORY", "TAG", "DIGEST",
                                                          "CREATED", "SIZE"]
        r = d.ig("image", "pull", ref)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"Pulled {ref}\ndigest: sha256:")
        r = d.ig("image", "list", "-o", "json")
        (img,) = json.loads(r.stdout)
        assert img["reference"] == ref and img["tag"] == "v1"
        assert img["repository"] == f"{reg.host}/gadgets/trace_open"
        # what it pulled, it runs
        r = d.ig("run", ref, "-t", "1", "-o", "json")
        assert r.returncode == 0, r.stderr
        r = d.ig("image", "pull", f"{reg.host}/gadgets/nothere:v1")
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        r = d.ig("image", "pull", "trace_open")
        assert r.returncode == 1 and "no registry" in r.stderr
    finally:
        reg.stop()
