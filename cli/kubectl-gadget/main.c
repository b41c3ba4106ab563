// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl-gadget: the kubectl plugin that deploys the gadget agents and runs
 * gadgets on the nodes of a cluster (`kubectl gadget run trace_exec -n shop`).
 *
 * Entry point and command dispatch.  The global flags (--kubeconfig,
 * --context, -n, --gadget-namespace) are taken out of the command line
 * wherever they appear, the way kubectl's own flags may come before or after
 * the command; each command then parses the rest itself.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/curl.h"
#include "cli/client/client.h"
#include "cli/kubectl-gadget/agents.h"
#include "base/log.h"
#include "k8s/client.h"
#include "k8s/config.h"

/* run, attach, list, show, delete: the client's commands (cli/client), over port-forwards */
static int kg_cmd_run(struct kg_global *g, int argc, char **argv)
{
	struct client_front f = kg_front(g);

	return client_cmd_run(&f, argc, argv);
}

static int kg_cmd_attach(struct kg_global *g, int argc, char **argv)
{
	struct client_front f = kg_front(g);

	return client_cmd_attach(&f, argc, argv);
}

static int kg_cmd_list(struct kg_global *g, int argc, char **argv)
{
	struct client_front f = kg_front(g);

	return client_cmd_list(&f, argc, argv);
}

static int kg_cmd_delete(struct kg_global *g, int argc, char **argv)
{
	struct client_front f = kg_front(g);

	return client_cmd_delete(&f, argc, argv);
}

static int kg_cmd_show(struct kg_global *g, int argc, char **argv)
{
	struct client_front f = kg_front(g);

	return client_cmd_show(&f, argc, argv);
}

static const struct kg_cmd kg_cmds[] = {
	{"deploy", kg_cmd_deploy, "install the gadget agents (a DaemonSet) and wait for them"},
	{"undeploy", kg_cmd_undeploy, "remove the agents, their namespace and its instances"},
	{"run", kg_cmd_run, "run a gadget on the nodes and print the merged records"},
	{"attach", kg_cmd_attach, "show the records of a detached gadget instance"},
	{"list", kg_cmd_list, "list the detached gadget instances"},
	{"show", kg_cmd_show, "show one detached gadget instance, by name, id or id prefix"},
	{"delete", kg_cmd_delete, "delete detached gadget instances"},
	{"list-containers", kg_cmd_list_containers, "list the containers the agents see"},
	{"version", kg_cmd_version, "print the version of the plugin and of every agent"},
	{"completion", kg_cmd_completion, "print the bash or zsh completion script"},
};

#define N_CMDS (sizeof(kg_cmds) / sizeof(kg_cmds[0]))

/* Inspektor Gadget's short names of the same commands. */
static const struct {
	const char *alias, *cmd;
} kg_aliases[] = {
	{"ls", "list"},	 {"ps", "list"}, {"l", "list"},	 {"del", "delete"},
	{"d", "delete"}, {"s", "show"},	 {"sh", "show"}, {"a", "attach"},
};

/* The command named name, an alias resolved; NULL when none. */
static const struct kg_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kg_aliases) / sizeof(kg_aliases[0]); i++)
		if (!strcmp(name, kg_aliases[i].alias))
			name = kg_aliases[i].cmd;
	for (i = 0; i < N_CMDS; i++)
		if (!strcmp(name, kg_cmds[i].name))
			return &kg_cmds[i];
	return NULL;
}

void kg_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(KG_NAME ": error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void kg_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(KG_NAME ": warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool kg_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int kg_opt_match(const struct base_opt *opts, size_t n, int argc, char **argv, int *i,
		 const char **value)
{
	struct base_opt_table t = {.opts = opts, .n = n};
	const struct base_opt *o = NULL;
	char err[KG_ERRLEN];
	int r = base_opt_next(&t, 1, argc, argv, i, &o, value, err, sizeof(err));

	switch (r) {
	case BASE_OPT_MATCHED:
		return o->id;
	case BASE_OPT_WORD:
		return 0;
	case BASE_OPT_UNKNOWN:
		kg_error("unknown option '%s' (see 'kubectl gadget %s --help')", argv[*i], argv[0]);
		return -EINVAL;
	case BASE_OPT_END:
		kg_error("unexpected argument '--' (see 'kubectl gadget %s --help')", argv[0]);
		return -EINVAL;
	default:
		kg_error("%s", err);
		return -EINVAL;
	}
}

const struct base_opt kg_help_opts[1] = {
	{"help", 'h', BASE_OPT_SWITCH, 1, NULL, "show this help", 0},
};

void kg_opt_help(const struct base_opt *opts, size_t n)
{
	struct base_opt_table t = {.opts = opts, .n = n};

	base_opt_help(stdout, &t, 1);
}

int kg_connect(struct kg_global *g)
{
	struct k8s_config_opts co = {
		.kubeconfig = g->kubeconfig,
		.context = g->context,
		.cluster = g->cluster,
		.user = g->user,
		.server = g->server,
		.token = g->token,
		.ca_file = g->ca_file,
		.client_cert_file = g->cert_file,
		.client_key_file = g->key_file,
		.insecure = g->insecure,
		.as_user = g->as_user,
		.as_groups = g->as_groups,
		.n_as_groups = g->n_as_groups,
		.as_uid = g->as_uid,
		/* a credential plugin is part of a request: the same bound */
		.exec_timeout_ms = g->request_timeout_ms > UINT32_MAX
					   ? UINT32_MAX
					   : (unsigned int)g->request_timeout_ms,
	};
	struct k8s_client_opts cl = {.user_agent = KG_NAME "/" IG_VERSION};
	char err[KG_ERRLEN] = "";
	int r;

	if (g->client)
		return 0;
	if (g->request_timeout_none)
		cl.timeout_ms = -1;
	else if (g->request_timeout_ms)
		cl.timeout_ms = (long)g->request_timeout_ms;
	r = k8s_config_load(&co, &g->cfg, err, sizeof(err));
	if (r < 0) {
		kg_error("no usable Kubernetes configuration: %s", err[0] ? err : strerror(-r));
		return r;
	}
	r = k8s_client_new(g->cfg, &cl, &g->client);
	if (r == -ELIBACC || r == -ELIBBAD) {
		/* libcurl is loaded on first use: its loader says what is missing */
		base_curl_load(err, sizeof(err));
		kg_error("%s", err[0] ? err : strerror(-r));
		g->cfg = k8s_config_free(g->cfg);
		return r;
	}
	if (r < 0) {
		kg_error("API server %s: %s", k8s_config_server(g->cfg), strerror(-r));
		g->cfg = k8s_config_free(g->cfg);
		return r;
	}
	return 0;
}

void kg_disconnect(struct kg_global *g)
{
	g->client = k8s_client_free(g->client);
	g->cfg = k8s_config_free(g->cfg);
}

void kg_api_error(const struct kg_global *g, int r, const char *err)
{
	const char *server = g->cfg ? k8s_config_server(g->cfg) : "?";

	switch (r) {
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -EKEYREJECTED:
		kg_error("cannot reach the API server at %s: %s", server,
			 err && *err ? err : strerror(-r));
		return;
	case -EACCES:
		kg_error("the API server at %s refused the credentials: %s", server,
			 err && *err ? err : strerror(-r));
		return;
	default:
		kg_error("%s", err && *err ? err : strerror(-r));
	}
}

const struct kg_cmd *kg_commands(size_t *n)
{
	*n = N_CMDS;
	return kg_cmds;
}

const char *kg_namespace(const struct kg_global *g)
{
	if (g->namespace_)
		return g->namespace_;
	return g->cfg ? k8s_config_namespace(g->cfg) : "default";
}

enum global_id {
	G_KUBECONFIG = 1,
	G_CONTEXT,
	G_NAMESPACE,
	G_GADGET_NAMESPACE,
	G_CLUSTER,
	G_USER,
	G_SERVER,
	G_TOKEN,
	G_CA,
	G_CERT,
	G_KEY,
	G_INSECURE,
	G_AS,
	G_AS_GROUP,
	G_AS_UID,
	G_REQUEST_TIMEOUT,
	G_CACHE_DIR,
	G_TLS_SERVER_NAME,
	G_HELP,
	G_VERSION,
};

static const struct base_opt global_opts[] = {
	{"kubeconfig", 0, BASE_OPT_VALUE, G_KUBECONFIG, "FILE",
	 "the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)", 0},
	{"context", 0, BASE_OPT_VALUE, G_CONTEXT, "NAME", "the kubeconfig context to use", 0},
	{"namespace", 'n', BASE_OPT_VALUE, G_NAMESPACE, "NS",
	 "the namespace of the pods to trace (default: the context's namespace, else "
	 "\"default\"); a,b for several, !x to exclude one",
	 0},
	{"gadget-namespace", 0, BASE_OPT_VALUE, G_GADGET_NAMESPACE, "NS",
	 "where the agents run (default \"gadget\")", 0},
	/* kubectl's, as Inspektor Gadget takes them (cli-runtime's ConfigFlags) */
	{"cluster", 0, BASE_OPT_VALUE, G_CLUSTER, "NAME", "the kubeconfig cluster to use", 0},
	{"user", 0, BASE_OPT_VALUE, G_USER, "NAME", "the kubeconfig user to use", 0},
	{"server", 's', BASE_OPT_VALUE, G_SERVER, "URL",
	 "the API server's address (needs no kubeconfig)", 0},
	{"token", 0, BASE_OPT_VALUE, G_TOKEN, "TOKEN",
	 "bearer token for the API server (instead of the user's token or exec plugin)", 0},
	{"certificate-authority", 0, BASE_OPT_VALUE, G_CA, "FILE",
	 "the CA certificate to verify the API server with", 0},
	{"client-certificate", 0, BASE_OPT_VALUE, G_CERT, "FILE", "a client certificate for TLS",
	 0},
	{"client-key", 0, BASE_OPT_VALUE, G_KEY, "FILE", "its key", 0},
	{"insecure-skip-tls-verify", 0, BASE_OPT_SWITCH, G_INSECURE, NULL,
	 "do not verify the API server's certificate (insecure)", 0},
	{"as", 0, BASE_OPT_VALUE, G_AS, "USER", "user to impersonate for the operation", 0},
	{"as-group", 0, BASE_OPT_VALUE, G_AS_GROUP, "GROUP",
	 "group to impersonate (repeatable; needs --as)", 0},
	{"as-uid", 0, BASE_OPT_VALUE, G_AS_UID, "UID", "UID to impersonate (needs --as)", 0},
	{"request-timeout", 0, BASE_OPT_VALUE, G_REQUEST_TIMEOUT, "DURATION",
	 "give up on one API request (and a credential plugin) after this (1s, 2m; 0: never; "
	 "default 60s)",
	 0},
	{"cache-dir", 0, BASE_OPT_VALUE, G_CACHE_DIR, "DIR",
	 "accepted for kubectl's sake; the plugin keeps no discovery cache", 0},
	{"tls-server-name", 0, BASE_OPT_VALUE, G_TLS_SERVER_NAME, "NAME",
	 "not supported (differs from kubectl on purpose: the server's own name is verified)", 0},
};

#define N_GLOBAL_OPTS (sizeof(global_opts) / sizeof(global_opts[0]))

struct base_opt_table kg_global_table(void)
{
	return (struct base_opt_table){.opts = global_opts, .n = N_GLOBAL_OPTS};
}

/* Shown in the help only: -h and --version are read by main() itself. */
static const struct base_opt global_help_opts[] = {
	{"help", 'h', BASE_OPT_SWITCH, G_HELP, NULL,
	 "this help; 'kubectl gadget <command> --help' for a command's options", 0},
	{"version", 0, BASE_OPT_SWITCH, G_VERSION, NULL, "the plugin's version", 0},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: kubectl gadget <command> [options]\n\n"
		   "Runs eBPF gadgets on the nodes of a Kubernetes cluster through the gadget\n"
		   "agents (one per node, deployed by 'kubectl gadget deploy'), and prints their\n"
		   "records merged, each naming its node, pod, namespace and container.\n"
		   "\nCommands:\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-16s %s\n", kg_cmds[i].name, kg_cmds[i].summary);
	fprintf(f, "\nGlobal options (before or after the command):\n");
	{
		struct base_opt_table t = {.opts = global_opts, .n = N_GLOBAL_OPTS};

		struct base_opt_table h = {.opts = global_help_opts, .n = 2};

		base_opt_help(f, &t, 1);
		base_opt_help(f, &h, 1);
	}
	fprintf(f, "\nExamples:\n"
		   "  kubectl gadget deploy\n"
		   "  kubectl gadget run trace_exec -n shop\n"
		   "  kubectl gadget run trace_open -A -o json --failed --timeout 10s\n"
		   "  kubectl gadget run trace_exec -n shop --detach --name execs\n"
		   "  kubectl gadget attach execs\n");
}

/*
 * Takes the global flags out of argv (up to a "--"), compacting the rest in
 * place.  Returns the new argc, or -EINVAL after printing the error.
 */
static int take_globals(struct kg_global *g, int argc, char **argv)
{
	int i, out = 1;

	for (i = 1; i < argc; i++) {
		const char *v = NULL;
		int id;

		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		{
			struct base_opt_table t = {.opts = global_opts, .n = N_GLOBAL_OPTS};
			const struct base_opt *o = NULL;
			char err[KG_ERRLEN];
			int r = base_opt_next(&t, 1, argc, argv, &i, &o, &v, err, sizeof(err));

			if (r < 0) {
				kg_error("%s", err);
				return r;
			}
			id = r == BASE_OPT_MATCHED ? o->id : 0;
		}
		switch (id) {
		case G_KUBECONFIG:
			g->kubeconfig = v;
			break;
		case G_CONTEXT:
			g->context = v;
			break;
		case G_NAMESPACE:
			if (!*v) {
				kg_error("-n/--namespace needs a namespace name");
				return -EINVAL;
			}
			g->namespace_ = v;
			break;
		case G_GADGET_NAMESPACE:
			if (!*v) {
				kg_error("--gadget-namespace needs a namespace name");
				return -EINVAL;
			}
			g->gadget_namespace = v;
			break;
		case G_CLUSTER:
			g->cluster = v;
			break;
		case G_USER:
			g->user = v;
			break;
		case G_SERVER:
			g->server = *v ? v : NULL;
			break;
		case G_TOKEN:
			g->token = *v ? v : NULL;
			break;
		case G_CA:
			g->ca_file = *v ? v : NULL;
			break;
		case G_CERT:
			g->cert_file = *v ? v : NULL;
			break;
		case G_KEY:
			g->key_file = *v ? v : NULL;
			break;
		case G_INSECURE:
			g->insecure = !strcmp(v, "true");
			break;
		case G_AS:
			g->as_user = *v ? v : NULL;
			break;
		case G_AS_GROUP:
			if (g->n_as_groups == KG_MAX_AS_GROUPS) {
				kg_error("too many --as-group (at most %d)", KG_MAX_AS_GROUPS);
				return -EINVAL;
			}
			g->as_groups[g->n_as_groups++] = v;
			break;
		case G_AS_UID:
			g->as_uid = *v ? v : NULL;
			break;
		case G_REQUEST_TIMEOUT:
			if (base_parse_duration_ms(v, &g->request_timeout_ms) < 0) {
				kg_error(
					"invalid --request-timeout '%s' (e.g. 30s, 2m; 0 for none)",
					v);
				return -EINVAL;
			}
			g->request_timeout_none = g->request_timeout_ms == 0;
			break;
		case G_CACHE_DIR:
			break;
		case G_TLS_SERVER_NAME:
			kg_error(
				"--tls-server-name is not supported: the API server must present a "
				"certificate for the name it is reached by");
			return -EINVAL;
		default:
			argv[out++] = argv[i];
			break;
		}
	}
	argv[out] = NULL;
	return out;
}

static void log_sink(enum base_log_level level, const char *fmt, va_list ap)
{
	fputs(KG_NAME ": debug: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct kg_global g = {.gadget_namespace = KG_DEFAULT_GADGET_NAMESPACE};
	const struct kg_cmd *cmd;
	int i = 1, ret;

	/* a closed stdout (| head) is an error to see, not a signal to die of */
	signal(SIGPIPE, SIG_IGN);
	client_set_prog(KG_NAME);
	/* kubectl's plugin completion runs us as kubectl_complete-gadget */
	{
		const char *base = strrchr(argv[0], '/');

		base = base ? base + 1 : argv[0];
		if (!strcmp(base, "kubectl_complete-gadget"))
			return kg_complete_main(argc, argv);
		if (argc > 1 && !strcmp(argv[1], "__complete"))
			return kg_complete_main(argc - 1, argv + 1);
	}
	argc = take_globals(&g, argc, argv);
	if (argc < 0)
		return KG_EXIT_USAGE;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			base_log_set_fn(log_sink);
			base_log_set_level(BASE_LOG_DEBUG);
		} else if (kg_is_help(argv[i])) {
			usage(stdout);
			return KG_EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("kubectl-gadget version %s\n", IG_VERSION);
			return KG_EXIT_OK;
		} else {
			kg_error("unknown option '%s' (see 'kubectl gadget --help')", argv[i]);
			return KG_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return KG_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		/* "kubectl gadget help run" is "kubectl gadget run --help" */
		char *hargv[] = {NULL, "--help", NULL};

		if (i + 1 >= argc) {
			usage(stdout);
			return KG_EXIT_OK;
		}
		cmd = find_cmd(argv[i + 1]);
		if (!cmd) {
			kg_error("unknown command '%s' (see 'kubectl gadget --help')", argv[i + 1]);
			return KG_EXIT_USAGE;
		}
		hargv[0] = (char *)cmd->name;
		ret = cmd->fn(&g, 2, hargv);
		kg_disconnect(&g);
		return ret;
	}
	cmd = find_cmd(argv[i]);
	if (cmd) {
		ret = cmd->fn(&g, argc - i, argv + i);
		kg_disconnect(&g);
		return ret;
	}
	kg_error("unknown command '%s' (see 'kubectl gadget --help')", argv[i]);
	return KG_EXIT_USAGE;
}
