# SPDX-License-Identifier: Apache-2.0
"""Signed gadget images, the allow-list and the pull policy, against a real
docker-registry, with signatures made independently of ig: payloads written
here in cosign's format, signed with the openssl CLI, and pushed with skopeo
(the tag scheme) or with the distribution API by hand (OCI 1.1 referrers,
which Debian's docker-registry 2.8 stores but cannot list, so a small front
adds the referrers API where a test needs it).  Signatures ig makes are
checked the other way round, with openssl.

The refusals a user meets: another key, no signature, a signature moved to
another image, a tampered image; each is one error line naming the image and
the reason, from ig and from the agents, where an instance of such an image
is marked failed on every node while the others keep running.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest
import yaml

import registry
from apiserver import ApiServer
from conftest import IG, REPO, ig
from test_agent import STORE, Agent

SIGN = os.path.join(REPO, "tests", "data", "oci", "sign")
HELM = os.environ.get("HELM", os.path.join(REPO, "build", "tools", "bin", "helm"))
CHART = os.path.join(REPO, "charts", "gadget")
KG = os.path.join(os.path.dirname(IG), "kubectl-gadget")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
EMPTY = b"{}"


def key(name):
    return os.path.join(SIGN, name)


def pem(name):
    with open(key(name)) as f:
        return f.read()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def one_error_line(r):
    assert r.returncode != 0, r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: "), r.stderr
    return lines[0]


# ---- an independent cosign: payload, openssl signature, manifests ----

def payload(identity, digest):
    return compact({"critical": {"identity": {"docker-reference": identity},
                                 "image": {"docker-manifest-digest": digest},
                                 "type": "cosign container image signature"},
                    "optional": None})


def openssl_sign(keyfile, data, tmp):
    f = os.path.join(tmp, uuid.uuid4().hex)
    with open(f, "wb") as out:
        out.write(data)
    if "ed25519" in keyfile:
        cmd = ["openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-rawin", "-in", f]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-sign", keyfile, f]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def signature_layers(identity, digest, keys, tmp):
    blobs, layers = [], []
    p = payload(identity, digest)
    for k in keys:
        sig = openssl_sign(key(k), p, tmp)
        blobs.append(p)
        layers.append({"mediaType": SIMPLESIGNING, "size": len(p), "digest": sha(p),
                       "annotations": {SIG_ANNOTATION: base64.b64encode(sig).decode()}})
    return blobs, layers


def cosign_config(layers):
    return compact({"architecture": "", "created": "0001-01-01T00:00:00Z",
                    "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
                    "os": "", "rootfs": {"type": "layers",
                                         "diff_ids": [l["digest"] for l in layers]},
                    "config": {}})


def write_layout(d, blobs, manifest, ref):
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    for b in blobs + [manifest]:
        with open(os.path.join(d, "blobs", "sha256", sha(b)[7:]), "wb") as f:
            f.write(b)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha(manifest), "size": len(manifest),
             "annotations": {"org.opencontainers.image.ref.name": ref}}]}, f)


def skopeo_copy(src, dst):
    r = subprocess.run(["skopeo", "copy", "--quiet", "--all", "--preserve-digests",
                        "--src-tls-verify=false", "--dest-tls-verify=false", src, dst],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def remote_digest(reg, repo, ref):
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{reg.host}/{repo}:{ref}"], check=True,
                         capture_output=True).stdout
    return sha(raw)


def cosign_sign(reg, repo, digest, keys, tmp, identity=None):
    """What `cosign sign --key` pushes: the tag sha256-<hex>.sig, with skopeo."""
    blobs, layers = signature_layers(identity or f"{reg.host}/{repo}", digest, keys, tmp)
    config = cosign_config(layers)
    manifest = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "size": len(config), "digest": sha(config)},
                        "layers": layers})
    d = os.path.join(tmp, "sig-" + uuid.uuid4().hex[:8])
    write_layout(d, [config] + blobs, manifest, "sig")
    skopeo_copy(f"oci:{d}:sig", f"docker://{reg.host}/{repo}:sha256-{digest[7:]}.sig")


# ---- the distribution API by hand, for OCI 1.1 artifacts ----

def http_blob(reg, repo, data):
    req = urllib.request.Request(reg.url(f"/v2/{repo}/blobs/uploads/"), method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as r:
        loc = r.headers["Location"]
    if loc.startswith("/"):
        loc = reg.url(loc)
    sep = "&" if "?" in loc else "?"
    req = urllib.request.Request(f"{loc}{sep}digest={sha(data)}", method="PUT", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=10).close()


def http_manifest(reg, repo, ref, data, media_type):
    req = urllib.request.Request(reg.url(f"/v2/{repo}/manifests/{ref}"), method="PUT", data=data,
                                 headers={"Content-Type": media_type})
    urllib.request.urlopen(req, timeout=10).close()


def referrer_manifest(reg, repo, digest, keys, tmp):
    """What `cosign sign --registry-referrers-mode=oci-1-1` pushes, by digest."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{reg.host}/{repo}@{digest}"], check=True,
                         capture_output=True).stdout
    subject = {"mediaType": json.loads(raw).get("mediaType", OCI_INDEX), "size": len(raw),
               "digest": digest}
    blobs, layers = signature_layers(f"{reg.host}/{repo}", digest, keys, tmp)
    for b in set(blobs) | {EMPTY}:
        http_blob(reg, repo, b)
    manifest = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "artifactType": COSIGN_ARTIFACT,
                        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                   "size": 2, "digest": sha(EMPTY)},
                        "layers": layers, "subject": subject})
    http_manifest(reg, repo, sha(manifest), manifest, OCI_MANIFEST)
    return manifest


def referrers_index(manifest):
    return compact({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "size": len(manifest), "digest": sha(manifest),
         "artifactType": COSIGN_ARTIFACT}]})


class ReferrersFront:
    """Forwards to a docker-registry and adds the OCI 1.1 referrers API,
    answered from what the test registered; records those requests."""

    def __init__(self, reg):
        import http.client
        self.referrers = {}
        self.asked = []
        front = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def forward(self):
                if self.command == "GET" and "/referrers/" in self.path:
                    digest = self.path.split("/referrers/", 1)[1].split("?", 1)[0]
                    front.asked.append(self.path)
                    body = front.referrers.get(digest, compact(
                        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
                    self.send_response(200)
                    self.send_header("Content-Type", OCI_INDEX)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=30)
                c.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                resp = c.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "date", "server",
                                         "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_HEAD = do_POST = do_PUT = forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.host = f"localhost:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- fixtures ----

@pytest.fixture(scope="module")
def reg():
    r = registry.plain()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pushed(reg, tmp_path_factory):
    """The in-tree gadgets pushed unsigned as <reg>/gadgets/<name>:v1; their digests."""
    src = str(tmp_path_factory.mktemp("src") / "store")
    shutil.copytree(STORE, src)
    out = {}
    for name in ("trace_open", "trace_exec", "trace_signal", "trace_mount", "top_file",
                 "snapshot_process"):
        ref = f"{reg.host}/gadgets/{name}:v1"
        assert ig("image", "tag", f"{name}:latest", ref, "--store", src).returncode == 0
        r = ig("image", "push", ref, "--store", src, "--insecure-registries", reg.host)
        assert r.returncode == 0, r.stderr
        out[name] = remote_digest(reg, f"gadgets/{name}", "v1")
    return out


def pull(reg_host, ref, store):
    return ig("image", "pull", ref, "--store", store, "--insecure-registries", reg_host)


def verify(reg_host, ref, store, keys):
    return ig("image", "verify", ref, "--store", store, "--public-keys", keys,
              "--insecure-registries", reg_host)


# ---- ig: what verifies ----

@pytest.mark.parametrize("priv,pub", [("ec.key", "ec.pub"), ("rsa.key", "rsa.pub"),
                                      ("ed25519.key", "ed25519.pub")])
def test_openssl_signatures_verify(reg, pushed, tmp_path, priv, pub):
    repo = f"gadgets/signed-{priv.split('.')[0]}"
    ref = f"{reg.host}/{repo}:v1"
    skopeo_copy(f"docker://{reg.host}/gadgets/trace_open:v1", f"docker://{ref}")
    cosign_sign(reg, repo, pushed["trace_open"], [priv], str(tmp_path))
    store = str(tmp_path / "store")
    r = pull(reg.host, ref, store)
    assert r.returncode == 0, r.stderr
    assert f"Pulled signature {ref.rsplit(':', 1)[0]}:sha256-" in r.stdout, r.stdout
    r = verify(reg.host, ref, store, pem(pub))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Verified {ref} ({pushed['trace_open']})\n"
    # and runs, from the store alone: the signature was kept with the image
    r = subprocess.run([IG, "run", ref, "--store", store, "--pull", "never", "--public-keys",
                        key(pub), "-t", "1", "-o", "json"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def test_several_keys_and_signatures(reg, pushed, tmp_path):
    """cosign keeps several signatures in one manifest; any of the keys does."""
    cosign_sign(reg, "gadgets/trace_signal", pushed["trace_signal"], ["rsa.key", "ec2.key"],
                str(tmp_path))
    store = str(tmp_path / "store")
    ref = f"{reg.host}/gadgets/trace_signal:v1"
    assert pull(reg.host, ref, store).returncode == 0
    # --public-keys as Inspektor Gadget documents it: PEM texts joined by a comma
    r = verify(reg.host, ref, store, pem("ec.pub").strip() + "," + pem("ec2.pub"))
    assert r.returncode == 0, r.stderr


def test_other_key_is_refused(reg, pushed, tmp_path):
    ref = f"{reg.host}/gadgets/trace_mount:v1"
    cosign_sign(reg, "gadgets/trace_mount", pushed["trace_mount"], ["ec2.key"], str(tmp_path))
    store = str(tmp_path / "store")
    assert pull(reg.host, ref, store).returncode == 0
    line = one_error_line(verify(reg.host, ref, store, pem("ec.pub")))
    assert line == (f"ig: error: image {ref} ({pushed['trace_mount']}) failed signature "
                    "verification: it is not signed by the public key (ECDSA P-256)")
    r = subprocess.run([IG, "run", ref, "--store", store, "--public-keys", pem("ec.pub"),
                        "--insecure-registries", reg.host, "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert one_error_line(r) == line


def test_missing_signature_is_refused(reg, pushed, tmp_path):
    ref = f"{reg.host}/gadgets/top_file:v1"
    store = str(tmp_path / "store")
    r = pull(reg.host, ref, store)
    assert r.returncode == 0 and "signature" not in r.stdout, r.stdout
    line = one_error_line(verify(reg.host, ref, store, key("ec.pub")))
    assert line.endswith("failed signature verification: no signature found (looked in the "
                         "local store and in its registry)"), line
    assert ref in line


def test_signature_for_another_digest_is_refused(reg, pushed, tmp_path):
    """A valid signature of one image, copied to the signature tag of another."""
    cosign_sign(reg, "gadgets/snapshot_process", pushed["trace_exec"], ["ec.key"], str(tmp_path),
                identity=f"{reg.host}/gadgets/trace_exec")
    skopeo_copy(
        f"docker://{reg.host}/gadgets/snapshot_process:sha256-{pushed['trace_exec'][7:]}.sig",
        f"docker://{reg.host}/gadgets/snapshot_process:"
        f"sha256-{pushed['snapshot_process'][7:]}.sig")
    ref = f"{reg.host}/gadgets/snapshot_process:v1"
    store = str(tmp_path / "store")
    assert pull(reg.host, ref, store).returncode == 0
    line = one_error_line(verify(reg.host, ref, store, pem("ec.pub")))
    assert (f"public key 1 signed a payload that does not match: the signature is for another "
            f"image ({pushed['trace_exec']}), not {pushed['snapshot_process']}") in line, line


def test_tampered_config_is_refused(reg, pushed, tmp_path):
    """A signed image whose gadget.yaml is changed and pushed again under the
    same tag: its digest changes, and the old signature cannot follow it."""
    repo = "gadgets/tampered"
    ref = f"{reg.host}/{repo}:v1"
    skopeo_copy(f"docker://{reg.host}/gadgets/trace_open:v1", f"docker://{ref}")
    cosign_sign(reg, repo, pushed["trace_open"], ["ec.key"], str(tmp_path))
    lay = str(tmp_path / "layout")
    skopeo_copy(f"docker://{ref}", f"oci:{lay}:v1")

    def blob(d):
        return os.path.join(lay, "blobs", "sha256", d[7:])

    def put(data):
        with open(blob(sha(data)), "wb") as f:
            f.write(data)
        return sha(data)

    index = json.load(open(os.path.join(lay, "index.json")))
    top = index["manifests"][0]
    doc = json.load(open(blob(top["digest"]), "rb"))
    mdesc = doc["manifests"][0] if "manifests" in doc else None
    man = json.load(open(blob(mdesc["digest"] if mdesc else top["digest"]), "rb"))
    cfg = open(blob(man["config"]["digest"]), "rb").read()
    cfg += b"\n# one more line\n"
    man["config"]["digest"], man["config"]["size"] = put(cfg), len(cfg)
    mraw = compact(man)
    if mdesc:
        mdesc["digest"], mdesc["size"] = put(mraw), len(mraw)
        raw = compact(doc)
    else:
        raw = mraw
    top["digest"], top["size"] = put(raw), len(raw)
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump(index, f)
    skopeo_copy(f"oci:{lay}:v1", f"docker://{ref}")
    tampered = sha(raw)
    assert tampered != pushed["trace_open"]

    store = str(tmp_path / "store")
    assert pull(reg.host, ref, store).returncode == 0
    line = one_error_line(verify(reg.host, ref, store, pem("ec.pub")))
    assert f"({tampered}) failed signature verification: no signature found" in line, line
    # the old signature put where the new digest's would be: for another image
    skopeo_copy(f"docker://{reg.host}/{repo}:sha256-{pushed['trace_open'][7:]}.sig",
                f"docker://{reg.host}/{repo}:sha256-{tampered[7:]}.sig")
    line = one_error_line(verify(reg.host, ref, store, pem("ec.pub")))
    assert "the signature is for another image" in line, line


# ---- OCI 1.1 referrers ----

def test_oci11_referrers_fallback_tag(reg, pushed, tmp_path):
    """cosign's OCI 1.1 mode on a registry without the referrers API: the
    signature manifest has the image as subject and the index under the tag
    sha256-<hex> lists it."""
    repo = "gadgets/oci11-tag"
    ref = f"{reg.host}/{repo}:v1"
    skopeo_copy(f"docker://{reg.host}/gadgets/trace_open:v1", f"docker://{ref}")
    man = referrer_manifest(reg, repo, pushed["trace_open"], ["ec.key"], str(tmp_path))
    http_manifest(reg, repo, f"sha256-{pushed['trace_open'][7:]}", referrers_index(man),
                  OCI_INDEX)
    store = str(tmp_path / "store")
    r = pull(reg.host, ref, store)
    assert r.returncode == 0 and "Pulled signature" in r.stdout, r.stdout + r.stderr
    r = verify(reg.host, ref, store, pem("ec.pub"))
    assert r.returncode == 0, r.stderr


def test_oci11_referrers_api(reg, pushed, tmp_path):
    """A registry with the referrers API lists the signature; no tag needed."""
    front = ReferrersFront(reg)
    try:
        repo = "gadgets/oci11-api"
        skopeo_copy(f"docker://{reg.host}/gadgets/trace_open:v1",
                    f"docker://{reg.host}/{repo}:v1")
        man = referrer_manifest(reg, repo, pushed["trace_open"], ["rsa.key"], str(tmp_path))
        front.referrers[pushed["trace_open"]] = referrers_index(man)
        ref = f"{front.host}/{repo}:v1"
        store = str(tmp_path / "store")
        r = pull(front.host, ref, store)
        assert r.returncode == 0 and "Pulled signature" in r.stdout, r.stdout + r.stderr
        assert any(pushed["trace_open"] in p and "artifactType=" in p for p in front.asked)
        r = verify(front.host, ref, store, pem("rsa.pub"))
        assert r.returncode == 0, r.stderr
    finally:
        front.stop()


# ---- what ig image sign writes, checked with openssl ----

def test_ig_sign_is_cosign_format(reg, pushed, tmp_path):
    store = str(tmp_path / "store")
    shutil.copytree(STORE, store)
    ref = f"{reg.host}/gadgets/signed-by-ig:v1"
    assert ig("image", "tag", "trace_exec:latest", ref, "--store", store).returncode == 0
    r = ig("image", "sign", ref, "--key", key("ec.key"), "--store", store)
    assert r.returncode == 0, r.stderr
    r = ig("image", "push", ref, "--store", store, "--insecure-registries", reg.host)
    assert r.returncode == 0, r.stderr
    digest = remote_digest(reg, "gadgets/signed-by-ig", "v1")
    assert f"Pushed signature {reg.host}/gadgets/signed-by-ig:sha256-{digest[7:]}.sig" in r.stdout

    # read back as a cosign verifier would, without ig
    lay = str(tmp_path / "sig")
    skopeo_copy(f"docker://{reg.host}/gadgets/signed-by-ig:sha256-{digest[7:]}.sig",
                f"oci:{lay}:sig")
    index = json.load(open(os.path.join(lay, "index.json")))
    man = json.load(open(os.path.join(lay, "blobs", "sha256",
                                      index["manifests"][0]["digest"][7:])))
    (layer,) = man["layers"]
    assert layer["mediaType"] == SIMPLESIGNING
    data = open(os.path.join(lay, "blobs", "sha256", layer["digest"][7:]), "rb").read()
    assert data == payload(f"{reg.host}/gadgets/signed-by-ig", digest)
    sig = tmp_path / "sig.der"
    sig.write_bytes(base64.b64decode(layer["annotations"][SIG_ANNOTATION]))
    pl = tmp_path / "payload"
    pl.write_bytes(data)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", key("ec.pub"), "-signature",
                        str(sig), str(pl)], capture_output=True, text=True)
    assert r.stdout.strip() == "Verified OK", r.stdout + r.stderr
    cfg = open(os.path.join(lay, "blobs", "sha256", man["config"]["digest"][7:]), "rb").read()
    assert cfg == cosign_config([layer])

    # and a fresh store verifies what was pulled
    store2 = str(tmp_path / "store2")
    assert pull(reg.host, ref, store2).returncode == 0
    assert verify(reg.host, ref, store2, pem("ec.pub")).returncode == 0


# ---- the agents: every run and every instance, on every node ----

def wait_states(agent, names, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        rc, lst = agent.answer("list")
        got = {i["spec"]["name"]: i for i in lst["instances"]}
        settled = all(n in got and got[n]["state"] in ("INSTANCE_RUNNING", "INSTANCE_FAILED")
                      for n in names)
        if settled or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def instance_cm(name, image):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "gadget",
                         "labels": {"type": "gadget-instance"}},
            "data": {"instance.yaml": yaml.safe_dump({"name": name, "image": image})}}


@pytest.fixture
def cluster(tmp_path):
    s = ApiServer(tmp_path / "apiserver", nodes=("n1", "n2")).start()
    s.kubectl("create", "namespace", "gadget")
    yield s
    s.stop()


def test_agents_refuse_unverified_instances(reg, pushed, tmp_path, cluster):
    """Instance ConfigMaps anyone in the namespace could create: the signed
    one runs on both nodes; unsigned, other-key and not-allowed ones are
    marked failed with the reason and logged, and the signed one keeps
    running beside them."""
    cosign_sign(reg, "gadgets/trace_open", pushed["trace_open"], ["ec.key"], str(tmp_path))
    cosign_sign(reg, "gadgets/top_file", pushed["top_file"], ["ec2.key"], str(tmp_path))
    oci = {"insecureRegistries": [reg.host], "publicKeys": [pem("ec.pub")],
           "allowedGadgets": [f"{reg.host}/gadgets/*"]}
    agents = []
    try:
        for node in ("n1", "n2"):
            cfg = dict(oci, storeDir=str(tmp_path / f"store-{node}"))
            # agents run in a pod's network namespace: the registry is forwarded in
            agents.append(Agent(tmp_path / f"agent-{node}", node=node,
                                kubeconfig=cluster.kubeconfig,
                                extra_config={"oci": cfg}, forward=[reg.port]).start())
        want = {
            "signed": (f"{reg.host}/gadgets/trace_open:v1", None),
            "unsigned": (f"{reg.host}/gadgets/trace_exec:v1",
                         "failed signature verification: no signature found"),
            "otherkey": (f"{reg.host}/gadgets/top_file:v1",
                         "failed signature verification: it is not signed by the public key"),
            "elsewhere": ("trace_exec:latest", "not allowed on this node"),
        }
        for name, (image, _) in want.items():
            cluster.kubectl("apply", "-f", "-", input=json.dumps(instance_cm(name, image)))
        for a in agents:
            got = wait_states(a, list(want))
            for name, (image, why) in want.items():
                inst = got[name]
                if why is None:
                    assert inst["state"] == "INSTANCE_RUNNING", (inst, a.log())
                else:
                    assert inst["state"] == "INSTANCE_FAILED", (inst, a.log())
                    assert why in inst["error"] and image.split(":v1")[0] in inst["error"], inst
                    assert f"instance {name}: " in a.log()
            # a run of a refused image is refused the same way
            rc, e = a.answer("gadget-info", f"{reg.host}/gadgets/trace_exec:v1")
            assert e["code"] == "ERROR_IMAGE" and "no signature found" in e["message"], e
    finally:
        for a in agents:
            a.stop()


def test_agent_disallow_pulling(reg, pushed, tmp_path):
    store = str(tmp_path / "store")
    a = Agent(tmp_path / "agent", extra_config={"oci": {
        "storeDir": store, "insecureRegistries": [reg.host], "disallowPulling": True}}).start()
    try:
        before = len(reg.requests("GET", "/gadgets/trace_exec/"))
        rc, e = a.answer("gadget-info", f"{reg.host}/gadgets/trace_exec:v1")
        assert e["code"] == "ERROR_NOT_FOUND", e
        assert "pulling is disabled on this node (oci.disallowPulling)" in e["message"], e
        assert len(reg.requests("GET", "/gadgets/trace_exec/")) == before
    finally:
        a.stop()


def test_allowed_gadgets_by_digest(reg, pushed, tmp_path):
    """repo@digest allows the image a tag resolves to, and nothing else."""
    store = str(tmp_path / "store")
    a = Agent(tmp_path / "agent", extra_config={"oci": {
        "storeDir": store, "insecureRegistries": [reg.host],
        "allowedGadgets": [f"{reg.host}/gadgets/trace_open@{pushed['trace_open']}"]}},
              forward=[reg.port]).start()
    try:
        rc, gi = a.answer("gadget-info", f"{reg.host}/gadgets/trace_open:v1")
        assert gi["type"] == "gadget_info", gi
        before = len(reg.requests("GET", "/gadgets/trace_signal/"))
        rc, e = a.answer("gadget-info", f"{reg.host}/gadgets/trace_signal:v1")
        assert e["code"] == "ERROR_IMAGE" and "oci.allowedGadgets" in e["message"], e
        # refused by name: the registry was not even asked
        assert len(reg.requests("GET", "/gadgets/trace_signal/")) == before
    finally:
        a.stop()


# ---- the operator's way: a key and an allow-list from the chart and from deploy ----

def test_chart_and_deploy_policy_reach_the_agent(reg, pushed, tmp_path):
    cosign_sign(reg, "gadgets/trace_open", pushed["trace_open"], ["ec.key"], str(tmp_path))
    r = subprocess.run([HELM, "template", "gadget", CHART,
                        "--set-file", f"config.oci.publicKeys[0]={key('ec.pub')}",
                        "--set", f"config.oci.allowedGadgets={{{reg.host}/gadgets/*}}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] ==
             "gadget-config"]
    chart_oci = yaml.safe_load(cm["data"]["config.yaml"])["oci"]

    r = subprocess.run([KG, "deploy", "--print", "--gadgets-public-keys", key("ec.pub"),
                        "--allowed-gadgets", f"{reg.host}/gadgets/*"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "not verified" not in r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    deploy_oci = yaml.safe_load(cm["data"]["config.yaml"])["oci"]
    assert deploy_oci["publicKeys"] == chart_oci["publicKeys"] == [pem("ec.pub")]
    assert deploy_oci["allowedGadgets"] == chart_oci["allowedGadgets"]

    for i, oci in enumerate((chart_oci, deploy_oci)):
        cfg = dict(oci, storeDir=str(tmp_path / f"s{i}"), insecureRegistries=[reg.host])
        a = Agent(tmp_path / f"a{i}", extra_config={"oci": cfg}, forward=[reg.port]).start()
        try:
            rc, gi = a.answer("gadget-info", f"{reg.host}/gadgets/trace_open:v1")
            assert gi["type"] == "gadget_info", (gi, a.log())
            rc, e = a.answer("gadget-info", f"{reg.host}/gadgets/trace_exec:v1")
            assert "no signature found" in e["message"], e
            assert "gadget images must be signed by one of 1 public key(s)" in a.log()
        finally:
            a.stop()


def test_deploy_warns_and_refuses_bad_policy(tmp_path):
    r = subprocess.run([KG, "deploy", "--print"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "warning: gadget images are not verified" in r.stderr
    r = subprocess.run([KG, "deploy", "--print", "--gadgets-public-keys", key("ec.key")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "a private key, where the public key belongs" in r.stderr
    r = subprocess.run([KG, "deploy", "--print", "--allowed-gadgets", "ghcr.io/*/x"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "'*' is only allowed at the end" in r.stderr
    # the chart refuses a key that is not a PEM public key by its name
    r = subprocess.run([HELM, "template", "gadget", CHART, "--set",
                        "config.oci.publicKeys[0]=not-a-key"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "publicKeys" in r.stderr, r.stderr


# ---- ig run's own policy flags ----

def test_ig_run_allow_list_and_pull_policy(reg, pushed, tmp_path):
    store = str(tmp_path / "store")
    ref = f"{reg.host}/gadgets/trace_exec:v1"
    before = len(reg.requests("GET", "/gadgets/trace_exec/"))
    r = subprocess.run([IG, "run", ref, "--store", store, "--insecure-registries", reg.host,
                        "--allowed-gadgets", f"{reg.host}/gadgets/trace_open:v1",
                        "--allowed-gadgets", "trace_*", "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert one_error_line(r) == (f"ig: error: {ref} is not part of allowed gadgets: "
                                 f"{reg.host}/gadgets/trace_open:v1, trace_*")
    r = subprocess.run([IG, "run", ref, "--store", store, "--insecure-registries", reg.host,
                        "--disallow-pulling", "-t", "1"], capture_output=True, text=True,
                       timeout=60)
    assert "pulling is disabled (--disallow-pulling)" in one_error_line(r)
    # neither asked the registry
    assert len(reg.requests("GET", "/gadgets/trace_exec/")) == before
    # a digest pattern allows what the tag resolves to
    r = subprocess.run([IG, "run", ref, "--store", store, "--insecure-registries", reg.host,
                        "--allowed-gadgets", f"{reg.host}/gadgets/trace_exec@"
                        f"{pushed['trace_exec']}", "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # with a policy, a path is not an image
    r = subprocess.run([IG, "run", os.path.join(REPO, "build", "gadgets", "trace_exec"),
                        "--public-keys", key("ec.pub"), "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert "is a path, not an image: with --public-keys only images run" in one_error_line(r)
    r = subprocess.run([IG, "run", "trace_exec", "--verify-image", "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--verify-image needs --public-keys" in r.stderr
