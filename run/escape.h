/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing untrusted text into an output format.
 *
 * Strings in records come from the traced programs (file names, argv) and may
 * hold anything: quotes, control characters, terminal escape sequences,
 * broken UTF-8.  These helpers are the only way such bytes reach the output:
 * as a JSON string, as a YAML scalar, or as a padded cell of a terminal table
 * where nothing can move the cursor.
 */
#ifndef RUN_ESCAPE_H
#define RUN_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/*
 * Length of the valid UTF-8 sequence at s (2, 3 or 4), or 0 when s[0] does
 * not start one within n bytes (overlong forms and surrogates are invalid).
 */
size_t run_escape_utf8_len(const unsigned char *s, size_t n);

/* Most bytes run_escape_json() writes for n input bytes, quotes included. */
#define RUN_ESCAPE_JSON_MAX(n) (6 * (size_t)(n) + 2)

/*
 * Appends s[0..n) as a quoted JSON string: ", \ and control characters
 * escaped, each byte of invalid UTF-8 replaced by \ufffd.  Before writing it
 * makes room for the string plus keep more bytes, so a caller that reserved
 * space for what follows keeps it.
 */
int run_escape_json(struct base_buf *b, const char *s, size_t n, size_t keep);

/* True when s[0..n) can be written as a plain YAML scalar read back as itself. */
bool run_escape_yaml_plain(const char *s, size_t n);
/* Appends s[0..n) as a YAML scalar: plain when safe, else double-quoted. */
int run_escape_yaml(struct base_buf *b, const char *s, size_t n);

/* Columns on a terminal, counted in code points (not bytes). */
size_t run_escape_width(const char *s, size_t n);

/*
 * Appends s[0..n) as a table cell of width columns: control characters and
 * invalid UTF-8 become '?', longer text is cut and ends with "…", shorter text
 * is padded with spaces on the left (right) or the right (!right) unless pad
 * is false.  width 0 means no limit.
 */
int run_escape_cell(struct base_buf *b, const char *s, size_t n, size_t width, bool right,
		    bool pad);

#endif /* RUN_ESCAPE_H */
