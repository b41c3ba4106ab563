# SPDX-License-Identifier: Apache-2.0
"""make install, libig as a user builds against it, and the release artefacts.

- `make install DESTDIR=...` lays out the binaries, libig (shared, static,
  headers, ig.pc), the in-tree gadget store and the docs; `make uninstall`
  takes exactly that away again.
- The example programs are compiled from the installed docs against the
  installed header and ig.pc only (pkg-config with the DESTDIR as sysroot),
  and run against the real kernel.
- The installed ig runs a gadget with no build directory behind it.
- Debian's hardening flags (dpkg-buildflags) reach every object of a build
  made with them, which builds with -Werror.
- The project's version is the one of the chart, the manifests, the binaries
  and the library.
- The agent image is pushed to a real docker-registry with ig's registry
  client (make agent-image-push) and read back by skopeo with the same
  digests; make krew's archive is what its manifest says.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import uuid

import pytest
import yaml

import registry
from conftest import IG, REPO

PREFIX = "/usr/local"
with open(os.path.join(REPO, "VERSION")) as _f:
    VERSION = _f.read().strip()


def make(*args, env=None, timeout=1200):
    e = dict(os.environ, **(env or {}))
    r = subprocess.run(["make", "-C", REPO, *args], capture_output=True, text=True,
                       timeout=timeout, env=e)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def installed():
    dest = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    dest = os.path.join(dest, f"ig-destdir-{uuid.uuid4().hex[:8]}")
    make("install", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


def under(dest, *parts):
    return os.path.join(dest + PREFIX, *parts)


def clean_env(dest):
    """An environment that points at nothing of the build tree."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IG_") and not k.startswith("PKG_CONFIG")}
    env["IG_OCI_STORE"] = os.path.join(dest, "no-store")
    return env


# ---------------------------------------------------------------- the layout


def test_install_layout(installed):
    d = installed
    for name in ("ig", "gadget-agent", "kubectl-gadget"):
        st = os.stat(under(d, "bin", name))
        assert st.st_mode & 0o777 == 0o755, name
    real = under(d, "lib", f"libig.so.{VERSION}")
    assert os.path.isfile(real)
    assert os.readlink(under(d, "lib", "libig.so.0")) == f"libig.so.{VERSION}"
    assert os.readlink(under(d, "lib", "libig.so")) == "libig.so.0"
    assert os.path.isfile(under(d, "lib", "libig.a"))
    for h in ("ig.h", "gadget.h", "record.h"):
        assert os.path.isfile(under(d, "include", "ig", h))
    pc = open(under(d, "lib", "pkgconfig", "ig.pc")).read()
    assert f"prefix={PREFIX}\n" in pc and f"Version: {VERSION}\n" in pc
    assert REPO not in pc
    # the shared library's soname, and only ig_* symbols, versioned
    dyn = subprocess.run(["readelf", "-d", real], capture_output=True, text=True).stdout
    assert "Library soname: [libig.so.0]" in dyn
    syms = subprocess.run(["nm", "-D", "--defined-only", real], capture_output=True,
                          text=True).stdout.split("\n")
    names = [ln.split()[-1] for ln in syms if ln.strip()]
    assert "ig_gadget_open@@LIBIG_0.1" in names and "ig_record_get_str@@LIBIG_0.1" in names
    assert all(n.startswith("ig_") or n == "LIBIG_0.1" for n in names), \
        [n for n in names if not n.startswith("ig_")][:10]
    # the in-tree gadgets, as a store
    assert os.path.isfile(under(d, "lib", "ig", "oci-store", "oci-layout"))
    assert os.path.isfile(under(d, "share", "doc", "ig", "library.md"))
    assert os.path.isfile(under(d, "share", "doc", "ig", "examples", "trace.c"))
    # man pages and completions only when the build made them
    man = os.path.join(REPO, "build", "man")
    if os.path.isdir(man):
        for f in os.listdir(man):
            sec = f.rsplit(".", 1)[-1]
            if sec.isdigit():
                assert os.path.isfile(under(d, "share", "man", f"man{sec}", f))
    # every installed file is listed, and nothing else
    listed = open(under(d, "lib", "ig", "installed-files")).read().split()
    found = []
    for root, _, files in os.walk(d):
        for f in files:
            found.append(os.path.join(root, f)[len(d):])
    assert sorted(found) == sorted(listed)


def test_uninstall_removes_what_install_put(tmp_path):
    dest = str(tmp_path / "dest")
    make("install", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    # something of the user's beside it stays
    mine = under(dest, "lib", "mine.so")
    open(mine, "w").close()
    make("uninstall", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    left = []
    for root, _, files in os.walk(dest):
        left += [os.path.join(root, f) for f in files]
    assert left == [mine]
    assert not os.path.exists(under(dest, "include", "ig"))
    assert not os.path.exists(under(dest, "lib", "ig"))


def test_install_takes_man_pages_and_completions_the_build_made(tmp_path):
    """What another part of the build writes to build/man and build/completion
    is installed (a build directory of its own stands for it here)."""
    build = tmp_path / "build"
    (build / "bin").mkdir(parents=True)
    for f in ("libig.a", f"libig.so.{VERSION}", "ig.pc"):
        shutil.copy(os.path.join(REPO, "build", f), build / f)
    shutil.copy(IG, build / "bin" / "ig")
    (build / "man" / "man1").mkdir(parents=True)
    (build / "man" / "man1" / "ig.1").write_text(".TH IG 1\n")
    (build / "man" / "ig-daemon.8").write_text(".TH IG-DAEMON 8\n")
    (build / "completion" / "zsh").mkdir(parents=True)
    (build / "completion" / "ig.bash").write_text("complete -F _ig ig\n")
    (build / "completion" / "zsh" / "_ig").write_text("#compdef ig\n")
    (build / "completion" / "kubectl-gadget.fish").write_text("complete -c kubectl-gadget\n")
    dest = str(tmp_path / "dest")
    share = f"{PREFIX}/share"
    args = [dest, str(build), f"{PREFIX}/bin", f"{PREFIX}/lib", f"{PREFIX}/include",
            f"{share}/man", f"{share}/doc/ig", f"{PREFIX}/lib/ig",
            f"{share}/bash-completion/completions", f"{share}/zsh/vendor-completions",
            f"{share}/fish/vendor_completions.d", f"libig.so.{VERSION}", "libig.so.0"]
    subprocess.run([os.path.join(REPO, "scripts", "install.sh"), "install", *args], cwd=REPO,
                   check=True, capture_output=True)
    for path in ("man/man1/ig.1", "man/man8/ig-daemon.8", "bash-completion/completions/ig",
                 "zsh/vendor-completions/_ig",
                 "fish/vendor_completions.d/kubectl-gadget.fish"):
        assert os.path.isfile(under(dest, "share", path)), path
    subprocess.run([os.path.join(REPO, "scripts", "install.sh"), "uninstall", *args],
                   cwd=REPO, check=True, capture_output=True)
    assert not [f for _, _, fs in os.walk(dest) for f in fs]


# ---------------------------------------------------------------- libig


def pkg_config(dest, *args):
    env = {"PKG_CONFIG_SYSROOT_DIR": dest,
           "PKG_CONFIG_LIBDIR": under(dest, "lib", "pkgconfig"),
           "PATH": os.environ["PATH"]}
    r = subprocess.run(["pkg-config", *args, "ig"], capture_output=True, text=True, env=env,
                       check=True)
    return r.stdout.split()


def build_example(dest, name, out):
    src = under(dest, "share", "doc", "ig", "examples", f"{name}.c")
    flags = pkg_config(dest, "--cflags", "--libs")
    assert not [f for f in flags if REPO in f], flags
    r = subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", src, *flags, "-o", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


class Proc:
    """A program in the background whose output is collected by threads."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd="/", start_new_session=True)
        self.out, self.err = [], []
        self.t = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out)),
                  threading.Thread(target=self._pump, args=(self.p.stderr, self.err))]
        for t in self.t:
            t.start()

    @staticmethod
    def _pump(f, dst):
        for line in f:
            dst.append(line.rstrip("\n"))

    def until(self, text, trigger, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.p.poll() is None:
            found = [ln for ln in list(self.out) if text in ln]
            if found:
                return found[0]
            trigger()
            time.sleep(0.3)
        return None

    def finish(self, sig=signal.SIGINT, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        for t in self.t:
            t.join(5)
        return self.p.returncode


def run_lib(dest, argv):
    env = clean_env(dest)
    env["LD_LIBRARY_PATH"] = under(dest, "lib")
    return Proc(argv, env)


def test_trace_example_from_the_installed_library(installed, tmp_path):
    prog = build_example(installed, "trace", str(tmp_path / "trace"))
    ldd = subprocess.run(["ldd", prog], capture_output=True, text=True,
                         env={"LD_LIBRARY_PATH": under(installed, "lib")}).stdout
    assert under(installed, "lib", "libig.so.0") in ldd
    cat = str(tmp_path / f"c{uuid.uuid4().hex[:8]}")
    shutil.copy("/bin/cat", cat)
    target = str(tmp_path / "hello")
    open(target, "w").write("hi\n")
    p = run_lib(installed, [prog, "trace_open", "0", f"proc.comm=={os.path.basename(cat)}"])
    try:
        line = p.until(target, lambda: subprocess.run([cat, target], capture_output=True))
    finally:
        rc = p.finish()
    err = "\n".join(p.err)
    assert line, "\n".join(p.out[-10:]) + err
    assert rc == 0, err
    ds, comm, pid, js = line.split(None, 3)
    assert ds == "open" and comm == os.path.basename(cat)
    rec = json.loads(js)
    assert rec["fname"] == target and rec["proc"]["pid"] == int(pid)
    # the library printed nothing of its own: stderr has the example's lines only
    assert all(ln.startswith("trace:") for ln in err.splitlines()), err


def test_top_example_reads_a_map_iterator(installed, tmp_path):
    prog = build_example(installed, "top", str(tmp_path / "top"))
    target = str(tmp_path / f"w{uuid.uuid4().hex[:8]}")
    p = run_lib(installed, [prog, "top_file", "3", "-wbytes_raw"])
    with open(target, "w") as f:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and p.p.poll() is None:
            f.write("x" * 4096)
            f.flush()
            time.sleep(0.05)
    try:
        p.p.wait(60)
    finally:
        rc = p.finish()
    assert rc == 0, p.err
    lines = p.out
    assert lines[0].startswith("top_file: data source file, fields:")
    assert "--- fetch 1" in lines
    row = next(ln for ln in lines if f"file={target}" in ln)
    assert " writes=" in row and " wbytes=" in row


def test_the_first_example_of_library_md_builds_and_runs(installed, tmp_path):
    """A new user's first program: copied from the installed docs, built with
    pkg-config, run as root against the kernel."""
    doc = open(under(installed, "share", "doc", "ig", "library.md")).read()
    code = doc.split("```c\n", 1)[1].split("```", 1)[0]
    src = tmp_path / "opens.c"
    src.write_text(code)
    out = str(tmp_path / "opens")
    r = subprocess.run(["cc", str(src), *pkg_config(installed, "--cflags", "--libs"), "-o", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    target = str(tmp_path / f"doc{uuid.uuid4().hex[:8]}")
    open(target, "w").close()
    p = run_lib(installed, [out])
    try:
        line = p.until(target, lambda: subprocess.run(["cat", target], capture_output=True))
    finally:
        p.finish()
    assert line == f"cat opened {target}", (p.out[-5:], p.err)


# ---------------------------------------------------------------- ig installed


def test_installed_ig_runs_a_gadget_without_the_build_tree(installed, tmp_path):
    ig = under(installed, "bin", "ig")
    env = clean_env(installed)
    r = subprocess.run([ig, "run", "trace_open", "--help"], capture_output=True, text=True,
                       env=env, cwd="/")
    assert r.returncode == 0, r.stderr
    assert under(installed, "lib", "ig", "oci-store") in r.stdout
    assert os.path.join(REPO, "build") not in r.stdout
    target = str(tmp_path / f"o{uuid.uuid4().hex[:8]}")
    open(target, "w").close()
    p = Proc([ig, "run", "trace_open", "-o", "json", "-F", f"fname=={target}"], env)
    try:
        line = p.until(target, lambda: open(target).close())
    finally:
        rc = p.finish()
    assert line, p.err
    assert json.loads(line)["fname"] == target
    assert rc == 0, p.err


# ---------------------------------------------------------------- build flags


def test_debian_hardening_flags_reach_every_object():
    flags = subprocess.run(["dpkg-buildflags", "--export=sh"], capture_output=True, text=True,
                           check=True, env=dict(os.environ,
                                                DEB_BUILD_MAINT_OPTIONS="hardening=+all")).stdout
    env = {}
    for ln in flags.splitlines():
        k, v = ln[len("export "):].split("=", 1)
        env[k] = v.strip('"')
    assert "-fstack-protector-strong" in env["CFLAGS"] and "_FORTIFY_SOURCE" in env["CPPFLAGS"]
    build = "build/hardening"
    # with -Werror, as a checkout builds
    make(f"BUILD={build}", "WERROR=1", "libig", f"{build}/bin/ig", f"{build}/bin/gadget-agent",
         f"{build}/bin/kubectl-gadget", env=env)
    objs = []
    for root, _, files in os.walk(os.path.join(REPO, build, "obj")):
        objs += [os.path.join(root, f) for f in files if f.endswith(".o")]
    assert len(objs) > 50
    for o in objs:
        info = subprocess.run(["readelf", "--debug-dump=info", o], capture_output=True,
                              text=True).stdout
        producer = next(ln for ln in info.splitlines() if "DW_AT_producer" in ln)
        assert "-fstack-protector-strong" in producer and "-O2" in producer, (o, producer)
    for b in ("bin/ig", "bin/gadget-agent", "bin/kubectl-gadget", "libig.so"):
        path = os.path.join(REPO, build, b)
        dyn = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
        assert "BIND_NOW" in dyn, b
        seg = subprocess.run(["readelf", "-l", path], capture_output=True, text=True).stdout
        assert "GNU_RELRO" in seg, b
        syms = subprocess.run(["nm", "-D", path], capture_output=True, text=True).stdout
        assert "__stack_chk_fail" in syms, b
        # _FORTIFY_SOURCE: checked variants of the string and stdio functions
        assert any("_chk@" in s for s in syms.split()), b


def test_warnings_are_errors_only_where_asked():
    r = subprocess.run(["make", "-C", REPO, "-n", "WERROR=0", "-B", "build/obj/base/buf.o"],
                       capture_output=True, text=True)
    line = next(ln for ln in r.stdout.splitlines() if "base/buf.c" in ln)
    assert "-Werror " not in line + " " and "-Wall" in line
    r = subprocess.run(["make", "-C", REPO, "-n", "WERROR=1", "-B", "build/obj/base/buf.o"],
                       capture_output=True, text=True)
    line = next(ln for ln in r.stdout.splitlines() if "base/buf.c" in ln)
    assert "-Werror " in line
    r = subprocess.run(["make", "-C", REPO, "-n", "-B", "CPPFLAGS=-DMARK_CPP", "CFLAGS=-O1",
                        "LDFLAGS=-Wl,-z,mark", "build/obj/base/buf.o", "build/bin/ig"],
                       capture_output=True, text=True)
    cc = next(ln for ln in r.stdout.splitlines() if "base/buf.c" in ln)
    assert "-DMARK_CPP" in cc and "-O1" in cc
    ld = next(ln for ln in r.stdout.splitlines() if "-o build/bin/ig" in ln)
    assert "-Wl,-z,mark" in ld


# ---------------------------------------------------------------- versions


def test_one_version_everywhere(installed):
    chart = yaml.safe_load(open(os.path.join(REPO, "charts", "gadget", "Chart.yaml")))
    assert chart["appVersion"] == VERSION
    helm = os.environ.get("HELM", os.path.join(REPO, "build", "tools", "bin", "helm"))
    if os.path.exists(helm):
        out = subprocess.run([helm, "template", "gadget", os.path.join(REPO, "charts", "gadget")],
                             capture_output=True, text=True, check=True).stdout
        ds = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "DaemonSet")
        assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == \
            f"gadget-agent:{VERSION}"
    for d in yaml.safe_load_all(open(os.path.join(REPO, "deploy", "30-daemonset.yaml"))):
        if d and d["kind"] == "DaemonSet":
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == \
                f"gadget-agent:{VERSION}"
    r = subprocess.run([IG, "version"], capture_output=True, text=True)
    assert r.stdout.startswith(f"ig version {VERSION}")
    hdr = open(os.path.join(REPO, "include", "ig", "ig.h")).read()
    major, minor, patch = VERSION.split(".")
    assert f"#define IG_VERSION_MAJOR {major}\n" in hdr
    assert f"#define IG_VERSION_MINOR {minor}\n" in hdr
    assert f"#define IG_VERSION_PATCH {patch}\n" in hdr


# ---------------------------------------------------------------- agent image, krew


def oci_tar_index(path):
    with tarfile.open(path) as t:
        return json.load(t.extractfile("index.json"))


def test_agent_image_push_and_pull_back_with_skopeo(tmp_path):
    reg = registry.plain()
    try:
        ref = f"{reg.host}/ig/gadget-agent:{VERSION}-test"
        r = make("agent-image-push", f"AGENT_IMAGE_REF={ref}", "AGENT_IMAGE_INSECURE=1")
        assert f"kubectl gadget deploy --image {ref}" in r.stdout
        (m,) = oci_tar_index(os.path.join(REPO, "build", "agent-image.tar"))["manifests"]
        assert m["annotations"]["org.opencontainers.image.ref.name"] == \
            f"docker.io/library/gadget-agent:{VERSION}"
        insp = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
                              capture_output=True, text=True, check=True)
        info = json.loads(insp.stdout)
        assert info["Digest"] == m["digest"]
        assert info["Architecture"] == m["platform"]["architecture"]
        # and back into an OCI layout of skopeo's own: the same manifest
        out = str(tmp_path / "pulled")
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}",
                        f"oci:{out}:x"], capture_output=True, text=True, check=True)
        with open(os.path.join(out, "index.json")) as f:
            (pm,) = json.load(f)["manifests"]
        assert pm["digest"] == m["digest"]
        # without a registry in the reference, it is a usage error
        r = subprocess.run(["make", "-C", REPO, "agent-image-push",
                            "AGENT_IMAGE_REF=gadget-agent:x"], capture_output=True, text=True)
        assert r.returncode != 0 and "names no registry" in r.stderr
    finally:
        reg.stop()


def test_krew_manifest_matches_its_archive():
    make("krew")
    out = os.path.join(REPO, "build", "krew")
    manifest = yaml.safe_load(open(os.path.join(out, "gadget.yaml")))
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "gadget"
    spec = manifest["spec"]
    assert spec["version"] == f"v{VERSION}"
    (plat,) = spec["platforms"]
    assert plat["bin"] == "kubectl-gadget"
    archive = os.path.join(out, os.path.basename(plat["uri"]))
    data = open(archive, "rb").read()
    assert hashlib.sha256(data).hexdigest() == plat["sha256"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as t:
        (member,) = t.getmembers()
        assert member.name == "kubectl-gadget" and member.mode & 0o111
        binary = t.extractfile(member).read()
    assert binary == open(os.path.join(REPO, "build", "bin", "kubectl-gadget"), "rb").read()
    # reproducible: the same binary gives the same archive
    make("krew")
    assert open(archive, "rb").read() == data
