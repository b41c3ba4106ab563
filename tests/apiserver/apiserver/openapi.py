# SPDX-License-Identifier: Apache-2.0
"""A minimal OpenAPI v3 surface: the /openapi/v3 index and, per group
version, a document listing each resource's operations with their
x-kubernetes-group-version-kind and query parameters.

kubectl apply/create with the default --validate=strict reads it to learn
that the server validates fields itself (the `fieldValidation` query
parameter on PATCH) instead of downloading schemas for client-side
validation.  No component schemas are served: kubectl then computes strategic
merge patches from its compiled-in types, and `kubectl explain` has nothing to
show.  /openapi/v2 is 404, as on a server that dropped it.
"""

import hashlib
import json

from . import resources

_PARAMS = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
           for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]


def _gv_path(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _doc(group, version):
    paths = {}
    for r in resources.BY_GV[(group, version)].values():
        base = "/" + _gv_path(group, version)
        coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
        gvk = {"group": group, "version": version, "kind": r.kind}

        def op(action, name):
            return {"operationId": f"{action}{r.kind}", "parameters": _PARAMS,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": name, "x-kubernetes-group-version-kind": gvk}
        paths[coll] = {"get": op("list", "list"), "post": op("create", "post"),
                       "delete": op("deleteCollection", "deletecollection")}
        paths[coll + "/{name}"] = {"get": op("read", "get"), "put": op("replace", "put"),
                                   "patch": op("patch", "patch"), "delete": op("delete", "delete")}
        if r.has_status:
            paths[coll + "/{name}/status"] = {"get": op("readStatus", "get"), "put": op("replaceStatus", "put"),
                                              "patch": op("patchStatus", "patch")}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths, "components": {"schemas": {}}}


_DOCS = {_gv_path(g, v): json.dumps(_doc(g, v), separators=(",", ":")).encode() for (g, v) in resources.BY_GV}


def index():
    return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash="
                          + hashlib.sha512(d).hexdigest()[:128].upper()}
                      for p, d in _DOCS.items()}}


def document(path):
    """Bytes of the document for "api/v1" or "apis/<g>/<v>", or None."""
    return _DOCS.get(path)
