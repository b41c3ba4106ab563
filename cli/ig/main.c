// SPDX-License-Identifier: Apache-2.0
/*
 * ig: run eBPF gadgets on this host.
 *
 * Entry point and command dispatch.  Each command lives in its own file and
 * parses its own arguments; this file holds what they share.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "base/log.h"

static const struct ig_cmd ig_cmds[] = {
	{"run", ig_cmd_run, "run a gadget on this host and print its events"},
	{"daemon", ig_cmd_daemon, "serve gadgets to 'ig --remote' clients on a unix socket"},
	{"image", ig_cmd_image, "build, list, push and pull gadget images"},
	{"login", ig_cmd_login, "save credentials for a registry"},
	{"logout", ig_cmd_logout, "forget the credentials for a registry"},
	{"list-containers", ig_cmd_list_containers, "list the containers of the host's runtimes"},
	{"version", ig_cmd_version, "print the version of ig and what it runs on"},
	{"completion", ig_cmd_completion, "print the bash or zsh completion script"},
};

const struct ig_cmd *ig_commands(size_t *n)
{
	*n = sizeof(ig_cmds) / sizeof(ig_cmds[0]);
	return ig_cmds;
}

void ig_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ig: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ig_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("ig: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const struct base_opt ig_help_opt[1] = {
	{"help", 'h', BASE_OPT_SWITCH, IG_OPT_HELP, NULL, "show this help", 0},
};

int ig_parse_opts(struct ig_opts *p, int argc, char **argv)
{
	bool only_words = false;
	char err[512];
	int i, r;

	p->n_words = 0;
	for (i = 1; i < argc; i++) {
		const struct base_opt *o = NULL;
		const char *v = NULL;

		r = only_words ? BASE_OPT_WORD
			       : base_opt_next(p->tables, p->n_tables, argc, argv, &i, &o, &v, err,
					       sizeof(err));
		switch (r) {
		case BASE_OPT_MATCHED:
			if (p->fn(p->ctx, o, v) < 0)
				return -EINVAL;
			break;
		case BASE_OPT_END:
			only_words = true;
			break;
		case BASE_OPT_WORD:
			if (p->n_words == p->max_words) {
				ig_error("unexpected argument '%s' (see 'ig %s --help')", argv[i],
					 p->cmd);
				return -EINVAL;
			}
			p->words[p->n_words++] = argv[i];
			break;
		case BASE_OPT_UNKNOWN:
			ig_error("unknown option '%s' (see 'ig %s --help')", argv[i], p->cmd);
			return -EINVAL;
		default:
			ig_error("%s", err);
			return -EINVAL;
		}
	}
	return 0;
}

static bool dir_has(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

void ig_ensure_kernel_fs(void)
{
	/*
	 * libbpf resolves tracepoint ids through tracefs; on a host that never
	 * mounted it, every tracepoint attach would fail with ENOENT.
	 */
	if (!dir_has("/sys/kernel/tracing/events") &&
	    !dir_has("/sys/kernel/debug/tracing/events")) {
		if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
			ig_warn("tracefs is not mounted and mounting it failed: %s",
				strerror(errno));
	}
	if (!dir_has("/sys/fs/bpf") || access("/sys/fs/bpf", W_OK) < 0)
		return;
	{
		struct stat st, parent;

		if (stat("/sys/fs/bpf", &st) == 0 && stat("/sys/fs", &parent) == 0 &&
		    st.st_dev == parent.st_dev && mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) < 0)
			ig_warn("bpffs is not mounted and mounting it failed: %s", strerror(errno));
	}
}

static int version_opt(void *ctx, const struct base_opt *o, const char *v)
{
	*(bool *)ctx = !strcmp(v, "true");
	return 0;
}

int ig_cmd_version(int argc, char **argv)
{
	struct base_opt_table t = {.opts = ig_help_opt, .n = 1};
	bool help = false;
	struct ig_opts p = {
		.cmd = "version", .tables = &t, .n_tables = 1, .fn = version_opt, .ctx = &help};
	struct utsname u;

	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (help) {
		printf("Usage: ig version\n\nPrints the version of ig, of the libbpf it uses and "
		       "of the running kernel.\n\nOptions:\n");
		base_opt_help(stdout, &t, 1);
		return IG_EXIT_OK;
	}
	uname(&u);
	printf("ig version %s\n", IG_VERSION);
	printf("libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
	printf("kernel %s %s\n", u.release, u.machine);
	return IG_EXIT_OK;
}

/* The commands of a client of ig daemon (remote.c); with --remote, run and image are too. */
static const struct ig_cmd ig_remote_cmds[] = {
	{"attach", NULL, "show the records of a detached gadget instance of the daemon"},
	{"list", NULL, "list the daemon's detached gadget instances"},
	{"delete", NULL, "delete detached gadget instances of the daemon"},
	{"show", NULL, "show a detached gadget instance of the daemon"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ig [-v|--verbose] [--remote ADDR] <command> [args]\n\n"
		   "Runs eBPF gadgets on this host: programs that trace kernel events and\n"
		   "print them as a table, JSON or YAML.\n\nCommands:\n");
	for (i = 0; i < sizeof(ig_cmds) / sizeof(ig_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", ig_cmds[i].name, ig_cmds[i].summary);
	for (i = 0; i < sizeof(ig_remote_cmds) / sizeof(ig_remote_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", ig_remote_cmds[i].name, ig_remote_cmds[i].summary);
	fprintf(f, "\nWith --remote unix:///path (or --remote-address, Inspektor Gadget's name),\n"
		   "run and image list|pull go to the gadget daemon at that socket ('ig daemon');\n"
		   "attach, list, delete and show always go to a daemon: the one at\n"
		   "  " IG_DAEMON_ADDRESS " unless --remote names another.\n");
	fprintf(f, "\nRun 'ig <command> --help' for the options of a command, and\n"
		   "'ig run <gadget> --help' for the params and fields of a gadget.\n"
		   "\nExamples:\n"
		   "  ig run trace_exec\n"
		   "  ig run trace_open -o json --failed\n"
		   "  ig run top_file --sort -rbytes_raw --max-entries 10\n");
}

/* "--remote X", "--remote=X" (and --remote-address): 1 when argv[*i] is one. */
static int remote_flag(int argc, char **argv, int *i, const char **ret)
{
	static const char *const names[] = {"--remote", "--remote-address"};
	size_t k, len;

	for (k = 0; k < 2; k++) {
		len = strlen(names[k]);
		if (strncmp(argv[*i], names[k], len))
			continue;
		if (argv[*i][len] == '=') {
			*ret = argv[*i] + len + 1;
		} else if (!argv[*i][len] && *i + 1 < argc) {
			*ret = argv[++*i];
		} else if (!argv[*i][len]) {
			ig_error("%s needs an address (unix:///path)", names[k]);
			return -EINVAL;
		} else {
			continue;
		}
		if (!**ret) {
			ig_error("%s needs an address (unix:///path)", names[k]);
			return -EINVAL;
		}
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *remote = NULL;
	int i = 1, r;
	size_t c;

	/* the completion scripts' callback: before anything prints or fails */
	if (argc > 1 && !strcmp(argv[1], "__complete"))
		return ig_cmd_complete(argc - 1, argv + 1);
	for (; i < argc && argv[i][0] == '-'; i++) {
		r = remote_flag(argc, argv, &i, &remote);
		if (r < 0)
			return IG_EXIT_USAGE;
		if (r)
			continue;
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			base_log_set_level(BASE_LOG_DEBUG);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return IG_EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			return ig_cmd_version(1, argv);
		} else {
			ig_error("unknown option '%s' (see 'ig --help')", argv[i]);
			return IG_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return IG_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		/* "ig help run" is "ig run --help" */
		char *hargv[] = {NULL, "--help", NULL};

		if (i + 1 >= argc) {
			usage(stdout);
			return IG_EXIT_OK;
		}
		for (c = 0; c < sizeof(ig_remote_cmds) / sizeof(ig_remote_cmds[0]); c++) {
			if (strcmp(argv[i + 1], ig_remote_cmds[c].name))
				continue;
			hargv[0] = argv[i + 1];
			return ig_remote_cmd(remote ? remote : IG_DAEMON_ADDRESS, remote != NULL, 2,
					     hargv);
		}
		for (c = 0; c < sizeof(ig_cmds) / sizeof(ig_cmds[0]); c++) {
			if (strcmp(argv[i + 1], ig_cmds[c].name))
				continue;
			hargv[0] = argv[i + 1];
			return ig_cmds[c].fn(2, hargv);
		}
		ig_error("unknown command '%s' (see 'ig --help')", argv[i + 1]);
		return IG_EXIT_USAGE;
	}
	/* the daemon's clients: always for these, for run and image with --remote */
	for (c = 0; c < sizeof(ig_remote_cmds) / sizeof(ig_remote_cmds[0]); c++)
		if (!strcmp(argv[i], ig_remote_cmds[c].name))
			return ig_remote_cmd(remote ? remote : IG_DAEMON_ADDRESS, remote != NULL,
					     argc - i, argv + i);
	if (remote)
		return ig_remote_cmd(remote, true, argc - i, argv + i);
	for (c = 0; c < sizeof(ig_cmds) / sizeof(ig_cmds[0]); c++)
		if (!strcmp(argv[i], ig_cmds[c].name))
			return ig_cmds[c].fn(argc - i, argv + i);
	ig_error("unknown command '%s' (see 'ig --help')", argv[i]);
	return IG_EXIT_USAGE;
}
