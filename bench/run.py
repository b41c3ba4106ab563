#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark harness behind `make bench`.

It compares `ig run` with the tools people already use for the same job
(libbpf-tools opensnoop/execsnoop, bpftrace) and with no tracer at all, on
this machine, side by side in one run:

  1. per-event cost: an openat+close loop (and a fork+exec loop) on CPU 0,
     the tracer on CPU 1; the added nanoseconds per call, the events the
     tracer printed against the events generated, the losses it reported and
     the CPU it used per event;
  2. the highest paced rate a tracer holds without losing an event;
  3. start-up: spawn to first printed record, and peak RSS.

Each measurement is repeated N times with the subjects interleaved, and the
medians are reported.  Raw numbers go to build/bench/results.json, the
report to docs/benchmarks.md.  Standard library only.

Environment:
  BENCH_QUICK=1       a ~2 minute smoke run (fewer rounds, shorter loads)
  BENCH_ROUNDS=N      repetitions per measurement (default 5, quick 2)
  BENCH_LOAD_MS=MS    length of one load run (default 2000, quick 1000)
  BENCH_ONLY=a,b      run only these measurements: open, exec, rate, startup,
                      containers (bench/containers.py), k8s (bench/k8s_scale.py),
                      agent (bench/agent.py), enrich (bench/enrich.py), dns (bench/dns.py),
                      metrics (bench/metrics.py), cluster (bench/cluster.py)
  BENCH_SUBJECTS=a,b  run only these subjects (and the no-tracer baselines)
  BENCH_IG=PATH       the ig binary to measure (default build/bin/ig)
  BENCH_RENDER=1      measure nothing: write the report again from the last
                      results.json, the targets judged anew
"""

import atexit
import dataclasses
import datetime
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import free_port

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, "build", "bench")
IG = os.environ.get("BENCH_IG") or os.path.join(REPO, "build", "bin", "ig")
GADGETS = os.path.join(REPO, "build", "gadgets")
FLOOR = os.path.join(BUILD, "floor")
# The design notes live beside the repository while it is being written.
DESIGN_CANDIDATES = [os.path.join(REPO, "docs", "DESIGN.md"), os.path.join(REPO, "DESIGN.md"),
                     os.path.join(os.path.dirname(REPO), "shared", "DESIGN.md")]
REPORT = os.path.join(REPO, "docs", "benchmarks.md")
RESULTS = os.path.join(BUILD, "results.json")

LOAD_CPU = 0
TRACER_CPU = 1
LOADGEN_FILES = 1000
# How long a tracer may take to attach before it is declared not working.
# bpftrace compiles with LLVM first, which takes most of a second here.
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
# A tracer has drained once it printed no event of the load for this long
# (a tracer on a loaded 2-CPU machine can stall for a few hundred ms), or,
# with a /dev/null sink, once it uses under DRAIN_IDLE_CPU of a CPU.
DRAIN_QUIET_S = 1.0
DRAIN_IDLE_CPU = 0.1
DRAIN_MAX_S = 10.0
MAX_RATES = [50000, 100000, 250000, 500000]
# A paced run counts as reaching its target when it generates this share of it.
RATE_REACHED = 0.97
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The harness reads tracer output in pieces of this size, to stay small: a
# big harness would also inflate its children's ru_maxrss (see
# trial_startup()).
READ_CHUNK = 1 << 20


@dataclasses.dataclass
class Config:
    quick: bool
    rounds: int
    load_ms: int
    rate_ms: int
    rate_rounds: int
    only: set

    @staticmethod
    def from_env():
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        rounds = int(os.environ.get("BENCH_ROUNDS", "2" if quick else "5"))
        load_ms = int(os.environ.get("BENCH_LOAD_MS", "1000" if quick else "2000"))
        only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
        return Config(quick=quick, rounds=max(1, rounds), load_ms=max(100, load_ms),
                      rate_ms=1000 if quick else 2000,
                      rate_rounds=1 if quick else min(3, max(1, rounds)), only=only)

    def wants(self, what):
        return not self.only or what in self.only


@dataclasses.dataclass
class Subject:
    """One command line under test.

    kind:   "open" or "exec": which load generator it is measured against.
    sink:   "file" (stdout to a file, events counted) or "null" (/dev/null).
    ready:  how to know it is attached: "marker" (generate marker events until
            one shows up in its output), "line" (wait for ready_re in its
            output), "delay" (sleep delay_s; for /dev/null sinks), or "none".
    counts: "lines" (count output lines naming the load's token), "map"
            (parse the in-kernel total printed at exit with map_re), or None.
    metrics: (port, family, label): the subject serves gadget metrics on
            port; after each run the harness scrapes it and sums the
            family's samples carrying label (what it counted of the load).
    lost_re: a regex matching loss reports in stdout, group 1 the count;
            losses on stderr are always parsed (parse_lost()).
    alternatives: other command lines to try when argv does not attach.
    startup: also measured for start-up time (measurement 3).
    skip:   why it is not measured, when it is not (set before or by preflight).
    attach_s: spawn to attached, seen in preflight.
    """
    name: str
    label: str
    argv: list = None
    kind: str = "open"
    sink: str = "file"
    ready: str = "marker"
    ready_re: str = ""
    delay_s: float = 0.0
    counts: str = "lines"
    map_re: str = ""
    lost_re: str = ""
    is_ig: bool = False
    metrics: tuple = None
    alternatives: list = dataclasses.field(default_factory=list)
    skip: str = ""
    startup: bool = False
    attach_s: float = None

    @property
    def baseline(self):
        return self.argv is None


class StartError(Exception):
    """A subject did not attach; the message says why."""


# ---------------------------------------------------------------------------
# Children: every tracer runs in its own process group and is killed on exit.

LIVE = set()


class Tracer:
    """A tracer child in its own process group, with its stdout and stderr
    redirected (to files, /dev/null or a pty) at spawn time."""

    def __init__(self, argv, stdout, stderr_path, env=None):
        actions = []
        if isinstance(stdout, int):
            actions.append((os.POSIX_SPAWN_DUP2, stdout, 1))
        else:
            actions.append((os.POSIX_SPAWN_OPEN, 1, stdout,
                            os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        actions.append((os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0))
        actions.append((os.POSIX_SPAWN_OPEN, 2, stderr_path,
                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        self.argv = argv
        self.stderr_path = stderr_path
        self.status = None
        self.rusage = None
        self.stuck = None
        self.resent = 0
        self.spawned_at = time.monotonic()
        self.pid = os.posix_spawnp(argv[0], argv, env or os.environ,
                                   file_actions=actions, setpgroup=0)
        LIVE.add(self)

    def running(self):
        if self.status is not None:
            return False
        # Peek without reaping: while the leader is a zombie its pid, and so
        # the group id, cannot be reused, and killpg() stays safe.
        if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return True
        self._reap()
        return False

    def _reap(self):
        # Anything the tracer left behind in its group goes too.
        self._signal(signal.SIGKILL)
        _, status, ru = os.wait4(self.pid, 0)
        self.status = status
        self.rusage = ru
        LIVE.discard(self)

    def exit_text(self):
        if self.status is None:
            return "running"
        if self.stuck:
            return "ignored SIGINT, killed (%s)" % self.stuck
        if os.WIFSIGNALED(self.status):
            return "killed by signal %d" % os.WTERMSIG(self.status)
        return "exit status %d" % os.waitstatus_to_exitcode(self.status)

    def _group(self):
        """(pid, stat fields after the command name) of every live process
        in the tracer's process group: a tracer may be a wrapper script or
        fork helpers, and their cost is its cost."""
        procs = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.pid:
                    procs.append((int(entry), fields))
            except (OSError, IndexError, ValueError):
                continue
        return procs

    def cpu_ticks(self):
        """User and system CPU of the process group so far, in clock ticks:
        utime+stime of each member, plus what the leader has reaped of its
        exited children (cutime, cstime)."""
        user = system = 0
        procs = self._group()
        for pid, fields in procs:
            user += int(fields[11])
            system += int(fields[12])
            if pid == self.pid:
                user += int(fields[13])
                system += int(fields[14])
        return (user, system) if procs else None

    def vm_hwm_kb(self):
        """Peak RSS (VmHWM) summed over the process group."""
        total = None
        for pid, _ in self._group():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            total = (total or 0) + int(line.split()[1])
            except (OSError, ValueError, IndexError):
                continue
        return total

    def stop(self, timeout=STOP_TIMEOUT_S, pump=None):
        """SIGINT, as a user's Ctrl-C; SIGKILL after timeout.  Returns True
        when the tracer exited on its own after SIGINT.  pump, when given,
        is called while waiting (to keep draining a pty the tracer writes)."""
        if self.status is not None:
            return False
        self._signal(signal.SIGINT)
        start = time.monotonic()
        resent = start
        while time.monotonic() < start + timeout:
            if not self.running():
                return True
            # bpftrace 0.17 now and then misses a SIGINT that arrives just
            # after it attached (it stays in epoll_wait): ask again.
            if time.monotonic() - resent >= 1.0:
                self.resent += 1
                self._signal(signal.SIGINT)
                resent = time.monotonic()
            if pump:
                pump(0.01)
            else:
                time.sleep(0.01)
        self.stuck = self._where()
        self.kill()
        return False

    def _where(self):
        """What the tracer was doing when it ignored SIGINT, for the notes."""
        parts = []
        for pid, fields in self._group():
            try:
                with open("/proc/%d/wchan" % pid) as f:
                    wchan = f.read().strip() or "-"
            except OSError:
                wchan = "?"
            parts.append("pid %d state %s wchan %s" % (pid, fields[0], wchan))
        return "; ".join(parts)

    def kill(self):
        if self.status is not None:
            return
        self._reap()

    def _signal(self, sig):
        try:
            os.killpg(self.pid, sig)
        except OSError:
            pass

    def stderr_text(self, limit=65536):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""


def kill_all_children():
    for t in list(LIVE):
        t.kill()


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------
# Small helpers.

def tail_line(text):
    """The last non-empty line of text, stripped of the noise bpftrace prints
    about RLIMIT_MEMLOCK on every start."""
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and "RLIMIT_MEMLOCK" not in ln]
    return lines[-1][:200] if lines else ""


def exited_text(t):
    """Why a tracer went away: its exit status and last stderr line."""
    last = tail_line(t.stderr_text())
    return "%s: %s" % (t.exit_text(), last) if last else t.exit_text()


def parse_kv(text):
    out = {}
    for tok in text.split():
        k, sep, v = tok.partition("=")
        if sep:
            try:
                out[k] = float(v) if "." in v else int(v)
            except ValueError:
                out[k] = v
    return out


def parse_lost(text):
    """Losses a tracer reported on stderr: the sum of the first number on
    each line mentioning loss ("Lost 12 events on CPU #1", "12 records lost
    on 'open'"), unless it also printed a grand total ("... lost in total
    ..."), which then wins.  None when no line mentions loss."""
    increments = totals = None
    for line in text.splitlines():
        if not re.search(r"lost", line, re.I):
            continue
        m = re.search(r"\d+", line)
        if not m:
            continue
        if re.search(r"\btotal\b", line, re.I):
            totals = max(totals or 0, int(m.group()))
        else:
            increments = (increments or 0) + int(m.group())
    return totals if totals is not None else increments


def scan_output(path, token, lost_re=""):
    """Counts the lines naming token, and sums the losses reported in the
    output itself (bpftrace prints "Lost N events" on stdout); the sum is
    None when lost_re is empty or never matched."""
    token = token.encode()
    lost_pat = re.compile(lost_re.encode()) if lost_re else None
    n, lost = 0, None
    with open(path, "rb") as f:
        for line in f:
            if token in line:
                n += 1
            elif lost_pat:
                m = lost_pat.match(line)
                if m:
                    lost = (lost or 0) + int(m.group(1))
    return n, lost


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def run_checked(argv, timeout):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (os.path.basename(argv[0]), p.returncode,
                                                tail_line(p.stderr)))
    return p.stdout


# ---------------------------------------------------------------------------
# The workspace: load generators, the files they open, unique tokens.

class Workspace:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="igb", dir="/tmp")
        self.token = "igb" + secrets.token_hex(3)
        self.load_dir = os.path.join(self.dir, "o")
        self.marker_dir = os.path.join(self.dir, "m")
        os.mkdir(self.load_dir)
        os.mkdir(self.marker_dir)
        # Created here, before any tracer runs, so that creating them is not
        # counted; open_loop opens <load_dir>/<token>o00000 ...
        for i in range(LOADGEN_FILES):
            with open(os.path.join(self.load_dir, "%so%05d" % (self.token, i)), "w"):
                pass
        self.marker_seq = 0
        self.open_loop = os.path.join(BUILD, "open_loop")
        self.exec_loop = os.path.join(BUILD, "exec_loop")

    @property
    def load_token(self):
        return self.token + "o"

    @property
    def exec_token(self):
        # exec_loop -k TOKEN runs "true TOKEN-N": the dash keeps exec_loop's
        # own exec event (whose arguments hold TOKEN) out of the count.
        return self.token + "x-"

    @property
    def marker_token(self):
        return self.token + "m"

    def next_marker(self):
        self.marker_seq += 1
        return "%s%06d" % (self.marker_token, self.marker_seq)

    def fire_marker(self, kind):
        """One event of the given kind carrying a fresh marker name."""
        name = self.next_marker()
        if kind == "exec":
            pid = os.posix_spawn("/bin/true", ["true", name], os.environ)
            os.waitpid(pid, 0)
        else:
            fd = os.open(os.path.join(self.marker_dir, name), os.O_RDONLY | os.O_CREAT, 0o644)
            os.close(fd)

    def out_path(self, name):
        return os.path.join(self.dir, name)

    def run_open_loop(self, duration_ms, rate=0):
        argv = [self.open_loop, "-d", self.load_dir, "-p", self.load_token,
                "-n", str(LOADGEN_FILES), "-t", str(duration_ms), "-C", str(LOAD_CPU)]
        if rate:
            argv += ["-r", str(rate)]
        return parse_kv(run_checked(argv, timeout=duration_ms / 1000 + 60))

    def run_exec_loop(self, duration_ms):
        argv = [self.exec_loop, "-k", self.exec_token[:-1], "-t", str(duration_ms),
                "-C", str(LOAD_CPU)]
        return parse_kv(run_checked(argv, timeout=duration_ms / 1000 + 60))

    def run_load(self, kind, duration_ms, rate=0):
        if kind == "exec":
            return self.run_exec_loop(duration_ms)
        return self.run_open_loop(duration_ms, rate)

    def token_for(self, kind):
        return self.exec_token if kind == "exec" else self.load_token

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def build_loadgens():
    os.makedirs(BUILD, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    for name in ("open_loop", "exec_loop", "rw_loop"):
        src = os.path.join(REPO, "bench", "loadgen", name + ".c")
        run_checked([cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
                     "-o", os.path.join(BUILD, name), src], timeout=120)
    # the streaming floor: its BPF object beside its consumer (bench/floor/)
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    multiarch = subprocess.run([cc, "-print-multiarch"], capture_output=True, text=True).stdout
    run_checked([os.environ.get("CLANG", "clang"), "-g", "-O2", "-target", "bpf",
                 "-D__TARGET_ARCH_" + arch, "-Wall", "-Werror",
                 "-I" + os.path.join(REPO, "build", "gen"), "-I/usr/include/" + multiarch.strip(),
                 "-c", os.path.join(REPO, "bench", "floor", "floor.bpf.c"),
                 "-o", os.path.join(BUILD, "floor.bpf.o")], timeout=120)
    run_checked([cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
                 "-o", FLOOR, os.path.join(REPO, "bench", "floor", "floor.c"), "-lbpf"],
                timeout=120)


# ---------------------------------------------------------------------------
# Subjects.

BPFTRACE_PRINTF = ('tracepoint:syscalls:sys_enter_openat '
                   '{ printf("%s %d %s\\n", comm, pid, str(args->filename)); }')
# BEGIN runs once every probe is attached: it tells the harness when to start
# a tracer that prints nothing per event.  It is not on the event path.
BPFTRACE_COUNT = ('BEGIN { printf("ready\\n"); } '
                  'tracepoint:syscalls:sys_enter_openat { @c = count(); }')


# bpftrace reports perf buffer losses on stdout, between the events.
BPFTRACE_LOST = r"^Lost (\d+) events"

# ig-metrics: the records of ig-json also counted as a metric, an implicit
# counter keyed by command and namespace, as docs/metrics.md shows it, and
# served for Prometheus (scraped by the harness only after the load).
METRICS_SCOPE = "bench"
METRICS_FLAGS = ["--annotate", "open:metrics.collect=true",
                 "--annotate", "open:metrics.implicit-counter.name=opens",
                 "--annotate", "open.proc.comm:metrics.type=key",
                 "--annotate", "open.k8s.namespace:metrics.type=key",
                 "--otel-metrics-name", "open:" + METRICS_SCOPE, "--otel-metrics-listen"]




def make_subjects():
    ig_env_note = "" if os.access(IG, os.X_OK) else "%s not built yet" % os.path.relpath(IG, REPO)
    mport = free_port()
    subjects = [
        Subject("none", "no tracer", None, ready="none", counts=None),
        Subject("ig-json-null", "ig trace_open -o json > /dev/null",
                [IG, "run", "trace_open", "-o", "json"], sink="null", ready="delay",
                counts=None, is_ig=True),
        Subject("ig-json", "ig trace_open -o json > file",
                [IG, "run", "trace_open", "-o", "json"], is_ig=True, startup=True),
        Subject("ig-metrics", "ig trace_open -o json + metrics (comm, namespace) > file",
                [IG, "run", "trace_open", "-o", "json"] + METRICS_FLAGS +
                ["--otel-metrics-listen-address", "127.0.0.1:%d" % mport], is_ig=True,
                metrics=(mport, METRICS_SCOPE + "_opens_total", 'proc_comm="open_loop"')),
        Subject("ig-columns", "ig trace_open -o columns > file",
                [IG, "run", "trace_open", "-o", "columns"], is_ig=True),
        Subject("opensnoop", "opensnoop (libbpf-tools) > file", ["opensnoop"], startup=True,
                alternatives=[["/usr/sbin/opensnoop"], ["opensnoop", "-T"]]),
        Subject("bpftrace-printf", "bpftrace printf > file", ["bpftrace", "-e", BPFTRACE_PRINTF],
                startup=True, lost_re=BPFTRACE_LOST),
        Subject("bpftrace-count", "bpftrace @c = count()", ["bpftrace", "-e", BPFTRACE_COUNT],
                ready="line", ready_re=r"^ready$", counts="map", map_re=r"@c:\s*(\d+)"),
        Subject("floor", "floor: bare record, no wakeup, 10 ms poll", [FLOOR],
                ready="line", ready_re=r"^ready$", counts="map", map_re=r"records:\s*(\d+)",
                lost_re=r"^lost: (\d+)"),
        Subject("none-exec", "no tracer", None, kind="exec", ready="none", counts=None),
        Subject("ig-exec", "ig trace_exec -o json > file",
                [IG, "run", "trace_exec", "-o", "json"], kind="exec", is_ig=True),
        Subject("execsnoop", "execsnoop (libbpf-tools) > file", ["execsnoop"], kind="exec",
                alternatives=[["/usr/sbin/execsnoop"]]),
    ]
    chosen = {n for n in os.environ.get("BENCH_SUBJECTS", "").split(",") if n}
    for s in subjects:
        if s.is_ig and ig_env_note:
            s.skip = ig_env_note
        if chosen and not s.baseline and s.name not in chosen:
            s.skip = "not selected (BENCH_SUBJECTS)"
    return subjects


def subject_env(s):
    env = dict(os.environ)
    if s.is_ig:
        env["IG_GADGETS"] = GADGETS
    return env


def spawn(s, ws, stdout):
    """Starts s with stdout to a path, "null" or a pty fd."""
    if stdout == "null":
        stdout = "/dev/null"
    err = ws.out_path("%s.err" % s.name)
    try:
        return Tracer(s.argv, stdout, err, subject_env(s))
    except OSError as e:
        raise StartError("cannot start %s: %s" % (s.argv[0], e.strerror))


def wait_ready(s, t, ws, out_path):
    """Blocks until s is attached; returns seconds since spawn."""
    deadline = t.spawned_at + READY_TIMEOUT_S
    if s.ready == "delay":
        end = time.monotonic() + s.delay_s
        while time.monotonic() < end:
            if not t.running():
                raise StartError(exited_text(t))
            time.sleep(0.02)
        return s.delay_s
    want = ws.marker_token.encode() if s.ready == "marker" else None
    pattern = re.compile(s.ready_re.encode(), re.M) if s.ready == "line" else None
    interval = 0.005 if s.kind == "exec" else 0.001
    seen = b""
    with open(out_path, "rb") as f:
        while True:
            if not t.running():
                raise StartError(exited_text(t))
            if time.monotonic() > deadline:
                raise StartError("not attached after %.0f s: %s"
                                 % (READY_TIMEOUT_S, tail_line(t.stderr_text()) or "no output"))
            if want:
                ws.fire_marker(s.kind)
            chunk = f.read(READ_CHUNK)
            seen = seen[-4096:] + chunk
            if (want and want in seen) or (pattern and pattern.search(seen)):
                return time.monotonic() - t.spawned_at
            if len(chunk) < READ_CHUNK:
                time.sleep(interval)


def wait_drained(out_path, t, token, generated):
    """Waits until the tracer has printed as many lines naming token as the
    load generated, or none more for DRAIN_QUIET_S: it caught up or gave up.
    Counting the token, not the file size, because a tracer of every openat
    on a busy machine never stops writing.  Without output to watch, waits
    until the tracer is (nearly) idle."""
    end = time.monotonic() + DRAIN_MAX_S
    if out_path is None or token is None:
        wait_idle(t, end)
        return
    token = token.encode()
    seen, carry, quiet_since = 0, b"", time.monotonic()
    with open(out_path, "rb") as f:
        while time.monotonic() < end and t.running():
            # Bounded reads: the output of a 2 s load can be 100+ MB.
            chunk = f.read(READ_CHUNK)
            buf = carry + chunk
            n = buf.count(token)
            # carry is shorter than token, so nothing in it was counted twice.
            carry = buf[-(len(token) - 1):]
            if n:
                seen += n
                quiet_since = time.monotonic()
            if seen >= generated or time.monotonic() - quiet_since >= DRAIN_QUIET_S:
                return
            if len(chunk) < READ_CHUNK:
                time.sleep(0.05)


def wait_idle(t, end):
    period = 0.2
    last = t.cpu_ticks()
    while time.monotonic() < end and t.running():
        time.sleep(period)
        now = t.cpu_ticks()
        if not last or not now:
            return
        if sum(now) - sum(last) <= DRAIN_IDLE_CPU * period * CLK_TCK:
            return
        last = now


def preflight(subjects, ws):
    """Starts each subject once (this also warms caches).  A subject that does
    not attach is tried with its alternative command lines, then marked
    skipped with the reason."""
    for s in subjects:
        if s.baseline or s.skip:
            continue
        if s.ready == "delay":
            continue
        tried = [s.argv] + s.alternatives
        reason = ""
        for argv in tried:
            s.argv = argv
            try:
                s.attach_s = trial_attach_only(s, ws)
                reason = ""
                break
            except StartError as e:
                reason = str(e)
        if reason:
            s.argv = tried[0]
            # A peer that fails here is a fact about this kernel; ig failing
            # is a fact about ig.
            s.skip = ("did not start: %s" if s.is_ig else
                      "does not run on this kernel: %s") % reason
        log("preflight %-16s %s" % (s.name, s.skip or "attached in %.0f ms" % (s.attach_s * 1000)))
    # /dev/null sinks cannot show a marker: wait three times what the same
    # command took to attach with a file sink, and at least half a second.
    by_name = {s.name: s for s in subjects}
    for s in subjects:
        if s.ready == "delay" and not s.skip:
            twin = by_name.get(s.name.replace("-null", ""))
            if twin and twin.skip:
                s.skip = twin.skip
            else:
                s.delay_s = max(0.5, 3 * (twin.attach_s or 0.5) if twin else 2.0)


def trial_attach_only(s, ws):
    out = ws.out_path("%s.preflight" % s.name)
    t = spawn(s, ws, out)
    try:
        return wait_ready(s, t, ws, out)
    finally:
        t.stop()
        os.unlink(out)


# ---------------------------------------------------------------------------
# Measurement 1: per-event cost.

def load_numbers(load):
    """The per-call figures of one load run.

    ns_per_call is the CPU time the load generator (and, for exec_loop, its
    children) used per call: the tracer's in-kernel work and wakeups are
    charged to it, while time the CPU spent on other processes is not.  On an
    idle machine it equals the wall-clock figure (wall_ns_per_call); on a
    busy one it is the steadier of the two.  cpu_share says how much of its
    CPU the load got."""
    count = load.get("count") or 0
    cpu_ns = load.get("cpu_ns")
    elapsed = load.get("elapsed_ns")
    return {
        "load": load,
        "generated": count,
        "rate": load.get("rate"),
        "ns_per_call": cpu_ns / count if count and cpu_ns else None,
        "wall_ns_per_call": load.get("ns_per_call"),
        "cpu_share": cpu_ns / elapsed if cpu_ns and elapsed else None,
    }


def trial_per_event(s, ws, duration_ms, rate=0):
    """One run of the load with s attached.  Returns a dict of raw numbers,
    or {"error": ...} when s did not start."""
    if s.baseline:
        try:
            load = ws.run_load(s.kind, duration_ms, rate)
        except (RuntimeError, subprocess.SubprocessError) as e:
            return {"error": str(e)}
        return load_numbers(load)
    out = None if s.sink == "null" else ws.out_path("%s.out" % s.name)
    t = spawn(s, ws, out or "null")
    try:
        attach_s = wait_ready(s, t, ws, out)
        cpu0 = t.cpu_ticks()
        load = ws.run_load(s.kind, duration_ms, rate)
        wait_drained(out, t, ws.token_for(s.kind) if s.counts == "lines" else None,
                     load.get("count", 0))
        cpu1 = t.cpu_ticks()
        hwm_kb = t.vm_hwm_kb()
        counted = metrics_counted(s) if s.metrics else None
        clean = t.stop()
    except (StartError, RuntimeError, subprocess.SubprocessError) as e:
        return {"error": str(e)}
    finally:
        t.kill()
    stderr = t.stderr_text()
    res = load_numbers(load)
    res.update({
        "attach_s": attach_s,
        "lost_reported": parse_lost(stderr),
        "exit": t.exit_text(),
        "clean_exit": clean,
        "sigint_resent": t.resent,
        "vm_hwm_kb": hwm_kb,
        "cpu_total_s": (t.rusage.ru_utime + t.rusage.ru_stime) if t.rusage else None,
    })
    if s.metrics:
        res["metrics_counted"] = counted
    if cpu0 and cpu1:
        res["cpu_user_s"] = (cpu1[0] - cpu0[0]) / CLK_TCK
        res["cpu_sys_s"] = (cpu1[1] - cpu0[1]) / CLK_TCK
    if out:
        res["output_bytes"] = os.path.getsize(out)
        if s.counts == "lines":
            res["captured"], lost = scan_output(out, ws.token_for(s.kind), s.lost_re)
            if lost is not None:
                res["lost_reported"] = (res["lost_reported"] or 0) + lost
        elif s.counts == "map":
            with open(out, "rb") as f:
                text = f.read()
            m = re.search(s.map_re.encode(), text)
            res["kernel_count"] = int(m.group(1)) if m else None
            m = re.search(s.lost_re.encode(), text, re.M) if s.lost_re else None
            if m:
                res["lost_reported"] = (res["lost_reported"] or 0) + int(m.group(1))
        os.unlink(out)
    return res


def metrics_counted(s):
    """What s's /metrics says it counted of the load: the sum of the
    samples of its family with its label.  None when the scrape fails."""
    port, family, label = s.metrics
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode("utf-8", "replace")
    except OSError:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith(family + "{") and label in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def summarize_per_event(trials):
    ok = [t for t in trials if "error" not in t]
    if not ok:
        return {"error": trials[0]["error"] if trials else "not run"}
    gen = median([t["generated"] for t in ok])
    summary = {
        "runs": len(ok),
        "failed_runs": len(trials) - len(ok),
        "ns_per_call": median([t["ns_per_call"] for t in ok]),
        "wall_ns_per_call": median([t["wall_ns_per_call"] for t in ok]),
        "cpu_share": median([t["cpu_share"] for t in ok]),
        "generated": gen,
        "captured": median([t.get("captured") for t in ok]),
        "kernel_count": median([t.get("kernel_count") for t in ok]),
        "lost_reported": median([t.get("lost_reported") for t in ok]),
        "vm_hwm_kb": median([t.get("vm_hwm_kb") for t in ok]),
        "metrics_counted": median([t.get("metrics_counted") for t in ok]),
    }
    # CPU seconds per million events equals microseconds per event.
    per_event = []
    user_per_event = []
    for t in ok:
        if t.get("cpu_user_s") is not None and t["generated"]:
            per_event.append((t["cpu_user_s"] + t["cpu_sys_s"]) * 1e6 / t["generated"])
            user_per_event.append(t["cpu_user_s"] * 1e6 / t["generated"])
    summary["cpu_us_per_event"] = median(per_event)
    summary["user_us_per_event"] = median(user_per_event)
    summary["captured_ratio"] = median([t["captured"] / t["generated"] for t in ok
                                        if t.get("captured") is not None and t["generated"]])
    return summary


def measure_per_event(subjects, ws, cfg, kind):
    group = [s for s in subjects if s.kind == kind]
    trials = {s.name: [] for s in group}
    runnable = [s for s in group if not s.skip]
    for r in range(cfg.rounds if runnable else 0):
        # Rotate the order so that slow drift of the machine hits everyone.
        order = runnable[r % len(runnable):] + runnable[:r % len(runnable)]
        for s in order:
            res = trial_per_event(s, ws, cfg.load_ms)
            trials[s.name].append(res)
            log("%s round %d %-16s %s" % (kind, r + 1, s.name, brief(res)))
    out = {}
    for s in group:
        entry = {"label": s.label, "argv": s.argv, "trials": trials[s.name]}
        if s.skip:
            entry["skipped"] = s.skip
        else:
            entry["median"] = summarize_per_event(trials[s.name])
        out[s.name] = entry
    return out


def brief(res):
    if "error" in res:
        return "error: " + res["error"]
    parts = ["%s ns/call (wall %.0f, %s of a CPU)"
             % (fmt(res["ns_per_call"]), res["wall_ns_per_call"],
                fmt(res["cpu_share"] * 100 if res["cpu_share"] else None, "%.0f%%")),
             "gen %d" % res["generated"]]
    if res.get("captured") is not None:
        parts.append("cap %d" % res["captured"])
    if res.get("lost_reported") is not None:
        parts.append("lost %d" % res["lost_reported"])
    if res.get("cpu_user_s") is not None:
        parts.append("cpu %.2fs" % (res["cpu_user_s"] + res["cpu_sys_s"]))
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# Measurement 2: the highest rate held without loss.

def measure_max_rate(subjects, ws, cfg):
    out = {}
    for s in subjects:
        entry = {"label": s.label, "argv": s.argv, "rates": {}}
        out[s.name] = entry
        if s.skip:
            entry["skipped"] = s.skip
            continue
        held, lossless_rate, limited = None, None, False
        for rate in MAX_RATES:
            runs = []
            for _ in range(cfg.rate_rounds):
                res = trial_per_event(s, ws, cfg.rate_ms, rate)
                if "error" not in res:
                    res["lossless"] = (res.get("captured") == res["generated"]
                                       and not res.get("lost_reported"))
                    res["reached"] = res["rate"] >= RATE_REACHED * rate
                runs.append(res)
                log("rate %-16s %7d/s %s" % (s.name, rate, brief(res)))
            ok = [r for r in runs if "error" not in r]
            lossless = bool(ok) and len(ok) == len(runs) and all(r["lossless"] for r in ok)
            reached = bool(ok) and all(r["reached"] for r in ok)
            entry["rates"][str(rate)] = {
                "trials": runs, "lossless": lossless, "reached": reached,
                "achieved_rate": median([r["rate"] for r in ok]),
                "captured_ratio": median([r["captured"] / r["generated"]
                                          for r in ok if r.get("captured") is not None]),
                "lost_reported": median([r.get("lost_reported") for r in ok]),
            }
            if lossless:
                achieved = entry["rates"][str(rate)]["achieved_rate"]
                lossless_rate = max(lossless_rate or 0, achieved)
            if lossless and reached:
                held = rate
            if not lossless or not reached:
                # Higher targets cannot do better: stop spending time.  A
                # lossless step the generator could not reach means the
                # generator, not the tracer, was the limit.
                limited = lossless and not reached
                break
        entry["held"] = held
        entry["max_lossless_rate"] = lossless_rate
        entry["generator_limited"] = limited
    return out


# ---------------------------------------------------------------------------
# Measurement 3: start-up time and peak RSS.

def trial_startup(s, ws):
    """Spawns s on a pty (so it line-buffers as in a terminal), opens a fresh
    marker file every millisecond and times the first line naming one."""
    master, slave = os.openpty()
    t = None
    try:
        t = spawn(s, ws, slave)
        os.close(slave)
        slave = -1
        want = ws.marker_token.encode()
        seen = b""
        deadline = t.spawned_at + READY_TIMEOUT_S
        first = None
        while first is None:
            now = time.monotonic()
            if now > deadline:
                return {"error": "no record after %.0f s" % READY_TIMEOUT_S}
            ws.fire_marker(s.kind)
            r, _, _ = select.select([master], [], [], 0.001)
            if r:
                try:
                    seen = seen[-4096:] + os.read(master, 65536)
                except OSError:
                    # EIO: the tracer closed the pty, i.e. exited.
                    t.running()
                    return {"error": exited_text(t)}
                if want in seen:
                    first = time.monotonic() - t.spawned_at
        hwm = t.vm_hwm_kb()

        def drain(timeout):
            # A chatty tracer blocked on a full pty would never exit.
            r, _, _ = select.select([master], [], [], timeout)
            if r:
                try:
                    os.read(master, 65536)
                except OSError:
                    time.sleep(timeout)

        clean = t.stop(pump=drain)
        # No ru_maxrss here: posix_spawn() shares the harness's memory until
        # exec, and the kernel carries that high-water mark into the child's.
        return {"first_record_ms": first * 1000, "vm_hwm_kb": hwm,
                "clean_exit": clean, "sigint_resent": t.resent}
    except StartError as e:
        return {"error": str(e)}
    finally:
        if t:
            t.kill()
        if slave >= 0:
            os.close(slave)
        os.close(master)


def measure_startup(subjects, ws, cfg):
    group = [s for s in subjects if s.startup]
    trials = {s.name: [] for s in group}
    runnable = [s for s in group if not s.skip]
    for r in range(cfg.rounds):
        for s in runnable:
            res = trial_startup(s, ws)
            trials[s.name].append(res)
            log("startup round %d %-16s %s" % (r + 1, s.name, res.get("error") or
                                              "%.1f ms, %s kB" % (res["first_record_ms"],
                                                                  res["vm_hwm_kb"])))
    out = {}
    for s in group:
        entry = {"label": s.label, "argv": s.argv, "trials": trials[s.name]}
        ok = [t for t in trials[s.name] if "error" not in t]
        if s.skip:
            entry["skipped"] = s.skip
        elif not ok:
            entry["median"] = {"error": trials[s.name][0]["error"]}
        else:
            entry["median"] = {
                "runs": len(ok),
                "first_record_ms": median([t["first_record_ms"] for t in ok]),
                "vm_hwm_kb": median([t["vm_hwm_kb"] for t in ok]),
            }
        out[s.name] = entry
    return out


# ---------------------------------------------------------------------------
# Targets and the report.

def design_targets():
    """The performance targets paragraph of DESIGN.md, quoted in the report."""
    text = ""
    for path in DESIGN_CANDIDATES:
        try:
            with open(path) as f:
                text = f.read()
            break
        except OSError:
            continue
    m = re.search(r"## Performance targets.*?\n\n.*?\n\n(.*?)(\n## |\Z)", text, re.S)
    if not m:
        return []
    return [" ".join(ln[2:].split()) for ln in re.split(r"\n(?=- )", m.group(1).strip())
            if ln.startswith("- ")]


def bench_cluster():
    """bench/cluster.py, loaded from its file: once the other modules have put
    tests/integration on sys.path, `import cluster` finds the test harness of
    that name instead."""
    import importlib.util
    if "bench_cluster" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "bench_cluster", os.path.join(REPO, "bench", "cluster.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["bench_cluster"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["bench_cluster"]


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def evaluate_targets(results):
    """Each target: what it asks, what was measured, and pass/fail/n/a."""
    opened = results.get("per_event_open", {})
    base = get(opened, "none", "median", "ns_per_call")
    rows = []

    def added(name):
        v = get(opened, name, "median", "ns_per_call")
        return v - base if v is not None and base is not None else None

    def why_missing(section, name):
        e = get(results, section, name)
        if e is None:
            return "not measured"
        return e.get("skipped") or get(e, "median", "error") or "not measured"

    ig_add = added("ig-json-null")
    if ig_add is None:
        ig_add, src = added("ig-json"), "ig-json"
    else:
        src = "ig-json-null"
    rows.append(("JSON streaming adds at most 1.5 us per event", "<= 1500 ns",
                 fmt_ns(ig_add) if ig_add is not None else why_missing("per_event_open", src),
                 verdict(ig_add is not None and ig_add <= 1500, ig_add is None)))
    os_add = added("opensnoop")
    ratio = os_add / ig_add if ig_add and os_add and ig_add > 0 and os_add > 0 else None
    rows.append(("... that is 10x under opensnoop", ">= 10x",
                 "%.1fx" % ratio if ratio else "n/a", verdict(ratio and ratio >= 10, not ratio)))

    floor_add = added("floor")
    over = ig_add / floor_add if ig_add and floor_add and floor_add > 0 else None
    if over:
        got = "%.1fx (floor %s)" % (over, fmt_ns(floor_add))
    elif floor_add is not None:
        got = "floor %s: not above this run's no-tracer noise" % fmt_ns(floor_add)
    else:
        got = "n/a"
    rows.append(("... within 2.5x of the floor", "<= 2.5x", got,
                 verdict(over is not None and over <= 2.5, over is None)))

    rate = get(results, "max_rate", "ig-json")
    if rate is None or rate.get("skipped"):
        rows.append(("no loss at 250k events/s", "held >= 250000/s",
                     why_missing("max_rate", "ig-json"), "n/a"))
    else:
        if rate.get("held") and rate["held"] >= 250000:
            got, v = "held %d/s" % rate["held"], "pass"
        elif rate.get("generator_limited"):
            got = ("no loss up to %.0f/s, the most one generator produced with the tracer "
                   "attached" % rate["max_lossless_rate"])
            v = "n/a"
        else:
            got, v = "highest held: %s" % fmt(rate.get("held"), "%d/s", "none"), "FAIL"
        rows.append(("no loss at 250k events/s", "held >= 250000/s", got, v))

    cpu = get(opened, src, "median", "user_us_per_event")
    rows.append(("user-space CPU under 1 us per event", "< 1 us",
                 "%.2f us" % cpu if cpu is not None else why_missing("per_event_open", src),
                 verdict(cpu is not None and cpu < 1.0, cpu is None)))

    first = get(results, "startup", "ig-json", "median", "first_record_ms")
    rows.append(("`ig run` first record within 50 ms", "<= 50 ms",
                 "%.1f ms" % first if first is not None else why_missing("startup", "ig-json"),
                 verdict(first is not None and first <= 50, first is None)))
    rows += metrics_targets(results, added)
    if "cluster" in results:
        cluster = bench_cluster()
        rows += cluster.targets(results["cluster"])
    else:
        rows.append(("cluster path: 100k events/s per node, no loss through port-forward",
                     ">= 100000/s", "not measured (BENCH_ONLY)", "n/a"))
    idle = get(results, "agent", "median", "idle_rss_mb")
    from agent import TARGET_IDLE_MB  # bench/agent.py
    rows.append(("agent idle RSS under %g MB" % TARGET_IDLE_MB, "< %g MB" % TARGET_IDLE_MB,
                 "%.1f MB" % idle if idle is not None else
                 (get(results, "agent", "skipped") or "not measured (BENCH_ONLY)"),
                 verdict(idle is not None and idle < TARGET_IDLE_MB, idle is None)))
    return [dict(zip(("target", "threshold", "measured", "result"), r)) for r in rows]


def metrics_targets(results, added):
    """The metrics targets: per-event cost and rate from sections 1 and 2,
    the agent's CPU and the scrape from bench/metrics.py."""
    rows = []
    opened = results.get("per_event_open", {})
    json_add, met_add = added("ig-json"), added("ig-metrics")
    if json_add is None or met_add is None:
        got = get(opened, "ig-metrics", "skipped") or get(opened, "ig-metrics", "median",
                                                           "error") or "not measured"
        ok = None
    elif json_add <= 0:
        got, ok = "ig-json %s: not above this run's no-tracer noise" % fmt_ns(json_add), None
    else:
        # Rounds run the subjects one after the other: the difference within
        # a round is steadier than two medians when the machine's cost per
        # call drifts between rounds by more than a tracer adds.
        pairs = [m["ns_per_call"] - j["ns_per_call"] for j, m in
                 zip(get(opened, "ig-json", "trials") or [],
                     get(opened, "ig-metrics", "trials") or [])
                 if "error" not in j and "error" not in m]
        diff = median(pairs)
        ratio = (json_add + diff) / json_add if diff is not None else met_add / json_add
        cpu_j = get(opened, "ig-json", "median", "cpu_us_per_event")
        cpu_m = get(opened, "ig-metrics", "median", "cpu_us_per_event")
        got = "%.2fx: ig-json %s, ig-metrics %s" % (ratio, fmt_ns(json_add), fmt_ns(met_add))
        if diff is not None:
            got += ", %+.0f ns more in the same round (median of %d)" % (diff, len(pairs))
        if cpu_j and cpu_m:
            got += "; ig's own CPU %.2fx (%.2f against %.2f us)" % (cpu_m / cpu_j, cpu_m, cpu_j)
        ok = ratio <= 1.2
    rows.append(("counting records as metrics (ig-metrics) adds at most 1.2x what "
                 "ig-json adds per event", "<= 1.2x", got, verdict(ok, ok is None)))

    rate = get(results, "max_rate", "ig-metrics")
    if rate is None or rate.get("skipped"):
        rows.append(("... with no loss at 250k events/s", "held >= 250000/s",
                     (rate or {}).get("skipped") or "not measured", "n/a"))
    elif rate.get("held") and rate["held"] >= 250000:
        rows.append(("... with no loss at 250k events/s", "held >= 250000/s",
                     "held %d/s" % rate["held"], "pass"))
    elif rate.get("generator_limited"):
        rows.append(("... with no loss at 250k events/s", "held >= 250000/s",
                     "no loss up to %.0f/s, the most one generator produced with the tracer "
                     "attached" % rate["max_lossless_rate"], "n/a"))
    else:
        rows.append(("... with no loss at 250k events/s", "held >= 250000/s",
                     "highest held: %s" % fmt(rate.get("held"), "%d/s", "none"), "FAIL"))

    m = results.get("metrics")
    why = (m or {}).get("skipped") or "not measured (BENCH_ONLY)"
    a = get(m, "agent_cpu", "median")
    if a:
        share = a["load_cpu_share"]
        got = "%.2f%% of a core at %.0f reads/s" % (share * 100, a["rate"])
        if not a["reached"]:
            got += " (the generator fell short of 250k/s)"
        rows.append(("a map-iterator metrics gadget (top_file) keeps the agent under 1% of a "
                     "core at 250k events/s", "< 1%", got,
                     verdict(share < 0.01, not a["reached"])))
    else:
        rows.append(("a map-iterator metrics gadget (top_file) keeps the agent under 1% of a "
                     "core at 250k events/s", "< 1%", why, "n/a"))
    sc = get(m, "scrape")
    if sc:
        worst_ms = max(e["median"]["scrape_ms"] for e in sc.values())
        worst_mb = max(e["median"]["extra_mb"] for e in sc.values())
        each = ", ".join("%s %.1f ms" % (k, e["median"]["scrape_ms"]) for k, e in sc.items())
        rows.append(("a scrape of %d series under 50 ms" % m["series"], "< 50 ms", each,
                     verdict(worst_ms < 50, False)))
        each = ", ".join("%s +%.1f MB" % (k, e["median"]["extra_mb"]) for k, e in sc.items())
        rows.append(("... and under 5 MB of extra RSS", "< 5 MB", each,
                     verdict(worst_mb < 5, False)))
    else:
        rows.append(("a scrape of 10000 series under 50 ms", "< 50 ms", why, "n/a"))
        rows.append(("... and under 5 MB of extra RSS", "< 5 MB", why, "n/a"))
    return rows


def verdict(ok, missing):
    if missing:
        return "n/a"
    return "pass" if ok else "FAIL"


def fmt_ns(v):
    return "n/a" if v is None else "%+.0f ns" % v if v < 0 else "%.0f ns" % v


def fmt(v, spec="%.0f", none="n/a"):
    return none if v is None else spec % v


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(argv):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return "not installed"
        out = p.stdout.strip()
        return out.splitlines()[0] if p.returncode == 0 and out else "version unknown"

    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu_model": model,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": os.getloadavg(),
        "bpftrace": version(["bpftrace", "--version"]),
        "libbpf_tools": version(["opensnoop", "--version"]),
        "ig": ("%s: %s" % (os.path.relpath(IG, REPO), version([IG, "version"]))
               if os.access(IG, os.X_OK) else "not built"),
    }


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def per_event_table(section, base_name, ref_name):
    base = get(section, base_name, "median", "ns_per_call")
    ref = get(section, ref_name, "median", "ns_per_call")
    ref_add = ref - base if ref is not None and base is not None else None
    rows, notes = [], []
    for name, e in section.items():
        med = e.get("median") or {}
        if e.get("skipped") or med.get("error"):
            notes.append("- **%s** (`%s`): %s" % (name, e["label"], e.get("skipped") or
                                                    "did not start: " + med["error"]))
            rows.append((name, e["label"]) + ("-",) * 11)
            continue
        ns = med["ns_per_call"]
        add = ns - base if base is not None else None
        if med.get("captured") is not None:
            cap = "%d / %d (%.1f%%)" % (med["captured"], med["generated"],
                                         100 * med["captured_ratio"])
        elif med.get("kernel_count") is not None:
            cap = "in-kernel total %d / %d" % (med["kernel_count"], med["generated"])
        else:
            cap = "%d generated" % med["generated"] if med.get("generated") else "-"
        rows.append((
            name, e["label"],
            fmt(ns), fmt(med.get("wall_ns_per_call")),
            fmt(med["cpu_share"] * 100 if med.get("cpu_share") else None, "%.0f%%"),
            fmt(ns / base if base else None, "%.2fx"),
            fmt(add, "%+.0f") if name != base_name else "-",
            # A ratio of two costs only means something when both are costs.
            fmt(add / ref_add if add and add > 0 and ref_add and ref_add > 0
                and name not in (base_name, ref_name) else None, "%.2fx", "-"),
            cap,
            fmt(med.get("lost_reported"), "%d", "-"),
            fmt(med.get("cpu_us_per_event"), "%.2f", "-"),
            fmt(med.get("user_us_per_event"), "%.2f", "-"),
            fmt(med["vm_hwm_kb"] / 1024 if med.get("vm_hwm_kb") else None, "%.1f", "-"),
        ))
        if med.get("failed_runs"):
            notes.append("- **%s**: %d of %d runs failed to start (%s)."
                         % (name, med["failed_runs"], med["failed_runs"] + med["runs"],
                            next(t["error"] for t in e["trials"] if "error" in t)))
        missing = [t for t in e["trials"] if t.get("captured") is not None
                   and t["captured"] < t["generated"] and not t.get("lost_reported")]
        if missing:
            worst = min(missing, key=lambda t: t["captured"] / t["generated"])
            notes.append("- **%s**: in %d of %d runs events of the load are missing from its "
                         "output with no loss reported (worst: %d of %d printed)."
                         % (name, len(missing), len(e["trials"]), worst["captured"],
                            worst["generated"]))
        if med.get("metrics_counted") is not None:
            notes.append("- **%s**: its `/metrics`, scraped after each run, counted %d opens of "
                         "the load's command (median; generated: %d, plus the few its dynamic "
                         "loader makes)." % (name, med["metrics_counted"], med["generated"]))
        elif any("metrics_counted" in t and t["metrics_counted"] is None
                 for t in e.get("trials", [])):
            notes.append("- **%s**: its `/metrics` could not be scraped." % name)
        resent = [t for t in e["trials"] if t.get("sigint_resent")]
        if resent:
            notes.append("- **%s**: %d of %d runs needed SIGINT again to exit."
                         % (name, len(resent), len(e["trials"])))
        unclean = [t for t in e["trials"] if t.get("clean_exit") is False]
        if unclean:
            notes.append("- **%s**: %d of %d runs did not exit within %.0f s of SIGINT "
                         "(%s)." % (name, len(unclean), len(e["trials"]), STOP_TIMEOUT_S,
                                    unclean[0]["exit"]))
    header = ("subject", "command", "ns/call (CPU)", "wall ns/call", "load's CPU share",
              "x no tracer", "added ns",
              "added / %s" % ref_name, "captured / generated", "lost (reported)",
              "tracer CPU s per 1M events", "of which user", "peak RSS MB")
    return table(header, rows), notes


def render_report(results, cfg):
    m = results["machine"]
    out = []
    w = out.append
    w("# Benchmarks\n")
    w("Generated by `make bench` (`bench/run.py`); do not edit by hand. Raw numbers: "
      "`build/bench/results.json`.%s\n" % (" **Quick smoke run (BENCH_QUICK=1): fewer, shorter "
                                           "runs; numbers are indicative only.**"
                                           if cfg.quick else ""))
    w("## Machine\n")
    w(table(("", ""), [
        ("date", m["date"]), ("CPUs (nproc)", m["nproc"]), ("CPU model", m["cpu_model"]),
        ("kernel", m["kernel"]),
        ("load average at start", " ".join("%.2f" % v for v in m["loadavg"])),
        ("ig", m["ig"]), ("bpftrace", m["bpftrace"]), ("libbpf-tools", m["libbpf_tools"]),
    ]))
    w("")
    w("## Method\n")
    w("- Load generators (`bench/loadgen/`, built with `cc -O2`) pin themselves to CPU %d; "
      "the harness and every tracer run on CPU %d. `open_loop` opens and closes, `O_RDONLY`, "
      "%d existing files whose names carry a token unique to the run; `exec_loop` runs "
      "`/bin/true TOKEN-N` with fork+exec+wait." % (LOAD_CPU, TRACER_CPU, LOADGEN_FILES))
    w("- `ns/call (CPU)` is the CPU time the load generator used per call (`getrusage`, "
      "with its children for `exec_loop`): a tracer's in-kernel work and wakeups are charged "
      "to it, time the CPU spent on other processes is not. On an idle machine it equals "
      "`wall ns/call`; `load's CPU share` shows how idle CPU %d was. Added costs and targets "
      "use the CPU figure." % LOAD_CPU)
    w("- Each measurement is repeated %d times (rate steps %d times), subjects interleaved "
      "and rotated between rounds; tables show medians. Loads last %d ms (rate steps %d ms)."
      % (cfg.rounds, cfg.rate_rounds, cfg.load_ms, cfg.rate_ms))
    w("- A tracer is started with stdout to a file, and counted as attached when a marker "
      "event (a freshly named file opened every 1 ms, or a `/bin/true MARKER` every 5 ms) "
      "shows up in its output; then the load runs; then the harness waits until the tracer "
      "printed every event of the load or none for %.1f s (`/dev/null` sinks: until it "
      "uses under %d%% of a CPU), samples its CPU time (`/proc/PID/stat`) and VmHWM, "
      "summed over its process group, and stops it with SIGINT (sent again every second: "
      "bpftrace 0.17 now and then misses the first). `captured` counts output lines "
      "naming the load's token. `/dev/null` variants cannot show a marker: they wait "
      "three times the attach time of the same command with a file. "
      "`bpftrace @c = count()` gets an extra `BEGIN { printf(\"ready\\n\") }` "
      "(which runs once all probes are attached) so the harness knows when to start; "
      "its in-kernel total counts every openat on the machine. "
      "`floor` (`bench/floor/`) is the least a tracer that streams every event can cost: "
      "on each openat exit it submits a 16-byte record (time, pid, tid) to a ring buffer "
      "without a wakeup, and its consumer drains the ring every 10 ms, counting records "
      "(every openat on the machine); it prints `ready` once attached, and its total and "
      "the records that found the ring full at exit."
      % (DRAIN_QUIET_S, DRAIN_IDLE_CPU * 100))
    w("- `lost (reported)` sums the first number of each stderr line mentioning \"lost\" "
      "(and bpftrace's `Lost N events` lines on stdout). "
      "Tracer CPU covers the load and the drain, not start-up; seconds per million events "
      "equal microseconds per event.")
    w("- Other work on the machine is not stopped: compare numbers within one run, not "
      "across runs.\n")

    w("## Targets (DESIGN.md)\n")
    for t in design_targets():
        w("> - " + t)
    w("")
    w(table(("target", "threshold", "measured", "result"),
            [(t["target"], t["threshold"], t["measured"], t["result"])
             for t in results["targets"]]))
    w("")

    if "per_event_open" in results:
        w("## 1. Per-event cost: openat+close loop\n")
        tbl, notes = per_event_table(results["per_event_open"], "none", "opensnoop")
        w(tbl)
        w("")
        if notes:
            w("Notes:\n")
            w("\n".join(notes) + "\n")
    if "per_event_exec" in results:
        w("## 1b. Per-event cost: fork+exec loop\n")
        tbl, notes = per_event_table(results["per_event_exec"], "none-exec", "execsnoop")
        w(tbl)
        w("")
        if notes:
            w("Notes:\n")
            w("\n".join(notes) + "\n")

    if "max_rate" in results:
        w("## 2. Highest rate held without loss\n")
        w("`open_loop -r RATE` paces calls in 1 ms batches. A step holds when every run "
          "captured every generated event, reported no loss, and generated at least %d%% of "
          "the target; steps stop at the first that does not hold. One generator on one "
          "CPU slows down by the tracer's per-event cost, so a step it cannot reach "
          "marks the generator's limit, not the tracer's. %s\n"
          % (RATE_REACHED * 100, "Steps: " + ", ".join("%dk" % (r // 1000) for r in MAX_RATES)
             + "/s."))
        rows, notes = [], []
        for name, e in results["max_rate"].items():
            if e.get("skipped"):
                notes.append("- **%s**: %s" % (name, e["skipped"]))
                rows.append((name, e["label"], "-", "-", "-"))
                continue
            steps = []
            for rate, st in e["rates"].items():
                if st["achieved_rate"] is None:
                    errs = [t["error"] for t in st["trials"] if "error" in t]
                    steps.append("%dk: did not start (%s)" % (int(rate) // 1000, errs[0]))
                    continue
                lossy = sum(1 for t in st["trials"] if not t.get("lossless", True))
                steps.append("%dk: %s, generated %.0f/s, captured %s, lost %s (medians)" % (
                    int(rate) // 1000,
                    "holds" if st["lossless"] and st["reached"] else
                    "loss in %d of %d runs" % (lossy, len(st["trials"])) if not st["lossless"]
                    else "generator short",
                    st["achieved_rate"],
                    fmt(st["captured_ratio"] * 100 if st["captured_ratio"] is not None
                        else None, "%.2f%%"),
                    fmt(st["lost_reported"], "%d", "0")))
            limit = (" (generator limit)" if e.get("generator_limited") else "")
            rows.append((name, e["label"], fmt(e["held"], "%d/s", "none"),
                         fmt(e.get("max_lossless_rate"), "%.0f/s", "none") + limit,
                         "<br>".join(steps)))
        w(table(("subject", "command", "highest target held", "highest rate without loss",
                 "steps"), rows))
        w("")
        if notes:
            w("Notes:\n")
            w("\n".join(notes) + "\n")

    if "startup" in results:
        w("## 3. Start-up and memory\n")
        w("Spawn to the first printed record, stdout on a pty (so output is line-buffered as "
          "in a terminal) while the harness opens a freshly named file every 1 ms; gadgets "
          "and programs are already built and cached. Peak RSS is VmHWM just before SIGINT.\n")
        rows, notes = [], []
        for name, e in results["startup"].items():
            med = e.get("median") or {}
            if e.get("skipped") or med.get("error"):
                notes.append("- **%s**: %s" % (name, e.get("skipped") or med["error"]))
                rows.append((name, e["label"].replace(" > file", ""), "-", "-"))
                continue
            rows.append((name, e["label"].replace(" > file", ""),
                         fmt(med["first_record_ms"], "%.1f"),
                         fmt(med["vm_hwm_kb"] / 1024 if med["vm_hwm_kb"] else None, "%.1f")))
        w(table(("subject", "command", "first record ms", "peak RSS MB (VmHWM)"), rows))
        w("")
        if notes:
            w("Notes:\n")
            w("\n".join(notes) + "\n")

    if "containers" in results:
        import containers  # bench/containers.py
        w("\n".join(containers.render(results["containers"])))
    if "k8s" in results:
        import k8s_scale  # bench/k8s_scale.py
        w("\n".join(k8s_scale.render(results["k8s"])))
    if "agent" in results:
        import agent  # bench/agent.py
        w("\n".join(agent.render(results["agent"])))
    if "enrich" in results:
        import enrich  # bench/enrich.py
        w("\n".join(enrich.render(results["enrich"])))
    if "dns" in results:
        import dns  # bench/dns.py
        w("\n".join(dns.render(results["dns"])))
    if "metrics" in results:
        import metrics  # bench/metrics.py
        w("\n".join(metrics.render(results["metrics"])))
    if "cluster" in results:
        cluster = bench_cluster()
        w("\n".join(cluster.render(results["cluster"])))
    try:
        with open(os.path.join(REPO, "bench", "changes.md")) as f:
            w(f.read())
    except OSError:
        pass
    return "\n".join(out)


# ---------------------------------------------------------------------------

T0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def render_only():
    """BENCH_RENDER=1: the report again from build/bench/results.json, with
    the targets judged anew (after a change to a threshold or to the report)."""
    with open(RESULTS) as f:
        results = json.load(f)
    c = results["config"]
    cfg = Config(**{k: (set(c[k]) if k == "only" else c[k])
                    for k in (f.name for f in dataclasses.fields(Config))})
    results["targets"] = evaluate_targets(results)
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1, default=str)
    with open(REPORT, "w") as f:
        f.write(render_report(results, cfg))
    log("wrote %s again from %s" % (os.path.relpath(REPORT, REPO), os.path.relpath(RESULTS, REPO)))
    return 0


def main():
    if os.environ.get("BENCH_RENDER", "") not in ("", "0"):
        return render_only()
    cfg = Config.from_env()
    if os.geteuid() != 0:
        print("bench: tracers need root", file=sys.stderr)
        return 1
    if (os.cpu_count() or 1) < 2:
        print("bench: needs two CPUs (load on one, tracer on the other)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, on_sigterm)
    atexit.register(kill_all_children)
    os.sched_setaffinity(0, {TRACER_CPU})

    build_loadgens()
    ws = Workspace()
    results = {"config": dataclasses.asdict(cfg) | {"only": sorted(cfg.only)},
               "machine": machine_info()}
    try:
        subjects = make_subjects()
        preflight(subjects, ws)
        results["subjects"] = {s.name: {"label": s.label, "argv": s.argv, "kind": s.kind,
                                        "skipped": s.skip or None, "attach_s": s.attach_s}
                               for s in subjects}
        if cfg.wants("open"):
            results["per_event_open"] = measure_per_event(subjects, ws, cfg, "open")
        if cfg.wants("exec"):
            results["per_event_exec"] = measure_per_event(subjects, ws, cfg, "exec")
        if cfg.wants("rate"):
            by_name = {s.name: s for s in subjects}
            results["max_rate"] = measure_max_rate(
                [by_name["ig-json"], by_name["ig-metrics"], by_name["opensnoop"]], ws, cfg)
        if cfg.wants("startup"):
            results["startup"] = measure_startup(subjects, ws, cfg)
        if cfg.wants("containers"):
            import containers  # bench/containers.py
            results["containers"] = containers.measure(cfg.rounds, log)
        if cfg.wants("k8s"):
            import k8s_scale  # bench/k8s_scale.py
            results["k8s"] = k8s_scale.measure(min(cfg.rounds, 3), log)
        if cfg.wants("agent"):
            import agent  # bench/agent.py
            results["agent"] = agent.measure(min(cfg.rounds, 3), log)
        if cfg.wants("enrich"):
            import enrich  # bench/enrich.py
            results["enrich"] = enrich.measure(cfg.rounds, log)
        if cfg.wants("dns"):
            import dns  # bench/dns.py
            results["dns"] = dns.measure(min(cfg.rounds, 5), log)
        if cfg.wants("metrics"):
            import metrics  # bench/metrics.py
            results["metrics"] = metrics.measure(min(cfg.rounds, 3), log, cfg.quick)
        if cfg.wants("cluster"):
            cluster = bench_cluster()
            results["cluster"] = cluster.measure(cfg.rate_rounds, log, cfg.rate_ms)
        results["targets"] = evaluate_targets(results)
    finally:
        kill_all_children()
        ws.cleanup()

    results["elapsed_s"] = time.monotonic() - T0
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1, default=str)
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        f.write(render_report(results, cfg))
    log("wrote %s and %s" % (os.path.relpath(RESULTS, REPO), os.path.relpath(REPORT, REPO)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
