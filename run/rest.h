/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bytes a tracer record carries after its struct: Inspektor Gadget's
 * "ebpf.rest" data, which packet gadgets send with bpf_perf_event_output()
 * and the skb flag (the packet follows the event).  A data source annotated
 *
 *     ebpf.rest.name: data       the column that shows them
 *     ebpf.rest.len: data_len    the field that says how many there are
 *
 * gets that column, as hex, hidden by default (--fields +data shows it).
 * Without ebpf.rest.len every byte after the struct counts (perf event
 * arrays pad records to 8 bytes, so the length is better given).
 */
#ifndef RUN_REST_H
#define RUN_REST_H

#include <stddef.h>

struct bpf_layout;
struct oci_metadata_ds;
struct run_pipeline;

/* Hex digits shown at most per record. */
#define RUN_REST_MAX_BYTES 65536

struct run_rest;

/*
 * Adds the column to p (before run_pipeline_prepare()); the returned object
 * must outlive p (free with run_rest_free()).  -ENOENT without the
 * annotation, -EINVAL when ebpf.rest.len names no integer field, -ENOMEM.
 */
int run_rest_new(struct run_pipeline *p, const struct bpf_layout *l,
		 const struct oci_metadata_ds *md, struct run_rest **ret);
struct run_rest *run_rest_free(struct run_rest *r);

#endif /* RUN_REST_H */
