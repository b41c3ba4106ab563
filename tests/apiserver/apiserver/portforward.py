# SPDX-License-Identifier: Apache-2.0
"""pods/portforward, relayed to the pod's status.podIP over TCP, or to the
pod's own loopback.

A real node's runtime enters the pod's network namespace and connects to
localhost:port there.  The stand-in does the same for a pod whose annotation
`apiserver.test/netns` names a network namespace (a path such as
/run/netns/x: the tests' stand-in for the sandbox's, see
tests/integration/podnet.py); other pods are reached at podIP:port.

Three ways in, as on a real cluster:
- WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`: SPDY/3.1 carried
  in binary WebSocket messages.  kubectl >= 1.31 tries this first.
- HTTP upgrade to `SPDY/3.1` with X-Stream-Protocol-Version
  `portforward.k8s.io`: kubectl's fallback.  In both SPDY forms the client
  opens an error stream and a data stream per connection, with headers
  streamType, port and requestID.
- WebSocket channels, `v4.channel.k8s.io` (or `portforward.k8s.io`, or no
  subprotocol) binary and `v4.base64.channel.k8s.io` text, ports from the
  `ports` query parameter: for the i-th port channel 2i carries data and 2i+1
  errors, every message starts with its channel number, and the first message
  the server sends on each channel is the port, 2 bytes little endian.

One thread per forward owns the TLS socket (OpenSSL objects must not be used
from two threads at once) and multiplexes it with the pod sockets in select().
"""

import base64
import ctypes
import os
import select
import socket
import ssl
import threading
import time

from . import spdy
from . import status as st
from . import websocket as ws

MAX_PORTS = 64
MAX_PENDING = 4 << 20
READ_SIZE = 64 << 10
CONNECT_TIMEOUT = 5.0

NETNS_ANNOTATION = "apiserver.test/netns"
CLONE_NEWNET = 0x40000000

SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS = {"v4.channel.k8s.io": "chan", "portforward.k8s.io": "chan",
                     "v4.base64.channel.k8s.io": "chan64"}


def _connect_in_netns(path, addr, timeout):
    """A TCP connection made from inside the network namespace at path: a
    thread enters it (setns) and makes the socket, which keeps it."""
    out = {}

    def run():
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if ctypes.CDLL("libc.so.6", use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {path}")
            finally:
                os.close(fd)
            out["s"] = socket.create_connection(addr, timeout=timeout)
        except OSError as e:
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["s"]


def _ports(h, q):
    raw = []
    for v in h.q_all.get("ports", []):
        raw += [p.strip() for p in v.split(",") if p.strip()]
    if len(raw) > MAX_PORTS:
        raise st.bad_request(f"too many ports (max {MAX_PORTS})")
    out = []
    for p in raw:
        try:
            n = int(p)
            if not 0 < n < 65536:
                raise ValueError
        except ValueError:
            raise st.bad_request(f'unable to parse "{p}" as a port: must be 1-65535')
        out.append(n)
    return out


def handle(h, res, ns, name, q):
    pod = h.server.store.get(res.key, ns, name)
    if pod is None:
        raise st.not_found(res, name)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise st.bad_request(f"unable to forward port because pod is not running. Current status={phase}")
    pod_ip = (pod.get("status") or {}).get("podIP")
    if not pod_ip:
        raise st.bad_request(f'pod "{name}" has no IP address')
    netns = ((pod.get("metadata") or {}).get("annotations") or {}).get(NETNS_ANNOTATION)
    upgrade = (h.headers.get("Upgrade") or "").lower()
    if upgrade == "websocket":
        offered = [p.strip() for p in (h.headers.get("Sec-WebSocket-Protocol") or "").split(",") if p.strip()]
        key = h.headers.get("Sec-WebSocket-Key")
        if not key or h.headers.get("Sec-WebSocket-Version") != "13":
            raise st.bad_request("websocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13")
        chosen, mode = None, None
        for p in offered:
            if p == SPDY_TUNNEL:
                chosen, mode = p, "spdy"
            elif p in CHANNEL_PROTOCOLS:
                chosen, mode = p, CHANNEL_PROTOCOLS[p]
            if mode:
                break
        if offered and not mode:
            raise st.bad_request(f"none of the offered subprotocols {offered} is supported")
        mode = mode or "chan"
        ports = _ports(h, q)
        if mode != "spdy" and not ports:
            raise st.bad_request("at least 1 port must be specified")
        h.send_response(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", ws.accept_key(key))
        if chosen:
            h.send_header("Sec-WebSocket-Protocol", chosen)
        h.end_headers()
        transport = "ws"
    elif upgrade == "spdy/3.1":
        offered = [p.strip() for v in h.headers.get_all("X-Stream-Protocol-Version") or [] for p in v.split(",")]
        if "portforward.k8s.io" not in offered:
            raise st.ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client "
                              f"supports {offered}, server supports [portforward.k8s.io]")
        h.send_response(101)
        h.send_header("Connection", "Upgrade")
        h.send_header("Upgrade", "SPDY/3.1")
        h.send_header("X-Stream-Protocol-Version", "portforward.k8s.io")
        h.end_headers()
        transport, mode, ports = "raw", "spdy", []
    else:
        raise st.bad_request("Upgrade request required")
    h.close_connection = True
    sock = h.connection
    sock.setblocking(False)
    pre = bytearray()
    while True:
        try:
            b = h.rfile.peek(READ_SIZE)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            break
        if not b:
            break
        pre += h.rfile.read(len(b))
    Relay(sock, bytes(pre), pod_ip, transport, mode, ports, netns).run()


class Pod:
    """One TCP connection to the pod and the stream(s) it belongs to."""

    def __init__(self, sock, port, data_id, error_id):
        self.sock, self.port, self.data_id, self.error_id = sock, port, data_id, error_id
        self.pending = bytearray()
        self.read_open = True
        self.shut_after_flush = False
        self.closed = False


class Relay:
    def __init__(self, sock, pre, pod_ip, transport, mode, ports, netns=None):
        self.sock = sock
        self.pre = pre
        self.pod_ip = pod_ip
        self.netns = netns
        self.transport = transport
        self.mode = mode
        self.ports = ports
        self.out = bytearray()
        self.wsr = ws.Reader()
        self.session = spdy.Session() if mode == "spdy" else None
        self.pods = []
        self.pairs = {}       # SPDY requestID -> {"data": sid, "error": sid, "port": n}
        self.by_stream = {}   # SPDY stream id -> Pod
        self.done = False

    # --- output -----------------------------------------------------------------

    def _emit(self, payload):
        if self.transport == "ws":
            self.out += ws.frame(ws.OP_TEXT if self.mode == "chan64" else ws.OP_BINARY, payload)
        else:
            self.out += payload

    def _channel(self, ch, data):
        if self.mode == "chan64":
            self._emit(bytes([ord("0") + ch]) + base64.b64encode(data))
        else:
            self._emit(bytes([ch]) + data)

    def _to_client(self, pod, data, fin=False):
        if self.mode == "spdy":
            self._emit(spdy.Session.data(pod.data_id, data, fin))
        elif data:
            self._channel(pod.data_id, data)

    def _error(self, pod, msg):
        if self.mode == "spdy":
            self._emit(spdy.Session.data(pod.error_id, msg.encode(), True))
        else:
            self._channel(pod.error_id, msg.encode())

    # --- pods -------------------------------------------------------------------

    def _connect(self, port, data_id, error_id):
        pod = Pod(None, port, data_id, error_id)
        try:
            if self.netns:
                s = _connect_in_netns(self.netns, ("127.0.0.1", port), CONNECT_TIMEOUT)
            else:
                s = socket.create_connection((self.pod_ip, port), timeout=CONNECT_TIMEOUT)
            s.setblocking(False)
            pod.sock = s
        except OSError as e:
            self._error(pod, f"error forwarding port {port} to pod {self.pod_ip}: failed to connect to "
                             f"{self.pod_ip}:{port}: {e.strerror or e}")
            pod.closed = True
            if self.mode == "spdy":
                self._emit(spdy.Session.data(data_id, b"", True))
            return pod
        self.pods.append(pod)
        return pod

    def _close_pod(self, pod):
        if not pod.closed:
            pod.closed = True
            try:
                pod.sock.close()
            except OSError:
                pass
        if pod in self.pods:
            self.pods.remove(pod)
        if self.mode != "spdy" and not self.pods:
            self._emit_close()

    def _emit_close(self):
        if self.transport == "ws":
            self.out += ws.close_frame(1000)
        self.done = True

    # --- client input -----------------------------------------------------------

    def _client_bytes(self, data):
        if self.transport == "raw":
            return self._spdy_bytes(data)
        for op, payload in self.wsr.feed(data):
            if op == ws.OP_CLOSE:
                self.out += ws.frame(ws.OP_CLOSE, payload[:2])
                self.done = True
                return
            if op == ws.OP_PING:
                self.out += ws.frame(ws.OP_PONG, payload)
            elif op == ws.OP_PONG:
                continue
            elif self.mode == "spdy":
                self._spdy_bytes(payload)
            else:
                self._channel_message(op, payload)

    def _channel_message(self, op, payload):
        if not payload:
            return
        if self.mode == "chan64":
            ch = payload[0] - ord("0")
            try:
                data = base64.b64decode(payload[1:], validate=True)
            except ValueError:
                raise ws.ProtocolError(1007, "bad base64")
        else:
            ch, data = payload[0], payload[1:]
        for pod in list(self.pods):
            if pod.data_id == ch:
                pod.pending += data
                return

    def _spdy_bytes(self, data):
        for f in self.session.feed(data):
            if f.type == spdy.SYN_STREAM:
                self._syn_stream(f)
            elif f.type == 0:
                pod = self.by_stream.get(f.stream_id)
                if pod is not None and f.stream_id == pod.data_id and not pod.closed:
                    pod.pending += f.data
                    if f.fin:
                        pod.shut_after_flush = True
            elif f.type == spdy.RST_STREAM:
                pod = self.by_stream.pop(f.stream_id, None)
                if pod is not None:
                    self._close_pod(pod)
            elif f.type == spdy.PING:
                self._emit(self.session.ping(f.value))
            elif f.type == spdy.GOAWAY:
                self.done = True

    def _syn_stream(self, f):
        hdrs = {k: v[0] for k, v in f.headers.items()}
        self._emit(self.session.syn_reply(f.stream_id))
        stype, rid, port = hdrs.get("streamtype"), hdrs.get("requestid", ""), hdrs.get("port", "")
        if stype not in ("error", "data"):
            self._emit(self.session.rst(f.stream_id, spdy.RST_PROTOCOL_ERROR))
            return
        pair = self.pairs.setdefault(rid, {})
        pair[stype] = f.stream_id
        pair["port"] = port
        if "data" in pair and "error" in pair:
            del self.pairs[rid]
            try:
                n = int(port)
                if not 0 < n < 65536:
                    raise ValueError
            except ValueError:
                self._emit(spdy.Session.data(pair["error"], f'invalid port "{port}"'.encode(), True))
                self._emit(spdy.Session.data(pair["data"], b"", True))
                return
            pod = self._connect(n, pair["data"], pair["error"])
            self.by_stream[pair["data"]] = pod
            self.by_stream[pair["error"]] = pod

    # --- loop -------------------------------------------------------------------

    def _send_out(self):
        try:
            n = self.sock.send(self.out[:READ_SIZE])
            del self.out[:n]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            pass

    def _flush_blocking(self, timeout=5.0):
        """Gets everything still queued (data the pod sent before closing,
        then the close and error frames) out to a client that may be reading
        slowly, as a real server does; gives up only after `timeout` seconds
        without any progress."""
        idle_since = time.monotonic()
        while self.out and time.monotonic() - idle_since < timeout:
            _, w, _ = select.select([], [self.sock], [], 0.05)
            if not w:
                continue
            before = len(self.out)
            try:
                self._send_out()
            except OSError:
                return
            if len(self.out) < before:
                idle_since = time.monotonic()

    def run(self):
        try:
            if self.mode != "spdy":
                for i, port in enumerate(self.ports):
                    pb = port.to_bytes(2, "little")
                    self._channel(2 * i, pb)
                    self._channel(2 * i + 1, pb)
                    self._connect(port, 2 * i, 2 * i + 1)
                if not self.pods:
                    self._emit_close()
            if self.pre:
                self._client_bytes(self.pre)
            while not self.done:
                self._step()
            self._flush_blocking()
        except (ws.ProtocolError, spdy.ProtocolError) as e:
            if self.transport == "ws":
                self.out += ws.close_frame(getattr(e, "code", 1002), str(e))
                self._flush_blocking()
        except OSError:
            pass
        finally:
            for pod in list(self.pods):
                self._close_pod(pod)
            try:
                self.sock.setblocking(True)
                self.sock.settimeout(1.0)
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _step(self):
        busy = any(len(p.pending) > MAX_PENDING for p in self.pods)
        rl = [] if busy else [self.sock]
        wl = [self.sock] if self.out else []
        if len(self.out) < MAX_PENDING:
            rl += [p.sock for p in self.pods if p.read_open]
        wl += [p.sock for p in self.pods if p.pending or p.shut_after_flush]
        timeout = 0 if (not busy and self.sock.pending()) else 1.0
        r, w, _ = select.select(rl, wl, [], timeout)
        if not busy and self.sock.pending() and self.sock not in r:
            r.append(self.sock)
        if self.sock in w:
            self._send_out()
        if self.sock in r:
            try:
                data = self.sock.recv(READ_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                data = None
            if data == b"":
                self.done = True
                return
            if data:
                self._client_bytes(data)
        for pod in list(self.pods):
            if pod.sock in w and pod.pending:
                try:
                    n = pod.sock.send(pod.pending)
                    del pod.pending[:n]
                except BlockingIOError:
                    pass
                except OSError as e:
                    self._error(pod, f"error writing to pod port {pod.port}: {e.strerror or e}")
                    self._to_client(pod, b"", fin=True)
                    self._close_pod(pod)
                    continue
            if pod.shut_after_flush and not pod.pending:
                pod.shut_after_flush = False
                try:
                    pod.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                if not pod.read_open:
                    self._close_pod(pod)
                    continue
            if pod.sock in r and pod.read_open:
                try:
                    data = pod.sock.recv(READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self._to_client(pod, data)
                else:
                    pod.read_open = False
                    if self.mode == "spdy":
                        self._to_client(pod, b"", fin=True)
                        self._emit(spdy.Session.data(pod.error_id, b"", True))
                    self._close_pod(pod)
