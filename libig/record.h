/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside libig: the record object behind <ig/record.h>, and the scanner its
 * typed accessors use to find a field in the record's JSON text.
 *
 * The public names (ig_record_*) follow the public header's path
 * (include/ig/record.h); what only the library uses is libig_record_*.
 *
 * The JSON is the pipeline's own output (one line of `ig run -o json`), but
 * the scanner treats it as untrusted all the same: it never reads past the
 * length given, nests at most LIBIG_RECORD_MAX_DEPTH deep, and reports
 * anything it cannot follow as -EINVAL (tests/fuzz/fuzz_libig_record.c).
 * Nothing is parsed until an accessor asks, and only as far as the field.
 */
#ifndef LIBIG_RECORD_H
#define LIBIG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <ig/record.h>

/* Deepest nesting of objects and arrays the scanner follows. */
#define LIBIG_RECORD_MAX_DEPTH 64
/* Longest dotted field name an accessor takes. */
#define LIBIG_RECORD_MAX_PATH 1024

struct libig_record_chunk;

struct ig_record {
	const char *json; /* NUL-terminated at json[len] */
	size_t len;
	const char *ds;
	uint64_t fetch;
	/* unescaped strings handed out since the record was set */
	struct libig_record_chunk *chunks;
};

/* Points r at a new record; frees what the previous one handed out. */
void libig_record_set(struct ig_record *r, const char *json, size_t len, const char *ds,
		      uint64_t fetch);
void libig_record_done(struct ig_record *r);

/*
 * Finds the value of the dotted path in the JSON object json[0..len): 0 with
 * the value's text in *ret and *ret_len (a string with its quotes), -ENOENT when
 * a member of the path is missing or not an object, -EINVAL for text that is
 * not JSON where the scanner looked.
 */
int libig_record_find(const char *json, size_t len, const char *path, const char **ret,
		      size_t *ret_len);

/*
 * Unescapes the JSON string token s[0..len) (with its quotes) into out
 * (room for len bytes); the length in *ret_len.  -EINVAL for a bad escape.
 */
int libig_record_unescape(const char *s, size_t len, char *out, size_t *ret_len);

#endif /* LIBIG_RECORD_H */
