# SPDX-License-Identifier: Apache-2.0
"""Bad input gets one line of error and a non-zero exit, never a crash."""

import os
import subprocess

import pytest

from conftest import REPO, ig

BPF_FLAGS = ["-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", os.path.join(REPO, "bpf/include"),
             "-I", os.path.join(REPO, "build/gen")]

HEADER = "#include <vmlinux.h>\n#include <bpf/bpf_helpers.h>\n"


def compile_bpf(tmp_path, src, debug=True):
    c = tmp_path / "prog.bpf.c"
    o = tmp_path / "prog.bpf.o"
    c.write_text(HEADER + src + '\nchar LICENSE[] SEC("license") = "GPL";\n')
    subprocess.run(["clang"] + (["-g"] if debug else []) + BPF_FLAGS + ["-c", str(c), "-o", str(o)],
                   check=True)
    return str(o)


def assert_one_line_error(r, *needles):
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ig: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def test_not_an_elf(tmp_path):
    f = tmp_path / "junk.o"
    f.write_bytes(os.urandom(4096))
    assert_one_line_error(ig("run", str(f)), "ELF")


def test_truncated_elf(tmp_path):
    good = os.path.join(REPO, "build/gadgets/trace_open/program.bpf.o")
    data = open(good, "rb").read()
    f = tmp_path / "trunc.o"
    f.write_bytes(data[: len(data) // 3])
    r = ig("run", str(f))
    assert_one_line_error(r)


def test_elf_without_btf(tmp_path):
    o = compile_bpf(tmp_path, 'SEC("tracepoint/syscalls/sys_enter_getppid") int h(void *c) { return 0; }',
                    debug=False)
    assert_one_line_error(ig("run", o), "BTF")


def test_no_data_source(tmp_path):
    o = compile_bpf(tmp_path, 'SEC("tracepoint/syscalls/sys_enter_getppid") int h(void *c) { return 0; }')
    assert_one_line_error(ig("run", o), "data source")


def test_unknown_gadget():
    assert_one_line_error(ig("run", "no_such_gadget_xyz"), "no_such_gadget_xyz")


def test_unknown_param():
    assert_one_line_error(ig("run", "trace_open", "--no-such-param", "1"), "--no-such-param")


@pytest.mark.parametrize("value", ["abc", "-5", "99999999999999999999"])
def test_bad_param_value(value):
    r = ig("run", "trace_open", "--pid", value, "-t", "1")
    assert_one_line_error(r, value)


@pytest.mark.parametrize("expr,needle", [
    ("nosuchfield==1", "nosuchfield"),
    ("fname", "OP"),
    ("fd>abc", "abc"),
    ("fname~(", "regular expression"),
])
def test_invalid_filter(expr, needle):
    assert_one_line_error(ig("run", "trace_open", "-F", expr, "-t", "1"), needle)


def test_unknown_field():
    assert_one_line_error(ig("run", "trace_open", "--fields", "fname,bogus", "-t", "1"), "bogus")


def test_bad_output_format():
    assert_one_line_error(ig("run", "trace_open", "-o", "xml", "-t", "1"), "xml")


def test_unsupported_hook_kprobe(tmp_path):
    o = compile_bpf(tmp_path, """
struct event { __u32 pid; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
const void *gadget_tracer_x___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_x __attribute__((unused));
SEC("kprobe/do_sys_openat2") int h(void *c) { return 0; }
""")
    assert_one_line_error(ig("run", o, "-t", "1"), "kprobe")


def test_unsupported_hook_fentry(tmp_path):
    o = compile_bpf(tmp_path, """
struct event { __u32 pid; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
const void *gadget_tracer_x___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_x __attribute__((unused));
SEC("fentry/do_sys_openat2") int h(void *c) { return 0; }
""")
    assert_one_line_error(ig("run", o, "-t", "1"), "fentry")


def test_missing_tracepoint(tmp_path):
    o = compile_bpf(tmp_path, """
struct event { __u32 pid; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
const void *gadget_tracer_x___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_x __attribute__((unused));
SEC("tracepoint/syscalls/sys_enter_no_such_call") int h(void *c) { return 0; }
""")
    assert_one_line_error(ig("run", o, "-t", "1"), "sys_enter_no_such_call")


def test_broken_gadget_yaml(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    src = os.path.join(REPO, "build/gadgets/trace_open/program.bpf.o")
    (d / "program.bpf.o").write_bytes(open(src, "rb").read())
    (d / "gadget.yaml").write_text("name: x\ndatasources: [oops\n")
    assert_one_line_error(ig("run", str(d)), "gadget.yaml")


def test_help_lists_params_and_fields():
    r = ig("run", "trace_open", "--help")
    assert r.returncode == 0, r.stderr
    import yaml
    meta = yaml.safe_load(open(os.path.join(REPO, "gadgets/trace_open/gadget.yaml")))
    failed = meta["params"]["ebpf"]["targ_failed"]
    line = next(l for l in r.stdout.splitlines() if l.strip().startswith("--failed "))
    assert failed["description"] in line and "default: false" in line
    pid = next(l for l in r.stdout.splitlines() if l.strip().startswith("--pid "))
    assert "process" in pid
    for field, ann in meta["datasources"]["open"]["fields"].items():
        row = next((l for l in r.stdout.splitlines() if l.split()[:1] == [field]), None)
        assert row, f"field {field} missing from --help"
        desc = (ann or {}).get("annotations", {}).get("description")
        if desc:
            assert desc in row


def test_version():
    r = ig("version")
    assert r.returncode == 0 and r.stdout.startswith("ig version ")


def test_timeout_exits_cleanly():
    r = ig("run", "trace_open", "-o", "json", "-t", "500ms", timeout=20)
    assert r.returncode == 0, r.stderr
