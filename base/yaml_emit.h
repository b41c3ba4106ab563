/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML text written with libyaml's emitter, appended to a struct base_buf.
 *
 * Quoting and escaping are libyaml's: a writer says what a scalar is and
 * libyaml decides how it must look.  What libyaml cannot know is the
 * schema a reader applies to plain scalars, so strings are quoted here
 * whenever a plain scalar would read back as something else: a number,
 * a boolean or null under the YAML 1.2 core schema (base_yaml_plain_type()),
 * or under YAML 1.1 ("yes", "on", "1_000", ".5"), which many readers still
 * speak.  Strings with line breaks or other control characters are written
 * double-quoted with escapes, on one line.
 *
 * Each text is one document without a "---" before it: callers that write
 * several separate them themselves.
 *
 * Cost, measured on the 2-core test machine: a 15-field record takes about
 * 11 us (1.6 us of it setting up the emitter), where the hand-written writer
 * kubectl-gadget had took 3.5 us.  That is for manifests, lists and `-o
 * yaml`, which people read; records in bulk go out as JSON (run/).
 */
#ifndef BASE_YAML_EMIT_H
#define BASE_YAML_EMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "base/buf.h"

/* Deeper JSON values are refused (-E2BIG): the emitter's stacks would grow with them. */
#define BASE_YAML_EMIT_MAX_DEPTH 64

struct base_yaml_emit {
	yaml_emitter_t em;
	struct base_buf *out;
	int err; /* of the last append to out */
	bool started;
};

enum base_yaml_emit_style {
	BASE_YAML_EMIT_STRING, /* a string: quoted when it would read back as something else */
	BASE_YAML_EMIT_PLAIN,  /* as it is: keys, numbers and words the writer chose */
	BASE_YAML_EMIT_QUOTED, /* always in double quotes */
};

/*
 * Starts a document appended to out.  Then emit its one root node, and end
 * it with base_yaml_emit_end(), which writes the rest; after any failure,
 * call base_yaml_emit_done() instead.  Errors are -ENOMEM, or the -E2BIG of
 * out's maximum.
 */
int base_yaml_emit_begin(struct base_yaml_emit *e, struct base_buf *out);
int base_yaml_emit_end(struct base_yaml_emit *e);
/* Frees the emitter; what was written to out stays.  Safe after base_yaml_emit_end(). */
void base_yaml_emit_done(struct base_yaml_emit *e);

int base_yaml_emit_scalar(struct base_yaml_emit *e, const char *s, size_t len,
			  enum base_yaml_emit_style style);
/* A block mapping: then keys and values in turn, then base_yaml_emit_map_end(). */
int base_yaml_emit_map_begin(struct base_yaml_emit *e);
int base_yaml_emit_map_end(struct base_yaml_emit *e);
/* A sequence, in block style or, when flow, on one line as [a, b]. */
int base_yaml_emit_seq_begin(struct base_yaml_emit *e, bool flow);
int base_yaml_emit_seq_end(struct base_yaml_emit *e);

/*
 * A JSON value as YAML: objects as block mappings in their order, arrays
 * as block sequences, empty ones as {} and [], strings by
 * BASE_YAML_EMIT_STRING, numbers, booleans and null as JSON writes them.
 */
int base_yaml_emit_json(struct base_yaml_emit *e, const json_t *v);
/* The whole of base_yaml_emit_begin(), _json() and _end() for one value. */
int base_yaml_emit_json_doc(struct base_buf *out, const json_t *v);

#endif /* BASE_YAML_EMIT_H */
