/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record filters: the -F "field OP value" expressions of the CLI.
 *
 * A filter is parsed once against a column catalog and then evaluated on raw
 * records: integer fields are read and compared as numbers, text is compared
 * in place, and only a column whose value must be rendered (an errno name, a
 * user name) is rendered, into the environment's scratch buffer.  Regular
 * expressions are PCRE2's in the RE2 syntax Inspektor Gadget's users write,
 * compiled once and bounded (run/regex.h).  A filter is matched by one
 * thread at a time.
 *
 * This header is internal to agent/.
 */
#ifndef RUN_FILTER_H
#define RUN_FILTER_H

#include <stddef.h>

#include "run/column.h"

struct run_filter;

/*
 * Parses expr against cols (borrowed; they must outlive the filter).
 * Returns 0 and a new filter in *ret (free with run_filter_free()),
 * -EINVAL with a one-line reason in err, or -ENOMEM.
 */
int run_filter_new(const char *expr, const struct run_column *cols, size_t n_cols,
		   struct run_filter **ret, char *err, size_t errlen);
struct run_filter *run_filter_free(struct run_filter *f);

/* 1 when the record matches, 0 when it does not, or a negative errno. */
int run_filter_match(const struct run_filter *f, struct run_column_env *env, const void *rec,
		     size_t size);

#endif /* RUN_FILTER_H */
