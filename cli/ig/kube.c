// SPDX-License-Identifier: Apache-2.0
/*
 * ig run --kubeconfig FILE [--context NAME]: what the Kubernetes API knows
 * about the pods whose containers run here, for the k8s.podLabels (current,
 * not the labels the pod was created with), k8s.owner.kind/name and
 * endpoint (F.k8s.*) columns.
 *
 * Only with the flag: a plain ig run never talks to a cluster, whatever
 * $KUBECONFIG says.  The pods of this node are watched when $NODE_NAME names
 * it (as in a DaemonSet with the downward API), all pods otherwise; a gadget
 * with network endpoints also needs the other nodes' pods, the services and
 * the nodes, since an address may be any of them.
 *
 * The caches run in threads of their own (k8s/cache.h) and are immutable
 * snapshots to the lookups, so the run's event loop does not drive them;
 * the caller blocks SIGINT/SIGTERM before starting them so that Ctrl-C
 * still reaches the loop's signalfd and not one of these threads.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "k8s/cache.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/enrich.h"

/* The first list of every cache must arrive within this, or ig run gives up. */
#define KUBE_SYNC_TIMEOUT_MS	4000
#define KUBE_CONNECT_TIMEOUT_MS 3000
/* A list of a big cluster's pods may take a while; a stalled one may not. */
#define KUBE_REQUEST_TIMEOUT_MS 30000
/* A node name is a DNS subdomain (RFC 1123): at most 253 characters. */
#define KUBE_MAX_NODE_NAME 253
#define KUBE_ERRLEN	   1024

enum { KUBE_PODS, KUBE_SERVICES, KUBE_NODES, KUBE_N_CACHES };

struct ig_kube {
	struct k8s_config *cfg;
	struct k8s_client *client;
	struct k8s_cache *caches[KUBE_N_CACHES];
	struct k8s_enrich *enrich;
};

/* $NODE_NAME when it is set and looks like a node name; NULL otherwise. */
static const char *node_name(void)
{
	const char *n = getenv("NODE_NAME");

	if (!n || !*n)
		return NULL;
	if (strlen(n) > KUBE_MAX_NODE_NAME ||
	    strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(n)) {
		ig_warn("ignoring NODE_NAME '%.64s': not a node name; watching the pods of every "
			"node",
			n);
		return NULL;
	}
	return n;
}

/* The transport errors of k8s/client.h, as opposed to the server's answers. */
static bool unreachable(int r)
{
	return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH || r == -ETIMEDOUT ||
	       r == -ECONNRESET || r == -EKEYREJECTED;
}

static int start_cache(struct ig_kube *k, int which, const char *path, const char *field_selector)
{
	struct k8s_cache_opts co = {
		.client = k->client,
		.path = path,
		.field_selector = field_selector,
		.resolve_owners = which == KUBE_PODS,
	};
	int r = k8s_cache_new(&co, &k->caches[which]);

	if (r < 0)
		ig_error("watching %s: %s", path, strerror(-r));
	return r;
}

int ig_kube_start(const char *kubeconfig, const char *context, bool endpoints, struct ig_kube **ret)
{
	struct k8s_config_opts copts = {.kubeconfig = kubeconfig, .context = context};
	struct k8s_client_opts clopts = {
		.connect_timeout_ms = KUBE_CONNECT_TIMEOUT_MS,
		.timeout_ms = KUBE_REQUEST_TIMEOUT_MS,
	};
	struct k8s_enrich_opts eo = {0};
	char err[KUBE_ERRLEN] = "", selector[KUBE_MAX_NODE_NAME + 32];
	const char *node = endpoints ? NULL : node_name();
	struct ig_kube *k;
	uint64_t deadline;
	int r, i;

	k = calloc(1, sizeof(*k));
	if (!k) {
		ig_error("out of memory");
		return -ENOMEM;
	}
	r = k8s_config_load(&copts, &k->cfg, err, sizeof(err));
	if (r < 0) {
		/* the loader's message names the file already */
		if (err[0])
			ig_error("--kubeconfig: %s", err);
		else
			ig_error("--kubeconfig %s: %s", kubeconfig, strerror(-r));
		goto fail;
	}
	r = k8s_client_new(k->cfg, &clopts, &k->client);
	if (r < 0) {
		ig_error("Kubernetes API server %s: %s", k8s_config_server(k->cfg), strerror(-r));
		goto fail;
	}
	/* one request first: an unreachable server is reported at once, not after the sync bound */
	r = k8s_client_get(k->client, "/version", NULL, err, sizeof(err));
	if (r == -ENOKEY) {
		/* the exec credential plugin failed: its message names it and the file */
		ig_error("--kubeconfig: %s", err);
		goto fail;
	}
	if (r < 0) {
		ig_error("%s the Kubernetes API server %s (from %s): %s",
			 unreachable(r) ? "cannot reach" : "refused by", k8s_config_server(k->cfg),
			 k8s_config_source(k->cfg), err[0] ? err : strerror(-r));
		goto fail;
	}
	if (node)
		snprintf(selector, sizeof(selector), "spec.nodeName=%s", node);
	r = start_cache(k, KUBE_PODS, "/api/v1/pods", node ? selector : NULL);
	if (r >= 0 && endpoints)
		r = start_cache(k, KUBE_SERVICES, "/api/v1/services", NULL);
	if (r >= 0 && endpoints)
		r = start_cache(k, KUBE_NODES, "/api/v1/nodes", NULL);
	if (r < 0)
		goto fail;
	deadline = base_time_mono_ms() + KUBE_SYNC_TIMEOUT_MS;
	for (i = 0; i < KUBE_N_CACHES; i++) {
		uint64_t now = base_time_mono_ms();

		if (!k->caches[i])
			continue;
		err[0] = '\0';
		r = k8s_cache_wait_synced(k->caches[i], now < deadline ? deadline - now : 1, err,
					  sizeof(err));
		if (r < 0) {
			ig_error("Kubernetes API server %s: %s", k8s_config_server(k->cfg),
				 err[0] ? err : strerror(-r));
			goto fail;
		}
	}
	eo.pods = k->caches[KUBE_PODS];
	eo.services = k->caches[KUBE_SERVICES];
	eo.nodes = k->caches[KUBE_NODES];
	r = k8s_enrich_new(&eo, &k->enrich);
	if (r < 0) {
		ig_error("Kubernetes enrichment: %s", strerror(-r));
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	ig_kube_free(k);
	return r;
}

struct k8s_enrich *ig_kube_enrich(const struct ig_kube *k)
{
	return k ? k->enrich : NULL;
}

struct ig_kube *ig_kube_free(struct ig_kube *k)
{
	int i;

	if (!k)
		return NULL;
	k8s_enrich_free(k->enrich);
	for (i = 0; i < KUBE_N_CACHES; i++)
		k8s_cache_free(k->caches[i]);
	k8s_client_free(k->client);
	k8s_config_free(k->cfg);
	free(k);
	return NULL;
}
