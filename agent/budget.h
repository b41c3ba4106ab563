/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory budgets: how many bytes a class of buffers the agent keeps for
 * others may hold at once, whoever asks.  Per-object bounds (a frame, a
 * session's queue, an instance's replay) are not enough on their own: a
 * few hundred clients each within their bounds still add up to more than a
 * pod's memory limit, and the kernel's answer to that is the OOM killer.
 * So the buffers that clients and gadgets make the agent fill (control API
 * frames being received, queues of answers and records, replay buffers)
 * take their bytes from a budget first, and the budget says no once it is
 * spent: a frame is refused, a record batch is dropped for that client, a
 * replay forgets its oldest records.
 *
 * The agent sizes its budgets from the memory limit of its cgroup
 * (base/cgroup.h) and gives each listener its own, so that clients of one
 * cannot spend what another's need (docs/agent.md "Limits").
 *
 * Not thread-safe: every buffer charged to a budget belongs to the agent's
 * loop thread.
 */
#ifndef AGENT_BUDGET_H
#define AGENT_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_budget;

/* Returns a new budget of limit bytes in *ret (free with agent_budget_free()); -ENOMEM. */
int agent_budget_new(const char *name, size_t limit, struct agent_budget **ret);
/* NULL-safe; whatever is still taken is forgotten. */
struct agent_budget *agent_budget_free(struct agent_budget *b);

/*
 * Takes n bytes: true when they fit, false (and nothing is taken, and the
 * refusal is counted) when they would pass the limit.  A NULL budget always
 * says yes.
 */
bool agent_budget_take(struct agent_budget *b, size_t n);
/* Gives back n bytes taken before; NULL-safe. */
void agent_budget_give(struct agent_budget *b, size_t n);

/* Its name, for logs and metrics ("tcp", "unix", "replay"); borrowed. */
const char *agent_budget_name(const struct agent_budget *b);
size_t agent_budget_limit(const struct agent_budget *b);
size_t agent_budget_used(const struct agent_budget *b);
/* The most ever taken at once. */
size_t agent_budget_peak(const struct agent_budget *b);
/* Takes refused so far. */
uint64_t agent_budget_refused(const struct agent_budget *b);

#endif /* AGENT_BUDGET_H */
