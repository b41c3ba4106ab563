/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integer logarithms for log2 histograms.
 *
 * get_slot_idx() maps a value to its histogram slot: 0 for 0, otherwise
 * 1 + floor(log2(v)), so slot n holds values in [2^(n-1), 2^n).
 */
#ifndef GADGET_BITS_BPF_H
#define GADGET_BITS_BPF_H

#include <bpf/bpf_helpers.h>

/* floor(log2(v)) for v > 0, by binary search over the bit positions; 0 for v == 0. */
static __always_inline __u64 log2(__u32 v)
{
	__u32 r = 0;

	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* floor(log2(v)) for a 64-bit v > 0. */
static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2(hi) + 32 : log2((__u32)v);
}

static __always_inline __u64 get_slot_idx(__u64 v)
{
	return v ? log2l(v) + 1 : 0;
}

#endif /* GADGET_BITS_BPF_H */
