# SPDX-License-Identifier: Apache-2.0
"""Fixture helpers for tests that need a Kubernetes API server: they start
the stand-in (tests/apiserver/run) on a free loopback port with its own data
directory, and drive it with the real kubectl (build/tools/bin/kubectl, put
there by `make tools`) or with plain HTTPS requests.

    from apiserver import ApiServer, apiserver   # the fixture
    def test_x(apiserver):
        apiserver.kubectl("get", "pods")
        status, obj = apiserver.json("GET", "/api/v1/namespaces")
"""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(REPO, "tests", "apiserver", "run")
KUBECTL = os.environ.get("KUBECTL", os.path.join(REPO, "build", "tools", "bin", "kubectl"))
PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    free_port = staticmethod(free_port)

    def __init__(self, workdir, token="test-admin-token", compaction_window=1000, nodes=("n1", "n2"),
                 bookmark_interval=60.0, token_file=None):
        self.workdir = str(workdir)
        self.data_dir = os.path.join(self.workdir, "data")
        self.kubeconfig = os.path.join(self.workdir, "kubeconfig")
        self.home = os.path.join(self.workdir, "home")  # kubectl's discovery cache lives under $HOME
        os.makedirs(self.home, exist_ok=True)
        self.token = token
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.ca = os.path.join(self.data_dir, "ca.crt")
        self.args = [PYTHON, RUN, "--addr", f"127.0.0.1:{self.port}", "--kubeconfig", self.kubeconfig,
                     "--data-dir", self.data_dir, "--token", token,
                     "--compaction-window", str(compaction_window), "--bookmark-interval", str(bookmark_interval)]
        for n in nodes:
            self.args += ["--node", n]
        if token_file:
            self.args += ["--token-file", token_file]
        # every authorization decision, one JSON line each (see audit())
        self.audit_log = os.path.join(self.workdir, "audit.jsonl")
        self.args += ["--audit-log", self.audit_log]
        self.proc = None
        self.log = os.path.join(self.workdir, "apiserver.log")

    # --- lifecycle --------------------------------------------------------------

    def start(self, timeout=15.0):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited with {self.proc.returncode}:\n{self.log_text()}")
            if os.path.exists(self.kubeconfig) and os.path.exists(self.ca):
                try:
                    status, _, _ = self.request("GET", "/readyz", timeout=1)
                    if status == 200:
                        return self
                except (OSError, ssl.SSLError, http.client.HTTPException):
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"apiserver not ready after {timeout}s:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def audit(self, user=None):
        """The authorization decisions so far (of user), oldest first: dicts
        with user, allowed, verb, group, resource, subresource, namespace,
        name (or path, for a request that is not on a resource)."""
        try:
            with open(self.audit_log) as f:
                out = [json.loads(ln) for ln in f if ln.strip()]
        except FileNotFoundError:
            return []
        return [e for e in out if user is None or e["user"] == user]

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # --- kubectl ----------------------------------------------------------------

    def env(self):
        return dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)

    def kubectl(self, *args, check=True, timeout=30, input=None, env=None):
        e = self.env()
        if env:
            e.update(env)
        r = subprocess.run([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, input=input, env=e)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def kubectl_bg(self, *args, env=None):
        e = self.env()
        if env:
            e.update(env)
        return subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=e, start_new_session=True)

    # --- HTTP -------------------------------------------------------------------

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    def connect(self, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(), timeout=timeout)

    def request(self, method, path, body=None, token=True, headers=None, timeout=10):
        """(status, headers, body bytes).  token=True uses the admin token,
        None sends none, a string sends that one."""
        h = {"Accept": "application/json"}
        if token is True:
            token = self.token
        if token:
            h["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.connect(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, **kw):
        status, _, data = self.request(method, path, body, **kw)
        return status, json.loads(data) if data else None

    def create_pod(self, ns, name, labels=None, node=None, ip=None, phase=None):
        """Creates a pod through the API and, if asked, sets its status like
        a kubelet would (status is reset on create)."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        if node:
            pod["spec"]["nodeName"] = node
        status, obj = self.json("POST", f"/api/v1/namespaces/{ns}/pods", pod)
        assert status == 201, obj
        if ip or phase:
            st = {"phase": phase or "Running"}
            if ip:
                st["podIP"] = ip
                st["podIPs"] = [{"ip": ip}]
            status, obj = self.json("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": st},
                                    headers={"Content-Type": "application/merge-patch+json"})
            assert status == 200, obj
        return obj

    def watch(self, path, timeout=10):
        """Opens a watch; returns (connection, response): read events with
        response.readline(); close the connection when done."""
        c = self.connect(timeout)
        c.request("GET", path, headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        return c, c.getresponse()


@pytest.fixture
def apiserver(tmp_path):
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"kubectl not found at {KUBECTL}: run `make tools`")
    s = ApiServer(tmp_path).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def make_apiserver(tmp_path):
    """Factory for servers with non-default options."""
    started = []

    def make(**kw):
        d = tmp_path / f"s{len(started)}"
        d.mkdir()
        s = ApiServer(d, **kw).start()
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()
