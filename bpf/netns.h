/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces, for the few things a socket does in the namespace it
 * was made in: packet sockets for socket filters, and iter/tcp, iter/udp
 * iterators, which list the sockets of the namespace their reader was in
 * when it created them.
 *
 * A network namespace belongs to a thread, not a process (setns(2) with
 * CLONE_NEWNET moves only the caller), so the calling thread steps in and
 * back out; other threads never notice.  Needs CAP_SYS_ADMIN.
 */
#ifndef BPF_NETNS_H
#define BPF_NETNS_H

#include <stdint.h>

/*
 * Moves the calling thread into the network namespace at path
 * ("/proc/PID/ns/net").  On success *ret_back is a handle for
 * bpf_netns_leave(), which must be called before anything else runs on this
 * thread.  -errno (-ENOENT: the namespace is gone).
 */
int bpf_netns_enter(const char *path, int *ret_back);
/* Back to where bpf_netns_enter() came from; closes the handle. */
int bpf_netns_leave(int back);
/* The namespace's id: the inode number of path.  -errno. */
int bpf_netns_id(const char *path, uint64_t *ret);

#endif /* BPF_NETNS_H */
