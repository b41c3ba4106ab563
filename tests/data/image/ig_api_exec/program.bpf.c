// SPDX-License-Identifier: GPL-2.0
/*
 * A gadget written the way Inspektor Gadget gadgets are, with only its
 * gadget API: the tests build it with `ig image build` and run it from the
 * store, to show that such sources build here unchanged.
 *
 * One record per execve(2) entry: who called it and the path it asked for.
 * The mount namespace filter and a param are the parts of the API a
 * typical gadget uses besides the tracer.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

#define PATH_BYTES 256

struct event {
	gadget_timestamp timestamp_raw;
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_uid uid;
	gadget_comm comm[TASK_COMM_LEN];
	char filename[PATH_BYTES];
};

/* Only execs by this user id; the default lets every user through. */
const volatile gadget_uid wanted_uid = (gadget_uid)-1;
GADGET_PARAM(wanted_uid);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(exec, events, event);

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_api_execve(struct trace_event_raw_sys_enter *ctx)
{
	gadget_mntns_id mntns_id = gadget_get_current_mntns_id();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct event *e;

	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;
	if (wanted_uid != (gadget_uid)-1 && uid != wanted_uid)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->mntns_id = mntns_id;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = uid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
