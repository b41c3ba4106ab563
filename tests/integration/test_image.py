# SPDX-License-Identifier: Apache-2.0
"""ig image build/list/tag/inspect/remove/export/import and `ig run REF`: real
clang builds into real OCI layout stores on disk, gadgets run from those stores
on the running kernel, and damaged stores and tarballs met with clear errors."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import yaml

from conftest import IG, REPO, get, ig, unique

EPOCH = "1700000000"
EPOCH_ISO = "2023-11-14T22:13:20Z"
IG_API_GADGET = os.path.join(REPO, "tests", "data", "image", "ig_api_exec")
PROGRAM_TYPE = "application/vnd.gadget.ebpf.program.v1+binary"
CONFIG_TYPE = "application/vnd.gadget.config.v1+yaml"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def gadget_dir(name):
    return os.path.join(REPO, "gadgets", name)


def build(src, ref, store, epoch=EPOCH, extra=(), env=None):
    e = {"SOURCE_DATE_EPOCH": epoch}
    e.update(env or {})
    return ig("image", "build", str(src), "-t", ref, "--store", str(store), *extra, env=e,
              timeout=180)


def built(src, ref, store, **kw):
    r = build(src, ref, store, **kw)
    assert r.returncode == 0, r.stderr
    digest = r.stdout.strip()
    assert digest.startswith("sha256:") and len(digest) == 71, r.stdout
    return digest


def one_line_error(r, *needles):
    assert r.returncode in (1, 2), (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: "), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def list_json(store):
    r = ig("image", "list", "--store", str(store), "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def blob_path(store, digest):
    return os.path.join(str(store), "blobs", "sha256", digest.split(":", 1)[1])


def read_json_blob(store, digest):
    with open(blob_path(store, digest), "rb") as f:
        return json.load(f)


def image_blobs(store, digest):
    """Every blob an image reaches, from the files themselves."""
    seen = {digest}
    doc = read_json_blob(store, digest)
    for m in doc.get("manifests", []):
        seen |= image_blobs(store, m["digest"])
    if "config" in doc:
        seen.add(doc["config"]["digest"])
    for layer in doc.get("layers", []):
        seen.add(layer["digest"])
    return seen


def program_digest(store, digest):
    doc = read_json_blob(store, digest)
    if "manifests" in doc:
        doc = read_json_blob(store, doc["manifests"][0]["digest"])
    return next(l["digest"] for l in doc["layers"] if l["mediaType"] == PROGRAM_TYPE)


def snapshot(store):
    """Path -> bytes of everything in a store but its lock file."""
    out = {}
    for root, _, files in os.walk(str(store)):
        for f in files:
            p = os.path.join(root, f)
            if f != ".lock":
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, str(store))] = fh.read()
    return out


def assert_store_consistent(store):
    """Every blob matches its name, every tag reaches only present blobs, no
    temporary files are left behind."""
    blobs = os.path.join(str(store), "blobs", "sha256")
    for name in os.listdir(blobs):
        assert not name.startswith("."), f"leftover temporary file {name}"
        with open(os.path.join(blobs, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name
    assert not [n for n in os.listdir(str(store)) if n.startswith(".tmp")]
    with open(os.path.join(str(store), "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        for d in image_blobs(store, m["digest"]):
            assert os.path.exists(blob_path(store, d)), d


def exec_marker(tmp_path):
    """An executable with a unique path, and a trigger that runs it."""
    path = tmp_path / unique("exe")
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path), lambda: subprocess.run([str(path)])


def open_marker(tmp_path):
    path = tmp_path / unique("open")
    path.write_text("x")
    return str(path), lambda: subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL)


# ---- help and usage ----

def test_image_help_lists_verbs():
    r = ig("image", "--help")
    assert r.returncode == 0, r.stderr
    for verb in ("build", "list", "remove", "tag", "inspect", "export", "import", "push", "pull"):
        assert f"  {verb} " in r.stdout, verb
    for verb in ("build", "list", "ls", "remove", "rm", "tag", "inspect", "export", "import"):
        r = ig("image", verb, "--help")
        assert r.returncode == 0, (verb, r.stderr)
        assert r.stdout.startswith("Usage: ig image ") and "--store DIR" in r.stdout, verb


def test_image_usage_errors(tmp_path):
    one_line_error(ig("image", "frobnicate"), "frobnicate")
    r = ig("image", "build", gadget_dir("trace_open"), "--store", str(tmp_path))
    assert r.returncode == 2
    one_line_error(r, "-t")
    one_line_error(ig("image", "list", "--bogus"), "--bogus")
    one_line_error(ig("image", "list", "-o", "xml", "--store", str(tmp_path)), "xml")
    one_line_error(ig("image", "tag", "onlyone", "--store", str(tmp_path)), "missing")
    one_line_error(ig("image", "build", "-t", "x:1", "--arch", "vax", "--store", str(tmp_path)),
                   "vax")


# ---- build and list ----

def test_build_list_shows_digest_and_size(tmp_path):
    store = tmp_path / "store"
    digest = built(gadget_dir("trace_open"), "trace_open:v1", store)
    images = list_json(store)
    assert len(images) == 1
    img = images[0]
    assert img["reference"] == "trace_open:v1"
    assert (img["repository"], img["tag"]) == ("trace_open", "v1")
    assert img["digest"] == digest
    assert img["created"] == EPOCH_ISO
    size = sum(os.path.getsize(blob_path(store, d)) for d in image_blobs(store, digest))
    assert img["size"] == size
    # the program is the ELF clang produced: a BPF object (e_machine 247)
    with open(blob_path(store, program_digest(store, digest)), "rb") as f:
        elf = f.read(20)
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 247

    r = ig("image", "list", "--store", str(store))
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "DIGEST", "CREATED", "SIZE"]
    cols = row.split()
    assert cols[:3] == ["trace_open", "v1", digest[7:19]]
    assert row.rstrip().endswith(f"{size / 1000:.3g}kB")
    r = ig("image", "ls", "--no-trunc", "--store", str(store))
    assert digest in r.stdout


def test_build_is_reproducible(tmp_path):
    a = built(gadget_dir("trace_exec"), "trace_exec:r", tmp_path / "a")
    b = built(gadget_dir("trace_exec"), "trace_exec:r", tmp_path / "b")
    assert a == b
    c = built(gadget_dir("trace_exec"), "trace_exec:r", tmp_path / "c", epoch="1700000001")
    assert c != a
    # only the creation time differs: the program itself is the same
    assert program_digest(tmp_path / "a", a) == program_digest(tmp_path / "c", c)
    assert list_json(tmp_path / "c")[0]["created"] == "2023-11-14T22:13:21Z"


def test_build_error_names_file_and_line(tmp_path):
    src = tmp_path / "broken"
    shutil.copytree(gadget_dir("trace_signal"), src)
    prog = src / "program.bpf.c"
    lines = prog.read_text().splitlines()
    lines.append("static int broken = ;")
    prog.write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    built(gadget_dir("trace_signal"), "keep:v1", store)
    before = snapshot(store)
    r = build(src, "broken:v1", store)
    assert r.returncode == 1
    assert f"program.bpf.c:{len(lines)}:" in r.stderr, r.stderr
    assert "error:" in r.stderr
    assert r.stderr.splitlines()[-1].startswith("ig: error: ")
    assert r.stdout == ""
    assert snapshot(store) == before
    assert [i["reference"] for i in list_json(store)] == ["keep:v1"]


def test_build_bad_gadget_yaml(tmp_path):
    src = tmp_path / "badyaml"
    shutil.copytree(gadget_dir("trace_signal"), src)
    (src / "gadget.yaml").write_text("name: x\ndatasources: [oops\n")
    one_line_error(build(src, "badyaml:v1", tmp_path / "store"), "gadget.yaml")
    assert list_json(tmp_path / "store") == []


def test_build_generates_vmlinux_h_when_none_is_found(tmp_path):
    # an ig with nothing beside it: the API headers given, vmlinux.h generated
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lone_ig = bindir / "ig"
    shutil.copy(IG, lone_ig)
    cache = tmp_path / "cache"
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, IG_CACHE_DIR=str(cache))
    r = subprocess.run([str(lone_ig), "image", "build", gadget_dir("trace_open"), "-t", "t:1",
                        "--store", str(tmp_path / "s1"), "-I", os.path.join(REPO, "bpf/include")],
                       capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, r.stderr
    headers = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs]
    assert [os.path.basename(h) for h in headers] == ["vmlinux.h"]
    assert "struct task_struct {" in open(headers[0]).read()
    # the generated header is the same one the build tree uses: same image
    assert r.stdout.strip() == built(gadget_dir("trace_open"), "t:1", tmp_path / "s2")

    r = subprocess.run([str(lone_ig), "image", "build", gadget_dir("trace_open"), "-t", "t:1",
                        "--store", str(tmp_path / "s3")],
                       capture_output=True, text=True, env=env, timeout=60)
    one_line_error(r, "gadget/macros.h", "--include-dir")


def test_parallel_builds_into_one_store(tmp_path):
    store = tmp_path / "store"
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    jobs = [("trace_open", "par/open:v1"), ("trace_exec", "par/exec:v1"),
            ("trace_open", "par/open:v2")]
    procs = [subprocess.Popen([IG, "image", "build", gadget_dir(g), "-t", ref, "--store",
                               str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for g, ref in jobs]
    digests = {}
    for (g, ref), p in zip(jobs, procs):
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        digests[ref] = out.strip()
    assert digests["par/open:v1"] == digests["par/open:v2"]
    listed = {i["reference"]: i["digest"] for i in list_json(store)}
    assert listed == digests
    assert_store_consistent(store)
    for ref in digests:
        r = ig("image", "inspect", ref, "--store", str(store))
        assert r.returncode == 0, r.stderr


# ---- tag, inspect, remove, export, import ----

def test_roundtrip_tag_inspect_export_remove_import_run(tmp_path, ig_run):
    store = tmp_path / "store"
    digest = built(IG_API_GADGET, "roundtrip:v1", store)
    r = ig("image", "tag", "roundtrip:v1", "localhost:5000/team/roundtrip:v2", "--store",
           str(store))
    assert r.returncode == 0, r.stderr
    listed = {i["reference"]: i["digest"] for i in list_json(store)}
    assert listed == {"roundtrip:v1": digest, "localhost:5000/team/roundtrip:v2": digest}

    r = ig("image", "inspect", "roundtrip:v1", "--store", str(store))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["reference"] == "roundtrip:v1"
    assert info["digest"] == digest
    assert info["architecture"] == HOST_ARCH
    assert info["created"] == EPOCH_ISO
    assert info["index"]["manifests"][0]["digest"] == info["manifestDigest"]
    assert info["manifest"]["config"]["mediaType"] == CONFIG_TYPE
    assert [l["mediaType"] for l in info["manifest"]["layers"]] == [PROGRAM_TYPE]
    with open(os.path.join(IG_API_GADGET, "gadget.yaml")) as f:
        assert info["metadata"] == yaml.safe_load(f)
    r = ig("image", "inspect", "roundtrip:v1", "--store", str(store), "-o", "yaml")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout) == info

    tarball = tmp_path / "images.tar"
    r = ig("image", "export", "roundtrip:v1", "localhost:5000/team/roundtrip:v2", str(tarball),
           "--store", str(store))
    assert r.returncode == 0, r.stderr
    with tarfile.open(tarball) as t:
        names = t.getnames()
    assert "oci-layout" in names and "index.json" in names

    r = ig("image", "rm", "roundtrip:v1", "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert [i["reference"] for i in list_json(store)] == ["localhost:5000/team/roundtrip:v2"]
    r = ig("image", "remove", "localhost:5000/team/roundtrip:v2", "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert list_json(store) == []
    assert os.listdir(os.path.join(str(store), "blobs", "sha256")) == []
    one_line_error(ig("image", "remove", "roundtrip:v1", "--store", str(store)), "roundtrip:v1")

    fresh = tmp_path / "fresh"
    r = ig("image", "import", str(tarball), "--store", str(fresh))
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["localhost:5000/team/roundtrip:v2", "roundtrip:v1"]
    assert {i["digest"] for i in list_json(fresh)} == {digest}
    assert_store_consistent(fresh)

    path, trigger = exec_marker(tmp_path)
    run = ig_run("roundtrip:v1", "--store", str(fresh), "-o", "json")
    rec = run.wait_for(lambda recs: next((x for x in recs if x.get("filename") == path), None),
                       trigger)
    assert rec["uid"] == 0 and rec["user"] == "root"
    assert rec["mntns_id"] == os.stat("/proc/self/ns/mnt").st_ino
    assert run.stop() == 0


def test_tag_and_inspect_missing_image(tmp_path):
    store = tmp_path / "store"
    one_line_error(ig("image", "tag", "nothere:v1", "x:v1", "--store", str(store)),
                   "nothere:v1", "not in the store")
    one_line_error(ig("image", "inspect", "nothere:v1", "--store", str(store)), "nothere:v1")
    one_line_error(ig("image", "export", "nothere:v1", str(tmp_path / "x.tar"), "--store",
                      str(store)), "nothere:v1")
    assert not os.path.exists(tmp_path / "x.tar")


def test_import_damaged_tarball_leaves_store_unchanged(tmp_path):
    src = tmp_path / "src"
    built(gadget_dir("trace_signal"), "sig:v1", src)
    tarball = tmp_path / "sig.tar"
    assert ig("image", "export", "sig:v1", str(tarball), "--store", str(src)).returncode == 0

    store = tmp_path / "store"
    built(gadget_dir("trace_open"), "open:v1", store)
    before = snapshot(store)

    # one blob's content changed, same size: only its digest can tell
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(tarball) as tin, tarfile.open(damaged, "w") as tout:
        hit = False
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None
            if data and m.name.startswith("blobs/sha256/") and m.size > 1000 and not hit:
                data = data[:500] + bytes([data[500] ^ 0xff]) + data[501:]
                hit = True
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    assert hit
    one_line_error(ig("image", "import", str(damaged), "--store", str(store)))
    assert snapshot(store) == before

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(tarball.read_bytes()[: os.path.getsize(tarball) // 2])
    one_line_error(ig("image", "import", str(truncated), "--store", str(store)))
    assert snapshot(store) == before

    r = ig("image", "import", str(tarball), "--store", str(store))
    assert r.returncode == 0 and r.stdout.split() == ["sig:v1"], r.stderr


# ---- ig run REF ----

def test_run_in_tree_gadget_from_build_store(tmp_path, ig_run):
    env = {"IG_OCI_STORE": str(tmp_path / "nostore"), "IG_GADGETS": str(tmp_path)}
    r = ig("run", "trace_open", "--help", env=env)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("Image "))
    assert line.startswith("Image trace_open:latest (sha256:")
    assert line.endswith(os.path.join(REPO, "build", "oci-store"))
    with open(os.path.join(REPO, "build", "oci-stamps", "trace_open")) as f:
        assert f.read().strip() in line

    path, trigger = open_marker(tmp_path)
    run = ig_run("trace_open", "-o", "json", env=env)
    rec = run.wait_for(lambda recs: next((x for x in recs if x.get("fname") == path), None),
                       trigger)
    assert get(rec, "proc.comm") == "cat"
    assert run.stop() == 0


def test_run_local_ref_from_store_env(tmp_path, ig_run):
    store = tmp_path / "store"
    built(gadget_dir("trace_exec"), "mine/trace_exec:t1", store)
    path, trigger = exec_marker(tmp_path)
    run = ig_run("mine/trace_exec:t1", "-o", "json", env={"IG_OCI_STORE": str(store)})
    rec = run.wait_for(lambda recs: next(
        (x for x in recs if (x.get("args") or "").endswith(" " + path)), None), trigger)
    assert get(rec, "proc.comm") == os.path.basename(path)[:15]
    assert run.stop() == 0
    # a tag that is not there is not silently replaced by another one
    r = ig("run", "mine/trace_exec:t2", env={"IG_OCI_STORE": str(store)})
    one_line_error(r, "mine/trace_exec:t2", str(store))


def test_run_digest_reference(tmp_path):
    store = tmp_path / "store"
    digest = built(gadget_dir("trace_signal"), "localhost:5000/sig:v1", store)
    r = ig("run", f"localhost:5000/sig@{digest}", "--store", str(store), "--pull", "never",
           "-o", "json", "-t", "300ms")
    assert r.returncode == 0, r.stderr


def test_run_corrupt_blob_fails_clearly(tmp_path):
    store = tmp_path / "store"
    digest = built(gadget_dir("trace_open"), "corrupt:v1", store)
    prog = program_digest(store, digest)
    p = blob_path(store, prog)
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0xff
    os.chmod(p, 0o644)
    with open(p, "wb") as f:
        f.write(data)
    line = one_line_error(ig("run", "corrupt:v1", "--store", str(store), "-t", "1"),
                          prog, "corrupt")
    assert str(store) in line
    one_line_error(ig("image", "inspect", "corrupt:v1", "--store", str(store)), "corrupt")


def test_run_image_for_another_arch(tmp_path):
    other = "arm64" if HOST_ARCH != "arm64" else "amd64"
    store = tmp_path / "store"
    built(gadget_dir("trace_signal"), "foreign:v1", store, extra=("--arch", other))
    one_line_error(ig("run", "foreign:v1", "--store", str(store), "-t", "1"),
                   f"no manifest for linux/{HOST_ARCH}", f"linux/{other}")
    r = ig("image", "inspect", "foreign:v1", "--arch", other, "--store", str(store))
    assert r.returncode == 0 and json.loads(r.stdout)["architecture"] == other


def test_run_pull_never_missing_image(tmp_path):
    one_line_error(ig("run", "localhost:5000/nothere:v1", "--pull", "never", "--store",
                      str(tmp_path / "none"), "-t", "1"),
                   "localhost:5000/nothere:v1", "--pull=never")
    assert not os.path.exists(tmp_path / "none")
    store = tmp_path / "store"
    built(gadget_dir("trace_signal"), "other:v1", store)
    one_line_error(ig("run", "localhost:5000/nothere:v1", "--pull=never", "--store", str(store),
                      "-t", "1"), "localhost:5000/nothere:v1", str(store), "--pull=never")
    one_line_error(ig("run", "trace_open", "--pull", "sometimes", "-t", "1"), "sometimes")


def test_unknown_gadget_lists_what_was_tried(tmp_path):
    store = tmp_path / "store"
    built(gadget_dir("trace_signal"), "other:v1", store)
    line = one_line_error(ig("run", "no_such_gadget_q", "--store", str(store)),
                          "no_such_gadget_q:latest")
    for place in (str(store), os.path.join(REPO, "build", "oci-store"),
                  os.path.join(REPO, "build", "gadgets", "no_such_gadget_q")):
        assert place in line, place
