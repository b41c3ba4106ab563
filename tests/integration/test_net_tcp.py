# SPDX-License-Identifier: Apache-2.0
"""TCP gadgets (top_tcp, trace_tcpdrop, trace_tcpretrans) and Inspektor
Gadget's own network gadget sources.

The traffic is the test's own: Python sockets on the host's loopback, or in
a pair of network namespaces this module creates and joins with a veth pair
(retransmissions need a link that stops answering: the peer's end is taken
down mid-transfer).
"""

import os
import socket
import struct
import subprocess
import threading
import time
import uuid

import pytest

from apiserver import make_apiserver  # noqa: F401  (fixture)
from conftest import get, ig

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IG_MIRROR = os.environ.get("IG_MIRROR",
                           "/work/.mirror/inspektor-gadget+inspektor-gadget/repo")
MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                           text=True).stdout.strip()


def listener(addr="127.0.0.1"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 0))
    s.listen(16)
    return s


def test_top_tcp_counts_bytes_per_connection(ig_run):
    srv = listener()
    port = srv.getsockname()[1]
    got = []

    def drain():
        c, _ = srv.accept()
        while True:
            d = c.recv(65536)
            if not d:
                break
            got.append(len(d))
        c.close()

    run = ig_run("top_tcp", "-o", "json", "--map-fetch-interval", "500ms")
    time.sleep(1.0)
    t = threading.Thread(target=drain)
    t.start()
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"x" * 300000)
    t.join(10)
    assert sum(got) == 300000

    def totals(recs):
        sent = sum(r["sent_raw"] for r in recs if get(r, "dst.port") == port)
        recv = sum(r["received_raw"] for r in recs if get(r, "src.port") == port)
        return (sent, recv) if sent == 300000 and recv == 300000 else None

    assert run.wait_for(totals)
    mine = [r for r in run.json_records() if get(r, "dst.port") == port]
    assert all(r["pid"] == os.getpid() for r in mine), mine


def test_trace_tcpdrop_names_socket_owner(ig_run):
    """Data arriving at a server socket that shut down both ways (FIN_WAIT,
    reading shut) is dropped and the connection reset (RFC 1122 4.2.2.13);
    the drop carries its reason and the owner of the socket."""
    srv = listener()
    port = srv.getsockname()[1]
    keep = []
    run = ig_run("trace_tcpdrop", "-o", "json")
    time.sleep(1.0)

    def provoke():
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        a.shutdown(socket.SHUT_RDWR)
        time.sleep(0.05)
        try:
            c.send(b"late" * 100)
        except OSError:
            pass
        keep.append((a, c))

    recs = run.wait_for(lambda rs: [r for r in rs if get(r, "src.port") == port],
                        trigger=provoke, every=1.0)
    r = recs[0]
    assert r["reason"] == "SKB_DROP_REASON_TCP_ABORT_ON_DATA", r
    assert r["pid"] == os.getpid() and r["comm"], r
    assert "PSH" in r["tcpflags"], r
    for a, c in keep:
        a.close()
        c.close()


@pytest.fixture
def veth_pair():
    """Two namespaces joined by a veth pair: 10.215.0.1 and 10.215.0.2."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"igra{tag}", f"igrb{tag}"
    cmds = [["netns", "add", a], ["netns", "add", b],
            ["link", "add", "v" + tag, "netns", a, "type", "veth", "peer", "name", "w" + tag,
             "netns", b],
            ["-n", a, "addr", "add", "10.215.0.1/24", "dev", "v" + tag],
            ["-n", b, "addr", "add", "10.215.0.2/24", "dev", "w" + tag],
            ["-n", a, "link", "set", "v" + tag, "up"], ["-n", b, "link", "set", "w" + tag, "up"],
            ["-n", a, "link", "set", "lo", "up"], ["-n", b, "link", "set", "lo", "up"]]
    try:
        for c in cmds:
            subprocess.run(["ip"] + c, check=True, capture_output=True)
        yield a, b, "w" + tag
    finally:
        subprocess.run(["ip", "netns", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", b], capture_output=True)


SENDER = r"""
import socket, sys, time
c = socket.create_connection(("10.215.0.2", 7777))
print("connected", flush=True)
sys.stdin.readline()             # the peer's link is down now
try:
    c.send(b"z" * 2000)
except OSError:
    pass
time.sleep(5)
"""


def test_trace_tcpretrans_names_sender(ig_run, veth_pair):
    a, b, peer_dev = veth_pair
    srv = subprocess.Popen(["ip", "netns", "exec", b, "/usr/bin/python3", "-c",
                            "import socket,time\ns=socket.socket()\n"
                            "s.bind(('10.215.0.2',7777))\ns.listen()\nc,_=s.accept()\n"
                            "time.sleep(30)"])
    time.sleep(0.5)
    run = ig_run("trace_tcpretrans", "-o", "json")
    time.sleep(1.0)
    snd = subprocess.Popen(["ip", "netns", "exec", a, "/usr/bin/python3", "-c", SENDER],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert snd.stdout.readline().strip() == "connected"
        subprocess.run(["ip", "-n", b, "link", "set", peer_dev, "down"], check=True)
        snd.stdin.write("go\n")
        snd.stdin.flush()
        recs = run.wait_for(lambda rs: [r for r in rs if get(r, "dst.port") == 7777])
        r = recs[0]
        assert get(r, "proc.pid") == snd.pid or get(r, "proc.comm") == "python3", r
        assert get(r, "src.addr") == "10.215.0.1" and get(r, "dst.addr") == "10.215.0.2"
        assert r["type"] == "RETRANS" and r["state"] == "tcp_established"
        assert "ACK" in r["tcpflags"]
    finally:
        snd.kill()
        srv.kill()
        snd.wait()
        srv.wait()


IG_SOURCES = ["trace_dns", "trace_sni", "snapshot_socket", "trace_tcpdrop", "trace_tcpretrans"]


@pytest.mark.parametrize("name", IG_SOURCES)
def test_inspektor_gadget_sources_run(tmp_path, name):
    """Inspektor Gadget's own eBPF sources, built with our headers, load,
    attach (its trace_tcpretrans's kprobe is left out with a warning) and
    run; read from a local mirror of its repository when there is one."""
    if not os.path.isdir(IG_MIRROR):
        pytest.skip("no Inspektor Gadget mirror at " + IG_MIRROR)
    for f in ("program.bpf.c", "gadget.yaml"):
        r = subprocess.run(["git", "-C", IG_MIRROR, "show", f"HEAD:gadgets/{name}/{f}"],
                           capture_output=True)
        if r.returncode:
            pytest.skip(f"{name}/{f} not in the mirror")
        (tmp_path / f).write_bytes(r.stdout)
    o = tmp_path / "program.bpf.o"
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
                    "-I", os.path.join(REPO, "bpf", "include"),
                    "-I", os.path.join(REPO, "build", "gen"), "-I", "/usr/include/" + MULTIARCH,
                    "-c", str(tmp_path / "program.bpf.c"), "-o", str(o)], check=True)
    r = ig("run", str(tmp_path), "-o", "json", "-t", "2")
    assert r.returncode == 0, r.stderr
    for line in r.stderr.splitlines():
        assert "kprobe" in line and "left out" in line, r.stderr


def test_inspektor_gadget_trace_dns_decoded(tmp_path, ig_run):
    """Inspektor Gadget's trace_dns sends the packet after its record
    (ebpf.rest); ig decodes the DNS message in it as that gadget's WASM
    module would: the name, type and id come out right."""
    if not os.path.isdir(IG_MIRROR):
        pytest.skip("no Inspektor Gadget mirror at " + IG_MIRROR)
    for f in ("program.bpf.c", "gadget.yaml"):
        r = subprocess.run(["git", "-C", IG_MIRROR, "show", f"HEAD:gadgets/trace_dns/{f}"],
                           capture_output=True)
        if r.returncode:
            pytest.skip("trace_dns not in the mirror")
        (tmp_path / f).write_bytes(r.stdout)
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
                    "-I", os.path.join(REPO, "bpf", "include"),
                    "-I", os.path.join(REPO, "build", "gen"), "-I", "/usr/include/" + MULTIARCH,
                    "-c", str(tmp_path / "program.bpf.c"), "-o", str(tmp_path / "program.bpf.o")],
                   check=True)
    run = ig_run(str(tmp_path), "-o", "json")
    name = "ig-" + uuid.uuid4().hex[:8] + ".example.test"
    query = (struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) +
             b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\x1c\0\1")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recs = run.wait_for(lambda rs: [r for r in rs if r.get("name") == name + "."],
                        trigger=lambda: s.sendto(query, ("127.0.0.1", 53)))
    r = recs[0]
    assert r["qtype"] == "AAAA" and r["id"] == "5151" and r["qr"] == "Q", r
    assert get(r, "dst.port") == 53 and get(r, "proc.pid") == os.getpid(), r
    assert "data" not in r  # the packet bytes: hidden unless asked for


def test_trace_dns_names_dns_service(make_apiserver, ig_run):  # noqa: F811
    """With --kubeconfig, a DNS server's address is named after the Service
    behind it, as for every gadget_l4endpoint_t field."""
    api = make_apiserver(nodes=("n1",))
    ns = "dns-" + uuid.uuid4().hex[:8]
    api.kubectl("create", "namespace", ns)
    status, out = api.json("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": ns},
        "spec": {"clusterIP": "127.0.0.2", "ports": [{"port": 53, "protocol": "UDP"}]}})
    assert status == 201, out
    run = ig_run("trace_dns", "-o", "json", "--kubeconfig", api.kubeconfig)
    name = "svc-" + uuid.uuid4().hex[:8] + ".example.test"
    query = (struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) +
             b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recs = run.wait_for(lambda rs: [r for r in rs if r.get("name") == name + "."],
                        trigger=lambda: s.sendto(query, ("127.0.0.2", 53)))
    r = recs[0]
    assert get(r, "dst.k8s") == {"kind": "Service", "name": "kube-dns", "namespace": ns}, r
    assert get(r, "src.k8s") == {"kind": "Node", "name": "n1", "namespace": ""}


def test_agent_runs_network_gadgets(tmp_path):
    """The node agent runs the same runner: snapshot_socket names this
    process's listener, trace_dns sees and decodes a query, both through the
    control API.  The agent runs in a pod's network namespace; init's is
    not readable here, so the namespace it treats as the host's is its own,
    and the traffic is made there."""
    from test_agent import Agent

    a = Agent(tmp_path / "agent").start()
    client = None
    srv = a.net.inside(listener)
    port = srv.getsockname()[1]
    try:
        rc, lines, err = a.client("run", "snapshot_socket")
        assert rc == 0, (lines, err)
        recs = [r for m in lines if m["type"] == "records" for r in m["records"]]
        mine = [r for r in recs if get(r, "src.port") == port]
        assert mine and get(mine[0], "proc.pid") == os.getpid(), recs[:3]
        assert mine[0]["state"] == "LISTEN"

        client = a.client_bg("run", "trace_dns")
        name = "agent-" + uuid.uuid4().hex[:8] + ".example.test"
        query = (struct.pack(">HHHHHH", 0x6161, 0x0100, 1, 0, 0, 0) +
                 b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) +
                 b"\0\0\1\0\1")
        s = a.net.inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        client.wait_for(lambda msgs: [r for m in msgs if m["type"] == "records"
                                      for r in m["records"] if r.get("name") == name + "."],
                        trigger=lambda: s.sendto(query, ("127.0.0.1", 53)))
    finally:
        if client:
            client.proc.kill()
            client.wait()
        srv.close()
        a.stop()
