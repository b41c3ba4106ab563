# SPDX-License-Identifier: Apache-2.0
"""ig loads libcurl and libarchive only when a command needs them.

ig is not linked with either library (their dependencies cost every start);
base/curl.c and base/archive.c load them with dlopen() on first use.  These
tests hide both libraries from ig in a private mount namespace (an overlay
over the library directory in which their files are deleted, as if the
packages were not installed) and check what a user sees: a cached gadget
still runs, and the commands that need a library fail with one line naming
the package to install, leaving the store as it was."""

import glob
import json
import os
import subprocess
import time

import pytest

from conftest import IG, REPO, get, ig, unique

CURL_MSG = "libcurl.so.4 not found: install libcurl4"
ARCHIVE_MSG = "libarchive.so.13 not found: install libarchive13"

# Deletes the libraries inside an overlay of their directory, checks they are
# gone, then runs the command given after the script.
HIDE = """set -e
mount -t overlay overlay -o "lowerdir=$LIBDIR,upperdir=$OVL/upper,workdir=$OVL/work" "$LIBDIR"
rm -f "$LIBDIR"/libcurl.so* "$LIBDIR"/libarchive.so*
test ! -e "$LIBDIR/libcurl.so.4" && test ! -e "$LIBDIR/libarchive.so.13"
exec "$@"
"""


def lib_dir():
    found = glob.glob("/usr/lib/*/libcurl.so.4")
    assert found, "libcurl4 is not installed here"
    return os.path.dirname(os.path.realpath(found[0]))


def hidden(tmp_path, *args, timeout=60, popen=False):
    """ig with args, run where libcurl and libarchive cannot be found."""
    ovl = tmp_path / unique("ovl")
    (ovl / "upper").mkdir(parents=True)
    (ovl / "work").mkdir()
    env = dict(os.environ, LIBDIR=lib_dir(), OVL=str(ovl),
               IG_GADGETS=os.path.join(REPO, "build", "gadgets"))
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", HIDE, "sh", IG] + list(args)
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def one_error_line(r):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store holding trace_open, built (with both libraries present)."""
    d = str(tmp_path_factory.mktemp("store"))
    r = ig("image", "build", os.path.join(REPO, "gadgets", "trace_open"), "-t", "trace_open:v1",
           "--store", d, timeout=180)
    assert r.returncode == 0, r.stderr
    return d


def listing(store):
    r = ig("image", "list", "--store", store)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_ig_does_not_link_them():
    out = subprocess.run(["readelf", "-d", IG], capture_output=True, text=True, check=True).stdout
    needed = [l for l in out.splitlines() if "(NEEDED)" in l]
    assert needed, out
    assert not [l for l in needed if "libcurl" in l or "libarchive" in l], needed


def test_cached_gadget_runs_without_them(tmp_path):
    path = tmp_path / unique("open")
    path.write_text("x")
    p = hidden(tmp_path, "run", "trace_open", "-o", "json", "--timeout", "4", popen=True)
    # open the file until ig has had time to attach and report it
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and p.poll() is None:
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL)
        time.sleep(0.1)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert any(r.get("fname") == str(path) and get(r, "proc.comm") == "cat" for r in recs), \
        out[-2000:] + err


def test_pull_names_the_missing_library(tmp_path, store):
    before = listing(store)
    r = hidden(tmp_path, "image", "pull", "localhost:1/x:v1", "--store", store,
               "--insecure-registries", "localhost:1")
    line = one_error_line(r)
    assert CURL_MSG in line and "localhost:1" in line, line
    assert listing(store) == before


def test_export_and_import_name_the_missing_library(tmp_path, store):
    tar = str(tmp_path / "trace_open.tar")
    r = hidden(tmp_path, "image", "export", "trace_open:v1", tar, "--store", store)
    assert ARCHIVE_MSG in one_error_line(r)
    assert not os.path.exists(tar)
    assert not [n for n in os.listdir(tmp_path) if n.startswith("trace_open.tar")]

    # the same tarball, exported with libarchive there, is refused without it
    r = ig("image", "export", "trace_open:v1", tar, "--store", store)
    assert r.returncode == 0, r.stderr
    other = str(tmp_path / "other")
    before = listing(other)
    r = hidden(tmp_path, "image", "import", tar, "--store", other)
    assert ARCHIVE_MSG in one_error_line(r)
    assert listing(other) == before
    r = ig("image", "import", tar, "--store", other)
    assert r.returncode == 0, r.stderr
    assert "trace_open" in listing(other)
