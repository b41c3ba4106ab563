// SPDX-License-Identifier: Apache-2.0
/*
 * Socket filters in network namespaces.  See sockfilter.h.
 *
 * The dispatcher is seven instructions, assembled here rather than compiled:
 * the namespace id is an immediate, so each namespace gets its own copy
 * (loading one takes a few tens of microseconds), and nothing else is
 * needed.  The packet socket is made with protocol 0, which receives
 * nothing, and bound to ETH_P_ALL only once the filter is on it, so no
 * unfiltered packet ever queues on it.  Filters that keep packets (return
 * non-zero) fill its receive buffer, made as small as the kernel allows,
 * and the rest is dropped without copying: nobody reads these sockets.
 */
#include "bpf/sockfilter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/netns.h"

struct sockfilter_ns {
	uint64_t id;
	unsigned int refs;
	int socks[BPF_SOCKFILTER_MAX_PROGS];
	int disp[BPF_SOCKFILTER_MAX_PROGS];
};

struct bpf_sockfilter {
	size_t n_progs;
	int arrays[BPF_SOCKFILTER_MAX_PROGS]; /* one-slot program arrays */
	struct sockfilter_ns *ns;
	size_t n_ns, cap_ns;
};

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};

	return i;
}

/* skb->cb[0] = netns; bpf_tail_call(skb, array, 0); return 0; */
static int load_dispatcher(int array_fd, uint64_t netns_id)
{
	struct bpf_insn prog[] = {
		insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, (int32_t)(uint32_t)netns_id),
		insn(BPF_STX | BPF_MEM | BPF_W, BPF_REG_1, BPF_REG_2,
		     offsetof(struct __sk_buff, cb[0]), 0),
		insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, array_fd),
		insn(0, 0, 0, 0, 0),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
		insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "ig_net_disp", "GPL", prog,
			   sizeof(prog) / sizeof(prog[0]), NULL);
	return fd < 0 ? -errno : fd;
}

int bpf_sockfilter_new(const int *prog_fds, size_t n, struct bpf_sockfilter **ret)
{
	struct bpf_sockfilter *f;
	uint32_t zero = 0;
	int err;

	if (!ret || (n && !prog_fds))
		return -EINVAL;
	if (n > BPF_SOCKFILTER_MAX_PROGS)
		return -E2BIG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < BPF_SOCKFILTER_MAX_PROGS; i++)
		f->arrays[i] = -1;
	for (size_t i = 0; i < n; i++) {
		f->arrays[i] =
			bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "ig_net_tail", 4, 4, 1, NULL);
		if (f->arrays[i] < 0) {
			err = -errno;
			goto fail;
		}
		f->n_progs = i + 1;
		if (bpf_map_update_elem(f->arrays[i], &zero, &prog_fds[i], BPF_ANY) < 0) {
			err = -errno;
			goto fail;
		}
	}
	*ret = f;
	return 0;
fail:
	bpf_sockfilter_free(f);
	return err;
}

static void ns_close(struct sockfilter_ns *ns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ns->socks[i] >= 0)
			close(ns->socks[i]);
		if (ns->disp[i] >= 0)
			close(ns->disp[i]);
		ns->socks[i] = ns->disp[i] = -1;
	}
}

struct bpf_sockfilter *bpf_sockfilter_free(struct bpf_sockfilter *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n_ns; i++)
		ns_close(&f->ns[i], f->n_progs);
	free(f->ns);
	for (size_t i = 0; i < f->n_progs; i++)
		if (f->arrays[i] >= 0)
			close(f->arrays[i]);
	free(f);
	return NULL;
}

static struct sockfilter_ns *ns_find(struct bpf_sockfilter *f, uint64_t id)
{
	for (size_t i = 0; i < f->n_ns; i++)
		if (f->ns[i].id == id)
			return &f->ns[i];
	return NULL;
}

/* A packet socket in the caller's namespace with the dispatcher on it. */
static int open_socket(int disp_fd)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int fd, small = 1, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &disp_fd, sizeof(disp_fd)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int bpf_sockfilter_attach(struct bpf_sockfilter *f, uint64_t netns_id, const char *netns_path)
{
	struct sockfilter_ns ns = {.id = netns_id, .refs = 1}, *found;
	int back = -1, err = 0;
	size_t i;

	if (!f || !netns_path)
		return -EINVAL;
	found = ns_find(f, netns_id);
	if (found) {
		found->refs++;
		return 0;
	}
	if (f->n_ns >= BPF_SOCKFILTER_MAX_NETNS)
		return -E2BIG;
	if (f->n_ns == f->cap_ns) {
		size_t cap = f->cap_ns ? f->cap_ns * 2 : 8;
		struct sockfilter_ns *p = realloc(f->ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->ns = p;
		f->cap_ns = cap;
	}
	for (i = 0; i < BPF_SOCKFILTER_MAX_PROGS; i++)
		ns.socks[i] = ns.disp[i] = -1;
	for (i = 0; i < f->n_progs; i++) {
		ns.disp[i] = load_dispatcher(f->arrays[i], netns_id);
		if (ns.disp[i] < 0) {
			err = ns.disp[i];
			goto fail;
		}
	}
	err = bpf_netns_enter(netns_path, &back);
	if (err)
		goto fail;
	for (i = 0; i < f->n_progs && !err; i++) {
		ns.socks[i] = open_socket(ns.disp[i]);
		if (ns.socks[i] < 0)
			err = ns.socks[i];
	}
	/* Staying in another namespace would be worse than any error here. */
	if (bpf_netns_leave(back) < 0)
		abort();
	if (err)
		goto fail;
	f->ns[f->n_ns++] = ns;
	return 0;
fail:
	ns_close(&ns, BPF_SOCKFILTER_MAX_PROGS);
	return err;
}

int bpf_sockfilter_detach(struct bpf_sockfilter *f, uint64_t netns_id)
{
	struct sockfilter_ns *ns;

	if (!f)
		return -EINVAL;
	ns = ns_find(f, netns_id);
	if (!ns)
		return -ENOENT;
	if (--ns->refs > 0)
		return 0;
	ns_close(ns, f->n_progs);
	*ns = f->ns[--f->n_ns];
	return 0;
}

size_t bpf_sockfilter_count(const struct bpf_sockfilter *f)
{
	return f ? f->n_ns : 0;
}
