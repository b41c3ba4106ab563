# SPDX-License-Identifier: Apache-2.0
"""Gadgets written for Inspektor Gadget's API behave here as they do there.

The test gadgets in tests/data/catalogue/ are written the way IG's own
gadgets are (params without a gadget.yaml key, defaultValue "" on numbers,
aliases, 200 params, uprobes on a library's short name, kernel and user
stacks, a histogram, a map flushed at stop) and are built with `ig image
build` as a user would.  Each run is checked for what a user would see: the
flags --help lists, the fields of the records the test causes, and one-line
errors for what cannot work.
"""

import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from conftest import REPO, get, ig
from containerd import _blob, _tar_add, containerd  # noqa: F401  (module-scoped fixture)

DATA = os.path.join(REPO, "tests", "data", "catalogue")
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
LDSO = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"

# A program that allocates a size nobody else does, from known functions, and
# opens a marker file with a syscall issued in its innermost function (so that
# the frame chain starts there: Debian's libc keeps no frame pointers).
TEST_PROGRAM = r"""
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
static const char *marker;
__attribute__((noinline)) void ig_stack_leaf(int i)
{
	long ret;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "0"(257L), "D"(-100L), "S"(marker), "d"(0L), "r"(r10)
			 : "rcx", "r11", "memory");
	if (ret >= 0)
		close((int)ret);
}
__attribute__((noinline)) void ig_stack_middle(int i) { ig_stack_leaf(i + 1); }
__attribute__((noinline)) void ig_stack_outer(int i) { ig_stack_middle(i + 1); }
int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	int rounds = argc > 2 ? atoi(argv[2]) : 50;
	marker = argc > 3 ? argv[3] : "/nonexistent";
	for (int i = 0; i < rounds; i++) {
		void *p = malloc(size);
		ig_stack_outer(i);
		free(p);
		usleep(100000);
	}
	return 0;
}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Every test gadget built into one store, as `ig image build` does."""
    s = tmp_path_factory.mktemp("catalogue-store")
    for name in os.listdir(DATA):
        r = ig("image", "build", os.path.join(DATA, name), "-t", f"{name}:test", "--store",
               str(s), timeout=300)
        assert r.returncode == 0, r.stderr
        assert "ig: compiled with " in r.stderr and "clang" in r.stderr, r.stderr
    return str(s)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    d = tmp_path_factory.mktemp("prog")
    src = d / "ig_test_prog.c"
    src.write_text(TEST_PROGRAM)
    exe = d / "ig_test_prog"
    subprocess.run(["cc", "-O0", "-fno-omit-frame-pointer", "-o", str(exe), str(src)],
                   check=True)
    return str(exe)


def run_bg(*args):
    return subprocess.Popen([os.environ.get("IG", os.path.join(REPO, "build", "bin", "ig")),
                             "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def records(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def one_line_error(r, *needles):
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: "), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]


def run_while(store, gadget, args, action, seconds=4):
    """Runs the gadget for `seconds`, calling action() once it is attached."""
    p = run_bg(f"{gadget}:test", "--store", store, "-o", "json", "-t", str(seconds), *args)
    time.sleep(1.2)
    action()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return records(out), err


# ---- params ----

def test_params_named_as_inspektor_gadget_names_them(store):
    r = ig("run", "params:test", "--store", store, "--help")
    assert r.returncode == 0, r.stderr
    params = r.stdout.split("Params of", 1)[1].split("Fields of", 1)[0]
    # the variable's name without a key; gadget.yaml's key; the alias; IG's fixed names
    assert "--target_syscall int" in params
    assert "--signal int" in params and "(default: 7)" in params
    assert "-k, --kill-only bool" in params
    for k in ("--pid", "--tid", "--uid", "--gid", "--comm"):
        assert f"  {k} " in params


def test_params_take_values_by_every_name(store):
    getppid = lambda: os.getppid()  # noqa: E731
    for flag in ("--target_syscall", "--target-syscall"):
        recs, _ = run_while(store, "params", [flag, "110", "-k", "--pid", str(os.getpid())],
                            lambda: [os.getppid() for _ in range(5)], seconds=3)
        assert recs, "no record for getppid"
        assert {r["nr"] for r in recs} == {110}
        # -k (the alias) set kill_only; defaultValue "" left the initializer (7)
        assert all(r["kill_only"] is True and r["target_signal"] == 7 for r in recs)
    del getppid


def test_absurd_param_value_is_one_line(store):
    r = ig("run", "params:test", "--store", store, "--target_syscall", "99999999999999999999",
           "-t", "1")
    one_line_error(r, "--target_syscall", "99999999999999999999", "out of range")
    r = ig("run", "params:test", "--store", store, "-x", "-t", "1")
    one_line_error(r, "unknown option '-x'")


def test_two_hundred_params(store):
    r = ig("run", "params200:test", "--store", store, "--help")
    assert r.returncode == 0, r.stderr
    for n in (0, 64, 65, 199):
        assert f"--p{n} uint" in r.stdout
    recs, _ = run_while(store, "params200", ["--p100", "4242", "--p199=9", "--pid",
                                             str(os.getpid())],
                        lambda: [os.getppid() for _ in range(3)], seconds=3)
    assert recs
    assert all((r["v0"], r["v100"], r["v199"]) == (0, 4242, 9) for r in recs)


# ---- uprobes ----

def test_uprobe_on_libc_short_name_on_the_host(store, program):
    size = 1234577
    p = run_bg("uprobe_malloc:test", "--store", store, "-o", "json", "-t", "5", "--size",
               str(size))
    time.sleep(1.5)
    prog = subprocess.Popen([program, str(size), "10"])
    out, err = p.communicate(timeout=60)
    prog.wait()
    recs = [r for r in records(out) if get(r, "proc.pid") == prog.pid]
    assert len(recs) >= 5, err
    assert all(r["size"] == size and get(r, "proc.comm") == "ig_test_prog" for r in recs)


def test_uprobe_missing_library_or_function_is_one_line(store):
    r = ig("run", "uprobe_nolib:test", "--store", store, "-t", "1")
    one_line_error(r, "libig_no_such_library", "not found", "the host")
    r = ig("run", "uprobe_nosym:test", "--store", store, "-t", "1")
    one_line_error(r, "ig_no_such_function", "libc.so.6", "not found")


def image_with_libc(path, program, name):
    """An OCI image tarball: busybox, and the test program with a libc and
    loader of its own (copies, so other inodes than the host's) and the
    ld.so.cache ldconfig writes for that root."""
    root = os.path.dirname(path) + "/rootfs"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "etc", "lib/x86_64-linux-gnu", "lib64", "tmp", "proc", "sys", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(LIBC, os.path.join(root, "lib/x86_64-linux-gnu/libc.so.6"))
    shutil.copy(LDSO, os.path.join(root, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))
    with open(os.path.join(root, "etc/ld.so.conf"), "w") as f:
        f.write("/lib/x86_64-linux-gnu\n")
    subprocess.run(["ldconfig", "-r", root], check=True)
    layer_io = io.BytesIO()
    with tarfile.open(fileobj=layer_io, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "lib", "lib/x86_64-linux-gnu", "lib64", "tmp", "proc", "sys",
                  "dev"):
            _tar_add(t, d, is_dir=True)
        with open("/bin/busybox", "rb") as f:
            _tar_add(t, "bin/busybox", f.read())
        for a in ("sh", "sleep"):
            _tar_add(t, "bin/" + a, link="busybox")
        with open(program, "rb") as f:
            _tar_add(t, "bin/ig_test_prog", f.read())
        for rel in ("lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                    "etc/ld.so.cache"):
            with open(os.path.join(root, rel), "rb") as f:
                _tar_add(t, rel, f.read(), mode=0o755)
        _tar_add(t, "lib64/ld-linux-x86-64.so.2", link="/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    layer = layer_io.getvalue()
    blobs = {}
    layer_desc = _blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar")
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sleep", "100000"]},
              "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}
    config_desc = _blob(blobs, json.dumps(config).encode(),
                        "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = _blob(blobs, json.dumps(manifest).encode(),
                          "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": name}
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [manifest_desc]}
    with tarfile.open(path, "w") as t:
        _tar_add(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644)
        _tar_add(t, "index.json", json.dumps(index).encode(), 0o644)
        _tar_add(t, "blobs", is_dir=True)
        _tar_add(t, "blobs/sha256", is_dir=True)
        for digest, data in blobs.items():
            _tar_add(t, "blobs/sha256/" + digest.split(":", 1)[1], data, 0o644)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the image copies x86_64 libraries")
def test_uprobe_in_a_container_with_its_own_libc(store, program, containerd):  # noqa: F811
    c = containerd
    image = "localhost/ig-libc-test:latest"
    tarball = os.path.join(c.dir, "libc-image.tar")
    image_with_libc(tarball, program, image)
    r = subprocess.run(["ctr", "--address", c.socket, "-n", "k8s.io", "images", "import",
                        tarball], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    pod = c.run_pod("libc-pod", "libc-ns")
    size = 1234579
    cid = c.create("mallocer", pod, ["/bin/sh", "-c",
                                     f"sleep 2; exec /bin/ig_test_prog {size} 40"], image=image)
    rt = ["--runtimes", "containerd", "--containerd-socketpath", c.socket]
    p = run_bg("uprobe_malloc:test", "--store", store, "-o", "json", "-t", "8", "--size",
               str(size), "-c", "mallocer", *rt)
    time.sleep(1.0)
    c.start_container(cid)
    out, err = p.communicate(timeout=60)
    c.remove_container(cid)
    c.remove_pod(pod)
    assert p.returncode == 0, err
    recs = [r for r in records(out) if r.get("size") == size]
    assert recs, err
    # the container's own libc: enriched as the container, from inside its mntns
    assert all(get(r, "runtime.containerName") == "mallocer" for r in recs)
    assert all(get(r, "proc.comm") == "ig_test_prog" for r in recs)


# ---- stacks ----

def test_user_and_kernel_stacks_named(store, program, tmp_path):
    marker = tmp_path / "ig-stack-marker"
    marker.write_text("")
    holder = {}

    def start():
        holder["p"] = subprocess.Popen([program, "0", "30", str(marker)])

    recs, err = run_while(store, "stacks", ["--collect-ustack", "-F", f"fname=={marker}"],
                          start, seconds=4)
    holder["p"].wait()
    recs = [r for r in recs if get(r, "proc.pid") == holder["p"].pid]
    assert recs, err
    r = recs[-1]
    syms = get(r, "ustack.symbols").split("; ")
    # the innermost frame first, then its callers, as the program calls them
    assert syms[:4] == ["ig_stack_leaf", "ig_stack_middle", "ig_stack_outer", "main"], syms
    addrs = get(r, "ustack.addresses").split("; ")
    assert all(a.startswith("0x") and len(a) == 18 for a in addrs if a), addrs
    assert "do_syscall_64" in r["kstack"], r["kstack"]
    assert isinstance(r["kstack_raw"], int)


def test_stacks_off_by_default_and_hidden_in_columns(store, program, tmp_path):
    marker = tmp_path / "m2"
    marker.write_text("")
    recs, _ = run_while(store, "stacks", ["-F", f"fname=={marker}"],
                        lambda: subprocess.run([program, "0", "3", str(marker)]), seconds=3)
    assert recs and all(get(r, "ustack.symbols") in ("", None) for r in recs)
    r = ig("run", "stacks:test", "--store", store, "--help")
    assert "ustack.symbols" in r.stdout and "[json only]" in r.stdout


# ---- histograms and map iterators ----

def test_histogram_field_not_an_array_is_one_line(store):
    r = ig("run", "hist_bad:test", "--store", store, "-t", "1")
    one_line_error(r, "latency", "gadget_histogram_slot__u32", "not an array")


def test_flush_on_stop_prints_once_at_the_end(store):
    p = run_bg("flush:test", "--store", store, "-t", "3")
    time.sleep(1)
    for _ in range(5):
        os.getppid()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    # paramDefaults map-fetch-interval 0: one table, at the end, not one a second
    assert out.count("CALLS") == 1, out
    rows = [line for line in out.splitlines()[1:] if line.strip()]
    assert rows, out


def test_flush_interval_given_by_the_user_wins(store):
    p = run_bg("flush:test", "--store", store, "-t", "3", "--map-fetch-interval", "1s")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert out.count("CALLS") >= 3, out


# ---- the image builder ----

def test_build_warns_about_a_wasm_module(tmp_path):
    src = tmp_path / "withwasm"
    shutil.copytree(os.path.join(DATA, "params"), src)
    (src / "build.yaml").write_text("wasm: go/program.go\n")
    r = ig("image", "build", str(src), "-t", "w:1", "--store", str(tmp_path / "s"),
           timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wasm module go/program.go is not built" in r.stderr
    assert r.stdout.strip().startswith("sha256:")
