// SPDX-License-Identifier: GPL-2.0
/*
 * trace_open: one record per open(2), openat(2) and openat2(2) call.
 *
 * Only the exit tracepoints are used: the arguments are read back from the
 * user registers the kernel saved at syscall entry (bpf_task_pt_regs()),
 * which the syscall leaves untouched, and the file name from the caller's
 * memory, where it is still mapped.  Compared with saving the arguments per
 * thread at entry, that is one tracepoint hit and no hash map update and
 * delete per call, about a third of what tracing an open costs, and calls
 * already in flight when the gadget attaches are reported too.  Only
 * syscall tracepoints are used, so this works on kernels without kprobes.
 *
 * The fields are those of Inspektor Gadget's trace_open: with --paths,
 * fpath is the path of the file opened, symlinks resolved, rebuilt in the
 * kernel from the new descriptor; with --collect-ustack the record carries
 * the caller's user stack.  fpath is the last field and is only sent with
 * --paths, so that records stay small without it.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

#define NAME_MAX 255

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_errno error_raw;
	__u32 fd;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	struct gadget_user_stack ustack;
	char fname[NAME_MAX + 1];
	char fpath[GADGET_PATH_MAX]; /* keep last: sent only with --paths */
};

const volatile bool targ_failed = false;
GADGET_PARAM(targ_failed);

const volatile bool paths = false;
GADGET_PARAM(paths);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(open, events, event);

static __always_inline int emit(struct syscall_trace_exit *ctx, const char *fname, __u32 flags,
				__u32 mode)
{
	long ret = ctx->ret;
	struct event *e;

	if (targ_failed && ret >= 0)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	/* paths is constant once loaded: the verifier sees one fixed size */
	if (paths)
		e = gadget_reserve_buf(&events, sizeof(*e));
	else
		e = gadget_reserve_buf(&events, __builtin_offsetof(struct event, fpath));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->error_raw = ret < 0 ? -ret : 0;
	e->fd = ret < 0 ? 0 : ret;
	e->flags_raw = flags;
	e->mode_raw = mode;
	gadget_get_user_stack_from_tracepoint(ctx, &e->ustack);
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), fname) < 0)
		e->fname[0] = '\0';
	if (paths) {
		if (ret < 0 || read_full_path_of_open_file_fd(ret, e->fpath, sizeof(e->fpath)) <= 0)
			e->fpath[0] = '\0';
		gadget_submit_buf(ctx, &events, e, sizeof(*e));
	} else {
		gadget_submit_buf(ctx, &events, e, __builtin_offsetof(struct event, fpath));
	}
	return 0;
}

/* The registers of the calling thread as saved on syscall entry. */
static __always_inline struct pt_regs *entry_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#ifdef __TARGET_ARCH_x86
/* open(2) only exists on older architectures; arm64 has openat alone. */
SEC("tracepoint/syscalls/sys_exit_open")
int ig_open_x(struct syscall_trace_exit *ctx)
{
	struct pt_regs *r = entry_regs();

	return emit(ctx, (const char *)PT_REGS_PARM1_CORE_SYSCALL(r), PT_REGS_PARM2_CORE_SYSCALL(r),
		    PT_REGS_PARM3_CORE_SYSCALL(r));
}
#endif

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_openat_x(struct syscall_trace_exit *ctx)
{
	struct pt_regs *r = entry_regs();

	return emit(ctx, (const char *)PT_REGS_PARM2_CORE_SYSCALL(r), PT_REGS_PARM3_CORE_SYSCALL(r),
		    PT_REGS_PARM4_CORE_SYSCALL(r));
}

/* openat2(dfd, filename, struct open_how *how, size): flags and mode are in *how. */
SEC("tracepoint/syscalls/sys_exit_openat2")
int ig_openat2_x(struct syscall_trace_exit *ctx)
{
	struct pt_regs *r = entry_regs();
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_CORE_SYSCALL(r));
	return emit(ctx, (const char *)PT_REGS_PARM2_CORE_SYSCALL(r), how.flags, how.mode);
}

char LICENSE[] SEC("license") = "GPL";
