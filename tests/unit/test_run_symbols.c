// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the symbol tables that name stack frames: ELF files
 * (run/symtab.c), read here from this very test binary through its mapping
 * as the stack columns do, and /proc/kallsyms text (run/ksyms.c).
 */
#include "run/ksyms.h"
#include "run/symtab.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/file.h"

void ig_symtab_test_function(void);
int main(void);

__attribute__((noinline)) void ig_symtab_test_function(void)
{
	__asm__ volatile("");
}

/* The file offset of addr in this process's mapping of its executable. */
static uint64_t self_offset(uintptr_t addr)
{
	char *maps = NULL, *line;
	size_t len = 0;
	uint64_t off = UINT64_MAX;

	assert_int_equal(base_file_read("/proc/self/maps", 1 << 22, &maps, &len), 0);
	for (line = maps; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long long start, end, pgoff;

		if (sscanf(line, "%llx-%llx %*s %llx", &start, &end, &pgoff) == 3 &&
		    addr >= start && addr < end) {
			off = addr - start + pgoff;
			break;
		}
	}
	free(maps);
	return off;
}

static void test_own_function_named(void **state)
{
	struct run_symtab *t = NULL;
	uint64_t off = self_offset((uintptr_t)ig_symtab_test_function);
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	const char *name;

	assert_true(fd >= 0);
	assert_int_equal(run_symtab_load(fd, &t), 0);
	close(fd);
	assert_true(run_symtab_count(t) > 10);
	name = run_symtab_lookup(t, off);
	assert_non_null(name);
	assert_string_equal(name, "ig_symtab_test_function");
	/* main is found too; nothing before the first function */
	assert_string_equal(run_symtab_lookup(t, self_offset((uintptr_t)main)), "main");
	assert_null(run_symtab_lookup(t, 0));
	/* gcc on Debian writes a GNU build id: 20 bytes */
	assert_int_equal(strlen(run_symtab_build_id(t)), 40);
	run_symtab_free(t);
}

static void test_not_elf(void **state)
{
	struct run_symtab *t = NULL;

	assert_int_equal(run_symtab_load_mem("#!/bin/sh\n", 10, &t), -ENOEXEC);
	assert_int_equal(run_symtab_load_mem("", 0, &t), -ENOEXEC);
	assert_null(t);
	assert_null(run_symtab_lookup(NULL, 1));
	assert_string_equal(run_symtab_build_id(NULL), "");
}

static void test_kallsyms(void **state)
{
	static const char text[] = "ffffffff81000000 T _text\n"
				   "ffffffff81002000 t helper\t[mod]\n"
				   "ffffffff81001000 T do_syscall_64\n"
				   "0000000000000000 A fixed_percpu_data\n"
				   "garbage line\n"
				   "ffffffff81003000 T last";
	struct run_ksyms *k = NULL;

	assert_int_equal(run_ksyms_parse(text, sizeof(text) - 1, &k), 0);
	/* zero addresses (kptr_restrict) and garbage are not kept; the rest sorted */
	assert_int_equal(run_ksyms_count(k), 4);
	assert_string_equal(run_ksyms_lookup(k, 0xffffffff81001234ull), "do_syscall_64");
	assert_string_equal(run_ksyms_lookup(k, 0xffffffff81002001ull), "helper");
	assert_string_equal(run_ksyms_lookup(k, 0xffffffff81009999ull), "last");
	assert_null(run_ksyms_lookup(k, 0x1000));
	run_ksyms_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function_named),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_kallsyms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
