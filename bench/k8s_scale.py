# SPDX-License-Identifier: Apache-2.0
"""Kubernetes cache at scale: 10k pods listed and watched.

The stand-in API server (tests/apiserver) is filled with N pods (default
10000, BENCH_K8S_PODS) spread over namespaces and nodes, each with labels, an
owner and a pod IP, as a busy cluster's pods look.  Then, per round, the
Kubernetes client's cache (build/tests/k8s_tool, the same k8s/cache.c the
agent uses) is started cluster-wide, the way endpoint enrichment needs it:

  - list: time from spawn to the cache reporting SYNCED (paginated list of all
    pods, indexes built), and the tool's RSS then;
  - watch: M pods (default 1000) are relabelled through the API as fast as one
    client connection allows; lag is the time from the last PATCH answered to
    the cache's handler seeing the last of the M updates, and every update
    must arrive exactly once.

Standard library only.  Use from bench/run.py (BENCH_ONLY=k8s) or alone:
    /usr/bin/python3 bench/k8s_scale.py
"""

import http.client
import json
import os
import selectors
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APISERVER = os.path.join(REPO, "tests", "apiserver", "run")
K8S_TOOL = os.environ.get("K8S_TOOL") or os.path.join(REPO, "build", "tests", "k8s_tool")
PYTHON = "/usr/bin/python3"
PODS = int(os.environ.get("BENCH_K8S_PODS", "10000"))
UPDATES = int(os.environ.get("BENCH_K8S_UPDATES", "1000"))
NAMESPACES = 20
NODES = 10
TOKEN = "bench-token"


class Server:
    def __init__(self, workdir):
        self.dir = workdir
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.data = os.path.join(workdir, "data")
        self.ca = os.path.join(self.data, "ca.crt")
        self.log = open(os.path.join(workdir, "apiserver.log"), "wb")
        args = [PYTHON, APISERVER, "--addr", "127.0.0.1:0", "--kubeconfig", self.kubeconfig,
                "--data-dir", self.data, "--token", TOKEN,
                "--compaction-window", str(PODS * 4)]
        for i in range(NODES):
            args += ["--node", f"node-{i}"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 30
        while not (os.path.exists(self.kubeconfig) and os.path.exists(self.ca)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stand-in API server did not start")
            time.sleep(0.05)
        with open(self.kubeconfig) as f:
            server = next(line.split("server:", 1)[1].strip() for line in f if "server:" in line)
        self.port = int(server.rsplit(":", 1)[1])
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.conn = None

    def request(self, method, path, body, ctype="application/json"):
        """One request on a kept-alive connection; reconnects once if the
        server closed it."""
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": ctype,
                   "Accept": "application/json"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                        timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                out = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                if r.status >= 300:
                    raise RuntimeError(f"{method} {path}: {r.status} {out[:200]!r}")
                return
            except (http.client.HTTPException, ConnectionError):
                self.conn = None
                if attempt:
                    raise

    def stop(self):
        if self.conn:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def pod(i):
    ns = f"ns-{i % NAMESPACES}"
    app = f"app-{i % 50}"
    return ns, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{app}-{i:05d}", "namespace": ns,
                     "labels": {"app": app, "tier": "web" if i % 2 else "db",
                                "pod-template-hash": f"{i % 50:08x}"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": f"{app}-{i % 50:08x}", "uid": f"rs-{i % 50}",
                                          "controller": True}]},
        "spec": {"nodeName": f"node-{i % NODES}",
                 "containers": [{"name": "main", "image": f"registry.local/{app}:1"},
                                {"name": "sidecar", "image": "registry.local/proxy:1"}]},
    }


def fill(srv, log):
    t0 = time.monotonic()
    for i in range(NAMESPACES):
        srv.request("POST", "/api/v1/namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i}"}})
    for i in range(PODS):
        ns, obj = pod(i)
        srv.request("POST", f"/api/v1/namespaces/{ns}/pods", obj)
        name = obj["metadata"]["name"]
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        srv.request("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                    {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}},
                    ctype="application/merge-patch+json")
        if i and i % 2000 == 0:
            log(f"k8s: {i} pods created")
    return time.monotonic() - t0


def rss_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_round(srv, rnd, log):
    tool = subprocess.Popen([K8S_TOOL, "--kubeconfig", srv.kubeconfig, "cache", "pods", "--for",
                             "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(tool.stdout, selectors.EVENT_READ)
    t0 = time.monotonic()
    buf = b""
    synced_at = None
    seen = {}
    try:
        def pump(until, want):
            nonlocal buf, synced_at
            while time.monotonic() < until:
                if want():
                    return True
                for _key, _ in sel.select(0.05):
                    chunk = os.read(tool.stdout.fileno(), 1 << 16)
                    if not chunk:
                        return want()
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line == b"SYNCED" and synced_at is None:
                            synced_at = time.monotonic()
                        elif line.startswith(b"UPDATE "):
                            name = line.split()[1]
                            seen[name] = seen.get(name, 0) + 1
            return want()

        if not pump(time.monotonic() + 120, lambda: synced_at is not None):
            raise RuntimeError("the cache did not sync: "
                               + tool.stderr.read1(4096).decode(errors="replace")
                               if tool.poll() is not None else "the cache did not sync in 120 s")
        sync_s = synced_at - t0
        rss = rss_kb(tool.pid, "VmRSS")
        # relabel UPDATES pods, spread over namespaces
        names = []
        for i in range(0, PODS, max(1, PODS // UPDATES))[:UPDATES]:
            ns, obj = pod(i)
            names.append((ns, obj["metadata"]["name"]))
        t1 = time.monotonic()
        for ns, name in names:
            srv.request("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}",
                        {"metadata": {"labels": {"bench-round": str(rnd)}}},
                        ctype="application/merge-patch+json")
        sent = time.monotonic()
        want = {f"{ns}/{name}".encode() for ns, name in names}
        ok = pump(sent + 60, lambda: want.issubset(seen.keys()))
        done = time.monotonic()
        dup = sum(1 for k in want if seen.get(k, 0) > 1)
        hwm = rss_kb(tool.pid, "VmHWM")
        return {"sync_s": sync_s, "rss_synced_mb": rss / 1024, "hwm_mb": hwm / 1024,
                "updates": len(names), "updates_seen": len(want & set(seen.keys())),
                "duplicates": dup, "patch_rate": len(names) / (sent - t1),
                "lag_ms": (done - sent) * 1000 if ok else None}
    finally:
        tool.terminate()
        try:
            tool.wait(10)
        except subprocess.TimeoutExpired:
            tool.kill()
            tool.wait()


def measure(rounds, log):
    if not os.access(K8S_TOOL, os.X_OK):
        return {"skipped": f"{K8S_TOOL} is not built (make build/tests/k8s_tool)"}
    work = tempfile.mkdtemp(prefix="ig-bench-k8s-")
    srv = None
    try:
        srv = Server(work)
        fill_s = fill(srv, log)
        log(f"k8s: {PODS} pods created in {fill_s:.1f} s")
        trials = []
        for r in range(rounds):
            trials.append(one_round(srv, r, log))
            log(f"k8s: round {r + 1}: {trials[-1]}")
        med = {}
        for k in ("sync_s", "rss_synced_mb", "hwm_mb", "patch_rate"):
            med[k] = statistics.median(t[k] for t in trials)
        lags = [t["lag_ms"] for t in trials if t["lag_ms"] is not None]
        med["lag_ms"] = statistics.median(lags) if lags else None
        return {"pods": PODS, "updates": UPDATES, "fill_s": fill_s, "trials": trials,
                "median": med, "all_updates_once": all(
                    t["updates_seen"] == t["updates"] and t["duplicates"] == 0 for t in trials)}
    except (RuntimeError, OSError) as e:
        return {"skipped": str(e)}
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def render(res):
    out = ["## Kubernetes cache at scale\n"]
    if "skipped" in res:
        out.append(f"Skipped: {res['skipped']}\n")
        return out
    m = res["median"]
    out.append(
        f"{res['pods']} pods in 20 namespaces on 10 nodes, each with labels, an owner and an IP, in "
        "the stand-in API server (`tests/apiserver`; it serves about "
        f"{m['patch_rate']:.0f} writes/s, which bounds the update rate below). The cache is "
        "`k8s/cache.c` through `build/tests/k8s_tool cache pods`, cluster-wide (pages of 500), as "
        f"endpoint enrichment runs it. Medians of {len(res['trials'])} rounds.\n")
    out.append("| measure | median |\n|---|---|")
    out.append(f"| list {res['pods']} pods until synced | {m['sync_s'] * 1000:.0f} ms |")
    out.append(f"| RSS of the client once synced | {m['rss_synced_mb']:.1f} MB |")
    out.append(f"| peak RSS of the client | {m['hwm_mb']:.1f} MB |")
    lag = "not all seen" if m["lag_ms"] is None else f"{m['lag_ms']:.0f} ms"
    out.append(f"| {res['updates']} relabels: last update answered -> seen by the cache | {lag} |")
    out.append(f"| every update seen exactly once | {'yes' if res['all_updates_once'] else 'NO'} |")
    out.append("")
    return out


if __name__ == "__main__":
    r = measure(int(os.environ.get("BENCH_ROUNDS", "3")), lambda s: print(s, file=sys.stderr))
    print(json.dumps(r, indent=1))
    print("\n".join(render(r)))
