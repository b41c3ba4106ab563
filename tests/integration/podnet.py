# SPDX-License-Identifier: Apache-2.0
"""A network namespace of the test's own, standing in for a pod's.

A gadget agent listens for its control API on 127.0.0.1 only inside its
pod's own network namespace: in the host's, every local user could reach it,
so it refuses to (docs/agent.md, "Ports and endpoints").  The tests run each
agent the way a pod would: in a namespace of its own (`ip netns add`) with
only its loopback up, entered with `nsenter --net` so that every other
namespace (mounts, pids, tracefs, bpffs) stays the host's.

What crosses the boundary, as in a cluster:

- clients of the control API and the health port connect from inside the
  namespace (the kubelet's probes and the API server's port-forward do the
  same on a real node): `connect()`, `http()`, and `prefix()` for a command;
- the agent reaches services of the host (the stand-in API server, a
  registry) through `forward(port)`, a relay listening on 127.0.0.1:port in
  the namespace (what a cluster's service network is to a pod).

Sockets are made inside the namespace by a thread that enters it with
setns(2) (Python 3.11 has no os.setns) and returns the socket; a socket
keeps the namespace it was made in, whatever thread uses it after.  No
traffic leaves the machine's loopbacks.

    with PodNet() as net:
        proc = subprocess.Popen(net.prefix() + ["gadget-agent", ...])
        net.http("http://127.0.0.1:8485/healthz")
"""

import ctypes
import http.client
import os
import socket
import subprocess
import threading
import uuid
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class PodNet:
    def __init__(self, prefix="igt"):
        self.name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.path = f"/run/netns/{self.name}"
        self._listeners = []
        self._closed = False
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True,
                       capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def prefix(self):
        """A command run with this prefix runs in the namespace (the same pid:
        signals to the Popen reach the command itself)."""
        return ["nsenter", f"--net={self.path}", "--"]

    def inside(self, fn):
        """fn() called by a thread that entered the namespace; its result."""
        out = {}

        def run():
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {self.path}: {os.strerror(e)}")
                out["v"] = fn()
            except BaseException as e:  # handed to the caller below
                out["e"] = e
            finally:
                os.close(fd)

        t = threading.Thread(target=run)
        t.start()
        t.join()
        if "e" in out:
            raise out["e"]
        return out["v"]

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        return self.inside(lambda: socket.socket(family, kind))

    def connect(self, addr, timeout=5.0):
        """A TCP connection to addr (host, port) made inside the namespace."""
        s = self.socket()
        s.settimeout(timeout)
        try:
            s.connect(addr)
        except OSError:
            s.close()
            raise
        return s

    def http(self, url, method="GET", data=None, timeout=10.0):
        """(status, headers, body text) of a plain HTTP request from inside."""
        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        conn.sock = self.connect((u.hostname, u.port), timeout)
        try:
            conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=data)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode(errors="replace")
        finally:
            conn.close()

    def forward(self, port, to=None):
        """Relays 127.0.0.1:port inside the namespace to `to` (default
        127.0.0.1:port) on the host, for the life of this object."""
        to = to or ("127.0.0.1", port)
        ls = self.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(64)
        self._listeners.append(ls)

        def accept_loop():
            while not self._closed:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                try:
                    h = socket.create_connection(to, timeout=10)
                    h.settimeout(None)
                except OSError:
                    c.close()
                    continue
                for a, b in ((c, h), (h, c)):
                    threading.Thread(target=_pump, args=(a, b), daemon=True).start()

        threading.Thread(target=accept_loop, daemon=True).start()

    def expose(self, port):
        """The other way: a port on the host's 127.0.0.1 (returned) relayed to
        127.0.0.1:port inside the namespace, for the life of this object,
        e.g. for a Prometheus on the host scraping a pod's port."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        self._listeners.append(ls)

        def accept_loop():
            while not self._closed:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                try:
                    h = self.connect(("127.0.0.1", port), timeout=10)
                    h.settimeout(None)
                except OSError:
                    c.close()
                    continue
                for a, b in ((c, h), (h, c)):
                    threading.Thread(target=_pump, args=(a, b), daemon=True).start()

        threading.Thread(target=accept_loop, daemon=True).start()
        return ls.getsockname()[1]

    def close(self):
        if self._closed:
            return
        self._closed = True
        for ls in self._listeners:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
