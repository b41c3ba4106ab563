// SPDX-License-Identifier: GPL-2.0
/*
 * trace_sni: the server name (SNI) a TLS client asks for in its
 * ClientHello, with the process and container of the socket.
 *
 * A socket filter in every network namespace of the run reads the first
 * segment of a TLS handshake (RFC 8446 4.1.2 ClientHello, RFC 6066 3
 * server_name) over IPv4 or IPv6.  Every offset is read through
 * bpf_skb_load_bytes(), which fails past the packet's end, and the walk over
 * extensions is bounded, so a malformed ClientHello is just not reported.
 * A ClientHello split over segments is not reassembled.
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

#define ETH_HLEN_    14
#define ETH_P_IP_    0x0800
#define ETH_P_IPV6_  0x86DD
#define IPPROTO_TCP_ 6

#define TLS_HANDSHAKE	    0x16
#define TLS_CLIENT_HELLO    0x01
#define TLS_EXT_SERVER_NAME 0x0000
/* record header (5), handshake header (4), version (2), random (32) */
#define TLS_SESSION_ID_OFF 43
#define TLS_MAX_EXTENSIONS 32
#define TLS_MAX_NAME	   128

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	char name[TLS_MAX_NAME];
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(sni, events, event_t);

static __always_inline bool load_u8(struct __sk_buff *skb, __u32 off, __u8 *v)
{
	return !bpf_skb_load_bytes(skb, off, v, 1);
}

static __always_inline bool load_u16(struct __sk_buff *skb, __u32 off, __u16 *v)
{
	__u16 be;

	if (bpf_skb_load_bytes(skb, off, &be, 2))
		return false;
	*v = bpf_ntohs(be);
	return true;
}

/* Offset and length of the server name in the ClientHello at off; false if none. */
static __always_inline bool find_sni(struct __sk_buff *skb, __u32 off, __u32 *name_off,
				     __u32 *name_len)
{
	__u16 u16, ext_type, ext_len, ext_total;
	__u32 p, end;
	__u8 u8;

	if (!load_u8(skb, off, &u8) || u8 != TLS_HANDSHAKE)
		return false;
	if (!load_u8(skb, off + 5, &u8) || u8 != TLS_CLIENT_HELLO)
		return false;
	p = off + TLS_SESSION_ID_OFF;
	if (!load_u8(skb, p, &u8))
		return false;
	p += 1 + u8;
	if (!load_u16(skb, p, &u16)) /* cipher suites */
		return false;
	p += 2 + u16;
	if (!load_u8(skb, p, &u8)) /* compression methods */
		return false;
	p += 1 + u8;
	if (!load_u16(skb, p, &ext_total))
		return false;
	p += 2;
	end = p + ext_total;
	for (int i = 0; i < TLS_MAX_EXTENSIONS; i++) {
		if (p + 4 > end || !load_u16(skb, p, &ext_type) || !load_u16(skb, p + 2, &ext_len))
			return false;
		if (ext_type == TLS_EXT_SERVER_NAME) {
			/* list length (2), name type (1), name length (2), name */
			if (!load_u8(skb, p + 6, &u8) || u8 != 0 || !load_u16(skb, p + 7, &u16))
				return false;
			if (u16 == 0 || p + 9 + u16 > end)
				return false;
			*name_off = p + 9;
			*name_len = u16;
			return true;
		}
		p += 4 + ext_len;
	}
	return false;
}

SEC("socket1")
int ig_trace_sni(struct __sk_buff *skb)
{
	struct gadget_socket_value *sv;
	struct event_t event = {};
	__u32 l4, name_off, name_len;
	__u16 h_proto, ports[2];
	__u8 u8, proto, doff;
	__u64 n;

	if (!load_u16(skb, 12, &h_proto))
		return 0;
	if (h_proto == ETH_P_IP_) {
		if (!load_u8(skb, ETH_HLEN_ + 9, &proto) || !load_u8(skb, ETH_HLEN_, &u8))
			return 0;
		l4 = ETH_HLEN_ + (u8 & 0xf) * 4;
		event.src.version = event.dst.version = 4;
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 12, &event.src.addr_raw.v4, 4);
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 16, &event.dst.addr_raw.v4, 4);
	} else if (h_proto == ETH_P_IPV6_) {
		if (!load_u8(skb, ETH_HLEN_ + 6, &proto))
			return 0;
		l4 = ETH_HLEN_ + 40;
		if (!__gadget_skip_ipv6_ext(skb, &proto, &l4))
			return 0;
		event.src.version = event.dst.version = 6;
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 8, &event.src.addr_raw.v6, 16);
		bpf_skb_load_bytes(skb, ETH_HLEN_ + 24, &event.dst.addr_raw.v6, 16);
	} else {
		return 0;
	}
	if (proto != IPPROTO_TCP_ || !load_u8(skb, l4 + 12, &doff) ||
	    bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
		return 0;
	if (!find_sni(skb, l4 + (doff >> 4) * 4, &name_off, &name_len))
		return 0;

	sv = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(sv))
		return 0;

	n = name_len < TLS_MAX_NAME - 1 ? name_len : TLS_MAX_NAME - 1;
	/* the bound must be on the very register the helper gets */
	asm volatile("%0 &= 0x7f" : "+r"(n));
	if (n < 1 || bpf_skb_load_bytes(skb, name_off, event.name, n))
		return 0;
	event.timestamp_raw = bpf_ktime_get_boot_ns();
	event.netns_id = skb->cb[0];
	event.src.proto_raw = event.dst.proto_raw = IPPROTO_TCP_;
	event.src.port = bpf_ntohs(ports[0]);
	event.dst.port = bpf_ntohs(ports[1]);
	gadget_process_populate_from_socket(sv, &event.proc);
	gadget_output_buf(skb, &events, &event, sizeof(event));
	return 0;
}

char _license[] SEC("license") = "GPL";
