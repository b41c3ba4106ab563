// SPDX-License-Identifier: Apache-2.0
/*
 * /proc/kallsyms.  See ksyms.h.
 *
 * Each line is "ADDRESS TYPE NAME [MODULE]"; the names go into one buffer
 * and the table holds an address and an offset per symbol.
 */
#include "run/ksyms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

/* A longer name is cut (kernel names are at most 512 bytes, KSYM_NAME_LEN). */
#define KSYM_MAX_NAME 512

struct ksym {
	uint64_t addr;
	uint32_t name;
};

struct run_ksyms {
	size_t n;
	struct ksym *syms;
	char *names;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int run_ksyms_parse(const char *text, size_t len, struct run_ksyms **ret)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, names_len = 0;
	struct run_ksyms *k;

	if (!text || !ret || len > RUN_KSYMS_MAX_BYTES)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	/* the names never take more room than the text */
	if (k)
		k->names = malloc(len + 1);
	if (!k || !k->names) {
		run_ksyms_free(k);
		return -ENOMEM;
	}
	while (p < end && k->n < RUN_KSYMS_MAX_SYMBOLS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *name;
		const char *line_end = nl ? nl : end;
		uint64_t addr = 0;
		size_t digits = 0, n;
		int v;

		while (p < line_end && (v = hexval(*p)) >= 0 && digits < 16) {
			addr = addr << 4 | (uint64_t)v;
			p++;
			digits++;
		}
		/* " T name": a type letter between single spaces */
		if (!digits || line_end - p < 4 || p[0] != ' ' || p[2] != ' ' || !addr)
			goto next;
		name = p + 3;
		/* up to a blank, within the line: the text need not end with a NUL */
		for (n = 0;
		     name + n < line_end && name[n] != ' ' && name[n] != '\t' && name[n] != '\0';
		     n++)
			;
		if (!n)
			goto next;
		if (n >= KSYM_MAX_NAME)
			n = KSYM_MAX_NAME - 1;
		if (k->n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct ksym *s = reallocarray(k->syms, ncap, sizeof(*s));

			if (!s) {
				run_ksyms_free(k);
				return -ENOMEM;
			}
			k->syms = s;
			cap = ncap;
		}
		k->syms[k->n].addr = addr;
		k->syms[k->n].name = (uint32_t)names_len;
		memcpy(k->names + names_len, name, n);
		k->names[names_len + n] = '\0';
		names_len += n + 1;
		k->n++;
	next:
		p = nl ? nl + 1 : end;
	}
	if (k->n)
		qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	*ret = k;
	return 0;
}

int run_ksyms_load(const char *path, struct run_ksyms **ret)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = base_file_read(path ? path : "/proc/kallsyms", RUN_KSYMS_MAX_BYTES, &text, &len);
	if (r < 0)
		return r;
	r = run_ksyms_parse(text, len, ret);
	free(text);
	return r;
}

struct run_ksyms *run_ksyms_free(struct run_ksyms *k)
{
	if (!k)
		return NULL;
	free(k->syms);
	free(k->names);
	free(k);
	return NULL;
}

const char *run_ksyms_lookup(const struct run_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!k || !k->n)
		return NULL;
	hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? k->names + k->syms[lo - 1].name : NULL;
}

size_t run_ksyms_count(const struct run_ksyms *k)
{
	return k ? k->n : 0;
}
