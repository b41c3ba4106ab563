# SPDX-License-Identifier: Apache-2.0
"""ig list-containers against a real containerd running real pods.

Pods and containers are made through CRI (build/tests/cri_pod) in a private
containerd (tests/integration/containerd.py); what ig prints is checked
against the kernel's own view in /proc, not against what the runtime says.
"""

import json
import os
import subprocess
import threading
import time
import uuid

import pytest

from conftest import IG, ig
from containerd import containerd  # noqa: F401  (module-scoped fixture)


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rt_args(c):
    return ["--runtimes", "containerd", "--containerd-socketpath", c.socket]


def list_json(c, *extra):
    r = ig("list-containers", "-o", "json", *rt_args(c), *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def by_id(recs, cid):
    return [r for r in recs if r["runtime"]["containerId"] == cid]


class Watch:
    """ig list-containers --watch -o json in the background; each line is
    stamped with the monotonic time it arrived."""

    def __init__(self, c):
        self.proc = subprocess.Popen([IG, "list-containers", "--watch", "-o", "json"]
                                     + rt_args(c), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.events = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for line in self.proc.stdout:
            if line.strip():
                with self.lock:
                    self.events.append((time.monotonic(), json.loads(line)))

    def wait(self, event, cid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, e in self.events:
                    if e["event"] == event and e["runtime"]["containerId"] == cid:
                        return t, e
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {event} for {cid}; got {self.snapshot()}\nstderr: "
                             + (self.proc.stderr.read() if self.proc.poll() is not None else ""))

    def snapshot(self):
        with self.lock:
            return [(e["event"], e["runtime"]["containerId"][:12]) for _, e in self.events]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.t.join(5)
        return self.proc.returncode


def ns_inode(pid, ns):
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


def test_list_names_pod_namespace_container_and_pid(containerd):
    c = containerd
    pod_name, ns = uid("cart"), uid("shop")
    pod = c.run_pod(pod_name, ns, labels={"app": "cart"})
    arg = str(100000 + uuid.uuid4().int % 100000)
    cid = c.run_container("web", pod, ["/bin/sleep", arg])

    recs = by_id(list_json(c), cid)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["k8s"]["namespace"] == ns
    assert rec["k8s"]["podName"] == pod_name
    assert rec["k8s"]["containerName"] == "web"
    assert rec["k8s"]["podLabels"] == {"app": "cart"}
    assert rec["k8s"]["hostNetwork"] is True
    assert rec["runtime"]["containerName"] == "web"
    assert rec["runtime"]["runtimeName"] == "containerd"
    assert rec["runtime"]["containerImageName"] == "localhost/ig-test:latest"
    assert rec["runtime"]["containerImageDigest"].startswith("sha256:")

    # the PID is the container's process, as the kernel sees it
    pid = rec["runtime"]["containerPid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"/bin/sleep", arg.encode()]
    assert rec["mntns"] == ns_inode(pid, "mnt")
    assert rec["mntns"] != ns_inode("self", "mnt")
    # host network pod: the node's network namespace
    assert rec["netns"] == ns_inode(pid, "net") == ns_inode("self", "net")

    # the sandbox is not a container
    assert not by_id(list_json(c), pod)

    r = ig("list-containers", *rt_args(c))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header == ["RUNTIME.CONTAINERNAME", "K8S.NAMESPACE", "K8S.PODNAME", "K8S.CONTAINERNAME",
                      "RUNTIME.CONTAINERID", "PID", "MNTNS", "NETNS", "IMAGE"]
    rows = [line.split() for line in r.stdout.splitlines()[1:] if cid[:12] in line]
    assert rows == [["web", ns, pod_name, "web", cid[:12], str(pid), str(rec["mntns"]),
                     str(rec["netns"]), "localhost/ig-test:latest"]]

    c.remove_container(cid)
    assert not by_id(list_json(c), cid)
    c.remove_pod(pod)


def test_json_field_names(containerd):
    c = containerd
    pod = c.run_pod(uid("fields"), "default")
    cid = c.run_container("app", pod, ["/bin/sleep", "1000"])
    rec = by_id(list_json(c), cid)[0]
    for key in ("namespace", "podName", "containerName", "podLabels"):
        assert key in rec["k8s"], key
    for key in ("containerId", "containerName", "containerPid", "containerImageName",
                "runtimeName"):
        assert key in rec["runtime"], key
    for key in ("mntns", "netns", "cgroupId"):
        assert isinstance(rec[key], int), key
    c.remove_container(cid)
    c.remove_pod(pod)


def test_lookup_by_mount_namespace(containerd):
    """The collection's mntns lookup (what enrichment uses) finds the
    container whose process lives in that namespace, and nothing for the
    host's own."""
    c = containerd
    pod_name = uid("lookup")
    pod = c.run_pod(pod_name, "lookup")
    cid = c.run_container("app", pod, ["/bin/sleep", "1000"])
    other = c.run_container("other", pod, ["/bin/sleep", "1001"])
    mntns = ns_inode(c.pid(cid), "mnt")

    r = c.cri("find-mntns", str(mntns))
    found_id, found_pod, replayed, count = r.stdout.split()
    assert (found_id, found_pod) == (cid, pod_name)
    # subscribing replays every current container as ADDED
    assert int(replayed) == int(count) >= 2

    r = c.cri("find-mntns", str(ns_inode("self", "mnt")), check=False)
    assert r.returncode == 1 and "find-mntns" in r.stderr

    for x in (cid, other):
        c.remove_container(x)
    c.remove_pod(pod)


def test_containername_picks_one_pod(containerd):
    c = containerd
    a_name, b_name = uid("alpha"), uid("beta")
    pod_a = c.run_pod(uid("pod-a"), "team-a")
    pod_b = c.run_pod(uid("pod-b"), "team-b")
    cid_a = c.run_container(a_name, pod_a, ["/bin/sleep", "1000"])
    cid_b = c.run_container(b_name, pod_b, ["/bin/sleep", "1000"])

    recs = list_json(c, "-c", a_name)
    assert [r["runtime"]["containerId"] for r in recs] == [cid_a]
    assert recs[0]["k8s"]["namespace"] == "team-a"
    recs = list_json(c, "--containername", b_name)
    assert [r["runtime"]["containerId"] for r in recs] == [cid_b]
    assert list_json(c, "-c", "no-such-container") == []

    for cid in (cid_a, cid_b):
        c.remove_container(cid)
    for pod in (pod_a, pod_b):
        c.remove_pod(pod)


def test_watch_shows_added_and_removed(containerd):
    c = containerd
    pod = c.run_pod(uid("watched"), "watch")
    w = Watch(c)
    try:
        time.sleep(0.5)
        cid = c.create("late", pod, ["/bin/sleep", "1000"])
        t0 = time.monotonic()
        c.start_container(cid)
        t_added, ev = w.wait("ADDED", cid)
        assert ev["k8s"]["containerName"] == "late"
        assert ev["k8s"]["podName"].startswith("watched-")
        # the task-directory signal, not the 1 s poll, finds it
        assert t_added - t0 < 0.8, f"ADDED {t_added - t0:.3f}s after start"
        c.remove_container(cid)
        w.wait("REMOVED", cid)
    finally:
        assert w.stop() == 0
    c.remove_pod(pod)


def test_watch_recovers_after_containerd_restart(containerd):
    c = containerd
    pod = c.run_pod(uid("restart"), "restart")
    old = c.run_container("before", pod, ["/bin/sleep", "1000"])
    w = Watch(c)
    try:
        w.wait("ADDED", old)
        c.restart()
        cid = c.run_container("after", pod, ["/bin/sleep", "1000"])
        w.wait("ADDED", cid, timeout=15)
        # containers kept running through the restart: never reported gone
        assert ("REMOVED", old[:12]) not in w.snapshot()
        c.remove_container(cid)
        w.wait("REMOVED", cid)
    finally:
        assert w.stop() == 0
    c.remove_container(old)
    c.remove_pod(pod)


def test_missing_or_wrong_socket(tmp_path):
    missing = str(tmp_path / "nothing.sock")
    r = ig("list-containers", "--runtimes", "containerd", "--containerd-socketpath", missing)
    assert r.returncode == 1
    assert missing in r.stderr and "No such file or directory" in r.stderr
    assert r.stdout == ""

    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("x")
    r = ig("list-containers", "--runtimes", "containerd", "--containerd-socketpath",
           str(not_a_socket))
    assert r.returncode == 1
    assert str(not_a_socket) in r.stderr and "non-socket" in r.stderr

    crio = str(tmp_path / "crio.sock")
    r = ig("list-containers", "--containerd-socketpath", missing, "--crio-socketpath", crio)
    assert r.returncode == 1
    assert missing in r.stderr and crio in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_flags():
    r = ig("list-containers", "--runtimes", "docker")
    assert r.returncode == 2 and "docker" in r.stderr
    r = ig("list-containers", "-o", "yaml")
    assert r.returncode == 2 and "yaml" in r.stderr
    r = ig("list-containers", "--containerd-socketpath")
    assert r.returncode == 2 and "needs a value" in r.stderr
    r = ig("list-containers", "--frobnicate")
    assert r.returncode == 2


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(flag):
    r = ig("list-containers", flag)
    assert r.returncode == 0
    assert "--containerd-socketpath" in r.stdout and "--watch" in r.stdout
