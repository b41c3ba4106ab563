# SPDX-License-Identifier: Apache-2.0
"""ig run trace_exec: a command with unique arguments is reported with its
pid, comm and full argument list; failed execs with --ignore-failed=false."""

import os
import subprocess
import sys

from conftest import get, unique


def test_exec_args_pid_comm(ig_run):
    tag = unique("exec")
    run = ig_run("trace_exec", "-o", "json")
    pids = set()

    def trigger():
        p = subprocess.Popen(["/bin/echo", tag, "two words", "3"], stdout=subprocess.DEVNULL)
        pids.add(p.pid)
        p.wait()

    rec = run.wait_for(lambda recs: next(
        (r for r in recs if tag in (r.get("args") or "")), None), trigger)
    assert rec["args"] == f"/bin/echo {tag} two words 3"
    assert get(rec, "proc.pid") in pids
    assert get(rec, "proc.comm") == "echo"
    assert rec["error"] == ""
    assert get(rec, "proc.parent.pid") == os.getpid()


def test_exec_failed(ig_run, tmp_path):
    missing = str(tmp_path / unique("nosuchbin"))
    run = ig_run("trace_exec", "-o", "json", "--ignore-failed=false")

    def trigger():
        subprocess.run([sys.executable, "-c", f"import os\ntry: os.execv({missing!r}, [{missing!r}, 'x'])\nexcept OSError: pass"])

    rec = run.wait_for(lambda recs: next(
        (r for r in recs if r.get("args") == f"{missing} x"), None), trigger)
    assert rec["error"] == "ENOENT"
    assert get(rec, "proc.comm") == "python3"


def test_exec_columns_default(ig_run):
    tag = unique("cols")
    run = ig_run("trace_exec")
    line = run.wait_for(lambda _: next((l for l in run.snapshot() if tag in l), None),
                        lambda: subprocess.run(["/bin/echo", tag], stdout=subprocess.DEVNULL))
    assert "echo" in line
    assert "ARGS" in run.snapshot()[0]
