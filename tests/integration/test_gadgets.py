# SPDX-License-Identifier: Apache-2.0
"""One test per remaining in-tree gadget: trigger its event with a real
process and assert the exact pid, comm and payload."""

import os
import signal
import socket
import subprocess
import sys
import time

from conftest import get, ig, unique


def test_trace_signal(ig_run):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        run = ig_run("trace_signal", "-o", "json")
        killers = set()

        def trigger():
            p = subprocess.Popen(["kill", "-USR2", str(sleeper.pid)])
            killers.add(p.pid)
            p.wait()

        rec = run.wait_for(lambda recs: next(
            (r for r in recs if r.get("tpid") == sleeper.pid), None), trigger)
        assert rec["sig"] == "SIGUSR2"
        assert get(rec, "proc.pid") in killers
        assert get(rec, "proc.comm") == "kill"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_trace_tcp_connect_accept_close(ig_run):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    run = ig_run("trace_tcp", "-o", "json")
    clients = set()

    def trigger():
        code = f"import socket,time\ns=socket.create_connection(('127.0.0.1',{port}))\ntime.sleep(0.05)\ns.close()"
        p = subprocess.Popen([sys.executable, "-c", code])
        c, _ = srv.accept()
        c.close()
        clients.add(p.pid)
        p.wait()

    def connect(recs):
        return next((r for r in recs if r.get("type") == "connect"
                     and get(r, "dst.port") == port), None)

    rec = run.wait_for(connect, trigger)
    assert get(rec, "proc.pid") in clients
    assert get(rec, "dst.addr") == "127.0.0.1"
    assert get(rec, "src.addr") == "127.0.0.1"
    assert get(rec, "dst.version") == 4

    acc = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("type") == "accept" and get(r, "src.port") == port), None),
        trigger)
    assert get(acc, "proc.pid") == os.getpid()

    close = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("type") == "close" and get(r, "proc.pid") in clients
         and get(r, "dst.port") == port), None), trigger)
    assert get(close, "src.addr") == "127.0.0.1"
    srv.close()


def test_trace_mount(ig_run, tmp_path):
    target = tmp_path / unique("mnt")
    target.mkdir()
    run = ig_run("trace_mount", "-o", "json")
    pids = set()

    def trigger():
        p = subprocess.Popen(["mount", "-t", "tmpfs", "-o", "size=1m", "igtest", str(target)])
        pids.add(p.pid)
        p.wait()
        subprocess.run(["umount", str(target)])

    rec = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("dest") == str(target) and r.get("op") == "mount"), None),
        trigger)
    assert rec["fs"] == "tmpfs"
    assert rec["src"] == "igtest"
    assert get(rec, "proc.pid") in pids
    assert get(rec, "proc.comm") == "mount"
    um = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("dest") == str(target) and r.get("op") == "umount"), None))
    assert get(um, "proc.comm") == "umount"


def test_top_file_counts_writes(tmp_path):
    path = tmp_path / unique("top")
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time,os\nfd=os.open(sys.argv[1],os.O_WRONLY|os.O_CREAT)\n"
         "end=time.time()+4\nwhile time.time()<end:\n os.write(fd,b'x'*100)\n time.sleep(0.01)\n",
         str(path)])
    try:
        r = ig("run", "top_file", "-o", "json", "--map-fetch-interval", "1s",
               "--map-fetch-count", "2", "-F", f"file~{path.name}", timeout=30)
    finally:
        writer.wait()
    assert r.returncode == 0, r.stderr
    import json
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    mine = [x for x in rows if x.get("file") == str(path)]
    assert mine, r.stdout
    row = mine[-1]
    assert get(row, "proc.pid") == writer.pid
    assert row["writes"] > 10
    assert row["wbytes_raw"] == 100 * row["writes"]
    assert row["t"] == "R"


def test_snapshot_process_lists_a_sleeper():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        r = ig("run", "snapshot_process", "-o", "json", timeout=30)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert r.returncode == 0, r.stderr
    import json
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    me = next((x for x in rows if x.get("pid") == sleeper.pid), None)
    assert me, f"pid {sleeper.pid} not in snapshot"
    assert me["comm"] == "sleep"
    assert get(me, "parent.pid") == os.getpid()
    # one record per process, threads only with --threads
    assert len({x["pid"] for x in rows}) == len(rows)


def test_snapshot_columns_sorted():
    r = ig("run", "snapshot_process", "--sort", "pid", "--max-entries", "5")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "PID" in lines[0]
    pid_col = lines[0].split().index("PID")
    pids = [int(l.split()[pid_col]) for l in lines[1:] if l.strip()]
    assert len(pids) == 5 and pids == sorted(pids)
