# SPDX-License-Identifier: Apache-2.0
"""Real OCI registries for the integration tests.

Debian's docker-registry (CNCF distribution 2.8) is started on loopback with a
temporary config and storage directory, in one of three setups:

- plain HTTP, no authentication;
- HTTPS with a certificate from a test CA (made with the openssl CLI) and
  htpasswd Basic authentication (htpasswd -Bbn);
- plain HTTP with distribution's token authentication, answered by a small
  token server in this module that signs RS256 JWTs with the openssl CLI;
  the registry checks them against the signing certificate given as its
  rootcertbundle.

A throttling TCP proxy lets a test stop a registry in the middle of a
transfer.  Nothing here runs at boot: every fixture starts what it needs and
stops it afterwards.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

REGISTRY_BIN = "/usr/bin/docker-registry"
USER = "igtest"
PASSWORD = "s3cret-Pa55"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, **kw)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_ca(d):
    """A CA and a server certificate for localhost/127.0.0.1 under d."""
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "server.ext")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca_crt, "-days", "2", "-subj", "/CN=ig test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


class Registry:
    """One docker-registry process.  host is what references use."""

    def __init__(self, kind="plain", auth=None, tls=False):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"ig-registry-{kind}-")
        self.root = os.path.join(self.dir, "storage")
        self.port = free_port()
        self.host = f"localhost:{self.port}"
        self.tls = tls
        self.auth = auth or {}
        self.ca = None
        self.proc = None
        self.log_path = os.path.join(self.dir, "registry.log")
        self.token_server = None
        if tls:
            self.ca, self.cert, self.key = make_ca(self.dir)

    # -- config --

    def config(self):
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {uuid.uuid4().hex}",
        ]
        if self.tls:
            lines += ["  tls:", f"    certificate: {self.cert}", f"    key: {self.key}"]
        if "htpasswd" in self.auth:
            lines += ["auth:", "  htpasswd:", "    realm: ig-test", f"    path: {self.auth['htpasswd']}"]
        if "token" in self.auth:
            t = self.auth["token"]
            lines += ["auth:", "  token:", f"    realm: {t['realm']}",
                      f"    service: {t['service']}", f"    issuer: {t['issuer']}",
                      f"    rootcertbundle: {t['cert']}"]
        return "\n".join(lines) + "\n"

    # -- process --

    def start(self):
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(self.config())
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()
        return self

    def url(self, path="/v2/"):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout=20):
        ctx = ssl.create_default_context(cafile=self.ca) if self.tls else None
        if ctx:
            ctx.check_hostname = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited:\n{self.read_log()}")
            try:
                urllib.request.urlopen(self.url(), timeout=1, context=ctx)
                return
            except urllib.error.HTTPError:
                return  # 401: up, and asking for credentials
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer /v2/:\n{self.read_log()}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.token_server:
            self.token_server.stop()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def requests(self, method, path_part=""):
        """Access log lines for method whose path contains path_part."""
        out = []
        for line in self.read_log().splitlines():
            if f'"{method} /v2/' in line and path_part in line:
                out.append(line)
        return out

    def blob_data(self, digest):
        """Where distribution keeps a blob's bytes on disk."""
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.root, "docker", "registry", "v2", "blobs", "sha256", hexd[:2],
                            hexd, "data")


def plain():
    return Registry("plain").start()


def tls_basic():
    reg = Registry("tls", tls=True)
    path = os.path.join(reg.dir, "htpasswd")
    with open(path, "wb") as f:
        f.write(run("htpasswd", "-Bbn", USER, PASSWORD).stdout)
    reg.auth = {"htpasswd": path}
    try:
        return reg.start()
    except Exception:
        reg.stop()
        raise


# ---- token server ----

class TokenServer:
    """Issues registry tokens (RS256 JWTs) to USER/PASSWORD, like an
    authorization service of the distribution token spec."""

    def __init__(self, d, service, issuer, realm_host="localhost"):
        self.dir = d
        self.service = service
        self.issuer = issuer
        self.key = os.path.join(d, "token.key")
        self.cert = os.path.join(d, "token.crt")
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
            "-out", self.cert, "-days", "2", "-subj", "/CN=ig test token signer")
        der = run("openssl", "x509", "-in", self.cert, "-outform", "DER").stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests = []
        self.port = free_port()
        # on the registry's host ("localhost"): ig sends credentials to no other
        self.realm = f"http://{realm_host}:{self.port}/token"
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, claims):
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing_input.encode(), capture_output=True,
                             check=True).stdout
        return signing_input + "." + b64url(sig)

    def handle(self, h):
        q = urllib.parse.urlparse(h.path)
        params = urllib.parse.parse_qs(q.query)
        auth = h.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                u, p = "", ""
            if u == USER and p == PASSWORD:
                user = u
        self.requests.append({"path": q.path, "params": params, "user": user,
                              "auth": bool(auth)})
        if q.path != "/token" or user is None:
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                           "message": "bad credentials"}]}).encode()
            h.send_response(401)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        access = []
        for scope in params.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) >= 3 and parts[0] == "repository":
                    access.append({"type": "repository", "name": ":".join(parts[1:-1]),
                                   "actions": parts[-1].split(",")})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        body = json.dumps({"token": self.sign(claims), "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


def token(realm_host="localhost"):
    service, issuer = "ig-test-registry", "ig-test-issuer"
    ts = TokenServer(tempfile.mkdtemp(prefix="ig-token-"), service, issuer, realm_host)
    reg = Registry("token", auth={"token": {"realm": ts.realm, "service": service,
                                            "issuer": issuer, "cert": ts.cert}})
    reg.token_server = ts
    try:
        return reg.start()
    except Exception:
        reg.stop()
        raise


# ---- a proxy that slows downloads, to stop a registry mid-transfer ----

class SlowProxy:
    """Relays 127.0.0.1:port to target_port; replies flow at rate bytes/s.
    downstream counts the reply bytes relayed so far."""

    def __init__(self, target_port, rate=256 * 1024):
        self.target_port = target_port
        self.rate = rate
        self.port = free_port()
        self.host = f"localhost:{self.port}"
        self.downstream = 0
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                # A small fixed receive buffer (no autotuning): little of a
                # reply is in flight when the registry dies, so the client
                # sees the transfer break rather than complete from buffers.
                u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
                u.connect(("127.0.0.1", self.target_port))
            except OSError:
                u.close()
                c.close()
                continue
            self.conns += [c, u]
            threading.Thread(target=self._pipe, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, True), daemon=True).start()

    def _pipe(self, src, dst, slow):
        chunk = 16 * 1024 if slow else 65536
        try:
            while True:
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if slow:
                    with self._lock:
                        self.downstream += len(data)
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        # close() alone leaves _accept() blocked in accept(); once woken it
        # could retry on the reused descriptor number and take a later
        # server's connection (seen: the token server's).  shutdown() wakes it.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


# ---- a front that sends blob downloads elsewhere, as registries on object storage do ----

class RedirectingFront:
    """Forwards every request to reg, except blob GETs: those are answered
    with a 307 to a blob server on another origin (127.0.0.1 instead of
    localhost, another port) that serves the bytes from the registry's
    storage directory and records the headers it was sent."""

    def __init__(self, reg):
        import http.client
        self.reg = reg
        self.blob_requests = []
        front = self

        class Blobs(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                digest = self.path.rsplit("/", 1)[-1]
                front.blob_requests.append({"digest": digest,
                                            "authorization": self.headers.get("Authorization")})
                try:
                    with open(reg.blob_data(digest), "rb") as f:
                        body = f.read()
                except (OSError, IndexError):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Front(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def forward(self):
                if self.command == "GET" and "/blobs/sha256:" in self.path:
                    digest = self.path.rsplit("/", 1)[-1]
                    self.send_response(307)
                    self.send_header("Location",
                                     f"http://127.0.0.1:{front.blob_port}/objects/{digest}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                # Host is kept, as a reverse proxy keeps it: the registry's
                # upload Locations then point back at the front
                headers = dict(self.headers.items())
                c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=30)
                c.request(self.command, self.path, body=body, headers=headers)
                resp = c.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "date", "server",
                                         "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        self.blob_httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blobs)
        self.blob_port = self.blob_httpd.server_address[1]
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
        self.port = self.httpd.server_address[1]
        self.host = f"localhost:{self.port}"
        for srv in (self.blob_httpd, self.httpd):
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop(self):
        for srv in (self.httpd, self.blob_httpd):
            srv.shutdown()
            srv.server_close()


# ---- finding 2 of the lock-down issue: a redirect chain that fishes for credentials ----

class CredentialChain:
    """Registry A asks for Basic credentials (USER/PASSWORD) and forwards to
    reg, except that it redirects blob GETs to B, on another host; B answers
    every request with 401 and a Bearer challenge whose realm is C, a third
    host, which hands out a token to anyone.  B's and C's requests are
    recorded with their Authorization header: neither may ever see A's
    credentials."""

    def __init__(self, reg):
        import http.client
        self.b_requests = []
        self.c_requests = []
        chain = self
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        def reply(h, status, body=b"", headers=()):
            h.send_response(status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)

        class C(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                chain.c_requests.append({"path": self.path,
                                         "authorization": self.headers.get("Authorization")})
                reply(self, 200, json.dumps({"token": "from-c"}).encode(),
                      [("Content-Type", "application/json")])

        class B(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self):
                chain.b_requests.append({"path": self.path,
                                         "authorization": self.headers.get("Authorization")})
                reply(self, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                      [("WWW-Authenticate",
                        f'Bearer realm="http://127.0.0.1:{chain.c_port}/token",'
                        'service="object-store"')])

            do_GET = do_HEAD = answer

        class A(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def forward(self):
                if self.headers.get("Authorization") != basic:
                    reply(self, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                          [("WWW-Authenticate", 'Basic realm="registry A"')])
                    return
                if self.command == "GET" and "/blobs/sha256:" in self.path:
                    digest = self.path.rsplit("/", 1)[-1]
                    reply(self, 307, headers=[
                        ("Location", f"http://127.0.0.1:{chain.b_port}/objects/{digest}")])
                    return
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=30)
                c.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                resp = c.getresponse()
                data = resp.read()
                hdrs = [(k, v) for k, v in resp.getheaders()
                        if k.lower() not in ("content-length", "connection", "date", "server",
                                             "transfer-encoding")]
                reply(self, resp.status, data, hdrs)
                c.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        self.servers = []
        for handler in (C, B, A):
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.servers.append(srv)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.c_port = self.servers[0].server_address[1]
        self.b_port = self.servers[1].server_address[1]
        self.port = self.servers[2].server_address[1]
        self.host = f"localhost:{self.port}"

    def stop(self):
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
