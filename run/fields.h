/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The --fields grammar, the one every client reads it with:
 *
 *   "a,b,c"     exactly these fields, in this order
 *   "+a,-b"     the default set, with a added (at the end) and b removed;
 *               one '+' or '-' item makes the whole list relative
 *   ""          the default set
 *
 * An item names a field by its full dotted name ("proc.comm"), a struct by
 * its prefix ("proc": its fields of the default set, or all of them when
 * none is in it), or a field by its last component or its column name
 * ("comm") when no other field has that one.  Names are matched without
 * regard to case when the exact spelling does not match, as Inspektor
 * Gadget does ("k8s.containername").
 *
 * The fields themselves come from the caller: the record pipeline's columns
 * (ig, the agent) or a gadget's description received from an agent
 * (kubectl gadget), so both choose the same fields from the same list.
 */
#ifndef RUN_FIELDS_H
#define RUN_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

struct run_fields_item {
	const char *name;	/* full dotted name */
	const char *short_name; /* column name before upper-casing; may be NULL */
	bool in_default;	/* in the default set of the output at hand */
};

/*
 * Chooses from items[0..n) by spec (NULL: the default set): the indexes in
 * output order go to sel (room for n), their count to *ret_n.  -EINVAL with
 * a one-line reason in err for an unknown or ambiguous name; 0 otherwise.
 */
int run_fields_select(const struct run_fields_item *items, size_t n, const char *spec, size_t *sel,
		      size_t *ret_n, char *err, size_t errlen);

#endif /* RUN_FIELDS_H */
