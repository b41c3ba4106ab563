/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket map: which process owns a local port.
 *
 * gadget_sockets is keyed by (network namespace, address family, IP
 * protocol, local port) and holds a struct gadget_socket_value describing
 * the process that opened the socket.  It is meant to be filled from
 * outside the gadget (a "socket enricher" hooked on bind/connect); a
 * networking gadget, which sees packets but no process, looks the packet's
 * socket up to attribute it.  With nothing filling the map, every lookup
 * misses and the gadget sees no process.
 *
 * Networking programs (GADGET_TYPE_NETWORKING) look up an skb; they expect
 * the network namespace inode number in skb->cb[0], put there by whoever
 * dispatches packets to them.  Tracing programs (GADGET_TYPE_TRACING) look
 * up a struct sock.
 *
 * Include <vmlinux.h> or <linux/types.h> (plus <linux/bpf.h>) first; this
 * header deliberately needs nothing else, so both kinds of gadget can use it.
 */
#ifndef GADGET_SOCKETS_MAP_H
#define GADGET_SOCKETS_MAP_H

#if !defined(__VMLINUX_H__) && !defined(_LINUX_TYPES_H)
#error "include <vmlinux.h> or <linux/types.h> before <gadget/sockets-map.h>"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <gadget/types.h>

/* Local copies of the few protocol numbers used here, so no uapi header is needed. */
#define GADGET_SE_AF_INET     2
#define GADGET_SE_AF_INET6    10
#define GADGET_SE_ETH_HLEN    14
#define GADGET_SE_ETH_P_IP    0x0800
#define GADGET_SE_ETH_P_IPV6  0x86DD
#define GADGET_SE_IPV6_HLEN   40
#define GADGET_SE_IPPROTO_TCP 6
#define GADGET_SE_IPPROTO_UDP 17
#define GADGET_SE_PACKET_HOST 0

#define GADGET_MAX_SOCKETS 16384

struct gadget_socket_key {
	__u32 netns;
	__u16 family;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 port; /* local port, host byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_SOCKETS);
	__type(key, struct gadget_socket_key);
	__type(value, struct gadget_socket_value);
} gadget_sockets SEC(".maps");

/* An IPv4 packet may belong to a dual-stack IPv6 socket bound to the same port. */
static __always_inline struct gadget_socket_value *
__gadget_socket_lookup_key(struct gadget_socket_key *key)
{
	struct gadget_socket_value *sv = bpf_map_lookup_elem(&gadget_sockets, key);

	if (sv || key->family != GADGET_SE_AF_INET)
		return sv;
	key->family = GADGET_SE_AF_INET6;
	sv = bpf_map_lookup_elem(&gadget_sockets, key);
	if (sv && !sv->ipv6only)
		return sv;
	return NULL;
}

#ifdef GADGET_TYPE_NETWORKING
/*
 * Skips IPv6 extension headers starting at *off with next header *proto,
 * leaving *off at the transport header.  False if the packet ends, has no
 * transport header, or chains more headers than we follow.
 */
static __always_inline bool __gadget_skip_ipv6_ext(const struct __sk_buff *skb, __u8 *proto,
						   __u32 *off)
{
	for (int i = 0; i < 6; i++) {
		__u8 hdr[2]; /* next header, length */

		switch (*proto) {
		case GADGET_SE_IPPROTO_TCP:
		case GADGET_SE_IPPROTO_UDP:
			return true;
		case 0:	 /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
		case 44: /* fragment */
		case 51: /* authentication */
			break;
		default: /* 59 (no next header) and anything we do not parse */
			return false;
		}
		if (bpf_skb_load_bytes(skb, *off, hdr, sizeof(hdr)))
			return false;
		if (*proto == 44)
			*off += 8;
		else if (*proto == 51)
			*off += (hdr[1] + 2) * 4;
		else
			*off += (hdr[1] + 1) * 8;
		*proto = hdr[0];
	}
	return *proto == GADGET_SE_IPPROTO_TCP || *proto == GADGET_SE_IPPROTO_UDP;
}

/*
 * The socket an Ethernet frame belongs to: on ingress the local port is the
 * destination port, on egress the source port.  NULL when unknown.
 */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup_with_direction(const struct __sk_buff *skb, __u8 is_ingress)
{
	struct gadget_socket_key key = {};
	__u16 h_proto, port;
	__u32 off;

	key.netns = skb->cb[0];
	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)))
		return NULL;

	if (h_proto == bpf_htons(GADGET_SE_ETH_P_IP)) {
		__u8 ver_ihl;

		key.family = GADGET_SE_AF_INET;
		if (bpf_skb_load_bytes(skb, GADGET_SE_ETH_HLEN, &ver_ihl, 1) ||
		    bpf_skb_load_bytes(skb, GADGET_SE_ETH_HLEN + 9, &key.proto, 1))
			return NULL;
		off = GADGET_SE_ETH_HLEN + (ver_ihl & 0xf) * 4;
	} else if (h_proto == bpf_htons(GADGET_SE_ETH_P_IPV6)) {
		key.family = GADGET_SE_AF_INET6;
		if (bpf_skb_load_bytes(skb, GADGET_SE_ETH_HLEN + 6, &key.proto, 1))
			return NULL;
		off = GADGET_SE_ETH_HLEN + GADGET_SE_IPV6_HLEN;
		if (!__gadget_skip_ipv6_ext(skb, &key.proto, &off))
			return NULL;
	} else {
		return NULL;
	}
	if (key.proto != GADGET_SE_IPPROTO_TCP && key.proto != GADGET_SE_IPPROTO_UDP)
		return NULL;

	/* TCP and UDP both start with the source port, then the destination port. */
	if (bpf_skb_load_bytes(skb, off + (is_ingress ? 2 : 0), &port, sizeof(port)))
		return NULL;
	key.port = bpf_ntohs(port);
	return __gadget_socket_lookup_key(&key);
}

/*
 * Same, taking the direction from skb->pkt_type.  Not for tc programs: there
 * a packet routed through the host may be PACKET_HOST in both directions.
 */
static __always_inline struct gadget_socket_value *gadget_socket_lookup(const struct __sk_buff *skb)
{
	return gadget_socket_lookup_with_direction(skb, skb->pkt_type == GADGET_SE_PACKET_HOST);
}
#endif /* GADGET_TYPE_NETWORKING */

#ifdef GADGET_TYPE_TRACING
/* The socket map entry for kernel socket sk in network namespace netns, or NULL. */
static __always_inline struct gadget_socket_value *gadget_socket_lookup(const struct sock *sk,
									__u32 netns)
{
	struct gadget_socket_key key = {};
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	key.netns = netns;
	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	key.proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (key.proto != GADGET_SE_IPPROTO_TCP && key.proto != GADGET_SE_IPPROTO_UDP)
		return NULL;
	key.port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	return __gadget_socket_lookup_key(&key);
}
#endif /* GADGET_TYPE_TRACING */

/* Copies the owner recorded in sv into *p; leaves *p alone when sv is NULL. */
static __always_inline void
gadget_process_populate_from_socket(const struct gadget_socket_value *sv, struct gadget_process *p)
{
	if (!sv)
		return;
	__builtin_memcpy(p->comm, sv->task, sizeof(p->comm));
	p->pid = sv->pid_tgid >> 32;
	p->tid = (__u32)sv->pid_tgid;
	p->mntns_id = sv->mntns;
	p->creds.uid = (__u32)sv->uid_gid;
	p->creds.gid = sv->uid_gid >> 32;
	__builtin_memcpy(p->parent.comm, sv->ptask, sizeof(p->parent.comm));
	p->parent.pid = sv->ppid;
	p->parent.tid = sv->ptid;
}

#endif /* GADGET_SOCKETS_MAP_H */
