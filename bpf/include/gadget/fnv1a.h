/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FNV-1a hashing (Fowler, Noll, Vo), 32 and 64 bits.
 *
 * Integers are fed least significant byte first, which is what hashing
 * their in-memory representation on a little-endian machine gives, so the
 * same values hash the same in userspace.
 *
 *   __u32 h = fnv_32a_init();
 *   fnv_32a_update_u64(&h, x);
 */
#ifndef GADGET_FNV1A_H
#define GADGET_FNV1A_H

#include <bpf/bpf_helpers.h>

#define FNV1_32_INIT  ((__u32)2166136261u)
#define FNV1_32_PRIME ((__u32)16777619u)
#define FNV1_64_INIT  ((__u64)14695981039346656037ull)
#define FNV1_64_PRIME ((__u64)1099511628211ull)

static __always_inline __u32 fnv_32a_init(void)
{
	return FNV1_32_INIT;
}

static __always_inline __u64 fnv_64a_init(void)
{
	return FNV1_64_INIT;
}

static __always_inline void __fnv_32a_bytes(__u32 *hash, __u64 v, int n)
{
	for (int i = 0; i < n; i++) {
		*hash = (*hash ^ (__u8)(v >> (8 * i))) * FNV1_32_PRIME;
	}
}

static __always_inline void __fnv_64a_bytes(__u64 *hash, __u64 v, int n)
{
	for (int i = 0; i < n; i++) {
		*hash = (*hash ^ (__u8)(v >> (8 * i))) * FNV1_64_PRIME;
	}
}

static __always_inline void fnv_32a_update_u64(__u32 *hash, __u64 v)
{
	__fnv_32a_bytes(hash, v, 8);
}
static __always_inline void fnv_32a_update_u32(__u32 *hash, __u32 v)
{
	__fnv_32a_bytes(hash, v, 4);
}
static __always_inline void fnv_32a_update_u16(__u32 *hash, __u16 v)
{
	__fnv_32a_bytes(hash, v, 2);
}
static __always_inline void fnv_32a_update_u8(__u32 *hash, __u8 v)
{
	__fnv_32a_bytes(hash, v, 1);
}

static __always_inline void fnv_64a_update_u64(__u64 *hash, __u64 v)
{
	__fnv_64a_bytes(hash, v, 8);
}
static __always_inline void fnv_64a_update_u32(__u64 *hash, __u32 v)
{
	__fnv_64a_bytes(hash, v, 4);
}
static __always_inline void fnv_64a_update_u16(__u64 *hash, __u16 v)
{
	__fnv_64a_bytes(hash, v, 2);
}
static __always_inline void fnv_64a_update_u8(__u64 *hash, __u8 v)
{
	__fnv_64a_bytes(hash, v, 1);
}

#endif /* GADGET_FNV1A_H */
