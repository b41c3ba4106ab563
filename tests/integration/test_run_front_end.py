# SPDX-License-Identifier: Apache-2.0
"""One run front end: `ig run` and `kubectl gadget run` read the same flags
with the same meaning, limits and messages (run/flags.c), choose fields with
the same grammar (run/fields.c) and describe a gadget with the same help
printer (run/help.c).

The same flag sets go through both CLIs, as a new user would type them: ig
on this host, kubectl gadget through the real kubectl, the stand-in API
server and a real agent on a loopback address (the fixtures of
test_kubectl_gadget.py).
"""

import json
import os
import re
import subprocess

import pytest

from apiserver import apiserver  # noqa: F401  (fixture)
from conftest import IG, ig
from test_kubectl_gadget import agent, execs, kg  # noqa: F401  (fixtures)

GADGET = "trace_exec"

# flag sets every run client must refuse, and a word of the one message
BAD = [
    (["-o", "xml"], "invalid value 'xml' for --output"),
    (["--output=xml"], "invalid value 'xml' for --output"),
    (["--max-entries", "-3"], "invalid value '-3' for --max-entries"),
    (["--max-entries", "4294967296"], "at most 4294967295"),
    (["--map-fetch-interval", "0"], "--map-fetch-interval: must be more than 0"),
    (["--map-fetch-count", "x"], "invalid value 'x' for --map-fetch-count"),
    (["--timeout", "soon"], "invalid value 'soon' for --timeout"),
    (["-t", "5parsecs"], "invalid value '5parsecs' for --timeout"),
    (["--fields", "nosuchfield"], "unknown field 'nosuchfield'"),
    (["--fields", "comm,nosuch"], "unknown field 'nosuch'"),
    (["--comm"], "param --comm needs a value"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--bogus=1"], "unknown option '--bogus'"),
    (["-x"], "unknown option '-x'"),
    (["--ignore-failed", "extra"], "unexpected argument 'extra'"),
    (["--no-header=maybe"], "--no-header takes no value but true or false"),
    (["-o"], "option --output needs a value"),
    (["--uid", "notanumber"], "invalid value 'notanumber'"),
    (["-F", "proc.comm~("], "invalid filter 'proc.comm~('"),
    (["-F", "nosuch==1"], "nosuch"),
    (["--sort", "nosuch"], "nosuch"),
]


def ig_run(*args, timeout=30):
    return ig("run", GADGET, *args, timeout=timeout)


def kg_run(api, *args, timeout=60):
    return kg(api, "run", GADGET, "-A", *args, timeout=timeout)


def message(stderr, prog):
    """The error line without the program's prefix and command name."""
    lines = [x for x in stderr.splitlines() if ": error: " in x]
    assert len(lines) == 1, stderr
    m = lines[0].split(": error: ", 1)[1]
    return m.replace("kubectl gadget run", "CMD").replace("ig run", "CMD")


def test_bad_flags_give_the_same_message(apiserver, agent):  # noqa: F811
    for args, words in BAD:
        a = ig_run(*args)
        b = kg_run(apiserver, *args)
        assert a.returncode == 2, (args, a.stderr)
        assert b.returncode == 2, (args, b.stderr)
        assert words in a.stderr, (args, a.stderr)
        assert message(a.stderr, "ig") == message(b.stderr, "kubectl-gadget"), (args, a.stderr,
                                                                               b.stderr)
        assert a.stdout == "" and b.stdout == ""


def test_unknown_option_names_the_command():
    r = ig("run", "-x")
    assert r.returncode == 2 and "see 'ig run --help'" in r.stderr
    r = ig_run("--bogus")
    assert "see 'ig run trace_exec --help' for the run flags and the gadget's params" in r.stderr


def test_same_good_flags_same_records(apiserver, agent, execs):  # noqa: F811
    """The same selection and filter give records of the same shape and content."""
    args = ["-o", "json", "--fields", "comm,args", "-F", "proc.comm==true", "-t", "2"]
    a = ig_run(*args)
    b = kg_run(apiserver, *args)
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    ra = [json.loads(x) for x in a.stdout.splitlines() if execs.marker in x]
    rb = [json.loads(x) for x in b.stdout.splitlines() if execs.marker in x]
    assert ra and rb, (a.stdout[-500:], b.stdout[-500:])
    for r in ra + rb:
        assert r == {"proc": {"comm": "true"}, "args": r["args"]}, r
        assert execs.marker in r["args"]


@pytest.mark.parametrize("timeout", [["-t", "1"], ["--timeout", "1s"], ["--timeout=1000ms"]])
def test_timeout_spellings(apiserver, agent, timeout):  # noqa: F811
    for r in (ig_run(*timeout, "-o", "json"), kg_run(apiserver, *timeout, "-o", "json")):
        assert r.returncode == 0, (timeout, r.stderr)


def test_timeout_zero_means_until_stopped(apiserver, agent):  # noqa: F811
    """-t 0 is accepted by both and runs until a signal."""
    for cmd in ([IG, "run", GADGET, "-t", "0"],):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                p.wait(1.5)
        finally:
            p.terminate()
            p.wait(10)
        assert p.returncode == 0, p.stderr.read()
    r = kg_run(apiserver, "-t", "0", "--detach", "--name", "zero-timeout")
    assert r.returncode == 0, r.stderr
    assert kg(apiserver, "delete", "zero-timeout").returncode == 0


def first_line(p, timeout):
    """The first line a process prints, or None."""
    import select
    r, _, _ = select.select([p.stdout], [], [], timeout)
    return p.stdout.readline() if r else None


def test_header_before_the_first_record(apiserver, agent):  # noqa: F811
    """Columns output shows its header as soon as the gadget runs, not at the first event."""
    nothing = ["-F", "proc.comm==no-such-command-ever", "-t", "2"]
    a = ig_run(*nothing)
    b = kg_run(apiserver, *nothing)
    for r in (a, b):
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) == 1, r.stdout
        assert re.search(r"\bCOMM\b", lines[0]) and re.search(r"\bARGS\b", lines[0]), lines
    # and it is there while the run is still going (not at its end)
    p = subprocess.Popen([IG, "run", GADGET, "-F", "proc.comm==no-such-command-ever"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = first_line(p, 5)
        assert line and "COMM" in line, line
        assert p.poll() is None
    finally:
        p.terminate()
        p.wait(10)
    # --no-header: nothing at all
    for r in (ig_run(*nothing, "--no-header"), kg_run(apiserver, *nothing, "--no-header")):
        assert r.returncode == 0 and r.stdout == "", r.stdout


def test_help_agrees(apiserver, agent):  # noqa: F811
    """`help run` is `run --help`; both CLIs describe the run flags and the gadget alike."""
    a, b = ig("help", "run"), ig("run", "--help")
    assert a.returncode == 0 and a.stdout == b.stdout
    a, b = kg(apiserver, "help", "run"), kg(apiserver, "run", "--help")
    assert a.returncode == 0 and a.stdout == b.stdout

    def flag_lines(text):
        out = {}
        for line in text.splitlines():
            m = re.match(r"\s+(?:-\w, )?--([\w-]+)", line)
            if m:
                out[m.group(1)] = line.strip()
        return out

    fi = flag_lines(ig("run", "--help").stdout)
    fk = flag_lines(kg(apiserver, "run", "--help").stdout)
    for flag in ("output", "fields", "filter", "sort", "max-entries", "map-fetch-count",
                 "timeout", "no-header", "help"):
        assert flag in fi and fi[flag] == fk.get(flag), (flag, fi.get(flag), fk.get(flag))

    gi = ig("run", GADGET, "--help").stdout
    gk = kg(apiserver, "run", GADGET, "--help").stdout

    def section(text, title):
        s = text[text.index(title):]
        return s.split("\n\n")[0]

    assert section(gi, f"Params of {GADGET}:") == section(gk, f"Params of {GADGET}:")

    def own_fields(text):
        s = section(text, f"Fields of data source 'exec' (tracer):").splitlines()[1:]
        return [x for x in s if not x.split()[0].startswith(("k8s.", "runtime."))]

    assert own_fields(gi) == own_fields(gk)
    assert "[json only]" in gi and "(hidden)" not in gi


def test_fields_names_ignore_case():
    """IG's docs write --fields=runtime.containername; field names match without case."""
    r = ig_run("--fields=runtime.containername,COMM,proc.PID", "-t", "0.5",
               "-F", "proc.comm==no-such-command-ever")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["RUNTIME.CONTAINERNAME", "COMM", "PID"], r.stdout


def test_params_with_dashes_or_underscores():
    """A param is found by its key with '-' and '_' alike (IG names them by variable)."""
    for flag in ("--ignore-failed", "--ignore_failed"):
        r = ig_run(flag, "false", "-t", "0.3", "-o", "json")
        assert r.returncode == 0, (flag, r.stderr)
