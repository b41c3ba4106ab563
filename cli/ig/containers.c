// SPDX-License-Identifier: Apache-2.0
/*
 * ig list-containers: the containers the host's CRI runtimes run, as a table
 * or as JSON objects with the enrichment field names of DESIGN.md, and with
 * --watch the containers that start and stop from then on, until Ctrl-C.
 *
 * The flags are Inspektor Gadget's (--runtimes, --containerd-socketpath,
 * --crio-socketpath, -c/--containername), so scripts written for it work.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>

#include "cri/collection.h"

#define CONTAINERS_SHORT_ID 12

struct lc_opts {
	bool json;
	bool watch;
	bool header_done;
	const char *name; /* -c */
};

static void lc_tables(struct base_opt_table t[3]);

static void lc_usage(FILE *f)
{
	struct base_opt_table t[3];

	lc_tables(t);
	fprintf(f, "Usage: ig list-containers [options]\n\n"
		   "Lists the containers of the host's container runtimes (over CRI), with\n"
		   "their pod, namespace, PID and namespace ids.  Sandboxes (pause\n"
		   "containers) are not listed.\n\nOptions:\n");
	base_opt_help(f, t, 2);
	fprintf(f, "\nContainer runtimes:\n");
	base_opt_help(f, &t[2], 1);
}

static void print_json(const struct lc_opts *o, const char *event, const struct cri_container *c)
{
	json_t *root, *k8s, *rt, *labels;
	char *s;
	size_t i;

	labels = json_object();
	for (i = 0; i < c->n_pod_labels; i++)
		json_object_set_new(labels, c->pod_labels[i].key,
				    json_string(c->pod_labels[i].value));
	k8s = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}", "namespace", c->pod_namespace, "podName",
			c->pod_name, "podUid", c->pod_uid, "containerName", c->name, "podLabels",
			labels, "hostNetwork", c->host_network);
	rt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "runtimeName", c->runtime,
		       "containerId", c->id, "containerName", c->name, "containerPid",
		       (json_int_t)c->pid, "containerImageName", c->image_name,
		       "containerImageDigest", c->image_digest, "containerStartedAt",
		       (json_int_t)c->started_at, "containerState",
		       c->running ? "running" : "created");
	root = json_pack("{s:o, s:o, s:I, s:I, s:I}", "k8s", k8s, "runtime", rt, "mntns",
			 (json_int_t)c->mntns, "netns", (json_int_t)c->netns, "cgroupId",
			 (json_int_t)c->cgroup_id);
	if (!root)
		return;
	if (event)
		json_object_set_new(root, "event", json_string(event));
	s = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(root);
	(void)o;
}

static void print_row(struct lc_opts *o, const char *event, const struct cri_container *c)
{
	if (!o->header_done) {
		if (o->watch)
			printf("%-8s ", "EVENT");
		printf("%-20s %-16s %-24s %-20s %-13s %-8s %-11s %-11s %s\n",
		       "RUNTIME.CONTAINERNAME", "K8S.NAMESPACE", "K8S.PODNAME", "K8S.CONTAINERNAME",
		       "RUNTIME.CONTAINERID", "PID", "MNTNS", "NETNS", "IMAGE");
		o->header_done = true;
	}
	if (event)
		printf("%-8s ", event);
	printf("%-20s %-16s %-24s %-20s %-13.*s %-8u %-11llu %-11llu %s\n", c->name,
	       c->pod_namespace, c->pod_name, c->name, CONTAINERS_SHORT_ID, c->id, c->pid,
	       (unsigned long long)c->mntns, (unsigned long long)c->netns, c->image_name);
}

static void print_one(struct lc_opts *o, const char *event, const struct cri_container *c)
{
	if (o->name && strcmp(o->name, c->name))
		return;
	if (o->json)
		print_json(o, event, c);
	else
		print_row(o, event, c);
	fflush(stdout);
}

static int lc_foreach(void *userdata, const struct cri_container *c)
{
	print_one(userdata, NULL, c);
	return 0;
}

static void lc_event(void *userdata, enum cri_collection_event ev, const struct cri_container *c)
{
	print_one(userdata, ev == CRI_COLLECTION_ADDED ? "ADDED" : "REMOVED", c);
}

static int lc_watch(struct cri_collection *coll, struct lc_opts *o)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;
	int ep, sfd, sub, rc = IG_EXIT_OK;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	ep = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ep < 0 || sfd < 0) {
		ig_error("cannot set up the event loop: %s", strerror(errno));
		rc = IG_EXIT_ERROR;
		goto out;
	}
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, cri_collection_fd(coll), &ev);
	sub = cri_collection_subscribe(coll, lc_event, o);
	if (sub < 0) {
		ig_error("cannot watch containers: %s", strerror(-sub));
		rc = IG_EXIT_ERROR;
		goto out;
	}
	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1), k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ig_error("epoll: %s", strerror(errno));
			rc = IG_EXIT_ERROR;
			break;
		}
		for (k = 0; k < n; k++) {
			if (evs[k].data.u32 == 1)
				goto out;
			cri_collection_process(coll);
		}
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (ep >= 0)
		close(ep);
	return rc;
}

enum lc_opt_id { LC_OUTPUT = IG_OPT_COMMAND_FIRST, LC_NAME, LC_WATCH };

static const struct base_opt lc_rows[] = {
	{"output", 'o', BASE_OPT_VALUE, LC_OUTPUT, "FORMAT",
	 "columns (default) or json (one object per line)", 0},
	{"containername", 'c', BASE_OPT_VALUE, LC_NAME, "NAME", "only containers with this name",
	 0},
	{"watch", 'w', BASE_OPT_SWITCH, LC_WATCH, NULL,
	 "print containers as they are added and removed, until Ctrl-C", 0},
};

struct lc_args {
	struct lc_opts o;
	struct ig_runtimes_flags rf;
	bool help;
};

static int lc_opt(void *ctx, const struct base_opt *row, const char *v)
{
	struct lc_args *a = ctx;
	char err[256];
	int r;

	switch (row->id) {
	case LC_OUTPUT:
		if (strcmp(v, "json") && strcmp(v, "columns")) {
			ig_error("invalid value '%s' for --output: columns or json", v);
			return -EINVAL;
		}
		a->o.json = !strcmp(v, "json");
		return 0;
	case LC_NAME:
		a->o.name = v;
		return 0;
	case LC_WATCH:
		a->o.watch = !strcmp(v, "true");
		return 0;
	case IG_OPT_HELP:
		a->help = !strcmp(v, "true");
		return 0;
	}
	r = ig_runtimes_set(&a->rf, row, v, err, sizeof(err));
	if (r < 0)
		ig_error("%s", err);
	return r < 0 ? r : 0;
}

static void lc_tables(struct base_opt_table t[3])
{
	t[0] = (struct base_opt_table){.opts = lc_rows, .n = sizeof(lc_rows) / sizeof(lc_rows[0])};
	t[1] = (struct base_opt_table){.opts = ig_help_opt, .n = 1};
	t[2] = (struct base_opt_table){.opts = ig_runtimes_opts, .n = ig_runtimes_opts_len};
}

int ig_cmd_list_containers(int argc, char **argv)
{
	struct base_opt_table t[3];
	struct lc_args a = {0};
	struct ig_opts p = {
		.cmd = "list-containers", .tables = t, .n_tables = 3, .fn = lc_opt, .ctx = &a};
	struct ig_runtimes_flags rf;
	struct cri_collection *coll = NULL;
	struct lc_opts o;
	int rc;

	lc_tables(t);
	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (a.help) {
		lc_usage(stdout);
		return IG_EXIT_OK;
	}
	o = a.o;
	rf = a.rf;
	if (ig_runtimes_check(&rf) < 0)
		return IG_EXIT_USAGE;
	if (o.watch) {
		sigset_t mask;

		/*
		 * Before the collection exists: gRPC starts threads that inherit
		 * the mask, and Ctrl-C must reach our signalfd, not kill them.
		 */
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigprocmask(SIG_BLOCK, &mask, NULL);
	}
	if (ig_runtimes_collection_new(&rf, 0, false, &coll) < 0)
		return IG_EXIT_ERROR;
	if (o.watch) {
		rc = lc_watch(coll, &o);
	} else {
		cri_collection_foreach(coll, lc_foreach, &o);
		rc = IG_EXIT_OK;
	}
	cri_collection_free(coll);
	return rc;
}
