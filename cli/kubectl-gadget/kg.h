/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of kubectl-gadget, the kubectl plugin (`kubectl gadget ...`):
 * the command table, error reporting, the global flags and the connection
 * to the cluster's API server.
 *
 * kubectl runs the plugin with the arguments after "gadget" and its own
 * environment (KUBECONFIG included), so the plugin reads the kubeconfig the
 * way kubectl does (k8s/config.h).  Like ig, every error is printed once,
 * here, as "kubectl-gadget: error: <reason>", and the exit code says what
 * kind of failure it was: 0 success, 1 a failure, 2 a usage error.
 */
#ifndef CLI_KG_H
#define CLI_KG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/opt.h"	/* the option tables of every command */
#include "base/parse.h" /* durations and counts on the command line */
#include "base/time.h"

struct k8s_config;
struct k8s_client;

#define KG_EXIT_OK    0
#define KG_EXIT_ERROR 1
#define KG_EXIT_USAGE 2

#define KG_NAME "kubectl-gadget"
/* Where the agents run unless --gadget-namespace says otherwise. */
#define KG_DEFAULT_GADGET_NAMESPACE "gadget"
/* The agent pods' label, the DaemonSet's name and the agents' control port. */
#define KG_AGENT_LABEL	  "k8s-app=gadget"
#define KG_DAEMONSET_NAME "gadget"
#define KG_AGENT_PORT	  8484
#define KG_ERRLEN	  1024

/* Most --as-group flags taken. */
#define KG_MAX_AS_GROUPS 64

/* The flags every command takes, wherever they appear on the line. */
struct kg_global {
	const char *kubeconfig;	      /* --kubeconfig FILE */
	const char *context;	      /* --context NAME */
	const char *namespace_;	      /* -n/--namespace NS, NULL: the context's */
	const char *gadget_namespace; /* --gadget-namespace NS */

	/* kubectl's own global flags, over the kubeconfig (k8s/config.h) */
	const char *cluster, *user, *server, *token, *ca_file, *cert_file, *key_file;
	bool insecure;
	const char *as_user, *as_uid;
	const char *as_groups[KG_MAX_AS_GROUPS];
	size_t n_as_groups;
	uint64_t request_timeout_ms; /* --request-timeout; 0: the defaults */
	bool request_timeout_none;   /* --request-timeout 0: none */

	/* set by kg_connect() */
	struct k8s_config *cfg;
	struct k8s_client *client;
};

struct kg_cmd {
	const char *name;
	int (*fn)(struct kg_global *g, int argc, char **argv);
	const char *summary;
};

void kg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Loads the kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config;
 * --context) and creates the API client.  Prints the error; -errno.
 */
int kg_connect(struct kg_global *g);
void kg_disconnect(struct kg_global *g);
/*
 * Reports a failed API request once: err is the client's one-line reason;
 * transport failures are worded as the API server being unreachable.
 */
void kg_api_error(const struct kg_global *g, int r, const char *err);
/* -n, else the context's namespace, else "default".  After kg_connect(). */
const char *kg_namespace(const struct kg_global *g);

/* True for -h and --help. */
bool kg_is_help(const char *arg);
/* base_time_mono_ms() as a signed number, for deadlines that may lie in the past. */
static inline int64_t kg_now_ms(void)
{
	return (int64_t)base_time_mono_ms();
}

/*
 * A command's own options (base/opt.h, the matcher of every command of ig
 * and kubectl-gadget).  Returns the row's id with *value set (and *i moved
 * past a separate value), 0 when argv[*i] is a plain word (the caller
 * decides), or -EINVAL after printing the error: a missing or bad value, or
 * an option the table does not have ("see 'kubectl gadget CMD --help'",
 * with CMD argv[0]).
 */
int kg_opt_match(const struct base_opt *opts, size_t n, int argc, char **argv, int *i,
		 const char **value);
/* Prints the options of the table as help lines. */
void kg_opt_help(const struct base_opt *opts, size_t n);
/* The table of a command whose only option is -h/--help (id 1). */
extern const struct base_opt kg_help_opts[1];

int kg_cmd_deploy(struct kg_global *g, int argc, char **argv);
int kg_cmd_undeploy(struct kg_global *g, int argc, char **argv);
int kg_cmd_list_containers(struct kg_global *g, int argc, char **argv);
int kg_cmd_version(struct kg_global *g, int argc, char **argv);

/* ---- shell completion (complete.c, and each command's file) ---- */

struct base_complete;
int kg_cmd_completion(struct kg_global *g, int argc, char **argv);
/*
 * "kubectl-gadget __complete ARGS... WORD", and kubectl's plugin completion
 * "kubectl_complete-gadget ARGS... WORD": argv[0] is either name.
 */
int kg_complete_main(int argc, char **argv);
/* The global flags, for completion (main.c). */
struct base_opt_table kg_global_table(void);
/* The commands, for completion (main.c). */
const struct kg_cmd *kg_commands(size_t *n);
/* A command's option table: false when the file has no such command. */
bool kg_deploy_opts(const char *cmd, struct base_opt_table *ret);
bool kg_containers_opts(const char *cmd, struct base_opt_table *ret);

#endif /* CLI_KG_H */
