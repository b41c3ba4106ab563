// SPDX-License-Identifier: GPL-2.0
/*
 * top_file: reads and writes per file and per process, summed in a hash map
 * that the runtime fetches (and clears) at every interval.
 *
 * The read/write family of syscalls is traced at entry, to remember the
 * descriptor, and at exit, where the result says how many bytes moved.
 * The descriptor is resolved to its struct file at exit, so the path is
 * that of the file actually used.  The path is computed once, when an
 * entry is created.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

#define S_IFMT	 00170000
#define S_IFSOCK 0140000
#define S_IFREG	 0100000

#define MAX_ENTRIES 10240

enum op {
	READ,
	WRITE,
};

enum type {
	R, /* regular file */
	S, /* socket */
	O, /* other: pipes, devices, ... */
};

struct file_id {
	__u64 inode;
	__u32 dev;
	__u64 __pid_tgid; /* leading "__": part of the key, not shown */
};

struct file_stat {
	struct gadget_process proc;
	__u64 reads;
	gadget_bytes rbytes_raw;
	__u64 writes;
	gadget_bytes wbytes_raw;
	char file[GADGET_PATH_MAX];
	enum type t_raw;
};

/* By default only regular files are counted. */
const volatile bool all_files = false;
GADGET_PARAM(all_files);

static const struct file_stat zero_value = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct file_id);
	__type(value, struct file_stat);
} stats SEC(".maps");

GADGET_MAPITER(file, stats);

/* Descriptor and direction of the read or write in flight, per thread. */
struct pending {
	int fd;
	enum op op;
};

/* LRU: threads blocked in read() for a long time must not crowd out active ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct pending);
} inflight SEC(".maps");

static __always_inline int enter(struct syscall_trace_enter *ctx, enum op op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = {
		.fd = (int)ctx->args[0],
		.op = op,
	};

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&inflight, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline void account(struct file *file, enum op op, __u64 bytes)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 mode = BPF_CORE_READ(inode, i_mode);
	struct file_stat *st;
	struct file_id key;
	enum type t;

	if ((mode & S_IFMT) == S_IFREG)
		t = R;
	else if ((mode & S_IFMT) == S_IFSOCK)
		t = S;
	else
		t = O;
	if (t != R && !all_files)
		return;

	/* The key has padding after dev: clear all of it, it is hashed. */
	__builtin_memset(&key, 0, sizeof(key));
	key.inode = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.__pid_tgid = bpf_get_current_pid_tgid();

	st = bpf_map_lookup_or_try_init(&stats, &key, &zero_value);
	if (!st)
		return;
	if (st->proc.pid == 0) {
		/* New entry: describe it once. */
		void *path = get_path_str(&file->f_path);

		gadget_process_populate(&st->proc);
		st->t_raw = t;
		if (!path || bpf_probe_read_kernel_str(st->file, sizeof(st->file), path) < 0)
			st->file[0] = '\0';
	}
	if (op == READ) {
		__sync_fetch_and_add(&st->reads, 1);
		__sync_fetch_and_add(&st->rbytes_raw, bytes);
	} else {
		__sync_fetch_and_add(&st->writes, 1);
		__sync_fetch_and_add(&st->wbytes_raw, bytes);
	}
}

static __always_inline int leave(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct pending *p;
	struct file *file;

	p = bpf_map_lookup_elem(&inflight, &tid);
	if (!p)
		return 0;
	if (ret >= 0) {
		file = get_struct_file_for_fd(p->fd);
		if (file)
			account(file, p->op, ret);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

#define TRACE(name, op)                                                                            \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int ig_topfile_##name##_e(struct syscall_trace_enter *ctx)                                 \
	{                                                                                          \
		return enter(ctx, op);                                                             \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int ig_topfile_##name##_x(struct syscall_trace_exit *ctx)                                  \
	{                                                                                          \
		return leave(ctx);                                                                 \
	}

TRACE(read, READ)
TRACE(readv, READ)
TRACE(pread64, READ)
TRACE(write, WRITE)
TRACE(writev, WRITE)
TRACE(pwrite64, WRITE)

char LICENSE[] SEC("license") = "GPL";
