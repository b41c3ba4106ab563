# SPDX-License-Identifier: Apache-2.0
"""Gadget metrics (docs/metrics.md): what counting and serving them costs.

The per-event cost of counting trace_open records as metrics, and the
highest rate it holds, are measured by bench/run.py itself (the subject
ig-metrics, beside ig-json).  This module measures the two costs that only
metrics have:

  1. A map-iterator metrics gadget under load.  One `gadget-agent` runs as on
     a node (a private containerd with one pod, tests/integration/containerd.py;
     no Kubernetes API, instances in --state-dir) with `otel-metrics-listen`
     and one instance of top_file whose counters (reads, rbytes, writes,
     wbytes per file) are exported (`annotate: file:metrics.collect=true`,
     `otelMetricsName: file:NAME`).  bench/loadgen/rw_loop reads 64 bytes of
     one file RATE times a second for LOAD_MS on CPU 0; the agent runs on
     CPU 1.  The agent's CPU over the load (utime+stime from /proc/PID/stat,
     and sum_exec_runtime from /proc/PID/task/*/schedstat for a finer
     figure) per second of load, as a share of one core; the same over an
     idle window of the same length just before, for the agent's own
     baseline; and, from a scrape after the next fetch, the file's
     reads_total against the reads made.

  2. A scrape of SERIES series.  trace_open with the file name as the key of
     an implicit counter, keeping only the records of the load's command
     (a static build of open_loop named after a token of the run, so that
     no other process, nor its dynamic loader, adds series), once in
     `ig run --otel-metrics-listen` and once as an agent instance.  First a
     warm-up of WARM_OPENS opens of one file of the set (which also touches
     every page of the ring buffer: those count as RSS too, but are no
     series' cost), then VmRSS; then open_loop opens each of the SERIES
     files once; SETTLE_S later (records reach the registry within a drain
     interval), VmRSS again, before any scrape; then SCRAPES GETs of
     /metrics, each timed from connect to the last byte (the client runs on
     the server's CPU, as the harness does), with the server's CPU time
     over them (schedstat: steadier than the wall clock on a shared
     machine), and VmRSS after them.  The last
     scrape must show SERIES series, each counting one open.  Extra RSS:
     after the scrapes against before the series.

Standard library only, plus the containerd harness (python3-pytest).  Use
from bench/run.py (BENCH_ONLY=metrics) or alone:
    /usr/bin/python3 bench/metrics.py
"""

import http.client
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, status_kb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IG = os.environ.get("BENCH_IG") or os.path.join(REPO, "build", "bin", "ig")
AGENT = os.environ.get("BENCH_AGENT") or os.path.join(REPO, "build", "bin", "gadget-agent")
GADGETS = os.path.join(REPO, "build", "gadgets")
STORE = os.path.join(REPO, "build", "oci-store")
LOADGEN_SRC = os.path.join(REPO, "bench", "loadgen", "open_loop.c")
RW_LOOP = os.path.join(REPO, "build", "bench", "rw_loop")
RATE = int(os.environ.get("BENCH_METRICS_RATE", "250000"))
SERIES = int(os.environ.get("BENCH_METRICS_SERIES", "10000"))
SCRAPES = int(os.environ.get("BENCH_METRICS_SCRAPES", "20"))
WARM_OPENS = 30000
LOAD_CPU = 0
SERVER_CPU = 1
# A paced run counts as reaching its target when it generates this share of it.
RATE_REACHED = 0.97
READY_TIMEOUT_S = 30.0
SETTLE_S = 1.0
# The instance's map is read and cleared every second (the default
# map-fetch-interval): wait a little longer for the fetch after the load.
FETCH_S = 1.0
TARGET_CPU_SHARE = 0.01
TARGET_SCRAPE_MS = 50.0
TARGET_EXTRA_MB = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Failed(Exception):
    """The section cannot be measured here; the message says why."""






def stat_ticks(pid):
    """utime + stime of the process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def sched_ns(pid):
    """sum_exec_runtime over the process's threads, in ns (0 where not kept)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def scrape(port, timeout=10):
    """GET /metrics: (milliseconds from connect to the last byte, body)."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise Failed(f"/metrics answered {r.status}: {body[:200]!r}")
    finally:
        c.close()
    return (time.perf_counter() - t0) * 1000, body.decode("utf-8", "replace")


def samples(text, family):
    """{labels: value} of one family's samples in an exposition."""
    out = {}
    pat = re.compile(r"^" + re.escape(family) + r"\{(.*)\} (\S+)$")
    for line in text.splitlines():
        m = pat.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def run_load(argv, timeout):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise Failed(f"{os.path.basename(argv[0])}: exit {p.returncode}: {p.stderr.strip()}")
    kv = {}
    for tok in p.stdout.split():
        k, _, v = tok.partition("=")
        kv[k] = float(v) if "." in v else int(v)
    return kv


# ---------------------------------------------------------------------------
# The servers: gadget-agent with instance files, and ig run.

class Agent:
    """One gadget-agent on a plain host (no Kubernetes API) with the given
    instances in its --state-dir, serving gadget metrics on mport."""

    def __init__(self, work, name, cri_socket, instances):
        self.dir = os.path.join(work, name)
        state = os.path.join(self.dir, "state")
        os.makedirs(os.path.join(state, "instances"))
        self.hport, self.mport = free_port(), free_port()
        self.unix = os.path.join(self.dir, "agent.sock")
        cfg = os.path.join(self.dir, "agent.yaml")
        # in the host's network namespace the control API is the unix socket only
        with open(cfg, "w") as f:
            f.write(f"""listen:
  address: ""
  unixSocket: {self.unix}
health:
  address: 127.0.0.1:{self.hport}
oci:
  storeDir: {STORE}
runtimes:
  - name: containerd
    socketPath: {cri_socket}
otel-metrics-listen: true
otel-metrics-listen-address: 127.0.0.1:{self.mport}
""")
        for iname, text in instances.items():
            with open(os.path.join(state, "instances", iname + ".yaml"), "w") as f:
                f.write(text)
        self.log_path = os.path.join(self.dir, "agent.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([AGENT, "--config", cfg, "--node-name", "bench-node",
                                      "--state-dir", state], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return " / ".join(f.read().decode(errors="replace").splitlines()[-3:])
        except OSError:
            return ""

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class IgRun:
    """`ig run GADGET ARGS --otel-metrics-listen` with stdout to /dev/null."""

    def __init__(self, work, args):
        self.mport = free_port()
        self.err_path = os.path.join(work, "ig.err")
        self.err = open(self.err_path, "wb")
        argv = [IG, "run"] + args + ["--otel-metrics-listen", "--otel-metrics-listen-address",
                                     f"127.0.0.1:{self.mport}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.err,
                                     stdin=subprocess.DEVNULL, env=dict(os.environ,
                                                                        IG_GADGETS=GADGETS))
        self.pid = self.proc.pid

    def log_tail(self):
        try:
            with open(self.err_path, "rb") as f:
                return " / ".join(f.read().decode(errors="replace").splitlines()[-3:])
        except OSError:
            return ""

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def wait_family(srv, family, timeout=READY_TIMEOUT_S):
    """Until a scrape of srv shows the family (its # TYPE line)."""
    deadline = time.monotonic() + timeout
    want = f"# TYPE {family} "
    while time.monotonic() < deadline:
        if not srv.running():
            raise Failed(f"exited: {srv.log_tail()}")
        try:
            _, text = scrape(srv.mport, timeout=2)
            if want in text:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise Failed(f"{family} not served after {timeout:.0f} s: {srv.log_tail()}")


# ---------------------------------------------------------------------------
# 1. The map-iterator gadget under load.

def top_file_instance(scope):
    return f"""name: files
image: top_file
annotate:
  - file:metrics.collect=true
otelMetricsName:
  - file:{scope}
"""


def agent_cpu_round(work, cri_socket, load_ms, rnd, log):
    scope = "bench_files"
    path = os.path.join(work, f"rw-{rnd}")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    agent = Agent(work, f"agent-cpu-{rnd}", cri_socket, {"files": top_file_instance(scope)})
    try:
        wait_family(agent, f"{scope}_reads_total")
        # the load's file must be counted before the windows start: the
        # first fetch that sees it creates its series
        run_load([RW_LOOP, "-f", path, "-c", "1000", "-C", str(LOAD_CPU)], 60)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not any(f'file="{path}"' in k for k in
                      samples(scrape(agent.mport)[1], f"{scope}_reads_total")):
            if time.monotonic() > deadline:
                raise Failed(f"top_file never counted {path}: {agent.log_tail()}")
            time.sleep(0.2)
        before = samples(scrape(agent.mport)[1], f"{scope}_reads_total")
        reads0 = next(v for k, v in before.items() if f'file="{path}"' in k)
        # idle: the same length as the load, right before it
        t0, s0, w0 = stat_ticks(agent.pid), sched_ns(agent.pid), time.monotonic()
        time.sleep(load_ms / 1000)
        t1, s1, w1 = stat_ticks(agent.pid), sched_ns(agent.pid), time.monotonic()
        load = run_load([RW_LOOP, "-f", path, "-t", str(load_ms), "-r", str(RATE),
                         "-C", str(LOAD_CPU)], load_ms / 1000 + 60)
        t2, s2, w2 = stat_ticks(agent.pid), sched_ns(agent.pid), time.monotonic()
        time.sleep(FETCH_S + 0.5)
        after = samples(scrape(agent.mport)[1], f"{scope}_reads_total")
        reads1 = next(v for k, v in after.items() if f'file="{path}"' in k)
        res = {
            "idle_s": w1 - w0, "load_s": w2 - w1,
            "idle_cpu_share": (t1 - t0) / CLK_TCK / (w1 - w0),
            "idle_sched_share": (s1 - s0) / 1e9 / (w1 - w0),
            "load_cpu_share": (t2 - t1) / CLK_TCK / (w2 - w1),
            "load_sched_share": (s2 - s1) / 1e9 / (w2 - w1),
            "reads": load["count"], "rate": load["rate"],
            "reached": load["rate"] >= RATE_REACHED * RATE,
            "load_cpu_ns_per_call": load["cpu_ns"] / max(load["count"], 1),
            "counted": reads1 - reads0, "series": len(after),
            "rss_mb": status_kb(agent.pid, "VmRSS") / 1024,
        }
        if not agent.running():
            raise Failed(f"gadget-agent exited: {agent.log_tail()}")
        return res
    finally:
        agent.stop()


# ---------------------------------------------------------------------------
# 2. A scrape of SERIES series.

def trace_open_instance(scope, comm):
    return f"""name: opens
image: trace_open
params:
  comm: "{comm}"
annotate:
  - open:metrics.collect=true
  - open:metrics.implicit-counter.name=opens
  - open.fname:metrics.type=key
otelMetricsName:
  - open:{scope}
"""


def scrape_round(srv, scope, files, loader, prefix):
    family = f"{scope}_opens_total"
    first = os.path.join(files, f"{prefix}{0:05d}")
    wait_family(srv, family)
    # until the run counts the load's command (attached and filtering),
    # then the warm-up; both open one file of the set only
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not samples(scrape(srv.mport)[1], family):
        if time.monotonic() > deadline or not srv.running():
            raise Failed(f"no record of {os.path.basename(loader)} counted: {srv.log_tail()}")
        run_load([loader, "-d", files, "-p", prefix, "-n", "1", "-c", "100",
                  "-C", str(LOAD_CPU)], 60)
        time.sleep(0.2)
    run_load([loader, "-d", files, "-p", prefix, "-n", "1", "-c", str(WARM_OPENS),
              "-C", str(LOAD_CPU)], 120)
    time.sleep(0.5)
    ms0, text0 = scrape(srv.mport)
    rss0 = status_kb(srv.pid, "VmRSS")
    anon0 = status_kb(srv.pid, "RssAnon")
    run_load([loader, "-d", files, "-p", prefix, "-n", str(SERIES), "-c", str(SERIES),
              "-C", str(LOAD_CPU)], 120)
    # records reach the registry within a drain interval (10 ms): the RSS
    # of the series is read before any scrape builds a body for them
    time.sleep(SETTLE_S)
    rss1 = status_kb(srv.pid, "VmRSS")
    anon1 = status_kb(srv.pid, "RssAnon")
    times, size, text = [], 0, ""
    cpu0 = sched_ns(srv.pid)
    for _ in range(SCRAPES):
        ms, text = scrape(srv.mport)
        times.append(ms)
        size = len(text.encode())
    cpu1 = sched_ns(srv.pid)
    rss2 = status_kb(srv.pid, "VmRSS")
    anon2 = status_kb(srv.pid, "RssAnon")
    got = samples(text, family)
    odd = [(k, v) for k, v in got.items() if v != 1 and first not in k]
    if len(got) != SERIES or odd:
        raise Failed(f"the scrape has {len(got)} series of {family}, not {SERIES} counting "
                     f"one open each (e.g. {odd[:2]})")
    return {
        "series": len(got), "bytes": size, "lines": text.count("\n"),
        "empty_scrape_ms": ms0, "scrape_ms": statistics.median(times),
        "scrape_ms_min": min(times), "scrape_ms_max": max(times),
        "server_cpu_ms": (cpu1 - cpu0) / 1e6 / SCRAPES,
        "rss_before_mb": rss0 / 1024, "rss_series_mb": rss1 / 1024, "rss_after_mb": rss2 / 1024,
        "series_mb": (rss1 - rss0) / 1024, "extra_mb": (rss2 - rss0) / 1024,
        "anon_series_mb": (anon1 - anon0) / 1024, "anon_extra_mb": (anon2 - anon0) / 1024,
        "bytes_per_series": (anon1 - anon0) * 1024 / SERIES,
    }


def scrape_rounds(work, cri_socket, rounds, log):
    files = os.path.join(work, "files")
    os.makedirs(files)
    token = "m" + secrets.token_hex(3)
    prefix = token + "f"
    for i in range(SERIES):
        open(os.path.join(files, f"{prefix}{i:05d}"), "w").close()
    # a command no other process on the machine has: the runs keep only its
    # opens; static, so that no dynamic loader opens its libraries
    loader = os.path.join(work, "igm" + token)
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-O2", "-static", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                        "-D_GNU_SOURCE", "-o", loader, LOADGEN_SRC],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failed("cannot build a static open_loop: " + p.stderr.strip()[-300:])
    comm = os.path.basename(loader)[:15]
    out = {"ig": [], "agent": []}
    for r in range(rounds):
        for who in ("ig", "agent"):
            scope = f"bench_{who}_{r}"
            if who == "ig":
                srv = IgRun(work, ["trace_open", "-o", "json", "--comm", comm,
                                   "--annotate", "open:metrics.collect=true",
                                   "--annotate", "open:metrics.implicit-counter.name=opens",
                                   "--annotate", "open.fname:metrics.type=key",
                                   "--otel-metrics-name", f"open:{scope}"])
            else:
                srv = Agent(work, f"agent-scrape-{r}", cri_socket,
                            {"opens": trace_open_instance(scope, comm)})
            try:
                res = scrape_round(srv, scope, files, loader, prefix)
            finally:
                srv.stop()
            out[who].append(res)
            log(f"metrics: scrape round {r + 1} {who}: {res['scrape_ms']:.1f} ms for "
                f"{res['series']} series ({res['bytes']} bytes), RSS +{res['extra_mb']:.1f} MB "
                f"(series +{res['series_mb']:.1f} MB)")
    return out


# ---------------------------------------------------------------------------

def med(trials, key):
    vals = [t[key] for t in trials if t.get(key) is not None]
    return statistics.median(vals) if vals else None


def measure(rounds, log, quick=False):
    for b in (AGENT, IG, RW_LOOP):
        if not os.access(b, os.X_OK):
            return {"skipped": f"{os.path.relpath(b, REPO)} is not built"}
    load_ms = int(os.environ.get("BENCH_METRICS_LOAD_MS", "3000" if quick else "10000"))
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    try:
        import containerd as harness  # noqa: E402  (needs pytest)
    except Exception as e:
        return {"skipped": f"harness unavailable: {e}"}
    work = tempfile.mkdtemp(prefix="ig-bench-metrics-")
    c = harness.Containerd()
    try:
        c.start()
        c.import_image()
        pod = c.run_pod("metrics-bench", "bench")
        c.run_container("sleeper", pod, ["sleep", "3600"])
        cpu = []
        for r in range(rounds):
            cpu.append(agent_cpu_round(work, c.socket, load_ms, r, log))
            t = cpu[-1]
            log(f"metrics: agent round {r + 1}: {t['rate']:.0f} reads/s, agent "
                f"{t['load_cpu_share'] * 100:.2f}% of a core under load "
                f"({t['idle_cpu_share'] * 100:.2f}% idle), counted {t['counted']:.0f} "
                f"of {t['reads']}")
        scrapes = scrape_rounds(work, c.socket, rounds, log)
    except (Failed, RuntimeError, OSError, subprocess.SubprocessError) as e:
        return {"skipped": str(e)}
    finally:
        c.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    res = {"rate": RATE, "load_ms": load_ms, "series": SERIES, "scrapes": SCRAPES,
           "warm_opens": WARM_OPENS, "agent_cpu": {"trials": cpu, "median": {}},
           "scrape": {}}
    for k in ("idle_cpu_share", "idle_sched_share", "load_cpu_share", "load_sched_share",
              "rate", "load_cpu_ns_per_call", "rss_mb"):
        res["agent_cpu"]["median"][k] = med(cpu, k)
    # the target is judged at the rate the median round generated
    res["agent_cpu"]["median"]["reached"] = (res["agent_cpu"]["median"]["rate"]
                                             >= RATE_REACHED * RATE)
    res["agent_cpu"]["median"]["rounds_short"] = sum(1 for t in cpu if not t["reached"])
    res["agent_cpu"]["median"]["counted_share"] = min(t["counted"] / max(t["reads"], 1)
                                                      for t in cpu)
    for who, trials in scrapes.items():
        res["scrape"][who] = {"trials": trials, "median": {
            k: med(trials, k) for k in trials[0]}}
    return res


def verdict(ok):
    return "met" if ok else "MISSED"


def render(res):
    out = ["## Gadget metrics\n"]
    if "skipped" in res:
        out.append(f"Skipped: {res['skipped']}\n")
        return out
    a = res["agent_cpu"]["median"]
    n = len(res["agent_cpu"]["trials"])
    out.append(
        "The per-event cost of counting records as metrics is the subject `ig-metrics` of "
        "sections 1 and 2. Here: a map-iterator metrics gadget in the node agent, and a "
        "scrape of many series. Medians of %d rounds.\n" % n)
    out.append(
        "**Map iterator under load.** `gadget-agent` (a private containerd with one pod, no "
        "Kubernetes API) runs one instance of `top_file` exporting its counters per file "
        "(`annotate: file:metrics.collect=true`, `otelMetricsName: file:NAME`; the map is read "
        "and cleared every second). `rw_loop` reads 64 bytes of one file, paced at "
        f"{res['rate'] // 1000}k calls/s for {res['load_ms'] / 1000:.0f} s on CPU 0; the agent "
        "is on CPU 1. Its CPU (utime+stime from `/proc/PID/stat`; in brackets "
        "`sum_exec_runtime` from `schedstat`) per second of the load, as a share of one core, "
        "and the same over an idle window of the same length just before.\n")
    share = a["load_cpu_share"]
    out.append("| measure | median |\n|---|---|")
    short = (f" ({a['rounds_short']} of {n} rounds short of {res['rate']}/s)"
             if a["rounds_short"] else "")
    out.append(f"| reads generated per second | {a['rate']:.0f} /s{short} |")
    out.append(f"| agent CPU under the load (target < {TARGET_CPU_SHARE * 100:.0f}% of a core: "
               f"{verdict(share < TARGET_CPU_SHARE)}) | {share * 100:.2f}% "
               f"({a['load_sched_share'] * 100:.2f}%) |")
    out.append(f"| agent CPU idle, same length | {a['idle_cpu_share'] * 100:.2f}% "
               f"({a['idle_sched_share'] * 100:.2f}%) |")
    out.append(f"| load generator's CPU per read (the gadget's in-kernel work is charged here) "
               f"| {a['load_cpu_ns_per_call']:.0f} ns |")
    out.append(f"| reads_total of the file against the reads made (lowest of the rounds) | "
               f"{a['counted_share'] * 100:.4f}% |")
    out.append(f"| agent RSS after the load | {a['rss_mb']:.1f} MB |")
    out.append("")
    out.append(
        f"**A scrape of {res['series']:,} series.** `trace_open` with `fname` as the key of an "
        "implicit counter, keeping only the opens of the load's command (a static "
        "`open_loop` under a name unique to the run): in `ig run --otel-metrics-listen`, and "
        "as an agent instance (`params: {comm: ...}`). After a warm-up of "
        f"{res['warm_opens']:,} opens of one file of the set (it fills the ring buffer, whose "
        f"pages are RSS too), `open_loop` opens each of the {res['series']:,} files once; "
        f"then {res['scrapes']} GETs of `/metrics`, each timed from connect to the last byte "
        "(the client on the server's CPU), and the server's CPU time over them "
        "(`schedstat`); the last must show every series counting one open. Extra RSS: "
        "VmRSS after the scrapes against before the series; the series alone:"
        f" VmRSS {SETTLE_S:.0f} s after the opens, before any scrape, and the heap "
        "(RssAnon) that grew, per series.\n")
    rows = []
    for who, label in (("ig", "`ig run`"), ("agent", "`gadget-agent` instance")):
        e = res["scrape"].get(who)
        if not e:
            continue
        m = e["median"]
        rows.append(
            f"| {label} | {m['scrape_ms']:.1f} ms ({m['scrape_ms_min']:.1f}-"
            f"{m['scrape_ms_max']:.1f}): {verdict(m['scrape_ms'] < TARGET_SCRAPE_MS)} | "
            f"{m['server_cpu_ms']:.1f} ms | {m['empty_scrape_ms']:.1f} ms | "
            f"{m['bytes'] / 1024:.0f} KiB | "
            f"+{m['extra_mb']:.1f} MB: {verdict(m['extra_mb'] < TARGET_EXTRA_MB)} | "
            f"+{m['series_mb']:.1f} MB ({m['bytes_per_series']:.0f} B) | "
            f"{m['rss_after_mb']:.1f} MB |")
    out.append(f"| server | scrape (target < {TARGET_SCRAPE_MS:.0f} ms; min-max) | "
               "server CPU per scrape | scrape before the series | body | extra RSS (target < "
               f"{TARGET_EXTRA_MB:.0f} MB) | of which the series (heap per series) | "
               "RSS after |")
    out.append("|---|---|---|---|---|---|---|---|")
    out += rows
    out.append("")
    return out


if __name__ == "__main__":
    import json
    os.sched_setaffinity(0, {SERVER_CPU})
    r = measure(int(os.environ.get("BENCH_ROUNDS", "3")),
                lambda s: print(s, file=sys.stderr),
                quick=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    print(json.dumps(r, indent=1))
    print("\n".join(render(r)))
