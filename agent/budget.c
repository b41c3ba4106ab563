// SPDX-License-Identifier: Apache-2.0
/*
 * Memory budgets.  See budget.h.
 */
#include "agent/budget.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct agent_budget {
	char *name;
	size_t limit;
	size_t used;
	size_t peak;
	uint64_t refused;
};

int agent_budget_new(const char *name, size_t limit, struct agent_budget **ret)
{
	struct agent_budget *b = calloc(1, sizeof(*b));

	if (!b || !(b->name = strdup(name ? name : ""))) {
		free(b);
		return -ENOMEM;
	}
	b->limit = limit;
	*ret = b;
	return 0;
}

struct agent_budget *agent_budget_free(struct agent_budget *b)
{
	if (b) {
		free(b->name);
		free(b);
	}
	return NULL;
}

bool agent_budget_take(struct agent_budget *b, size_t n)
{
	if (!b)
		return true;
	if (n > b->limit - b->used) {
		b->refused++;
		return false;
	}
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
	return true;
}

void agent_budget_give(struct agent_budget *b, size_t n)
{
	if (!b)
		return;
	b->used = n > b->used ? 0 : b->used - n;
}

const char *agent_budget_name(const struct agent_budget *b)
{
	return b->name;
}

size_t agent_budget_limit(const struct agent_budget *b)
{
	return b->limit;
}

size_t agent_budget_used(const struct agent_budget *b)
{
	return b->used;
}

size_t agent_budget_peak(const struct agent_budget *b)
{
	return b->peak;
}

uint64_t agent_budget_refused(const struct agent_budget *b)
{
	return b->refused;
}
