#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""net_responder: the servers the network gadget tests talk to, run inside
the test network's namespace (ip netns exec ... net_responder.py ADDR).

UDP port 53, a tiny DNS server (RFC 1035):
  - names starting with "nx-" get NXDOMAIN;
  - AAAA questions get fd00::5:1, everything else 10.213.0.250 (one answer,
    the name as a compression pointer to the question);
  - a query that is not one is ignored.
TCP port 443, a sink that reads whatever a TLS client sends (its ClientHello)
and closes: the tests only look at the ClientHello.
TCP port 7000, the same sink, for plain connections.

It prints "ready" once every socket is bound.
"""

import socket
import struct
import sys
import threading

A_ADDR = "10.213.0.250"
AAAA_ADDR = "fd00::5:1"


def question_end(q):
    p = 12
    while p < len(q) and q[p] != 0:
        if q[p] & 0xC0:
            return -1
        p += q[p] + 1
    return p + 5 if p + 5 <= len(q) else -1


def qname(q):
    labels, p = [], 12
    while p < len(q) and q[p] != 0:
        labels.append(q[p + 1:p + 1 + q[p]].decode(errors="replace"))
        p += q[p] + 1
    return ".".join(labels)


def answer(q):
    if len(q) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    end = question_end(q)
    if flags & 0x8000 or qd != 1 or end < 0:
        return None
    qtype = struct.unpack(">H", q[end - 4:end - 2])[0]
    question = q[12:end]
    if qname(q).startswith("nx-"):
        return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    if qtype == 28:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 60, 16) + \
            socket.inet_pton(socket.AF_INET6, AAAA_ADDR)
    else:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(A_ADDR)
    return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr


def dns(sock):
    while True:
        q, peer = sock.recvfrom(4096)
        r = answer(q)
        if r:
            sock.sendto(r, peer)


def sink(sock):
    while True:
        c, _ = sock.accept()
        c.settimeout(2)
        try:
            c.recv(65536)
        except OSError:
            pass
        c.close()


def main():
    addr = sys.argv[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, 53))
    threads = [threading.Thread(target=dns, args=(u,), daemon=True)]
    for port in (443, 7000):
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, port))
        t.listen(64)
        threads.append(threading.Thread(target=sink, args=(t,), daemon=True))
    for t in threads:
        t.start()
    print("ready", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
