// SPDX-License-Identifier: GPL-2.0
/*
 * trace_exec: one record per execve(2)/execveat(2).
 *
 * sys_enter_execve* copies argv into a per-thread slot while the caller's
 * memory still holds it.  A successful exec then shows up as
 * sched_process_exec, raised by the new program, which emits the record;
 * a failed one only reaches sys_exit_execve*, which emits it when
 * ignore_failed is off.  Both exits free the slot.
 *
 * Records are variable-sized: only the used part of args is sent, so a
 * short command line costs a few hundred bytes, not the full 5 KiB.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define ARGSIZE	       256 /* longest argument kept, with its NUL */
#define TOTAL_MAX_ARGS 20
#define FULL_MAX_ARGS  (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG       (FULL_MAX_ARGS - ARGSIZE) /* last offset where a whole argument fits */

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_uid loginuid;
	__u32 sessionid;
	gadget_errno error_raw;
	__u32 args_count;
	__u32 args_size;
	char cwd[GADGET_PATH_MAX];
	char args[FULL_MAX_ARGS]; /* argv, each NUL-terminated; keep last */
};

const volatile bool ignore_failed = true;
GADGET_PARAM(ignore_failed);

const volatile bool paths = false;
GADGET_PARAM(paths);

static const struct event empty_event = {};

/*
 * Keyed by the thread that called execve.  On success the kernel renames
 * that thread to the thread group leader's id (de_thread()), which is why
 * sched_process_exec reports the old id too.  LRU, so that slots of threads
 * that died between entry and exit (de_thread() kills the other threads of
 * an exec'ing process) are eventually reused.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(exec, events, event);

static __always_inline void read_argv(struct event *e, const char *const *argv)
{
	for (int i = 0; i < TOTAL_MAX_ARGS; i++) {
		const char *arg = NULL;
		__u32 off = e->args_size;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return;
		if (off > LAST_ARG)
			return;
		n = bpf_probe_read_user_str(&e->args[off], ARGSIZE, arg);
		if (n <= 0)
			return;
		e->args_count++;
		e->args_size = off + n;
	}
}

/*
 * At sched_process_exec the kernel has just copied argv onto the new stack,
 * so it is resident.  Reading it at syscall entry instead fails when the
 * caller's strings sit in pages it has not touched since fork (a string
 * literal in a freshly forked child): bpf_probe_read_user() cannot fault
 * them in.  The entry copy remains for failed execs, which never get here.
 */
static __always_inline void read_argv_from_mm(struct event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u32 size, last, count = 0;

	if (!mm || end <= start)
		return;
	size = end - start > FULL_MAX_ARGS ? FULL_MAX_ARGS : end - start;
	if (size == 0 || size > FULL_MAX_ARGS)
		return;
	if (bpf_probe_read_user(e->args, size, (const void *)start))
		return;
	last = size - 1;
	if (last < FULL_MAX_ARGS)
		e->args[last] = '\0'; /* truncated: keep it a string */
	for (__u32 i = 0; i < FULL_MAX_ARGS; i++) {
		if (i >= size)
			break;
		if (e->args[i] == '\0')
			count++;
	}
	e->args_size = size;
	e->args_count = count;
}

static __always_inline int enter_exec(const char *const *argv)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	/*
	 * Only the container filter here: comm (and possibly uid) change with
	 * the exec, and --comm should match the program being started, so the
	 * other filters are applied when the record is emitted.
	 */
	if (gadget_filter_by_mntns && gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_ANY))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	read_argv(e, argv);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_execve_e(struct syscall_trace_enter *ctx)
{
	return enter_exec((const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ig_execveat_e(struct syscall_trace_enter *ctx)
{
	return enter_exec((const char *const *)ctx->args[2]);
}

static __always_inline void emit(void *ctx, struct event *e, gadget_errno error)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 size;

	if (gadget_should_discard_data_current())
		return;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->sessionid = BPF_CORE_READ(task, sessionid);
	e->error_raw = error;
	if (paths) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		void *cwd = get_path_str(&fs->pwd);

		if (!cwd || bpf_probe_read_kernel_str(e->cwd, sizeof(e->cwd), cwd) < 0)
			e->cwd[0] = '\0';
	}

	size = __builtin_offsetof(struct event, args) + e->args_size;
	if (size > sizeof(*e))
		size = sizeof(*e);
	gadget_output_buf(ctx, &events, e, size);
}

SEC("tracepoint/sched/sched_process_exec")
int ig_sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = ctx->old_pid;
	struct event *e;

	e = bpf_map_lookup_elem(&execs, &old_tid);
	if (!e)
		return 0;
	read_argv_from_mm(e);
	emit(ctx, e, 0);
	bpf_map_delete_elem(&execs, &old_tid);
	return 0;
}

/* Reached with the slot still present only when the exec failed. */
static __always_inline int exit_exec(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	if (!ignore_failed && ctx->ret < 0)
		emit(ctx, e, -ctx->ret);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int ig_execve_x(struct syscall_trace_exit *ctx)
{
	return exit_exec(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int ig_execveat_x(struct syscall_trace_exit *ctx)
{
	return exit_exec(ctx);
}

char LICENSE[] SEC("license") = "GPL";
