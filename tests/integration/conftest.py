# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the integration tests: they run the real ig binary as root
against the running kernel and trigger real events with real processes."""

import json
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IG = os.environ.get("IG", os.path.join(REPO, "build", "bin", "ig"))
GADGETS = os.environ.get("IG_GADGETS", os.path.join(REPO, "build", "gadgets"))


def unique(prefix="igt"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class IgRun:
    """ig run in the background; stdout lines are collected by a thread."""

    def __init__(self, args, env=None, verbose=False):
        e = dict(os.environ, IG_GADGETS=GADGETS)
        if env:
            e.update(env)
        # verbose: "ig -v run", whose debug lines go to err_lines
        self.args = [IG] + (["-v"] if verbose else []) + ["run"] + list(args)
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, text=True,
            start_new_session=True)
        self.lines = []
        self.err_lines = []
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines))
        self._te = threading.Thread(target=self._pump, args=(self.proc.stderr, self.err_lines))
        self._t.start()
        self._te.start()

    def _pump(self, f, dst):
        for line in f:
            with self._lock:
                dst.append(line.rstrip("\n"))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def json_records(self):
        out = []
        for line in self.snapshot():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_for(self, match, trigger=None, timeout=15.0, every=0.3):
        """Calls trigger() every `every` seconds until match(records) returns
        something truthy; returns it.  Triggering repeatedly covers the time
        the gadget takes to attach without guessing at it."""
        deadline = time.monotonic() + timeout
        next_trigger = 0.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if trigger and time.monotonic() >= next_trigger:
                trigger()
                next_trigger = time.monotonic() + every
            found = match(self.json_records())
            if found:
                return found
            time.sleep(0.05)
        self.stop()
        raise AssertionError(
            f"no matching record from {' '.join(self.args)}\nstdout:\n"
            + "\n".join(self.lines[-30:]) + "\nstderr:\n" + "\n".join(self.err_lines[-30:]))

    def stop(self, sig=signal.SIGINT, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t.join(5)
        self._te.join(5)
        return self.proc.returncode


@pytest.fixture
def ig_run():
    runs = []

    def start(*args, **kw):
        r = IgRun(args, **kw)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.stop(signal.SIGKILL)


def ig(*args, timeout=60, env=None):
    """Runs ig to completion; returns CompletedProcess with text output."""
    e = dict(os.environ, IG_GADGETS=GADGETS)
    if env:
        e.update(env)
    return subprocess.run([IG] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=e)


def get(rec, dotted):
    """rec['proc']['comm'] for dotted='proc.comm'."""
    cur = rec
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur
