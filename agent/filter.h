/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record filters: the -F "field OP value" expressions of the CLI.
 *
 * A filter is parsed once against a column catalog and then evaluated on raw
 * records: integer fields are read and compared as numbers, text is compared
 * in place, and only a column whose value must be rendered (an errno name, a
 * user name) is rendered, into the environment's scratch buffer.  Regular
 * expressions are POSIX extended ones, compiled once.
 *
 * This header is internal to agent/.
 */
#ifndef AGENT_FILTER_H
#define AGENT_FILTER_H

#include <stddef.h>

#include "agent/column.h"

struct agent_filter;

/*
 * Parses expr against cols (borrowed; they must outlive the filter).
 * Returns 0 and a new filter in *ret (free with agent_filter_free()),
 * -EINVAL with a one-line reason in err, or -ENOMEM.
 */
int agent_filter_new(const char *expr, const struct agent_column *cols, size_t n_cols,
		     struct agent_filter **ret, char *err, size_t errlen);
struct agent_filter *agent_filter_free(struct agent_filter *f);

/* 1 when the record matches, 0 when it does not, or a negative errno. */
int agent_filter_match(const struct agent_filter *f, struct agent_column_env *env, const void *rec,
		       size_t size);

#endif /* AGENT_FILTER_H */
