# SPDX-License-Identifier: Apache-2.0
"""Kubeconfigs as clusters hand them out, and kubectl's global flags, against
the stand-in API server (tests/apiserver) over real TLS.

- Exec credential plugins (EKS, GKE and AKS kubeconfigs): real programs this
  test writes, run by kubectl gadget, ig --kubeconfig and the client library
  (k8s_tool): a short-lived token that the stand-in accepts only until it
  expires, so the plugin must be run again; a token the server refuses (401)
  and the plugin run again at once; plugins that fail, hang, print garbage or
  are not installed, each a one-line error naming the plugin.
- Client certificates signed by the stand-in's CA (it verifies them like
  kube-apiserver's --client-ca-file), from files, data and flags.
- --as and --as-group reaching the server as impersonation headers, for API
  requests and for the port-forwards to the agents.
- --server, --token, --certificate-authority, --insecure-skip-tls-verify,
  --user, --cluster, --request-timeout; proxy-url through a real tinyproxy.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import yaml

from apiserver import apiserver, make_apiserver  # noqa: F401  (fixtures)
from conftest import REPO, ig
from test_kubectl_gadget import agent, kg  # noqa: F401  (fixture)

TOOL = os.environ.get("K8S_TOOL", os.path.join(REPO, "build", "tests", "k8s_tool"))
V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


@pytest.fixture(autouse=True)
def authenticated_may_do_anything(request):
    """These tests are about who the clients say they are, not what that
    identity may do: the stand-in enforces RBAC, so every authenticated
    identity here is bound to a role that allows everything."""
    if "apiserver" not in request.fixturenames:
        return
    api = request.getfixturevalue("apiserver")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "kube-auth-tests"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                      {"nonResourceURLs": ["*"], "verbs": ["*"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "kube-auth-tests"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "kube-auth-tests"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                             "name": "system:authenticated"}]}
    for path, obj in (("/apis/rbac.authorization.k8s.io/v1/clusterroles", role),
                      ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)):
        status, out = api.json("POST", path, obj)
        assert status == 201, out


def tool(*args, env=None, timeout=60):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=timeout, env=e)


def server_config(api):
    with open(api.kubeconfig) as f:
        return yaml.safe_load(f)


def write_kubeconfig(api, path, user):
    """The stand-in's cluster (server, CA) with this user."""
    kc = server_config(api)
    kc["users"] = [{"name": "exec", "user": user}]
    kc["contexts"][0]["context"]["user"] = "exec"
    path.write_text(yaml.safe_dump(kc))
    return str(path)


def add_token(api, token, user="plugin-user", groups=(), ttl=None):
    body = {"token": token, "user": user, "groups": list(groups)}
    if ttl:
        body["ttl"] = ttl
    status, out = api.json("POST", "/_test/tokens", body)
    assert status == 200, out


def requests_seen(api, clear=True):
    status, out = api.json("POST", "/_test/requests" + ("?clear=1" if clear else ""))
    assert status == 200, out
    return out["requests"]


def write_plugin(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def counting_plugin(tmp_path, prefix, ttl=None, api_version=V1BETA1):
    """Hands out PREFIX-1, PREFIX-2, ... (one more per call), expiring after
    ttl seconds when given; counts its calls in tmp_path/calls."""
    exp = ('exp=$(date -u -d @$(($(date +%s)+' + str(ttl) + '))'
           ' +%Y-%m-%dT%H:%M:%SZ)\n' if ttl else 'exp=\n')
    status = ('{"token":"%s-%s","expirationTimestamp":"%s"}' if ttl else '{"token":"%s-%s"}')
    return write_plugin(tmp_path / "plugin", (
        f'calls="{tmp_path}/calls"\n'
        'n=$(cat "$calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$calls"\n'
        + exp +
        f"printf '{{\"apiVersion\":\"{api_version}\",\"kind\":\"ExecCredential\","
        f"\"status\":{status}}}\\n' {prefix} $n" + (' "$exp"\n' if ttl else "\n")))


def calls(tmp_path):
    try:
        return int((tmp_path / "calls").read_text())
    except FileNotFoundError:
        return 0


def one_line_error(r, prefix="kubectl-gadget: error: "):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), r.stderr
    return lines[0]


# --------------------------------------------------------------- exec plugins

def test_short_lived_token_is_fetched_again_after_it_expires(apiserver, tmp_path):
    api = apiserver
    # the stand-in accepts each token only while it lives
    add_token(api, "eks-1", user="eks-user", ttl=4)
    add_token(api, "eks-2", user="eks-user", ttl=120)
    plugin = counting_plugin(tmp_path, "eks", ttl=4)
    kc = write_kubeconfig(api, tmp_path / "kc", {"exec": {
        "apiVersion": V1BETA1, "command": plugin, "args": ["eks", "get-token"],
        "interactiveMode": "IfAvailable"}})
    requests_seen(api)
    # three requests in one process, 2.5 s apart: the cached token serves
    # the second, the third needs a new one
    r = tool("--kubeconfig", kc, "get", "/api/v1/namespaces/default", "--repeat", "3",
             "--every", "2500")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 3
    assert calls(tmp_path) == 2
    seen = [x for x in requests_seen(api) if x["path"] == "/api/v1/namespaces/default"]
    assert [x["user"] for x in seen] == ["eks-user"] * 3


def test_token_refused_runs_the_plugin_again(apiserver, tmp_path):
    api = apiserver
    # the first answer is a token the server does not know (revoked, rotated)
    add_token(api, "gke-2", user="gke-user")
    plugin = counting_plugin(tmp_path, "gke")
    kc = write_kubeconfig(api, tmp_path / "kc", {"exec": {
        "apiVersion": V1BETA1, "command": plugin, "provideClusterInfo": True,
        "installHint": "Install gke-gcloud-auth-plugin"}})
    r = tool("--kubeconfig", kc, "get", "/api/v1/namespaces/default")
    assert r.returncode == 0, r.stderr
    assert calls(tmp_path) == 2
    # and a token refused twice is the server's answer, not a loop
    (tmp_path / "calls").write_text("5\n")
    r = tool("--kubeconfig", kc, "get", "/api/v1/namespaces/default")
    assert r.returncode == 1 and "401 Unauthorized" in r.stderr, r.stderr
    assert calls(tmp_path) == 7


def test_plugin_sees_its_request_and_env(apiserver, tmp_path):
    api = apiserver
    add_token(api, "aks-token", user="aks-user")
    plugin = write_plugin(tmp_path / "kubelogin", (
        f'printf "%s\\n" "$KUBERNETES_EXEC_INFO" > "{tmp_path}/info"\n'
        f'printf "%s|%s|%s\\n" "$1" "$2" "$AAD_LOGIN_METHOD" > "{tmp_path}/args"\n'
        "printf '{\"apiVersion\":\"" + V1 + "\",\"kind\":\"ExecCredential\","
        "\"status\":{\"token\":\"aks-token\"}}'\n"))
    # a relative command is relative to the kubeconfig, as kubectl reads it
    kc = write_kubeconfig(api, tmp_path / "kc", {"exec": {
        "apiVersion": V1, "command": "./kubelogin", "args": ["get-token", "--server-id=x"],
        "env": [{"name": "AAD_LOGIN_METHOD", "value": "azurecli"}],
        "provideClusterInfo": True, "interactiveMode": "Never"}})
    r = kg(api, "list", env={"KUBECONFIG": kc})
    assert "no gadget agent found" in r.stderr, r.stderr  # the API call itself worked
    info = json.loads((tmp_path / "info").read_text())
    assert info["apiVersion"] == V1 and info["kind"] == "ExecCredential"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == api.url
    with open(api.ca, "rb") as f:
        import base64
        assert info["spec"]["cluster"]["certificate-authority-data"] == \
            base64.b64encode(f.read()).decode()
    assert (tmp_path / "args").read_text() == "get-token|--server-id=x|azurecli\n"


@pytest.mark.parametrize("body,words", [
    ("echo 'starting' >&2\necho 'error: SSO session expired, run aws sso login' >&2\nexit 1\n",
     "exited with status 1: error: SSO session expired, run aws sso login"),
    ("echo 'this is not json'\n", "output is not an ExecCredential: "),
    ("echo '{\"apiVersion\":\"" + V1BETA1 + "\",\"kind\":\"ExecCredential\",\"status\":{}}'\n",
     "its ExecCredential has neither a token nor a certificate"),
    ("kill -9 $$\n", "killed by signal 9"),
])
def test_failing_plugins_are_one_line_naming_the_plugin(apiserver, tmp_path, body, words):
    api = apiserver
    plugin = write_plugin(tmp_path / "aws", body)
    kc = write_kubeconfig(api, tmp_path / "kc", {"exec": {"apiVersion": V1BETA1,
                                                          "command": plugin}})
    for r, prefix in ((kg(api, "list", env={"KUBECONFIG": kc}), "kubectl-gadget: error: "),
                      (kg(api, "run", "trace_exec", "-A", env={"KUBECONFIG": kc}),
                       "kubectl-gadget: error: "),
                      (ig("run", "trace_exec", "--kubeconfig", kc, "-t", "1"), "ig: error: ")):
        line = one_line_error(r, prefix)
        assert f"exec plugin '{plugin}' of user \"exec\" ({kc})" in line, line
        assert words in line, line


def test_hanging_plugin_is_killed(apiserver, tmp_path):
    api = apiserver
    plugin = write_plugin(tmp_path / "slow", "sleep 600\n")
    kc = write_kubeconfig(api, tmp_path / "kc", {"exec": {"apiVersion": V1, "command": plugin,
                                                          "interactiveMode": "Never"}})
    t0 = time.monotonic()
    r = kg(api, "--request-timeout", "2s", "list", env={"KUBECONFIG": kc})
    assert time.monotonic() - t0 < 15
    line = one_line_error(r)
    assert "slow' of user \"exec\"" in line and "no answer within 2 s (killed)" in line, line
    # nothing is left running
    out = subprocess.run(["pgrep", "-f", plugin], capture_output=True, text=True).stdout
    assert out == ""


def test_missing_plugin_shows_the_install_hint(apiserver, tmp_path):
    kc = write_kubeconfig(apiserver, tmp_path / "kc", {"exec": {
        "apiVersion": V1BETA1, "command": "gke-gcloud-auth-plugin-not-installed",
        "installHint": "Install gke-gcloud-auth-plugin for use with kubectl by following\n"
                       "https://cloud.google.com/kubernetes-engine/docs/how-to/"
                       "cluster-access-for-kubectl#install_plugin",
        "provideClusterInfo": True}})
    line = one_line_error(kg(apiserver, "list", env={"KUBECONFIG": kc}))
    assert "exec plugin 'gke-gcloud-auth-plugin-not-installed' of user \"exec\"" in line
    assert ("not found: Install gke-gcloud-auth-plugin for use with kubectl by following "
            "https://cloud.google.com/") in line, line


def test_ig_kubeconfig_with_an_exec_plugin(apiserver, tmp_path):
    add_token(apiserver, "ig-1", user="ig-user")
    plugin = counting_plugin(tmp_path, "ig", ttl=3600, api_version=V1)
    kc = write_kubeconfig(apiserver, tmp_path / "kc", {"exec": {
        "apiVersion": V1, "command": plugin, "interactiveMode": "Never"}})
    requests_seen(apiserver)
    r = ig("run", "trace_exec", "--kubeconfig", kc, "-t", "1", "-o", "json")
    assert r.returncode == 0, r.stderr
    # /version, then lists and watches: all with the one token the plugin gave
    assert calls(tmp_path) == 1
    users = {x["user"] for x in requests_seen(apiserver)}
    assert users == {"ig-user"}, users


# --------------------------------------------------------------- client certificates

def client_cert(api, tmp_path, cn, org):
    d = api.data_dir
    key, csr, crt = (str(tmp_path / f"{cn}.{x}") for x in ("key", "csr", "crt"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={cn}/O={org}"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca.crt"),
                    "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-out", crt,
                    "-days", "1"], check=True, capture_output=True)
    return crt, key


def test_client_certificate_auth(apiserver, agent, tmp_path):  # noqa: F811
    api = apiserver
    crt, key = client_cert(api, tmp_path, "alice", "devs")
    with open(crt, "rb") as f:
        crt_data = f.read()
    with open(key, "rb") as f:
        key_data = f.read()
    import base64
    files = write_kubeconfig(api, tmp_path / "kc-files", {
        "client-certificate": os.path.basename(crt), "client-key": os.path.basename(key)})
    data = write_kubeconfig(api, tmp_path / "kc-data", {
        "client-certificate-data": base64.b64encode(crt_data).decode(),
        "client-key-data": base64.b64encode(key_data).decode()})
    nobody = write_kubeconfig(api, tmp_path / "kc-none", {})
    for env, extra in (({"KUBECONFIG": files}, []), ({"KUBECONFIG": data}, []),
                       ({"KUBECONFIG": nobody}, ["--client-certificate", crt,
                                                 "--client-key", key])):
        requests_seen(api)
        # version reaches the agent: the pod list and the port-forward as alice
        r = kg(api, *extra, "version", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "node n1: gadget-agent" in r.stdout
        seen = requests_seen(api)
        assert seen and {x["user"] for x in seen} == {"alice"}, seen
        assert all(x["via"] == "x509" and "devs" in x["groups"] for x in seen)
        assert any(x["path"].endswith("/portforward") for x in seen), seen
    # without a certificate or a token: 401, said as such
    r = kg(api, "list", env={"KUBECONFIG": nobody})
    line = one_line_error(r)
    assert "refused the credentials" in line and "401 Unauthorized" in line, line


# --------------------------------------------------------------- kubectl's flags

def plugin_requests(api):
    """The requests seen, less the agent's own (admin, not impersonated: its
    watches of pods and instance ConfigMaps): what the plugin asked.  The
    agent never lists the agent pods or forwards to them: a plugin request
    that forgot to impersonate is not dropped."""
    seen = requests_seen(api)
    agents = [x for x in seen if x["user"] == "admin" and not x["impersonatedBy"]]
    assert not [x for x in agents if x["path"].startswith("/api/v1/namespaces/gadget/pods")], \
        agents
    return [x for x in seen if x not in agents]


def test_as_reaches_the_api_server(apiserver, agent, tmp_path):  # noqa: F811
    api = apiserver
    requests_seen(api)
    r = kg(api, "--as", "jane", "--as-group", "devs", "--as-group", "sre", "version")
    assert r.returncode == 0, r.stdout + r.stderr
    seen = plugin_requests(api)
    assert seen and all(x["user"] == "jane" and x["impersonatedBy"] == "admin" for x in seen), \
        [(x["user"], x["path"]) for x in seen]
    assert all(x["groups"] == ["devs", "sre", "system:authenticated"] for x in seen), seen
    assert any(x["path"].endswith("/portforward") for x in seen), seen
    # the flags may come after the command too, and --as-group needs --as
    r = kg(api, "list", "--as=jane")
    assert r.returncode == 0, r.stderr
    assert {x["user"] for x in plugin_requests(api)} == {"jane"}
    line = one_line_error(kg(api, "list", "--as-group", "devs"))
    assert "needs a user to impersonate (--as)" in line


def test_server_token_and_ca_flags_need_no_kubeconfig(apiserver, tmp_path):
    api = apiserver
    add_token(api, "flag-token", user="flag-user")
    env = {"KUBECONFIG": str(tmp_path / "none")}
    base = ["--server", api.url, "--token", "flag-token"]
    requests_seen(api)
    r = kg(api, *base, "--certificate-authority", api.ca, "list", env=env)
    assert "no gadget agent found" in r.stderr, r.stderr
    r = kg(api, *base, "--insecure-skip-tls-verify", "list", env=env)
    assert "no gadget agent found" in r.stderr, r.stderr
    assert {x["user"] for x in requests_seen(api)} == {"flag-user"}
    # an unknown CA is a TLS failure, one line
    line = one_line_error(kg(api, *base, "list", env=env))
    assert "cannot reach the API server at " + api.url in line, line
    # both is a usage error, as with kubectl
    line = one_line_error(kg(api, *base, "--certificate-authority", api.ca,
                             "--insecure-skip-tls-verify", "list", env=env))
    assert "mutually exclusive" in line


def test_user_and_cluster_flags(apiserver, tmp_path):
    api = apiserver
    kc = server_config(api)
    kc["users"].append({"name": "stale", "user": {"token": "revoked"}})
    kc["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:1",
                                                              "insecure-skip-tls-verify": True}})
    kc["contexts"][0]["context"]["user"] = "stale"
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(kc))
    env = {"KUBECONFIG": str(path)}
    line = one_line_error(kg(api, "list", env=env))
    assert "refused the credentials" in line
    r = kg(api, "--user", kc["users"][0]["name"], "list", env=env)
    assert "no gadget agent found" in r.stderr, r.stderr
    line = one_line_error(kg(api, "--user", "admin", "--cluster", "elsewhere", "list", env=env))
    assert "cannot reach the API server at https://127.0.0.1:1" in line
    line = one_line_error(kg(api, "--user", "nobody", "list", env=env))
    assert 'user "nobody" (--user) not found' in line
    r = kg(api, "--request-timeout", "soon", "list", env=env)
    assert r.returncode == 2 and "invalid --request-timeout 'soon'" in r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tinyproxy(tmp_path):
    if not shutil.which("tinyproxy"):
        pytest.fail("tinyproxy is not installed (scripts/deps.sh installs tinyproxy-bin)")
    port = free_port()
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\n"
                    f"LogFile \"{log}\"\nLogLevel Connect\nMaxClients 20\n")
    p = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", log
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def test_proxy_url_carries_api_requests_and_port_forwards(apiserver, agent, tinyproxy,  # noqa: F811
                                                          tmp_path):
    api = apiserver
    proxy, log = tinyproxy
    kc = server_config(api)
    kc["clusters"][0]["cluster"]["proxy-url"] = proxy
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(kc))
    r = kg(api, "version", env={"KUBECONFIG": str(path), "NO_PROXY": "", "no_proxy": ""})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "node n1: gadget-agent" in r.stdout
    text = log.read_text(errors="replace")
    # the pod list (libcurl) and the port-forward (libwebsockets) both tunnel
    assert len(re.findall(rf"CONNECT.*127\.0\.0\.1:{api.port}", text)) >= 2, text[-2000:]
    # a proxy that is not there is the API server being unreachable
    kc["clusters"][0]["cluster"]["proxy-url"] = f"http://127.0.0.1:{free_port()}"
    path.write_text(yaml.safe_dump(kc))
    line = one_line_error(kg(api, "list", env={"KUBECONFIG": str(path)}))
    assert "cannot reach the API server" in line
