# SPDX-License-Identifier: Apache-2.0
"""Cluster mode end to end: three nodes on one machine (tests/integration/
cluster.py: three containerds, three gadget-agents, the stand-in API server
with the chart applied) driven by the real kubectl through the plugin, as a
user would: `kubectl gadget run trace_exec -n demo -o json` sees execs from
pods on all three nodes, named by node, namespace and pod; --node and -p
restrict; a pod of another namespace stays out; an agent killed mid-run is
reported by name while the other nodes go on; a detached instance outlives
its client and an agent restart, and attach replays it.

Every exec on this machine reaches every agent (one kernel); an agent
names a process only when it runs in a container of its own node's
containerd.  So every run here selects by namespace or pod: the host's own
processes, which all three "nodes" share, are no pod's, and a run with no
pod criterion could show them from every node.
"""

import datetime
import json
import signal
import time
import types

import pytest
import yaml

from cluster import GADGET_NS, cluster, unique  # noqa: F401  (module-scoped fixture)
from conftest import get

DEMO = "demo"


@pytest.fixture(scope="module")
def pods(cluster):  # noqa: F811
    """web-0..2 in `demo`, one per node; plus a pod named like web-0 on
    node-1 in another namespace, so only the namespace tells them apart."""
    web = [cluster.add_pod(i, DEMO, f"web-{i}", labels={"app": "web", "slot": str(i)})
           for i in range(len(cluster.nodes))]
    other = cluster.add_pod(0, unique("other"), "web-0", labels={"app": "web"})
    return types.SimpleNamespace(web=web, other=other)


@pytest.fixture(autouse=True)
def agents_survive(cluster):  # noqa: F811
    """An agent that died during a test (other than by the test's own kill,
    after which the test starts it again) is that test's error, with its
    log; it is started again so the following tests have three nodes."""
    yield
    dead = []
    for n in cluster.nodes:
        if not n.agent.running():
            dead.append(f"agent of {n.name} died (exit {n.agent.proc.returncode}):\n{n.agent.log_tail(60)}")
            n.agent.start()
    assert not dead, "\n".join(dead)


def ts(rec):
    """The record's wall-clock timestamp (RFC 3339, ns) as epoch seconds."""
    t = rec["timestamp"].rstrip("Z")
    base, _, frac = t.partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp() + float("0." + (frac or "0"))


def each_has(workloads, n, since=0.0):
    """A match for Stream.wait_for: at least n loop records of every workload
    (newer than `since`, epoch seconds)."""
    return lambda recs, err: all(len([r for r in w.mine(recs) if ts(r) > since]) >= n
                                 for w in workloads)


def assert_named_right(recs, workloads):
    """Each workload's records carry its node, namespace, pod and container."""
    for w in workloads:
        for r in w.mine(recs):
            assert get(r, "k8s.node") == w.node.name, r
            assert get(r, "k8s.namespace") == w.ns, r
            assert get(r, "k8s.podName") == w.name, r
            assert get(r, "k8s.containerName") == w.container, r
            assert get(r, "runtime.containerId") == w.cid, r


def nodes_of(recs):
    return {get(r, "k8s.node") for r in recs}


def test_cluster_is_mirrored_in_the_api_server(cluster, pods):  # noqa: F811
    """What the harness built, seen through kubectl: three Ready nodes, one
    Ready agent pod per node whose IP is that agent's address, and each
    workload pod bound to the node whose containerd really runs it."""
    nodes = cluster.get_json("nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(n.name for n in cluster.nodes)
    agents = cluster.get_json("pods", ns=GADGET_NS, selector="k8s-app=gadget")["items"]
    by_node = {p["spec"]["nodeName"]: p for p in agents}
    assert len(agents) == len(cluster.nodes) == len(by_node)
    for n in cluster.nodes:
        p = by_node[n.name]
        assert p["status"]["podIP"] == n.address
        assert {"type": "Ready", "status": "True"}.items() <= \
            [c for c in p["status"]["conditions"] if c["type"] == "Ready"][0].items()
        assert p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    for w in pods.web + [pods.other]:
        p = cluster.get_json("pod", w.name, ns=w.ns)
        assert p["spec"]["nodeName"] == w.node.name
        assert p["status"]["containerStatuses"][0]["containerID"] == f"containerd://{w.cid}"
        # the container runs in that node's containerd only, under the pod's uid
        for n in cluster.nodes:
            r = n.containerd.cri("pid", w.cid, check=False)
            assert (r.returncode == 0) == (n is w.node), (n.name, w.name, r.stderr)
        labels = json.loads(cluster.ctr(w.node, "containers", "info", w.cid))["Labels"]
        assert labels["io.kubernetes.pod.uid"] == p["metadata"]["uid"]
        assert labels["io.kubernetes.pod.namespace"] == w.ns
        assert labels["io.kubernetes.pod.name"] == w.name
    ds = cluster.get_json("daemonset", "gadget", ns=GADGET_NS)
    assert ds["status"]["numberReady"] == len(cluster.nodes)


def test_run_sees_every_node_and_only_the_namespace(cluster, pods):  # noqa: F811
    run = cluster.gadget_bg("run", "trace_exec", "-n", DEMO, "-o", "json")
    try:
        run.wait_for(each_has(pods.web, 3), what="records of web-0..2")
        recs = run.records()
        assert_named_right(recs, pods.web)
        assert nodes_of(recs) == {n.name for n in cluster.nodes}
        # nothing from outside the namespace: not the same-named pod of the
        # other namespace, not the host
        assert not pods.other.mine(recs)
        assert {get(r, "k8s.namespace") for r in recs} == {DEMO}
    finally:
        rc = run.stop(signal.SIGINT)
    assert rc == 0, run.describe()


def test_other_namespace_is_its_own(cluster, pods):  # noqa: F811
    """The pod left out above is visible when its namespace is asked for,
    so leaving it out was the selector's doing."""
    run = cluster.gadget_bg("run", "trace_exec", "-n", pods.other.ns, "-o", "json")
    try:
        run.wait_for(each_has([pods.other], 3), what=f"records of {pods.other.ns}/web-0")
        recs = run.records()
        assert_named_right(recs, [pods.other])
        assert not any(w.mine(recs) for w in pods.web)
        assert nodes_of(recs) == {pods.other.node.name}
    finally:
        rc = run.stop(signal.SIGINT)
    assert rc == 0, run.describe()


@pytest.mark.parametrize("flags,want", [
    (lambda c, p: ["-n", DEMO, "--node", c.nodes[1].name], lambda p: p.web[1:2]),
    (lambda c, p: ["-n", DEMO, "--node", f"{c.nodes[0].name},{c.nodes[2].name}"],
     lambda p: [p.web[0], p.web[2]]),
    (lambda c, p: ["-n", DEMO, "--node", c.nodes[0].name, "--node", c.nodes[1].name],
     lambda p: p.web[0:2]),
    (lambda c, p: ["-n", DEMO, "-p", "web-2"], lambda p: p.web[2:3]),
    (lambda c, p: ["-n", DEMO, "--podname", "web-0", "--node", c.nodes[0].name], lambda p: p.web[0:1]),
    (lambda c, p: ["-n", DEMO, "-l", "app=web,slot=1"], lambda p: p.web[1:2]),
    # the same pod name in two namespaces, both on node-1
    (lambda c, p: ["-A", "-p", "web-0"], lambda p: [p.web[0], p.other]),
], ids=["node", "node-list", "node-repeated", "p", "podname-and-node", "l", "A-p"])
def test_node_and_pod_restrict(cluster, pods, flags, want):  # noqa: F811
    wanted = want(pods)
    others = [w for w in pods.web + [pods.other] if w not in wanted]
    run = cluster.gadget_bg("run", "trace_exec", "-o", "json", *flags(cluster, pods))
    try:
        # five rounds of each wanted loop: the others' loops ran as often
        run.wait_for(each_has(wanted, 5), what=f"records of {[w.name for w in wanted]}")
        recs = run.records()
        assert_named_right(recs, wanted)
        assert not any(w.mine(recs) for w in others)
        assert nodes_of(recs) == {w.node.name for w in wanted}
        # every record is one of the wanted pods': nothing of the host's
        assert {(get(r, "k8s.namespace"), get(r, "k8s.podName")) for r in recs} == \
            {(w.ns, w.name) for w in wanted}
    finally:
        rc = run.stop(signal.SIGINT)
    assert rc == 0, run.describe()


def test_timeout_ends_the_run_with_every_node(cluster, pods):  # noqa: F811
    r = cluster.gadget("run", "trace_exec", "-n", DEMO, "-o", "json", "--timeout", "4s", timeout=60)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert_named_right(recs, pods.web)
    for w in pods.web:
        assert w.mine(recs), (w.name, r.stdout[-2000:], r.stderr)


def test_agent_killed_mid_run(cluster, pods):  # noqa: F811
    """SIGKILL one agent while records stream: stderr names that node, the
    other nodes keep streaming, and the run exits 1 at the end because a
    node failed.  The agent is started again for the tests that follow."""
    victim = cluster.nodes[2]
    survivors = [w for w in pods.web if w.node is not victim]
    run = cluster.gadget_bg("run", "trace_exec", "-n", DEMO, "-o", "json")
    try:
        run.wait_for(each_has(pods.web, 2), what="records of web-0..2")
        victim.agent.kill(signal.SIGKILL)
        killed = time.time()
        run.wait_for(lambda recs, err: [e for e in err if victim.name in e],
                     what=f"error naming {victim.name} on stderr")
        run.wait_for(each_has(survivors, 3, since=time.time()),
                     what="records from the surviving nodes after the error")
        assert run.proc.poll() is None, run.describe()
        late = [r for r in run.records() if ts(r) > killed + 1]
        assert victim.name not in nodes_of(late)
        survivor_names = {w.node.name for w in survivors}
        assert not [e for e in run.stderr() if any(s in e for s in survivor_names)], run.describe()
        rc = run.stop(signal.SIGINT)
        assert rc == 1, run.describe()
    finally:
        run.stop(signal.SIGKILL)
        if not victim.agent.running():
            victim.agent.start()
    # the node is back: a new run reaches all three again
    again = cluster.gadget_bg("run", "trace_exec", "-n", DEMO, "-o", "json")
    try:
        again.wait_for(each_has(pods.web, 2), what="records of web-0..2 after the agent restart")
    finally:
        assert again.stop(signal.SIGINT) == 0, again.describe()


def instance_configmaps(cluster):  # noqa: F811
    items = cluster.get_json("configmaps", ns=GADGET_NS, selector="type=gadget-instance")["items"]
    return {cm["metadata"]["name"]: cm for cm in items}


def test_detached_instance_outlives_client_and_agent_restart(cluster, pods):  # noqa: F811
    name = unique("execs")
    r = cluster.gadget("run", "trace_exec", "-n", DEMO, "--detach", "--name", name, timeout=30)
    assert r.returncode == 0, r.stderr
    detached = time.time()
    try:
        cms = instance_configmaps(cluster)
        assert name in cms, cms.keys()
        spec = yaml.safe_load(cms[name]["data"]["instance.yaml"])
        assert spec["name"] == name, spec
        assert spec["image"].startswith("trace_exec"), spec
        assert spec["selector"]["namespace"] == DEMO, spec
        assert not spec.get("nodes"), spec  # every node

        # the same name again is refused, and the first one is untouched
        r = cluster.gadget("run", "trace_exec", "-n", DEMO, "--detach", "--name", name, timeout=30)
        assert r.returncode != 0
        assert name in r.stderr
        assert instance_configmaps(cluster)[name]["metadata"]["uid"] == cms[name]["metadata"]["uid"]

        # no client is attached now; the agents keep running it, through a
        # restart of node-2's agent too
        restarted = cluster.nodes[1]
        assert restarted.agent.kill(signal.SIGTERM) == 0, restarted.agent.log_tail()
        restarted.agent.start()
        back = time.time()

        # list: the instance runs on every node, the restarted one included
        # (it may be starting there still: ask again until then)
        want = {f"{n.name}:running" for n in cluster.nodes}
        for _ in range(100):
            lst = cluster.gadget("list", timeout=30)
            assert lst.returncode == 0, lst.stderr
            # ID NAME IMAGE NODES STATE RECORDS TAGS
            row = [line for line in lst.stdout.splitlines() if line.split()[1:2] == [name]]
            assert len(row) == 1, lst.stdout
            if want <= set(row[0].replace(",", " ").split()):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"{name} not running on every node:\n{lst.stdout}\n{cluster.logs()}")
        assert "trace_exec" in row[0], row[0]

        attached = time.time()
        att = cluster.gadget_bg("attach", name, "-o", "json")
        try:
            # records from every node, node-2's from after its agent came back
            att.wait_for(each_has(pods.web, 2), what=f"records of {name} from every node")
            att.wait_for(each_has([pods.web[1]], 1, since=back),
                         what=f"records of {name} from {restarted.name} after its restart")
            recs = att.records()
            assert_named_right(recs, pods.web)
            assert not pods.other.mine(recs)
            # replay first: each node that ran the instance through the
            # detached time opens with records made before the attach, then
            # goes live (the restarted node may have nothing to replay, and
            # its live records may come before the others' replays)
            for n in (cluster.nodes[0], cluster.nodes[2]):
                first = next(r for r in recs if get(r, "k8s.node") == n.name)
                assert ts(first) < attached, (n.name, first)
            assert [r for r in recs if detached < ts(r) < attached], "nothing kept from the detached time"
            assert nodes_of([r for r in recs if ts(r) < attached]) >= \
                {cluster.nodes[0].name, cluster.nodes[2].name}
            att.wait_for(each_has(pods.web, 2, since=attached + 0.5),
                         what="live records after the replay")
            # per node, every replayed record comes before the live ones
            recs = att.records()
            for n in cluster.nodes:
                mine = [ts(r) for r in recs if get(r, "k8s.node") == n.name]
                live = [i for i, t in enumerate(mine) if t > attached + 0.5]
                old = [i for i, t in enumerate(mine) if t < attached]
                assert live and (not old or max(old) < min(live)), (n.name, mine, attached)
        finally:
            rc = att.stop(signal.SIGINT)
        assert rc == 0, att.describe()

        # detaching the client left the instance alone
        assert name in instance_configmaps(cluster)
    finally:
        d = cluster.gadget("delete", name, timeout=30)
    assert d.returncode == 0, d.stderr
    assert name not in instance_configmaps(cluster)
    r = cluster.kubectl("get", "configmap", name, "-n", GADGET_NS, check=False)
    assert r.returncode != 0 and "NotFound" in r.stderr
    lst = cluster.gadget("list", timeout=30)
    assert lst.returncode == 0, lst.stderr
    assert name not in lst.stdout
    r = cluster.gadget("attach", name, "-o", "json", timeout=30)
    assert r.returncode != 0
    assert name in r.stderr and not r.stdout.strip()


def test_unknown_node_is_a_clear_error(cluster, pods):  # noqa: F811
    r = cluster.gadget("run", "trace_exec", "-n", DEMO, "-o", "json", "--node", "no-such-node",
                       "--timeout", "2s", timeout=30)
    assert r.returncode != 0
    assert "no-such-node" in r.stderr
    assert not r.stdout.strip()


def test_unknown_gadget_is_a_clear_error(cluster, pods):  # noqa: F811
    r = cluster.gadget("run", "no_such_gadget", "-n", DEMO, "-o", "json", "--timeout", "2s", timeout=30)
    assert r.returncode != 0
    assert "no_such_gadget" in r.stderr
    assert not r.stdout.strip()
    # and the agents are all still serving
    for n in cluster.nodes:
        assert n.agent.running(), n.agent.log_tail()
