/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One record of a gadget, as ig_gadget_next() hands it out.
 *
 * A record is exactly a line of `ig run -o json` for the same gadget and
 * options: a JSON object whose members nest by the fields' dotted names
 * ("proc.comm" is {"proc":{"comm":...}}), with the special types shown for
 * people ("error":"ENOENT" beside "error_raw":2, timestamps as RFC 3339 text).
 * Take it whole with ig_record_json(), or one field at a time with the typed
 * accessors, which find the field by its dotted name.
 *
 * Everything a record returns is valid until the next ig_gadget_next() on
 * its gadget.
 */
#ifndef IG_RECORD_H
#define IG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ig_record;

/* The record as one JSON object, NUL-terminated, without a newline; its length in *len. */
const char *ig_record_json(const struct ig_record *r, size_t *len);
/* The name of the data source the record is from. */
const char *ig_record_ds(const struct ig_record *r);
/*
 * Map iterators: the number of the fetch (1, 2, ...) the record belongs to;
 * records of one fetch come one after another.  0 for tracers and snapshots.
 */
uint64_t ig_record_fetch(const struct ig_record *r);

/*
 * Typed accessors.  field is the dotted name ("proc.comm", "fname").  They
 * return 0 with the value, -ENOENT when the record has no such field (or it
 * is null), -EINVAL when the field holds another type (a string is not a
 * number), -ERANGE when a number does not fit.
 */
/* A string, unescaped and NUL-terminated (a string may hold "\0": len says how long). */
int ig_record_get_str(struct ig_record *r, const char *field, const char **ret, size_t *len);
int ig_record_get_int(struct ig_record *r, const char *field, int64_t *ret);
int ig_record_get_uint(struct ig_record *r, const char *field, uint64_t *ret);
int ig_record_get_double(struct ig_record *r, const char *field, double *ret);
int ig_record_get_bool(struct ig_record *r, const char *field, bool *ret);
/* Any value (an object, an array) as its JSON text, not NUL-terminated. */
int ig_record_get_json(struct ig_record *r, const char *field, const char **ret, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* IG_RECORD_H */
