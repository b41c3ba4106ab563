/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket filter programs (Inspektor Gadget's SEC("socket"), "socket1", ...)
 * attached in network namespaces.
 *
 * A socket filter sees the packets of the socket it is attached to; a packet
 * socket (AF_PACKET, ETH_P_ALL) sees every packet that enters or leaves any
 * device of its network namespace.  So a gadget's socket filter runs on one
 * packet socket per namespace of interest, opened inside that namespace.
 *
 * Gadgets find the namespace a packet was seen in at skb->cb[0], as in
 * Inspektor Gadget: each attachment runs a tiny dispatcher program, loaded
 * for its namespace, that stores the namespace id there and tail-calls the
 * gadget's program through a one-slot program array.
 *
 * Attachments are counted per namespace id: containers of one pod, or
 * host-network pods and the host, share one.
 */
#ifndef BPF_SOCKFILTER_H
#define BPF_SOCKFILTER_H

#include <stddef.h>
#include <stdint.h>

/* Socket filter programs of one gadget, and namespaces attached at once. */
#define BPF_SOCKFILTER_MAX_PROGS 8
#define BPF_SOCKFILTER_MAX_NETNS 4096

struct bpf_sockfilter;

/*
 * prog_fds: the loaded socket filter programs (borrowed: they must outlive
 * the object).  Returns a new object; free with bpf_sockfilter_free().
 * -E2BIG past BPF_SOCKFILTER_MAX_PROGS, -errno from the kernel.
 */
int bpf_sockfilter_new(const int *prog_fds, size_t n, struct bpf_sockfilter **ret);
/* Closes every packet socket. */
struct bpf_sockfilter *bpf_sockfilter_free(struct bpf_sockfilter *f);

/*
 * Attaches every program in the namespace at netns_path, whose id (inode)
 * is netns_id, or counts one more user if it is attached already.  -ENOENT
 * when the namespace is gone, -E2BIG past BPF_SOCKFILTER_MAX_NETNS, -errno.
 */
int bpf_sockfilter_attach(struct bpf_sockfilter *f, uint64_t netns_id, const char *netns_path);
/* One user less; the last one closes the namespace's sockets.  -ENOENT if not attached. */
int bpf_sockfilter_detach(struct bpf_sockfilter *f, uint64_t netns_id);
/* Namespaces attached now. */
size_t bpf_sockfilter_count(const struct bpf_sockfilter *f);

#endif /* BPF_SOCKFILTER_H */
