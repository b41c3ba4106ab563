// SPDX-License-Identifier: Apache-2.0
/*
 * gadget-agent: the per-node daemon (docs/agent.md "The contract").
 *
 * This file is the program's edge: it merges the settings (flag, then
 * environment, then config.yaml, then default), turns a bad one into a
 * single line naming it and exit code 2, installs the log sink, and hands
 * everything else to agent/daemon.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/hostnet.h"
#include "base/log.h"
#include "bpf/diag.h"
#include "k8s/config.h"

#define EXIT_USAGE 2

static const char *prog = "gadget-agent";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gadget-agent [options]\n\n"
		"The per-node gadget agent: runs gadgets for kubectl gadget and ig, keeps\n"
		"detached gadget instances, serves /healthz, /readyz and /metrics.\n\n"
		"Options (a flag wins over the environment, which wins over the file):\n"
		"      --config FILE            config.yaml (default %s, if it exists)\n"
		"      --node-name NAME         the node served ($NODE_NAME, nodeName)\n"
		"      --host-root DIR          where the host's / is mounted ($HOST_ROOT, "
		"hostRoot)\n"
		"      --gadget-namespace NS    namespace of instance ConfigMaps "
		"($GADGET_NAMESPACE,\n"
		"                               gadgetNamespace)\n"
		"      --log-level LEVEL        debug, info, warn or error (logLevel)\n"
		"      --kubeconfig FILE        reach the Kubernetes API with this kubeconfig "
		"instead\n"
		"                               of the in-cluster service account\n"
		"      --state-dir DIR          without a Kubernetes API: instances are kept in\n"
		"                               DIR/instances (default %s)\n"
		"      --version                print the version\n"
		"  -h, --help                   show this help\n\n"
		"Exit status: 0 after SIGTERM or SIGINT, 2 for bad flags or configuration,\n"
		"1 for any other failure.\n",
		AGENT_CONFIG_DEFAULT_PATH, AGENT_DAEMON_STATE_DIR);
}

struct agent_flags {
	const char *config;
	const char *node_name;
	const char *host_root;
	const char *gadget_namespace;
	const char *log_level;
	const char *kubeconfig;
	const char *state_dir;
};

/* "--name VALUE" or "--name=VALUE"; 1 when argv[*i] is the flag. */
static int flag_value(const char *name, int argc, char **argv, int *i, const char **ret)
{
	const char *a = argv[*i];
	size_t len = strlen(name);

	if (strncmp(a, name, len))
		return 0;
	if (a[len] == '=') {
		*ret = a + len + 1;
	} else if (a[len] == '\0') {
		if (*i + 1 >= argc)
			die_usage("option %s needs a value", name);
		*ret = argv[++*i];
	} else {
		return 0;
	}
	if (!**ret)
		die_usage("option %s needs a non-empty value", name);
	return 1;
}

static void parse_flags(int argc, char **argv, struct agent_flags *f)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--version")) {
			printf("gadget-agent version %s\n", IG_VERSION);
			exit(0);
		}
		if (flag_value("--config", argc, argv, &i, &f->config) ||
		    flag_value("--node-name", argc, argv, &i, &f->node_name) ||
		    flag_value("--host-root", argc, argv, &i, &f->host_root) ||
		    flag_value("--gadget-namespace", argc, argv, &i, &f->gadget_namespace) ||
		    flag_value("--log-level", argc, argv, &i, &f->log_level) ||
		    flag_value("--kubeconfig", argc, argv, &i, &f->kubeconfig) ||
		    flag_value("--state-dir", argc, argv, &i, &f->state_dir))
			continue;
		if (a[0] == '-')
			die_usage("unknown option '%s' (see --help)", a);
		die_usage("unexpected argument '%s' (see --help)", a);
	}
}

/* Applies one override, naming where it came from when it is bad. */
static void override(struct agent_config *c, const char *key, const char *value, const char *source)
{
	char err[256];

	if (!value)
		return;
	if (agent_config_set(c, key, value, err, sizeof(err)) < 0)
		die_usage("%s: %s", source, err);
}

/*
 * libbpf needs tracefs for tracepoints and the agent pins nothing, but a
 * node that never mounted either would fail every run; the DaemonSet mounts
 * the host's at these paths and gives the container SYS_ADMIN for this case.
 */
static void ensure_kernel_fs(void)
{
	struct stat st, parent;

	if (stat("/sys/kernel/tracing/events", &st) < 0 &&
	    stat("/sys/kernel/debug/tracing/events", &st) < 0 &&
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
		base_log_warn("agent: tracefs is not mounted and mounting it failed: %s",
			      strerror(errno));
	if (stat("/sys/fs/bpf", &st) == 0 && stat("/sys/fs", &parent) == 0 &&
	    st.st_dev == parent.st_dev && access("/sys/fs/bpf", W_OK) == 0 &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) < 0)
		base_log_warn("agent: bpffs is not mounted and mounting it failed: %s",
			      strerror(errno));
}

int main(int argc, char **argv)
{
	struct agent_daemon_opts dopts = {0};
	struct agent_flags f = {0};
	struct agent_daemon *d = NULL;
	struct k8s_config *kcfg = NULL;
	struct agent_config cfg;
	char err[1024], host[256];
	const char *node;
	bool tcp_off;
	sigset_t mask;
	int rc;

	parse_flags(argc, argv, &f);
	if (agent_config_init(&cfg) < 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	rc = agent_config_load(&cfg, f.config ? f.config : AGENT_CONFIG_DEFAULT_PATH, !f.config,
			       err, sizeof(err));
	if (rc < 0)
		die_usage("%s", err);
	override(&cfg, "nodeName", getenv("NODE_NAME"), "NODE_NAME");
	override(&cfg, "hostRoot", getenv("HOST_ROOT"), "HOST_ROOT");
	override(&cfg, "gadgetNamespace", getenv("GADGET_NAMESPACE"), "GADGET_NAMESPACE");
	override(&cfg, "nodeName", f.node_name, "--node-name");
	override(&cfg, "hostRoot", f.host_root, "--host-root");
	override(&cfg, "gadgetNamespace", f.gadget_namespace, "--gadget-namespace");
	override(&cfg, "logLevel", f.log_level, "--log-level");
	if (agent_config_validate(&cfg, err, sizeof(err)) < 0)
		die_usage("%s", err);
	base_log_set_fn(base_log_timestamped);
	base_log_set_level(cfg.log_level);
	bpf_diag_init();
	if (agent_hostnet_check_listen(&cfg, &tcp_off, err, sizeof(err)) < 0)
		die_usage("%s", err);
	if (tcp_off)
		base_log_info("agent: no control API over TCP: this agent runs in the host's "
			      "network namespace, where every local user could reach it (the unix "
			      "socket serves this host)");

	if (f.kubeconfig || getenv("KUBERNETES_SERVICE_HOST")) {
		struct k8s_config_opts ko = {.kubeconfig = f.kubeconfig,
					     .in_cluster = !f.kubeconfig};

		rc = k8s_config_load(&ko, &kcfg, err, sizeof(err));
		if (rc < 0) {
			if (f.kubeconfig)
				die_usage("--kubeconfig %s: %s", f.kubeconfig, err);
			base_log_error("agent: in-cluster Kubernetes configuration: %s", err);
			agent_config_done(&cfg);
			return 1;
		}
	}
	node = cfg.node_name;
	if (!node && kcfg) {
		k8s_config_free(kcfg);
		die_usage("no node name: set NODE_NAME (the DaemonSet does), --node-name or "
			  "nodeName");
	}
	if (!node) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		node = host;
	}

	/*
	 * SIGTERM and SIGINT are taken by the loop's signalfd: block them
	 * before any thread starts, so that every thread inherits the mask.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	ensure_kernel_fs();

	dopts.cfg = &cfg;
	dopts.node_name = node;
	dopts.version = IG_VERSION;
	dopts.k8s = kcfg;
	dopts.state_dir = f.state_dir;
	rc = agent_daemon_new(&dopts, &d, err, sizeof(err));
	if (rc < 0) {
		base_log_error("agent: cannot start: %s", err);
		agent_config_done(&cfg);
		return 1;
	}
	base_log_info("agent: gadget-agent %s ready to serve node %s", IG_VERSION, node);
	rc = agent_daemon_run(d);
	agent_daemon_free(d);
	if (rc < 0)
		base_log_error("agent: event loop: %s", strerror(-rc));
	else
		base_log_info("agent: stopped");
	agent_config_done(&cfg);
	return rc < 0 ? 1 : 0;
}
