// SPDX-License-Identifier: Apache-2.0
/*
 * ig as the client of a host's gadget daemon (`ig daemon`, docs/daemon.md):
 * `ig --remote unix:///var/run/ig/ig.socket run|attach|list|delete|show|image`.
 *
 * The commands are the client's (cli/client/), the ones kubectl gadget runs
 * against a cluster's agents, with ig run's flags and output; this file only
 * says how the one agent is reached: the daemon's unix socket.  The socket's
 * mode is the access control (root, and the group the daemon's configuration
 * names), so a user who may not use it gets "permission denied" from
 * connect(), said in one line.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client/agents.h"
#include "cli/client/client.h"

struct remote {
	const char *path; /* the socket */
	char where[4200];
};

/*
 * "unix:///path" or "/path": the socket's path.  tcp:// is refused: the
 * daemon serves no TCP listener (docs/daemon.md "Security").
 */
static int parse_address(const char *addr, const char **ret)
{
	if (!strncmp(addr, "unix://", 7))
		addr += 7;
	else if (strstr(addr, "://")) {
		ig_error("--remote %s: only unix:///path is supported: ig daemon listens on a "
			 "unix socket only",
			 addr);
		return -EINVAL;
	}
	if (addr[0] != '/') {
		ig_error("--remote %s: the socket must be an absolute path "
			 "(unix:///var/run/ig/ig.socket)",
			 addr);
		return -EINVAL;
	}
	*ret = addr;
	return 0;
}

static int remote_connect(void *ctx, const char *const *nodes, size_t n_nodes, bool quiet,
			  struct client_agents *ret)
{
	struct remote *rm = ctx;
	struct client_agent *a;

	if (client_agents_alloc(ret, 1) < 0) {
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	a = &ret->v[0];
	a->node = strdup("daemon");
	a->where = strdup(rm->where);
	if (!a->node || !a->where) {
		client_agents_done(ret);
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (client_agent_connect_unix(a, rm->path, "ig " IG_VERSION) < 0) {
		/* one daemon: its failure is the command's error */
		ig_error("%s", a->errmsg);
		client_agents_done(ret);
		return -ENOTCONN;
	}
	return 1;
}

int ig_remote_cmd(const char *addr, bool given, int argc, char **argv)
{
	struct remote rm = {0};
	char cmd[4300];
	struct client_front f = {
		.prog = "ig",
		.cmd = cmd,
		.connect = remote_connect,
		.ctx = &rm,
	};

	if (parse_address(addr, &rm.path) < 0)
		return IG_EXIT_USAGE;
	snprintf(rm.where, sizeof(rm.where), "unix://%s", rm.path);
	/* hints name the daemon the user named */
	if (given)
		snprintf(cmd, sizeof(cmd), "ig --remote %s", addr);
	else
		snprintf(cmd, sizeof(cmd), "ig");
	client_set_prog("ig");
	if (!strcmp(argv[0], "run"))
		return client_cmd_run(&f, argc, argv);
	if (!strcmp(argv[0], "attach"))
		return client_cmd_attach(&f, argc, argv);
	if (!strcmp(argv[0], "list"))
		return client_cmd_list(&f, argc, argv);
	if (!strcmp(argv[0], "delete"))
		return client_cmd_delete(&f, argc, argv);
	if (!strcmp(argv[0], "show"))
		return client_cmd_show(&f, argc, argv);
	if (!strcmp(argv[0], "image")) {
		if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			char *hargv[] = {"list", "--help", NULL};

			return client_cmd_image(&f, 2, hargv);
		}
		return client_cmd_image(&f, argc - 1, argv + 1);
	}
	ig_error("'%s' does not go with --remote (run, attach, list, delete, show and image do)",
		 argv[0]);
	return IG_EXIT_USAGE;
}
