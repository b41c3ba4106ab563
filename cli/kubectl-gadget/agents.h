/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agents of a cluster as the plugin sees them: found as the pods
 * labelled k8s-app=gadget in the gadget namespace (spec.nodeName names the
 * node), each reached through the API server's pods/portforward to port 8484
 * (k8s/portforward.h).  The sessions themselves, and the commands that use
 * them, are the client's (cli/client/agents.h), shared with `ig --remote`.
 *
 * Connections are opened in parallel (a few threads, each opening a forward
 * and saying Hello), because every one costs a TLS handshake and a WebSocket
 * upgrade through the API server.
 */
#ifndef CLI_KG_AGENTS_H
#define CLI_KG_AGENTS_H

#include <stddef.h>

#include "cli/client/agents.h"
#include "cli/kubectl-gadget/kg.h"

/* Connections opened at once. */
#define KG_CONNECT_THREADS 16

/*
 * Lists the agent pods of g's gadget namespace, one per node, keeping only
 * the nodes named in nodes[] when n_nodes > 0 (a name without an agent is an
 * error).  Prints the error (none deployed, API failures); -errno.
 */
int kg_agents_find(struct kg_global *g, const char *const *nodes, size_t n_nodes,
		   struct client_agents *ret);

/*
 * Connects to every agent (forward + Hello).  Returns how many are
 * connected; the others have their error set (not yet reported).
 */
int kg_agents_connect(struct kg_global *g, struct client_agents *as);

/*
 * The client front end of the plugin, for the client's commands (run,
 * attach, list, show, delete): the agents through port-forwards, instances
 * as ConfigMaps written with the user's credentials (instance_cm.h).
 */
struct client_front kg_front(struct kg_global *g);

#endif /* CLI_KG_AGENTS_H */
