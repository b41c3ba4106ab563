// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for ELF symbol tables (run/symtab.c).
 *
 * The files a process maps come from its image, so their bytes are
 * foreign: loading must not crash or leak, a table must stay within its
 * bounds, and every lookup must give NULL or a NUL-terminated name within
 * the name limit.
 */
#include "run/symtab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t probes[] = {0, 1, 0x40, 0x1000, 0x1234, 0x401000, UINT64_MAX};
	struct run_symtab *t = NULL;

	if (run_symtab_load_mem(data, size, &t) < 0)
		return 0;
	if (run_symtab_count(t) > RUN_SYMTAB_MAX_SYMBOLS)
		abort();
	if (strlen(run_symtab_build_id(t)) > 2 * RUN_SYMTAB_MAX_BUILD_ID)
		abort();
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const char *name = run_symtab_lookup(t, probes[i]);

		if (name && (!*name || strlen(name) >= RUN_SYMTAB_MAX_NAME))
			abort();
	}
	run_symtab_free(t);
	return 0;
}
