// SPDX-License-Identifier: Apache-2.0
/*
 * Ring buffer and perf buffer consumption.  See tracer.h.
 *
 * This is the hot path: each record costs one indirect call from libbpf into
 * a trampoline here and one into the source's callback, nothing else.
 */
#include "bpf/tracer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <bpf/libbpf.h>

struct tracer_source {
	struct bpf_tracer *t;
	bpf_tracer_record_fn fn;
	void *ctx;
	struct perf_buffer *pb; /* NULL for ring buffers */
	uint64_t lost;
};

struct bpf_tracer {
	int epoll_fd;
	struct ring_buffer *rb;
	size_t n_sources;
	struct tracer_source sources[BPF_TRACER_MAX_SOURCES];
	/* Perf callbacks cannot stop a drain: counts and the first error land here. */
	int perf_count;
	int perf_err;
};

int bpf_tracer_new(struct bpf_tracer **ret)
{
	struct bpf_tracer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epoll_fd < 0) {
		int err = -errno;

		free(t);
		return err;
	}
	*ret = t;
	return 0;
}

struct bpf_tracer *bpf_tracer_free(struct bpf_tracer *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_sources; i++)
		perf_buffer__free(t->sources[i].pb);
	ring_buffer__free(t->rb);
	if (t->epoll_fd >= 0)
		close(t->epoll_fd);
	free(t);
	return NULL;
}

/* Nests a libbpf epoll fd into ours: readable inner fd, readable outer fd. */
static int nest_fd(struct bpf_tracer *t, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int ringbuf_sample(void *ctx, void *data, size_t size)
{
	struct tracer_source *s = ctx;

	return s->fn(s->ctx, data, size);
}

int bpf_tracer_add_ringbuf(struct bpf_tracer *t, int map_fd, bpf_tracer_record_fn fn, void *ctx)
{
	struct tracer_source *s;
	int err;

	if (!t || map_fd < 0 || !fn)
		return -EINVAL;
	if (t->n_sources >= BPF_TRACER_MAX_SOURCES)
		return -E2BIG;
	s = &t->sources[t->n_sources];
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->fn = fn;
	s->ctx = ctx;
	if (!t->rb) {
		t->rb = ring_buffer__new(map_fd, ringbuf_sample, s, NULL);
		if (!t->rb)
			return errno ? -errno : -EINVAL;
		err = nest_fd(t, ring_buffer__epoll_fd(t->rb));
		if (err) {
			ring_buffer__free(t->rb);
			t->rb = NULL;
			return err;
		}
	} else {
		err = ring_buffer__add(t->rb, map_fd, ringbuf_sample, s);
		if (err)
			return err;
	}
	return (int)t->n_sources++;
}

/* The records perf_event_open(2) describes for PERF_SAMPLE_RAW and losses. */
struct perf_sample_raw {
	struct perf_event_header header;
	uint32_t size;
	char data[];
};

struct perf_lost_rec {
	struct perf_event_header header;
	uint64_t id;
	uint64_t lost;
};

static enum bpf_perf_event_ret perf_event(void *ctx, int cpu, struct perf_event_header *e)
{
	struct tracer_source *s = ctx;
	int err;

	if (e->type == PERF_RECORD_LOST) {
		s->lost += ((struct perf_lost_rec *)e)->lost;
		return LIBBPF_PERF_EVENT_CONT;
	}
	if (e->type != PERF_RECORD_SAMPLE || s->t->perf_err)
		return LIBBPF_PERF_EVENT_CONT;
	err = s->fn(s->ctx, ((struct perf_sample_raw *)e)->data,
		    ((struct perf_sample_raw *)e)->size);
	if (err < 0)
		s->t->perf_err = err;
	else
		s->t->perf_count++;
	return LIBBPF_PERF_EVENT_CONT;
}

int bpf_tracer_add_perf(struct bpf_tracer *t, int map_fd, size_t per_cpu_bytes,
			bpf_tracer_record_fn fn, void *ctx)
{
	long page = sysconf(_SC_PAGESIZE);
	struct perf_event_attr attr;
	size_t pages = 1;
	struct tracer_source *s;
	int err;

	if (!t || map_fd < 0 || !fn)
		return -EINVAL;
	if (t->n_sources >= BPF_TRACER_MAX_SOURCES)
		return -E2BIG;
	if (page <= 0)
		page = 4096;
	/* perf wants a power-of-two number of data pages per CPU. */
	while (pages * (size_t)page < per_cpu_bytes && pages < 4096)
		pages *= 2;
	s = &t->sources[t->n_sources];
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->fn = fn;
	s->ctx = ctx;
	/*
	 * What perf_buffer__new() asks for, but woken at a quarter of the
	 * buffer rather than at every record: the owner drains on a timer
	 * anyway (see bpf_tracer_consume()), and a wakeup per record is what
	 * costs (Inspektor Gadget's packet gadgets send one per packet).
	 */
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_BPF_OUTPUT;
	attr.sample_type = PERF_SAMPLE_RAW;
	attr.sample_period = 1;
	attr.watermark = 1;
	attr.wakeup_watermark = (uint32_t)(pages * (size_t)page / 4);
	s->pb = perf_buffer__new_raw(map_fd, pages, &attr, perf_event, s, NULL);
	if (!s->pb) {
		err = errno ? -errno : -EINVAL;
		return err;
	}
	err = nest_fd(t, perf_buffer__epoll_fd(s->pb));
	if (err) {
		perf_buffer__free(s->pb);
		s->pb = NULL;
		return err;
	}
	return (int)t->n_sources++;
}

int bpf_tracer_poll_fd(const struct bpf_tracer *t)
{
	if (!t || t->n_sources == 0)
		return -1;
	return t->epoll_fd;
}

int bpf_tracer_consume(struct bpf_tracer *t)
{
	long total = 0;
	int n;

	if (!t)
		return -EINVAL;
	if (t->rb) {
		n = ring_buffer__consume(t->rb);
		if (n < 0)
			return n;
		total += n;
	}
	for (size_t i = 0; i < t->n_sources; i++) {
		struct tracer_source *s = &t->sources[i];

		if (!s->pb)
			continue;
		t->perf_count = 0;
		t->perf_err = 0;
		n = perf_buffer__consume(s->pb);
		total += t->perf_count;
		if (t->perf_err)
			return t->perf_err;
		if (n < 0)
			return n;
	}
	return total > INT32_MAX ? INT32_MAX : (int)total;
}

uint64_t bpf_tracer_lost(const struct bpf_tracer *t, int idx)
{
	if (!t || idx < 0 || (size_t)idx >= t->n_sources)
		return 0;
	return t->sources[idx].lost;
}
