// SPDX-License-Identifier: Apache-2.0
/*
 * ig daemon: the host's gadget service (docs/daemon.md).
 *
 * It is the gadget agent's daemon (agent/daemon.h) started with a host
 * configuration: the control API on one unix socket only, root's (mode 0600)
 * or also a group's (0660, listen.unixSocketGroup or -G); never on TCP,
 * whatever the configuration's listen.address says, and no health port.
 * Detached instances are files in the state directory and come back when the
 * daemon starts again.  Clients are `ig --remote unix:///...` (remote.c).
 *
 * The configuration file has the agent's config.yaml keys (docs/agent.md);
 * the settings are merged as the agent merges them: flag, then file, then
 * built-in default.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/daemon.h"
#include "base/log.h"
#include "bpf/diag.h"
#include "cli/ig/resolve.h"

enum daemon_opt_id {
	D_HOST = IG_OPT_COMMAND_FIRST,
	D_GROUP,
	D_CONFIG,
	D_STATE_DIR,
	D_STORE,
	D_LOG_LEVEL,
	D_NODE_NAME,
};

static const struct base_opt daemon_opts[] = {
	{"host", 'H', BASE_OPT_VALUE, D_HOST, "ADDR",
	 "the control socket, unix:///path (default " IG_DAEMON_ADDRESS ")", 0},
	{"group", 'G', BASE_OPT_VALUE, D_GROUP, "GROUP",
	 "a group (name or id) whose members may use the socket too (default: root only)", 0},
	{"config", 0, BASE_OPT_VALUE, D_CONFIG, "FILE",
	 "settings, with the keys of the agent's config.yaml (default " IG_DAEMON_CONFIG
	 ", if it exists)",
	 0},
	{"state-dir", 0, BASE_OPT_VALUE, D_STATE_DIR, "DIR",
	 "detached instances are kept as DIR/instances/<name>.yaml (default " AGENT_DAEMON_STATE_DIR
	 ")",
	 0},
	{"store", 0, BASE_OPT_VALUE, D_STORE, "DIR",
	 "the image store (default: oci.storeDir, else $IG_OCI_STORE, else /var/lib/ig/oci-store)",
	 0},
	{"log-level", 0, BASE_OPT_VALUE, D_LOG_LEVEL, "LEVEL", "debug, info, warn or error", 0},
	{"node-name", 0, BASE_OPT_VALUE, D_NODE_NAME, "NAME",
	 "the name the daemon reports, e.g. in list's STATE (default: the host name)", 0},
};

#define N_DAEMON_OPTS (sizeof(daemon_opts) / sizeof(daemon_opts[0]))

struct daemon_flags {
	const char *host, *group, *config, *state_dir, *store, *log_level, *node_name;
	bool help;
};

static int daemon_opt(void *ctx, const struct base_opt *o, const char *v)
{
	struct daemon_flags *f = ctx;

	switch (o->id) {
	case D_HOST:
		f->host = v;
		break;
	case D_GROUP:
		f->group = v;
		break;
	case D_CONFIG:
		f->config = v;
		break;
	case D_STATE_DIR:
		f->state_dir = v;
		break;
	case D_STORE:
		f->store = v;
		break;
	case D_LOG_LEVEL:
		f->log_level = v;
		break;
	case D_NODE_NAME:
		f->node_name = v;
		break;
	case IG_OPT_HELP:
		f->help = !strcmp(v, "true");
		break;
	}
	return 0;
}

static void daemon_help(void)
{
	struct base_opt_table t[2] = {
		{.opts = daemon_opts, .n = N_DAEMON_OPTS},
		{.opts = ig_help_opt, .n = 1},
	};

	printf("Usage: ig daemon [options]\n\n"
	       "Runs the host's gadget service: gadgets for 'ig --remote ADDR run ...',\n"
	       "detached gadget instances kept across client exits and daemon restarts, the\n"
	       "image store.  It listens on a unix socket only (never on TCP): root's, and\n"
	       "the group's of -G.  It runs until SIGTERM or SIGINT; detached instances\n"
	       "start again when it starts.  Must run as root.\n\nOptions:\n");
	base_opt_help(stdout, t, 2);
	printf("\nExamples:\n"
	       "  ig daemon\n"
	       "  ig daemon -H unix:///run/ig/ig.socket -G gadget\n"
	       "  ig --remote unix:///var/run/ig/ig.socket run trace_open --detach --name opens\n");
}

/* Replaces an owned string of the configuration. */
static int set_str(char **dst, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* -H: "unix:///path" or "/path"; TCP is refused. */
static int socket_path(const char *addr, const char **ret)
{
	if (!strncmp(addr, "unix://", 7))
		addr += 7;
	else if (strstr(addr, "://")) {
		ig_error("-H %s: ig daemon listens on a unix socket only (unix:///path): a TCP "
			 "listener would need TLS client certificates, which it does not have",
			 addr);
		return -EINVAL;
	}
	if (addr[0] != '/') {
		ig_error("-H %s: the socket must be an absolute path", addr);
		return -EINVAL;
	}
	*ret = addr;
	return 0;
}

/*
 * The settings: built-in defaults for a host (the socket at
 * IG_DAEMON_ADDRESS), then the file, then the flags.
 */
static int load_settings(const struct daemon_flags *f, struct agent_config *cfg)
{
	const char *path = f->config ? f->config : IG_DAEMON_CONFIG, *sock = NULL;
	const char *env_store = getenv("IG_OCI_STORE");
	char err[1024];
	int r;

	if (agent_config_init(cfg) < 0 || set_str(&cfg->listen_unix, IG_DAEMON_SOCKET) < 0 ||
	    (env_store && *env_store && set_str(&cfg->store_dir, env_store) < 0)) {
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r = agent_config_load(cfg, path, !f->config, err, sizeof(err));
	if (r < 0) {
		ig_error("%s", err);
		return r;
	}
	if (f->host && (socket_path(f->host, &sock) < 0 || set_str(&cfg->listen_unix, sock) < 0))
		return -EINVAL;
	if ((f->group && set_str(&cfg->listen_unix_group, f->group) < 0) ||
	    (f->store && set_str(&cfg->store_dir, f->store) < 0)) {
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (f->log_level && agent_config_set(cfg, "logLevel", f->log_level, err, sizeof(err)) < 0) {
		ig_error("--log-level: %s", err);
		return -EINVAL;
	}
	if (f->node_name && agent_config_set(cfg, "nodeName", f->node_name, err, sizeof(err)) < 0) {
		ig_error("--node-name: %s", err);
		return -EINVAL;
	}
	if (!cfg->listen_unix[0]) {
		ig_error("listen.unixSocket is empty: ig daemon needs its socket");
		return -EINVAL;
	}
	if (agent_config_validate(cfg, err, sizeof(err)) < 0) {
		ig_error("%s", err);
		return -EINVAL;
	}
	return 0;
}

int ig_cmd_daemon(int argc, char **argv)
{
	struct base_opt_table t[2] = {
		{.opts = daemon_opts, .n = N_DAEMON_OPTS},
		{.opts = ig_help_opt, .n = 1},
	};
	struct daemon_flags f = {0};
	struct ig_opts p = {
		.cmd = "daemon", .tables = t, .n_tables = 2, .fn = daemon_opt, .ctx = &f};
	struct agent_daemon_opts dopts = {0};
	struct agent_daemon *d = NULL;
	char *stores[4] = {NULL};
	const char *fallback[4];
	size_t n_fallback = 0, i;
	struct agent_config cfg;
	char err[1024], host[256];
	sigset_t mask;
	int r;

	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (f.help) {
		daemon_help();
		return IG_EXIT_OK;
	}
	if (load_settings(&f, &cfg) < 0) {
		agent_config_done(&cfg);
		return IG_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		ig_error("ig daemon must run as root: it loads eBPF programs and owns its socket");
		agent_config_done(&cfg);
		return IG_EXIT_ERROR;
	}
	base_log_set_fn(base_log_timestamped);
	base_log_set_level(cfg.log_level);
	bpf_diag_init();
	if (!cfg.node_name) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
	}

	/* SIGTERM and SIGINT go to the loop's signalfd, in every thread */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	ig_ensure_kernel_fs();

	dopts.cfg = &cfg;
	dopts.node_name = cfg.node_name ? cfg.node_name : host;
	dopts.version = IG_VERSION;
	dopts.state_dir = f.state_dir;
	dopts.host_service = true;
	/*
	 * The in-tree gadgets shipped with ig, where ig run finds them: short
	 * names the daemon's store lacks run from there.
	 */
	stores[0] = ig_resolve_exe_path("../oci-store");
	stores[1] = ig_resolve_exe_path("../lib/ig/oci-store");
	stores[2] = strdup("/usr/local/lib/ig/oci-store");
	stores[3] = strdup("/usr/lib/ig/oci-store");
	for (i = 0; i < 4; i++)
		if (stores[i])
			fallback[n_fallback++] = stores[i];
	dopts.fallback_stores = fallback;
	dopts.n_fallback_stores = n_fallback;
	r = agent_daemon_new(&dopts, &d, err, sizeof(err));
	if (r < 0) {
		base_log_error("ig daemon: cannot start: %s", err);
		for (i = 0; i < 4; i++)
			free(stores[i]);
		agent_config_done(&cfg);
		return IG_EXIT_ERROR;
	}
	base_log_info("ig daemon %s: serving unix://%s (state in %s, images in %s)", IG_VERSION,
		      cfg.listen_unix, f.state_dir ? f.state_dir : AGENT_DAEMON_STATE_DIR,
		      cfg.store_dir);
	r = agent_daemon_run(d);
	agent_daemon_free(d);
	for (i = 0; i < 4; i++)
		free(stores[i]);
	if (r < 0)
		base_log_error("ig daemon: event loop: %s", strerror(-r));
	else
		base_log_info("ig daemon: stopped");
	agent_config_done(&cfg);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}
