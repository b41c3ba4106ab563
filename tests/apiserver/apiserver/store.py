# SPDX-License-Identifier: Apache-2.0
"""Object storage with etcd's versioning model.

One global, monotonic revision counter stamps every change (it becomes
metadata.resourceVersion and the list resourceVersion).  A bounded history of
changes backs watches from a resourceVersion and consistent paginated lists
(the state at an older revision is rebuilt by undoing later changes); once a
change falls out of the history window, asking for a revision before it is
410 Gone, like a compacted etcd.  With a data directory the state, history and
counter survive restarts: a snapshot plus an append-only journal.
"""

import bisect
import copy
import json
import os
import threading

MAX_JOURNAL_LINE = 4 << 20
SNAPSHOT_EVERY = 500


class Gone(Exception):
    def __init__(self, rv, oldest):
        super().__init__(f"too old resource version: {rv} ({oldest})")
        self.rv = rv
        self.oldest = oldest


class Event:
    __slots__ = ("rv", "type", "res", "ns", "name", "obj", "old")

    def __init__(self, rv, etype, res, ns, name, obj, old):
        self.rv, self.type, self.res, self.ns, self.name, self.obj, self.old = rv, etype, res, ns, name, obj, old

    def to_json(self):
        return {"rv": self.rv, "t": self.type, "k": self.res, "ns": self.ns, "n": self.name,
                "o": self.obj, "old": self.old}

    @classmethod
    def from_json(cls, d):
        return cls(d["rv"], d["t"], d["k"], d["ns"], d["n"], d["o"], d["old"])


class Store:
    def __init__(self, window=1000, data_dir=None):
        self.cond = threading.Condition()
        self.window = max(1, window)
        self.objs = {}          # res key -> {(ns, name): obj}
        self.rv = 0
        self.compacted = 0      # revisions <= this are no longer in history
        self.history = []       # Events, ascending rv
        self._rvs = []          # their revisions, for bisect
        self.data_dir = data_dir
        self._journal = None
        self._journal_lines = 0
        if data_dir:
            self._load()

    # --- persistence ----------------------------------------------------------

    def _paths(self):
        return os.path.join(self.data_dir, "state.json"), os.path.join(self.data_dir, "journal.jsonl")

    def _apply(self, ev):
        table = self.objs.setdefault(ev.res, {})
        if ev.type == "DELETED":
            table.pop((ev.ns, ev.name), None)
        else:
            table[(ev.ns, ev.name)] = ev.obj
        self.rv = max(self.rv, ev.rv)
        self.history.append(ev)
        self._rvs.append(ev.rv)
        self._trim()

    def _load(self):
        snap, journal = self._paths()
        if os.path.exists(snap):
            with open(snap) as f:
                d = json.load(f)
            self.rv = d["rv"]
            self.compacted = d["compacted"]
            for res, ns, name, obj in d["objects"]:
                self.objs.setdefault(res, {})[(ns, name)] = obj
            self.history = [Event.from_json(e) for e in d["history"]]
            self._rvs = [e.rv for e in self.history]
        if os.path.exists(journal):
            with open(journal) as f:
                for line in f:
                    if len(line) > MAX_JOURNAL_LINE or not line.endswith("\n"):
                        break  # torn write at a crash: the rest never happened
                    try:
                        d = json.loads(line)
                    except ValueError:
                        break
                    if "compact" in d:
                        self._compact_locked(d["compact"], journal=False)
                    elif d["rv"] > self.rv:
                        self._apply(Event.from_json(d))
        self._snapshot()

    def _snapshot(self):
        snap, journal = self._paths()
        d = {"rv": self.rv, "compacted": self.compacted,
             "objects": [[res, ns, name, obj] for res, t in self.objs.items() for (ns, name), obj in t.items()],
             "history": [e.to_json() for e in self.history]}
        tmp = snap + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, snap)
        if self._journal:
            self._journal.close()
        self._journal = open(journal, "w")
        self._journal_lines = 0

    def _log(self, d):
        if not self._journal:
            return
        self._journal.write(json.dumps(d) + "\n")
        self._journal.flush()
        self._journal_lines += 1
        if self._journal_lines >= SNAPSHOT_EVERY:
            self._snapshot()

    def close(self):
        with self.cond:
            if self._journal:
                self._journal.close()
                self._journal = None

    # --- history --------------------------------------------------------------

    def _trim(self):
        extra = len(self.history) - self.window
        if extra > 0:
            self.compacted = self.history[extra - 1].rv
            del self.history[:extra]
            del self._rvs[:extra]

    def _compact_locked(self, rv, journal=True):
        rv = min(rv, self.rv)
        if rv <= self.compacted:
            return
        i = bisect.bisect_right(self._rvs, rv)
        del self.history[:i]
        del self._rvs[:i]
        self.compacted = rv
        if journal:
            self._log({"compact": rv})

    def compact(self, rv=None):
        """Forgets history up to rv (default: everything so far)."""
        with self.cond:
            self._compact_locked(self.rv if rv is None else rv)
            return self.compacted

    def events_after(self, rv):
        """Events with revision > rv; raises Gone if some are compacted away.
        Call with self.cond held."""
        if rv < self.compacted:
            raise Gone(rv, self.compacted)
        i = bisect.bisect_right(self._rvs, rv)
        return self.history[i:]

    # --- objects --------------------------------------------------------------

    def commit(self, etype, res, ns, name, obj):
        """Stores a change and returns the stored object (a private copy with
        its new resourceVersion).  Call with self.cond held."""
        table = self.objs.setdefault(res, {})
        old = table.get((ns, name))
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        ev = Event(self.rv, etype, res, ns, name, obj, old)
        self._apply(ev)
        self._log(ev.to_json())
        self.cond.notify_all()
        return copy.deepcopy(obj)

    def get(self, res, ns, name):
        o = self.objs.get(res, {}).get((ns, name))
        return copy.deepcopy(o) if o is not None else None

    def state_at(self, res, rv):
        """{(ns, name): obj} of one resource as it was at revision rv
        (objects are shared, do not modify).  Call with self.cond held."""
        if rv > self.rv:
            raise ValueError("future revision")
        cur = dict(self.objs.get(res, {}))
        if rv == self.rv:
            return cur
        for ev in reversed(self.events_after(rv)):
            if ev.res != res:
                continue
            if ev.old is None:
                cur.pop((ev.ns, ev.name), None)
            else:
                cur[(ev.ns, ev.name)] = ev.old
        return cur
