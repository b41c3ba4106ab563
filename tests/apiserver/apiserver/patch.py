# SPDX-License-Identifier: Apache-2.0
"""The three patch formats the API server accepts.

JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a strategic merge
patch that knows the merge keys of the built-in lists kubectl touches
(containers and volumes by name, container ports by containerPort, service
ports by port, conditions by type ...) and the directives kubectl emits
(`$patch`, `$retainKeys`, `$setElementOrder/<list>`,
`$deleteFromPrimitiveList/<list>`).  Lists without a merge key are replaced,
as the real server does for atomic lists.
"""

import copy


class PatchError(ValueError):
    pass


class PatchConflict(ValueError):
    """A JSON patch `test` operation failed."""


def merge_patch(orig, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# --- JSON patch ---------------------------------------------------------------

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts, path):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError(f"jsonpatch: path {path!r} not found")
    return cur


def _get(doc, path):
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f"jsonpatch: path {path!r} not found")


def _remove(doc, path):
    parts = _pointer(path)
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"jsonpatch remove operation does not apply: doc is missing path: \"{path}\"")


def _add(doc, path, value, replace=False):
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"jsonpatch replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and (int(last) <= len(parent) if not replace else int(last) < len(parent)):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise PatchError(f"jsonpatch: index out of range in path {path!r}")
    else:
        raise PatchError(f"jsonpatch: path {path!r} not found")
    return doc


def json_patch(orig, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(orig)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("json patch operation needs \"op\" and \"path\"")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace") and "value" not in op:
            raise PatchError(f"json patch {kind} operation needs a \"value\"")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            v = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, v)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchConflict(f"testing value {path} failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


# --- strategic merge patch ----------------------------------------------------

# list field -> merge key; the value decides "ports" (container vs service)
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "conditions": "type", "ownerReferences": "uid",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "secrets": "name",
    "addresses": "type", "taints": "key", "resourceClaims": "name", "images": None,
    "ephemeralContainerStatuses": None, "containerStatuses": None, "initContainerStatuses": None,
}
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field, items):
    if field == "ports":
        for it in items:
            if isinstance(it, dict) and "containerPort" in it:
                return "containerPort"
        return "port"
    return _MERGE_KEYS.get(field)


def _merge_list(field, orig, patch):
    orig = list(orig) if isinstance(orig, list) else []
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [p for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if field in _PRIMITIVE_MERGE:
        out = list(orig)
        for p in patch:
            if p not in out:
                out.append(p)
        return out
    key = _merge_key(field, orig + patch)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return copy.deepcopy(patch)
    out = copy.deepcopy(orig)
    for p in patch:
        if key not in p:
            raise PatchError(f"map: {p} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, p))
        else:
            out[idx] = strategic_merge(out[idx], p)
    return out


def _reorder(field, items, order):
    key = _merge_key(field, items + order)

    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    pos = {repr(ident(o)): i for i, o in enumerate(order)}
    return sorted(items, key=lambda x: pos.get(repr(ident(x)), len(pos)))


def strategic_merge(orig, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list) and isinstance(v, list):
                out[f] = [x for x in out[f] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            if v.get("$patch") == "delete":
                out.pop(k, None)
            else:
                out[k] = strategic_merge(out.get(k), v)
        elif isinstance(v, list):
            out[k] = _merge_list(k, out.get(k), v)
        else:
            out[k] = v
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain and k not in patch:
                out.pop(k)
    for f, order in orders.items():
        if isinstance(out.get(f), list) and isinstance(order, list):
            out[f] = _reorder(f, out[f], order)
    return out
