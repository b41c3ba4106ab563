/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots: every entry of a BPF hash map, or the whole output of a BPF
 * iterator, read into one buffer of fixed-size records.
 *
 * Map iterators (GADGET_MAPITER) and iter/ programs (GADGET_ITER) both end up
 * here: the result is an array of records laid out for the data source's
 * layout, handed over in one batch.
 */
#ifndef BPF_SNAPSHOT_H
#define BPF_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most bytes one snapshot may hold; more is -E2BIG. */
#define BPF_SNAPSHOT_MAX_BYTES (256u << 20)

struct bpf_snapshot {
	uint8_t *data;	    /* n records of record_size bytes */
	size_t record_size; /* set by bpf_snapshot_init() */
	size_t n;
	size_t cap;	      /* records allocated */
	const void **records; /* filled by bpf_snapshot_index() */
	size_t max_bytes;
};

void bpf_snapshot_init(struct bpf_snapshot *s, size_t record_size, size_t max_bytes);
void bpf_snapshot_done(struct bpf_snapshot *s);

struct bpf_snapshot_map_opts {
	uint32_t key_size;
	uint32_t value_size;
	uint32_t value_offset; /* >= key_size; the value's place in a record */
	uint32_t max_entries;  /* reads stop after this many */
	bool clear;	       /* delete what was read */
	bool no_batch;	       /* skip the batch syscalls (tests, old kernels) */
};

/*
 * Appends the entries of the map to s, each record being the key bytes
 * followed by the value at value_offset.  Uses BPF_MAP_LOOKUP_BATCH (or
 * LOOKUP_AND_DELETE_BATCH) where the kernel has it, else get_next_key and
 * lookup.  Returns the number of records added or -errno.
 */
int bpf_snapshot_map(struct bpf_snapshot *s, int map_fd, const struct bpf_snapshot_map_opts *opts);

/*
 * Runs the iterator of link_fd (bpf_iter_create()) and appends its output,
 * cut into records of s->record_size bytes; a trailing partial record is
 * dropped.  Returns the number of records added or -errno.
 */
int bpf_snapshot_iter(struct bpf_snapshot *s, int link_fd);

/* Builds s->records, one pointer per record. */
int bpf_snapshot_index(struct bpf_snapshot *s);

#endif /* BPF_SNAPSHOT_H */
