/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Draining the streams of a gadget: BPF ring buffers and perf event arrays.
 *
 * All ring buffer maps share one libbpf ring_buffer, each perf event array
 * gets a perf_buffer, and one epoll fd covers them all so the caller waits
 * on a single descriptor.  Records are handed to a callback per source.
 *
 * Gadgets may submit without waking the consumer (see gadget/buffer.h), so
 * the caller must also call bpf_tracer_consume() on a timer; a wakeup alone
 * is not a promise that nothing else is pending, nor is its absence.
 */
#ifndef BPF_TRACER_H
#define BPF_TRACER_H

#include <stddef.h>
#include <stdint.h>

struct bpf_tracer;

/* One record; data is valid only during the call.  A negative return stops
 * bpf_tracer_consume() and is passed back. */
typedef int (*bpf_tracer_record_fn)(void *ctx, const void *data, size_t size);

#define BPF_TRACER_MAX_SOURCES 16

/* Returns a new, empty tracer; free with bpf_tracer_free(). */
int bpf_tracer_new(struct bpf_tracer **ret);
struct bpf_tracer *bpf_tracer_free(struct bpf_tracer *t);

/*
 * Adds a source.  Returns its index (>= 0) or -errno.  For perf event
 * arrays, per_cpu_bytes is the size of each CPU's buffer (rounded to a power
 * of two pages).  The map fd is borrowed and must outlive the tracer.
 */
int bpf_tracer_add_ringbuf(struct bpf_tracer *t, int map_fd, bpf_tracer_record_fn fn, void *ctx);
int bpf_tracer_add_perf(struct bpf_tracer *t, int map_fd, size_t per_cpu_bytes,
			bpf_tracer_record_fn fn, void *ctx);

/* The epoll fd that turns readable when any source has data; -1 if none. */
int bpf_tracer_poll_fd(const struct bpf_tracer *t);

/* Drains every source; returns the number of records delivered or -errno. */
int bpf_tracer_consume(struct bpf_tracer *t);

/* Samples the kernel reported lost on source idx (perf event arrays only). */
uint64_t bpf_tracer_lost(const struct bpf_tracer *t, int idx);

#endif /* BPF_TRACER_H */
