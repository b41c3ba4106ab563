#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cni_veth: a CNI plugin for the integration tests' pods.

containerd's CRI plugin gives a pod that does not use the node's network a
network namespace of its own and asks CNI to wire it.  This plugin joins it
to a test network: a veth pair whose outer end goes into a network namespace
the test created (holding a bridge and the test's servers), never into the
host's, so pod traffic stays inside namespaces the tests own.

Network config (JSON on stdin, as CNI passes it):
    {"cniVersion": "0.4.0", "name": "igtest", "type": "cni_veth",
     "netns": "<name under /run/netns>", "bridge": "igbr0",
     "subnet": "10.213.0", "gateway": "10.213.0.1", "dataDir": "<dir>"}

ADD prints the CNI result (the pod's address on eth0); DEL removes the
pair; VERSION and CHECK answer as the spec says.  Addresses are handed out
from a counter file in dataDir (.2, .3, ...).
"""

import fcntl
import json
import os
import subprocess
import sys

VERSIONS = ["0.3.0", "0.3.1", "0.4.0"]


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip " + " ".join(args) + ": " + r.stderr.strip())
    return r


def fail(msg, code=100):
    print(json.dumps({"cniVersion": "0.4.0", "code": code, "msg": msg}))
    sys.exit(1)


def next_host(data_dir):
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "last")
    with open(os.path.join(data_dir, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                n = int(f.read().strip() or "1")
        except (OSError, ValueError):
            n = 1
        n = n + 1 if n < 250 else 2
        with open(path, "w") as f:
            f.write(str(n))
    return n


def add(conf, netns_path, ifname, cid):
    n = next_host(conf["dataDir"])
    addr = f"{conf['subnet']}.{n}"
    outer = f"igv{cid[:10]}"
    pod_ns = os.path.basename(netns_path)
    test_ns = conf["netns"]
    # the pair is made in the test's namespace, its inner end moved to the pod
    ip("-n", test_ns, "link", "add", outer, "type", "veth", "peer", "name", "igtmp" + cid[:6])
    ip("-n", test_ns, "link", "set", "igtmp" + cid[:6], "netns", pod_ns)
    ip("-n", test_ns, "link", "set", outer, "master", conf["bridge"], "up")
    ip("-n", pod_ns, "link", "set", "igtmp" + cid[:6], "name", ifname)
    ip("-n", pod_ns, "addr", "add", addr + "/24", "dev", ifname)
    ip("-n", pod_ns, "link", "set", ifname, "up")
    ip("-n", pod_ns, "route", "add", "default", "via", conf["gateway"])
    return {
        "cniVersion": conf.get("cniVersion", "0.4.0"),
        "interfaces": [{"name": ifname, "sandbox": netns_path}],
        "ips": [{"version": "4", "address": addr + "/24", "gateway": conf["gateway"],
                 "interface": 0}],
        "dns": {},
    }


def main():
    cmd = os.environ.get("CNI_COMMAND", "")
    if cmd == "VERSION":
        print(json.dumps({"cniVersion": "0.4.0", "supportedVersions": VERSIONS}))
        return
    conf = json.loads(sys.stdin.read() or "{}")
    netns = os.environ.get("CNI_NETNS", "")
    ifname = os.environ.get("CNI_IFNAME", "eth0")
    cid = os.environ.get("CNI_CONTAINERID", "")
    if cmd == "ADD":
        try:
            print(json.dumps(add(conf, netns, ifname, cid)))
        except (RuntimeError, KeyError) as e:
            fail(str(e))
    elif cmd == "DEL":
        if netns and os.path.exists(netns):
            ip("-n", os.path.basename(netns), "link", "del", ifname, check=False)
        ip("-n", conf.get("netns", ""), "link", "del", f"igv{cid[:10]}", check=False)
    elif cmd == "CHECK":
        return
    else:
        fail("unknown CNI_COMMAND " + cmd, 4)


if __name__ == "__main__":
    main()
