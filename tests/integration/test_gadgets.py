# SPDX-License-Identifier: Apache-2.0
"""One test per remaining in-tree gadget: trigger its event with a real
process and assert the exact pid, comm and payload."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

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


# ---- block I/O: a loop device of the test's own, written with O_DIRECT ----

BLOCK = 4096
WRITES = 64
REQ_OP_MASK = 0xff
REQ_OP_WRITE = 1


@pytest.fixture
def loopdev(tmp_path):
    """A fresh loop device over a sparse file: nothing but the test does I/O
    on it (tmpfs has no block I/O at all, a loop device has real requests)."""
    img = tmp_path / unique("disk")
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    dev = subprocess.run(["losetup", "--find", "--show", str(img)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "--detach", dev])


def write_direct(dev, count, seek=0):
    """count O_DIRECT writes of one block by dd: count requests on dev, each
    waited for before the next.  Returns dd's pid."""
    p = subprocess.Popen(["dd", "if=/dev/zero", f"of={dev}", f"bs={BLOCK}", f"count={count}",
                          f"seek={seek}", "oflag=direct", "status=none"])
    assert p.wait() == 0
    return p.pid


def test_profile_blockio_counts_the_writes(ig_run, loopdev):
    rdev = os.stat(loopdev).st_rdev
    dev = (os.major(rdev) << 20) | os.minor(rdev)  # the kernel's MKDEV
    run = ig_run("profile_blockio", "-o", "json", "--per-disk", "--per-flag",
                 "--map-fetch-interval", "300ms")

    def writes(recs):
        return sum(sum(r["latency"]) for r in recs
                   if r["dev"] == dev and r["cmd_flags"] & REQ_OP_MASK == REQ_OP_WRITE)

    # attached once one write on our disk shows up
    run.wait_for(lambda recs: writes(recs) > 0, lambda: write_direct(loopdev, 1))
    time.sleep(1)  # the fetches that may still hold those first writes
    before = writes(run.json_records())
    write_direct(loopdev, WRITES, seek=8)

    def grown(recs):
        n = writes(recs)
        return n if n >= before + WRITES else None

    after = run.wait_for(grown, timeout=10)
    assert after - before >= WRITES
    # every record is a histogram of IG's 27 slots of microseconds
    rec = next(r for r in run.json_records() if r["dev"] == dev)
    assert len(rec["latency"]) == 27


def test_profile_blockio_columns_draw_a_histogram(loopdev):
    # rounds of writes during the one fetch interval, whenever ig is attached
    p = subprocess.Popen(
        ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 0.3; "
         f"dd if=/dev/zero of={loopdev} bs={BLOCK} count={WRITES} oflag=direct status=none; "
         "done"])
    r = ig("run", "profile_blockio", "--per-disk", "--fields", "+dev",
           "--map-fetch-interval", "3s", "--map-fetch-count", "1", timeout=30)
    p.wait()
    assert r.returncode == 0, r.stderr
    rdev = os.stat(loopdev).st_rdev
    blocks = r.stdout.split("\n\n")
    mine = next(b for b in blocks if f"dev={(os.major(rdev) << 20) | os.minor(rdev)}\n" in b)
    lines = mine.splitlines()
    assert lines[1] == "latency"
    assert re.match(r"^ *usecs +: count +distribution$", lines[2])
    counts = 0
    for line in lines[3:]:
        m = re.match(r"^ *(\d+) -> (\d+) +: (\d+) +\|([* ]{40})\|$", line)
        assert m, line
        lo, hi, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert hi == max(1, 2 * lo)
        counts += n
    assert counts >= WRITES
    assert "|****************************************|" in mine  # the largest slot


def test_profile_blockio_exports_a_histogram(ig_run, loopdev):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = ig_run("profile_blockio", "-o", "json", "--map-fetch-interval", "300ms",
                 "--otel-metrics-name", "blockio:blockio-metrics", "--otel-metrics-listen",
                 "--otel-metrics-listen-address", f"127.0.0.1:{port}")

    def scrape():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as f:
                return f.read().decode()
        except OSError:
            return ""

    def count(text):
        m = re.search(r'^blockio_metrics_latency_seconds_count\{otel_scope_name="blockio-metrics"\}'
                      r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    deadline = time.monotonic() + 10
    while count(scrape()) is None and time.monotonic() < deadline:
        write_direct(loopdev, 1)
        time.sleep(0.3)
    before = count(scrape())
    assert before is not None, "\n".join(run.err_lines)
    write_direct(loopdev, WRITES, seek=8)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = scrape()
        if count(text) >= before + WRITES:
            break
        time.sleep(0.3)
    assert count(text) >= before + WRITES, text
    assert "# TYPE blockio_metrics_latency_seconds histogram" in text
    buckets = re.findall(r'^blockio_metrics_latency_seconds_bucket\{otel_scope_name='
                         r'"blockio-metrics",le="([^"]+)"\} (\S+)$', text, re.M)
    assert len(buckets) == 28 and buckets[-1][0] == "+Inf"  # 27 slots and +Inf
    assert float(buckets[-1][1]) == count(text)


def test_top_blockio_names_the_writer(ig_run, loopdev):
    rdev = os.stat(loopdev).st_rdev
    run = ig_run("top_blockio", "-o", "json", "--map-fetch-interval", "300ms")
    writers = []

    def trigger():
        writers.append(write_direct(loopdev, WRITES))

    def mine(recs):
        by_pid = {}
        for r in recs:
            if (r["major"], r["minor"]) == (os.major(rdev), os.minor(rdev)) \
                    and r["rw"] == "write" and get(r, "proc.pid") in writers:
                by_pid.setdefault(get(r, "proc.pid"), []).append(r)
        # one dd that ran entirely while the gadget was attached
        return next((rs for rs in by_pid.values()
                     if sum(x["bytes"] for x in rs) >= WRITES * BLOCK), None)

    rows = run.wait_for(mine, trigger, timeout=15, every=1.0)
    assert all(get(r, "proc.comm") == "dd" for r in rows)
    assert sum(r["io"] for r in rows) == WRITES
    assert sum(r["bytes"] for r in rows) == WRITES * BLOCK
    assert all(r["us"] >= 0 for r in rows)


def test_top_blockio_filters_by_the_submitter(ig_run, loopdev):
    # completions run in interrupt context: the filter must look at the task
    # the request was remembered with, not at whatever ran the completion
    rdev = os.stat(loopdev).st_rdev
    run = ig_run("top_blockio", "-o", "json", "--comm", "dd", "--map-fetch-interval", "300ms")
    rows = run.wait_for(lambda recs: [r for r in recs if (r["major"], r["minor"]) == (
        os.major(rdev), os.minor(rdev))], lambda: write_direct(loopdev, 4), every=1.0)
    assert rows
    time.sleep(0.7)
    assert {get(r, "proc.comm") for r in run.json_records()} == {"dd"}
