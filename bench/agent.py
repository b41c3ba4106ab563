# SPDX-License-Identifier: Apache-2.0
"""The node agent's footprint: idle and busy RSS of gadget-agent.

One `gadget-agent` runs as it would on a node: connected to a real containerd
(tests/integration/containerd.py, one pod running) and to the stand-in API
server (bench/k8s_scale.Server, with this node and 200 pods on it plus 800 on
other nodes, so its own-node pod cache has work), with the in-tree gadget
images in its store.

  - idle: VmRSS and VmHWM once /readyz says ready and the agent has sat idle
    for IDLE_S seconds;
  - busy: a client (build/tests/agent_client) runs trace_open through the
    control API, with no selector, while bench/loadgen/open_loop opens files
    as fast as it can on the other CPU for LOAD_MS; the agent's peak RSS, its
    CPU time per record, and the records the client received against the
    opens generated (with the drops and kernel losses the agent reported).

Standard library only, plus the containerd harness (python3-pytest).  Use
from bench/run.py (BENCH_ONLY=agent) or alone:
    /usr/bin/python3 bench/agent.py
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import free_port, status_kb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.environ.get("BENCH_AGENT") or os.path.join(REPO, "build", "bin", "gadget-agent")
CLIENT = os.path.join(REPO, "build", "tests", "agent_client")
OPEN_LOOP = os.path.join(REPO, "build", "bench", "open_loop")
STORE = os.path.join(REPO, "build", "oci-store")
NODE = "node-0"
IDLE_S = float(os.environ.get("BENCH_AGENT_IDLE_S", "10"))
LOAD_MS = int(os.environ.get("BENCH_AGENT_LOAD_MS", "3000"))
TARGET_IDLE_MB = 16.0  # DESIGN.md: agent idle RSS under 16 MB
FILES = 200
CLK_TCK = os.sysconf("SC_CLK_TCK")






def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def top_mappings(pid, n=4):
    """The files with the most resident pages in the process, in MB."""
    rss, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                cur = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                rss[cur] = rss.get(cur, 0) + int(parts[1])
    top = sorted(rss.items(), key=lambda kv: -kv[1])[:n]
    return [(name, kb / 1024) for name, kb in top]


def fill(srv):
    srv.request("POST", "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
    srv.request("POST", "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gadget"}})
    for i in range(1000):
        srv.request("POST", "/api/v1/namespaces/bench/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"web-{i:04d}", "namespace": "bench",
                         "labels": {"app": "web", "shard": str(i % 7)}},
            "spec": {"nodeName": NODE if i < 200 else f"node-{1 + i % 9}",
                     "containers": [{"name": "main", "image": "registry.local/web:1"}]}})


class Agent:
    def __init__(self, work, kubeconfig, cri_socket):
        self.hport = free_port()
        self.unix = os.path.join(work, "agent.sock")
        cfg = os.path.join(work, "agent.yaml")
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
gadgetNamespace: gadget
""")
        state = os.path.join(work, "state")
        os.makedirs(state, exist_ok=True)
        self.log = open(os.path.join(work, "agent.log"), "wb")
        self.proc = subprocess.Popen([AGENT, "--config", cfg, "--node-name", NODE, "--kubeconfig",
                                      kubeconfig, "--state-dir", state],
                                     stdout=self.log, stderr=self.log)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.hport}/readyz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gadget-agent exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gadget-agent did not become ready")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def busy(agent, work):
    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    for i in range(FILES):
        open(os.path.join(files, f"agentbench{i:05d}"), "w").close()
    client = subprocess.Popen([CLIENT, agent.unix, "run", "trace_open",
                               "--timeout", str(LOAD_MS + 3000), "--quiet-records"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the run is attached once RunStarted arrives (after the Welcome)
    while True:
        line = client.stdout.readline()
        kind = json.loads(line).get("type", "") if line else "closed"
        if kind == "run_started":
            break
        if kind != "welcome":
            client.kill()
            raise RuntimeError("run did not start: " + line[:300] + client.stderr.read())
    cpu0 = cpu_s(agent.proc.pid)
    gen = subprocess.run([OPEN_LOOP, "-d", files, "-p", "agentbench", "-n", str(FILES), "-t",
                          str(LOAD_MS), "-C", "0"], capture_output=True, text=True, check=True)
    kv = dict(p.split("=", 1) for p in gen.stdout.split())
    out, err = client.communicate(timeout=LOAD_MS / 1000 + 30)
    cpu1 = cpu_s(agent.proc.pid)
    records = dropped = lost = 0
    for line in out.splitlines():
        m = json.loads(line)
        if m.get("type", "").startswith("record"):
            records += m.get("n_records", 0)
        if "ended" in m.get("type", ""):
            dropped = int(m.get("dropped_total", m.get("droppedTotal", 0)) or 0)
            lost = int(m.get("kernel_lost", m.get("kernelLost", 0)) or 0)
    generated = int(kv["count"])
    return {"generated": generated, "received": records, "dropped": dropped, "kernel_lost": lost,
            "rate": float(kv["rate"]), "cpu_us_per_record": (cpu1 - cpu0) * 1e6 / max(records, 1),
            "hwm_mb": status_kb(agent.proc.pid, "VmHWM") / 1024,
            "rss_after_mb": status_kb(agent.proc.pid, "VmRSS") / 1024}


def one_round(harness, srv, rnd, log):
    work = tempfile.mkdtemp(prefix="ig-bench-agent-")
    c = harness.Containerd()
    agent = None
    try:
        c.start()
        c.import_image()
        pod = c.run_pod(f"idle-{rnd}", "bench")
        c.run_container("sleeper", pod, ["sleep", "3600"])
        agent = Agent(work, srv.kubeconfig, c.socket)
        t0 = time.monotonic()
        ready = agent.wait_ready()
        res = {"ready_s": ready - t0}
        time.sleep(IDLE_S)
        res["idle_rss_mb"] = status_kb(agent.proc.pid, "VmRSS") / 1024
        res["idle_hwm_mb"] = status_kb(agent.proc.pid, "VmHWM") / 1024
        res["idle_anon_mb"] = status_kb(agent.proc.pid, "RssAnon") / 1024
        res["idle_file_mb"] = status_kb(agent.proc.pid, "RssFile") / 1024
        res["idle_top_libs"] = top_mappings(agent.proc.pid)
        res["busy"] = busy(agent, work)
        return res
    finally:
        if agent:
            agent.stop()
        c.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def measure(rounds, log):
    for b in (AGENT, CLIENT, OPEN_LOOP):
        if not os.access(b, os.X_OK):
            return {"skipped": f"{b} is not built"}
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import containerd as harness  # noqa: E402  (needs pytest)
        import k8s_scale  # noqa: E402
    except Exception as e:
        return {"skipped": f"harness unavailable: {e}"}
    work = tempfile.mkdtemp(prefix="ig-bench-agent-api-")
    srv = None
    try:
        srv = k8s_scale.Server(work)
        fill(srv)
        trials = []
        for r in range(rounds):
            trials.append(one_round(harness, srv, r, log))
            log(f"agent: round {r + 1}: {trials[-1]}")
        med = {k: statistics.median(t[k] for t in trials)
               for k in ("ready_s", "idle_rss_mb", "idle_hwm_mb", "idle_anon_mb",
                         "idle_file_mb")}
        for k in ("hwm_mb", "rss_after_mb", "cpu_us_per_record", "rate"):
            med["busy_" + k] = statistics.median(t["busy"][k] for t in trials)
        med["busy_received_share"] = statistics.median(
            t["busy"]["received"] / max(t["busy"]["generated"], 1) for t in trials)
        return {"trials": trials, "median": med, "idle_s": IDLE_S, "load_ms": LOAD_MS,
                "target_idle_mb": TARGET_IDLE_MB}
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        return {"skipped": str(e)}
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def render(res):
    out = ["## The node agent's footprint\n"]
    if "skipped" in res:
        out.append(f"Skipped: {res['skipped']}\n")
        return out
    m = res["median"]
    out.append(
        "`gadget-agent` connected to a real containerd (one pod running) and to the stand-in API "
        "server (1000 pods, 200 of them on the agent's node), in-tree gadget images in its store. "
        f"Idle: after /readyz and {res['idle_s']:.0f} s with no client. Busy: one client streams "
        "`trace_open` with no selector through the control API (`build/tests/agent_client`) while "
        f"`open_loop` opens files as fast as it can for {res['load_ms']} ms on the other CPU. "
        f"Medians of {len(res['trials'])} rounds.\n")
    ok = "met" if m["idle_rss_mb"] < TARGET_IDLE_MB else "MISSED"
    out.append("| measure | median |\n|---|---|")
    out.append(f"| start to /readyz | {m['ready_s'] * 1000:.0f} ms |")
    out.append(f"| idle RSS (target < {TARGET_IDLE_MB:.0f} MB: {ok}) | "
               f"{m['idle_rss_mb']:.1f} MB |")
    out.append(f"| ... of which anonymous (heap, stacks, maps) | {m['idle_anon_mb']:.1f} MB |")
    out.append(f"| ... of which file-backed (binary and shared libraries) | "
               f"{m['idle_file_mb']:.1f} MB |")
    out.append(f"| idle peak RSS (start-up included) | {m['idle_hwm_mb']:.1f} MB |")
    out.append(f"| busy: open rate generated | {m['busy_rate']:.0f} /s |")
    out.append(f"| busy: records received / opens generated | "
               f"{m['busy_received_share'] * 100:.1f} % |")
    out.append(f"| busy: peak RSS | {m['busy_hwm_mb']:.1f} MB |")
    out.append(f"| busy: agent CPU per record | {m['busy_cpu_us_per_record']:.2f} µs |")
    out.append("")
    top = ", ".join(f"{name} {mb:.1f} MB" for name, mb in res["trials"][0]["idle_top_libs"])
    out.append(f"Largest resident mappings when idle (first round): {top}. The agent speaks "
               "CRI itself (its own gRPC framing over libnghttp2 on the runtime's socket, "
               "`cri/transport.c`) and loads "
               "libcurl (for the API server; it brings libcrypto and its own dependencies) "
               "with dlopen() when it first needs it, which on a node is at start.\n")
    drops = [t["busy"]["dropped"] for t in res["trials"]]
    lost = [t["busy"]["kernel_lost"] for t in res["trials"]]
    out.append(f"Records the agent dropped for the client (its queue was full; counted and "
               f"reported to it): {drops}; records the kernel could not queue: {lost}. The "
               "opens generated include none of the machine's other activity, which the run "
               "also reports, so the received share can exceed 100 %.\n")
    return out


if __name__ == "__main__":
    r = measure(int(os.environ.get("BENCH_ROUNDS", "3")), lambda s: print(s, file=sys.stderr))
    print(json.dumps(r, indent=1))
    print("\n".join(render(r)))
