# SPDX-License-Identifier: Apache-2.0
"""RBAC authorization as kube-apiserver's RBAC authorizer does it, from the
Roles, ClusterRoles, RoleBindings and ClusterRoleBindings the stand-in
holds, so that tests show what an identity may do with exactly the rules it
was given (and that removing a rule gives 403).

What is decided, for an identity (user name and groups; everyone
authenticated is also in `system:authenticated`):

- members of `system:masters` may do everything, as with the real server;
- a request on a resource is allowed when a rule of a role bound to the
  identity matches its verb, API group, resource (with `resource/subresource`
  and `*/subresource` for subresources) and, when the rule names some, the
  object's name; ClusterRoleBindings bind cluster-wide, RoleBindings only
  in their own namespace (a list across all namespaces needs a
  ClusterRoleBinding);
- a request on a path that is not a resource (discovery, /version,
  /openapi) is matched against `nonResourceURLs` (exact, or a prefix ending
  in `*`);
- the default bootstrap policy every cluster has is built in:
  `system:discovery`, `system:basic-user` and `system:public-info-viewer`
  for all authenticated identities (discovery, version, health, and the
  self reviews `kubectl auth can-i` and `kubectl auth whoami` send).

Subjects: `User` by name, `Group` by name, `ServiceAccount` by namespace and
name, which is the user `system:serviceaccount:<ns>:<name>`.  Not done:
aggregated ClusterRoles (aggregationRule), `escalate`/`bind` checks when
roles are written, impersonation.

Verbs from requests, as the real server derives them: GET of an object
`get`, of a collection `list`, with watch `watch`; POST `create`; PUT
`update`; PATCH `patch`; DELETE of an object `delete`, of a collection
`deletecollection`.  A WebSocket upgrade of `pods/portforward` is a GET:
it needs `get`, and `create` as well, as kube-apiserver checks with
AuthorizePodWebsocketUpgradeCreatePermission.
"""

# The default ClusterRoles every authenticated identity is bound to.
BOOTSTRAP_RULES = [
    {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/",
                         "/healthz", "/livez", "/readyz", "/openapi", "/openapi/*"],
     "verbs": ["get"]},
    {"apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
     "verbs": ["create"]},
]

ROLES = "rbac.authorization.k8s.io/roles"
CLUSTER_ROLES = "rbac.authorization.k8s.io/clusterroles"
ROLE_BINDINGS = "rbac.authorization.k8s.io/rolebindings"
CLUSTER_ROLE_BINDINGS = "rbac.authorization.k8s.io/clusterrolebindings"


def groups_of(user):
    g = list(user.get("groups") or [])
    if "system:authenticated" not in g:
        g.append("system:authenticated")
    return g


def _subject_matches(s, user, groups, binding_ns):
    kind = s.get("kind")
    name = s.get("name", "")
    if kind == "User":
        return name == user["username"]
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        ns = s.get("namespace") or binding_ns or ""
        return user["username"] == f"system:serviceaccount:{ns}:{name}"
    return False


def _has(values, want):
    return "*" in values or want in values


def _resource_matches(rule, resource, sub):
    combined = f"{resource}/{sub}" if sub else resource
    for r in rule.get("resources") or []:
        if r == "*" or r == combined or (sub and r == f"*/{sub}"):
            return True
    return False


def rule_allows(rule, attrs):
    if not _has(rule.get("verbs") or [], attrs["verb"]):
        return False
    if not attrs.get("resource"):
        for u in rule.get("nonResourceURLs") or []:
            if u == "*" or u == attrs["path"] or (u.endswith("*") and attrs["path"].startswith(u[:-1])):
                return True
        return False
    if not _has(rule.get("apiGroups") or [], attrs.get("group", "")):
        return False
    if not _resource_matches(rule, attrs["resource"], attrs.get("subresource")):
        return False
    names = rule.get("resourceNames") or []
    return not names or (attrs.get("name") or "") in names


def _rules_for(store, user, namespace):
    """The rules that apply to user in namespace ("" for the cluster scope):
    those of ClusterRoleBindings, then those of the namespace's
    RoleBindings.  Call with store.cond held."""
    groups = groups_of(user)
    out = list(BOOTSTRAP_RULES)
    croles = store.objs.get(CLUSTER_ROLES, {})
    for (_, _), b in store.objs.get(CLUSTER_ROLE_BINDINGS, {}).items():
        if any(_subject_matches(s, user, groups, None) for s in b.get("subjects") or []):
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                role = croles.get((None, ref.get("name")))
                out += (role or {}).get("rules") or []
    if namespace:
        roles = store.objs.get(ROLES, {})
        for (ns, _), b in store.objs.get(ROLE_BINDINGS, {}).items():
            if ns != namespace:
                continue
            if not any(_subject_matches(s, user, groups, ns) for s in b.get("subjects") or []):
                continue
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                role = croles.get((None, ref.get("name")))
            elif ref.get("kind") == "Role":
                role = roles.get((ns, ref.get("name")))
            else:
                role = None
            out += (role or {}).get("rules") or []
    return out


def allowed(store, user, attrs):
    """Whether user may do what attrs say: verb, path, and for a resource
    request group, resource, subresource, namespace, name."""
    if "system:masters" in groups_of(user):
        return True
    with store.cond:
        rules = _rules_for(store, user, attrs.get("namespace") or "")
    return any(rule_allows(r, attrs) for r in rules)


def rules_review(store, user, namespace):
    """SelfSubjectRulesReview's status for user in namespace."""
    if "system:masters" in groups_of(user):
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False}
    with store.cond:
        rules = _rules_for(store, user, namespace or "")
    res, nonres = [], []
    for r in rules:
        if r.get("nonResourceURLs"):
            nonres.append({"verbs": list(r.get("verbs") or []),
                           "nonResourceURLs": list(r["nonResourceURLs"])})
        if r.get("resources"):
            rr = {"verbs": list(r.get("verbs") or []), "apiGroups": list(r.get("apiGroups") or []),
                  "resources": list(r["resources"])}
            if r.get("resourceNames"):
                rr["resourceNames"] = list(r["resourceNames"])
            res.append(rr)
    return {"resourceRules": res, "nonResourceRules": nonres, "incomplete": False}


def forbidden_message(user, attrs):
    """The message of kube-apiserver's 403, word for word."""
    verb = attrs["verb"]
    if not attrs.get("resource"):
        return f'forbidden: User "{user["username"]}" cannot {verb} path "{attrs["path"]}"'
    resource = attrs["resource"]
    if attrs.get("subresource"):
        resource += "/" + attrs["subresource"]
    group = attrs.get("group", "")
    qualified = f'{attrs["resource"]}.{group}' if group else attrs["resource"]
    head = f'{qualified} "{attrs["name"]}" is forbidden' if attrs.get("name") else \
        f"{qualified} is forbidden"
    if attrs.get("namespace"):
        where = f'in the namespace "{attrs["namespace"]}"'
    else:
        where = "at the cluster scope"
    return (f'{head}: User "{user["username"]}" cannot {verb} resource "{resource}" '
            f'in API group "{group}" {where}')


def forbidden_details(attrs):
    d = {}
    if attrs.get("name"):
        d["name"] = attrs["name"]
    if attrs.get("group"):
        d["group"] = attrs["group"]
    if attrs.get("resource"):
        d["kind"] = attrs["resource"]
    return d
