/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Common event filters, evaluated in the kernel so that dropped events cost
 * no ring buffer space and no wakeups.
 *
 * Including this header gives every gadget the params targ_pid, targ_tid,
 * targ_uid, targ_gid and targ_comm, plus the container filter of
 * gadget/mntns_filter.h.  The words are userspace ones: "pid" is the thread
 * group id (the kernel's tgid), "tid" the thread id (the kernel's pid).
 * A pid/tid of 0, a uid/gid of GADGET_INVALID_ID and an empty comm mean
 * "do not filter on this".
 *
 * Networking gadgets (socket filters, tc) define GADGET_TYPE_NETWORKING
 * before including this header: they run outside any process context, so
 * gadget_should_discard_data_current() is not available to them; they filter
 * with gadget_should_discard_data_by_skb() on what gadget/sockets-map.h
 * found for the packet.
 */
#ifndef GADGET_FILTER_H
#define GADGET_FILTER_H

#include <bpf/bpf_helpers.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/mntns_filter.h>
#ifndef GADGET_TYPE_NETWORKING
#include <gadget/mntns.h>
#endif

#define GADGET_INVALID_ID ((gadget_uid)-1)

const volatile gadget_pid targ_pid = 0;
GADGET_PARAM(targ_pid);

const volatile gadget_tid targ_tid = 0;
GADGET_PARAM(targ_tid);

const volatile gadget_uid targ_uid = GADGET_INVALID_ID;
GADGET_PARAM(targ_uid);

const volatile gadget_gid targ_gid = GADGET_INVALID_ID;
GADGET_PARAM(targ_gid);

const volatile gadget_comm targ_comm[TASK_COMM_LEN] = {};
GADGET_PARAM(targ_comm);

static __always_inline bool gadget_should_discard_pid(gadget_pid pid)
{
	return targ_pid != 0 && pid != targ_pid;
}

static __always_inline bool gadget_should_discard_tid(gadget_tid tid)
{
	return targ_tid != 0 && tid != targ_tid;
}

static __always_inline bool gadget_should_discard_uid(gadget_uid uid)
{
	return targ_uid != GADGET_INVALID_ID && uid != targ_uid;
}

static __always_inline bool gadget_should_discard_gid(gadget_gid gid)
{
	return targ_gid != GADGET_INVALID_ID && gid != targ_gid;
}

/* comm must hold TASK_COMM_LEN bytes; the comparison stops at targ_comm's NUL. */
static __always_inline bool gadget_should_discard_comm(const gadget_comm *comm)
{
	if (targ_comm[0] == '\0')
		return false;
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return true;
		if (comm[i] == '\0')
			break;
	}
	return false;
}

static __always_inline bool __gadget_filter_active(void)
{
	return gadget_filter_by_mntns || targ_pid != 0 || targ_tid != 0 ||
	       targ_uid != GADGET_INVALID_ID || targ_gid != GADGET_INVALID_ID ||
	       targ_comm[0] != '\0';
}

/* True when an event with these attributes is to be dropped. */
static __always_inline bool gadget_should_discard_data(gadget_mntns_id mntns_id, gadget_pid pid,
						       gadget_tid tid, const gadget_comm *comm,
						       gadget_uid uid, gadget_gid gid)
{
	return gadget_should_discard_mntns_id(mntns_id) || gadget_should_discard_pid(pid) ||
	       gadget_should_discard_tid(tid) || gadget_should_discard_uid(uid) ||
	       gadget_should_discard_gid(gid) || gadget_should_discard_comm(comm);
}

#ifndef GADGET_TYPE_NETWORKING
/*
 * True when an event raised by the current task is to be dropped.  Each
 * filter reads only what it needs, and only when it is set, so the common
 * case (no filter) costs a few loads of constants the verifier folds away.
 */
static __always_inline bool gadget_should_discard_data_current(void)
{
	if (gadget_filter_by_mntns && gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return true;

	if (targ_pid != 0 || targ_tid != 0) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		if (gadget_should_discard_pid(pid_tgid >> 32) ||
		    gadget_should_discard_tid((__u32)pid_tgid))
			return true;
	}

	if (targ_uid != GADGET_INVALID_ID || targ_gid != GADGET_INVALID_ID) {
		__u64 uid_gid = bpf_get_current_uid_gid();

		if (gadget_should_discard_uid((__u32)uid_gid) ||
		    gadget_should_discard_gid(uid_gid >> 32))
			return true;
	}

	if (targ_comm[0] != '\0') {
		char comm[TASK_COMM_LEN] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (gadget_should_discard_comm(comm))
			return true;
	}

	return false;
}
#endif /* GADGET_TYPE_NETWORKING */

/*
 * Filter for packets: sv is what the socket map knows about the socket the
 * packet belongs to, NULL if nothing.  Unknown sockets pass only when no
 * filter is set at all.
 */
static __always_inline bool gadget_should_discard_data_by_skb(struct gadget_socket_value *sv)
{
	if (!sv)
		return __gadget_filter_active();
	return gadget_should_discard_data(sv->mntns, sv->pid_tgid >> 32, (__u32)sv->pid_tgid,
					  sv->task, (__u32)sv->uid_gid, sv->uid_gid >> 32);
}

#endif /* GADGET_FILTER_H */
