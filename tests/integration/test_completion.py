# SPDX-License-Identifier: Apache-2.0
"""Shell completion and man pages, in real shells.

- bash (with Debian's bash-completion): `ig completion bash` loaded, its
  function run as bash runs it on TAB; kubectl's own bash completion
  (`kubectl completion bash`) completing `kubectl gadget run tr<TAB>` through
  kubectl's plugin convention (kubectl_complete-gadget on PATH); and a
  gadget's params, from the gadget for ig and from a real agent for kubectl
  gadget.
- zsh, driven on a pseudo-terminal (zsh/zpty) with compinit: TAB on
  `ig run trace_ex` and on `kubectl gadget run trace_ex` rewrites the line.
- the cobra protocol itself (`__complete`, the `:N` directive line).
- man pages made by help2man from the --help texts, rendered by man.
"""

import os
import shutil
import subprocess

import pytest

from apiserver import apiserver  # noqa: F401  (fixture)
from conftest import REPO
from test_kubectl_gadget import agent  # noqa: F401  (fixture)

BIN = os.environ.get("KG_BIN_DIR", os.path.join(REPO, "build", "bin"))
KUBECTL = os.environ.get("KUBECTL", os.path.join(REPO, "build", "tools", "bin", "kubectl"))
MAN = os.path.join(REPO, "build", "man")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def env(extra=None):
    e = dict(os.environ)
    e["PATH"] = BIN + os.pathsep + os.path.dirname(KUBECTL) + os.pathsep + e.get("PATH", "")
    if extra:
        e.update(extra)
    return e


def bash_complete(setup, fn, words, extra_env=None):
    """COMPREPLY of completion function fn for the command line words (the
    last one being completed), as bash computes it on TAB."""
    line = " ".join(words)
    script = f"""
source {BASH_COMPLETION}
{setup}
COMP_WORDS=({' '.join(repr(w) if w else '""' for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
{fn} 2>/dev/null
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                       env=env(extra_env))
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x]


def test_ig_bash_completion():
    setup = "source <(ig completion bash)"
    got = bash_complete(setup, "_ig_complete", ["ig", ""])
    assert {"run", "image", "list-containers", "completion", "help"} <= set(got), got
    got = bash_complete(setup, "_ig_complete", ["ig", "run", "tr"])
    assert {"trace_exec", "trace_open", "trace_tcp"} <= set(got), got
    assert all(x.startswith("tr") for x in got)
    got = bash_complete(setup, "_ig_complete", ["ig", "run", "trace_open", "--fa"])
    assert got == ["--failed"], got
    got = bash_complete(setup, "_ig_complete", ["ig", "run", "trace_exec", "--fil"])
    assert got == ["--filter"], got
    got = bash_complete(setup, "_ig_complete", ["ig", "run", "trace_exec", "-o", "js"])
    assert got == ["json", "jsonpretty"], got
    # with '=' in the word bash replaces only what follows it
    got = bash_complete(setup, "_ig_complete", ["ig", "run", "trace_exec", "--output=y"])
    assert got == ["yaml"], got
    got = bash_complete(setup, "_ig_complete", ["ig", "image", "ins"])
    assert got == ["inspect"], got


def test_kubectl_plugin_completion_in_bash(apiserver, agent):  # noqa: F811
    """kubectl's own completion asks kubectl_complete-gadget, which asks an
    agent for the params of the gadget being typed."""
    if not os.access(os.path.join(BIN, "kubectl_complete-gadget"), os.X_OK):
        pytest.fail("build/bin/kubectl_complete-gadget is missing")
    setup = f"source <({KUBECTL} completion bash)"
    e = {"KUBECONFIG": apiserver.kubeconfig, "HOME": apiserver.home}
    got = bash_complete(setup, "__start_kubectl", ["kubectl", "gadget", "run", "tr"], e)
    assert {"trace_exec", "trace_open", "trace_tcp"} <= set(got), got
    got = bash_complete(setup, "__start_kubectl", ["kubectl", "gadget", "de"], e)
    assert set(got) == {"deploy", "delete"}, got
    got = bash_complete(setup, "__start_kubectl", ["kubectl", "gadget", "run", "trace_exec",
                                                   "--ignore-f"], e)
    assert got == ["--ignore-failed"], got
    got = bash_complete(setup, "__start_kubectl", ["kubectl", "gadget", "deploy",
                                                   "--image-pull-policy", "I"], e)
    assert got == ["IfNotPresent"], got
    # the plugin's own script, for kubectl-gadget typed as a command
    got = bash_complete("source <(kubectl-gadget completion bash)", "_kubectl_gadget_complete",
                        ["kubectl-gadget", "run", "-A", "--ti"], e)
    assert got == ["--timeout"], got


ZPTY = r"""
zmodload zsh/zpty
zpty -b z "zsh -f -i"
zpty -w z 'PS1="> "; unsetopt beep; autoload -U compinit; compinit -u -D; {setup}'
zpty -w -n z {line}$'\t'
out=""
integer i=0
while (( i++ < 100 )); do
	while zpty -r -t z chunk; do out+=$chunk; done
	[[ $out == *{want}* ]] && break
	sleep 0.1
done
zpty -d z
print -r -- "$out"
"""


def zsh_tab(setup, line, want, extra_env=None):
    """What a zsh on a terminal shows after typing line and TAB."""
    script = ZPTY.format(setup=setup, line=repr(line), want=repr(want))
    r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True,
                       timeout=60, env=env(extra_env))
    return r.stdout.replace("\r", "")


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_completion_on_a_terminal(apiserver):  # noqa: F811
    out = zsh_tab("source <(ig completion zsh)", "ig run trace_ex", "ig run trace_exec")
    assert "ig run trace_exec" in out, out[-500:]
    out = zsh_tab("source <(ig completion zsh)", "ig run trace_open --fai",
                  "--failed")
    assert "ig run trace_open --failed" in out, out[-500:]
    e = {"KUBECONFIG": apiserver.kubeconfig, "HOME": apiserver.home}
    out = zsh_tab(f"source <({KUBECTL} completion zsh)", "kubectl gadget run trace_ex",
                  "run trace_exec", e)
    assert "kubectl gadget run trace_exec" in out, out[-500:]
    out = zsh_tab("source <(kubectl-gadget completion zsh)", "kubectl-gadget undep",
                  "undeploy", e)
    assert "kubectl-gadget undeploy" in out, out[-500:]


def test_complete_protocol_and_scripts():
    r = subprocess.run([os.path.join(BIN, "ig"), "__complete", "run", "--outp"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines() == ["--output\tcolumns (default), json (one record per line), "
                                     "jsonpretty or yaml", ":4"], r.stdout
    r = subprocess.run([os.path.join(BIN, "kubectl_complete-gadget"), "run", "trace_exec",
                        "-o", ""], capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines() == ["columns", "json", "jsonpretty", "yaml", ":4"], r.stdout
    for prog in ("ig", "kubectl-gadget"):
        for shell in ("bash", "zsh"):
            r = subprocess.run([os.path.join(BIN, prog), "completion", shell],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and r.stdout.startswith(
                "#compdef" if shell == "zsh" else "# bash completion"), r.stdout[:200]
            if shutil.which(shell):
                chk = subprocess.run([shell, "-n"], input=r.stdout, capture_output=True,
                                     text=True, timeout=30)
                assert chk.returncode == 0, (prog, shell, chk.stderr)
        r = subprocess.run([os.path.join(BIN, prog), "completion", "fish"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


def test_man_pages_from_the_help_texts():
    if not shutil.which("man"):
        pytest.skip("man is not installed")
    for page, words in (("ig.1", ["list-containers", "completion"]),
                        ("ig-run.1", ["--filter", "RE2 syntax", "--kubeconfig"]),
                        ("kubectl-gadget.1", ["--as-group", "--request-timeout", "show"]),
                        ("kubectl-gadget-deploy.1", ["--node-selector", "--print-only"]),
                        ("kubectl-gadget-run.1", ["--tags", "--node"]),
                        ("gadget-agent.1", ["--config"])):
        path = os.path.join(MAN, page)
        assert os.path.exists(path), f"{path}: run make"
        r = subprocess.run(["man", "-l", path], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MANWIDTH="200", MANPAGER="cat", PAGER="cat"))
        assert r.returncode == 0, r.stderr
        text = r.stdout.replace("\u2010", "-").replace("\u2212", "-")
        for w in words:
            assert w in text, (page, w)
