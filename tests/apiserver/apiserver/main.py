# SPDX-License-Identifier: Apache-2.0
"""Command line of the stand-in API server: makes (once per data directory)
a test CA and a serving certificate with the openssl CLI, writes a kubeconfig
the real kubectl accepts, seeds the namespaces and nodes a fresh cluster has,
and serves until SIGTERM/SIGINT."""

import argparse
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid

from . import server as srv
from .store import Store

MAX_TOKEN_FILE_BYTES = 1 << 20


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"apiserver: openssl {args[0]} failed: {r.stderr.strip()}")


def ensure_certs(d):
    """CA and server certificate in d (reused when present)."""
    ca, crt, key = (os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key"))
    if all(os.path.exists(p) for p in (ca, crt, key)):
        return ca, crt, key
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=standin-apiserver-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "3650", "-extfile", "server.ext", cwd=d)
    return ca, crt, key


def write_kubeconfig(path, url, ca_path, token, namespace="default"):
    with open(ca_path, "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    text = f"""apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: admin
  user:
    token: {token}
contexts:
- name: standin
  context:
    cluster: standin
    user: admin
    namespace: {namespace}
current-context: standin
preferences: {{}}
"""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_token_file(path):
    """kube-apiserver's static token file: token,user,uid[,"group1,group2"]."""
    out = {}
    with open(path) as f:
        data = f.read(MAX_TOKEN_FILE_BYTES + 1)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise SystemExit(f"apiserver: token file {path} too large")
    for n, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(",", 3)
        if len(fields) < 3:
            raise SystemExit(f"apiserver: {path}:{n}: want token,user,uid[,\"groups\"]")
        groups = fields[3].strip().strip('"').split(",") if len(fields) > 3 else []
        out[fields[0]] = {"username": fields[1], "uid": fields[2], "groups": [g for g in groups if g]}
    return out


def seed(store, nodes):
    """What a new cluster has: the system namespaces and the given nodes."""
    with store.cond:
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if store.get("/namespaces", None, ns) is None:
                store.commit("ADDED", "/namespaces", None, ns, {
                    "kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                                 "creationTimestamp": srv.now_rfc3339(),
                                 "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            if store.get("/serviceaccounts", ns, "default") is None:
                store.commit("ADDED", "/serviceaccounts", ns, "default", {
                    "kind": "ServiceAccount", "apiVersion": "v1",
                    "metadata": {"name": "default", "namespace": ns, "uid": str(uuid.uuid4()),
                                 "creationTimestamp": srv.now_rfc3339()}})
        for i, node in enumerate(nodes):
            if store.get("/nodes", None, node) is None:
                store.commit("ADDED", "/nodes", None, node, {
                    "kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": node, "uid": str(uuid.uuid4()),
                                 "creationTimestamp": srv.now_rfc3339(),
                                 "labels": {"kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
                                            "kubernetes.io/arch": "amd64"}},
                    "spec": {"podCIDR": f"10.244.{i}.0/24"},
                    "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                               "lastHeartbeatTime": srv.now_rfc3339()}],
                               "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                             {"type": "Hostname", "address": node}],
                               "nodeInfo": {"kubeletVersion": "v1.33.0", "operatingSystem": "linux",
                                            "architecture": "amd64", "containerRuntimeVersion": "containerd://1.6"}}})


def main(argv=None):
    ap = argparse.ArgumentParser(prog="apiserver", description="stand-in Kubernetes API server for tests")
    ap.add_argument("--addr", default="127.0.0.1:6443", help="HOST:PORT to listen on (port 0 picks one)")
    ap.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for this server")
    ap.add_argument("--data-dir", help="keep certificates and state here across restarts")
    ap.add_argument("--token", help="bearer token of the admin user written to the kubeconfig")
    ap.add_argument("--token-file", help="more tokens: token,user,uid[,\"group1,group2\"] per line")
    ap.add_argument("--compaction-window", type=int, default=1000,
                    help="changes kept for watches and consistent lists; older resourceVersions are 410 Gone")
    ap.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARKs")
    ap.add_argument("--node", action="append", default=[], help="a Node object to create (repeatable)")
    ap.add_argument("--namespace-finalize-delay", type=float, default=1.0,
                    help="seconds a deleted namespace stays Terminating before its contents and itself go")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument("--audit-log", help="append one JSON line per authorization decision here")
    args = ap.parse_args(argv)

    host, _, port = args.addr.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        ap.error(f"bad --addr {args.addr!r}")
    tmpdir = None
    data_dir = args.data_dir
    if not data_dir:
        tmpdir = data_dir = tempfile.mkdtemp(prefix="standin-apiserver-")
    os.makedirs(data_dir, exist_ok=True)
    ca, crt, key = ensure_certs(data_dir)

    token = args.token
    token_path = os.path.join(data_dir, "admin.token")
    if not token:
        if os.path.exists(token_path):
            with open(token_path) as f:
                token = f.read().strip()
        else:
            token = srv.random_token()
    with open(token_path, "w") as f:
        f.write(token + "\n")
    tokens = {token: {"username": "admin", "uid": "admin", "groups": ["system:masters", "system:authenticated"]}}
    if args.token_file:
        tokens.update(read_token_file(args.token_file))

    store = Store(window=args.compaction_window, data_dir=None if tmpdir else data_dir)
    seed(store, args.node)
    httpd = srv.Server((host, port), srv.make_ssl_context(crt, key, client_ca=ca), store, tokens,
                       bookmark_interval=args.bookmark_interval, verbose=args.verbose,
                       namespace_finalize_delay=args.namespace_finalize_delay,
                       audit_log=args.audit_log)
    httpd.resume_namespace_finalizers()
    bound = httpd.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"https://{url_host}:{bound}"
    write_kubeconfig(args.kubeconfig, url, ca, token)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"apiserver: serving {url} (kubeconfig {args.kubeconfig})", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        store.close()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
