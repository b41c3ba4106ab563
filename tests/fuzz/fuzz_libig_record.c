// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for libig's record scanner and accessors
 * (libig/record.c).
 *
 * The input is split at its first newline: a dotted field path, then the
 * bytes of a record.  Every accessor runs on it; beyond not crashing or
 * reading past the record (ASan), each promise is checked: a value found
 * lies inside the record, a string found unescapes to no more bytes than
 * its token, and the accessors agree with each other on what the field is.
 * A broken promise aborts so that the fuzzer records the input.
 */
#include "libig/record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct ig_record r = {0};
	char *path, *json;
	const char *v, *s;
	size_t plen, jlen, vlen, slen;
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	int found, e;

	if (!nl)
		return 0;
	plen = (size_t)(nl - data);
	jlen = size - plen - 1;
	path = strndup((const char *)data, plen);
	json = malloc(jlen + 1);
	if (!path || !json)
		abort();
	memcpy(json, nl + 1, jlen);
	json[jlen] = '\0';

	found = libig_record_find(json, jlen, path, &v, &vlen);
	if (found == 0 && (v < json || v + vlen > json + jlen || !vlen))
		abort();
	if (found != 0 && found != -ENOENT && found != -EINVAL)
		abort();

	libig_record_set(&r, json, jlen, "ds", 1);
	e = ig_record_get_str(&r, path, &s, &slen);
	if (e == 0 && (found != 0 || v[0] != '"' || slen > vlen || s[slen] != '\0'))
		abort();
	e = ig_record_get_json(&r, path, &s, &slen);
	if (e == 0 && (found != 0 || s != v || slen != vlen))
		abort();
	if (e == -EINVAL && found == 0 && !(vlen == 4 && !memcmp(v, "null", 4)))
		abort();
	if (ig_record_get_uint(&r, path, &u) == 0 && (found != 0 || v[0] == '-'))
		abort();
	if (ig_record_get_int(&r, path, &i) == 0 && found != 0)
		abort();
	if (ig_record_get_double(&r, path, &d) == 0 && found != 0)
		abort();
	if (ig_record_get_bool(&r, path, &b) == 0 && (found != 0 || vlen < 4))
		abort();
	libig_record_done(&r);
	free(path);
	free(json);
	return 0;
}
