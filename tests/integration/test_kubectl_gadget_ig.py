# SPDX-License-Identifier: Apache-2.0
"""Inspektor Gadget's habits, typed as its documentation types them, through
the real kubectl with the plugin on PATH, against the stand-in API server
and a real agent (the fixtures of test_kubectl_gadget.py):

- `run ... -t 5s` and `-t 3`, `-F 'a==1,b==2'` with RE2 regexes (`\\d`), the
  same filter and flag set through `ig run` and `kubectl gadget run` giving
  the same records;
- `--detach --tags`, `list` with IDs, `show`, `attach` and `delete` by name,
  id and id prefix, IG's short command names, an ambiguous prefix refused;
- deploy's `--print-only`, `--wait=false`, `--image-pull-policy` and
  `--node-selector`; `-n a,b` reaching the agent as IG's list;
- a bad regex refused by the agent in the request itself, from any client.
"""

import json
import re
import threading
import time

import yaml

from apiserver import apiserver  # noqa: F401  (fixture)
from conftest import IG, get, ig
from test_kubectl_gadget import agent, docs, instance_selector, json_lines, kg  # noqa: F401

import os
import subprocess

AGENT_CLIENT = os.environ.get("AGENT_CLIENT")


class Numbered:
    """Runs /bin/true MARKER-N, N = 1, 2, ..., every 40 ms until stopped."""

    def __init__(self):
        self.marker = f"kgi{os.urandom(4).hex()}"
        self.stop_ev = threading.Event()
        self.n = 0
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_ev.is_set():
            self.n += 1
            subprocess.run(["/bin/true", f"{self.marker}-{self.n}"])
            time.sleep(0.04)

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)


def numbers(records, marker):
    out = set()
    for r in records:
        m = re.search(rf"{marker}-(\d+)$", get(r, "args") or "")
        if m:
            out.add(int(m.group(1)))
    return out


def test_timeout_as_ig_types_it(apiserver, agent):  # noqa: F811
    for t, least in (("3s", 3), ("3", 3), ("1500ms", 1.5)):
        t0 = time.monotonic()
        r = kg(apiserver, "run", "trace_exec", "-A", "-t", t, "-o", "json")
        took = time.monotonic() - t0
        assert r.returncode == 0, (t, r.stderr)
        assert least <= took < 30, (t, took)


def test_same_filters_same_records_through_ig_and_kubectl_gadget(apiserver, agent):  # noqa: F811
    """The same -F set (IG's comma AND, an RE2 \\d, a repeated -F) and
    --fields through both clients, at the same time, on the same kernel:
    where their windows overlap they print the same records."""
    e = Numbered()
    try:
        filt = ["-F", rf"proc.comm==true,args~{e.marker}-\d*[02468]$", "-F", "proc.pid>0",
                "--fields", "proc.comm,args", "-o", "json", "-t", "4s"]
        out = {}

        def via_ig():
            out["ig"] = ig("run", "trace_exec", *filt, timeout=60)

        th = threading.Thread(target=via_ig)
        th.start()
        out["kg"] = kg(apiserver, "run", "trace_exec", "-A", *filt)
        th.join(60)
    finally:
        e.stop()
    for k in ("ig", "kg"):
        assert out[k].returncode == 0, (k, out[k].stderr)
    recs = {k: json_lines(out[k].stdout) for k in ("ig", "kg")}
    for k, rs in recs.items():
        assert rs, (k, out[k].stderr)
        # every record passes every filter; only the asked fields
        assert all(get(r, "proc.comm") == "true" for r in rs), k
        assert all(set(r) <= {"proc", "args", "k8s"} for r in rs), (k, rs[:2])
    a, b = numbers(recs["ig"], e.marker), numbers(recs["kg"], e.marker)
    assert a and b and all(n % 2 == 0 for n in a | b)
    lo, hi = max(min(a), min(b)), min(max(a), max(b))
    assert lo < hi, (sorted(a), sorted(b))
    assert {n for n in a if lo <= n <= hi} == {n for n in b if lo <= n <= hi}


def test_instances_by_name_id_and_prefix(apiserver, agent):  # noqa: F811
    api = apiserver
    r = kg(api, "run", "trace_exec", "-A", "--detach", "--name", "first", "--tags", "audit,ig")
    assert r.returncode == 0, r.stderr
    iid = re.search(r"\(id ([0-9a-f-]+)\)", r.stdout).group(1)
    try:
        r = kg(api, "ls")
        assert r.returncode == 0, r.stderr
        head, row = r.stdout.splitlines()[0], r.stdout.splitlines()[1]
        assert head.split()[:2] == ["ID", "NAME"]
        assert row.split()[0] == iid[:12] and row.split()[1] == "first"
        assert row.split()[-1] == "audit,ig"
        # show, as IG's YAML, by a prefix of the id
        r = kg(api, "show", iid[:8])
        assert r.returncode == 0, r.stderr
        shown = yaml.safe_load(r.stdout)
        assert shown["ID"] == iid and shown["Name"] == "first" and shown["Image"] == "trace_exec"
        assert shown["Tags"] == ["audit", "ig"] and re.match(r"\d{4}-\d\d-\d\dT", shown["TimeCreated"])
        assert shown["NodeInstances"] == [{"Node": "n1", "Status": "Running", "Message": ""}]
        assert json.loads(kg(api, "sh", "first", "-o", "json").stdout)["id"] == iid
        # attach by prefix, ended by -t
        t0 = time.monotonic()
        r = kg(api, "a", iid[:6], "-t", "2s", "-o", "json")
        assert r.returncode == 0, r.stderr
        assert 2 <= time.monotonic() - t0 < 20
        # a second instance named after the start of the first's id: that start is ambiguous
        clash = iid[:5]
        if clash[0].isalnum():
            r = kg(api, "run", "trace_exec", "-A", "--detach", "--name", clash)
            assert r.returncode == 0, r.stderr
            r = kg(api, "show", clash)
            assert r.returncode == 1
            assert f"'{clash}' names or begins the id of 2 instances" in r.stderr, r.stderr
            assert kg(api, "delete", clash).returncode == 0  # a name is taken as it is
        r = kg(api, "show", "nosuch")
        assert r.returncode == 1 and "no gadget instance named 'nosuch'" in r.stderr
    finally:
        r = kg(api, "del", iid[:10])
    assert r.returncode == 0 and r.stdout == "gadget instance first deleted\n", r.stderr
    assert kg(api, "list").stdout.splitlines()[1:] == []


def test_namespace_lists_reach_the_agent(apiserver, agent):  # noqa: F811
    api = apiserver
    r = kg(api, "run", "trace_exec", "--detach", "--name", "lists", "-n", "shop,web",
           "-c", "!sidecar", "-l", "tier=!db")
    assert r.returncode == 0, r.stderr
    try:
        sel = instance_selector(api, "lists")["selector"]
        assert sel["namespace"] == "shop,web" and sel["containername"] == "!sidecar"
        assert sel["labels"] == {"tier": "!db"}
    finally:
        kg(api, "delete", "lists")


def test_deploy_flags_as_ig_spells_them(apiserver):  # noqa: F811
    api = apiserver
    a = kg(api, "deploy", "--print")
    b = kg(api, "deploy", "--print-only")
    assert a.returncode == 0 and a.stdout == b.stdout
    r = kg(api, "deploy", "--print-only", "--image-pull-policy", "Always", "--node-selector",
           "kubernetes.io/hostname in (n1),!spot")
    ds = [o for o in docs(r.stdout) if o["kind"] == "DaemonSet"][0]
    spec = ds["spec"]["template"]["spec"]
    assert [c["imagePullPolicy"] for c in spec["containers"]] == ["Always"]
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]},
            {"key": "spot", "operator": "DoesNotExist"}]}]}
    for args, words in ((["--image-pull-policy", "Sometimes"], "invalid --image-pull-policy"),
                        (["--node-selector", "a in b"], "--node-selector: expected '('")):
        r = kg(api, "deploy", "--print", *args)
        assert r.returncode == 2 and words in r.stderr, r.stderr
    # applied, without waiting, on the nodes the selector names
    r = kg(api, "deploy", "--wait=false", "--node-selector", "kubernetes.io/hostname=n2")
    assert r.returncode == 0, r.stderr
    ds = json.loads(api.kubectl("get", "ds", "-n", "gadget", "gadget", "-o", "json").stdout)
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["n2"]
    r = kg(api, "deploy", "--wait=false", "--node-selector", "nosuch=label")
    assert r.returncode == 1 and "no node matches --node-selector 'nosuch=label'" in r.stderr
    r = kg(api, "undeploy", "--wait=false")
    assert r.returncode == 0, r.stderr
    # a second undeploy while the namespace terminates is not an error either
    r = kg(api, "undeploy", "-t", "20s")
    assert r.returncode == 0, r.stderr
    assert "namespace/gadget already" in r.stdout, r.stdout


def test_bad_regex_refused_in_the_request(apiserver, agent):  # noqa: F811
    """Whoever sends it: the plugin (which asks the agent before running) and
    a raw client of the control API, for a run and for an instance."""
    r = kg(apiserver, "run", "trace_exec", "-A", "-F", "comm~(a", "-t", "1")
    assert r.returncode == 2, r.stderr
    assert "bad regular expression: missing closing parenthesis at offset 2" in r.stderr
    assert r.stderr.count("\n") == 1
    r = kg(apiserver, "run", "trace_exec", "-A", "--detach", "-F", "comm~(a)\\1")
    assert r.returncode == 2 and "back-references are not supported" in r.stderr, r.stderr
    # a catastrophic pattern is accepted and bounded: the run ends on time
    t0 = time.monotonic()
    r = kg(apiserver, "run", "trace_exec", "-A", "-F", "args~(a+)+$", "-t", "2")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 30


def test_bad_regex_refused_by_the_agent_itself(apiserver, agent):  # noqa: F811
    """A client of the control API that checks nothing itself: RunGadget and
    GetGadgetInfo with a pattern that cannot compile are each answered with
    ERROR_INVALID_PARAM, and nothing runs.  CreateInstance is refused before
    its spec is read: in a cluster instances are ConfigMaps the user writes."""
    assert AGENT_CLIENT, "AGENT_CLIENT is not set"
    # the agent listens on its pod's loopback only: the client goes in there
    def ask(*args):
        r = subprocess.run(agent.net.prefix() + [AGENT_CLIENT, "127.0.0.1:8484", *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        return [json.loads(x) for x in r.stdout.splitlines() if '"error"' in x][-1]

    for args in (["run", "trace_exec", "--filter", "args~(a", "--timeout", "2000"],
                 ["gadget-info", "trace_exec", "--filter", "args~[z-a]"]):
        err = ask(*args)
        assert err["code"] in ("ERROR_INVALID_PARAM", 4) or "INVALID_PARAM" in str(err), err
        assert "regular expression" in json.dumps(err), err
    err = ask("create", "badre", "trace_exec", "--filter", "comm~(x)\\1")
    assert err["code"] == "ERROR_PERMISSION_DENIED", err
    assert kg(apiserver, "list").stdout.splitlines()[1:] == []
