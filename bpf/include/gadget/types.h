/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Types with a meaning the runtime understands.
 *
 * The userspace runtime recognises the typedef and struct names below in a
 * record's BTF and treats such fields specially: it turns a mount namespace
 * id into container and pod names, a boot-time timestamp into wall-clock
 * time, an errno into its name, and so on.  Names and members are therefore
 * part of the gadget ABI (shared with Inspektor Gadget) and must not change.
 *
 * Convention: a field whose name ends in "_raw" keeps the number the kernel
 * gave; the runtime adds a rendered field of the same name without the
 * suffix ("error_raw" -> "error": "ENOENT") and hides the raw one by default.
 *
 * Include <vmlinux.h> or <linux/types.h> first: this header needs __u8 etc.
 */
#ifndef GADGET_TYPES_H
#define GADGET_TYPES_H

/* bool comes from vmlinux.h when it is used, from stdbool.h otherwise. */
#if !defined(__VMLINUX_H__)
#include <stdbool.h>
#endif

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* An IPv4 address (network byte order, in v4) or an IPv6 one (v6). */
union gadget_ip_addr_t {
	__u8 v6[16];
	unsigned __int128 v6_raw;
	__u32 v4;
};

/* A network address; version is 4 or 6 and says which member of addr_raw is set. */
struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version;
};

/*
 * A transport endpoint: address, port in host byte order, IP protocol number
 * (IPPROTO_TCP = 6, IPPROTO_UDP = 17) and IP version (4 or 6).
 */
struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;
	__u16 proto_raw;
	__u8 version;
};

/* Inode number of a mount namespace (/proc/PID/ns/mnt): names the container. */
typedef __u64 gadget_mntns_id;

/* Inode number of a network namespace (/proc/PID/ns/net). */
typedef __u32 gadget_netns_id;

/* Nanoseconds since boot, as bpf_ktime_get_boot_ns() returns; shown as wall-clock time. */
typedef __u64 gadget_timestamp;

/* A signal number; shown by name ("SIGKILL"). */
typedef __u32 gadget_signal;

/* A positive errno value, 0 for success; shown by name ("ENOENT"). */
typedef __u32 gadget_errno;

/* User and group ids; shown with the names the host's passwd/group give them. */
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;

/* A system call number of the gadget's architecture; shown by name. */
typedef __u64 gadget_syscall;

/* st_mode style bits; shown as "-rw-r--r--". */
typedef __u32 gadget_file_mode;

/* open(2) flags; shown as "O_RDONLY|O_CLOEXEC". */
typedef __u32 gadget_file_flags;

/* A stack id in the kernel stack map of gadget/kernel_stack_map.h. */
typedef __u32 gadget_kernel_stack;

/* Process identity, userspace terms: pid is the thread group id, tid the thread id. */
typedef __u32 gadget_pid;
typedef __u32 gadget_ppid;
typedef __u32 gadget_tid;
typedef __u32 gadget_ptid;
typedef char gadget_comm;
typedef char gadget_pcomm;

/* A size in bytes, shown scaled ("4.2 MB"); a duration in nanoseconds ("12ms"). */
typedef __u64 gadget_bytes;
typedef __u64 gadget_duration;

/* Metric kinds for gadgets that export counters, gauges or histograms. */
typedef __u32 gadget_counter__u32;
typedef __u64 gadget_counter__u64;
typedef __u32 gadget_gauge__u32;
typedef __u64 gadget_gauge__u64;
typedef __u32 gadget_histogram_slot__u32;
typedef __u64 gadget_histogram_slot__u64;

/*
 * A user stack captured by gadget/user_stack_map.h.  stack_id indexes the
 * user stack map; the other members identify the executable and the
 * address space so that userspace can symbolise the addresses later.  All
 * zero when collection is off.
 */
struct gadget_user_stack {
	__u32 major; /* device of the executable */
	__u32 minor;
	__u64 inode;	 /* inode of the executable */
	__u64 mtime_sec; /* its modification time */
	__u32 mtime_nsec;
	__u32 base_addr_hash; /* FNV-1a of (mm, start_code, start_stack): changes at exec */
	__u32 stack_id;
	/* Thread ids in the initial pid namespace and one level below it. */
	__u32 tgid_level0;
	__u32 pid_level0;
	__u32 pidns_level0;
	__u32 pid_level1;
	__u32 pidns_level1;
	__u64 otel_correlation_id; /* always 0 here */
	__u64 boot_timestamp;	   /* bpf_ktime_get_boot_ns() when captured */
};

struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_parent {
	gadget_pcomm comm[TASK_COMM_LEN];
	gadget_ppid pid;
	gadget_ptid tid;
};

/* The process an event belongs to; filled by gadget_process_populate(). */
struct gadget_process {
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	gadget_mntns_id mntns_id;
	struct gadget_creds creds;
	struct gadget_parent parent;
};

/* Longest path kept in the optional members of struct gadget_socket_value. */
#define GADGET_SE_PATH_MAX 4096

/*
 * What the socket map (gadget/sockets-map.h) records about the process that
 * owns a socket.  The leading members are always present; the ones after
 * optional_fields_start may be left empty by whoever fills the map.
 *
 * Unlike Inspektor Gadget we do not mark this struct preserve_access_index:
 * the type exists in no kernel BTF, so with libbpf every CO-RE access to it
 * would fail to relocate and poison the program.  Plain offsets are right
 * because the map and its readers are compiled together.  A
 * bpf_core_field_exists() check on it evaluates to false at load time.
 */
struct gadget_socket_value {
	__u64 mntns;
	__u64 pid_tgid;
	__u64 uid_gid;
	char task[TASK_COMM_LEN];
	char ptask[TASK_COMM_LEN];
	__u64 sock;
	__u64 deletion_timestamp;
	__u32 ppid;
	__u32 ptid;
	char ipv6only;

	char optional_fields_start[0] __attribute__((aligned(8)));
	char cwd[GADGET_SE_PATH_MAX];
	char exepath[GADGET_SE_PATH_MAX];
};

#endif /* GADGET_TYPES_H */
