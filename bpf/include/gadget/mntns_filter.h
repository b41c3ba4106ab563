/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container filter: the set of mount namespaces a run is interested in.
 *
 * The runtime replaces gadget_mntns_filter_map with a map of its own, fills
 * it with the mount namespace ids of the selected containers (the value is
 * unused) and sets gadget_filter_by_mntns.  With the flag clear, nothing is
 * filtered.  Both names are looked up by the runtime and must not change.
 */
#ifndef GADGET_MNTNS_FILTER_H
#define GADGET_MNTNS_FILTER_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/tracing_compat.h>
#include <gadget/types.h>

#define GADGET_MNTNS_FILTER_MAX_ENTRIES 1024

const volatile bool gadget_filter_by_mntns = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MNTNS_FILTER_MAX_ENTRIES);
	__type(key, gadget_mntns_id);
	__type(value, __u32);
} gadget_mntns_filter_map SEC(".maps");

/* True when events from mntns_id are to be dropped. */
static __always_inline bool gadget_should_discard_mntns_id(gadget_mntns_id mntns_id)
{
	if (!gadget_filter_by_mntns)
		return false;
	return bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns_id) == NULL;
}

#endif /* GADGET_MNTNS_FILTER_H */
