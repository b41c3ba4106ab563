# SPDX-License-Identifier: Apache-2.0
"""A test network for pods with network namespaces of their own.

The network is a namespace the test creates (never the host's) holding a
bridge with the gateway address and the servers of tests/helpers/
net_responder.py (DNS on 53, TLS and plain TCP sinks on 443 and 7000).
containerd, given cni_config(), wires each pod that asks for its own network
namespace through tests/helpers/cni_veth.py: a veth pair from the pod to the
bridge.  So pod traffic crosses only the pod's namespace and this one.
"""

import json
import os
import shutil
import subprocess
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPERS = os.path.join(REPO, "tests", "helpers")
LOOPBACK = "/usr/lib/cni/loopback"  # Debian's containernetworking-plugins


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip " + " ".join(args) + ": " + r.stderr.strip())
    return r


class PodNetwork:
    SUBNET = "10.213.0"
    GATEWAY = "10.213.0.1"
    BRIDGE = "igbr0"

    def __init__(self):
        self.ns = f"igtn{os.getpid()}"
        self.dir = tempfile.mkdtemp(prefix="igtn-")
        self.bin_dir = os.path.join(self.dir, "bin")
        self.conf_dir = os.path.join(self.dir, "conf")
        self.responder = None

    def start(self):
        ip("netns", "add", self.ns)
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "link", "add", self.BRIDGE, "type", "bridge")
        ip("-n", self.ns, "addr", "add", self.GATEWAY + "/24", "dev", self.BRIDGE)
        ip("-n", self.ns, "link", "set", self.BRIDGE, "up")
        os.makedirs(self.bin_dir)
        os.makedirs(self.conf_dir)
        os.symlink(LOOPBACK, os.path.join(self.bin_dir, "loopback"))
        os.symlink(os.path.join(HELPERS, "cni_veth.py"), os.path.join(self.bin_dir, "cni_veth"))
        with open(os.path.join(self.conf_dir, "10-igtest.conf"), "w") as f:
            json.dump({"cniVersion": "0.4.0", "name": "igtest", "type": "cni_veth",
                       "netns": self.ns, "bridge": self.BRIDGE, "subnet": self.SUBNET,
                       "gateway": self.GATEWAY, "dataDir": os.path.join(self.dir, "ipam")}, f)
        self.responder = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/bin/python3",
             os.path.join(HELPERS, "net_responder.py"), self.GATEWAY],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.responder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("net_responder: " + line + self.responder.stderr.read())

    def cni_config(self):
        return {"bin_dir": self.bin_dir, "conf_dir": self.conf_dir}

    def run(self, *cmd, timeout=30):
        """Runs a command inside the test network's namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(cmd),
                              capture_output=True, text=True, timeout=timeout)

    def cleanup(self):
        if self.responder and self.responder.poll() is None:
            self.responder.kill()
            self.responder.wait()
        ip("netns", "del", self.ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
