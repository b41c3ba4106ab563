# SPDX-License-Identifier: Apache-2.0
"""Label and field selectors as the API server parses them.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
`!k`, `k>n`, `k<n`, joined by commas (commas inside parentheses belong to the
set).  Field selectors: `f=v`, `f==v`, `f!=v` on the fields each resource
supports; any other field is rejected as the real server does.
"""

import re

MAX_SELECTOR_BYTES = 4096


class SelectorError(ValueError):
    pass


_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _check_key(k, whole):
    if not _KEY.match(k) or len(k.split("/")[-1]) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label key \"{k}\": "
                            "name part must consist of alphanumeric characters, '-', '_' or '.'")


def _check_value(v):
    if len(v) > 63 or not _VALUE.match(v):
        raise SelectorError(f"unable to parse requirement: invalid label value: \"{v}\": "
                            "a valid label must be an empty string or consist of alphanumeric "
                            "characters, '-', '_' or '.'")


def parse_labels(s):
    """Returns a list of (key, op, values); raises SelectorError."""
    if s is None or s.strip() == "":
        return []
    if len(s) > MAX_SELECTOR_BYTES:
        raise SelectorError("label selector too long")
    reqs = []
    for part in _split_top(s):
        p = part.strip()
        if not p:
            raise SelectorError(f"found '', expected: identifier in selector \"{s}\"")
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", p)
        if m:
            key, op = m.group(1), m.group(2)
            vals = [v.strip() for v in m.group(3).split(",")]
            _check_key(key, s)
            for v in vals:
                _check_value(v)
            reqs.append((key, op, set(vals)))
            continue
        m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)$", p)
        if m:
            key, op, val = m.group(1), m.group(2), m.group(3)
            _check_key(key, s)
            if op in ("<", ">"):
                if not re.match(r"^-?\d+$", val):
                    raise SelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, "
                                        "the value must be an integer")
                reqs.append((key, op, int(val)))
                continue
            _check_value(val)
            reqs.append((key, "!=" if op == "!=" else "=", val))
            continue
        if p.startswith("!"):
            key = p[1:].strip()
            _check_key(key, s)
            reqs.append((key, "!", None))
            continue
        if re.match(r"^\S+$", p):
            _check_key(p, s)
            reqs.append((p, "exists", None))
            continue
        raise SelectorError(f"unable to parse requirement: couldn't parse the selector string \"{s}\"")
    return reqs


def match_labels(reqs, labels):
    labels = labels or {}
    for key, op, val in reqs:
        have = key in labels
        v = labels.get(key)
        if op == "=" and v != val:
            return False
        if op == "!=" and have and v == val:
            return False
        if op == "in" and (not have or v not in val):
            return False
        if op == "notin" and have and v in val:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
        if op in ("<", ">"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if (op == "<" and not n < val) or (op == ">" and not n > val):
                return False
    return True


# Fields each resource supports beyond metadata.name and metadata.namespace
# (the real server's field label conversion functions).
_FIELDS = {
    "/pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "/nodes": {"spec.unschedulable"},
    "/namespaces": {"status.phase"},
    "/secrets": {"type"},
    "/events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "apps/replicasets": {"status.replicas"},
    "batch/jobs": {"status.successful"},
}


def parse_fields(s, res_key):
    if s is None or s.strip() == "":
        return []
    if len(s) > MAX_SELECTOR_BYTES:
        raise SelectorError("field selector too long")
    allowed = {"metadata.name", "metadata.namespace"} | _FIELDS.get(res_key, set())
    reqs = []
    for part in s.split(","):
        p = part.strip()
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", p)
        if not m:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{p}'")
        field, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append((field, "!=" if op == "!=" else "=", val))
    return reqs


def _field_value(obj, path):
    if path == "source":
        path = "source.component"
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs, obj):
    for field, op, val in reqs:
        v = _field_value(obj, field)
        if op == "=" and v != val:
            return False
        if op == "!=" and v == val:
            return False
    return True
