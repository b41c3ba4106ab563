// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the ld.so.cache reader (run/ldcache.c): the layouts glibc
 * writes, built here byte by byte, the prefix rule ("libc" is libc.so.6,
 * not libcap.so.2), and bytes that are no cache or lie about their sizes.
 */
#include "run/ldcache.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

struct found {
	size_t n;
	char paths[8][128];
};

static int collect(void *ctx, const char *path)
{
	struct found *f = ctx;

	if (f->n < 8)
		strncpy(f->paths[f->n++], path, 127);
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The new layout: header, n entries (key, value), then the strings. */
static size_t build_new(unsigned char *buf, const char *const *kv, size_t n)
{
	size_t strings = 48 + n * 24, off = strings;

	memset(buf, 0, strings);
	memcpy(buf, "glibc-ld.so.cache1.1", 20);
	put32(buf + 20, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(kv[2 * i]) + 1, vl = strlen(kv[2 * i + 1]) + 1;

		memcpy(buf + off, kv[2 * i], kl);
		put32(buf + 48 + i * 24 + 4, (uint32_t)off);
		off += kl;
		memcpy(buf + off, kv[2 * i + 1], vl);
		put32(buf + 48 + i * 24 + 8, (uint32_t)off);
		off += vl;
	}
	return off;
}

static void test_new_layout(void **state)
{
	static const char *const kv[] = {
		"libcap.so.2", "/lib/x86_64-linux-gnu/libcap.so.2",
		"libc.so.6",   "/lib/x86_64-linux-gnu/libc.so.6",
		"libc.so.6",   "/lib/i386-linux-gnu/libc.so.6",
		"libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
	};
	unsigned char buf[1024];
	size_t len = build_new(buf, kv, 4);
	struct found f = {0};

	assert_int_equal(run_ldcache_lookup(buf, len, "libc", collect, &f), 2);
	assert_string_equal(f.paths[0], "/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(f.paths[1], "/lib/i386-linux-gnu/libc.so.6");
	memset(&f, 0, sizeof(f));
	assert_int_equal(run_ldcache_lookup(buf, len, "libssl", collect, &f), 1);
	assert_int_equal(run_ldcache_lookup(buf, len, "libnss", collect, &f), 0);
}

static void test_old_then_new(void **state)
{
	static const char *const kv[] = {"libc.so.6", "/lib/libc.so.6"};
	unsigned char buf[1024];
	struct found f = {0};
	size_t len;

	/* an old header claiming one entry, then the new cache at the next 8-byte boundary */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "ld.so-1.7.0", 11);
	put32(buf + 12, 1);
	len = 32 + build_new(buf + 32, kv, 1);
	assert_int_equal(run_ldcache_lookup(buf, len, "libc", collect, &f), 1);
	assert_string_equal(f.paths[0], "/lib/libc.so.6");
}

static void test_not_a_cache(void **state)
{
	static const char *const kv[] = {"libc.so.6", "/lib/libc.so.6"};
	unsigned char buf[1024];
	struct found f = {0};
	size_t len;

	assert_int_equal(run_ldcache_lookup("hello", 5, "libc", collect, &f), -EINVAL);
	assert_int_equal(run_ldcache_lookup(buf, 0, "libc", collect, &f), -EINVAL);
	/* an entry count far past the bytes: only the entries there are read */
	len = build_new(buf, kv, 1);
	put32(buf + 20, 0xffffffff);
	assert_int_equal(run_ldcache_lookup(buf, len, "libc", collect, &f), 1);
	/* offsets past the end, and a string without its NUL, are skipped */
	put32(buf + 20, 1);
	put32(buf + 48 + 8, 100000);
	assert_int_equal(run_ldcache_lookup(buf, len, "libc", collect, &f), 0);
	len = build_new(buf, kv, 1);
	assert_int_equal(run_ldcache_lookup(buf, len - 1, "libc", collect, &f), 0);
	assert_int_equal(run_ldcache_lookup(buf, len, "", collect, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_layout),
		cmocka_unit_test(test_old_then_new),
		cmocka_unit_test(test_not_a_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
