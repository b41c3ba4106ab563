# SPDX-License-Identifier: Apache-2.0
"""The resource types the stand-in serves and the discovery documents built
from them.

One table describes every resource (group, version, plural, kind, scope, short
names, subresources); discovery (legacy and aggregated), routing and status
messages all read it, so a resource added here is served everywhere at once.
"""

CRUD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short=(), singular=None,
                 subresources=None, categories=(), verbs=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.singular = singular or kind.lower()
        # subresource name -> (kind, verbs)
        self.subresources = dict(subresources or {})
        self.categories = list(categories)
        self.verbs = list(verbs or CRUD_VERBS)
        # create-only reviews answered on the spot and never stored
        self.virtual = verbs == ["create"]

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self):
        """Storage key: the group and plural, as etcd's /registry/<group>/<plural>."""
        return f"{self.group}/{self.plural}"

    @property
    def has_status(self):
        return "status" in self.subresources

    def qualified(self):
        """How the real server names the resource in messages: "pods",
        "daemonsets.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _status(kind):
    return {"status": (kind, STATUS_VERBS)}


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ["ns"],
             subresources={**_status("Namespace"), "finalize": ("Namespace", ["update"])}),
    Resource("", "v1", "nodes", "Node", False, ["no"],
             subresources={**_status("Node"),
                           "proxy": ("NodeProxyOptions", ["create", "delete", "get", "patch", "update"])}),
    Resource("", "v1", "pods", "Pod", True, ["po"], categories=["all"],
             subresources={**_status("Pod"),
                           "portforward": ("PodPortForwardOptions", ["create", "get"]),
                           "log": ("Pod", ["get"]),
                           "exec": ("PodExecOptions", ["create", "get"]),
                           "binding": ("Binding", ["create"]),
                           "eviction": ("Eviction", ["create"])}),
    Resource("", "v1", "services", "Service", True, ["svc"], categories=["all"],
             subresources=_status("Service")),
    Resource("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    Resource("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"],
             subresources={"token": ("TokenRequest", ["create"])}),
    Resource("", "v1", "events", "Event", True, ["ev"]),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], categories=["all"],
             subresources=_status("DaemonSet")),
    Resource("apps", "v1", "deployments", "Deployment", True, ["deploy"], categories=["all"],
             subresources={**_status("Deployment"), "scale": ("Scale", STATUS_VERBS)}),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], categories=["all"],
             subresources={**_status("ReplicaSet"), "scale": ("Scale", STATUS_VERBS)}),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], categories=["all"],
             subresources={**_status("StatefulSet"), "scale": ("Scale", STATUS_VERBS)}),
    Resource("batch", "v1", "jobs", "Job", True, categories=["all"], subresources=_status("Job")),
    Resource("batch", "v1", "cronjobs", "CronJob", True, ["cj"], categories=["all"],
             subresources=_status("CronJob")),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
             verbs=["create"]),
    Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False,
             verbs=["create"]),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=["create"]),
]

# (group, version) -> {plural: Resource}
BY_GV = {}
for _r in RESOURCES:
    BY_GV.setdefault((_r.group, _r.version), {})[_r.plural] = _r
BY_KEY = {r.key: r for r in RESOURCES}
GROUPS = []  # named groups in registration order
for _r in RESOURCES:
    if _r.group and _r.group not in GROUPS:
        GROUPS.append(_r.group)


def lookup(group, version, plural):
    return BY_GV.get((group, version), {}).get(plural)


def _versions(group):
    return sorted({r.version for r in RESOURCES if r.group == group})


# --- legacy discovery ---------------------------------------------------------

def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group):
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in _versions(group)]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list():
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g) for g in GROUPS]}


def api_group(group):
    if group not in GROUPS:
        return None
    return dict(_group_entry(group), kind="APIGroup", apiVersion="v1")


def api_resource_list(group, version):
    table = BY_GV.get((group, version))
    if table is None:
        return None
    out = []
    for r in table.values():
        e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
             "kind": r.kind, "verbs": r.verbs}
        if r.short:
            e["shortNames"] = r.short
        if r.categories:
            e["categories"] = r.categories
        out.append(e)
        for sub, (kind, verbs) in r.subresources.items():
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": kind, "verbs": verbs})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


# --- aggregated discovery (apidiscovery.k8s.io/v2) ----------------------------

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovery_version(group, version):
    res = []
    for r in BY_GV[(group, version)].values():
        e = {"resource": r.plural,
             "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
             "scope": "Namespaced" if r.namespaced else "Cluster",
             "singularResource": r.singular, "verbs": r.verbs}
        if r.short:
            e["shortNames"] = r.short
        if r.categories:
            e["categories"] = r.categories
        if r.subresources:
            e["subresources"] = [
                {"subresource": sub, "responseKind": {"group": r.group if kind == r.kind else "",
                                                      "version": r.version, "kind": kind},
                 "verbs": verbs}
                for sub, (kind, verbs) in r.subresources.items()]
        res.append(e)
    return {"version": version, "resources": res, "freshness": "Current"}


def aggregated(core):
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    groups = [""] if core else GROUPS
    items = [{"metadata": {"name": g, "creationTimestamp": None},
              "versions": [_discovery_version(g, v) for v in _versions(g)]} for g in groups]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
