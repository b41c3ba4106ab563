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

/* run, attach, list, delete: the client's commands (cli/client), over port-forwards */
static struct client_front kg_front(struct kg_global *g)
{
	return (struct client_front){
		.prog = KG_NAME,
		.cmd = "kubectl gadget",
		.cluster = true,
		.connect = kg_front_connect,
		.namespace_ = kg_front_namespace,
		.ctx = g,
	};
}

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
	{"delete", kg_cmd_delete, "delete a detached gadget instance"},
	{"show", kg_cmd_show, "show a detached gadget instance and its state on every node"},
	{"list-containers", kg_cmd_list_containers, "list the containers the agents see"},
	{"version", kg_cmd_version, "print the version of the plugin and of every agent"},
};

#define N_CMDS (sizeof(kg_cmds) / sizeof(kg_cmds[0]))

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
	struct k8s_config_opts co = {.kubeconfig = g->kubeconfig, .context = g->context};
	struct k8s_client_opts cl = {.user_agent = KG_NAME "/" IG_VERSION};
	char err[KG_ERRLEN] = "";
	int r;

	if (g->client)
		return 0;
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

const char *kg_namespace(const struct kg_global *g)
{
	if (g->namespace_)
		return g->namespace_;
	return g->cfg ? k8s_config_namespace(g->cfg) : "default";
}

enum global_id { G_KUBECONFIG = 1, G_CONTEXT, G_NAMESPACE, G_GADGET_NAMESPACE, G_HELP, G_VERSION };

static const struct base_opt global_opts[] = {
	{"kubeconfig", 0, BASE_OPT_VALUE, G_KUBECONFIG, "FILE",
	 "the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)", 0},
	{"context", 0, BASE_OPT_VALUE, G_CONTEXT, "NAME", "the kubeconfig context to use", 0},
	{"namespace", 'n', BASE_OPT_VALUE, G_NAMESPACE, "NS",
	 "the namespace of the pods to trace (default: the context's namespace, else "
	 "\"default\")",
	 0},
	{"gadget-namespace", 0, BASE_OPT_VALUE, G_GADGET_NAMESPACE, "NS",
	 "where the agents run (default \"gadget\")", 0},
};

#define N_GLOBAL_OPTS (sizeof(global_opts) / sizeof(global_opts[0]))

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
	int i = 1, ret;
	size_t c;

	/* a closed stdout (| head) is an error to see, not a signal to die of */
	signal(SIGPIPE, SIG_IGN);
	client_set_prog(KG_NAME);
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
		for (c = 0; c < N_CMDS; c++) {
			if (strcmp(argv[i + 1], kg_cmds[c].name))
				continue;
			hargv[0] = argv[i + 1];
			ret = kg_cmds[c].fn(&g, 2, hargv);
			kg_disconnect(&g);
			return ret;
		}
		kg_error("unknown command '%s' (see 'kubectl gadget --help')", argv[i + 1]);
		return KG_EXIT_USAGE;
	}
	for (c = 0; c < N_CMDS; c++) {
		if (strcmp(argv[i], kg_cmds[c].name))
			continue;
		ret = kg_cmds[c].fn(&g, argc - i, argv + i);
		kg_disconnect(&g);
		return ret;
	}
	kg_error("unknown command '%s' (see 'kubectl gadget --help')", argv[i]);
	return KG_EXIT_USAGE;
}
