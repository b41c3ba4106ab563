# SPDX-License-Identifier: Apache-2.0
"""Container start to filter: how soon `ig run -c` follows a new container.

One `ig -v run trace_exec --k8s-namespace NS -o json` runs against a private
containerd (tests/integration/containerd.py).  Each round creates and starts a
container in NS through CRI (build/tests/cri_pod, timestamps taken around each
call) while a thread polls the run's mount namespace filter map through the
bpf(2) syscall (BPF_MAP_GET_NEXT_KEY on the map found by the id ig logs) and
the container's init.pid in containerd's task directory.  The delay is the
moment the map stops being empty against the moment StartContainer returned
(the container has started); negative means the namespace was in the filter
before the call returned.  Also shown: against the moment StartContainer was
sent, and against the moment runc wrote init.pid (the container's process
exists and waits to exec its command: what ig reacts to, so this is ig's own
share of the delay, the rest being containerd's).
Each round also checks that the container's first exec was printed, and that
the namespace left the map once the container was removed.

Standard library only, plus the containerd harness, which needs pytest
(Debian's python3-pytest) for its fixture: without it, or without containerd,
the measurement is skipped with the reason.

Use from bench/run.py (BENCH_ONLY=containers) or alone:
    /usr/bin/python3 bench/containers.py
"""

import ctypes
import os
import platform
import re
import selectors
import statistics
import subprocess
import sys
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IG = os.environ.get("BENCH_IG") or os.path.join(REPO, "build", "bin", "ig")
GADGETS = os.path.join(REPO, "build", "gadgets")
TARGET_MS = 100.0
SETTLE_S = 1.0  # after ig logged its filter map: load, attach, enter the loop
WAIT_S = 10.0

BPF_MAP_GET_NEXT_KEY = 4
BPF_MAP_GET_FD_BY_ID = 14
SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())


class FilterMap:
    """The run's filter map, opened by id through bpf(2)."""

    def __init__(self, map_id):
        if SYS_BPF is None:
            raise OSError("bpf(2) syscall number unknown on " + platform.machine())
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        attr = ctypes.create_string_buffer(128)
        ctypes.c_uint32.from_buffer(attr, 0).value = map_id
        fd = self.libc.syscall(SYS_BPF, BPF_MAP_GET_FD_BY_ID, attr, ctypes.c_uint(128))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "BPF_MAP_GET_FD_BY_ID %d" % map_id)
        self.fd = fd
        self.next_key = ctypes.c_uint64()
        self.attr = ctypes.create_string_buffer(128)
        ctypes.c_uint32.from_buffer(self.attr, 0).value = fd
        # key = NULL asks for the first key; next_key is where it is written
        ctypes.c_uint64.from_buffer(self.attr, 16).value = ctypes.addressof(self.next_key)

    def first_key(self):
        r = self.libc.syscall(SYS_BPF, BPF_MAP_GET_NEXT_KEY, self.attr, ctypes.c_uint(128))
        return self.next_key.value if r == 0 else None

    def close(self):
        os.close(self.fd)


class Poller(threading.Thread):
    """Notes the first moment the map holds a key."""

    def __init__(self, fmap):
        super().__init__(daemon=True)
        self.fmap, self.t, self.key = fmap, None, None
        self.pidfile, self.t_pid = None, None  # set pidfile once the id is known
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            k = self.fmap.first_key()
            now = time.monotonic()
            if self.t_pid is None and self.pidfile and os.path.exists(self.pidfile):
                self.t_pid = now
            if k is not None:
                self.t, self.key = now, k
                return
            time.sleep(0.0002)


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return t0, time.monotonic(), out


def load_harness():
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    import containerd  # noqa: E402  (needs pytest; see the docstring)
    return containerd


def measure(rounds=5, log=print):
    """Returns a dict for results.json; 'skipped' says why when it could not run."""
    if os.geteuid() != 0:
        return {"skipped": "needs root"}
    try:
        harness = load_harness()
    except Exception as e:  # ImportError, or pytest missing
        return {"skipped": "containerd harness unavailable: %s" % e}
    for b in (harness.CONTAINERD_BIN, harness.CTR_BIN, harness.BUSYBOX, harness.CRI_POD, IG):
        if not os.path.exists(b):
            return {"skipped": "%s missing" % b}
    c = harness.Containerd()
    run = None
    try:
        try:
            c.start()
            c.import_image()
        except Exception as e:
            return {"skipped": "containerd could not be started: %s" % str(e).splitlines()[0]}
        ns = "bench-" + uuid.uuid4().hex[:6]
        pod = c.run_pod("bench-pod", ns)
        run = subprocess.Popen([IG, "-v", "run", "trace_exec", "-o", "json", "--k8s-namespace",
                                ns, "--runtimes", "containerd", "--containerd-socketpath",
                                c.socket], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, IG_GADGETS=GADGETS))
        out = Reader(run)
        map_id = out.wait_err(r"mount namespace filter map id (\d+)")
        if map_id is None:
            return {"skipped": "ig did not report its filter map: " + out.err_tail()}
        time.sleep(SETTLE_S)
        fmap = FilterMap(int(map_id))
        trials = []
        try:
            for r in range(rounds):
                trials.append(one_round(c, pod, fmap, out, r))
                log("containers round %d: %s" % (r + 1, brief(trials[-1])))
        finally:
            fmap.close()
        return summarize(trials)
    finally:
        if run and run.poll() is None:
            run.terminate()
            try:
                run.wait(10)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
        c.cleanup()


class Reader:
    """ig's stdout and stderr, read without blocking the measurement."""

    def __init__(self, proc):
        self.proc, self.out, self.err = proc, [], []
        self.lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, self.out)
        sel.register(self.proc.stderr, selectors.EVENT_READ, self.err)
        open_ = 2
        while open_:
            for key, _ in sel.select():
                line = key.fileobj.readline()
                if not line:
                    sel.unregister(key.fileobj)
                    open_ -= 1
                    continue
                with self.lock:
                    key.data.append(line.decode(errors="replace"))

    def wait_err(self, pattern, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for line in self.err:
                    m = re.search(pattern, line)
                    if m:
                        return m.group(1)
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def wait_out(self, needle, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(needle in line for line in self.out):
                    return True
            time.sleep(0.02)
        return False

    def err_tail(self):
        with self.lock:
            return "".join(self.err[-5:]).strip()


def one_round(c, pod, fmap, out, r):
    if fmap.first_key() is not None:
        return {"error": "filter map not empty before the round"}
    marker = "BENCHFIRST-%d-%s" % (r, uuid.uuid4().hex[:6])
    poller = Poller(fmap)
    poller.start()
    try:
        t_create, t_created, cid = timed(
            c.create, "bench-%d" % r, pod, ["/bin/sh", "-c", "/bin/true %s; sleep 1000" % marker])
        poller.pidfile = os.path.join(c.state, "io.containerd.runtime.v2.task", "k8s.io", cid,
                                      "init.pid")
        t_start, t_started, _ = timed(c.start_container, cid)
        poller.join(WAIT_S)
    finally:
        poller.stop.set()
    res = {"create_ms": (t_created - t_create) * 1000, "start_ms": (t_started - t_start) * 1000}
    if poller.t is None:
        res["error"] = "the container's mount namespace never reached the filter map"
    else:
        res["in_map_after_started_ms"] = (poller.t - t_started) * 1000
        res["in_map_after_start_call_ms"] = (poller.t - t_start) * 1000
        if poller.t_pid is not None:
            res["in_map_after_init_pid_ms"] = (poller.t - poller.t_pid) * 1000
        res["in_map_after_create_call_ms"] = (poller.t - t_create) * 1000
        res["mntns_matches"] = poller.key == os.stat("/proc/%d/ns/mnt" % c.pid(cid)).st_ino
    res["first_exec_seen"] = out.wait_out(marker)
    t_rm = time.monotonic()
    c.remove_container(cid)
    while fmap.first_key() is not None and time.monotonic() - t_rm < WAIT_S:
        time.sleep(0.001)
    res["left_map"] = fmap.first_key() is None
    res["left_map_after_remove_ms"] = (time.monotonic() - t_rm) * 1000
    return res


def brief(t):
    if "error" in t:
        return t["error"]
    return ("in map %.1f ms after StartContainer returned, %.1f ms after it was sent, %s ms "
            "after init.pid; first exec %s"
            % (t["in_map_after_started_ms"], t["in_map_after_start_call_ms"],
               "%.1f" % t["in_map_after_init_pid_ms"] if "in_map_after_init_pid_ms" in t else "?",
               "seen" if t["first_exec_seen"] else "MISSED"))


def summarize(trials):
    ok = [t for t in trials if "error" not in t]
    res = {"trials": trials, "rounds": len(trials), "target_ms": TARGET_MS}
    if not ok:
        res["error"] = trials[0]["error"] if trials else "no rounds"
        return res

    def med(k):
        return statistics.median(t[k] for t in ok)

    res["median"] = {k: med(k) for k in ("in_map_after_started_ms", "in_map_after_start_call_ms",
                                         "in_map_after_create_call_ms", "create_ms", "start_ms",
                                         "left_map_after_remove_ms")}
    res["first_exec_seen"] = sum(1 for t in ok if t["first_exec_seen"])
    res["mntns_matches"] = sum(1 for t in ok if t["mntns_matches"])
    pid = [t["in_map_after_init_pid_ms"] for t in ok if "in_map_after_init_pid_ms" in t]
    res["median"]["in_map_after_init_pid_ms"] = statistics.median(pid) if pid else None
    res["left_map"] = sum(1 for t in ok if t["left_map"])
    res["ok_rounds"] = len(ok)
    res["meets_target"] = (len(ok) == len(trials) and
                           res["median"]["in_map_after_started_ms"] < TARGET_MS)
    return res


def render(res):
    """The report section (markdown lines) for bench/run.py."""
    out = ["## 4. Containers: start to filter\n",
           "One `ig run trace_exec --k8s-namespace NS -o json` against a private containerd; "
           "each round creates and starts a container in NS over CRI (`cri_pod`) while a "
           "thread polls the run's mount namespace filter map with `bpf(BPF_MAP_GET_NEXT_KEY)` "
           "every 0.2 ms. Delay: the map's first key against the moment StartContainer "
           "returned, i.e. the container has started (negative: the namespace was in the "
           "filter before). Also against the moment the call was sent, and against the moment "
           "runc wrote the container's `init.pid` (its process exists and waits to exec the "
           "command; ig reacts to that, so this is ig's own share, the rest is containerd's). "
           "Aim: under %.0f ms. Median of the rounds.\n" % TARGET_MS]
    if res.get("skipped"):
        out.append("Skipped: %s\n" % res["skipped"])
        return out
    if res.get("error"):
        out.append("Failed: %s\n" % res["error"])
        return out
    m = res["median"]
    n = res["rounds"]
    out.append("| measure | median |\n|---|---|")
    out.append("| in filter map, from StartContainer returned | %.1f ms |"
               % m["in_map_after_started_ms"])
    out.append("| in filter map, from StartContainer sent | %.1f ms |"
               % m["in_map_after_start_call_ms"])
    out.append("| in filter map, from init.pid written (ig's share) | %s |"
               % ("%.1f ms" % m["in_map_after_init_pid_ms"]
                  if m["in_map_after_init_pid_ms"] is not None else "n/a"))
    out.append("| in filter map, from CreateContainer sent | %.1f ms |"
               % m["in_map_after_create_call_ms"])
    out.append("| CreateContainer call | %.1f ms |" % m["create_ms"])
    out.append("| StartContainer call | %.1f ms |" % m["start_ms"])
    out.append("| out of the filter map, from removal sent | %.1f ms |"
               % m["left_map_after_remove_ms"])
    out.append("")
    out.append("Rounds that worked: %d of %d; the key was the container's mount namespace in "
               "%d; the container's first exec was printed in %d; the namespace left the map "
               "after removal in %d. Target (< %.0f ms): **%s**.\n"
               % (res["ok_rounds"], n, res["mntns_matches"], res["first_exec_seen"],
                  res["left_map"], TARGET_MS, "met" if res["meets_target"] else "NOT met"))
    return out


if __name__ == "__main__":
    r = measure()
    print("\n".join(render(r)))
    sys.exit(0 if not r.get("error") else 1)
