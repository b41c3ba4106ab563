# SPDX-License-Identifier: Apache-2.0
"""ig run trace_open: a file opened by a known process shows up with that
process' pid and comm and the exact path; columns output is readable; -F and
--fields behave."""

import os
import subprocess

from conftest import get, unique


def test_open_json_has_path_pid_comm(ig_run, tmp_path):
    path = tmp_path / unique("open")
    path.write_text("x")
    run = ig_run("trace_open", "-o", "json")
    pids = set()

    def trigger():
        p = subprocess.Popen(["cat", str(path)], stdout=subprocess.DEVNULL)
        pids.add(p.pid)
        p.wait()

    rec = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("fname") == str(path)), None), trigger)
    assert get(rec, "proc.pid") in pids
    assert get(rec, "proc.comm") == "cat"
    assert rec["error"] == ""
    assert rec["fd"] >= 3
    assert "O_RDONLY" in rec["flags"]
    assert get(rec, "proc.creds.uid") == 0
    assert get(rec, "proc.creds.user") == "root"
    assert rec["timestamp"][:2] == "20"  # wall clock, not nanoseconds since boot
    assert run.stop() == 0


def test_open_failure_has_errno_name(ig_run, tmp_path):
    missing = str(tmp_path / unique("missing"))
    run = ig_run("trace_open", "-o", "json", "--failed")
    rec = run.wait_for(
        lambda recs: next((r for r in recs if r.get("fname") == missing), None),
        lambda: subprocess.run(["cat", missing], stderr=subprocess.DEVNULL))
    assert rec["error"] == "ENOENT"
    assert rec["fd"] == 0
    # --failed: nothing that succeeded is reported
    assert all(r["error"] != "" for r in run.json_records())


def test_open_filter_and_fields(ig_run, tmp_path):
    path = tmp_path / unique("filt")
    path.write_text("x")
    run = ig_run("trace_open", "-o", "json", "-F", "proc.comm==head",
                 "--fields", "proc.pid,fname")
    heads, cats = set(), set()

    def trigger():
        for cmd, pids in ((["head", "-c1", str(path)], heads), (["cat", str(path)], cats)):
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
            pids.add(p.pid)
            p.wait()

    rec = run.wait_for(
        lambda recs: next((r for r in recs if r.get("fname") == str(path)), None), trigger)
    assert set(rec.keys()) == {"proc", "fname"}
    assert set(rec["proc"].keys()) == {"pid"}
    # cat opened the same file as often as head, but only head passed the filter
    pids = {r["proc"]["pid"] for r in run.json_records() if r.get("fname") == str(path)}
    assert pids and pids <= heads and not pids & cats


def test_open_columns_readable(ig_run, tmp_path):
    path = tmp_path / unique("col")
    path.write_text("x")
    run = ig_run("trace_open")

    def seen(_):
        return next((l for l in run.snapshot() if str(path) in l), None)

    line = run.wait_for(seen, lambda: subprocess.run(["cat", str(path)]))
    header = run.snapshot()[0]
    for col in ("COMM", "PID", "FNAME"):
        assert col in header, header
    assert "cat" in line.split()
    # aligned: the FNAME column starts at the same offset in header and row
    assert line.index(str(path)) == header.index("FNAME")


def test_pid_param_filters_in_kernel(ig_run, tmp_path):
    path = tmp_path / unique("pid")
    path.write_text("x")
    me = os.getpid()
    run = ig_run("trace_open", "-o", "json", "--pid", str(me))

    def trigger():
        with open(path):
            pass
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL)

    run.wait_for(lambda recs: next((r for r in recs if r.get("fname") == str(path)), None),
                 trigger)
    assert {get(r, "proc.pid") for r in run.json_records()} == {me}
