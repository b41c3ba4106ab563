# SPDX-License-Identifier: Apache-2.0
"""A real containerd for the integration tests.

Containerd (Debian's 1.6) runs with its own root, state, socket and runc root
under a temporary directory, so it shares nothing with any other runtime on
the machine.  Its CRI plugin runs real pods: they use the host network (no
CNI needed) unless the Containerd is given a CNI configuration (testnet.py),
and a test image built here from the static busybox binary,
written as an OCI image tarball by Python and imported with ctr.  Pods and
containers are created through build/tests/cri_pod, our own CRI client.

Everything is cleaned up even when a test fails: pods are stopped and removed
over CRI, leftover containers killed with runc, leftover shims (found by their
-address argument, which names our private socket) killed by pid, mounts under
the temporary directory unmounted, and the directory deleted.

Use the `containerd` fixture (module scope) from a test module:

    from containerd import containerd  # noqa: F401  (the fixture)
"""

import hashlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRI_POD = os.environ.get("CRI_POD", os.path.join(REPO, "build", "tests", "cri_pod"))
BUSYBOX = "/bin/busybox"
IMAGE = "localhost/ig-test:latest"
APPLETS = ["sh", "sleep", "cat", "true", "echo", "ls", "env", "ps", "touch", "rm", "mkdir",
           "nslookup", "nc", "printf"]
CONTAINERD_BIN = "/usr/bin/containerd"
CTR_BIN = "/usr/bin/ctr"


def _arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def _blob(blobs, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _tar_add(tar, name, data=None, mode=0o755, link=None, is_dir=False):
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    if is_dir:
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tar.addfile(ti)
    elif link is not None:
        ti.type = tarfile.SYMTYPE
        ti.linkname = link
        ti.mode = 0o777
        tar.addfile(ti)
    else:
        ti.size = len(data)
        ti.mode = mode
        tar.addfile(ti, io.BytesIO(data))


def build_image_tarball(path, name=IMAGE):
    """Writes an OCI image layout tarball with busybox as /bin/busybox plus
    applet symlinks; the default command sleeps (it is the sandbox image)."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    layer_io = io.BytesIO()
    with tarfile.open(fileobj=layer_io, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ["bin", "dev", "etc", "proc", "sys", "tmp", "root"]:
            _tar_add(t, d, is_dir=True)
        _tar_add(t, "bin/busybox", busybox)
        for a in APPLETS:
            _tar_add(t, "bin/" + a, link="busybox")
        _tar_add(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644)
        _tar_add(t, "etc/group", b"root:x:0:\n", mode=0o644)
    layer = layer_io.getvalue()
    blobs = {}
    layer_desc = _blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": _arch(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sleep", "100000000"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
    }
    config_desc = _blob(blobs, json.dumps(config).encode(),
                        "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = _blob(blobs, json.dumps(manifest).encode(),
                          "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": name}
    manifest_desc["platform"] = {"architecture": _arch(), "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [manifest_desc]}
    with tarfile.open(path, "w") as t:
        _tar_add(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644)
        _tar_add(t, "index.json", json.dumps(index).encode(), 0o644)
        _tar_add(t, "blobs", is_dir=True)
        _tar_add(t, "blobs/sha256", is_dir=True)
        for digest, data in blobs.items():
            _tar_add(t, "blobs/sha256/" + digest.split(":", 1)[1], data, 0o644)
    return manifest_desc["digest"]


class Containerd:
    """One private containerd; see the module docstring.  cni: {"bin_dir":
    ..., "conf_dir": ...} lets pods made with pod_network=True have network
    namespaces of their own, wired by that CNI configuration (testnet.py)."""

    def __init__(self, base=None, cni=None):
        self.dir = tempfile.mkdtemp(prefix="igctd-", dir=base)
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.runc_root = os.path.join(self.dir, "runc")
        # under the state dir, where ig looks for the shim task directory
        self.socket = os.path.join(self.state, "containerd.sock")
        self.config = os.path.join(self.dir, "config.toml")
        self.log_path = os.path.join(self.dir, "containerd.log")
        self.proc = None
        self.pods = []
        self.containers = []
        self.image = IMAGE
        self.image_digest = None
        self._log = None
        self.cni = cni

    # -- lifecycle -----------------------------------------------------------
    def write_config(self):
        with open(self.config, "w") as f:
            f.write(f"""version = 2
root = "{self.root}"
state = "{self.state}"
[grpc]
  address = "{self.socket}"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "{IMAGE}"
  disable_tcp_service = true
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  Root = "{self.runc_root}"
""")
            if self.cni:
                f.write(f"""[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{self.cni['bin_dir']}"
  conf_dir = "{self.cni['conf_dir']}"
  max_conf_num = 1
""")

    def start(self, timeout=30):
        self.write_config()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CONTAINERD_BIN, "--config", self.config],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("containerd exited:\n" + self.log_tail())
            if os.path.exists(self.socket):
                r = self.cri("version", check=False)
                if r.returncode == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("containerd did not answer on " + self.socket + "\n" + self.log_tail())

    def stop(self):
        """Stops containerd only (shims and containers keep running, as in a
        real runtime restart)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        self.start()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # -- image ---------------------------------------------------------------
    def import_image(self):
        tarball = os.path.join(self.dir, "image.tar")
        self.image_digest = build_image_tarball(tarball)
        r = subprocess.run([CTR_BIN, "--address", self.socket, "-n", "k8s.io", "images",
                            "import", tarball], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("ctr import failed: " + r.stdout + r.stderr)

    # -- CRI through cri_pod -------------------------------------------------
    def cri(self, *args, check=True, timeout=90):
        r = subprocess.run([CRI_POD, "--socket", self.socket] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"cri_pod {' '.join(args)} failed: {r.stderr}\n"
                               + self.log_tail())
        return r

    def run_pod(self, name, namespace, uid=None, labels=None, pod_network=False):
        args = ["run-pod", name, namespace]
        if uid:
            args += ["--uid", uid]
        if pod_network:
            args += ["--pod-network"]
        for k, v in (labels or {}).items():
            args += ["--label", f"{k}={v}"]
        pod = self.cri(*args).stdout.strip()
        self.pods.append(pod)
        return pod

    def create(self, name, pod, cmd, image=IMAGE):
        cid = self.cri("create", name, pod, image, "--", *cmd).stdout.strip()
        self.containers.append(cid)
        return cid

    def start_container(self, cid):
        self.cri("start", cid)

    def run_container(self, name, pod, cmd):
        cid = self.create(name, pod, cmd)
        self.start_container(cid)
        return cid

    def pid(self, cid):
        return int(self.cri("pid", cid).stdout.strip())

    def remove_container(self, cid):
        self.cri("stop", cid, check=False)
        self.cri("rm", cid, check=False)
        if cid in self.containers:
            self.containers.remove(cid)

    def remove_pod(self, pod):
        self.cri("stop-pod", pod, check=False)
        self.cri("rm-pod", pod, check=False)
        if pod in self.pods:
            self.pods.remove(pod)

    # -- cleanup -------------------------------------------------------------
    def _pids_with_arg(self, needle):
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if needle.encode() in args:
                out.append(int(p))
        return out

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                for cid in list(self.containers):
                    self.remove_container(cid)
                for pod in list(self.pods):
                    self.remove_pod(pod)
        finally:
            self.stop()
            # containers a failed test left behind
            if os.path.isdir(self.runc_root):
                for ns in os.listdir(self.runc_root):
                    root = os.path.join(self.runc_root, ns)
                    r = subprocess.run(["runc", "--root", root, "list", "-q"],
                                       capture_output=True, text=True)
                    for cid in r.stdout.split():
                        subprocess.run(["runc", "--root", root, "kill", "-a", cid, "KILL"],
                                       capture_output=True)
                        subprocess.run(["runc", "--root", root, "delete", "-f", cid],
                                       capture_output=True)
            for pid in self._pids_with_arg(self.socket):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._unmount_all()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _unmount_all(self):
        for _ in range(3):
            mounts = []
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    mp = line.split()[4].replace("\\040", " ")
                    if mp == self.dir or mp.startswith(self.dir + "/"):
                        mounts.append(mp)
            if not mounts:
                return
            for mp in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], capture_output=True)


@pytest.fixture(scope="module")
def containerd():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    for b in (CONTAINERD_BIN, CTR_BIN, BUSYBOX, CRI_POD):
        if not os.path.exists(b):
            pytest.skip(f"{b} missing (make build/tests/cri_pod?)")
    c = Containerd()
    try:
        c.start()
        c.import_image()
        yield c
    finally:
        c.cleanup()
