/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths of open files, rebuilt in the kernel from dentries and mounts.
 *
 * get_path_str() walks from a struct path up to the root of its mount tree
 * (like the kernel's d_absolute_path(), not relative to the task's chroot),
 * crossing mount points on the way, and writes the names right to left into
 * a per-CPU scratch buffer.  The result is only valid until the next call on
 * the same CPU, so copy it out at once (bpf_probe_read_kernel_str()).
 *
 * Limits: at most GADGET_PATH_MAX_COMPONENTS names and PATH_MAX - 1 bytes;
 * a longer path keeps its deepest components.  Files that live on no
 * mounted tree (memfd, pipes, sockets, anonymous inodes) give their dentry
 * name, which is empty for pipes and sockets.
 */
#ifndef GADGET_FILESYSTEM_H
#define GADGET_FILESYSTEM_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Size of the path fields gadgets put in their records. */
#define GADGET_PATH_MAX 512

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#ifndef GADGET_PATH_MAX_COMPONENTS
#define GADGET_PATH_MAX_COMPONENTS 64
#endif

/*
 * The scratch buffer is twice PATH_MAX: names are written below offset
 * PATH_MAX and every index and length is masked with PATH_MAX - 1, which
 * lets the verifier see that no write can leave the buffer.
 *
 * The write position lives in the map value too, not in a register, and
 * is read back through a volatile access on each step.  The verifier then
 * knows nothing of it but its mask, so the states of successive loop
 * iterations (and of the "name" and "mount point" branches) look alike and
 * can be pruned; a position tracked exactly would make every iteration
 * distinct and exhaust the verifier's instruction budget.
 */
#define __GADGET_PATH_HALF 4096
#define __GADGET_PATH_MASK (__GADGET_PATH_HALF - 1)

struct __gadget_path_buf {
	char data[2 * __GADGET_PATH_HALF];
	__u32 pos; /* the path starts at data[pos]; its NUL is at data[HALF - 1] */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct __gadget_path_buf);
} gadget_path_bufs SEC(".maps");

#define __gadget_path_pos(b) (*(volatile __u32 *)&(b)->pos)

static __always_inline struct mount *__gadget_real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

/*
 * Prepends "/" and the name of dentry to the path in b.  False when it does
 * not fit or the name is empty.
 */
static __always_inline bool __gadget_path_prepend(struct __gadget_path_buf *b,
						  struct dentry *dentry)
{
	struct qstr name = BPF_CORE_READ(dentry, d_name);
	__u32 pos = __gadget_path_pos(b);
	__u32 len = name.len;

	if (len == 0 || len + 1 > pos)
		return false;
	pos -= len;
	bpf_probe_read_kernel(&b->data[pos & __GADGET_PATH_MASK], len & __GADGET_PATH_MASK,
			      name.name);
	pos -= 1;
	b->data[pos & __GADGET_PATH_MASK] = '/';
	__gadget_path_pos(b) = pos;
	return true;
}

/*
 * Returns the absolute path of *path in a per-CPU buffer, or NULL.  path may
 * point to kernel memory or to a copy on the BPF stack.
 */
static __always_inline void *get_path_str(const struct path *path)
{
	struct __gadget_path_buf *b;
	struct dentry *dentry, *parent;
	struct vfsmount *vfsmnt;
	struct mount *mnt, *mnt_parent;
	bool at_root = false;
	__u32 zero = 0, pos;

	b = bpf_map_lookup_elem(&gadget_path_bufs, &zero);
	if (!b)
		return NULL;

	dentry = BPF_CORE_READ(path, dentry);
	vfsmnt = BPF_CORE_READ(path, mnt);
	if (!dentry || !vfsmnt)
		return NULL;
	mnt = __gadget_real_mount(vfsmnt);
	b->data[__GADGET_PATH_HALF - 1] = '\0';
	__gadget_path_pos(b) = __GADGET_PATH_HALF - 1;

	for (int i = 0; i < GADGET_PATH_MAX_COMPONENTS; i++) {
		if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
			/* Top of this mount: continue from where it is mounted. */
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt) {
				at_root = true;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = &mnt->mnt;
			continue;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == parent)
			break; /* root of a tree that is not mounted here */
		if (!__gadget_path_prepend(b, dentry))
			break; /* keep what fits */
		dentry = parent;
	}

	pos = __gadget_path_pos(b);
	if (pos == __GADGET_PATH_HALF - 1) {
		if (!at_root) {
			struct qstr name = BPF_CORE_READ(dentry, d_name);

			bpf_probe_read_kernel_str(b->data, __GADGET_PATH_HALF, name.name);
			return b->data;
		}
		pos -= 1;
		b->data[pos] = '/';
	}
	return &b->data[pos & __GADGET_PATH_MASK];
}

/* The struct file behind descriptor fd of the current task, or NULL. */
static __always_inline struct file *get_struct_file_for_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || !fdt)
		return NULL;
	if ((unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/*
 * Copies the absolute path of the current task's descriptor fd into buf
 * (buf_len bytes, a constant).  Returns the length including the NUL, or a
 * negative value when fd is not open or the path cannot be read.
 */
static __always_inline long read_full_path_of_open_file_fd(int fd, char *buf, __u64 buf_len)
{
	struct file *f = get_struct_file_for_fd(fd);
	void *path;

	if (!f)
		return -1;
	path = get_path_str(&f->f_path);
	if (!path)
		return -1;
	return bpf_probe_read_kernel_str(buf, buf_len, path);
}

#endif /* GADGET_FILESYSTEM_H */
