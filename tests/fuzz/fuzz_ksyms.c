// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the kallsyms parser (run/ksyms.c).
 *
 * /proc/kallsyms is the kernel's, but the parser takes any text (a file
 * given for tests, a kernel's odd module names): it must not read past the
 * text, and a lookup gives NULL or a name without spaces or newlines.
 */
#include "run/ksyms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t probes[] = {0, 1, 0xffffffff81000000ull, UINT64_MAX};
	struct run_ksyms *k = NULL;

	if (run_ksyms_parse((const char *)data, size, &k) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const char *name = run_ksyms_lookup(k, probes[i]);

		if (name && (!*name || strpbrk(name, " \t\n")))
			abort();
	}
	run_ksyms_free(k);
	return 0;
}
