# SPDX-License-Identifier: Apache-2.0
"""Just enough of the Kubernetes protobuf encoding to read the request
bodies kubectl's typed clients send (`kubectl create namespace|configmap|
secret|serviceaccount` POST `application/vnd.kubernetes.protobuf`).

The envelope is the 4-byte magic "k8s\\0" then a runtime.Unknown message
(typeMeta=1 {apiVersion=1, kind=2}, raw=2); raw is the object in the field
numbering of the API's generated.proto.  Only the kinds in _SCHEMAS are
understood; anything else is refused with 415 so the gap is visible.
Responses are always JSON (kubectl's Accept lists JSON as an alternative).
"""

import base64

MAGIC = b"k8s\x00"
MAX_DEPTH = 32


class DecodeError(ValueError):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """[(field number, wire type, value)]; value is int or bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise DecodeError("truncated field")
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise DecodeError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


# Schemas: field number -> (json name, type); type is "string", "bytes",
# "int", "bool", "map", "bytesmap", "strings" or a nested schema dict.
_TIME = {1: ("seconds", "int")}
_OWNER = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"), 5: ("apiVersion", "string"),
          6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
_META = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
         5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
         8: ("creationTimestamp", _TIME), 11: ("labels", "map"), 12: ("annotations", "map"),
         13: ("ownerReferences", [_OWNER]), 14: ("finalizers", "strings")}
_REF = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string")}
_ATTRS = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"), 4: ("version", "string"),
          5: ("resource", "string"), 6: ("subresource", "string"), 7: ("name", "string")}
_SCHEMAS = {
    "SelfSubjectAccessReview": {1: ("metadata", _META), 2: ("spec", {
        1: ("resourceAttributes", _ATTRS), 2: ("nonResourceAttributes", {1: ("path", "string"),
                                                                         2: ("verb", "string")})})},
    "SelfSubjectRulesReview": {1: ("metadata", _META), 2: ("spec", {1: ("namespace", "string")})},
    "SelfSubjectReview": {1: ("metadata", _META)},
    "Namespace": {1: ("metadata", _META), 2: ("spec", {1: ("finalizers", "strings")}),
                  3: ("status", {1: ("phase", "string")})},
    "ConfigMap": {1: ("metadata", _META), 2: ("data", "map"), 3: ("binaryData", "bytesmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", _META), 2: ("data", "bytesmap"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", _META), 2: ("secrets", [_REF]),
                       3: ("imagePullSecrets", [{1: ("name", "string")}]),
                       4: ("automountServiceAccountToken", "bool")},
}


def _convert(buf, schema, depth=0):
    if depth > MAX_DEPTH:
        raise DecodeError("nesting too deep")
    out = {}
    for num, wt, v in fields(buf):
        if num not in schema:
            continue
        name, typ = schema[num]
        if v in (b"", 0) and typ in ("string", "int"):
            continue  # gogo-protobuf writes every scalar; JSON omits empty ones
        if typ == "string":
            out[name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        elif typ == "int":
            out[name] = v
        elif typ == "bool":
            out[name] = bool(v)
        elif typ == "strings":
            out.setdefault(name, []).append(v.decode("utf-8", "replace"))
        elif typ in ("map", "bytesmap"):
            kv = {n: x for n, _, x in fields(v)}
            k = kv.get(1, b"").decode("utf-8", "replace")
            val = kv.get(2, b"")
            out.setdefault(name, {})[k] = (base64.b64encode(val).decode() if typ == "bytesmap"
                                           else val.decode("utf-8", "replace"))
        elif isinstance(typ, list):
            out.setdefault(name, []).append(_convert(v, typ[0], depth + 1))
        elif isinstance(typ, dict):
            out[name] = _convert(v, typ, depth + 1)
    return out


def decode(body):
    """JSON-shaped dict of a protobuf-encoded object; raises DecodeError or
    KeyError (kind not understood)."""
    if not body.startswith(MAGIC):
        raise DecodeError("missing k8s protobuf magic")
    env = {n: v for n, _, v in fields(body[len(MAGIC):])}
    tm = {n: v for n, _, v in fields(env.get(1, b""))}
    api_version = tm.get(1, b"").decode()
    kind = tm.get(2, b"").decode()
    schema = _SCHEMAS[kind]
    obj = _convert(env.get(2, b""), schema)
    ts = obj.get("metadata", {}).pop("creationTimestamp", None)
    if ts:
        obj["metadata"]["creationTimestamp"] = None
    obj["kind"], obj["apiVersion"] = kind, api_version
    return obj
