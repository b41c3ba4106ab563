// SPDX-License-Identifier: GPL-2.0
/*
 * trace_open: one record per open(2), openat(2) and openat2(2) call.
 *
 * The entry tracepoint saves the arguments per thread; the exit tracepoint
 * pairs them with the result and emits the record.  The file name is read
 * from the caller's memory at exit, where it is still mapped, so the
 * in-flight map stays small.  Only syscall tracepoints are used, so this
 * works on kernels without kprobes.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define NAME_MAX 255

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_errno error_raw;
	__u32 fd;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	char fname[NAME_MAX + 1];
};

/* What the entry saw, until the exit of the same thread. */
struct args {
	const char *fname;
	__u32 flags;
	__u32 mode;
};

const volatile bool targ_failed = false;
GADGET_PARAM(targ_failed);

/*
 * LRU: a thread that blocks for ever in open() (on a FIFO, say) must not
 * hold a slot that newer calls need.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* thread id */
	__type(value, struct args);
} start SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(open, events, event);

static __always_inline int enter(const char *fname, __u32 flags, __u32 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args a = {
		.fname = fname,
		.flags = flags,
		.mode = mode,
	};

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int leave(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct event *e;
	struct args *a;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0; /* filtered out, or entered before we attached */
	if (targ_failed && ret >= 0)
		goto out;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto out;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->error_raw = ret < 0 ? -ret : 0;
	e->fd = ret < 0 ? 0 : ret;
	e->flags_raw = a->flags;
	e->mode_raw = a->mode;
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#ifdef __TARGET_ARCH_x86
/* open(2) only exists on older architectures; arm64 has openat alone. */
SEC("tracepoint/syscalls/sys_enter_open")
int ig_open_e(struct syscall_trace_enter *ctx)
{
	return enter((const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int ig_open_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}
#endif

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_openat_e(struct syscall_trace_enter *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_openat_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

/* openat2(dfd, filename, struct open_how *how, size): flags and mode are in *how. */
SEC("tracepoint/syscalls/sys_enter_openat2")
int ig_openat2_e(struct syscall_trace_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int ig_openat2_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

char LICENSE[] SEC("license") = "GPL";
