// SPDX-License-Identifier: Apache-2.0
/*
 * Map dumps and iterator output.  See snapshot.h.
 *
 * A batch lookup returns keys and values in two dense arrays; records want
 * them interleaved, so both are read into scratch arrays and then placed.
 */
#include "bpf/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "base/log.h"

/* Bytes read from an iterator per read(2). */
#define SNAPSHOT_READ_CHUNK (64u << 10)

void bpf_snapshot_init(struct bpf_snapshot *s, size_t record_size, size_t max_bytes)
{
	memset(s, 0, sizeof(*s));
	s->record_size = record_size;
	s->max_bytes = max_bytes && max_bytes < BPF_SNAPSHOT_MAX_BYTES ? max_bytes
								       : BPF_SNAPSHOT_MAX_BYTES;
}

void bpf_snapshot_done(struct bpf_snapshot *s)
{
	free(s->data);
	free(s->records);
	s->data = NULL;
	s->records = NULL;
	s->n = 0;
	s->cap = 0;
}

/* Room for extra more records. */
static int reserve(struct bpf_snapshot *s, size_t extra)
{
	size_t want, cap;
	uint8_t *p;

	if (s->record_size == 0)
		return -EINVAL;
	if (extra > s->max_bytes / s->record_size || s->n > s->max_bytes / s->record_size - extra)
		return -E2BIG;
	want = s->n + extra;
	if (want <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 64;
	while (cap < want)
		cap *= 2;
	if (cap > s->max_bytes / s->record_size)
		cap = s->max_bytes / s->record_size;
	p = realloc(s->data, cap * s->record_size);
	if (!p)
		return -ENOMEM;
	s->data = p;
	s->cap = cap;
	return 0;
}

static void place(struct bpf_snapshot *s, const struct bpf_snapshot_map_opts *o, const void *key,
		  const void *value)
{
	uint8_t *r = s->data + s->n * s->record_size;

	memset(r, 0, s->record_size);
	memcpy(r, key, o->key_size);
	memcpy(r + o->value_offset, value, o->value_size);
	s->n++;
}

static bool batch_unsupported(int err)
{
	/* 524 is the kernel's ENOTSUPP, which userspace headers lack. */
	return err == -EINVAL || err == -EOPNOTSUPP || err == -524 || err == -ENOSYS;
}

/* Returns records read, or -EOPNOTSUPP before reading anything if batches are not there. */
static int map_batch(struct bpf_snapshot *s, int fd, const struct bpf_snapshot_map_opts *o)
{
	size_t max = o->max_entries;
	size_t token_size = o->key_size > 8 ? o->key_size : 8;
	uint8_t *keys = NULL, *values = NULL, *in = NULL, *out = NULL;
	size_t got = 0;
	bool first = true;
	int err = 0;

	/* Zeroed: tools like valgrind do not know the kernel fills these. */
	keys = calloc(max, o->key_size);
	values = calloc(max, o->value_size);
	in = calloc(1, token_size);
	out = calloc(1, token_size);
	if (!keys || !values || !in || !out) {
		err = -ENOMEM;
		goto out;
	}
	while (got < max) {
		__u32 count = (__u32)(max - got);

		if (o->clear)
			err = bpf_map_lookup_and_delete_batch(
				fd, first ? NULL : in, out, keys + got * o->key_size,
				values + got * o->value_size, &count, NULL);
		else
			err = bpf_map_lookup_batch(fd, first ? NULL : in, out,
						   keys + got * o->key_size,
						   values + got * o->value_size, &count, NULL);
		if (err && err != -ENOENT && first && got == 0 && batch_unsupported(err)) {
			err = -EOPNOTSUPP;
			goto out;
		}
		/* count is valid with -ENOENT: the last batch. */
		if (err && err != -ENOENT && err != -ENOSPC)
			goto out;
		got += count;
		if (err)
			break;
		first = false;
		memcpy(in, out, token_size);
	}
	/* -ENOSPC: a bucket bigger than the room left, i.e. we are at the maximum. */
	err = reserve(s, got);
	if (err)
		goto out;
	for (size_t i = 0; i < got; i++)
		place(s, o, keys + i * o->key_size, values + i * o->value_size);
	err = (int)got;
out:
	free(keys);
	free(values);
	free(in);
	free(out);
	return err;
}

static int map_walk(struct bpf_snapshot *s, int fd, const struct bpf_snapshot_map_opts *o)
{
	size_t max = o->max_entries;
	uint8_t *keys = malloc(max * o->key_size);
	uint8_t *value = malloc(o->value_size);
	size_t n = 0, added = 0;
	int err = 0;

	if (!keys || !value) {
		err = -ENOMEM;
		goto out;
	}
	/* Collect the keys first: deleting while walking restarts the walk. */
	while (n < max) {
		err = bpf_map_get_next_key(fd, n ? keys + (n - 1) * o->key_size : NULL,
					   keys + n * o->key_size);
		if (err == -ENOENT)
			break;
		if (err)
			goto out;
		n++;
	}
	err = reserve(s, n);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *key = keys + i * o->key_size;

		err = bpf_map_lookup_elem(fd, key, value);
		if (err == -ENOENT)
			continue; /* deleted since the walk */
		if (err)
			goto out;
		if (o->clear)
			bpf_map_delete_elem(fd, key);
		place(s, o, key, value);
		added++;
	}
	err = (int)added;
out:
	free(keys);
	free(value);
	return err;
}

int bpf_snapshot_map(struct bpf_snapshot *s, int map_fd, const struct bpf_snapshot_map_opts *opts)
{
	struct bpf_snapshot_map_opts o;
	size_t room;
	int err;

	if (!s || map_fd < 0 || !opts || opts->key_size == 0 || opts->value_size == 0 ||
	    opts->value_offset < opts->key_size ||
	    (size_t)opts->value_offset + opts->value_size > s->record_size)
		return -EINVAL;
	/* Scratch arrays are sized by max_entries: keep them inside max_bytes too. */
	o = *opts;
	room = s->max_bytes / s->record_size - s->n;
	if (o.max_entries > room)
		o.max_entries = (uint32_t)room;
	if (o.max_entries == 0)
		return opts->max_entries ? -E2BIG : 0;
	if (!o.no_batch) {
		err = map_batch(s, map_fd, &o);
		if (err != -EOPNOTSUPP)
			return err;
		base_log_debug("bpf: map batch lookup unsupported, walking keys");
	}
	return map_walk(s, map_fd, &o);
}

int bpf_snapshot_iter(struct bpf_snapshot *s, int link_fd)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	size_t before;
	int fd, err = 0;

	if (!s || link_fd < 0 || s->record_size == 0)
		return -EINVAL;
	fd = bpf_iter_create(link_fd);
	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n;

		if (cap - len < SNAPSHOT_READ_CHUNK) {
			size_t ncap = cap ? cap * 2 : SNAPSHOT_READ_CHUNK * 2;
			uint8_t *p;

			if (ncap > s->max_bytes + SNAPSHOT_READ_CHUNK)
				ncap = s->max_bytes + SNAPSHOT_READ_CHUNK;
			if (ncap - len < SNAPSHOT_READ_CHUNK) {
				err = -E2BIG;
				goto out;
			}
			p = realloc(buf, ncap);
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			buf = p;
			cap = ncap;
		}
		n = read(fd, buf + len, SNAPSHOT_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > s->max_bytes) {
			err = -E2BIG;
			goto out;
		}
	}
	if (len % s->record_size)
		base_log_debug("bpf: iterator output of %zu bytes is not a multiple of %zu", len,
			       s->record_size);
	before = s->n;
	err = reserve(s, len / s->record_size);
	if (err)
		goto out;
	memcpy(s->data + s->n * s->record_size, buf, (len / s->record_size) * s->record_size);
	s->n += len / s->record_size;
	err = (int)(s->n - before);
out:
	free(buf);
	close(fd);
	return err;
}

int bpf_snapshot_index(struct bpf_snapshot *s)
{
	const void **r;

	if (s->n == 0)
		return 0;
	r = realloc(s->records, s->n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->records = r;
	for (size_t i = 0; i < s->n; i++)
		r[i] = s->data + i * s->record_size;
	return 0;
}
