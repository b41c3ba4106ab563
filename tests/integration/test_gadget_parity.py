# SPDX-License-Identifier: Apache-2.0
"""The in-tree gadgets have the fields and params of Inspektor Gadget's
gadgets of the same names, checked on events the tests cause: trace_exec's
paths, terminal and layer fields, trace_open's fpath and user stack,
trace_tcp's descriptors and selection params, trace_signal's --failed and
--kill-only, trace_mount's flag names, delta and call, and the new
trace_oomkill (a cgroup with a memory limit) and profile_qdisc_latency (a
network namespace of the test's own, with a queueing qdisc)."""

import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from conftest import get, ig, unique


def first(pred):
    return lambda recs: next((r for r in recs if pred(r)), None)


def test_trace_exec_paths_and_ig_fields(ig_run, tmp_path):
    marker = unique("EXEC")
    link = tmp_path / "true-link"
    os.symlink("/bin/true", link)
    run = ig_run("trace_exec", "-o", "json", "--paths")
    rec = run.wait_for(first(lambda r: marker in (r.get("args") or "")),
                       lambda: subprocess.run([str(link), marker], cwd=str(tmp_path)))
    exe = os.path.realpath("/bin/true")
    assert rec["exepath"] == exe
    assert rec["file"] == exe
    assert rec["cwd"] == str(tmp_path)
    assert rec["parent_exepath"] == os.path.realpath("/proc/self/exe") or \
        rec["parent_exepath"].endswith("python3") or "python" in rec["parent_exepath"]
    st = os.stat(exe)
    assert rec["inode"] == st.st_ino
    assert (rec["dev_major"], rec["dev_minor"]) == (os.major(st.st_dev), os.minor(st.st_dev))
    assert rec["ctime"] == st.st_ctime_ns
    for k in ("tty", "tty_major", "tty_minor", "upper_layer", "pupper_layer",
              "fupper_layer", "from_rootfs", "pctime", "loginuid", "loginuser", "sessionid"):
        assert k in rec, k
    assert rec["from_rootfs"] is True and rec["upper_layer"] is False
    # args_count and args_size are not in JSON, as in Inspektor Gadget
    assert "args_count" not in rec and "args_size" not in rec


def test_trace_exec_script_file_is_the_script(ig_run, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    run = ig_run("trace_exec", "-o", "json", "--paths")
    rec = run.wait_for(first(lambda r: str(script) in (r.get("args") or "")),
                       lambda: subprocess.run([str(script)]))
    assert rec["file"] == str(script)
    assert rec["exepath"] == os.path.realpath("/bin/sh")


def test_trace_open_fpath_and_ustack(ig_run, tmp_path):
    target = tmp_path / "target"
    target.write_text("x")
    link = tmp_path / "link"
    os.symlink(target, link)
    run = ig_run("trace_open", "-o", "json", "--paths", "--collect-ustack")
    rec = run.wait_for(first(lambda r: r.get("fname") == str(link)),
                       lambda: subprocess.run(["cat", str(link)], stdout=subprocess.DEVNULL))
    assert rec["fpath"] == str(target)
    assert get(rec, "ustack.addresses").startswith("0x")
    assert get(rec, "ustack.symbols")


def test_trace_tcp_descriptors_and_selection(ig_run):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    run = ig_run("trace_tcp", "-o", "json", "--pid", str(os.getpid()))
    fds = {}

    def trigger():
        c = socket.socket()
        c.connect(("127.0.0.1", port))
        a, _ = srv.accept()
        fds.setdefault("c", c.fileno())
        fds.setdefault("a", a.fileno())
        a.close()
        c.close()

    acc = run.wait_for(first(lambda r: r.get("type") == "accept"), trigger)
    con = next(r for r in run.json_records() if r.get("type") == "connect")
    assert acc["fd"] == srv.fileno() and acc["accept_fd"] >= 0
    assert con["fd"] >= 0 and con["accept_fd"] == -1
    srv.close()

    refused = ig_run("trace_tcp", "-o", "json", "--failure-only", "--connect-only",
                     "--pid", str(os.getpid()))

    def refuse():
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", 1))
        except OSError:
            pass
        s.close()

    rec = refused.wait_for(first(lambda r: r.get("error") == "ECONNREFUSED"), refuse)
    assert rec["type"] == "connect"
    assert all(r.get("error") for r in refused.json_records())


def test_trace_signal_failed_and_kill_only(ig_run):
    gone = 4194000  # above pid_max on most machines: kill() fails with ESRCH
    run = ig_run("trace_signal", "-o", "json", "--failed", "--pid", str(os.getpid()))

    def bad_kill():
        try:
            os.kill(gone, signal.SIGUSR1)
        except ProcessLookupError:
            pass

    rec = run.wait_for(first(lambda r: r.get("error") == "ESRCH"), bad_kill)
    assert rec["tpid"] == gone and rec["sig"] == "SIGUSR1"

    k = ig_run("trace_signal", "-o", "json", "-k", "--pid", str(os.getpid()))
    child = subprocess.Popen(["sleep", "100"])

    def good_kill():
        os.kill(child.pid, signal.SIGCONT)

    rec = k.wait_for(first(lambda r: r.get("tpid") == child.pid), good_kill)
    assert rec["sig"] == "SIGCONT" and rec["error"] == ""
    child.kill()
    child.wait()


def test_trace_mount_flags_delta_call(ig_run, tmp_path):
    target = tmp_path / "mnt"
    target.mkdir()
    run = ig_run("trace_mount", "-o", "json")

    def trigger():
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nosuid,nodev", "igparity",
                           str(target)]).returncode == 0:
            subprocess.run(["umount", str(target)])

    rec = run.wait_for(first(lambda r: r.get("dest") == str(target) and r.get("op") == "mount"),
                       trigger)
    assert set(rec["flags"].split("|")) >= {"MS_NOSUID", "MS_NODEV"}
    assert rec["delta_raw"] > 0 and rec["delta"].endswith("s")
    assert rec["call"].startswith(f'mount("igparity", "{target}", "tmpfs", ')
    assert rec["call"].endswith(", \"size=1m\") = 0") or "size=1m" in rec["call"]
    um = run.wait_for(first(lambda r: r.get("dest") == str(target) and r.get("op") == "umount"))
    assert um["call"] == f'umount("{target}", 0) = 0'


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/memory"),
                    reason="needs the cgroup v1 memory controller")
def test_trace_oomkill_names_victim(ig_run):
    cg = f"/sys/fs/cgroup/memory/ig-oom-{uuid.uuid4().hex[:8]}"
    os.mkdir(cg)
    try:
        with open(f"{cg}/memory.limit_in_bytes", "w") as f:
            f.write("24M")
        run = ig_run("trace_oomkill", "-o", "json")
        hog = []

        def trigger():
            if hog:
                return
            p = subprocess.Popen(
                ["sh", "-c", f"echo $$ > {cg}/cgroup.procs; exec python3 -c 'b=[]\n"
                 "while True: b.append(bytearray(1<<20))'"])
            hog.append(p)

        rec = run.wait_for(first(lambda r: hog and r.get("tpid") == hog[0].pid), trigger,
                           timeout=30, every=5)
        hog[0].wait()
        assert rec["tcomm"] == "python3"
        assert get(rec, "fprocess.pid") == hog[0].pid
        assert rec["pages"] > 1000  # it had taken most of the 24 MiB
        assert hog[0].returncode == -signal.SIGKILL
    finally:
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


def test_profile_qdisc_latency_counts_queued_packets(tmp_path):
    ns = f"igq-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        # tbf queues every packet (pfifo_fast would let them through when idle)
        subprocess.run(["tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "tbf", "rate",
                        "10mbit", "burst", "32kbit", "latency", "400ms"], check=True)
        p = subprocess.Popen([os.environ.get("IG", "ig"), "run", "profile_qdisc_latency",
                              "-o", "json", "-t", "3"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                        "for i in range(300): s.sendto(b'x'*1000,('127.0.0.1',9))"],
                       check=True)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        total = 0
        for line in out.splitlines():
            if not line.startswith(("[", "{")):
                continue
            doc = json.loads(line)
            for rec in doc if isinstance(doc, list) else [doc]:
                assert len(rec["latency"]) == 27
                total += sum(rec["latency"])
        assert total >= 300, out
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_new_gadgets_listed_with_their_params():
    r = ig("run", "profile_qdisc_latency", "--help")
    assert r.returncode == 0, r.stderr
    assert "--ifindex int" in r.stdout and "--ms bool" in r.stdout
    r = ig("run", "trace_tcp", "--help")
    for k in ("--accept-only", "--connect-only", "--failure-only"):
        assert k in r.stdout
    r = ig("run", "trace_signal", "--help")
    assert "--failed bool" in r.stdout and "-k, --kill-only bool" in r.stdout
