// SPDX-License-Identifier: Apache-2.0
/*
 * ld.so.cache reader.  See ldcache.h.
 *
 * The layouts, as glibc's elf/cache.c writes them (native byte order):
 *
 *   old: "ld.so-1.7.0" (11 bytes), pad to 12, u32 nlibs,
 *        nlibs x {i32 flags; u32 key; u32 value} (12 bytes),
 *        strings, offsets from the end of the entries
 *   new: "glibc-ld.so.cache" "1.1" (20 bytes), u32 nlibs, u32 len_strings,
 *        u8 flags, 3 pad, u32 extension_offset, 3 x u32 unused (48 bytes),
 *        nlibs x {i32 flags; u32 key; u32 value; u32 osversion; u64 hwcap}
 *        (24 bytes), strings, offsets from the start of the new header
 *
 * glibc up to 2.31 wrote the new layout after the old one, at the first
 * 8-byte boundary past the old entries; later versions write it alone.
 */
#include "run/ldcache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define OLD_MAGIC     "ld.so-1.7.0"
#define OLD_MAGIC_LEN 11
#define OLD_HEADER    16 /* magic, padded to 12, then nlibs */
#define OLD_ENTRY     12
#define NEW_MAGIC     "glibc-ld.so.cache1.1"
#define NEW_MAGIC_LEN 20
#define NEW_HEADER    48
#define NEW_ENTRY     24
#define NAME_SUFFIX   ".so"
#define MAX_NAME      256

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The NUL-terminated string at off of [base, base + len), or NULL. */
static const char *string_at(const unsigned char *base, size_t len, uint32_t off)
{
	const char *s;

	if (off >= len)
		return NULL;
	s = (const char *)base + off;
	if (!memchr(s, '\0', len - off))
		return NULL;
	return s;
}

struct walk {
	const char *prefix; /* "<name>.so" */
	size_t prefix_len;
	int (*fn)(void *ctx, const char *path);
	void *ctx;
	int calls;
};

/* One entry: key and value offsets into strings[0, len). Non-zero stops. */
static int visit(struct walk *w, const unsigned char *strings, size_t len, uint32_t key,
		 uint32_t value)
{
	const char *k = string_at(strings, len, key), *v;

	if (!k || strncmp(k, w->prefix, w->prefix_len))
		return 0;
	v = string_at(strings, len, value);
	if (!v || !*v || strlen(v) >= RUN_LDCACHE_MAX_PATH)
		return 0;
	w->calls++;
	if (w->fn(w->ctx, v) || w->calls >= RUN_LDCACHE_MAX_RESULTS)
		return 1;
	return 0;
}

/* The new layout at p (len bytes from the header to the end of the file). */
static int walk_new(struct walk *w, const unsigned char *p, size_t len)
{
	uint32_t n, i;

	if (len < NEW_HEADER || memcmp(p, NEW_MAGIC, NEW_MAGIC_LEN))
		return -EINVAL;
	n = get_u32(p + NEW_MAGIC_LEN);
	/* never more entries than the bytes could hold */
	if (n > (len - NEW_HEADER) / NEW_ENTRY)
		n = (uint32_t)((len - NEW_HEADER) / NEW_ENTRY);
	for (i = 0; i < n; i++) {
		const unsigned char *e = p + NEW_HEADER + (size_t)i * NEW_ENTRY;

		if (visit(w, p, len, get_u32(e + 4), get_u32(e + 8)))
			break;
	}
	return 0;
}

static int walk_old(struct walk *w, const unsigned char *p, size_t len)
{
	uint32_t n, i;
	size_t end;

	n = get_u32(p + OLD_HEADER - 4);
	if (n > (len - OLD_HEADER) / OLD_ENTRY)
		n = (uint32_t)((len - OLD_HEADER) / OLD_ENTRY);
	end = OLD_HEADER + (size_t)n * OLD_ENTRY;
	/* a new cache embedded after the old one is what the loader reads */
	if (len - end >= NEW_HEADER + 8) {
		size_t at = (end + 7) & ~(size_t)7;

		if (at + NEW_HEADER <= len && !memcmp(p + at, NEW_MAGIC, NEW_MAGIC_LEN))
			return walk_new(w, p + at, len - at);
	}
	for (i = 0; i < n; i++) {
		const unsigned char *e = p + OLD_HEADER + (size_t)i * OLD_ENTRY;

		if (visit(w, p + end, len - end, get_u32(e + 4), get_u32(e + 8)))
			break;
	}
	return 0;
}

int run_ldcache_lookup(const void *buf, size_t len, const char *name,
		       int (*fn)(void *ctx, const char *path), void *ctx)
{
	char prefix[MAX_NAME + sizeof(NAME_SUFFIX)];
	struct walk w = {.prefix = prefix, .fn = fn, .ctx = ctx};
	const unsigned char *p = buf;
	size_t n;
	int r;

	if (!buf || !name || !fn || !*name)
		return -EINVAL;
	n = strlen(name);
	if (n >= MAX_NAME || len > RUN_LDCACHE_MAX_BYTES)
		return -EINVAL;
	memcpy(prefix, name, n);
	memcpy(prefix + n, NAME_SUFFIX, sizeof(NAME_SUFFIX));
	w.prefix_len = n + strlen(NAME_SUFFIX);
	if (len >= OLD_HEADER && !memcmp(p, OLD_MAGIC, OLD_MAGIC_LEN))
		r = walk_old(&w, p, len);
	else
		r = walk_new(&w, p, len);
	return r < 0 ? r : w.calls;
}
