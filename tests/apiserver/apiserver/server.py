# SPDX-License-Identifier: Apache-2.0
"""The HTTP side of the stand-in: TLS, bearer-token authentication, routing
of /api and /apis paths to resources, the verbs (create, get, list, watch,
update, patch, delete, deletecollection) with the real server's semantics,
server-side Tables, and the test-only /_test/ endpoints.

Each connection is served by its own thread (HTTP/1.1 keep-alive); a watch
holds its thread and streams chunked JSON lines until it times out, the
client goes away or a test cuts it.
"""

import base64
import collections
import copy
import datetime
import ipaddress
import json
import random
import re
import select
import socket
import ssl
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import patch as patchlib
from . import openapi, protobuf, rbac, resources, selectors, tables
from . import status as st
from .store import Gone

MAX_BODY_BYTES = 3 << 20
MAX_REQUEST_LOG = 500
MAX_DRAIN_BYTES = 16 << 20
MAX_LIMIT = 10000
TOO_LARGE_RV_WAIT = 3.0
K8S_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-standin", "gitCommit": "0" * 40,
               "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
               "compiler": "gc", "platform": "linux/amd64"}
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Watch:
    """A live watch, so tests can cut it."""

    def __init__(self):
        self.cut = None  # None, "close" or "mid"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ssl_ctx, store, tokens, bookmark_interval=60.0, verbose=False,
                 namespace_finalize_delay=1.0, audit_log=None):
        self.ssl_ctx = ssl_ctx
        self.audit = open(audit_log, "a", buffering=1) if audit_log else None
        self.audit_lock = threading.Lock()
        self.store = store
        self.tokens = tokens
        self.tokens_lock = threading.Lock()
        # who asked what, for tests: the last MAX_REQUEST_LOG requests
        self.request_log = collections.deque(maxlen=MAX_REQUEST_LOG)
        self.namespace_finalize_delay = namespace_finalize_delay
        self.bookmark_interval = bookmark_interval
        self.verbose = verbose
        self.watches = set()
        self.watches_lock = threading.Lock()
        self.service_ips = ipaddress.ip_network("10.96.0.0/12")
        super().__init__(addr, Handler)

    def finalize_namespace_later(self, name):
        t = threading.Timer(self.namespace_finalize_delay, self.finalize_namespace, args=(name,))
        t.daemon = True
        t.start()

    def finalize_namespace(self, name):
        """The namespace controller's work: everything in the namespace goes,
        then the namespace, unless finalizers of its own still hold it."""
        store = self.store
        with store.cond:
            ns = store.get("/namespaces", None, name)
            if ns is None or not ns["metadata"].get("deletionTimestamp"):
                return
            for r in resources.RESOURCES:
                if not r.namespaced:
                    continue
                for (ons, oname) in sorted(store.objs.get(r.key, {})):
                    if ons == name:
                        store.commit("DELETED", r.key, ons, oname, store.get(r.key, ons, oname))
            ns = store.get("/namespaces", None, name)
            ns.setdefault("spec", {})["finalizers"] = []
            if ns["metadata"].get("finalizers"):
                store.commit("MODIFIED", "/namespaces", None, name, ns)
            else:
                store.commit("DELETED", "/namespaces", None, name, ns)

    def resume_namespace_finalizers(self):
        """After a restart, namespaces left Terminating go on to their end."""
        with self.store.cond:
            names = [n for (_, n), o in self.store.objs.get("/namespaces", {}).items()
                     if o["metadata"].get("deletionTimestamp")]
        for n in names:
            self.finalize_namespace_later(n)

    def cut_watches(self, mode):
        with self.watches_lock:
            ws = list(self.watches)
        for w in ws:
            w.cut = mode
        with self.store.cond:
            self.store.cond.notify_all()
        return len(ws)


def _accept_parts(accept):
    """[(mediatype, {params})] of an Accept header."""
    out = []
    for item in (accept or "").split(","):
        bits = [b.strip() for b in item.split(";")]
        if not bits[0]:
            continue
        params = {}
        for b in bits[1:]:
            if "=" in b:
                k, v = b.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((bits[0].lower(), params))
    return out


def _rv_int(s, what="resourceVersion"):
    try:
        v = int(s)
        if v < 0:
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise st.bad_request(f'invalid {what}: "{s}"' if what != "resourceVersion"
                             else f"invalid resource version: {s}")


def _too_large(want, current):
    return st.ApiError(504, "Timeout", f"Too large resource version: {want}, current: {current}",
                       {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1})


def _key(k):
    """Storage key of (namespace, name): lists are in this order, as etcd's
    are in key order, and continue tokens name the key to resume at."""
    return f"{k[0]}/{k[1]}" if k[0] else k[1]


def _strip_type(obj):
    o = dict(obj)
    o.pop("kind", None)
    o.pop("apiVersion", None)
    return o


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin-apiserver"
    sys_version = ""

    def setup(self):
        self.request.settimeout(30)
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm holds the body until the client's delayed ACK (40 ms), which
        # caps a kept-alive client at ~25 requests/s.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        self.request.settimeout(None)
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # --- responses ------------------------------------------------------------

    def _send(self, code, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, e):
        self._send(e.code, e.body())

    # --- dispatch -------------------------------------------------------------

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self):
        try:
            self._body_cache = None
            url = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self.q_all = parse_qs(url.query, keep_blank_values=True)
            path = url.path.rstrip("/") or "/"
            if path in ("/healthz", "/livez", "/readyz"):
                return self._send(200, "ok", "text/plain; charset=utf-8")
            self.user = self._authenticate()
            if not path.startswith("/_test/"):
                self._log_request(path)
            if not path.startswith("/_test/") and not self._is_resource_path(path):
                self._authorize({"verb": "get" if self.command in ("GET", "HEAD")
                                 else self.command.lower(), "path": path})
            if path == "/openapi/v3":
                return self._send(200, openapi.index())
            if path.startswith("/openapi/v3/"):
                doc = openapi.document(path[len("/openapi/v3/"):])
                if doc is None:
                    raise st.not_found_path()
                return self._send(200, doc, extra={"Etag": '"standin"'})
            if path.startswith("/openapi/"):
                raise st.not_found_path()
            if not self._acceptable():
                raise st.ApiError(406, "NotAcceptable",
                                  "only the following media types are accepted: application/json, "
                                  "application/yaml, application/vnd.kubernetes.protobuf")
            if path.startswith("/_test/"):
                return self._test(path, q)
            self._route(path, q)
        except st.ApiError as e:
            self._drain_body()
            self._error(e)
        except (ConnectionError, ssl.SSLError, BrokenPipeError):
            self.close_connection = True

    def _authenticate(self):
        """A bearer token (static, or added by /_test/tokens until it
        expires), else a client certificate the CA signed: CN the user, O
        the groups, as kube-apiserver's --client-ca-file does.  Then the
        impersonation headers, which replace the identity (RBAC, which would
        decide whether the caller may impersonate, is not enforced here)."""
        ident = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            with self.server.tokens_lock:
                ident = self.server.tokens.get(auth[7:].strip())
            if ident and ident.get("expires") and time.time() >= ident["expires"]:
                ident = None
            if ident is None:
                raise st.ApiError(401, "Unauthorized", "Unauthorized")
        else:
            ident = self._cert_identity()
        if ident is None:
            raise st.ApiError(401, "Unauthorized", "Unauthorized")
        return self._impersonate(ident)

    def _cert_identity(self):
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError, ssl.SSLError):
            return None
        if not cert:
            return None
        cn, orgs = None, []
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
                elif k == "organizationName":
                    orgs.append(v)
        if not cn:
            return None
        return {"username": cn, "uid": "", "groups": orgs + ["system:authenticated"], "via": "x509"}

    def _impersonate(self, ident):
        user = self.headers.get("Impersonate-User")
        groups = self.headers.get_all("Impersonate-Group") or []
        uid = self.headers.get("Impersonate-Uid")
        if user is None:
            if groups or uid:
                raise st.bad_request(f"requested {groups or [uid]} without impersonating a user")
            return ident
        out = {"username": user, "uid": uid or "",
               "groups": groups + (["system:authenticated"] if user != "system:anonymous" else []),
               "impersonatedBy": ident["username"]}
        return out

    def _log_request(self, path):
        u = self.user
        self.server.request_log.append({
            "method": self.command, "path": path, "user": u["username"],
            "groups": list(u.get("groups", [])), "impersonatedBy": u.get("impersonatedBy"),
            "via": u.get("via", "token")})

    @staticmethod
    def _is_resource_path(path):
        """/api/v1/... and /apis/<group>/<version>/... with a resource in it."""
        parts = [p for p in path.split("/") if p]
        return (parts[:1] == ["api"] and len(parts) >= 3) or (parts[:1] == ["apis"] and len(parts) >= 4)

    def _authorize(self, attrs):
        """403 Forbidden, worded as kube-apiserver words it, unless RBAC
        allows the request (rbac.py).  Each decision goes to the audit log
        (--audit-log), which tests read to see what an identity used."""
        ok = rbac.allowed(self.server.store, self.user, attrs)
        if self.server.audit:
            line = json.dumps({"user": self.user["username"], "allowed": ok,
                               **{k: attrs.get(k) or "" for k in
                                  ("verb", "group", "resource", "subresource", "namespace", "name",
                                   "path") if k != "path" or not attrs.get("resource")}})
            with self.server.audit_lock:
                self.server.audit.write(line + "\n")
        if not ok:
            raise st.ApiError(403, "Forbidden", rbac.forbidden_message(self.user, attrs),
                              rbac.forbidden_details(attrs))

    def _acceptable(self):
        parts = _accept_parts(self.headers.get("Accept"))
        if not parts:
            return True
        return any(m in ("application/json", "*/*", "application/*", "application/yaml")
                   for m, _ in parts)

    def _wants_table(self):
        for m, p in _accept_parts(self.headers.get("Accept")):
            if m == "application/json" and p.get("as") == "Table" and p.get("g") == "meta.k8s.io":
                return p.get("v", "v1")
            if m == "application/json" and not p.get("as"):
                return None
        return None

    def _wants_aggregated(self):
        for m, p in _accept_parts(self.headers.get("Accept")):
            if m == "application/json" and p.get("as") == "APIGroupDiscoveryList" and p.get("v") == "v2":
                return True
            if m == "application/json" and not p.get("as"):
                return False
        return False

    def _drain_body(self):
        if self._body_cache is None and self.command in ("POST", "PUT", "PATCH", "DELETE"):
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = 0
            if 0 < n <= MAX_BODY_BYTES:
                self.rfile.read(n)
            elif n > MAX_BODY_BYTES:
                self.close_connection = True
            self._body_cache = b""

    def _body(self, required=True):
        if self._body_cache is not None:
            return self._body_cache
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                line = self.rfile.readline(64)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise st.bad_request("malformed chunked request body")
                if n == 0:
                    self.rfile.readline(64)
                    break
                if len(data) + n > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise st.ApiError(413, "RequestEntityTooLarge", "the request body is too large")
                data += self.rfile.read(n)
                self.rfile.readline(64)
        else:
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise st.bad_request("invalid Content-Length")
            if n > MAX_BODY_BYTES:
                # read what the client is sending so it gets to see the answer
                self.close_connection = True
                left = min(n, MAX_DRAIN_BYTES)
                while left > 0:
                    got = self.rfile.read(min(left, 1 << 16))
                    if not got:
                        break
                    left -= len(got)
                raise st.ApiError(413, "RequestEntityTooLarge", "the request body is too large")
            data = self.rfile.read(n) if n > 0 else b""
        self._body_cache = bytes(data)
        if not data and required:
            raise st.bad_request("the body of the request was empty")
        return self._body_cache

    def _json_body(self, required=True):
        data = self._body(required)
        if not data:
            return None
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(data)
            except (protobuf.DecodeError, KeyError, UnicodeDecodeError) as e:
                raise st.ApiError(415, "UnsupportedMediaType",
                                  f"this stand-in cannot decode this protobuf body ({e}); send JSON")
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise st.ApiError(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media types "
                              "include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
        try:
            return json.loads(data)
        except ValueError as e:
            raise st.bad_request(f"the object provided is unrecognized: {e}")

    # --- routes ---------------------------------------------------------------

    def _route(self, path, q):
        parts = [p for p in path.split("/") if p]
        srv_addr = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        if path == "/version":
            return self._send(200, K8S_VERSION)
        if parts[:1] == ["openapi"]:
            raise st.not_found_path()
        if parts == ["api"]:
            if self._wants_aggregated():
                return self._send(200, resources.aggregated(True), resources.AGGREGATED_CT)
            return self._send(200, resources.api_versions(srv_addr))
        if parts == ["apis"]:
            if self._wants_aggregated():
                return self._send(200, resources.aggregated(False), resources.AGGREGATED_CT)
            return self._send(200, resources.api_group_list())
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 2:
            if len(parts) == 2:
                g = resources.api_group(parts[1])
                if g is None:
                    raise st.not_found_path()
                return self._send(200, g)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
        if not rest:
            rl = resources.api_resource_list(group, version)
            if rl is None:
                raise st.not_found_path()
            return self._send(200, rl)
        self._resource_request(group, version, rest, q)

    def _resource_request(self, group, version, rest, q):
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
            if not rest:
                raise st.not_found_path()
        ns = None
        res = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            r = resources.lookup(group, version, rest[2])
            if r is not None and r.namespaced:
                ns, res, rest = rest[1], r, rest[3:]
        if res is None:
            res = resources.lookup(group, version, rest[0])
            if res is None:
                raise st.not_found_path()
            rest = rest[1:]
            if res.namespaced and rest:
                raise st.not_found_path()
        if len(rest) > 2:
            raise st.not_found_path()
        name = rest[0] if rest else None
        sub = rest[1] if len(rest) > 1 else None
        if sub is not None and sub not in res.subresources:
            raise st.not_found_path()
        m = self.command
        if res.virtual and not (m == "POST" and name is None):
            raise st.method_not_allowed()
        watch = watch_path or q.get("watch", "") in ("1", "true", "True")
        attrs = {"group": group, "resource": res.plural, "subresource": sub, "namespace": ns or "",
                 "name": name or "", "path": self.path}
        if m in ("GET", "HEAD"):
            attrs["verb"] = "watch" if watch else ("get" if name else "list")
        elif m == "POST":
            attrs["verb"] = "create"
        elif m == "PUT":
            attrs["verb"] = "update"
        elif m == "PATCH":
            attrs["verb"] = "patch"
        elif m == "DELETE":
            attrs["verb"] = "delete" if name else "deletecollection"
        else:
            attrs["verb"] = m.lower()
        self._authorize(attrs)
        if sub == "portforward" and m == "GET":
            # a WebSocket upgrade: create is needed too (AuthorizePodWebsocketUpgradeCreatePermission)
            self._authorize(dict(attrs, verb="create"))
        if sub == "portforward":
            if m not in ("GET", "POST"):
                raise st.method_not_allowed()
            from . import portforward
            return portforward.handle(self, res, ns, name, q)
        if sub not in (None, "status"):
            raise st.method_not_allowed()
        if name is None:
            if m in ("GET", "HEAD"):
                return self._watch(res, ns, q, None) if watch else self._list(res, ns, q)
            if m == "POST":
                if res.namespaced and ns is None:
                    raise st.method_not_allowed()
                return self._create(res, ns, q)
            if m == "DELETE":
                return self._delete_collection(res, ns, q)
            raise st.method_not_allowed()
        if m in ("GET", "HEAD"):
            if watch:
                return self._watch(res, ns, q, name)
            return self._get(res, ns, name, sub)
        if m == "PUT":
            return self._update(res, ns, name, sub, q)
        if m == "PATCH":
            return self._patch(res, ns, name, sub, q)
        if m == "DELETE" and sub is None:
            return self._delete(res, ns, name, q)
        raise st.method_not_allowed()

    # --- test endpoints -------------------------------------------------------

    def _test(self, path, q):
        if self.command != "POST":
            raise st.method_not_allowed()
        store = self.server.store
        if path == "/_test/cut-watches":
            n = self.server.cut_watches("mid" if q.get("mid") in ("1", "true") else "close")
            return self._send(200, {"cut": n})
        if path == "/_test/compact":
            rv = _rv_int(q["resourceVersion"]) if q.get("resourceVersion") else None
            return self._send(200, {"compacted": store.compact(rv), "resourceVersion": store.rv})
        if path == "/_test/tokens":
            # {"token", "user", "groups", "ttl"} adds an identity (expiring after ttl
            # seconds), {"token", "revoke": true} removes one
            body = self._json_body()
            if not isinstance(body, dict) or not isinstance(body.get("token"), str):
                raise st.bad_request("want {token, user, groups, ttl} or {token, revoke}")
            with self.server.tokens_lock:
                if body.get("revoke"):
                    self.server.tokens.pop(body["token"], None)
                else:
                    ident = {"username": body.get("user", "test"), "uid": body.get("user", "test"),
                             "groups": list(body.get("groups", [])) + ["system:authenticated"]}
                    if body.get("ttl"):
                        ident["expires"] = time.time() + float(body["ttl"])
                    self.server.tokens[body["token"]] = ident
            return self._send(200, {"tokens": len(self.server.tokens)})
        if path == "/_test/requests":
            # the requests seen so far (method, path, user, groups, impersonatedBy), oldest first
            out = list(self.server.request_log)
            if q.get("clear") in ("1", "true"):
                self.server.request_log.clear()
            return self._send(200, {"requests": out})
        raise st.not_found_path()

    # --- object strategy ------------------------------------------------------

    def _encode_obj(self, res, obj, include_columns=True):
        v = self._wants_table()
        if v and obj.get("kind") != "Status":
            t = tables.table(res, [obj], self._include(), columns=include_columns)
            if v != "v1":
                t["apiVersion"] = f"meta.k8s.io/{v}"
            return t, tables.TABLE_CT.replace("v=v1", f"v={v}")
        return obj, "application/json"

    def _include(self):
        inc = self.q_all.get("includeObject", ["Metadata"])[-1] or "Metadata"
        if inc not in ("None", "Metadata", "Object"):
            raise st.bad_request(f'unsupported includeObject value "{inc}"')
        return inc

    def _namespace_must_exist(self, ns):
        store = self.server.store
        nsr = resources.lookup("", "v1", "namespaces")
        cur = store.get(nsr.key, None, ns)
        if cur is None:
            raise st.not_found(nsr, ns)
        if cur.get("status", {}).get("phase") == "Terminating":
            raise st.ApiError(403, "Forbidden", f'unable to create new content in namespace {ns} because it '
                              f'is being terminated', {"name": ns, "kind": "namespaces"})

    def _check_type(self, res, obj):
        if not isinstance(obj, dict):
            raise st.bad_request("the object provided is unrecognized (must be a JSON object)")
        kind, av = obj.get("kind"), obj.get("apiVersion")
        if av and av != res.api_version:
            raise st.bad_request(f"the API version in the data ({av}) does not match the expected API "
                                 f"version ({res.api_version})")
        if kind and kind != res.kind:
            raise st.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        if not isinstance(obj.get("metadata", {}), dict):
            raise st.bad_request("metadata must be an object")
        return obj.setdefault("metadata", {})

    def _validate_name(self, res, name):
        rx = _DNS_LABEL if res.plural in ("namespaces", "services") else _DNS_SUBDOMAIN
        limit = 63 if rx is _DNS_LABEL else 253
        if not rx.match(name) or len(name) > limit:
            if rx is _DNS_LABEL:
                why = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                       "and must start and end with an alphanumeric character")
            else:
                why = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                       "'-' or '.', and must start and end with an alphanumeric character")
            raise st.invalid(res, name, "metadata.name", name, why)

    def _defaults_create(self, res, obj):
        k = res.key
        if k == "/namespaces":
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif k == "/pods":
            spec = obj.setdefault("spec", {})
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("securityContext", {})
            for c in spec.get("containers") or []:
                if isinstance(c, dict):
                    img = c.get("image", "")
                    c.setdefault("imagePullPolicy", "Always" if img.endswith(":latest") or ":" not in
                                 img.rsplit("/", 1)[-1] else "IfNotPresent")
                    c.setdefault("terminationMessagePath", "/dev/termination-log")
                    c.setdefault("terminationMessagePolicy", "File")
                    c.setdefault("resources", {})
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif k == "/services":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
                    p.setdefault("targetPort", p.get("port"))
            if spec.get("clusterIP") != "None":
                if not spec.get("clusterIP"):
                    spec["clusterIP"] = self._alloc_service_ip()
                spec["clusterIPs"] = [spec["clusterIP"]]
            obj["status"] = {"loadBalancer": {}}
        elif k == "/secrets":
            obj.setdefault("type", "Opaque")
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                data = obj.setdefault("data", {})
                for kk, vv in sd.items():
                    data[kk] = base64.b64encode(str(vv).encode()).decode()
        elif k == "apps/daemonsets":
            spec = obj.setdefault("spec", {})
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
                "maxUnavailable": 1, "maxSurge": 0}})
            obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                             "desiredNumberScheduled": 0, "numberReady": 0}
        elif res.has_status and k != "/nodes":
            obj["status"] = {}
        if res.group in ("apps", "batch"):
            obj["metadata"]["generation"] = 1

    def _alloc_service_ip(self):
        used = {o.get("spec", {}).get("clusterIP")
                for o in self.server.store.objs.get("/services", {}).values()}
        net = self.server.service_ips
        for _ in range(1000):
            ip = str(net[random.randrange(2, net.num_addresses - 1)])
            if ip not in used:
                return ip
        raise st.ApiError(500, "InternalError", "no service IPs left")

    def _dry_run(self, q):
        dr = self.q_all.get("dryRun", [])
        for v in dr:
            if v != "All":
                raise st.bad_request(f'unsupported dry run option "{v}"')
        return bool(dr)

    # --- verbs ----------------------------------------------------------------

    def _get(self, res, ns, name, sub):
        obj = self.server.store.get(res.key, ns, name)
        if obj is None:
            raise st.not_found(res, name)
        body, ct = self._encode_obj(res, obj)
        self._send(200, body, ct)

    def _review(self, res, obj):
        """Reviews are answered from the RBAC objects the stand-in holds
        (rbac.py), not stored."""
        self._check_type(res, obj)
        spec = obj.get("spec") or {}
        if res.kind == "SelfSubjectReview":
            u = self.user
            obj["status"] = {"userInfo": {"username": u["username"], "uid": u["uid"],
                                          "groups": rbac.groups_of(u)}}
        elif res.kind == "SelfSubjectAccessReview":
            ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
            if ra:
                attrs = {"verb": ra.get("verb", ""), "group": ra.get("group", ""),
                         "resource": ra.get("resource", ""), "subresource": ra.get("subresource", ""),
                         "namespace": ra.get("namespace", ""), "name": ra.get("name", "")}
            elif nra:
                attrs = {"verb": nra.get("verb", ""), "path": nra.get("path", "")}
            else:
                raise st.bad_request("spec.resourceAttributes or spec.nonResourceAttributes is required")
            ok = rbac.allowed(self.server.store, self.user, attrs)
            obj["status"] = {"allowed": ok}
            if ok and "system:masters" not in rbac.groups_of(self.user):
                obj["status"]["reason"] = "RBAC: allowed by a binding"
        else:
            obj["status"] = rbac.rules_review(self.server.store, self.user, spec.get("namespace", ""))
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        self._send(201, obj)

    def _create(self, res, ns, q, obj=None, code=201):
        store = self.server.store
        if obj is None:
            obj = self._json_body()
        if res.virtual:
            return self._review(res, obj)
        meta = self._check_type(res, obj)
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise st.bad_request("the namespace of the provided object does not match the namespace "
                                     "sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise st.bad_request("resourceVersion should not be set on objects to be created")
        dry = self._dry_run(q)
        with store.cond:
            if not meta.get("name"):
                gen = meta.get("generateName")
                if not gen:
                    raise st.required(res, "metadata.name")
                for _ in range(20):
                    cand = gen + "".join(random.choice(_GEN_CHARS) for _ in range(5))
                    if store.get(res.key, ns, cand) is None:
                        break
                meta["name"] = cand
            self._validate_name(res, meta["name"])
            if res.namespaced:
                self._namespace_must_exist(ns)
            existing = store.get(res.key, ns, meta["name"])
            if existing is not None:
                e = st.already_exists(res, meta["name"])
                if existing["metadata"].get("deletionTimestamp"):
                    e.message = "object is being deleted: " + e.message
                raise e
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
                meta.pop(k, None)
            self._defaults_create(res, obj)
            if dry:
                out = copy.deepcopy(obj)
            else:
                out = store.commit("ADDED", res.key, ns, meta["name"], obj)
        body, ct = self._encode_obj(res, out)
        self._send(code, body, ct)

    def _merge_update(self, res, old, new, sub):
        """The object a write of `new` over `old` stores: identity and
        server-owned fields kept, status or spec ignored by the endpoint."""
        if sub == "status":
            out = copy.deepcopy(old)
            out["status"] = copy.deepcopy(new.get("status", {}))
            nm = new.get("metadata", {})
            for k in ("labels", "annotations"):
                if k in nm:
                    out["metadata"][k] = copy.deepcopy(nm[k])
            return out
        out = copy.deepcopy(new)
        om, nm = old["metadata"], out.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in om:
                nm[k] = om[k]
            else:
                nm.pop(k, None)
        if res.namespaced:
            nm["namespace"] = om["namespace"]
        if res.has_status and res.key != "/nodes":
            if "status" in old:
                out["status"] = copy.deepcopy(old["status"])
            else:
                out.pop("status", None)
        if res.key == "/namespaces":
            out["spec"] = copy.deepcopy(old.get("spec", {}))
        if "generation" in om and out.get("spec") != old.get("spec"):
            nm["generation"] = om["generation"] + 1
        return out

    def _store_update(self, res, ns, name, old, out, dry):
        """Commits an update under the store lock; finishes a deletion once
        the last finalizer is gone."""
        store = self.server.store
        if dry:
            out["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return out
        out["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if out["metadata"].get("deletionTimestamp") and not out["metadata"].get("finalizers") and \
                not (res.key == "/namespaces" and out.get("spec", {}).get("finalizers")):
            return store.commit("DELETED", res.key, ns, name, out)
        if out == old:
            return old  # a no-op write does not bump the resourceVersion
        return store.commit("MODIFIED", res.key, ns, name, out)

    def _update(self, res, ns, name, sub, q):
        store = self.server.store
        new = self._json_body()
        meta = self._check_type(res, new)
        if meta.get("name") and meta["name"] != name:
            raise st.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                 f"({name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise st.bad_request("the namespace of the provided object does not match the namespace sent on "
                                 "the request")
        dry = self._dry_run(q)
        with store.cond:
            old = store.get(res.key, ns, name)
            if old is None:
                raise st.not_found(res, name)
            want = meta.get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise st.conflict(res, name)
            meta["name"] = name
            out = self._merge_update(res, old, new, sub)
            out = self._store_update(res, ns, name, old, out, dry)
        body, ct = self._encode_obj(res, out)
        self._send(200, body, ct)

    def _patch(self, res, ns, name, sub, q):
        store = self.server.store
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        kind = PATCH_TYPES.get(ctype)
        if kind is None or kind == "apply-cbor":
            raise st.ApiError(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media types include: "
                              "application/json-patch+json, application/merge-patch+json, "
                              "application/apply-patch+yaml, application/strategic-merge-patch+json")
        data = self._body()
        try:
            p = json.loads(data)
        except ValueError:
            if kind == "apply":
                raise st.ApiError(415, "UnsupportedMediaType",
                                  "this stand-in accepts apply patches only in their JSON form")
            raise st.bad_request("the body of the request was not valid JSON")
        if kind == "apply" and not q.get("fieldManager"):
            raise st.bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                                 "is required for apply patch")
        dry = self._dry_run(q)
        with store.cond:
            old = store.get(res.key, ns, name)
            if old is None:
                if kind == "apply" and sub is None:
                    if not isinstance(p, dict):
                        raise st.bad_request("apply patch must be an object")
                    p.setdefault("metadata", {})["name"] = name
                    p["metadata"].pop("resourceVersion", None)
                    self._body_cache = json.dumps(p).encode()
                    return self._create(res, ns, q, obj=p, code=201)
                raise st.not_found(res, name)
            try:
                if kind == "json":
                    new = patchlib.json_patch(old, p)
                elif kind == "merge":
                    new = patchlib.merge_patch(old, p)
                else:
                    if not isinstance(p, dict):
                        raise patchlib.PatchError("patch must be an object")
                    if kind == "apply":
                        self._check_type(res, p)
                    new = patchlib.strategic_merge(old, p)
            except patchlib.PatchConflict as e:
                raise st.ApiError(422, "Invalid", str(e))
            except patchlib.PatchError as e:
                raise st.ApiError(422 if kind == "json" else 400, "Invalid" if kind == "json" else "BadRequest",
                                  str(e))
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise st.ApiError(422, "Invalid", "patch produced an invalid object")
            nm = new["metadata"]
            want = nm.get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise st.conflict(res, name)
            if nm.get("name") != name:
                raise st.bad_request(f"the name of the object ({nm.get('name')}) does not match the name on "
                                     f"the URL ({name})")
            new["kind"], new["apiVersion"] = res.kind, res.api_version
            out = self._merge_update(res, old, new, sub)
            if sub == "status":
                out["metadata"] = copy.deepcopy(old["metadata"])
                for k in ("labels", "annotations"):
                    if k in nm:
                        out["metadata"][k] = copy.deepcopy(nm[k])
                    else:
                        out["metadata"].pop(k, None)
            out = self._store_update(res, ns, name, old, out, dry)
        body, ct = self._encode_obj(res, out)
        self._send(200, body, ct)

    def _delete_locked(self, res, ns, name, opts, dry):
        """Deletes one object (with the store lock held); returns (obj,
        done) where done is False while finalizers hold it."""
        store = self.server.store
        old = store.get(res.key, ns, name)
        if old is None:
            raise st.not_found(res, name)
        pre = (opts or {}).get("preconditions") or {}
        om = old["metadata"]
        if pre.get("uid") and pre["uid"] != om.get("uid"):
            raise st.conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                         f"UID in object meta: {om.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != om.get("resourceVersion"):
            raise st.conflict(res, name, f"Precondition failed: ResourceVersion in precondition: "
                                         f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                         f"{om.get('resourceVersion')}")
        if dry and res.key != "/namespaces":
            return old, True
        if res.key == "/namespaces":
            # as kube-apiserver: Terminating now, the namespace controller removes the
            # contents and then the namespace (here after namespace_finalize_delay)
            if om.get("deletionTimestamp"):
                raise st.conflict(res, name, "The system is ensuring all content is removed from this "
                                             "namespace.  Upon completion, this namespace will "
                                             "automatically be purged by the system.")
            term = copy.deepcopy(old)
            term["metadata"]["deletionTimestamp"] = now_rfc3339()
            term.setdefault("status", {})["phase"] = "Terminating"
            if dry:
                return term, False
            out = store.commit("MODIFIED", res.key, None, name, term)
            self.server.finalize_namespace_later(name)
            return out, False
        if om.get("finalizers"):
            if om.get("deletionTimestamp"):
                return old, False
            held = copy.deepcopy(old)
            held["metadata"]["deletionTimestamp"] = now_rfc3339()
            held["metadata"]["deletionGracePeriodSeconds"] = 0
            return store.commit("MODIFIED", res.key, ns, name, held), False
        return store.commit("DELETED", res.key, ns, name, old), True

    def _delete(self, res, ns, name, q):
        opts = self._json_body(required=False)
        dry = self._dry_run(q)
        with self.server.store.cond:
            out, done = self._delete_locked(res, ns, name, opts, dry)
        body, ct = self._encode_obj(res, out)
        self._send(200 if done else 202, body, ct)

    def _delete_collection(self, res, ns, q):
        opts = self._json_body(required=False)
        lsel, fsel = self._selectors(res, q)
        dry = self._dry_run(q)
        store = self.server.store
        out = []
        with store.cond:
            for (ons, oname), obj in sorted(store.objs.get(res.key, {}).items(), key=lambda kv: _key(kv[0])):
                if ns is not None and ons != ns:
                    continue
                if not (selectors.match_labels(lsel, obj["metadata"].get("labels"))
                        and selectors.match_fields(fsel, obj)):
                    continue
                o, _ = self._delete_locked(res, ons, oname, opts, dry)
                out.append(_strip_type(o))
            rv = store.rv
        self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                         "metadata": {"resourceVersion": str(rv)}, "items": out})

    def _selectors(self, res, q):
        try:
            lsel = selectors.parse_labels(q.get("labelSelector"))
            fsel = selectors.parse_fields(q.get("fieldSelector"), res.key)
        except selectors.SelectorError as e:
            raise st.bad_request(str(e))
        return lsel, fsel

    def _list(self, res, ns, q):
        store = self.server.store
        lsel, fsel = self._selectors(res, q)
        limit = 0
        if q.get("limit"):
            try:
                limit = int(q["limit"])
            except ValueError:
                raise st.bad_request(f'invalid limit: "{q["limit"]}"')
            limit = max(0, min(limit, MAX_LIMIT))
        rv_param = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        cont = q.get("continue", "")
        start = None
        if match and match not in ("Exact", "NotOlderThan"):
            raise st.bad_request(f'invalid resourceVersionMatch: "{match}"')
        if match and not rv_param:
            raise st.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if cont:
            if rv_param:
                raise st.bad_request("specifying resource version is not allowed when using continue")
            try:
                c = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                at, start = int(c["rv"]), c["start"]
                if c.get("v") != "meta.k8s.io/v1" or at <= 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise st.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                     "(version meta.k8s.io/v1)")
        with store.cond:
            if cont:
                pass
            elif rv_param in ("", "0") or (match != "Exact" and rv_param):
                if rv_param not in ("", "0"):
                    want = _rv_int(rv_param)
                    deadline = time.monotonic() + TOO_LARGE_RV_WAIT
                    while store.rv < want and time.monotonic() < deadline:
                        store.cond.wait(0.1)
                    if store.rv < want:
                        raise _too_large(want, store.rv)
                at = store.rv
            else:
                at = _rv_int(rv_param)
                if at > store.rv:
                    raise _too_large(at, store.rv)
            try:
                state = store.state_at(res.key, at)
            except Gone:
                if cont:
                    raise st.gone("The provided continue parameter is too old to display a consistent list "
                                  "result. You can start a new list without the continue parameter.")
                raise st.gone("The resourceVersion for the provided list is too old.")
            keys = sorted(state, key=_key)
            items, next_key, remaining = [], None, 0
            for i, key in enumerate(keys):
                kstr = _key(key)
                if start is not None and kstr < start:
                    continue
                if ns is not None and key[0] != ns:
                    continue
                obj = state[key]
                if not (selectors.match_labels(lsel, obj["metadata"].get("labels"))
                        and selectors.match_fields(fsel, obj)):
                    continue
                if limit and len(items) >= limit:
                    next_key = kstr
                    remaining = sum(1 for k in keys[i:] if ns is None or k[0] == ns)
                    break
                items.append(copy.deepcopy(obj))
        meta = {"resourceVersion": str(at)}
        if next_key is not None:
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": at, "start": next_key}, separators=(",", ":")).encode()
            ).decode().rstrip("=")
            if not lsel and not fsel:
                meta["remainingItemCount"] = remaining
        v = self._wants_table()
        if v:
            t = tables.table(res, items, self._include(), list_meta=meta)
            if v != "v1":
                t["apiVersion"] = f"meta.k8s.io/{v}"
            return self._send(200, t, tables.TABLE_CT.replace("v=v1", f"v={v}"))
        self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                         "items": [_strip_type(o) for o in items]})

    # --- watch ----------------------------------------------------------------

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event_bytes(self, res, etype, obj, first):
        if etype in ("ERROR", "BOOKMARK"):
            o = obj
        else:
            o, _ = self._encode_obj(res, obj, include_columns=first)
        return json.dumps({"type": etype, "object": o}, separators=(",", ":")).encode() + b"\n"

    def _client_gone(self):
        try:
            if self.connection.pending():
                return True
            r, _, _ = select.select([self.connection], [], [], 0)
            return bool(r)
        except (OSError, ValueError):
            return True

    def _bookmark(self, res, rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}

    def _watch(self, res, ns, q, name):
        store = self.server.store
        lsel, fsel = self._selectors(res, q)
        if name is not None:
            fsel = fsel + [("metadata.name", "=", name)]
        try:
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else 1800.0 + random.random() * 1800
        except ValueError:
            raise st.bad_request(f'invalid timeoutSeconds: "{q.get("timeoutSeconds")}"')
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        send_initial = q.get("sendInitialEvents") in ("1", "true", "True")
        rv_param = q.get("resourceVersion", "")
        if send_initial and q.get("resourceVersionMatch") != "NotOlderThan":
            raise st.bad_request("sendInitialEvents is forbidden unless resourceVersionMatch is NotOlderThan")
        if send_initial and not bookmarks:
            raise st.bad_request("sendInitialEvents requires setting allowWatchBookmarks to true")
        start_at = None if rv_param in ("", "0") else _rv_int(rv_param)

        def matches(obj):
            if obj is None:
                return False
            m = obj.get("metadata", {})
            if ns is not None and m.get("namespace") != ns:
                return False
            return selectors.match_labels(lsel, m.get("labels")) and selectors.match_fields(fsel, obj)

        deadline = time.monotonic() + max(0.0, timeout)
        w = Watch()
        initial, err = [], None
        with store.cond:
            if start_at is not None and start_at > store.rv:
                wait_until = time.monotonic() + TOO_LARGE_RV_WAIT
                while store.rv < start_at and time.monotonic() < wait_until:
                    store.cond.wait(0.1)
                if store.rv < start_at:
                    # before the stream starts, so a plain HTTP error
                    raise _too_large(start_at, store.rv)
            if err is None and (start_at is None or send_initial):
                state = store.state_at(res.key, store.rv)
                initial = [copy.deepcopy(state[k]) for k in sorted(state, key=_key)
                           if matches(state[k])]
                pos = store.rv
            elif err is None:
                try:
                    store.events_after(start_at)
                    pos = start_at
                except Gone as g:
                    err = st.gone(f"too old resource version: {g.rv} ({g.oldest + 1})")
        self.send_response(200)
        ct = "application/json"
        if self._wants_table():
            ct = tables.TABLE_CT
        self.send_header("Content-Type", ct)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if err is not None:
            self._chunk(self._event_bytes(res, "ERROR", err.body(), True))
            self._chunk(b"")
            return
        with self.server.watches_lock:
            self.server.watches.add(w)
        try:
            self._watch_loop(res, w, initial, pos, matches, bookmarks, send_initial, deadline)
        finally:
            with self.server.watches_lock:
                self.server.watches.discard(w)

    def _watch_loop(self, res, w, initial, pos, matches, bookmarks, send_initial, deadline):
        store = self.server.store
        first = True
        for obj in initial:
            self._chunk(self._event_bytes(res, "ADDED", obj, first))
            first = False
        if send_initial:
            self._chunk(self._event_bytes(res, "BOOKMARK", self._bookmark(res, pos, True), False))
        interval = self.server.bookmark_interval
        next_bookmark = time.monotonic() + interval
        while True:
            out, gone = [], None
            with store.cond:
                while True:
                    now = time.monotonic()
                    if w.cut or store.rv > pos or now >= deadline or (bookmarks and now >= next_bookmark):
                        break
                    store.cond.wait(min(1.0, deadline - now, max(0.01, next_bookmark - now)))
                    if self._client_gone():
                        return self._abort()
                if not w.cut:
                    try:
                        evs = store.events_after(pos)
                    except Gone as g:
                        gone = st.gone(f"too old resource version: {g.rv} ({g.oldest + 1})")
                        evs = []
                    for ev in evs:
                        if ev.res != res.key:
                            continue
                        was, now_m = matches(ev.old), matches(ev.obj)
                        if ev.type == "DELETED":
                            if was:
                                out.append(("DELETED", ev.obj))
                        elif was and now_m:
                            out.append(("MODIFIED", ev.obj))
                        elif now_m:
                            out.append(("ADDED", ev.obj))
                        elif was:
                            out.append(("DELETED", ev.obj))
                    pos = store.rv
            if w.cut:
                if w.cut == "mid":
                    line = self._event_bytes(res, "BOOKMARK", self._bookmark(res, pos), False) \
                        if not out else self._event_bytes(res, out[0][0], out[0][1], first)
                    self._chunk(line[:max(1, len(line) // 2)])
                return self._abort()
            if gone is not None:
                self._chunk(self._event_bytes(res, "ERROR", gone.body(), first))
                self._chunk(b"")
                return
            for etype, obj in out:
                self._chunk(self._event_bytes(res, etype, obj, first))
                first = False
            now = time.monotonic()
            if bookmarks and now >= next_bookmark:
                self._chunk(self._event_bytes(res, "BOOKMARK", self._bookmark(res, pos), False))
                next_bookmark = now + interval
            if now >= deadline:
                self._chunk(b"")
                return

    def _abort(self):
        """Drops the connection without ending the chunked body or TLS, as a
        crashed server or a broken network would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def make_ssl_context(cert, key, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        # client certificates are asked for and verified when sent, not required
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def random_token():
    return "".join(random.SystemRandom().choice(string.ascii_lowercase + string.digits) for _ in range(32))
