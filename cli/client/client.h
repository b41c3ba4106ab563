/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of the control API (docs/api.md), shared by the two
 * programs that talk to agents: kubectl-gadget, which reaches every node's
 * gadget-agent through the API server, and `ig --remote`, which talks to one
 * `ig daemon` on a unix socket.  Both run the same commands with the same
 * flags and output: run (streaming or --detach), attach, list, delete, show;
 * what differs is how the agents are found and reached, and that a cluster
 * has nodes and namespaces.  A program describes that in a client_front
 * and calls the client_cmd_*() functions.
 *
 * This is program code (it prints), linked into both programs from
 * cli/client/: every error is printed once as "<prog>: error: <reason>", and
 * the commands return the programs' exit codes.
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"
#include "base/opt.h"
#include "base/time.h"

#define CLIENT_EXIT_OK	  0
#define CLIENT_EXIT_ERROR 1
#define CLIENT_EXIT_USAGE 2
#define CLIENT_ERRLEN	  1024

struct client_agents;

/* How a program reaches its agents. */
struct client_front {
	const char *prog; /* "kubectl-gadget", "ig": the prefix of messages */
	/* how the user types a command, for usage lines and hints: "kubectl gadget", "ig" */
	const char *cmd;
	/*
	 * A cluster: several nodes (--node, a NODES column), a namespace from
	 * the program (namespace_()), the cluster's container selectors
	 * (RUN_FLAGS_CLUSTER); else one host, with ig run's selectors.
	 */
	bool cluster;
	/*
	 * Finds and connects the agents, only those of nodes[] when n_nodes.
	 * Prints why when it fails (-errno); reports the agents that could not
	 * be reached unless quiet.  Returns how many are connected (at least
	 * one).  On failure *ret is empty.
	 */
	int (*connect)(void *ctx, const char *const *nodes, size_t n_nodes, bool quiet,
		       struct client_agents *ret);
	/* cluster: the namespace of the pods a run selects, after connect() */
	const char *(*namespace_)(void *ctx);
	/*
	 * Ask for zstd-compressed record batches (the agents compress only
	 * batches where it pays, docs/benchmarks.md): worth it across a
	 * network, not over a local unix socket.
	 */
	bool compress;
	/*
	 * How detached instances are created (run --detach) and deleted, each
	 * printing its outcome and returning a CLIENT_EXIT_* code.  In a cluster
	 * they are ConfigMaps the user writes with their own credentials; NULL:
	 * CreateInstance and DeleteInstance through the agent (a host's daemon).
	 * delete_instance gets the word the user typed (a name, an id or the
	 * start of one) and resolves it itself: deleting needs no agent there.
	 */
	int (*create_instance)(void *ctx, const Gadget__Agent__V1__InstanceSpec *spec);
	int (*delete_instance)(void *ctx, const char *name_or_id);
	void *ctx;
};

/* The program's name for messages ("ig" until main() sets it). */
extern const char *client_prog;
void client_set_prog(const char *prog);
void client_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void client_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* base_time_mono_ms() as a signed number, for deadlines that may lie in the past. */
static inline int64_t client_now_ms(void)
{
	return (int64_t)base_time_mono_ms();
}

/* Blocks SIGINT and SIGTERM and returns a signalfd for them (-1 on failure). */
int client_block_signals(void);

/* The commands; argv[0] is the command's name. */
int client_cmd_run(const struct client_front *f, int argc, char **argv);
int client_cmd_attach(const struct client_front *f, int argc, char **argv);
int client_cmd_list(const struct client_front *f, int argc, char **argv);
int client_cmd_delete(const struct client_front *f, int argc, char **argv);
int client_cmd_show(const struct client_front *f, int argc, char **argv);
/* `image list` and `image pull` on the agents' stores, argv[0] the verb. */
int client_cmd_image(const struct client_front *f, int argc, char **argv);

/*
 * The detached instance arg means: its name, its whole id, or the start of
 * its id when only one id starts so (Inspektor Gadget's rule), as the agents
 * list them.  0 with copies in *ret_id and *ret_name (free()); else -errno
 * after printing the error (not found, ambiguous, no agent).
 */
int client_instance_resolve(const struct client_front *f, const char *arg, char **ret_id,
			    char **ret_name);

/* For completion: run's or attach's own rows (beside run_flags_view()). */
struct base_opt_table client_run_own_opts(const struct client_front *f, bool attach);
/* For completion: the options of list, show and delete; false for another command. */
bool client_instances_opts(const struct client_front *f, const char *cmd,
			   struct base_opt_table *ret);

#endif /* CLI_CLIENT_H */
