/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <bpf/bpf_tracing.h> plus what older libbpf releases lack.
 *
 * Gadget sources expect the macros of a recent libbpf (1.2 and later):
 * BPF_UPROBE(), BPF_URETPROBE(), PT_REGS_PARM6_CORE_SYSCALL() and six-argument
 * BPF_KPROBE().  Debian 12
 * ships libbpf 1.1, so they are defined here when missing, in terms of what
 * 1.1 has.  Several gadget headers include this one, as gadget sources rely
 * on getting bpf_tracing.h through them.
 */
#ifndef GADGET_TRACING_COMPAT_H
#define GADGET_TRACING_COMPAT_H

#include <bpf/bpf_tracing.h>

/* uprobes take the same struct pt_regs context as kprobes. */
#ifndef BPF_UPROBE
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif
#ifndef BPF_URETPROBE
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif

/* The sixth syscall argument register; x86-64 passes it in r9. */
#ifndef PT_REGS_PARM6_CORE_SYSCALL
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ(x, r9)
#elif defined(__TARGET_ARCH_arm64)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ((struct user_pt_regs *)(x), regs[5])
#endif
#endif

/*
 * BPF_KPROBE() with a sixth argument: libbpf 1.1 stops at five.  Only on
 * x86-64, where the sixth argument of a function is in r9.
 */
#if defined(__TARGET_ARCH_x86) && !defined(PT_REGS_PARM6)
#define PT_REGS_PARM6(x)      (((const struct pt_regs *)(x))->r9)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ((const struct pt_regs *)(x), r9)
#endif
#if defined(PT_REGS_PARM6) && !defined(___bpf_kprobe_args6)
#define ___bpf_kprobe_args6(x, args...) ___bpf_kprobe_args5(args), (void *)PT_REGS_PARM6(ctx)
#endif

#endif /* GADGET_TRACING_COMPAT_H */
