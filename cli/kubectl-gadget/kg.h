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
/* Longest value of any flag; longer is a usage error, not truncation. */
#define KG_MAX_FLAG_VALUE 4096

/* The flags every command takes, wherever they appear on the line. */
struct kg_global {
	const char *kubeconfig;	      /* --kubeconfig FILE */
	const char *context;	      /* --context NAME */
	const char *namespace_;	      /* -n/--namespace NS, NULL: the context's */
	const char *gadget_namespace; /* --gadget-namespace NS */

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
 * A command's own options, parsed the same way by every command: "--name
 * VALUE", "--name=VALUE", "-x VALUE", "-xVALUE".  An option with an
 * argument stores it in *value; a switch stores "true".
 */
struct kg_opt {
	const char *long_name;
	char short_name;
	bool has_arg;
	int id;
	const char *arg_name;
	const char *help;
};

/*
 * Matches argv[*i] against opts.  Returns the option's id with *value set
 * (and *i moved past a separate value), 0 when argv[*i] is not an option
 * of the table (the caller decides), or -EINVAL after printing the error
 * (a missing value, a value given to a switch, a value too long).
 */
int kg_opt_match(const struct kg_opt *opts, size_t n, int argc, char **argv, int *i,
		 const char **value);
/* Prints the options of the table as help lines. */
void kg_opt_help(const struct kg_opt *opts, size_t n);

int kg_cmd_deploy(struct kg_global *g, int argc, char **argv);
int kg_cmd_undeploy(struct kg_global *g, int argc, char **argv);
int kg_cmd_run(struct kg_global *g, int argc, char **argv);
int kg_cmd_attach(struct kg_global *g, int argc, char **argv);
int kg_cmd_list(struct kg_global *g, int argc, char **argv);
int kg_cmd_delete(struct kg_global *g, int argc, char **argv);
int kg_cmd_list_containers(struct kg_global *g, int argc, char **argv);
int kg_cmd_version(struct kg_global *g, int argc, char **argv);

#endif /* CLI_KG_H */
