// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for ld.so.cache files (run/ldcache.c).
 *
 * A container image writes its /etc/ld.so.cache: any bytes.  Lookups must
 * stay inside the buffer, stop at the result limit, and hand over only
 * NUL-terminated paths shorter than the path limit.  The first byte picks
 * the name looked up, so the fuzzer reaches both matches and misses.
 */
#include "run/ldcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *ctx, const char *path)
{
	size_t *calls = ctx;

	if (!*path || strlen(path) >= RUN_LDCACHE_MAX_PATH)
		abort();
	if (++*calls > RUN_LDCACHE_MAX_RESULTS)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"libc", "libssl", "l", "libcrypto"};
	size_t calls = 0;
	int r;

	if (!size)
		return 0;
	r = run_ldcache_lookup(data + 1, size - 1, names[data[0] % 4], check, &calls);
	if (r >= 0 && (size_t)r != calls)
		abort();
	return 0;
}
