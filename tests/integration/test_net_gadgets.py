# SPDX-License-Identifier: Apache-2.0
"""Network gadgets against pods in network namespaces of their own.

Pods run in a private containerd whose CNI configuration (testnet.py) joins
each pod's own network namespace to a test network: a namespace this module
creates, holding a bridge, a DNS server and TLS/TCP sinks
(tests/helpers/net_responder.py).  Processes inside the pods (busybox
nslookup, nc) make the traffic; ig's socket filters follow the pods'
namespaces, and the socket enricher names the process behind each packet.
"""

import json
import os
import socket
import struct
import subprocess
import threading
import time
import uuid

import pytest

from conftest import get
from containerd import Containerd
from testnet import PodNetwork

SERVER = PodNetwork.GATEWAY


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rt_args(c):
    return ["--runtimes", "containerd", "--containerd-socketpath", c.socket]


def client_hello(sni):
    """A TLS 1.2 ClientHello (RFC 5246 7.4.1.2) with one server_name extension."""
    name = sni.encode()
    sni_ext = struct.pack(">HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    exts = sni_ext + struct.pack(">HH", 0x000d, 4) + struct.pack(">HH", 2, 0x0401)
    body = (b"\x03\x03" + bytes(32) + b"\x00" + struct.pack(">H", 2) + b"\x13\x01" +
            b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def octal(data):
    return "".join(f"\\{b:03o}" for b in data)


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.path.exists("/usr/lib/cni/loopback"):
        pytest.skip("containernetworking-plugins missing (scripts/deps.sh)")
    tn = PodNetwork()
    c = None
    try:
        tn.start()
        c = Containerd(cni=tn.cni_config())
        c.start()
        c.import_image()
        yield tn, c
    finally:
        if c:
            c.cleanup()
        tn.cleanup()


class NetPod:
    """A pod with its own network namespace and one container running cmd."""

    def __init__(self, c, ns, container, cmd):
        self.name, self.ns, self.container = uid("pod"), ns, container
        self.id = c.run_pod(self.name, ns, pod_network=True)
        self.cid = c.run_container(container, self.id, ["/bin/sh", "-c", cmd])
        self.pid = c.pid(self.cid)
        self.netns = os.stat(f"/proc/{self.pid}/ns/net").st_ino


@pytest.fixture(scope="module")
def dns_pods(net):
    """Two pods in two namespaces, each asking for its own names in a loop:
    an A and AAAA lookup (busybox nslookup asks both) and an NXDOMAIN one."""
    tn, c = net
    pods = []
    for tag in ("a", "b"):
        name = uid("q" + tag) + ".example.test"
        nx = "nx-" + uid(tag) + ".example.test"
        loop = (f"while true; do nslookup {name} {SERVER}; nslookup {nx} {SERVER}; "
                f"sleep 0.3; done")
        p = NetPod(c, uid("ns" + tag), uid("client" + tag), loop)
        p.qname, p.nxname = name, nx
        pods.append(p)
    yield pods
    for p in pods:
        c.remove_container(p.cid)
        c.remove_pod(p.id)


def socket_inodes(path, col):
    try:
        with open(path) as f:
            return {line.split()[col] for line in f.readlines()[1:] if len(line.split()) > col}
    except OSError:
        return set()


def packet_sockets(pid):
    """The packet sockets ig holds: one per network namespace a socket
    filter gadget covers.  Those in ig's own namespace are in its
    /proc/net/packet; those in other namespaces are in none of its tables,
    unlike every other socket it has (TCP, UDP, unix, netlink)."""
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            held.add(link[8:-1])
    net = f"/proc/{pid}/net/"
    own_packet = socket_inodes(net + "packet", 8)
    known = own_packet | socket_inodes(net + "unix", 6) | socket_inodes(net + "netlink", 9)
    for t in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        known |= socket_inodes(net + t, 9)
    return len([i for i in held if i in own_packet or i not in known])


def named(name):
    return lambda recs: [r for r in recs if r.get("name") == name + "."]


def test_pod_has_its_own_network(net, dns_pods):
    a, b = dns_pods
    host = os.stat("/proc/self/ns/net").st_ino
    assert a.netns != host and b.netns != host and a.netns != b.netns


def test_trace_dns_names_pod_process_and_answer(net, dns_pods, ig_run):
    tn, c = net
    a, b = dns_pods
    run = ig_run("trace_dns", "-o", "json", *rt_args(c))
    recs = run.wait_for(lambda rs: [r for r in named(a.qname)(rs)
                                     if r.get("qr") == "R" and r.get("pkt_type") == "HOST"])
    assert recs, "\n".join(run.err_lines)
    resp = recs[0]
    assert get(resp, "k8s.namespace") == a.ns
    assert get(resp, "k8s.podName") == a.name
    assert get(resp, "k8s.containerName") == a.container
    assert get(resp, "proc.comm") == "nslookup"
    assert get(resp, "proc.pid") > 0
    assert get(resp, "proc.parent.pid") == a.pid  # the container's sh runs nslookup
    assert resp["rcode"] == "Success"
    assert resp["netns_id"] == a.netns
    assert get(resp, "src.addr") == SERVER and get(resp, "src.port") == 53
    assert get(resp, "nameserver.addr") == SERVER
    assert resp["latency_ns_raw"] > 0
    addrs = {r["qtype"]: r["addresses"] for r in named(a.qname)(run.json_records())
             if r.get("qr") == "R"}
    run.wait_for(lambda rs: {r["qtype"] for r in named(a.qname)(rs) if r["qr"] == "R"} >=
                 {"A", "AAAA"})
    addrs = {r["qtype"]: r["addresses"] for r in named(a.qname)(run.json_records())
             if r.get("qr") == "R"}
    assert addrs["A"] == "10.213.0.250"
    assert addrs["AAAA"] == "fd00::5:1"
    queries = [r for r in named(a.qname)(run.json_records()) if r["qr"] == "Q"]
    assert queries and get(queries[0], "dst.addr") == SERVER
    assert get(queries[0], "proc.comm") == "nslookup"
    assert queries[0]["rcode"] is None
    nx = run.wait_for(lambda rs: [r for r in named(a.nxname)(rs) if r["qr"] == "R"])
    assert nx[0]["rcode"] == "NameError" and nx[0]["addresses"] == ""
    assert get(nx[0], "k8s.podName") == a.name
    # both pods are covered without a selector
    assert run.wait_for(named(b.qname))


@pytest.mark.parametrize("how", ["namespace", "container"])
def test_trace_dns_selects_one_pod(net, dns_pods, ig_run, how):
    tn, c = net
    a, b = dns_pods
    sel = ["--k8s-namespace", a.ns] if how == "namespace" else ["-c", a.container]
    run = ig_run("trace_dns", "-o", "json", *sel, *rt_args(c))
    assert run.wait_for(lambda rs: [r for r in named(a.qname)(rs) if r["qr"] == "R"])
    time.sleep(1.5)  # b's loop runs all along
    recs = run.json_records()
    assert not named(b.qname)(recs) and not named(b.nxname)(recs)
    assert all(get(r, "k8s.podName") == a.name for r in recs), recs[:3]


def test_trace_dns_new_container_covered_within_100ms(net, ig_run):
    """A pod started after the run began: a query its container makes 100 ms
    after it starts is seen, in the pod's own namespace."""
    tn, c = net
    run = ig_run("trace_dns", "-o", "json", *rt_args(c))
    time.sleep(1.0)  # ig attached
    name = uid("late") + ".example.test"
    before = packet_sockets(run.proc.pid)
    p = NetPod(c, uid("nsnew"), uid("late"),
               f"sleep 0.1; nslookup {name} {SERVER}; sleep 100000")
    try:
        recs = run.wait_for(lambda rs: [r for r in rs if r["qr"] == "Q"
                                        and r.get("name") == name + "."])
        assert recs, "\n".join(run.err_lines)
        assert get(recs[0], "k8s.podName") == p.name
        assert get(recs[0], "proc.comm") == "nslookup"
        assert recs[0]["netns_id"] == p.netns
        assert packet_sockets(run.proc.pid) == before + 1  # one in the pod's namespace
    finally:
        c.remove_container(p.cid)
        c.remove_pod(p.id)
    # the pod's namespace is left when its container goes
    deadline = time.monotonic() + 10
    while packet_sockets(run.proc.pid) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert packet_sockets(run.proc.pid) == before


def test_trace_sni_from_pod(net, ig_run):
    tn, c = net
    sni = uid("sni") + ".example.test"
    loop = (f"while true; do printf '{octal(client_hello(sni))}' | nc {SERVER} 443; "
            f"sleep 0.3; done")
    p = NetPod(c, uid("nstls"), uid("tls"), loop)
    try:
        run = ig_run("trace_sni", "-o", "json", "--k8s-namespace", p.ns, *rt_args(c))
        recs = run.wait_for(lambda rs: [r for r in rs if r.get("name") == sni])
        assert recs, "\n".join(run.err_lines)
        r = recs[0]
        assert get(r, "k8s.podName") == p.name
        assert get(r, "k8s.containerName") == p.container
        assert get(r, "proc.comm") == "nc"
        assert get(r, "dst.addr") == SERVER and get(r, "dst.port") == 443
    finally:
        c.remove_container(p.cid)
        c.remove_pod(p.id)


def test_snapshot_socket_lists_pod_listener(net):
    from conftest import ig
    tn, c = net
    port = 8123
    p = NetPod(c, uid("nslisten"), uid("server"), f"nc -l -p {port}")
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = ig("run", "snapshot_socket", "-o", "json", "--k8s-namespace", p.ns, *rt_args(c))
            assert r.returncode == 0, r.stderr
            rows = json.loads(r.stdout) if r.stdout.strip().startswith("[") else \
                [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
            if rows and isinstance(rows[0], list):
                rows = rows[0]
            mine = [x for x in rows if get(x, "src.port") == port]
            if mine:
                break
            time.sleep(0.3)
        assert mine, r.stdout
        s = mine[0]
        assert s["state"] == "LISTEN"
        assert get(s, "k8s.podName") == p.name
        assert get(s, "k8s.namespace") == p.ns
        assert get(s, "proc.comm") == "nc"
        assert s["netns_id"] == p.netns
        # only the pod's namespace: no socket of the host's
        assert all(x["netns_id"] == p.netns for x in rows)
    finally:
        c.remove_container(p.cid)
        c.remove_pod(p.id)


def dns_packet(qid, qname_wire, qd=1, an=0, flags=0x0100, tail=b"\x00\x01\x00\x01"):
    return struct.pack(">HHHHHH", qid, flags, qd, an, 0, 0) + qname_wire + tail


def labels(*parts):
    return b"".join(bytes([len(p)]) + p for p in parts) + b"\x00"


def test_trace_dns_bad_packets(ig_run):
    """Malformed DNS on the host's loopback: the records are marked
    malformed (or skipped when not even the header is there), the decoder
    stops at once, and ig keeps running."""
    run = ig_run("trace_dns", "-o", "json")
    time.sleep(1.0)
    cases = {
        0x7101: dns_packet(0x7101, b"\x07exa"),                      # name cut short
        0x7102: dns_packet(0x7102, b"\xc0\x0c"),                     # pointer to itself
        0x7103: dns_packet(0x7103, labels(*[b"x" * 63] * 5)),        # 321-byte name
        0x7104: dns_packet(0x7104, labels(*[b"a"] * 128)),           # 128 labels
        0x7105: dns_packet(0x7105, labels(b"ok"), an=0xffff, flags=0x8180),  # no answers
        0x7106: dns_packet(0x7106, labels(*[b"a"] * 127)),           # 127 labels: valid
    }
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x71\x00\x01", ("127.0.0.1", 53))  # not even a header

    def send():
        for pkt in cases.values():
            s.sendto(pkt, ("127.0.0.1", 53))

    want = {f"{i:04x}" for i in cases}
    recs = run.wait_for(lambda rs: want <= {r.get("id") for r in rs}, trigger=send, every=1.0)
    assert recs
    by_id = {}
    for r in run.json_records():
        by_id.setdefault(r.get("id"), r)
    for i in (0x7101, 0x7102, 0x7103, 0x7104, 0x7105):
        assert by_id[f"{i:04x}"]["malformed"] is True, by_id[f"{i:04x}"]
    assert by_id["7101"]["name"] is None
    assert by_id["7105"]["name"] == "ok." and by_id["7105"]["num_answers"] == 0
    good = by_id["7106"]
    assert good["malformed"] is False and good["name"] == "a." * 127
    assert "7100" not in by_id and None not in by_id
    assert run.proc.poll() is None, "\n".join(run.err_lines)


def test_trace_sni_bad_client_hellos(ig_run):
    """Broken ClientHellos (lengths past the end, a name longer than the
    packet, endless extensions) give no record and no failure; a good one
    afterwards is still seen."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]

    def sink():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(1)
            try:
                c.recv(65536)
            except OSError:
                pass
            c.close()

    threading.Thread(target=sink, daemon=True).start()
    good_name = uid("good") + ".example.test"
    good = client_hello(good_name)
    bad = [
        good[:20],                                           # cut in the random
        good[:-5],                                           # name cut short
        good[:43] + b"\xff" + good[44:],                     # session id past the end
        good[:-len(good_name) - 2] + b"\xff\xff" + good_name.encode(),  # name length 65535
        b"\x16\x03\x01\x00\x40\x01" + bytes(58) + b"\x00\x00\xff\xff" + bytes(4) * 40,
    ]
    run = ig_run("trace_sni", "-o", "json")
    time.sleep(1.0)

    def send():
        for payload in bad + [good]:
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(payload)

    recs = run.wait_for(lambda rs: [r for r in rs if r.get("name") == good_name], trigger=send,
                        every=1.0)
    assert recs
    names = {r.get("name") for r in run.json_records()}
    assert all(n == good_name or not n or "example.test" not in n for n in names), names
    assert run.proc.poll() is None
    srv.close()
