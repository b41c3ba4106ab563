/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hooks: where a gadget program runs, as named by its ELF section
 * ("tracepoint/syscalls/sys_enter_openat", "kprobe/do_sys_open", "iter/task").
 *
 * This module attaches programs by their section and, when the kernel lacks a
 * hook, says so in one line that names it, which is what a user running a
 * gadget written for another kernel needs to read.
 */
#ifndef BPF_HOOK_H
#define BPF_HOOK_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_program;
struct bpf_link;
struct bpf_diag;

enum bpf_hook_kind {
	BPF_HOOK_OTHER = 0,
	BPF_HOOK_TRACEPOINT,	 /* tracepoint/, tp/ */
	BPF_HOOK_RAW_TRACEPOINT, /* raw_tracepoint/, raw_tp/ */
	BPF_HOOK_TP_BTF,	 /* tp_btf/ */
	BPF_HOOK_KPROBE,	 /* kprobe/, kretprobe/, ksyscall/, kprobe.multi/ ... */
	BPF_HOOK_UPROBE,	 /* uprobe, uretprobe, usdt */
	BPF_HOOK_FENTRY,	 /* fentry/, fexit/, fmod_ret/ */
	BPF_HOOK_LSM,		 /* lsm/ */
	BPF_HOOK_ITER,		 /* iter/, iter.s/: run on demand, never attached here */
	BPF_HOOK_SOCKET,	 /* socket filters: attached to a socket by the caller */
};

/* Whether this kernel can attach kprobes at all (the kprobe PMU or kprobe_events). */
bool bpf_hook_kprobes_available(void);

/* Classifies a section name; *target (may be NULL) points after the first '/'. */
enum bpf_hook_kind bpf_hook_kind(const char *sec, const char **target);

/*
 * Attaches prog by its section name.  Returns 0 with a new link in *ret, 0
 * with *ret NULL when the program is not attached automatically (iter/,
 * socket filters, sections libbpf cannot attach without more context), or
 * -errno with the reason in err: "program 'x': cannot attach
 * kprobe/do_sys_open: kprobes are not available on this kernel".
 */
int bpf_hook_attach(struct bpf_program *prog, struct bpf_link **ret, char *err, size_t err_len);

/*
 * Describes why loading an object failed, in one line: which program and
 * hook, and why, from the errno and what libbpf said (d).  prog may be NULL
 * when libbpf named no program.
 */
void bpf_hook_explain_load(const struct bpf_program *prog, int error, const struct bpf_diag *d,
			   char *buf, size_t len);

#endif /* BPF_HOOK_H */
