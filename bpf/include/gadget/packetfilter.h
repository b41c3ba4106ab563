/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User-supplied packet filters (pcap expressions) for networking gadgets.
 *
 *   GADGET_PF(name);                         declares filter slot "name"
 *   if (!gadget_pf_matches(name, skb, data, data_end)) ...
 *   GADGET_PF();  gadget_pf_matches(skb, data, data_end)   the unnamed slot
 *
 * A slot is a non-inlined function gadget_pf_<name>() whose body a loader
 * may replace with a filter compiled from the user's expression (cBPF
 * translated to eBPF).  Its three identical skb arguments only reserve
 * registers R1-R3, which the translated code uses.  Left alone, the stub
 * accepts every non-empty packet.
 */
#ifndef GADGET_PACKETFILTER_H
#define GADGET_PACKETFILTER_H

#include <bpf/bpf_helpers.h>

#define GADGET_PF(name)                                                                            \
	static __noinline bool gadget_pf_##name(void *skb1, void *skb2, void *skb3, void *data,    \
						void *data_end)                                    \
	{                                                                                          \
		/* Uses every argument so that none is optimised away. */                          \
		return skb1 == skb2 && skb2 == skb3 && data != data_end;                           \
	}

#define __gadget_pf_call(name, skb, data, data_end) gadget_pf_##name(skb, skb, skb, data, data_end)

#define __gadget_pf_pick(_1, _2, _3, _4, n, ...)	 n
#define __gadget_pf_matches_4(name, skb, data, data_end) __gadget_pf_call(name, skb, data, data_end)
#define __gadget_pf_matches_3(skb, data, data_end)	 __gadget_pf_call(, skb, data, data_end)
#define __gadget_pf_matches_bad(...)                                                               \
	({                                                                                         \
		_Static_assert(0, "gadget_pf_matches() takes ([name,] skb, data, data_end)");      \
		false;                                                                             \
	})

/* gadget_pf_matches([name,] skb, data, data_end): true if the packet passes the filter. */
#define gadget_pf_matches(...)                                                                     \
	__gadget_pf_pick(__VA_ARGS__, __gadget_pf_matches_4, __gadget_pf_matches_3,                \
			 __gadget_pf_matches_bad, __gadget_pf_matches_bad)(__VA_ARGS__)

#endif /* GADGET_PACKETFILTER_H */
