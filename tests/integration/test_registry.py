# SPDX-License-Identifier: Apache-2.0
"""ig image push/pull, ig login/logout against real registries.

Debian's docker-registry serves plain HTTP, HTTPS with a test CA and Basic
auth, and token auth with a token server of ours (registry.py); skopeo is the
independent client that cross-checks what ig pushes and pulls.  Failures are
checked the way a user meets them: one error line naming the registry, a
non-zero exit, and a local store left byte for byte as it was.
"""

import hashlib
import json
import os
import pty
import select
import shutil
import subprocess
import tarfile
import time
import urllib.request

import pytest

import registry
from conftest import GADGETS, IG, REPO, get, ig, unique

PROGRAM_TYPE = "application/vnd.gadget.ebpf.program.v1+binary"
CONFIG_TYPE = "application/vnd.gadget.config.v1+yaml"


# ---- fixtures and helpers ----

@pytest.fixture(scope="module")
def plain_reg():
    reg = registry.plain()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def tls_reg():
    reg = registry.tls_basic()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_reg():
    reg = registry.token()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def src_store(tmp_path_factory):
    """A store holding trace_open built once by ig image build."""
    d = str(tmp_path_factory.mktemp("src-store"))
    r = ig("image", "build", os.path.join(REPO, "gadgets", "trace_open"), "-t", "trace_open:src",
           "--store", d, timeout=180)
    assert r.returncode == 0, r.stderr
    return d


def tagged(src_store, ref):
    """Names the built image ref in the source store."""
    r = ig("image", "tag", "trace_open:src", ref, "--store", src_store)
    assert r.returncode == 0, r.stderr
    return ref


def digest_of(store, ref):
    r = ig("image", "inspect", ref, "--store", store)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["digest"]


def state(store):
    """index.json bytes and the set of blob files: what must not change."""
    with open(os.path.join(store, "index.json"), "rb") as f:
        index = f.read()
    blobs = sorted(os.listdir(os.path.join(store, "blobs", "sha256")))
    return index, blobs


def insecure(reg):
    return ["--insecure-registries", reg.host]


def one_error_line(r):
    assert r.returncode != 0, r.stdout
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: "), r.stderr
    return lines[0]


def raw_manifest(reg, repo, reference, accept):
    req = urllib.request.Request(reg.url(f"/v2/{repo}/manifests/{reference}"),
                                 headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def import_layout(layout, store, tmp_path):
    """ig image import of an OCI layout directory, through a tarball."""
    tar = str(tmp_path / (os.path.basename(layout) + ".tar"))
    with tarfile.open(tar, "w") as t:
        for name in os.listdir(layout):
            t.add(os.path.join(layout, name), arcname=name)
    r = ig("image", "import", tar, "--store", store)
    assert r.returncode == 0, r.stderr


def pushed(src_store, reg, repo, extra=()):
    ref = tagged(src_store, f"{reg.host}/{repo}")
    r = ig("image", "push", ref, "--store", src_store, *insecure(reg), *extra)
    assert r.returncode == 0, r.stderr
    return ref


# ---- plain HTTP: round trip, skips, digests ----

def test_push_remove_pull_run(plain_reg, src_store, tmp_path, ig_run):
    ref = tagged(src_store, f"{plain_reg.host}/trace_open:v1")
    want = digest_of(src_store, ref)
    r = ig("image", "push", ref, "--store", src_store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert f"digest: {want}" in r.stdout
    # stderr is not a terminal here: no progress output
    assert r.stderr == ""

    r = ig("image", "remove", ref, "--store", src_store)
    assert r.returncode == 0, r.stderr
    assert ig("image", "inspect", ref, "--store", src_store).returncode != 0

    r = ig("image", "pull", ref, "--store", src_store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert f"digest: {want}" in r.stdout
    assert r.stderr == ""
    assert digest_of(src_store, ref) == want
    listing = ig("image", "list", "--store", src_store).stdout
    assert f"{plain_reg.host}/trace_open" in listing

    # the pulled image runs: its event appears
    path = tmp_path / unique("pulled")
    path.write_text("x")
    run = ig_run(ref, "--store", src_store, "--pull", "never", "-o", "json")
    rec = run.wait_for(lambda recs: next((x for x in recs if x.get("fname") == str(path)), None),
                       lambda: subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL))
    assert get(rec, "proc.comm") == "cat"
    assert run.stop() == 0


def test_run_pulls_missing_image(plain_reg, src_store, tmp_path, ig_run):
    ref = pushed(src_store, plain_reg, "trace_open:autopull")
    store = str(tmp_path / "store")
    path = tmp_path / unique("auto")
    path.write_text("x")
    run = ig_run(ref, "--store", store, *insecure(plain_reg), "-o", "json")
    run.wait_for(lambda recs: next((x for x in recs if x.get("fname") == str(path)), None),
                 lambda: subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL),
                 timeout=30)
    run.stop()
    assert digest_of(store, ref) == digest_of(src_store, ref)


def test_push_twice_skips_existing_blobs(plain_reg, src_store):
    repo = unique("twice").lower()
    ref = tagged(src_store, f"{plain_reg.host}/{repo}:v1")
    r = ig("image", "push", ref, "--store", src_store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    uploads = len(plain_reg.requests("POST", f"/{repo}/blobs/uploads"))
    heads = len(plain_reg.requests("HEAD", f"/{repo}/blobs/"))
    assert uploads == 2  # the gadget.yaml config and the eBPF program

    r = ig("image", "push", ref, "--store", src_store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert len(plain_reg.requests("POST", f"/{repo}/blobs/uploads")) == uploads
    head_lines = plain_reg.requests("HEAD", f"/{repo}/blobs/")
    assert len(head_lines) == heads + 2
    assert all('" 200 ' in l for l in head_lines[heads:]), head_lines[heads:]


def test_pull_by_digest(plain_reg, src_store, tmp_path):
    ref = pushed(src_store, plain_reg, "trace_open:bydigest")
    digest = digest_of(src_store, ref)
    by_digest = f"{plain_reg.host}/trace_open@{digest}"
    store = str(tmp_path / "store")
    r = ig("image", "pull", by_digest, "--store", store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert digest_of(store, by_digest) == digest
    assert digest[7:19] in ig("image", "list", "--store", store).stdout

    # name:tag@digest fetches by digest and records the tag
    r = ig("image", "pull", f"{plain_reg.host}/trace_open:pinned@{digest}", "--store", store,
           *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert digest_of(store, f"{plain_reg.host}/trace_open:pinned") == digest


def test_skopeo_copies_what_ig_pushed(plain_reg, src_store, tmp_path):
    ref = pushed(src_store, plain_reg, "interop:ig")
    want = digest_of(src_store, ref)
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == want
    layout = tmp_path / "layout"
    subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{ref}",
                    f"oci:{layout}:v1"], capture_output=True, check=True)
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [want]
    # every blob skopeo fetched is intact
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_ig_pulls_what_skopeo_pushed(plain_reg, src_store, tmp_path):
    ref = tagged(src_store, "localhost/exported:v1")
    want = digest_of(src_store, ref)
    tar = str(tmp_path / "image.tar")
    r = ig("image", "export", ref, tar, "--store", src_store)
    assert r.returncode == 0, r.stderr
    dst = f"{plain_reg.host}/fromskopeo:v1"
    subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci-archive:{tar}",
                    f"docker://{dst}"], capture_output=True, check=True)
    store = str(tmp_path / "store")
    r = ig("image", "pull", dst, "--store", store, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    assert digest_of(store, dst) == want


# ---- failures: the store stays as it was ----

def gadget_layout(d, extra_bytes, ref_name="v1"):
    """An OCI layout holding the in-tree trace_open with an extra layer of
    random bytes: a different image every time, and with a big extra layer,
    a transfer long enough to interrupt."""
    blobs = os.path.join(d, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    with open(os.path.join(GADGETS, "trace_open", "gadget.yaml"), "rb") as f:
        config = dict(put(f.read()), mediaType=CONFIG_TYPE)
    with open(os.path.join(GADGETS, "trace_open", "program.bpf.o"), "rb") as f:
        program = dict(put(f.read()), mediaType=PROGRAM_TYPE)
    big = dict(put(os.urandom(extra_bytes)), mediaType="application/octet-stream")
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config, "layers": [program, big]}).encode()
    m = dict(put(manifest), mediaType="application/vnd.oci.image.manifest.v1+json",
             annotations={"org.opencontainers.image.ref.name": ref_name})
    with open(os.path.join(d, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    return m["digest"], big["digest"]


@pytest.fixture
def busy_store(tmp_path):
    """A store that already holds an image (not one the tests pull), so
    'unchanged' means something."""
    store = str(tmp_path / "store")
    layout = str(tmp_path / "seed")
    gadget_layout(layout, 1024, "localhost/seed:v1")
    import_layout(layout, store, tmp_path)
    return store


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_blob_is_refused(plain_reg, busy_store, tmp_path, damage):
    # an image of its own: registry storage shares blobs between repositories
    layout, mine = str(tmp_path / "mine"), str(tmp_path / "mine-store")
    ref = f"{plain_reg.host}/{unique('corrupt').lower()}:v1"
    _, digest = gadget_layout(layout, 4096, ref)
    size = 4096
    import_layout(layout, mine, tmp_path)
    r = ig("image", "push", ref, "--store", mine, *insecure(plain_reg))
    assert r.returncode == 0, r.stderr
    data = plain_reg.blob_data(digest)
    assert digest[7:] not in state(busy_store)[1]  # so the pull must fetch it
    with open(data, "r+b") as f:
        if damage == "flip":
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0xff]))
        else:
            f.truncate(size - 100)
    before = state(busy_store)
    r = ig("image", "pull", ref, "--store", busy_store, *insecure(plain_reg))
    line = one_error_line(r)
    assert digest in line and plain_reg.host in line, line
    if damage == "flip":
        assert "has digest sha256:" in line
    else:
        assert f"has {size - 100} bytes" in line
    assert state(busy_store) == before


def test_missing_manifest(plain_reg, busy_store):
    before = state(busy_store)
    ref = f"{plain_reg.host}/trace_open:nosuchtag"
    r = ig("image", "pull", ref, "--store", busy_store, *insecure(plain_reg))
    assert one_error_line(r) == f"ig: error: manifest for {ref} not found"
    r = ig("image", "pull", f"{plain_reg.host}/nosuchrepo:v1", "--store", busy_store,
           *insecure(plain_reg))
    assert "not found" in one_error_line(r)
    assert state(busy_store) == before


def test_wrong_digest(plain_reg, src_store, busy_store):
    pushed(src_store, plain_reg, "trace_open:wd")
    before = state(busy_store)
    bogus = "sha256:" + hashlib.sha256(b"no such manifest").hexdigest()
    ref = f"{plain_reg.host}/trace_open@{bogus}"
    r = ig("image", "pull", ref, "--store", busy_store, *insecure(plain_reg))
    assert one_error_line(r) == f"ig: error: manifest for {ref} not found"
    r = ig("image", "pull", f"{plain_reg.host}/trace_open@sha256:1234", "--store", busy_store,
           *insecure(plain_reg))
    assert "invalid image reference" in one_error_line(r)
    assert state(busy_store) == before


def test_registry_down(busy_store):
    before = state(busy_store)
    host = f"localhost:{registry.free_port()}"
    r = ig("image", "pull", f"{host}/trace_open:v1", "--store", busy_store,
           "--insecure-registries", host)
    line = one_error_line(r)
    assert host in line and "connection refused" in line, line
    assert state(busy_store) == before


def test_registry_killed_mid_pull(busy_store, tmp_path):
    reg = registry.plain()
    proxy = None
    try:
        layout = str(tmp_path / "big")
        mdigest, big = gadget_layout(layout, 16 << 20)
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                        f"docker://{reg.host}/big:v1"], capture_output=True, check=True)
        # a whole pull through the proxy works and stores the big layer
        proxy = registry.SlowProxy(reg.port, rate=64 << 20)
        ok_store = str(tmp_path / "ok-store")
        r = ig("image", "pull", f"{proxy.host}/big:v1", "--store", ok_store,
               "--insecure-registries", proxy.host)
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(ok_store, "blobs", "sha256", big[7:]))
        proxy.stop()

        proxy = registry.SlowProxy(reg.port, rate=2 << 20)
        before = state(busy_store)
        p = subprocess.Popen([IG, "image", "pull", f"{proxy.host}/big:v1", "--store",
                              busy_store, "--insecure-registries", proxy.host],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while proxy.downstream < (1 << 20) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.downstream >= (1 << 20), "the pull never started"
        reg.kill()
        out, err = p.communicate(timeout=60)
        lines = [l for l in err.splitlines() if l.strip()]
        assert p.returncode == 1 and len(lines) == 1, err
        assert proxy.host in lines[0] and big in lines[0], lines[0]
        assert state(busy_store) == before
    finally:
        if proxy:
            proxy.stop()
        reg.stop()


# ---- HTTPS, Basic auth, credentials ----

def test_https_needs_trusted_ca(tls_reg, src_store, busy_store, tmp_path):
    before = state(busy_store)
    authfile = str(tmp_path / "auth.json")
    r = ig("image", "pull", f"{tls_reg.host}/trace_open:v1", "--store", busy_store,
           "--authfile", authfile)
    line = one_error_line(r)
    assert tls_reg.host in line and "certificate" in line and "--tls-ca-file" in line, line
    assert state(busy_store) == before


def test_plain_http_only_when_named_insecure(plain_reg, busy_store):
    r = ig("image", "pull", f"{plain_reg.host}/trace_open:v1", "--store", busy_store)
    line = one_error_line(r)
    assert plain_reg.host in line and "--insecure-registries" in line, line


def test_login_push_pull_logout_basic(tls_reg, src_store, tmp_path):
    authfile = str(tmp_path / "cfg" / "auth.json")
    ca = ["--tls-ca-file", tls_reg.ca]
    ref = tagged(src_store, f"{tls_reg.host}/trace_open:secure")

    # no credentials yet: the registry's 401 is reported as such
    r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile, *ca)
    line = one_error_line(r)
    assert "401" in line and tls_reg.host in line, line

    r = subprocess.run([IG, "login", tls_reg.host, "-u", registry.USER, "--password-stdin",
                        "--authfile", authfile, *ca], input=registry.PASSWORD + "\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.stat(authfile).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(authfile)).st_mode & 0o777 == 0o700
    saved = json.load(open(authfile))
    assert tls_reg.host in saved["auths"]

    r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile, *ca)
    assert r.returncode == 0, r.stderr
    store = str(tmp_path / "store")
    r = ig("image", "pull", ref, "--store", store, "--authfile", authfile, *ca)
    assert r.returncode == 0, r.stderr
    assert digest_of(store, ref) == digest_of(src_store, ref)

    # skopeo reads the same file
    r = subprocess.run(["skopeo", "inspect", "--raw", "--authfile", authfile,
                        "--tls-verify=false", f"docker://{ref}"], capture_output=True)
    assert r.returncode == 0, r.stderr

    # --tls-verify=false works without the CA, with the environment's authfile
    store2 = str(tmp_path / "store2")
    r = ig("image", "pull", ref, "--store", store2, "--tls-verify=false",
           env={"REGISTRY_AUTH_FILE": authfile})
    assert r.returncode == 0, r.stderr

    r = ig("logout", tls_reg.host, "--authfile", authfile)
    assert r.returncode == 0, r.stderr
    assert tls_reg.host not in json.load(open(authfile))["auths"]
    r = ig("logout", tls_reg.host, "--authfile", authfile)
    assert "not logged in" in one_error_line(r)


def test_login_bad_password_saves_nothing(tls_reg, tmp_path):
    authfile = tmp_path / "auth.json"
    ca = ["--tls-ca-file", tls_reg.ca]
    r = ig("login", tls_reg.host, "-u", registry.USER, "-p", "wrong", "--authfile",
           str(authfile), *ca)
    line = one_error_line(r)
    assert "401" in line and tls_reg.host in line and "bad credentials" in line, line
    assert not authfile.exists()

    # an existing file, with entries of other tools, is left byte for byte
    other = {"auths": {"ghcr.io": {"auth": "dTpw"}}, "credHelpers": {"x.io": "pass"}}
    authfile.write_text(json.dumps(other))
    before = authfile.read_bytes()
    r = ig("login", tls_reg.host, "-u", registry.USER, "-p", "wrong", "--authfile",
           str(authfile), *ca)
    assert r.returncode == 1
    assert authfile.read_bytes() == before

    # and a good login keeps them
    r = ig("login", tls_reg.host, "-u", registry.USER, "-p", registry.PASSWORD, "--authfile",
           str(authfile), *ca)
    assert r.returncode == 0, r.stderr
    saved = json.loads(authfile.read_text())
    assert saved["credHelpers"] == other["credHelpers"]
    assert saved["auths"]["ghcr.io"] == other["auths"]["ghcr.io"]
    assert tls_reg.host in saved["auths"]

    r = ig("logout", "--all", "--authfile", str(authfile))
    assert r.returncode == 0, r.stderr
    saved = json.loads(authfile.read_text())
    assert saved["auths"] == {} and saved["credHelpers"] == other["credHelpers"]


def test_malformed_authfile_is_an_error(tls_reg, tmp_path):
    authfile = tmp_path / "auth.json"
    authfile.write_text('{"auths": {')
    r = ig("login", tls_reg.host, "-u", registry.USER, "-p", registry.PASSWORD, "--authfile",
           str(authfile), "--tls-ca-file", tls_reg.ca)
    line = one_error_line(r)
    assert str(authfile) in line and "JSON" in line, line
    assert authfile.read_text() == '{"auths": {'


# ---- token authentication ----

def test_token_auth(token_reg, src_store, tmp_path):
    authfile = str(tmp_path / "auth.json")
    ts = token_reg.token_server
    ref = tagged(src_store, f"{token_reg.host}/team/trace_open:tok")

    r = ig("login", token_reg.host, "-u", registry.USER, "-p", "nope", "--authfile", authfile,
           *insecure(token_reg))
    line = one_error_line(r)
    assert "401" in line and token_reg.host in line, line
    assert not os.path.exists(authfile)

    r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile,
           *insecure(token_reg))
    assert "401" in one_error_line(r)

    r = ig("login", token_reg.host, "-u", registry.USER, "-p", registry.PASSWORD, "--authfile",
           authfile, *insecure(token_reg))
    assert r.returncode == 0, r.stderr
    n = len(ts.requests)
    r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile,
           *insecure(token_reg))
    assert r.returncode == 0, r.stderr
    # one token, asked for with the credentials, serves the whole push
    assert len(ts.requests) - n == 1, ts.requests[n:]
    assert "repository:team/trace_open:pull,push" in ts.requests[-1]["params"]["scope"]
    assert ts.requests[-1]["user"] == registry.USER

    store = str(tmp_path / "store")
    r = ig("image", "pull", ref, "--store", store, "--authfile", authfile, *insecure(token_reg))
    assert r.returncode == 0, r.stderr
    assert digest_of(store, ref) == digest_of(src_store, ref)
    assert ts.requests[-1]["params"].get("scope") == ["repository:team/trace_open:pull"]
    assert ts.requests[-1]["user"] == registry.USER


# ---- the command line ----

def test_progress_only_on_a_terminal(plain_reg, src_store, tmp_path):
    ref = pushed(src_store, plain_reg, "trace_open:tty")
    store = str(tmp_path / "store")
    master, slave = pty.openpty()
    p = subprocess.Popen([IG, "image", "pull", ref, "--store", store, *insecure(plain_reg)],
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(30)
    os.close(master)
    assert p.returncode == 0, out
    # one line redrawn in place, and cleared at the end
    assert b"\r" in out and b"sha256:" in out, out
    assert b"\n" not in out, out


@pytest.mark.parametrize("args,needle", [
    (["image", "pull"], "needs an image reference"),
    (["image", "pull", "trace_open:v1"], "names no registry"),
    (["image", "pull", "Bad/Ref"], "invalid image reference"),
    (["image", "pull", "localhost:1/x:v1", "--tls-verify=maybe"], "--tls-verify"),
    (["image", "push", "localhost:1/x:v1", "--authfile"], "--authfile needs a value"),
    (["image", "push", "localhost:1/x:v1", "localhost:1/y:v1"], "one image"),
    (["login"], "needs a registry"),
    (["login", "localhost:1", "--password-stdin"], "--username"),
    (["logout"], "either a registry or --all"),
    (["logout", "localhost:1", "--all"], "either a registry or --all"),
])
def test_bad_arguments(args, needle, tmp_path):
    if args[0] == "image":
        args = args[:2] + ["--store", str(tmp_path / "s")] + args[2:]
    r = ig(*args)
    line = one_error_line(r) if r.returncode == 1 else r.stderr.splitlines()[0]
    assert r.returncode in (1, 2), r.stderr
    assert needle in line, r.stderr


def test_push_of_missing_image(plain_reg, tmp_path):
    r = ig("image", "push", f"{plain_reg.host}/absent:v1", "--store", str(tmp_path / "s"),
           *insecure(plain_reg))
    line = one_error_line(r)
    assert "absent:v1" in line and "not in the store" in line, line


def test_redirected_blobs_get_no_credentials(token_reg, src_store, tmp_path):
    """Blob GETs redirected to another origin (object storage) are followed,
    without the registry's Authorization header."""
    front = registry.RedirectingFront(token_reg)
    try:
        authfile = str(tmp_path / "auth.json")
        ref = tagged(src_store, f"{front.host}/redirected:v1")
        r = ig("login", front.host, "-u", registry.USER, "-p", registry.PASSWORD,
               "--authfile", authfile, *insecure(front))
        assert r.returncode == 0, r.stderr
        r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile,
               *insecure(front))
        assert r.returncode == 0, r.stderr
        store = str(tmp_path / "store")
        r = ig("image", "pull", ref, "--store", store, "--authfile", authfile,
               *insecure(front))
        assert r.returncode == 0, r.stderr
        assert digest_of(store, ref) == digest_of(src_store, ref)
        # config and program came from the blob server, with no credentials
        assert len(front.blob_requests) == 2, front.blob_requests
        assert all(b["authorization"] is None for b in front.blob_requests)
        # while the registry itself was sent the token
        assert any(q["user"] == registry.USER for q in token_reg.token_server.requests)
    finally:
        front.stop()


def test_redirect_to_a_401_gets_no_credentials(plain_reg, src_store, tmp_path):
    """Finding 2: registry A (Basic auth) redirects a blob to host B; B
    answers 401 with a Bearer realm on host C.  Neither B nor C may receive
    A's credentials: the pull fails with one line naming B and the rule."""
    chain = registry.CredentialChain(plain_reg)
    try:
        authfile = str(tmp_path / "auth.json")
        r = ig("login", chain.host, "-u", registry.USER, "-p", registry.PASSWORD,
               "--authfile", authfile, *insecure(chain))
        assert r.returncode == 0, r.stderr
        ref = tagged(src_store, f"{chain.host}/fished:v1")
        r = ig("image", "push", ref, "--store", src_store, "--authfile", authfile,
               *insecure(chain))
        assert r.returncode == 0, r.stderr
        store = str(tmp_path / "store")
        r = ig("image", "pull", ref, "--store", store, "--authfile", authfile,
               *insecure(chain))
        # C was never asked; B was asked, without credentials
        assert chain.c_requests == [], chain.c_requests
        assert chain.b_requests, "the blob was not requested from B"
        assert all(q["authorization"] is None for q in chain.b_requests), chain.b_requests
        line = one_error_line(r)
        assert f"401 Unauthorized from 127.0.0.1, where {chain.host} sent GET" in line, line
        assert "only sent to" in line, line
    finally:
        chain.stop()


def test_token_realm_elsewhere_gets_no_credentials(tmp_path):
    """A registry whose challenge names a token realm on another host (here
    127.0.0.1 for a registry called localhost): the realm is asked without
    the credentials, refuses, and the one error line says why."""
    reg = registry.token(realm_host="127.0.0.1")
    try:
        r = ig("login", reg.host, "-u", registry.USER, "-p", registry.PASSWORD,
               "--authfile", str(tmp_path / "auth.json"), *insecure(reg))
        line = one_error_line(r)
        assert "anonymous access refused" in line, line
        assert f"credentials saved for {reg.host} are not sent there" in line, line
        requests = reg.token_server.requests
        assert requests and not any(q["auth"] for q in requests), requests
        assert not os.path.exists(tmp_path / "auth.json")
    finally:
        reg.stop()
