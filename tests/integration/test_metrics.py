# SPDX-License-Identifier: Apache-2.0
"""Gadget data as Prometheus metrics and JSON-line logs, with real parts: the
running kernel, a private containerd running real pods, a real Prometheus
server scraping `ig run --otel-metrics-listen` and gadget-agent's
otel-metrics port, and promtool.

Every number checked is one the test caused: N execs of a command with a
name of its own in a pod of a namespace of its own give exactly N in the
counter labelled with that namespace and command, as Prometheus's query API
returns it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import yaml

from apiserver import free_port
from conftest import IG, ig
from containerd import containerd  # noqa: F401  (module-scoped fixture)
from test_agent import PROMETHEUS, PROMTOOL, agents, crt  # noqa: F401  (fixtures)
from test_gadgets import WRITES, loopdev, write_direct  # noqa: F401  (fixture)

EXECS = 7

# trace_exec's records as a counter of execs per namespace and command
ANNOTATE = ["exec:metrics.collect=true", "exec:metrics.implicit-counter.name=execs",
            "exec:metrics.implicit-counter.description=programs executed",
            "exec.k8s.namespace:metrics.type=key", "exec.proc.comm:metrics.type=key"]


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Prometheus:
    """A real Prometheus scraping targets every 500 ms; with net (a PodNet),
    from inside that network namespace, as from a pod beside the agent's."""

    def __init__(self, tmp_path, targets, net=None):
        self.net = net
        self.port = free_port()
        tmp_path.mkdir(parents=True, exist_ok=True)
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "500ms", "scrape_timeout": "400ms"},
            "scrape_configs": [{"job_name": "gadget", "metrics_path": "/metrics",
                                "static_configs": [{"targets": targets}]}]}))
        self.proc = subprocess.Popen(
            (net.prefix() if net else []) + [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path}/db",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def query(self, q):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?query=" + urllib.request.quote(q)
        try:
            if self.net:
                return json.loads(self.net.http(url, timeout=5)[2])["data"]["result"]
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())["data"]["result"]
        except (OSError, ValueError, KeyError):
            return None

    def wait_value(self, q, want, timeout=40):
        """The query's single value, once it is want (or the last seen at the timeout)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            res = self.query(q)
            if res:
                last = [r["value"][1] for r in res]
                if last == [str(want)]:
                    return want
            time.sleep(0.3)
        return last

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture
def prometheus(tmp_path):
    made = []

    def make(targets, net=None):
        p = Prometheus(tmp_path / f"prom{len(made)}", targets, net)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def scrape(port, net=None):
    if net:
        return net.http(f"http://127.0.0.1:{port}/metrics")[2]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def promtool_ok(text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def exec_pod(c, ns, comm, n=EXECS, delay=3):
    """A pod in namespace ns whose container runs `comm` (a copy of busybox)
    exactly n times, after delay seconds (the gadget is running by then)."""
    pod = c.run_pod(uid("pod"), ns)
    script = (f"cp /bin/busybox /tmp/{comm}; sleep {delay}; i=0; "
              f"while [ $i -lt {n} ]; do /tmp/{comm} true; i=$((i+1)); done; sleep 3600")
    cid = c.run_container(uid("c"), pod, ["/bin/sh", "-c", script])
    return pod, cid


def rt_args(c):
    return ["--runtimes", "containerd", "--containerd-socketpath", c.socket]


# ---------------------------------------------------------------- ig run


def test_ig_run_exports_exact_counts_to_prometheus(containerd, prometheus):  # noqa: F811
    port = free_port()
    ns, comm = uid("ns"), "u" + uuid.uuid4().hex[:10]
    p = subprocess.Popen([IG, "run", "trace_exec", "-o", "json", *rt_args(containerd),
                          *[a for x in ANNOTATE for a in ("--annotate", x)],
                          "--otel-metrics-name", "exec:ig-execs", "--otel-metrics-listen",
                          "--otel-metrics-listen-address", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    prom = prometheus([f"127.0.0.1:{port}"])
    pod = cid = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                scrape(port)
                break
            except OSError:
                time.sleep(0.1)
        pod, cid = exec_pod(containerd, ns, comm)
        q = f'ig_execs_execs_total{{k8s_namespace="{ns}",proc_comm="{comm}"}}'
        assert prom.wait_value(q, EXECS) == EXECS, (prom.query(q), scrape(port)[-3000:])
        text = scrape(port)
        promtool_ok(text)
        assert "# HELP ig_execs_execs_total programs executed" in text
        assert f'otel_scope_name="ig-execs"' in text
    finally:
        p.terminate()
        p.wait(20)
        if cid:
            containerd.remove_container(cid)
        if pod:
            containerd.remove_pod(pod)
    assert p.returncode == 0, p.stderr.read()


def test_series_are_bounded_and_drops_counted(tmp_path):
    """A key with 20,000 values (file names) under a bound of 10,000 series:
    memory stays bounded, the rest is counted as dropped."""
    port = free_port()
    d = tmp_path / "many"
    d.mkdir()
    p = subprocess.Popen([IG, "run", "trace_open", "-o", "json", "--comm", "python3",
                          "--annotate", "open:metrics.collect=true",
                          "--annotate", "open:metrics.implicit-counter.name=opens",
                          "--annotate", "open.fname:metrics.type=key",
                          "--otel-metrics-name", "open:many", "--otel-metrics-listen",
                          "--otel-metrics-listen-address", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        for i in range(20000):
            try:
                os.open(str(d / f"f{i}"), os.O_RDONLY)
            except FileNotFoundError:
                pass
        time.sleep(1)
        text = scrape(port)
        series = [ln for ln in text.splitlines() if ln.startswith("many_opens_total{")]
        assert len(series) == 10000, len(series)
        dropped = [ln for ln in text.splitlines()
                   if ln.startswith("gadget_metrics_dropped_series_total")]
        assert dropped and int(dropped[0].split()[-1]) >= 10000 - 10, dropped
        with open(f"/proc/{p.pid}/status") as f:
            rss_kb = int([ln for ln in f if ln.startswith("VmRSS:")][0].split()[1])
        assert rss_kb < 60 * 1024, rss_kb
        promtool_ok(text)
    finally:
        p.terminate()
        p.wait(20)


@pytest.mark.parametrize("annotate,message", [
    (["open.fname:metrics.type=average"], "unknown metrics.type 'average'"),
    (["open.fname:metrics.type=histogram"], "cannot be a histogram"),
    (["open.nosuch:metrics.type=key"], "has no field 'nosuch'"),
])
def test_bad_metrics_annotations_are_one_line(annotate, message):
    args = ["--annotate", "open:metrics.collect=true", "--otel-metrics-name", "open:bad"]
    for a in annotate:
        args += ["--annotate", a]
    r = ig("run", "trace_open", *args, "-t", "1", timeout=30)
    assert r.returncode == 2, r.stderr
    errs = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errs) == 1 and message in errs[0], r.stderr
    assert r.stdout == ""


def test_two_names_that_collide_are_refused():
    r = ig("run", "trace_open", "--annotate", "open:metrics.collect=true",
           "--annotate", "open:metrics.implicit-counter.name=x",
           "--otel-metrics-name", "open:same", "--otel-metrics-name", "open:same", "-t", "1",
           timeout=30)
    assert r.returncode == 2 and "collides with same_x" in r.stderr, r.stderr


# ---------------------------------------------------------------- the agent


def write_instance(agent, name, spec):
    d = os.path.join(agent.state, "instances")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{name}.yaml"), "w") as f:
        yaml.safe_dump(dict(spec, name=name), f)


def test_agent_instances_export_metrics_and_logs(agents, containerd, prometheus,  # noqa: F811
                                                 tmp_path):
    mport = free_port()
    logs_dir = str(tmp_path / "logs")
    a = agents(runtimes=crt(containerd), extra_config={
        "otel-metrics-listen": True, "otel-metrics-listen-address": f"127.0.0.1:{mport}",
        "logs": {"channel": "none", "directory": logs_dir}})
    a.stop()
    ns, comm = uid("ns"), "a" + uuid.uuid4().hex[:10]
    write_instance(a, "execs", {"image": "trace_exec", "annotate": ANNOTATE,
                                "otelMetricsName": ["exec:agent-execs"],
                                "logs": {"channel": "file", "maxSizeMB": 1}})
    # an instance whose annotations are wrong fails alone
    write_instance(a, "broken", {"image": "trace_exec",
                                 "annotate": ["exec:metrics.collect=true",
                                              "exec.proc.comm:metrics.type=average"],
                                 "otelMetricsName": ["exec:broken"]})
    a.start()
    rc, lst = a.answer("list")
    states = {i["spec"]["name"]: i for i in lst["instances"]}
    assert states["execs"]["state"] == "INSTANCE_RUNNING", states
    assert states["broken"]["state"] == "INSTANCE_FAILED", states
    assert "unknown metrics.type 'average'" in states["broken"]["error"], states
    # the agent serves in its pod's network namespace
    prom = prometheus([f"127.0.0.1:{mport}"], net=a.net)
    pod, cid = exec_pod(containerd, ns, comm)
    try:
        q = f'agent_execs_execs_total{{k8s_namespace="{ns}",proc_comm="{comm}"}}'
        assert prom.wait_value(q, EXECS) == EXECS, prom.query(q)
        promtool_ok(scrape(mport, a.net))
        # the same records as JSON lines, with the node, the instance and the pod
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline and len(lines) < EXECS:
            with open(os.path.join(logs_dir, "execs.log")) as f:
                lines = [x for x in (json.loads(ln) for ln in f)
                         if x["data"]["proc"]["comm"] == comm]
            time.sleep(0.2)
        assert len(lines) == EXECS, lines
        for ln in lines:
            assert ln["type"] == "gadget-data" and ln["gadget"] == "trace_exec"
            assert ln["node"] == "n1" and ln["instance"] == "execs" and ln["datasource"] == "exec"
            assert ln["data"]["k8s"]["namespace"] == ns and ln["data"]["proc"]["comm"] == comm
            assert len(ln["instanceID"]) == 32
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", ln["timestamp"]), ln
        assert len({ln["seq"] for ln in lines}) == EXECS
    finally:
        containerd.remove_container(cid)
        containerd.remove_pod(pod)
    # the agent's own metrics stay on the health port
    status, _, body = a.http("/metrics")
    assert status == 200 and "agent_execs_execs_total" not in body


def test_agent_refuses_a_second_instance_with_the_same_name(agents, containerd):  # noqa: F811
    mport = free_port()
    a = agents(runtimes=crt(containerd), extra_config={
        "otel-metrics-listen": True, "otel-metrics-listen-address": f"127.0.0.1:{mport}"})
    a.stop()
    for name in ("first", "second"):
        write_instance(a, name, {"image": "trace_exec", "annotate": ANNOTATE,
                                 "otelMetricsName": ["exec:same-scope"]})
    a.start()
    rc, lst = a.answer("list")
    states = sorted(i["state"] for i in lst["instances"])
    assert states == ["INSTANCE_FAILED", "INSTANCE_RUNNING"], lst
    failed = [i for i in lst["instances"] if i["state"] == "INSTANCE_FAILED"][0]
    assert "is already exported by instance" in failed["error"], failed


def test_an_instance_past_its_series_bound_says_so(agents):  # noqa: F811
    """otel-metrics-max-series 3 and a key with 40 values: 3 series, the rest
    counted as dropped in the instance's status and in the exposition."""
    mport = free_port()
    a = agents(extra_config={"otel-metrics-listen": True,
                             "otel-metrics-listen-address": f"127.0.0.1:{mport}",
                             "otel-metrics-max-series": 3})
    a.stop()
    gen = subprocess.Popen([sys.executable, "-c", (
        "import os, sys\n"
        "sys.stdin.readline()\n"
        "for i in range(40):\n"
        "    try: os.open(f'/nonexistent-metrics-{i}', os.O_RDONLY)\n"
        "    except OSError: pass\n")], stdin=subprocess.PIPE, text=True)
    try:
        write_instance(a, "opens", {
            "image": "trace_open", "params": {"pid": str(gen.pid)},
            "annotate": ["open:metrics.collect=true", "open:metrics.implicit-counter.name=opens",
                         "open.fname:metrics.type=key"],
            "otelMetricsName": ["open:bounded"]})
        a.start()
        # the instance starts after the agent listens: opens made before it runs are not seen
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rc, lst = a.answer("list")
            if lst["instances"] and lst["instances"][0]["state"] == "INSTANCE_RUNNING":
                break
            time.sleep(0.05)
        gen.stdin.write("go\n")
        gen.stdin.flush()
        gen.wait(30)
        deadline = time.monotonic() + 15
        inst = {}
        while time.monotonic() < deadline and inst.get("metrics_dropped", 0) < 37:
            rc, lst = a.answer("list")
            inst = lst["instances"][0]
            time.sleep(0.2)
        assert inst["metrics_series"] == 3 and inst["metrics_dropped"] == 37, inst
        text = scrape(mport, a.net)
        assert 'gadget_metrics_dropped_series_total{run="instance opens"} 37' in text, text
    finally:
        if gen.poll() is None:
            gen.kill()


# ---------------------------------------------------------------- histograms


def test_histogram_count_is_the_block_ios_caused(loopdev, prometheus, tmp_path):  # noqa: F811
    """profile_blockio per disk: the _count of our loop device's series is
    exactly the number of O_DIRECT writes the test made to it."""
    rdev = os.stat(loopdev).st_rdev
    dev = (os.major(rdev) << 20) | os.minor(rdev)  # the kernel's MKDEV, as the gadget shows it
    port = free_port()
    p = subprocess.Popen([IG, "run", "profile_blockio", "-o", "json", "--per-disk",
                          "--map-fetch-interval", "300ms",
                          "--annotate", "blockio.dev:metrics.type=key",
                          "--otel-metrics-name", "blockio:blockio-test", "--otel-metrics-listen",
                          "--otel-metrics-listen-address", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    prom = prometheus([f"127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                scrape(port)
                break
            except OSError:
                time.sleep(0.1)
        write_direct(loopdev, WRITES)
        q = f'blockio_test_latency_seconds_count{{dev="{dev}"}}'
        assert prom.wait_value(q, WRITES) == WRITES, (prom.query(q), scrape(port)[-2000:])
        # the buckets add up to the count, +Inf last
        q = f'blockio_test_latency_seconds_bucket{{dev="{dev}",le="+Inf"}}'
        assert prom.wait_value(q, WRITES) == WRITES
        promtool_ok(scrape(port))
    finally:
        p.terminate()
        p.wait(20)
