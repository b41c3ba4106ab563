/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Map helpers shared by gadgets.
 */
#ifndef GADGET_MAPS_BPF_H
#define GADGET_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

#ifndef EEXIST
#define EEXIST 17
#endif

/*
 * Returns the value stored under key, inserting a copy of *init first when
 * there is none.  Concurrent inserts of the same key are fine: whoever loses
 * the race gets the winner's entry.  NULL when the map is full.
 */
static __always_inline void *bpf_map_lookup_or_try_init(void *map, const void *key,
							const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

#endif /* GADGET_MAPS_BPF_H */
