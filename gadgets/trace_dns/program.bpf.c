// SPDX-License-Identifier: GPL-2.0
/*
 * trace_dns: DNS queries and responses, over UDP and TCP, seen by a socket
 * filter in every network namespace of the run.
 *
 * The program finds DNS by port (53 and 5353 unless --ports says otherwise
 * is not offered: Inspektor Gadget has no such param either), copies the
 * DNS message (at most DNS_MAX_BYTES) into the record, names the process
 * through the socket enricher's map and measures the latency from a query
 * leaving the namespace to its response coming back (same socket owner and
 * DNS id).  The message is decoded in user space (ig's DNS decoder, the
 * name, type, rcode and answers), so a malformed packet costs nothing here.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GADGET_TYPE_NETWORKING
#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

#define ETH_HLEN_     14
#define ETH_P_IP_     0x0800
#define ETH_P_IPV6_   0x86DD
#define IPPROTO_TCP_  6
#define IPPROTO_UDP_  17
#define DNS_HDR_BYTES 12
/* A classic DNS message over UDP is at most 512 bytes; EDNS ones are cut here. */
#define DNS_MAX_BYTES 512
/* skb->pkt_type */
#define PKT_HOST     0
#define PKT_OUTGOING 4

enum pkt_type_t : __u8 {
	HOST,
	BROADCAST,
	MULTICAST,
	OTHERHOST,
	OUTGOING,
	LOOPBACK,
	USER,
	KERNEL,
};

struct event_t {
	gadget_timestamp timestamp_raw;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	struct gadget_l3endpoint_t nameserver;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	enum pkt_type_t pkt_type_raw;
	/* responses seen coming back to the querying socket */
	gadget_duration latency_ns_raw;
	__u16 dns_off;	/* where the DNS message starts in data */
	__u32 data_len; /* bytes of data that hold the message */
	__u8 data[DNS_MAX_BYTES];
};

GADGET_TRACER_MAP(events, 1024 * 1024 * 16);
GADGET_TRACER(dns, events, event_t);

/*
 * Records are built here and sent with only the bytes of the message they
 * hold: most DNS messages are far shorter than DNS_MAX_BYTES, and the ring
 * then holds three times as many records.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_t);
} scratch SEC(".maps");

/* Queries waiting for their response: when each left. */
struct query_key_t {
	__u64 pid_tgid;
	__u16 id;
	__u16 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct query_key_t);
	__type(value, __u64);
} query_map SEC(".maps");

static __always_inline bool is_dns_port(__u16 port)
{
	return port == 53 || port == 5353;
}

/* Offset of the transport header and the IP protocol; false if not TCP or UDP over IP. */
static __always_inline bool l4(struct __sk_buff *skb, __u16 h_proto, __u32 *off, __u8 *proto)
{
	__u8 ver_ihl;

	if (h_proto == ETH_P_IP_) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN_, &ver_ihl, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN_ + 9, proto, 1))
			return false;
		*off = ETH_HLEN_ + (ver_ihl & 0xf) * 4;
	} else if (h_proto == ETH_P_IPV6_) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN_ + 6, proto, 1))
			return false;
		*off = ETH_HLEN_ + 40;
		if (!__gadget_skip_ipv6_ext(skb, proto, off))
			return false;
	} else {
		return false;
	}
	return *proto == IPPROTO_TCP_ || *proto == IPPROTO_UDP_;
}

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct gadget_socket_value *sv;
	__u16 h_proto, ports[2], sport, dport, flags, id;
	__u32 off, dns_off;
	__u64 len;
	struct event_t *e;
	__u32 zero = 0;
	__u8 proto, doff;
	bool qr;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, 2))
		return 0;
	h_proto = bpf_ntohs(h_proto);
	if (!l4(skb, h_proto, &off, &proto))
		return 0;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return 0;
	sport = bpf_ntohs(ports[0]);
	dport = bpf_ntohs(ports[1]);
	if (!is_dns_port(sport) && !is_dns_port(dport))
		return 0;
	if (proto == IPPROTO_UDP_) {
		dns_off = off + 8;
	} else {
		/* best effort: a message that starts a segment, after its 2-byte length */
		if (bpf_skb_load_bytes(skb, off + 12, &doff, 1))
			return 0;
		dns_off = off + (doff >> 4) * 4 + 2;
	}
	if (skb->len < dns_off + DNS_HDR_BYTES)
		return 0;
	if (bpf_skb_load_bytes(skb, dns_off + 2, &flags, 2))
		return 0;
	qr = bpf_ntohs(flags) >> 15;

	sv = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(sv))
		return 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, offsetof(struct event_t, data));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->netns_id = skb->cb[0];
	e->pkt_type_raw = skb->pkt_type;
	e->src.proto_raw = e->dst.proto_raw = proto;
	e->src.port = sport;
	e->dst.port = dport;
	if (h_proto == ETH_P_IP_) {
		e->src.version = e->dst.version = 4;
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 12, &e->src.addr_raw.v4, 4);
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 16, &e->dst.addr_raw.v4, 4);
	} else {
		e->src.version = e->dst.version = 6;
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 8, &e->src.addr_raw.v6, 16);
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 24, &e->dst.addr_raw.v6, 16);
	}
	/* the server: the destination of a query, the source of a response */
	e->nameserver.version = e->src.version;
	e->nameserver.addr_raw = qr ? e->src.addr_raw : e->dst.addr_raw;
	gadget_process_populate_from_socket(sv, &e->proc);

	len = skb->len - dns_off;
	if (len > DNS_MAX_BYTES)
		len = DNS_MAX_BYTES;
	/* the bound must be on the very register the helper gets: keep clang from folding it */
	asm volatile("%0 &= 0x3ff" : "+r"(len));
	if (len < DNS_HDR_BYTES || len > DNS_MAX_BYTES ||
	    bpf_skb_load_bytes(skb, dns_off, e->data, len))
		return 0;
	e->data_len = len;

	if (sv) {
		struct query_key_t key = {.pid_tgid = sv->pid_tgid};
		__u64 *ts;

		bpf_skb_load_bytes(skb, dns_off, &id, 2);
		key.id = id;
		if (!qr && skb->pkt_type == PKT_OUTGOING) {
			bpf_map_update_elem(&query_map, &key, &e->timestamp_raw, BPF_ANY);
		} else if (qr && skb->pkt_type == PKT_HOST) {
			ts = bpf_map_lookup_elem(&query_map, &key);
			if (ts) {
				if (*ts < e->timestamp_raw)
					e->latency_ns_raw = e->timestamp_raw - *ts;
				bpf_map_delete_elem(&query_map, &key);
			}
		}
	}
	gadget_output_buf(skb, &events, e, offsetof(struct event_t, data) + len);
	return 0;
}

char _license[] SEC("license") = "GPL";
