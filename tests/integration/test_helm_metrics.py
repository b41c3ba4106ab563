# SPDX-License-Identifier: Apache-2.0
"""Cluster observability as people deploy it: the chart installed with the
real `helm install` (against the stand-in API server) with headless
instances and gadget metrics in its values, the agents of two nodes (real
containerds) starting them, a real Prometheus scraping the agents' gadget
metrics port, PromQL giving exactly what the test's pods did; then `helm
upgrade` with one instance changed and one removed, and the agents follow.
"""

import json
import os
import time
import uuid

import pytest
import yaml

from cluster import METRICS_PORT, Cluster, missing_prerequisites, unique
from test_metrics import Prometheus

EXECS = 5


def values(tmp, instances):
    path = os.path.join(tmp, f"values-{uuid.uuid4().hex[:6]}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump({"config": {"otel-metrics-listen": True,
                                   "logs": {"channel": "none", "directory": "/var/log/gadget"}},
                        "instances": instances}, f)
    return path


def execs_instance(scope):
    return {"name": "execs", "image": "trace_exec:latest",
            "annotate": ["exec:metrics.collect=true"],
            "otelMetricsName": [f"exec:{scope}"],
            "logs": {"channel": "file"}}


OPENS = {"name": "opens", "image": "trace_open:latest", "params": {"failed": "true"}}


@pytest.fixture(scope="module")
def helm_cluster(tmp_path_factory):
    why = missing_prerequisites()
    if why:
        pytest.fail(why)
    tmp = str(tmp_path_factory.mktemp("helm"))
    c = Cluster(node_names=("node-1", "node-2"),
                helm_values=values(tmp, [execs_instance("execs"), OPENS]))
    c.tmp = tmp
    problems = []
    try:
        c.start()
        yield c
    finally:
        problems = c.cleanup()
    assert not problems, "\n".join(problems)


def instances(c):
    """Instance name -> {node: state}, from kubectl gadget list -o json."""
    r = c.gadget("list", "-o", "json")
    assert r.returncode == 0, r.stderr
    return {i["name"]: {node: st["state"] for node, st in i["states"].items()}
            for i in json.loads(r.stdout)}


def wait_for(pred, timeout=30, every=0.3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    return last


def exec_script(comm, n=EXECS, delay=3):
    return (f"cp /bin/busybox /tmp/{comm}; sleep {delay}; i=0; "
            f"while [ $i -lt {n} ]; do /tmp/{comm} true; i=$((i+1)); done; sleep 3600")


def test_helm_instances_export_metrics_and_follow_upgrades(helm_cluster, tmp_path):
    c = helm_cluster
    # helm made the instance ConfigMaps; every agent runs both instances
    running = wait_for(lambda: (lambda s: s if set(s) >= {"execs", "opens"} and all(
        st == "running" for n in s.values() for st in n.values()) and all(
        len(n) == 2 for n in s.values()) else None)(instances(c)))
    assert running, (instances(c), c.logs())

    # a Prometheus on the host, reaching each agent pod's metrics port
    prom = Prometheus(tmp_path / "prom",
                      [f"127.0.0.1:{n.net.expose(METRICS_PORT)}" for n in c.nodes])
    ns = unique("ns")
    comms = ["h" + uuid.uuid4().hex[:9] for _ in c.nodes]
    pods = [c.add_pod(i, ns, script=exec_script(comms[i])) for i in range(len(c.nodes))]
    try:
        for i, n in enumerate(c.nodes):
            q = f'execs_execs_total{{k8s_namespace="{ns}",proc_comm="{comms[i]}"}}'
            assert prom.wait_value(q, EXECS) == EXECS, (q, prom.query(q), c.logs())
        # both nodes' series, summed as a dashboard would (the pods' own
        # cp, sleep and sh count too in the namespace: the test's commands only)
        q = (f'sum by (k8s_namespace) (execs_execs_total{{k8s_namespace="{ns}",'
             f'proc_comm=~"{"|".join(comms)}"}})')
        assert prom.wait_value(q, EXECS * len(c.nodes)) == EXECS * len(c.nodes)
        # and the records as JSON lines in each node's log directory
        for i, n in enumerate(c.nodes):
            path = os.path.join(n.dir, "logs", "execs.log")
            lines = wait_for(lambda: [x for x in map(json.loads, open(path))
                                      if x["data"]["proc"]["comm"] == comms[i]]
                             if os.path.exists(path) else None, timeout=10)
            assert lines and len(lines) == EXECS and lines[0]["node"] == n.name, lines

        # upgrade: execs exported under another name, opens removed
        c.helm_release("upgrade", values(c.tmp, [execs_instance("execs2")]))
        gone = wait_for(lambda: "opens" not in instances(c) and instances(c))
        assert gone and set(gone) == {"execs"}, instances(c)
        comm2 = "g" + uuid.uuid4().hex[:9]
        more = c.add_pod(0, ns, script=exec_script(comm2))
        pods.append(more)
        q = f'execs2_execs_total{{k8s_namespace="{ns}",proc_comm="{comm2}"}}'
        assert prom.wait_value(q, EXECS) == EXECS, (prom.query(q), c.logs())
        # the old name is no longer exported by the agents
        for n in c.nodes:
            text = n.net.http(f"http://127.0.0.1:{METRICS_PORT}/metrics")[2]
            assert "execs2_execs_total" in text and "\nexecs_execs_total{" not in text
    finally:
        prom.stop()
        for p in pods:
            c.remove_pod(p)
