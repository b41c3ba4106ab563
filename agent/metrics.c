// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's own metrics.  See metrics.h.
 *
 * The text format wants all samples of a family together, after its HELP
 * and TYPE lines, so each family is written in one go, over every gadget or
 * cache it has a series for.
 */
#include "agent/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/budget.h"
#include "base/time.h"

struct agent_metrics {
	struct agent_metrics_gadget gadgets[AGENT_METRICS_MAX_GADGETS];
	size_t n_gadgets;
	struct agent_metrics_gadget other;
};

int agent_metrics_new(struct agent_metrics **ret)
{
	struct agent_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	snprintf(m->other.name, sizeof(m->other.name), "other");
	*ret = m;
	return 0;
}

struct agent_metrics *agent_metrics_free(struct agent_metrics *m)
{
	free(m);
	return NULL;
}

struct agent_metrics_gadget *agent_metrics_gadget(struct agent_metrics *m, const char *name)
{
	size_t i;

	if (!name)
		return &m->other;
	for (i = 0; i < m->n_gadgets; i++)
		if (!strcmp(m->gadgets[i].name, name))
			return &m->gadgets[i];
	if (m->n_gadgets == AGENT_METRICS_MAX_GADGETS || strlen(name) >= sizeof(m->gadgets[0].name))
		return &m->other;
	snprintf(m->gadgets[m->n_gadgets].name, sizeof(m->gadgets[0].name), "%s", name);
	return &m->gadgets[m->n_gadgets++];
}

static void prom_escape(struct base_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			base_buf_putc(b, '\\');
		if (*s == '\n') {
			base_buf_puts(b, "\\n");
			continue;
		}
		base_buf_putc(b, *s);
	}
}

static void prom_head(struct base_buf *b, const char *name, const char *type, const char *help)
{
	base_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family at a time: the text format wants a family's samples together. */
static void prom_caches(struct base_buf *b, const struct agent_metrics_cache *rows, size_t n)
{
	uint64_t now = base_time_mono_ms();
	size_t i;

	prom_head(b, "gadget_k8s_synced", "gauge",
		  "Whether a Kubernetes cache has its first list.");
	for (i = 0; i < n; i++)
		base_buf_printf(b, "gadget_k8s_synced{resource=\"%s\"} %d\n", rows[i].what,
				rows[i].synced);
	prom_head(b, "gadget_k8s_watch_events_total", "counter", "Watch events applied.");
	for (i = 0; i < n; i++)
		base_buf_printf(b, "gadget_k8s_watch_events_total{resource=\"%s\"} %" PRIu64 "\n",
				rows[i].what, rows[i].st.events);
	prom_head(b, "gadget_k8s_watch_lists_total", "counter", "Lists completed.");
	for (i = 0; i < n; i++)
		base_buf_printf(b, "gadget_k8s_watch_lists_total{resource=\"%s\"} %" PRIu64 "\n",
				rows[i].what, rows[i].st.lists);
	prom_head(b, "gadget_k8s_watch_errors_total", "counter", "Failed lists and streams.");
	for (i = 0; i < n; i++)
		base_buf_printf(b, "gadget_k8s_watch_errors_total{resource=\"%s\"} %" PRIu64 "\n",
				rows[i].what, rows[i].st.list_errors + rows[i].st.decode_errors);
	prom_head(b, "gadget_k8s_last_event_age_seconds", "gauge",
		  "Time since a cache last saw a change.");
	for (i = 0; i < n; i++)
		if (rows[i].last_ms)
			base_buf_printf(b,
					"gadget_k8s_last_event_age_seconds{resource=\"%s\"} %.3f\n",
					rows[i].what, (double)(now - rows[i].last_ms) / 1000.0);
}

static void prom_limits(struct base_buf *b, const struct agent_metrics_node *n)
{
	size_t i;

	prom_head(b, "gadget_agent_connections", "gauge",
		  "Control API connections now, per listener.");
	base_buf_printf(b, "gadget_agent_connections{listener=\"tcp\"} %" PRIu64 "\n",
			n->sessions_tcp);
	base_buf_printf(b, "gadget_agent_connections{listener=\"unix\"} %" PRIu64 "\n",
			n->sessions_unix);
	prom_head(b, "gadget_agent_connections_closed_total", "counter",
		  "Control API connections refused or closed by a limit.");
	base_buf_printf(b, "gadget_agent_connections_closed_total{reason=\"full\"} %" PRIu64 "\n",
			n->sessions_refused);
	base_buf_printf(b,
			"gadget_agent_connections_closed_total{reason=\"no_hello\"} %" PRIu64 "\n",
			n->hello_timeouts);
	base_buf_printf(b, "gadget_agent_connections_closed_total{reason=\"idle\"} %" PRIu64 "\n",
			n->idle_timeouts);
	if (!n->n_budgets)
		return;
	prom_head(b, "gadget_agent_memory_budget_bytes", "gauge",
		  "Memory the agent lets clients and replays hold, per budget.");
	for (i = 0; i < n->n_budgets; i++)
		base_buf_printf(b, "gadget_agent_memory_budget_bytes{budget=\"%s\"} %zu\n",
				agent_budget_name(n->budgets[i]),
				agent_budget_limit(n->budgets[i]));
	prom_head(b, "gadget_agent_memory_used_bytes", "gauge", "Memory held now, per budget.");
	for (i = 0; i < n->n_budgets; i++)
		base_buf_printf(b, "gadget_agent_memory_used_bytes{budget=\"%s\"} %zu\n",
				agent_budget_name(n->budgets[i]), agent_budget_used(n->budgets[i]));
	prom_head(b, "gadget_agent_memory_peak_bytes", "gauge",
		  "The most memory ever held at once, per budget.");
	for (i = 0; i < n->n_budgets; i++)
		base_buf_printf(b, "gadget_agent_memory_peak_bytes{budget=\"%s\"} %zu\n",
				agent_budget_name(n->budgets[i]), agent_budget_peak(n->budgets[i]));
	prom_head(b, "gadget_agent_memory_refused_total", "counter",
		  "Allocations refused because a budget was spent.");
	for (i = 0; i < n->n_budgets; i++)
		base_buf_printf(b, "gadget_agent_memory_refused_total{budget=\"%s\"} %" PRIu64 "\n",
				agent_budget_name(n->budgets[i]),
				agent_budget_refused(n->budgets[i]));
}

int agent_metrics_write(const struct agent_metrics *m, const struct agent_metrics_node *n,
			struct base_buf *b)
{
	size_t i;

	prom_head(b, "gadget_agent_info", "gauge", "The agent's version and node.");
	base_buf_puts(b, "gadget_agent_info{version=\"");
	prom_escape(b, n->version);
	base_buf_puts(b, "\",node=\"");
	prom_escape(b, n->node);
	base_buf_puts(b, "\"} 1\n");
	prom_head(b, "gadget_agent_start_time_seconds", "gauge", "When the agent started.");
	base_buf_printf(b, "gadget_agent_start_time_seconds %.3f\n", (double)n->started_ms / 1e3);
	prom_head(b, "gadget_instances", "gauge",
		  "Detached gadget instances running on this node.");
	base_buf_printf(b, "gadget_instances %zu\n", n->instances);
	prom_head(b, "gadget_containers", "gauge", "Containers in the agent's collection.");
	base_buf_printf(b, "gadget_containers %zu\n", n->containers);
	prom_head(b, "gadget_runs", "gauge", "Gadget runs streaming to clients now.");
	base_buf_printf(b, "gadget_runs %zu\n", n->runs);
	prom_head(b, "gadget_clients", "gauge", "Control API connections now.");
	base_buf_printf(b, "gadget_clients %" PRIu64 "\n", n->clients);
	prom_head(b, "gadget_records_total", "counter",
		  "Records gadgets produced on this node (after filters).");
	for (i = 0; i < m->n_gadgets; i++) {
		base_buf_puts(b, "gadget_records_total{gadget=\"");
		prom_escape(b, m->gadgets[i].name);
		base_buf_printf(b, "\"} %" PRIu64 "\n", m->gadgets[i].records);
	}
	prom_head(b, "gadget_records_lost_total", "counter",
		  "Records the kernel could not queue (ring buffer full).");
	for (i = 0; i < m->n_gadgets; i++) {
		base_buf_puts(b, "gadget_records_lost_total{gadget=\"");
		prom_escape(b, m->gadgets[i].name);
		base_buf_printf(b, "\"} %" PRIu64 "\n", m->gadgets[i].lost);
	}
	prom_head(b, "gadget_client_records_dropped_total", "counter",
		  "Records not sent to a client whose queue was full.");
	base_buf_printf(b, "gadget_client_records_dropped_total %" PRIu64 "\n",
			n->client_records_dropped);
	if (n->n_caches)
		prom_caches(b, n->caches, n->n_caches);
	prom_limits(b, n);
	return 0;
}
