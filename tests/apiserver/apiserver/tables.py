# SPDX-License-Identifier: Apache-2.0
"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for
with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.

Columns follow the real server's for the resources kubectl users look at most
(pods, namespaces, nodes, services, daemonsets, configmaps, ...); other
resources get NAME and AGE.
"""

import datetime

TABLE_CT = "application/json;as=Table;v=v1;g=meta.k8s.io"


def parse_time(ts):
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_duration(secs):
    """The short ages kubectl shows: 5s, 3m20s, 2h5m, 4d, 3y."""
    s = int(max(secs, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _age(obj, now):
    t = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration((now - t).total_seconds())


def _col(name, typ="string", fmt="", priority=0, desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


_NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
_AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _pod(o, now):
    spec, st = o.get("spec", {}), o.get("status", {})
    cs = st.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for c in cs:
        w = (c.get("state") or {}).get("waiting")
        if w and w.get("reason"):
            reason = w["reason"]
    if o.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [o["metadata"]["name"], f"{ready}/{total}", reason, restarts, _age(o, now),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>", "<none>"]


def _node(o, now):
    conds = (o.get("status") or {}).get("conditions") or []
    ready = next((c for c in conds if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = o.get("metadata", {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = (o.get("status") or {}).get("nodeInfo") or {}
    return [o["metadata"]["name"], status, ",".join(roles) or "<none>", _age(o, now),
            info.get("kubeletVersion", "")]


def _svc(o, now):
    spec = o.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            "<none>", ports or "<none>", _age(o, now)]


def _ds(o, now):
    st = o.get("status", {})
    sel = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    return [o["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>", _age(o, now)]


def _deploy(o, now):
    st, spec = o.get("status", {}), o.get("spec", {})
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o, now)]


def _ns(o, now):
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), _age(o, now)]


def _data(o, now):
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)]


def _secret(o, now):
    return [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), _age(o, now)]


def _sa(o, now):
    return [o["metadata"]["name"], len(o.get("secrets") or []), _age(o, now)]


def _crb(o, now):
    ref = o.get("roleRef") or {}
    return [o["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(o, now)]


def _cr(o, now):
    return [o["metadata"]["name"], o.get("metadata", {}).get("creationTimestamp", "")]


def _default(o, now):
    return [o["metadata"]["name"], _age(o, now)]


_TABLES = {
    "/pods": ([_NAME, _col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
               _col("Status", desc="The aggregate status of the containers in this pod."),
               _col("Restarts", "integer", desc="The number of times the containers in this pod have been restarted."),
               _AGE, _col("IP", priority=1, desc="IP address allocated to the pod."),
               _col("Node", priority=1, desc="Name of the node the pod is assigned to."),
               _col("Nominated Node", priority=1, desc="Nominated node name."),
               _col("Readiness Gates", priority=1, desc="Pod readiness gates.")], _pod),
    "/nodes": ([_NAME, _col("Status"), _col("Roles"), _AGE, _col("Version")], _node),
    "/namespaces": ([_NAME, _col("Status", desc="The status of the namespace"), _AGE], _ns),
    "/services": ([_NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), _AGE], _svc),
    "/configmaps": ([_NAME, _col("Data", "string"), _AGE], _data),
    "/secrets": ([_NAME, _col("Type"), _col("Data", "string"), _AGE], _secret),
    "/serviceaccounts": ([_NAME, _col("Secrets", "string"), _AGE], _sa),
    "apps/daemonsets": ([_NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                         _col("Up-to-date", "integer"), _col("Available", "integer"),
                         _col("Node Selector"), _AGE], _ds),
    "apps/deployments": ([_NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"),
                          _AGE], _deploy),
    "rbac.authorization.k8s.io/clusterrolebindings": ([_NAME, _col("Role"), _AGE], _crb),
    "rbac.authorization.k8s.io/rolebindings": ([_NAME, _col("Role"), _AGE], _crb),
    "rbac.authorization.k8s.io/clusterroles": ([_NAME, _col("Created At", "date")], _cr),
    "rbac.authorization.k8s.io/roles": ([_NAME, _col("Created At", "date")], _cr),
}


def _row_object(obj, include, api_version, kind):
    if include == "None":
        return None
    if include == "Object":
        o = dict(obj)
        o.setdefault("apiVersion", api_version)
        o.setdefault("kind", kind)
        return o
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(res, objs, include="Metadata", list_meta=None, columns=True):
    cols, fn = _TABLES.get(res.key, ([_NAME, _AGE], _default))
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for o in objs:
        row = {"cells": fn(o, now)}
        ro = _row_object(o, include, res.api_version, res.kind)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {}}
    if columns:
        t["columnDefinitions"] = cols
    t["rows"] = rows
    return t
