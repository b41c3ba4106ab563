# SPDX-License-Identifier: Apache-2.0
"""Enrichment cost per record: what naming a record's container and pod costs `ig run`.

`ig run trace_open -o json > /dev/null` consumes the same paced openat+close
load (bench/loadgen/open_loop, built static so that it runs unchanged inside a
container) from three places:

  1. host: the load runs on the host, so its records belong to no container:
     the container lookup misses and the runtime.* and k8s.* columns are empty;
  2. container: the load runs in the mount namespace of a container of a
     private containerd (tests/integration/containerd.py), entered with
     `nsenter -t PID -m`; its records carry runtime.* and k8s.* from CRI;
  3. container + API: as 2, with ig given `--kubeconfig` to the stand-in API
     server (bench/k8s_scale.Server) holding PODS pods, the container's own
     with labels and an owner chain Pod -> ReplicaSet -> Deployment, so
     records also carry k8s.podLabels (as the API has them) and k8s.owner.*
     from a cache of all PODS pods.

The load is identical: the same binary, the same paths (the files are created
at the same path on the host and in the container's root), paced at RATE
opens per second, which every place reaches, because ig's cost per record
depends on how many records each drain brings.

First, a counted pass runs each configuration (and host records in an ig
with --kubeconfig) once, alone, with ig's stdout a pipe that a thread of this
harness reads on the load's CPU: it counts the records of the load (their
file name carries a token of the run) against the opens generated, all lines
and all bytes, and checks a few records: the host ones must name no
container, the others the container, its pod and (3) the API's labels and
the Deployment.  If they do not, the section fails.

Then the measured rounds.  Each runs two ig at once, one with the containerd
socket only (1 and 2) and one with `--kubeconfig` too (3), stdout to
/dev/null, and sends them bursts of BURST_MS, alternately from the host and
from the container.  Each ig's CPU over a burst (from idle before it to idle
after it) is the sum of sum_exec_runtime over its threads
(/proc/PID/task/*/schedstat, nanoseconds; tick-based utime/stime is too coarse
here), per open generated; start-up (the BPF load, the CRI and API lists) is
outside every burst.  The machine is shared and ig's CPU per record drifts by
tens of percent from second to second, so costs are differences between
neighbours: a container burst against the host burst next to it (2 and 3
against 1), and the two ig on the same burst (the API's share).  They include
formatting the longer JSON, since that is what a user pays for the extra
columns.  No record can be counted on /dev/null, so losses there are what ig
reports on stderr, which must be none.

Standard library only, plus the containerd harness (python3-pytest).  Use
from bench/run.py (BENCH_ONLY=enrich) or alone:
    /usr/bin/python3 bench/enrich.py
"""

import fcntl
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from benchlib import cpu_ns

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IG = os.environ.get("BENCH_IG") or os.path.join(REPO, "build", "bin", "ig")
GADGETS = os.path.join(REPO, "build", "gadgets")
LOADGEN_SRC = os.path.join(REPO, "bench", "loadgen", "open_loop.c")
OPEN_LOOP_STATIC = os.path.join(REPO, "build", "bench", "open_loop_static")
RATE = int(os.environ.get("BENCH_ENRICH_RATE", "100000"))
BURST_MS = int(os.environ.get("BENCH_ENRICH_BURST_MS", "1000"))
# bursts from each place per ig and round
BURSTS = int(os.environ.get("BENCH_ENRICH_BURSTS", "3"))
PODS = int(os.environ.get("BENCH_ENRICH_PODS", "10000"))
FILES = 1000
LOAD_CPU = 0
# A paced run counts as reaching its target when it generates this share of it.
RATE_REACHED = 0.97
READY_TIMEOUT_S = 30.0
DRAIN_QUIET_S = 1.0
DRAIN_MAX_S = 20.0
# ig is idle once it uses under IDLE_SHARE of a CPU over IDLE_WINDOW_S.
IDLE_SHARE = 0.05
IDLE_WINDOW_S = 0.1
STOP_TIMEOUT_S = 10.0
READ_CHUNK = 1 << 20
PIPE_BYTES = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
SAMPLES = 5

# The container's pod, as CRI and the API know it.  The API has one label
# more than the sandbox (release=canary): records showing it took it from the
# API, not from the runtime.
POD_NS = "shop"
POD_NAME = "web-6b7f9c5d4-x8k2p"
CONTAINER = "c"
CRI_LABELS = {"app": "web", "pod-template-hash": "6b7f9c5d4"}
API_LABELS = dict(CRI_LABELS, release="canary")
RUNTIME_FLAGS = ["--runtimes", "containerd", "--containerd-socketpath"]

# The counted pass: (name, ig has --kubeconfig, where the load runs, label).
CONFIGS = [
    ("host", False, "host", "host process"),
    ("container", False, "container", "container"),
    ("host-api", True, "host", "host process"),
    ("container-api", True, "container", "container"),
]
# The two ig of a measured round, and what the report calls them.
IGS = [("cri", False, "`--containerd-socketpath`"),
       ("api", True, "`--containerd-socketpath --kubeconfig` (%d pods)" % PODS)]


class Failed(Exception):
    """The section cannot be measured, or its records are not what it measures."""


# ---------------------------------------------------------------------------
# ig and its output.



def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Output:
    """ig's stdout, read by a thread: lines, bytes, records naming the load's
    token, whether a marker was seen, and the first few load records."""

    def __init__(self, fd, token, marker, keep=0):
        self.fd, self.token, self.marker = fd, token.encode(), marker.encode()
        self.lines = self.bytes = self.load = 0
        self.marker_seen = False
        self.keep, self.samples = keep, []
        self.last_data = time.monotonic()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        # on the load's CPU, not ig's: reading and counting are the harness's
        # work, and sharing ig's CPU would switch ig out for it
        os.sched_setaffinity(0, {LOAD_CPU})
        tail = b""
        while True:
            chunk = os.read(self.fd, READ_CHUNK)
            if not chunk:
                return
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            done, tail = data[:cut], data[cut:]
            if not done:
                continue
            if not self.marker_seen and self.marker in done:
                self.marker_seen = True
            if self.keep and len(self.samples) < self.keep and self.token in done:
                self.samples += [ln for ln in done.split(b"\n") if self.token in ln][:self.keep]
            self.lines += done.count(b"\n")
            self.bytes += len(done)
            self.load += done.count(self.token)
            self.last_data = time.monotonic()

    def snapshot(self):
        return {"lines": self.lines, "bytes": self.bytes, "load": self.load}


class Ig:
    """One `ig run trace_open -o json`, stdout a pipe read by Output (out) or
    /dev/null (out is None)."""

    def __init__(self, argv, work, name, token=None, marker=None, keep=0):
        self.err_path = os.path.join(work, "%s.err" % name)
        self.rfd = None
        self.out = None
        self.spawned = time.monotonic()
        env = dict(os.environ, IG_GADGETS=GADGETS)
        env.pop("NODE_NAME", None)  # every pod in the cache, not one node's
        if token:
            self.rfd, wfd = os.pipe2(os.O_CLOEXEC)
            # room for a few ms of output while the reader waits for the CPU
            fcntl.fcntl(wfd, F_SETPIPE_SZ, PIPE_BYTES)
        else:
            wfd = subprocess.DEVNULL
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=wfd, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env)
        if token:
            os.close(wfd)
            self.out = Output(self.rfd, token, marker, keep)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.out:
            self.out.thread.join(STOP_TIMEOUT_S)
            os.close(self.rfd)
        return self.proc.returncode

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read(65536).decode("utf-8", "replace")
        except OSError:
            return ""

    def lost(self):
        """Records ig said it lost: its final "N records lost in total" line,
        else the sum of its periodic "N records lost" ones."""
        text = self.stderr()
        total = re.findall(r"(\d+) records lost in total", text)
        if total:
            return sum(int(n) for n in total)
        return sum(int(n) for n in re.findall(r"(\d+) records lost on", text))

    def wait_idle(self, max_s=DRAIN_MAX_S):
        """Until ig used under IDLE_SHARE of a CPU over IDLE_WINDOW_S."""
        deadline = time.monotonic() + max_s
        last = cpu_ns(self.proc.pid)
        while time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(IDLE_WINDOW_S)
            now = cpu_ns(self.proc.pid)
            if now is None or last is None:
                return False
            if now - last < IDLE_SHARE * IDLE_WINDOW_S * 1e9:
                return True
            last = now
        return False


# ---------------------------------------------------------------------------
# The set-up: static load generator, API server, containerd and its container.

def build_static_loadgen():
    if (os.path.exists(OPEN_LOOP_STATIC)
            and os.path.getmtime(OPEN_LOOP_STATIC) >= os.path.getmtime(LOADGEN_SRC)):
        return
    os.makedirs(os.path.dirname(OPEN_LOOP_STATIC), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-static", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                        "-D_GNU_SOURCE", "-o", OPEN_LOOP_STATIC, LOADGEN_SRC],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise Failed("cannot build a static open_loop: " + r.stderr.strip()[-300:])


def fill_api(srv, k8s_scale, log):
    """PODS - 1 pods shaped like a busy cluster's (bench/k8s_scale.pod), plus
    the container's pod owned by a ReplicaSet owned by a Deployment."""
    t0 = time.monotonic()
    for i in range(k8s_scale.NAMESPACES):
        srv.request("POST", "/api/v1/namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i}"}})
    for i in range(PODS - 1):
        ns, obj = k8s_scale.pod(i)
        srv.request("POST", f"/api/v1/namespaces/{ns}/pods", obj)
        if i and i % 2500 == 0:
            log(f"enrich: {i} pods created")
    srv.request("POST", "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": POD_NS}})
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": CONTAINER, "image": "busybox"}]}}
    srv.request("POST", f"/apis/apps/v1/namespaces/{POD_NS}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": POD_NS},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
    srv.request("POST", f"/apis/apps/v1/namespaces/{POD_NS}/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-6b7f9c5d4", "namespace": POD_NS, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
            "uid": "bench-deployment-web", "controller": True}]},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
    srv.request("POST", f"/api/v1/namespaces/{POD_NS}/pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD_NAME, "namespace": POD_NS, "labels": API_LABELS,
                     "ownerReferences": [{
                         "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6b7f9c5d4",
                         "uid": "bench-replicaset-web", "controller": True}]},
        "spec": {"nodeName": "node-0",
                 "containers": [{"name": CONTAINER, "image": "busybox"}]}})
    return time.monotonic() - t0


class Load:
    """The load's files and binary, at the same path on the host and in the
    container's root, so that both produce records of the same length."""

    def __init__(self, container_pid):
        self.token = "igenr" + uuid.uuid4().hex[:6]
        self.dir = tempfile.mkdtemp(prefix="ige", dir="/tmp")
        self.roots = {"host": "", "container": "/proc/%d/root" % container_pid}
        self.pid = container_pid
        self.markers = 0
        for root in self.roots.values():
            os.makedirs(root + self.dir + "/o", exist_ok=True)
            os.makedirs(root + self.dir + "/m", exist_ok=True)
            for i in range(FILES):
                open("%s%s/o/%so%05d" % (root, self.dir, self.token, i), "w").close()
            shutil.copy(OPEN_LOOP_STATIC, root + self.dir + "/open_loop")

    @property
    def load_token(self):
        return self.dir + "/o/" + self.token + "o"

    def new_marker(self):
        self.markers += 1
        return "%sm%04d" % (self.token, self.markers)

    def fire_marker(self, marker):
        fd = os.open(os.path.join(self.dir, "m", marker), os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC,
                     0o644)
        os.close(fd)

    def run(self, place, ms):
        argv = [self.dir + "/open_loop", "-d", self.dir + "/o", "-p", self.token + "o",
                "-n", str(FILES), "-C", str(LOAD_CPU), "-t", str(ms), "-r", str(RATE)]
        if place == "container":
            argv = ["nsenter", "-t", str(self.pid), "-m", "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=ms / 1000 + 60)
        if r.returncode:
            raise Failed("open_loop (%s) failed: %s" % (place, (r.stderr or r.stdout).strip()))
        return {k: float(v) for k, v in (p.split("=", 1) for p in r.stdout.split())}

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Starting ig.

def ig_argv(socket, kubeconfig=None):
    argv = [IG, "run", "trace_open", "-o", "json"] + RUNTIME_FLAGS + [socket]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    return argv


def start_attached(name, argv, env, work, keep=0):
    """ig with stdout a pipe, once a marker opened on the host is printed."""
    marker = env["load"].new_marker()
    ig = Ig(argv, work, name, env["load"].load_token, marker, keep)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ig.out.marker_seen:
        if ig.proc.poll() is not None or time.monotonic() > deadline:
            ig.stop()
            raise Failed("ig (%s) did not attach: %s" % (name, ig.stderr().strip()[-300:]
                                                        or "no output"))
        env["load"].fire_marker(marker)
        time.sleep(0.01)
    ig.attach_s = time.monotonic() - ig.spawned
    return ig


def wait_drained(ig, generated):
    deadline = time.monotonic() + DRAIN_MAX_S
    while time.monotonic() < deadline:
        if ig.out.load >= generated:
            return True
        if time.monotonic() - ig.out.last_data > DRAIN_QUIET_S:
            return False
        time.sleep(0.01)
    return False


# ---------------------------------------------------------------------------
# The counted pass: is every record there, and does it say what each
# configuration is about?

def field(rec, path):
    for k in path.split("."):
        if not isinstance(rec, dict) or k not in rec:
            return None
        rec = rec[k]
    return rec


def expected(api, place, env):
    if place == "host":
        want = {"runtime.containerName": "", "k8s.namespace": "", "k8s.podName": ""}
        if api:
            want["k8s.owner.kind"] = ""
        return want
    want = {"runtime.containerName": CONTAINER, "runtime.containerId": env["cid"],
            "runtime.runtimeName": "containerd", "k8s.namespace": POD_NS,
            "k8s.podName": POD_NAME, "k8s.containerName": CONTAINER}
    if api:
        want["k8s.podLabels"] = ",".join("%s=%s" % kv for kv in sorted(API_LABELS.items()))
        want["k8s.owner.kind"] = "Deployment"
        want["k8s.owner.name"] = "web"
    return want


def counted_pass(name, api, place, env, work):
    argv = ig_argv(env["socket"], env["kubeconfig"] if api else None)
    ig = start_attached(name, argv, env, work, keep=SAMPLES)
    try:
        before = ig.out.snapshot()
        load = env["load"].run(place, BURSTS * BURST_MS)
        generated = int(load["count"])
        drained = wait_drained(ig, before["load"] + generated)
        after = ig.out.snapshot()
    finally:
        code = ig.stop()
    lines = after["lines"] - before["lines"]
    received = after["load"] - before["load"]
    if not ig.out.samples:
        raise Failed("counted pass (%s): no record of the load printed; stderr: %s"
                     % (name, ig.stderr().strip()[-300:]))
    want = expected(api, place, env)
    recs = [json.loads(line) for line in ig.out.samples]
    for rec in recs:
        got = {k: field(rec, k) for k in want}
        if got != want:
            bad = {k: got[k] for k in want if got[k] != want[k]}
            raise Failed("counted pass (%s): records do not carry the expected enrichment: "
                         "got %s, want %s" % (name, bad, {k: want[k] for k in bad}))
    if not api and field(recs[0], "k8s.owner") is not None:
        raise Failed("counted pass (%s): k8s.owner present without --kubeconfig" % name)
    cols = {k: v for k, v in ((k, field(recs[0], k)) for k in (
        "runtime.containerName", "runtime.containerImageName", "k8s.namespace", "k8s.podName",
        "k8s.podLabels", "k8s.owner.kind", "k8s.owner.name")) if v}
    return {
        "generated": generated, "received": received, "drained": drained,
        "other_records": lines - received, "lost_reported": ig.lost(), "exit": code,
        "rate": load["rate"], "attach_s": ig.attach_s, "checked": list(want), "columns": cols,
        "bytes_per_record": (after["bytes"] - before["bytes"]) / lines if lines else None,
        "record_bytes": [len(line) + 1 for line in ig.out.samples],
    }


# ---------------------------------------------------------------------------
# A measured round: both ig at once, bursts alternately from the host and the
# container.

def trial(env, work, first):
    igs, bursts = {}, []
    places = (["host", "container"] if first == "host" else ["container", "host"]) * BURSTS
    try:
        for name, api, _ in IGS:
            igs[name] = Ig(ig_argv(env["socket"], env["kubeconfig"] if api else None), work,
                           name)
        # attached by then in the counted pass; then start-up must be over
        attach_s = max(env["attach_s"].values())
        time.sleep(max(1.5 * attach_s, attach_s + 0.5))
        for name, ig in igs.items():
            if ig.proc.poll() is not None:
                raise Failed("ig (%s) exited: %s" % (name, ig.stderr().strip()[-300:]))
            ig.wait_idle()
        for place in places:
            cpu0 = {name: cpu_ns(ig.proc.pid) for name, ig in igs.items()}
            load = env["load"].run(place, BURST_MS)
            idle = all([ig.wait_idle() for ig in igs.values()])
            cpu1 = {name: cpu_ns(ig.proc.pid) for name, ig in igs.items()}
            for name, ig in igs.items():
                if cpu0[name] is None or cpu1[name] is None:
                    raise Failed("ig (%s) exited during the load: %s"
                                 % (name, ig.stderr().strip()[-300:]))
            n = int(load["count"])
            bursts.append({"place": place, "generated": n, "rate": load["rate"],
                           "idle_after": idle,
                           "ns_per_record": {k: (cpu1[k] - cpu0[k]) / n for k in igs}})
        hwm = {name: vm_hwm_kb(ig.proc.pid) for name, ig in igs.items()}
    finally:
        codes = {name: ig.stop() for name, ig in igs.items()}
    return {"bursts": bursts, "exit": codes, "vm_hwm_kb": hwm,
            "lost_reported": {name: ig.lost() for name, ig in igs.items()}}


# ---------------------------------------------------------------------------

def load_harness():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    sys.path.insert(0, here)
    import containerd  # noqa: E402  (needs pytest)
    import k8s_scale  # noqa: E402
    return containerd, k8s_scale


def spread(vals):
    """Median and middle half."""
    q = statistics.quantiles(vals, n=4) if len(vals) > 1 else [vals[0]] * 3
    return {"median": statistics.median(vals), "iqr": [q[0], q[2]], "n": len(vals)}


def summarize(trials):
    """CPU per record: medians over the bursts.  Costs against host records
    in the ig without --kubeconfig: from the burst next to it for container
    records (pairs of bursts, seconds apart), from the same burst for the
    other ig."""
    bursts = [b for t in trials for b in t["bursts"]]
    pairs = [(a, b) if a["place"] == "host" else (b, a)
             for t in trials for a, b in zip(t["bursts"][::2], t["bursts"][1::2])]

    def per(ig, place):
        return [b["ns_per_record"][ig] for b in bursts if b["place"] == place]

    out = {"cpu": {ig: {p: spread(per(ig, p)) for p in ("host", "container")}
                   for ig, _, _ in IGS}}
    out["added"] = {
        "container": spread([c["ns_per_record"]["cri"] - h["ns_per_record"]["cri"]
                             for h, c in pairs]),
        "host-api": spread([b["ns_per_record"]["api"] - b["ns_per_record"]["cri"]
                            for b in bursts if b["place"] == "host"]),
        "container-api": spread([c["ns_per_record"]["api"] - h["ns_per_record"]["cri"]
                                 for h, c in pairs]),
        # the API's share alone: both ig on the same container records
        "api-over-cri": spread([b["ns_per_record"]["api"] - b["ns_per_record"]["cri"]
                                for b in bursts if b["place"] == "container"]),
    }
    out["vm_hwm_kb"] = {ig: statistics.median(t["vm_hwm_kb"][ig] for t in trials)
                        for ig, _, _ in IGS}
    out["lost_reported"] = sum(n for t in trials for n in t["lost_reported"].values())
    out["generated"] = sum(b["generated"] for b in bursts)
    out["all_reached"] = all(b["rate"] >= RATE * RATE_REACHED for b in bursts)
    out["all_idle"] = all(b["idle_after"] for b in bursts)
    out["all_exit_0"] = all(code == 0 for t in trials for code in t["exit"].values())
    return out


def measure(rounds=5, log=print):
    """Returns a dict for results.json: 'skipped' when it could not run,
    'error' when it ran and the records were wrong."""
    if os.geteuid() != 0:
        return {"skipped": "needs root"}
    try:
        harness, k8s_scale = load_harness()
    except Exception as e:  # ImportError, or pytest missing
        return {"skipped": "harness unavailable: %s" % e}
    for b in (IG, harness.CONTAINERD_BIN, harness.CTR_BIN, harness.BUSYBOX, harness.CRI_POD):
        if not os.path.exists(b):
            return {"skipped": "%s missing" % b}
    if not shutil.which("nsenter"):
        return {"skipped": "nsenter (util-linux) missing"}
    try:
        build_static_loadgen()
    except Failed as e:
        return {"skipped": str(e)}
    work = tempfile.mkdtemp(prefix="ig-bench-enrich-")
    srv = load = None
    c = harness.Containerd()
    res = {"rate": RATE, "burst_ms": BURST_MS, "bursts": BURSTS, "pods": PODS,
           "rounds": rounds}
    try:
        try:
            srv = k8s_scale.Server(work)
            res["fill_s"] = fill_api(srv, k8s_scale, log)
            log("enrich: %d pods in the API server in %.1f s" % (PODS, res["fill_s"]))
            c.start()
            c.import_image()
        except Exception as e:
            return {"skipped": "set-up failed: %s" % str(e).splitlines()[0]}
        sandbox = c.run_pod(POD_NAME, POD_NS, labels=CRI_LABELS)
        cid = c.run_container(CONTAINER, sandbox, ["sleep", "100000"])
        load = Load(c.pid(cid))
        env = {"load": load, "socket": c.socket, "kubeconfig": srv.kubeconfig, "cid": cid}
        res["counted"] = {}
        for name, api, place, _ in CONFIGS:
            cp = counted_pass(name, api, place, env, work)
            res["counted"][name] = cp
            log("enrich: counted pass %-13s %d/%d records, attached in %.2f s, %s"
                % (name, cp["received"], cp["generated"], cp["attach_s"],
                   cp["columns"] or "no container"))
        env["attach_s"] = {n: cp["attach_s"] for n, cp in res["counted"].items()}
        trials = []
        for r in range(rounds):
            t = trial(env, work, "host" if r % 2 == 0 else "container")
            trials.append(t)
            log("enrich: round %d: %s; lost %s" % (r + 1, ", ".join(
                "%s %s" % (b["place"][0], "/".join("%.0f" % b["ns_per_record"][ig]
                                                   for ig, _, _ in IGS))
                for b in t["bursts"]), t["lost_reported"]))
        res["trials"] = trials
        res["median"] = summarize(trials)
        return res
    except Failed as e:
        res["error"] = str(e)
        return res
    finally:
        if load:
            load.cleanup()
        c.cleanup()
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def signed(x):
    """Rounded with its sign, and no "-0"."""
    return "%+d" % round(x)


def render(res):
    out = ["## Enrichment cost per record\n"]
    if res.get("skipped"):
        out.append("Skipped: %s\n" % res["skipped"])
        return out
    out.append(
        "What naming a record's container and pod costs `ig run trace_open -o json > "
        "/dev/null`. The same `open_loop` load, paced at %d opens/s (ig's cost per record "
        "depends on how many records a drain brings), runs on the host (its records belong "
        "to no container: the lookup misses, the columns are empty) or inside a container of "
        "a private containerd (the same static `open_loop` and the same paths, started with "
        "`nsenter -t PID -m`), whose records carry `runtime.*` and `k8s.*` from CRI; with "
        "`--kubeconfig` to the stand-in API server holding %d pods, they also carry the API's "
        "`k8s.podLabels` and `k8s.owner.*` (Pod -> ReplicaSet -> Deployment) from a cache of "
        "all of them.\n" % (res["rate"], res["pods"]))
    out.append(
        "A counted pass first runs each row once, alone, for %d ms with stdout a pipe the "
        "harness reads (on the load's CPU) and counts, and checks the enrichment of a few "
        "records. Then %d rounds, each with both ig running at once, stdout to /dev/null, fed "
        "%d bursts of %d ms from the host and as many from the container, alternately (the "
        "first place alternates between rounds). Each ig's CPU is the sum of its threads' "
        "`sum_exec_runtime` (`/proc/PID/task/*/schedstat`, ns) from idle before a burst to "
        "idle after it, per open generated; start-up (BPF load, CRI and API lists) is outside. "
        "CPU per record is the median over the bursts. The cost is against host records in "
        "the ig without `--kubeconfig`: in the burst next to it for container records, in the "
        "same burst for the other ig, so that the drift of this shared machine cancels out; "
        "median over the pairs, the middle half in brackets. It includes formatting the "
        "longer JSON.\n"
        % (res["bursts"] * res["burst_ms"], res["rounds"], res["bursts"], res["burst_ms"]))
    if res.get("error"):
        out.append("**Failed**: %s\n" % res["error"])
        return out
    m, cp = res["median"], res["counted"]
    host_bytes = cp["host"]["bytes_per_record"]
    out.append("| records from | ig run with | counted pass: load records printed / opens | ig "
               "CPU per record | enrichment cost per record | JSON bytes per record | ig peak "
               "RSS |\n|---|---|---|---|---|---|---|")
    for name, api, place, label in CONFIGS:
        ig, _, ig_label = IGS[1] if api else IGS[0]
        c = cp[name]
        a = m["added"].get(name)
        cost = "-" if a is None else "%s ns (%s .. %s)" % (
            signed(a["median"]), signed(a["iqr"][0]), signed(a["iqr"][1]))
        extra = c["bytes_per_record"] - host_bytes
        out.append("| %s | %s | %d / %d | %.0f ns | %s | %.0f%s | %.1f MB |" % (
            label, ig_label, c["received"], c["generated"], m["cpu"][ig][place]["median"], cost,
            c["bytes_per_record"], " (%+.0f)" % extra if name != "host" else "",
            m["vm_hwm_kb"][ig] / 1024))
    out.append("")
    a = m["added"]["api-over-cri"]
    out.append("Of the cost with `--kubeconfig`, the API's share (both ig on the same container "
               "records): %s ns (%s .. %s) per record over %d bursts%s.\n"
               % (signed(a["median"]), signed(a["iqr"][0]), signed(a["iqr"][1]), a["n"],
                  " (negative: cheaper than the CRI-only ig on the same records)"
                  if a["median"] < 0 else ""))
    notes = []
    for name in ("container", "container-api"):
        cols = cp[name]["columns"]
        notes.append("%s: %s" % ("with `--kubeconfig`" if name.endswith("api") else "CRI only",
                                 ", ".join("`%s=%s`" % kv for kv in cols.items())))
    out.append("Enrichment the counted pass found on the container's records (checked on %d "
               "records of each row; the host's were empty): %s.\n"
               % (SAMPLES, "; ".join(notes)))
    host = m["cpu"]["cri"]["host"]
    out.append("Losses ig reported in the measured rounds: %d, of %d records generated. Host "
               "CPU per record varied %.0f .. %.0f ns (middle half) from burst to burst: the "
               "machine is shared, which is why costs are taken between neighbours. The "
               "columns are printed for every record, empty on the host, so the extra bytes "
               "are the names (and, with `--kubeconfig`, the empty owner on host records). "
               "The per-record figures include the few records of the machine's other "
               "activity (%s in the counted passes).\n"
               % (m["lost_reported"], m["generated"], host["iqr"][0], host["iqr"][1],
                  ", ".join("%d" % cp[n]["other_records"] for n, _, _, _ in CONFIGS)))
    bad = [name for name, _, _, _ in CONFIGS
           if cp[name]["received"] != cp[name]["generated"] or cp[name]["lost_reported"]]
    if bad:
        out.append("**Caution**: records missing or lost in the counted pass of %s.\n"
                   % ", ".join(bad))
    if not m["all_idle"] or not m["all_reached"] or m["lost_reported"] or not m["all_exit_0"]:
        out.append("**Caution**: in a measured round, records were lost, the load did not "
                   "reach its rate, ig did not go idle after a burst or did not exit 0 on "
                   "SIGINT (see results.json).\n")
    return out


if __name__ == "__main__":
    os.sched_setaffinity(0, {1})  # the load runs on CPU 0, ig and the harness on CPU 1
    r = measure(int(os.environ.get("BENCH_ROUNDS", "5")), lambda s: print(s, file=sys.stderr))
    print(json.dumps(r, indent=1, default=str))
    print("\n".join(render(r)))
    sys.exit(1 if r.get("error") else 0)
