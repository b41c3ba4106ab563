/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A run's uprobes, attached in the files its processes see.
 *
 * "uprobe/libc:malloc" means the malloc of the libc the traced process
 * runs with: the host's for host processes, each container's own for the
 * processes of that container.  So, like Inspektor Gadget's uprobe tracer,
 * the runner hands this module the roots to attach in (a pid: the host's
 * init, or a container's first process) as they come and go, and the module
 * finds the library there as the loader would (/etc/ld.so.cache of that
 * root, then the usual library directories), opens it inside that root (no
 * symlink of the image may lead out of it) and attaches every uprobe of the
 * gadget to it.
 *
 * The kernel puts a uprobe on an inode, and containers of the same image
 * share the inodes of its lower layers: each real file (found through the
 * mapping the kernel gives it, under overlayfs too) is attached once, and
 * detached when the last root that had it goes.
 *
 * Not thread-safe; the runner's thread owns it.  bpf/ stays container-
 * agnostic: it attaches a program to a path it is handed.
 */
#ifndef RUN_UPROBES_H
#define RUN_UPROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_gadget;
struct run_uprobes;

/* Roots one run follows, and files attached per root, at most. */
#define RUN_UPROBES_MAX_ROOTS 4096
#define RUN_UPROBES_MAX_FILES 16

/*
 * For a loaded gadget: *ret is a new object (free with run_uprobes_free()),
 * or NULL when the gadget has no uprobe.  -ENOMEM.
 */
int run_uprobes_new(struct bpf_gadget *g, struct run_uprobes **ret);
struct run_uprobes *run_uprobes_free(struct run_uprobes *u);

/*
 * Attaches every uprobe of the gadget in the root of pid (/proc/PID/root;
 * 0 for ig's own, /proc/self/root), who naming it in messages ("the host",
 * "container web").  A probe whose library is not there is skipped (a
 * static busybox container has no libc; trace_ssl probes libraries of
 * which a root has some); a probe whose function the library lacks is
 * skipped too, with a one-line reason naming both given to warn (may be
 * NULL).  With required, a root in which nothing at all could be probed is
 * an error: -ENOENT with the first reason (the library, or the library and
 * function, that were missing) in err.  Returns the number of (program,
 * file) attachments made or shared, or -errno.
 */
int run_uprobes_add(struct run_uprobes *u, uint32_t pid, const char *who, bool required,
		    void (*warn)(void *ctx, const char *msg), void *ctx, char *err, size_t errlen);

/* Forgets the root of pid; files no other root has are detached. */
void run_uprobes_remove(struct run_uprobes *u, uint32_t pid);

/* Links currently attached (one per program and real file). */
size_t run_uprobes_links(const struct run_uprobes *u);

#endif /* RUN_UPROBES_H */
