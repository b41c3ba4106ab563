#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the gadget agent's container image from a dynamically linked binary.

The result is an OCI image layout written as one tarball, which
`ctr -n k8s.io images import FILE` (and skopeo, podman) accept, so a node or
a test's containerd gets the image without a registry.  The image has one
layer holding only what the binary needs to run:

  /usr/bin/<name>                    the binary (the image's entrypoint)
  <every library ldd reports>        at the path ldd reports, symlinks resolved
  <each --dlopen library>            and every library it needs: the agent loads
                                     libcurl and libarchive with dlopen(),
                                     which ldd of the binary cannot see
  <the ELF interpreter>              e.g. /lib64/ld-linux-x86-64.so.2
  /etc/passwd, /etc/group            root and nobody
  /etc/nsswitch.conf                 files, then DNS
  /etc/ssl/certs/ca-certificates.crt the host's CA bundle (registries, API server)
  /tmp                               mode 1777

No distribution base image: every byte comes from this host, so the image
runs exactly the libraries the binary was linked and tested against.

The output is reproducible: entries are sorted, owned by root, stamped with
SOURCE_DATE_EPOCH (default 0), and gzip'd without a name or time, so the same
inputs give the same digests.

    scripts/agent-image.py --binary build/bin/gadget-agent \\
        --name gadget-agent:latest --out build/agent-image.tar
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile

# Bounds on what comes from the host: a binary linked against more than this
# many libraries, or files larger than this, mean something is wrong.
MAX_LIBRARIES = 512
MAX_FILE_BYTES = 1 << 30
LDD_TIMEOUT_SECONDS = 60
DEFAULT_NAME = "gadget-agent:latest"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

# ELF e_machine -> OCI architecture
ELF_ARCH = {3: "386", 40: "arm", 62: "amd64", 183: "arm64", 243: "riscv64", 21: "ppc64le",
            22: "s390x"}
PT_INTERP = 3


class ImageError(Exception):
    pass


def read_file(path):
    try:
        st = os.stat(path)
        if st.st_size > MAX_FILE_BYTES:
            raise ImageError(f"{path}: {st.st_size} bytes, more than {MAX_FILE_BYTES}")
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1), st.st_mode & 0o7777
    except OSError as e:
        raise ImageError(f"{path}: {e.strerror}") from None


def elf_info(data, path):
    """(architecture, interpreter path or None) from the ELF headers."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ImageError(f"{path}: not an ELF executable")
    cls, endian = data[4], data[5]
    if cls not in (1, 2) or endian not in (1, 2):
        raise ImageError(f"{path}: unknown ELF class or byte order")
    e = "<" if endian == 1 else ">"
    machine = struct.unpack_from(e + "H", data, 18)[0]
    if cls == 2:
        phoff = struct.unpack_from(e + "Q", data, 32)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", data, 54)
    else:
        phoff = struct.unpack_from(e + "I", data, 28)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", data, 42)
    interp = None
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + phentsize > len(data):
            raise ImageError(f"{path}: truncated ELF program headers")
        p_type = struct.unpack_from(e + "I", data, off)[0]
        if p_type != PT_INTERP:
            continue
        if cls == 2:
            p_offset = struct.unpack_from(e + "Q", data, off + 8)[0]
            p_filesz = struct.unpack_from(e + "Q", data, off + 32)[0]
        else:
            p_offset = struct.unpack_from(e + "I", data, off + 4)[0]
            p_filesz = struct.unpack_from(e + "I", data, off + 16)[0]
        raw = data[p_offset:p_offset + p_filesz]
        interp = raw.split(b"\0", 1)[0].decode(errors="replace")
    arch = ELF_ARCH.get(machine)
    if arch is None:
        raise ImageError(f"{path}: unsupported ELF machine {machine}")
    return arch, interp


LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(0x[0-9a-f]+\)\s*$")
LDD_PLAIN = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


def libraries(binary):
    """Absolute paths of the shared objects the loader maps for binary."""
    env = dict(os.environ, LC_ALL="C")
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("LD_PRELOAD", None)
    try:
        r = subprocess.run(["ldd", binary], capture_output=True, text=True, env=env,
                           timeout=LDD_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ImageError(f"ldd {binary}: {e}") from None
    out = r.stdout + r.stderr
    if "not a dynamic executable" in out or "statically linked" in out:
        return []
    if r.returncode != 0:
        raise ImageError(f"ldd {binary} failed: {out.strip()}")
    libs = []
    missing = []
    for line in r.stdout.splitlines():
        m = LDD_LINE.match(line)
        if m:
            libs.append(m.group(2))
            continue
        m = LDD_PLAIN.match(line)
        if m:
            libs.append(m.group(1))
            continue
        if "=> not found" in line:
            missing.append(line.split()[0])
        # anything else (the vDSO) has no file
    if missing:
        raise ImageError(f"{binary}: libraries not found: {', '.join(missing)}")
    if len(libs) > MAX_LIBRARIES:
        raise ImageError(f"{binary}: {len(libs)} libraries, more than {MAX_LIBRARIES}")
    return sorted(set(libs))


def normalize_name(name):
    """The full reference a kubelet pulls for `name`: Docker Hub's implicit
    docker.io/library/ prefix and :latest tag made explicit, because
    containerd stores and finds images by their full name."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", name.lower()) or name != name.strip():
        raise ImageError(f"invalid image name {name!r}")
    rest = name
    first, sep, tail = rest.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        rest = ("library/" + rest) if not sep else rest
        rest = "docker.io/" + rest
    last = rest.rsplit("/", 1)[1]
    if ":" not in last and "@" not in last:
        rest += ":latest"
    return rest


class Layer:
    """A deterministic tar: entries sorted by path, parents first."""

    def __init__(self, mtime):
        self.mtime = mtime
        self.files = {}  # path -> (data, mode)
        self.dirs = {}  # path -> mode

    def add_file(self, path, data, mode):
        path = path.lstrip("/")
        if not path or ".." in path.split("/"):
            raise ImageError(f"bad path in image: /{path}")
        self.files[path] = (data, mode)
        parent = os.path.dirname(path)
        while parent:
            self.dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)

    def add_dir(self, path, mode=0o755):
        path = path.strip("/")
        self.dirs[path] = mode
        parent = os.path.dirname(path)
        while parent:
            self.dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)

    def _info(self, name):
        ti = tarfile.TarInfo(name)
        ti.mtime = self.mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            entries = sorted(set(self.dirs) | set(self.files))
            for name in entries:
                if name in self.files:
                    data, mode = self.files[name]
                    ti = self._info(name)
                    ti.size = len(data)
                    ti.mode = mode
                    t.addfile(ti, io.BytesIO(data))
                else:
                    ti = self._info(name + "/")
                    ti.type = tarfile.DIRTYPE
                    ti.mode = self.dirs[name]
                    t.addfile(ti)
        return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    # no file name and time 0 in the header: the digest depends on data only
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as g:
        g.write(data)
    return buf.getvalue()


def find_library(name):
    """The path of a library given by path or by soname (as dlopen() finds it)."""
    if "/" in name:
        if not os.path.isfile(name):
            raise ImageError(f"--dlopen {name}: no such file")
        return name
    env = dict(os.environ, LC_ALL="C")
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, env=env,
                             timeout=LDD_TIMEOUT_SECONDS).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ImageError(f"ldconfig -p: {e}") from None
    for line in out.splitlines():
        fields = line.split(" => ")
        if len(fields) == 2 and fields[0].split()[0] == name:
            return fields[1].strip()
    raise ImageError(f"--dlopen {name}: not in the loader cache (is its package installed?)")


def build(binary, name, install_name, epoch, dlopen=()):
    data, mode = read_file(binary)
    arch, interp = elf_info(data, binary)
    layer = Layer(epoch)
    layer.add_file("/usr/bin/" + install_name, data, 0o755)
    if interp:
        libs = libraries(binary)
        for extra in dlopen:
            path = find_library(extra)
            libs.extend([path] + libraries(path))
        libs = sorted(set(libs))
        if interp not in libs:
            libs.append(interp)
        for lib in sorted(libs):
            ldata, lmode = read_file(lib)  # follows symlinks: the soname path gets the file
            layer.add_file(lib, ldata, 0o755 if lmode & 0o111 else 0o644)
    layer.add_file("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
                   b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n", 0o644)
    layer.add_file("/etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
    layer.add_file("/etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\n", 0o644)
    ca, _ = read_file(CA_BUNDLE)
    layer.add_file(CA_BUNDLE, ca, 0o644)
    layer.add_dir("/tmp", 0o1777)
    layer.add_dir("/root", 0o700)

    tar = layer.tar()
    gz = gzip_bytes(tar)
    blobs = {}

    def blob(content, media_type):
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        blobs[digest] = content
        return {"mediaType": media_type, "digest": digest, "size": len(content)}

    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    created = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = "/usr/bin/" + install_name
    config = {
        "created": created,
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": [entry], "Env": [PATH_ENV], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "history": [{"created": created, "created_by": "scripts/agent-image.py " + install_name}],
    }
    config_desc = blob(json.dumps(config, sort_keys=True).encode(), MT_CONFIG)
    layer_desc = blob(gz, MT_LAYER)
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config_desc,
                "layers": [layer_desc]}
    manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode(), MT_MANIFEST)
    manifest_desc["platform"] = {"architecture": arch, "os": "linux"}
    # ctr import names the image from io.containerd.image.name; other tools
    # read the OCI annotation
    manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": name}
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [manifest_desc]}
    return index, blobs, manifest_desc["digest"]


def write_layout(out, index, blobs, epoch):
    def add(t, path, content=None):
        ti = tarfile.TarInfo(path)
        ti.mtime = epoch
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        if content is None:
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        else:
            ti.size = len(content)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(content))

    tmp = f"{out}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w",
                                                format=tarfile.PAX_FORMAT) as t:
            add(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            add(t, "index.json", json.dumps(index, sort_keys=True).encode())
            add(t, "blobs/")
            add(t, "blobs/sha256/")
            for digest in sorted(blobs):
                add(t, "blobs/sha256/" + digest.split(":", 1)[1], blobs[digest])
        os.replace(tmp, out)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ImageError(f"{out}: {e.strerror}") from None


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Build an OCI image tarball holding a dynamically linked binary and the "
                    "libraries it needs (for `ctr images import`).")
    p.add_argument("--binary", required=True, help="the ELF executable to package")
    p.add_argument("--name", default=DEFAULT_NAME,
                   help=f"image reference stored in the tarball (default {DEFAULT_NAME})")
    p.add_argument("--install-name",
                   help="file name under /usr/bin in the image (default: the binary's)")
    p.add_argument("--out", required=True, help="the tarball to write")
    p.add_argument("--dlopen", action="append", default=[], metavar="LIB",
                   help="a library the binary loads at run time (soname or path); it and "
                        "the libraries it needs go into the image too (repeatable)")
    args = p.parse_args(argv)

    try:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or "0")
    except ValueError:
        print("agent-image: SOURCE_DATE_EPOCH is not a number", file=sys.stderr)
        return 2
    install = args.install_name or os.path.basename(args.binary)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", install) or install in (".", ".."):
        print(f"agent-image: invalid install name {install!r}", file=sys.stderr)
        return 2
    try:
        name = normalize_name(args.name)
        index, blobs, digest = build(args.binary, name, install, epoch, args.dlopen)
        write_layout(args.out, index, blobs, epoch)
    except ImageError as e:
        print(f"agent-image: {e}", file=sys.stderr)
        return 1
    print(f"{name} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
