// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget completion bash|zsh, and the completion callback behind it
 * and behind kubectl's plugin completion.
 *
 * kubectl (1.26 and later) completes "kubectl gadget <TAB>" by running
 * "kubectl_complete-gadget ARGS... WORD" from PATH and reading cobra's
 * output (base/complete.h); the build installs that name as a link to this
 * binary, which answers when started under it, or as "kubectl-gadget
 * __complete".  The global flags (--kubeconfig, --as, ...) typed on the
 * line are honoured when an agent is asked for a gadget's params.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/complete.h"
#include "cli/client/client.h"
#include "cli/kubectl-gadget/agents.h"
#include "run/flags.h"

/* The name kubectl runs for the plugin's completions. */
#define KG_COMPLETE_NAME "kubectl_complete-gadget"

#ifndef KG_INTREE_GADGETS
#define KG_INTREE_GADGETS ""
#endif
/* Params of a gadget are asked from one agent; completion does not wait longer. */
#define RUN_COMPLETE_INFO_TIMEOUT_MS 5000

int kg_cmd_completion(struct kg_global *g, int argc, char **argv)
{
	if (argc == 2 && kg_is_help(argv[1])) {
		printf("Usage: kubectl gadget completion bash|zsh\n\n"
		       "Prints the shell's completion script for the kubectl-gadget command.  For\n"
		       "'kubectl gadget <TAB>' nothing is needed beyond kubectl's own completion\n"
		       "('source <(kubectl completion bash)') and the " KG_COMPLETE_NAME "\n"
		       "command on PATH (installed beside kubectl-gadget): kubectl asks it.\n"
		       "Completes commands, flags, the in-tree gadgets and, from an agent, a\n"
		       "gadget's params.\n\n"
		       "  source <(kubectl gadget completion bash)\n"
		       "  source <(kubectl gadget completion zsh)   # after compinit\n");
		return KG_EXIT_OK;
	}
	if (argc != 2 || base_complete_script(stdout, argv[1], KG_NAME) < 0) {
		kg_error("usage: kubectl gadget completion bash|zsh");
		return KG_EXIT_USAGE;
	}
	return KG_EXIT_OK;
}

/* --PARAM of the gadget, as the first agent that answers lists them. */
static void complete_params(struct kg_global *g, struct base_complete *c, const char *image)
{
	Gadget__Agent__V1__GetGadgetInfo gi = GADGET__AGENT__V1__GET_GADGET_INFO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	struct client_agents as = {0};
	char name[300];
	size_t all;

	if (kg_agents_find(g, NULL, 0, &as) < 0)
		return;
	/* one agent is enough: the others are not connected at all */
	all = as.n;
	as.n = 1;
	if (kg_agents_connect(g, &as) == 0)
		goto out;
	gi.image = (char *)image;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_GADGET_INFO;
	req.get_gadget_info = &gi;
	if (client_agent_call(&as.v[0], &req, RUN_COMPLETE_INFO_TIMEOUT_MS, &m) < 0 || !m)
		goto out;
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_GADGET_INFO)
		for (size_t i = 0; i < m->gadget_info->n_params; i++) {
			const Gadget__Agent__V1__ParamInfo *p = m->gadget_info->params[i];

			snprintf(name, sizeof(name), "--%s", p->key);
			base_complete_add(c, name, p->description);
		}
	agent_wire_response_free(m);
out:
	as.n = all;
	client_agents_done(&as);
}

/*
 * run and attach: flags, -o values, the in-tree gadgets, and a gadget's
 * params asked from an agent (g: the global flags typed, not connected).
 */
static void run_complete(struct kg_global *g, struct base_complete *c, int argc, char **argv,
			 const char *prev)
{
	struct client_front f = kg_front(g);
	bool attach = !strcmp(argv[0], "attach");
	struct base_opt_table t[2] = {
		run_flags_view(attach ? RUN_FLAGS_ATTACH : RUN_FLAGS_CLUSTER),
		client_run_own_opts(&f, attach),
	};
	const struct base_opt *o;
	const char *value, *gadget = NULL;

	c->directive = BASE_COMPLETE_NOFILE;
	o = base_complete_value_of(t, 2, prev, c->word, &value);
	if (o) {
		if (o->id == RUN_FLAG_OUTPUT)
			base_complete_add_list(c, "columns json jsonpretty yaml", NULL);
		return;
	}
	for (int i = 1; i < argc; i++) {
		const struct base_opt *row = NULL;
		const char *v = NULL;
		char err[256];
		int r = base_opt_next(t, 2, argc, argv, &i, &row, &v, err, sizeof(err));

		if (r == BASE_OPT_WORD && !gadget)
			gadget = argv[i];
		if (r < 0 || r == BASE_OPT_END)
			break;
	}
	if (c->word[0] == '-') {
		base_complete_flags(c, t, 2);
		if (gadget && !attach && c->word[1] == '-')
			complete_params(g, c, gadget);
		if (strchr(c->word, '='))
			c->directive |= BASE_COMPLETE_NOSPACE;
		return;
	}
	if (!gadget && !attach)
		base_complete_add_list(c, KG_INTREE_GADGETS, NULL);
}

/* list, show, delete: the client's commands' options. */
static bool instances_opts(struct kg_global *g, const char *cmd, struct base_opt_table *ret)
{
	struct client_front f = kg_front(g);

	return client_instances_opts(&f, cmd, ret);
}

/* Keeps what the global flags among the words say, for asking agents. */
static void read_globals(struct kg_global *g, const struct base_opt_table *gt, int argc,
			 char **argv)
{
	for (int i = 0; i < argc; i++) {
		const struct base_opt *o = NULL;
		const char *v = NULL;
		char err[256];

		if (base_opt_next(gt, 1, argc, argv, &i, &o, &v, err, sizeof(err)) !=
		    BASE_OPT_MATCHED)
			continue;
		if (!strcmp(o->long_name, "kubeconfig"))
			g->kubeconfig = v;
		else if (!strcmp(o->long_name, "context"))
			g->context = v;
		else if (!strcmp(o->long_name, "gadget-namespace"))
			g->gadget_namespace = v;
		else if (!strcmp(o->long_name, "cluster"))
			g->cluster = v;
		else if (!strcmp(o->long_name, "user"))
			g->user = v;
		else if (!strcmp(o->long_name, "server"))
			g->server = v;
		else if (!strcmp(o->long_name, "token"))
			g->token = v;
		else if (!strcmp(o->long_name, "as"))
			g->as_user = v;
	}
}

int kg_complete_main(int argc, char **argv)
{
	struct kg_global g = {.gadget_namespace = KG_DEFAULT_GADGET_NAMESPACE};
	struct base_opt_table gt = kg_global_table(), t;
	const char *word = argc > 1 ? argv[argc - 1] : "";
	const char *prev = argc > 2 ? argv[argc - 2] : "";
	const struct base_opt *o;
	const struct kg_cmd *cmds;
	struct base_complete c;
	const char *value;
	size_t n_cmds;
	int i, cmd = 0;

	base_complete_init(&c, word);
	cmds = kg_commands(&n_cmds);
	/* the command: the first plain word, global flags and their values skipped */
	for (i = 1; i < argc - 1; i++) {
		const char *v = NULL;
		char err[256];
		int r = base_opt_next(&gt, 1, argc - 1, argv, &i, &o, &v, err, sizeof(err));

		if (r == BASE_OPT_WORD) {
			cmd = i;
			break;
		}
	}
	read_globals(&g, &gt, argc - 1, argv);
	if (base_complete_value_of(&gt, 1, prev, word, &value)) {
		/* a file (--kubeconfig, --certificate-authority) or a name: the shell's */
	} else if (!cmd) {
		if (word[0] == '-') {
			base_complete_flags(&c, &gt, 1);
		} else {
			for (size_t k = 0; k < n_cmds; k++)
				base_complete_add(&c, cmds[k].name, cmds[k].summary);
			base_complete_add(&c, "completion",
					  "print the bash or zsh completion script");
			base_complete_add(&c, "help", "the help of a command");
		}
		c.directive = BASE_COMPLETE_NOFILE;
	} else if (!strcmp(argv[cmd], "run") || !strcmp(argv[cmd], "attach")) {
		run_complete(&g, &c, argc - 1 - cmd, argv + cmd, prev);
		if (word[0] == '-')
			base_complete_flags(&c, &gt, 1);
	} else if (!strcmp(argv[cmd], "help") || !strcmp(argv[cmd], "completion")) {
		if (cmd == argc - 2) {
			if (!strcmp(argv[cmd], "completion"))
				base_complete_add_list(&c, "bash zsh", NULL);
			else
				for (size_t k = 0; k < n_cmds; k++)
					base_complete_add(&c, cmds[k].name, cmds[k].summary);
		}
		c.directive = BASE_COMPLETE_NOFILE;
	} else if (kg_deploy_opts(argv[cmd], &t) || instances_opts(&g, argv[cmd], &t) ||
		   kg_containers_opts(argv[cmd], &t)) {
		if (base_complete_value_of(&t, 1, prev, word, &value)) {
			if (!strcmp(prev, "-o") || !strcmp(prev, "--output") ||
			    !strncmp(word, "--output=", 9))
				base_complete_add_list(&c,
						       !strcmp(argv[cmd], "show")
							       ? "yaml json"
							       : "columns json yaml",
						       NULL);
			else if (!strcmp(prev, "--image-pull-policy"))
				base_complete_add_list(&c, "Always IfNotPresent Never", NULL);
		} else if (word[0] == '-') {
			base_complete_flags(&c, &t, 1);
			base_complete_flags(&c, &gt, 1);
		}
		c.directive = BASE_COMPLETE_NOFILE;
	}
	base_complete_print(&c, stdout);
	base_complete_done(&c);
	return KG_EXIT_OK;
}
