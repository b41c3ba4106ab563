# SPDX-License-Identifier: Apache-2.0
"""ig run with containers: selectors (-c, --k8s-namespace, --k8s-podname,
--k8s-selector, --host), the run's mount namespace filter kept current as
containers start and stop, and k8s.* / runtime.* enrichment.

Pods run in a private containerd (tests/integration/containerd.py) and exec
marker commands in a loop; what ig prints is checked against the markers and
against the kernel's own view (/proc/PID/ns/mnt, the filter map through
bpftool).
"""

import json
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import get, ig
from containerd import Containerd, containerd  # noqa: F401  (module-scoped fixture)

LOOP = "while true; do /bin/true {m}; sleep 0.2; done"


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rt_args(c):
    return ["--runtimes", "containerd", "--containerd-socketpath", c.socket]


def mntns_of(pid):
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino


def with_marker(marker):
    return lambda recs: [r for r in recs if marker in (r.get("args") or "")]


class Pod:
    def __init__(self, c, ns, labels, container):
        self.name, self.ns, self.container = uid("pod"), ns, container
        self.labels = sorted(f"{k}={v}" for k, v in labels.items())
        self.marker = uid("MARK")
        self.id = c.run_pod(self.name, ns, labels=labels)
        self.cid = c.run_container(container, self.id, ["/bin/sh", "-c",
                                                        LOOP.format(m=self.marker)])
        self.mntns = mntns_of(c.pid(self.cid))


@pytest.fixture(scope="module")
def pods(containerd):  # noqa: F811
    """Two pods in two namespaces, each running a marker loop."""
    c = containerd
    a = Pod(c, uid("team-a"), {"app": "a"}, uid("alpha"))
    b = Pod(c, uid("team-b"), {"app": "b", "tier": "x"}, uid("beta"))
    yield a, b
    for p in (a, b):
        c.remove_container(p.cid)
        c.remove_pod(p.id)


def assert_only(run, want, other):
    """Waits for three of want's loop execs, then checks that every record
    came from want's container, named as the runtime knows it."""
    run.wait_for(lambda recs: len(with_marker(want.marker)(recs)) >= 3)
    recs = run.json_records()
    assert recs and not with_marker(other.marker)(recs)
    for r in recs:
        assert get(r, "proc.mntns_id") == want.mntns, r
        assert get(r, "runtime.containerName") == want.container
        assert get(r, "k8s.containerName") == want.container
        assert get(r, "k8s.podName") == want.name
        assert get(r, "k8s.namespace") == want.ns
        assert get(r, "runtime.containerId") == want.cid
        assert get(r, "runtime.runtimeName") == "containerd"
        assert get(r, "runtime.containerImageName") == "localhost/ig-test:latest"


@pytest.mark.parametrize("which,flags", [
    ("a", lambda a, b: ["-c", a.container]),
    ("b", lambda a, b: ["--containername", b.container]),
    ("b", lambda a, b: ["--k8s-namespace", b.ns]),
    ("a", lambda a, b: ["--k8s-podname", a.name]),
    ("a", lambda a, b: ["--k8s-containername", a.container, "--k8s-namespace", a.ns]),
    ("b", lambda a, b: ["--k8s-selector", "tier=x,app=b"]),
], ids=["c", "containername", "k8s-namespace", "k8s-podname", "k8s-containername",
        "k8s-selector"])
def test_selector_restricts_to_matching_container(containerd, pods, ig_run, which,  # noqa: F811
                                                  flags):
    a, b = pods
    want, other = (a, b) if which == "a" else (b, a)
    run = ig_run("trace_exec", "-o", "json", *flags(a, b), *rt_args(containerd))
    assert_only(run, want, other)
    assert sorted(get(run.json_records()[0], "k8s.podLabels").split(",")) == want.labels
    assert run.stop() == 0


def test_selector_matching_nothing_shows_nothing(containerd, pods, ig_run):  # noqa: F811
    run = ig_run("trace_exec", "-o", "json", "--k8s-selector", "app=nobody",
                 *rt_args(containerd))
    time.sleep(1.5)
    assert run.json_records() == []
    assert run.stop() == 0


def test_host_adds_host_processes(containerd, pods, ig_run):  # noqa: F811
    a, b = pods
    marker = uid("HOST")
    run = ig_run("trace_exec", "-o", "json", "-c", a.container, "--host", *rt_args(containerd))
    run.wait_for(with_marker(marker), trigger=lambda: subprocess.run(["/bin/true", marker]))
    run.wait_for(lambda recs: len(with_marker(a.marker)(recs)) >= 2)
    recs = run.json_records()
    assert not with_marker(b.marker)(recs)
    host = with_marker(marker)(recs)[0]
    assert get(host, "k8s.podName") == "" and get(host, "runtime.containerName") == ""
    assert get(with_marker(a.marker)(recs)[0], "k8s.podName") == a.name
    assert run.stop() == 0


def test_no_selector_enriches_containers_and_shows_host(containerd, pods, ig_run):  # noqa: F811
    a, b = pods
    marker = uid("HOST")
    run = ig_run("trace_exec", "-o", "json", *rt_args(containerd))
    host = run.wait_for(with_marker(marker),
                        trigger=lambda: subprocess.run(["/bin/true", marker]))[0]
    for key in ("k8s.namespace", "k8s.podName", "k8s.containerName", "k8s.podLabels",
                "runtime.containerName", "runtime.containerId",
                "runtime.containerImageName", "runtime.runtimeName"):
        assert get(host, key) == "", key
    # a number, so the host has none
    assert "containerPid" in host["runtime"] and host["runtime"]["containerPid"] is None
    assert get(host, "proc.mntns_id") == mntns_of("self")
    for p in (a, b):
        rec = run.wait_for(with_marker(p.marker))[0]
        assert get(rec, "k8s.namespace") == p.ns
        assert get(rec, "k8s.podName") == p.name
        assert get(rec, "runtime.containerName") == p.container
        assert get(rec, "runtime.containerPid") == containerd.pid(p.cid)
    assert run.stop() == 0

    # the table shows the pod columns by default
    r = ig("run", "trace_exec", "-t", "1", *rt_args(containerd))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header[:3] == ["K8S.NAMESPACE", "K8S.PODNAME", "K8S.CONTAINERNAME"]
    rows = [line.split() for line in r.stdout.splitlines() if a.marker in line]
    assert rows and rows[0][:3] == [a.ns, a.name, a.container]


def test_container_started_later_is_seen_from_its_first_exec(containerd, pods,  # noqa: F811
                                                             ig_run):
    c = containerd
    a, _ = pods
    marker = uid("FIRST")
    run = ig_run("trace_exec", "-o", "json", "--k8s-podname", a.name, *rt_args(c))
    # a's loop shows the gadget is attached and filtering
    run.wait_for(with_marker(a.marker))
    cid = c.run_container("late", a.id, ["/bin/sh", "-c", f"/bin/true {marker}; sleep 1000"])
    try:
        recs = run.wait_for(lambda rs: (lambda m: m if len(m) >= 2 else None)(
            with_marker(marker)(rs)))
        # the container's very first program (sh, exec'd by runc init) and its first child
        assert sorted(get(r, "proc.comm") for r in recs) == ["sh", "true"]
        for r in recs:
            assert get(r, "k8s.containerName") == "late"
            assert get(r, "runtime.containerId") == cid
    finally:
        c.remove_container(cid)
    assert run.stop() == 0


def filter_keys(map_id):
    r = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(map_id)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return {int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
            for e in json.loads(r.stdout)}


def test_removed_container_leaves_the_filter_map(containerd, pods, ig_run):  # noqa: F811
    c = containerd
    a, _ = pods
    name, marker = uid("short"), uid("SHORT")
    cid = c.run_container(name, a.id, ["/bin/sh", "-c", LOOP.format(m=marker)])
    mntns = mntns_of(c.pid(cid))
    run = ig_run("trace_exec", "-o", "json", "-c", name, *rt_args(c), verbose=True)
    try:
        run.wait_for(with_marker(marker))
        ids = [m.group(1) for m in (re.search(r"mount namespace filter map id (\d+)", line)
                                    for line in list(run.err_lines)) if m]
        assert len(ids) == 1, run.err_lines[-20:]
        assert filter_keys(ids[0]) == {mntns}
    finally:
        c.remove_container(cid)
    deadline = time.monotonic() + 5
    while filter_keys(ids[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert filter_keys(ids[0]) == set()
    assert run.proc.poll() is None
    assert run.stop() == 0


def test_run_survives_containerd_restart(containerd, pods, ig_run):  # noqa: F811
    c = containerd
    a, _ = pods
    run = ig_run("trace_exec", "-o", "json", "--k8s-namespace", a.ns, *rt_args(c))
    run.wait_for(with_marker(a.marker))
    c.restart()
    marker = uid("AFTER")
    cid = c.run_container("after", a.id, ["/bin/sh", "-c", LOOP.format(m=marker)])
    try:
        rec = run.wait_for(with_marker(marker), timeout=15)[0]
        assert get(rec, "k8s.containerName") == "after"
        assert get(rec, "k8s.namespace") == a.ns
        assert run.proc.poll() is None
    finally:
        c.remove_container(cid)
    assert run.stop() == 0


def test_runtime_started_after_ig_is_picked_up(containerd, pods, ig_run):  # noqa: F811
    # a second runtime (another containerd, given as the cri-o socket) that
    # only starts once ig runs: its containers are named without a restart
    a, _ = pods
    late = Containerd()
    run = ig_run("trace_exec", "-o", "json", "--runtimes", "containerd,cri-o",
                 "--containerd-socketpath", containerd.socket, "--crio-socketpath", late.socket)
    try:
        run.wait_for(with_marker(a.marker))
        late.start()
        late.import_image()
        pod = Pod(late, uid("late-ns"), {"app": "late"}, uid("late"))
        rec = run.wait_for(lambda rs: [r for r in with_marker(pod.marker)(rs)
                                       if get(r, "k8s.podName")], timeout=20)[0]
        assert get(rec, "k8s.podName") == pod.name
        assert get(rec, "k8s.namespace") == pod.ns
        assert get(rec, "runtime.containerId") == pod.cid
        assert get(rec, "runtime.runtimeName") == "cri-o"
        # (before the cleanup, which kills every process naming its directory)
        assert run.stop() == 0
    finally:
        late.cleanup()


def test_selector_without_runtime_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "containerd.sock")
    crio = str(tmp_path / "crio.sock")
    r = ig("run", "trace_exec", "-c", "web", "--containerd-socketpath", missing,
           "--crio-socketpath", crio)
    assert r.returncode == 1
    assert missing in r.stderr and crio in r.stderr and "no container runtime" in r.stderr
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1


def test_no_runtime_without_selector_still_runs(tmp_path):
    missing = str(tmp_path / "containerd.sock")
    marker = uid("NORT")
    p = subprocess.Popen(["sh", "-c", f"sleep 0.6; /bin/true {marker}"])
    r = ig("run", "trace_exec", "-o", "json", "-t", "1.5", "--runtimes", "containerd",
           "--containerd-socketpath", missing)
    p.wait()
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    recs = [json.loads(line) for line in r.stdout.splitlines() if marker in line]
    assert recs and get(recs[0], "k8s.podName") == ""


@pytest.mark.parametrize("args,msg", [
    (["--k8s-selector", "app"], "key=value"),
    (["--k8s-selector", "=x"], "empty key"),
    (["--k8s-selector", "a=1,a=2"], "repeated"),
    (["--runtimes", "docker"], "docker"),
    (["--containerd-socketpath"], "needs a value"),
])
def test_bad_container_flags(args, msg):
    r = ig("run", "trace_exec", *args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
