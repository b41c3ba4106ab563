# SPDX-License-Identifier: Apache-2.0
"""Our CRI transport (cri/transport.c over cri/h2.c and cri/hpack.c) against
an independent gRPC server: python3-grpcio, whose core is gRPC's own C
implementation, serving generic byte handlers on a unix socket.

The client side is build/tests/cri_call, a raw client over the transport
that prints the errno name and exits with the errno value on failure.  The
server runs in its own process (this file, run as a script) so tests can
kill and restart it under a live client.

Run with /usr/bin/python3: Debian's grpcio is not visible to other
interpreters."""

import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRI_CALL = os.environ.get("CRI_CALL", os.path.join(REPO, "build", "tests", "cri_call"))
CRI_MAX_REPLY = 16 << 20
SVC = "/test.Transport/"

# grpc status code -> what transport.h promises (the socket exists, so
# UNAVAILABLE reads as "nobody answers")
STATUS_ERRNO = {
    1: errno.ECANCELED, 2: errno.EIO, 3: errno.EINVAL, 4: errno.ETIMEDOUT, 5: errno.ESRCH,
    6: errno.EEXIST, 7: errno.EACCES, 8: errno.E2BIG, 9: errno.EBUSY, 10: errno.ECONNABORTED,
    11: errno.ERANGE, 12: errno.EOPNOTSUPP, 13: errno.EPROTO, 14: errno.ECONNREFUSED,
    15: errno.EIO, 16: errno.EACCES,
}


# ---- the server (this file run as a script) ---------------------------------

def serve(path):
    from concurrent import futures

    import grpc

    def echo(req, ctx):
        return req

    def status(req, ctx):
        code = int(req.decode())
        ctx.abort(next(c for c in grpc.StatusCode if c.value[0] == code), f"status {code} asked")

    def sleep(req, ctx):
        time.sleep(int(req.decode()) / 1000)
        return b"slept"

    def big(req, ctx):
        return b"x" * int(req.decode())

    def count(req, ctx):
        for i in range(int(req.decode())):
            yield b"message %d" % i

    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Status": grpc.unary_unary_rpc_method_handler(status),
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
        "Big": grpc.unary_unary_rpc_method_handler(big),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Transport", handlers),))
    server.add_insecure_port("unix:" + path)
    server.start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: server.stop(0))
    server.wait_for_termination()


# ---- fixtures ---------------------------------------------------------------

class Server:
    def __init__(self, path):
        self.path = path
        self.proc = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), "serve",
                                      self.path], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", "gRPC test server did not start"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def tmp():
    with tempfile.TemporaryDirectory(prefix="cri-transport-") as d:
        yield d


@pytest.fixture(scope="module")
def server(tmp):
    if not os.path.exists(CRI_CALL):
        pytest.skip(f"{CRI_CALL} not built (make {os.path.relpath(CRI_CALL, REPO)})")
    s = Server(os.path.join(tmp, "grpc.sock"))
    s.start()
    yield s
    s.kill()


@pytest.fixture
def own_server(tmp):
    """A server the test may kill and restart."""
    s = Server(os.path.join(tmp, "own-%d.sock" % time.monotonic_ns()))
    s.start()
    yield s
    s.kill()


def call(sock, method, req=b"", *args, timeout=30):
    return subprocess.run([CRI_CALL, sock, SVC + method if "/" not in method else method]
                          + list(args), input=req, capture_output=True, timeout=timeout)


def errname(err):
    # Linux has one value for both; glibc names it EOPNOTSUPP
    return "EOPNOTSUPP" if err == errno.EOPNOTSUPP else errno.errorcode[err]


def fails_with(r, err):
    assert r.returncode == err, (
        f"want {errname(err)}, got exit {r.returncode}: {r.stderr.decode()!r}")
    assert r.stderr.decode().startswith(errname(err) + ":"), r.stderr


# ---- unary calls ------------------------------------------------------------

def test_echo_small(server):
    r = call(server.path, "Echo", b"hello over h2c")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello over h2c"


def test_echo_empty(server):
    r = call(server.path, "Echo", b"")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""


def test_echo_8mib_both_ways(server):
    # far past every default window (64 KiB): flow control both ways
    payload = os.urandom(8 << 20)
    r = call(server.path, "Echo", payload)
    assert r.returncode == 0, r.stderr
    assert r.stdout == payload


@pytest.mark.parametrize("code", sorted(STATUS_ERRNO))
def test_status_mapping(server, code):
    fails_with(call(server.path, "Status", str(code).encode()), STATUS_ERRNO[code])


def test_unimplemented_method(server):
    fails_with(call(server.path, "NoSuchMethod", b"x"), errno.EOPNOTSUPP)


def test_deadline_exceeded(server):
    t0 = time.monotonic()
    r = call(server.path, "Sleep", b"3000", "--timeout", "300")
    took = time.monotonic() - t0
    fails_with(r, errno.ETIMEDOUT)
    assert took < 2.0, f"a 300 ms deadline took {took:.2f} s"


def test_reply_over_max(server):
    t0 = time.monotonic()
    fails_with(call(server.path, "Big", str(CRI_MAX_REPLY + 1).encode()), errno.E2BIG)
    # refused from its length prefix, not after reading 16 MiB
    assert time.monotonic() - t0 < 5
    # the largest allowed reply still arrives whole
    r = call(server.path, "Big", str(CRI_MAX_REPLY).encode())
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == CRI_MAX_REPLY and r.stdout.count(b"x") == CRI_MAX_REPLY


def test_no_socket(tmp, server):
    fails_with(call(os.path.join(tmp, "absent.sock"), "Echo", b"x"), errno.ENOENT)


def test_not_a_socket(tmp, server):
    path = os.path.join(tmp, "plain-file")
    with open(path, "w") as f:
        f.write("not a socket\n")
    fails_with(call(path, "Echo", b"x"), errno.ENOTSOCK)


def test_nobody_listening(tmp, server):
    path = os.path.join(tmp, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens on it
    fails_with(call(path, "Echo", b"x"), errno.ECONNREFUSED)


def raw_server(path, reply):
    """Accepts one connection, reads a little, sends reply (or nothing)."""
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)

    def run():
        c, _ = ls.accept()
        c.recv(4096)
        if reply is not None:
            c.sendall(reply)
        time.sleep(3)
        c.close()
        ls.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_silent_server_times_out(tmp, server):
    path = os.path.join(tmp, "silent.sock")
    raw_server(path, None)
    t0 = time.monotonic()
    fails_with(call(path, "Echo", b"x", "--timeout", "400"), errno.ETIMEDOUT)
    assert time.monotonic() - t0 < 2.5


def test_http1_server_is_a_protocol_error(tmp, server):
    path = os.path.join(tmp, "http1.sock")
    raw_server(path, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    fails_with(call(path, "Echo", b"x", "--timeout", "2000"), errno.EPROTO)


def test_server_killed_mid_call(own_server):
    p = subprocess.Popen([CRI_CALL, own_server.path, SVC + "Sleep", "--timeout", "20000"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"10000")
    p.stdin.close()
    time.sleep(0.5)
    t0 = time.monotonic()
    own_server.kill()
    rc = p.wait(timeout=5)
    assert time.monotonic() - t0 < 3, "the call did not notice its server die"
    err = p.stderr.read().decode()
    assert rc in (errno.ECONNREFUSED, errno.ECONNRESET), (rc, err)
    assert err.startswith(errname(rc) + ":"), err


def test_server_restarted_between_calls(own_server):
    p = subprocess.Popen([CRI_CALL, own_server.path, SVC + "Echo", "--hex", "--twice"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"again")
    p.stdin.close()
    assert p.stderr.readline() == b"first done\n"
    own_server.kill()
    own_server.start()
    p.send_signal(signal.SIGUSR1)
    assert p.wait(timeout=10) == 0, p.stderr.read()
    out = p.stdout.read()
    assert out.split() == [b"again".hex().encode()] * 2


class DroppingProxy:
    """Forwards unix socket connections to a server; once drop() is called,
    connections made before it are closed as soon as the client sends on
    them, without a byte back: a server that died just as a request came,
    on a connection that looked alive while idle."""

    def __init__(self, path, backend):
        self.path, self.backend = path, backend
        self.generation = 0
        self.accepted = 0
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self):
        self.generation += 1

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.accepted += 1
            b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            b.connect(self.backend)
            gen = self.generation
            threading.Thread(target=self._pump, args=(c, b, gen), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, c, None), daemon=True).start()

    def _pump(self, src, dst, gen):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if gen is not None and gen != self.generation:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.ls.close()


def test_stale_connection_retried_once(tmp, server):
    proxy = DroppingProxy(os.path.join(tmp, "proxy.sock"), server.path)
    try:
        p = subprocess.Popen([CRI_CALL, proxy.path, SVC + "Echo", "--hex", "--twice"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"retry")
        p.stdin.close()
        assert p.stderr.readline() == b"first done\n"
        proxy.drop()
        p.send_signal(signal.SIGUSR1)
        assert p.wait(timeout=10) == 0, p.stderr.read()
        assert p.stdout.read().split() == [b"retry".hex().encode()] * 2
        # the second call went out on a fresh connection
        assert proxy.accepted == 2
    finally:
        proxy.close()


# ---- server streaming -------------------------------------------------------

def test_stream_1000_messages_then_ok(server):
    r = call(server.path, "Count", b"1000", "--stream")
    lines = r.stdout.decode().split()
    assert lines == [(b"message %d" % i).hex() for i in range(1000)]
    # CRI event streams do not end: an OK end reads as a reset
    fails_with(r, errno.ECONNRESET)


def test_stream_empty_then_ok(server):
    r = call(server.path, "Count", b"0", "--stream")
    assert r.stdout == b""
    fails_with(r, errno.ECONNRESET)


def test_stream_unimplemented(server):
    r = call(server.path, "GetContainerEvents", b"", "--stream")
    assert r.stdout == b""
    fails_with(r, errno.EOPNOTSUPP)


def test_stream_error_status(server):
    fails_with(call(server.path, "Status", b"7", "--stream"), errno.EACCES)


def test_stream_no_socket(tmp, server):
    fails_with(call(os.path.join(tmp, "absent.sock"), "Count", b"1", "--stream"), errno.ENOENT)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve":
    serve(sys.argv[2])
