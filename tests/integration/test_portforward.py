# SPDX-License-Identifier: Apache-2.0
"""pods/portforward over WebSocket (k8s/portforward.c) against the stand-in
API server over real TLS, driven through tests/helpers/pf_tool: bytes
relayed exactly both ways, several forwards in one process, the errors a
user sees (bad token, missing pod, closed pod port, wrong CA, nothing
listening), EOF when the pod side closes, bounded memory with a slow reader
and a valgrind-clean run.  The "pods" are TCP servers on 127.0.0.1 started
here, named by pods whose status.podIP is 127.0.0.1."""

import hashlib
import os
import socket
import subprocess
import threading

import pytest

from apiserver import apiserver, free_port  # noqa: F401  (fixture)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("PF_TOOL", os.path.join(REPO, "build", "tests", "pf_tool"))


class PodServer:
    """A TCP listener standing in for a container port.  mode "echo"
    echoes (after an optional greeting) and closes once `limit` bytes went
    back; "bulk" sends `data` and closes after the client sends a byte;
    "hello" sends a greeting and closes at once."""

    def __init__(self, mode, greeting=b"", limit=None, data=b""):
        self.mode, self.greeting, self.limit, self.data = mode, greeting, limit, data
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        try:
            if self.greeting:
                c.sendall(self.greeting)
            if self.mode == "bulk":
                c.sendall(self.data)
                c.recv(1)
            elif self.mode == "echo":
                sent = 0
                while self.limit is None or sent < self.limit:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
                    sent += len(d)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def pf(api, *targets, token=None, ca=None, extra=(), **kw):
    args = [TOOL, "--server", api.url, "--ca", ca or api.ca, "--token", token or api.token,
            "--timeout-ms", "10000", *extra, *targets]
    return subprocess.run(args, capture_output=True, timeout=kw.pop("timeout", 60), **kw)


def pattern(n):
    block = hashlib.sha256(b"portforward").digest() * 2048
    return (block * (n // len(block) + 1))[:n]


@pytest.fixture
def pods(apiserver):  # noqa: F811
    servers = []

    def make(name, server):
        apiserver.create_pod("default", name, ip="127.0.0.1")
        servers.append(server)
        return server
    yield make
    for s in servers:
        s.close()


def test_echo_1mib_byte_exact(apiserver, pods):  # noqa: F811
    data = os.urandom(1 << 20)
    srv = pods("echo", PodServer("echo", limit=len(data)))
    r = pf(apiserver, f"echo:{srv.port}", input=data)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(data)
    assert r.stdout == data


def test_three_forwards_at_once(apiserver, pods, tmp_path):  # noqa: F811
    data = os.urandom(200 << 10)
    targets = []
    for i in range(3):
        greet = f"pod-{i}:".encode()
        srv = pods(f"p{i}", PodServer("echo", greeting=greet, limit=len(data)))
        targets.append(f"p{i}:{srv.port}")
    r = pf(apiserver, *targets, extra=["--out", str(tmp_path / "out")], input=data)
    assert r.returncode == 0, r.stderr
    for i in range(3):
        got = (tmp_path / f"out.{i}").read_bytes()
        assert got == f"pod-{i}:".encode() + data


def test_wrong_token_is_unauthorized(apiserver, pods):  # noqa: F811
    srv = pods("web", PodServer("hello", greeting=b"hi"))
    r = pf(apiserver, f"web:{srv.port}", token="not-the-token", input=b"")
    assert r.returncode == 1
    assert b"Unauthorized" in r.stderr
    assert srv.conns == 0


def test_missing_pod_is_named(apiserver):  # noqa: F811
    r = pf(apiserver, "no-such-pod:80", input=b"")
    assert r.returncode == 1
    assert b'pods "no-such-pod" not found' in r.stderr


def test_pod_not_running(apiserver):  # noqa: F811
    apiserver.create_pod("default", "pending", phase="Pending")
    r = pf(apiserver, "pending:80", input=b"")
    assert r.returncode == 1
    assert b"pod is not running" in r.stderr


def test_closed_pod_port_reports_error_channel(apiserver, pods):  # noqa: F811
    port = free_port()
    apiserver.create_pod("default", "closed", ip="127.0.0.1")
    r = pf(apiserver, f"closed:{port}", input=b"")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert f"error forwarding port {port}" in err
    assert "Connection refused" in err


def test_wrong_ca_is_rejected(apiserver, pods, tmp_path):  # noqa: F811
    key, crt = tmp_path / "o.key", tmp_path / "o.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-subj", "/CN=other", "-days", "2"], check=True, capture_output=True)
    srv = pods("web", PodServer("hello", greeting=b"hi"))
    r = pf(apiserver, f"web:{srv.port}", ca=str(crt), input=b"")
    assert r.returncode == 1
    assert b"cannot verify the API server's certificate" in r.stderr
    assert srv.conns == 0


def test_nothing_listening(apiserver):  # noqa: F811
    port = free_port()
    r = subprocess.run([TOOL, "--server", f"https://127.0.0.1:{port}", "--ca", apiserver.ca,
                        "--token", apiserver.token, "web:80"], capture_output=True, timeout=30)
    assert r.returncode == 1
    assert b"connection refused" in r.stderr


def test_bad_input_is_refused(apiserver):  # noqa: F811
    r = subprocess.run([TOOL, "--server", "http://127.0.0.1:1", "web:80"], capture_output=True, timeout=30)
    assert r.returncode == 1 and b"bad API server URL" in r.stderr
    r = subprocess.run([TOOL, "--server", apiserver.url, "--ca", apiserver.ca, "-n", "Bad/NS", "web:80"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"bad namespace or pod name" in r.stderr
    r = subprocess.run([TOOL, "--server", apiserver.url, "--ca", apiserver.ca, "--token", "a\nb", "web:80"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"bad bearer token" in r.stderr


def test_remote_close_gives_eof(apiserver, pods):  # noqa: F811
    srv = pods("bye", PodServer("hello", greeting=b"goodbye\n"))
    # stdin stays open: only the pod's close can end pf_tool
    p = subprocess.Popen([TOOL, "--server", apiserver.url, "--ca", apiserver.ca, "--token", apiserver.token,
                          f"bye:{srv.port}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    killer = threading.Timer(20, p.kill)
    killer.start()
    try:
        out = p.stdout.read()
        p.wait()
    finally:
        killer.cancel()
        p.stdin.close()
    assert out == b"goodbye\n"
    assert p.returncode == 0, p.stderr.read()


def _bulk(apiserver, pods, size, extra, wrapper=()):  # noqa: F811
    data = pattern(size)
    srv = pods("bulk", PodServer("bulk", data=data))
    p = subprocess.Popen([*wrapper, TOOL, "--server", apiserver.url, "--ca", apiserver.ca, "--token",
                          apiserver.token, "--mem", *extra, f"bulk:{srv.port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = bytearray()
    try:
        while len(got) < size:
            chunk = p.stdout.read1(1 << 20)
            if not chunk:
                break
            got += chunk
        # everything arrived: let the pod close (the stand-in drops what
        # it still holds when the pod side closes first)
        p.stdin.write(b"x")
        p.stdin.close()
        got += p.stdout.read()
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    return p.returncode, bytes(got), p.stderr.read().decode(), data


def test_slow_reader_32mib_bounded_memory(apiserver, pods):  # noqa: F811
    # the reader sleeps while the pod pushes 32 MiB, then reads in small
    # pieces.  pf_tool peaks near 13 MB here; a client that buffered what
    # the API server sends would pass 30 MB.
    rc, got, err, data = _bulk(apiserver, pods, 32 << 20,
                               ["--start-delay-ms", "1500", "--read-chunk", "16384"])
    assert rc == 0, err
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    hwm = [int(line.split()[-1]) for line in err.splitlines() if line.startswith("pf_tool: VmHWM")]
    assert hwm, err
    if "/san/" not in TOOL:  # ASan's shadow memory and quarantine say nothing about our buffers
        assert hwm[0] < 24 * 1024, err


@pytest.mark.skipif(not os.access("/usr/bin/valgrind", os.X_OK), reason="valgrind not installed")
def test_valgrind_clean(apiserver, pods):  # noqa: F811
    supp = os.path.join(REPO, "tests", "helpers", "lws.supp")
    vg = ["/usr/bin/valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
          "--errors-for-leak-kinds=definite", f"--suppressions={supp}"]
    rc, got, err, data = _bulk(apiserver, pods, 1 << 20, [], wrapper=vg)
    assert rc == 0, err
    assert got == data
    # and a failing open, whose cleanup path differs
    r = subprocess.run([*vg, TOOL, "--server", apiserver.url, "--ca", apiserver.ca, "--token", "bad", "x:1"],
                       capture_output=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert b"Unauthorized" in r.stderr


class RedirectTrap:
    """Two HTTPS servers: the first answers every request with a 307 to the
    second, on another host name and port; both record the Authorization
    header they were sent."""

    def __init__(self, d):
        import http.server
        import ssl
        from registry import make_ca
        self.ca, crt, key = make_ca(d)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.first, self.second = [], []
        trap = self

        def handler(log, redirect):
            class H(http.server.BaseHTTPRequestHandler):
                def log_message(self, *a):
                    pass

                def do_GET(self):
                    log.append({"path": self.path,
                                "authorization": self.headers.get("Authorization")})
                    self.send_response(307 if redirect else 401)
                    if redirect:
                        self.send_header("Location",
                                         f"https://localhost:{trap.second_port}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            return H

        self.servers = []
        for log, redirect in ((self.second, False), (self.first, True)):
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(log, redirect))
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
            self.servers.append(srv)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.second_port = self.servers[0].server_address[1]
        self.url = f"https://127.0.0.1:{self.servers[1].server_address[1]}"

    def stop(self):
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


def test_redirect_gets_no_bearer_token(tmp_path):
    """An API server (or whoever answers at its address) that redirects the
    portforward upgrade elsewhere: the redirect is not followed, so the
    bearer token reaches no other host, and the error names the status."""
    trap = RedirectTrap(str(tmp_path))
    try:
        r = subprocess.run([TOOL, "--server", trap.url, "--ca", trap.ca, "--token",
                            "secret-bearer", "--timeout-ms", "10000", "web:80"],
                           capture_output=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert trap.second == [], trap.second
        assert trap.first and all(q["authorization"] == "Bearer secret-bearer"
                                  for q in trap.first), trap.first
        assert b"307" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    finally:
        trap.stop()


def test_rest_redirect_gets_no_bearer_token(tmp_path):
    """The same for the REST client (k8s/client.c): a 307 is an error, not
    a reason to send the token to another host."""
    tool = os.environ.get("K8S_TOOL", os.path.join(REPO, "build", "tests", "k8s_tool"))
    trap = RedirectTrap(str(tmp_path))
    try:
        kc = tmp_path / "kubeconfig"
        kc.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{trap.url}", certificate-authority: "{trap.ca}"}}
users:
- name: u
  user: {{token: secret-bearer}}
contexts:
- name: x
  context: {{cluster: c, user: u}}
current-context: x
""")
        r = subprocess.run([tool, "--kubeconfig", str(kc), "get", "/api/v1/namespaces/default"],
                           capture_output=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert trap.first, r.stderr
        assert trap.second == [], trap.second
    finally:
        trap.stop()
