// SPDX-License-Identifier: Apache-2.0
/*
 * The container runtime flags that ig list-containers and ig run share
 * (--runtimes, --containerd-socketpath, --crio-socketpath, with Inspektor
 * Gadget's names and defaults), and the container collection built from them.
 *
 * ig list-containers cannot do anything without a runtime and says so; ig run
 * only needs one for container filters and asks for a quiet attempt otherwise,
 * so a host without containers runs gadgets exactly as before.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cri/collection.h"

#define RUNTIMES_MAX_ARG   256
#define RUNTIMES_MAX_TRIED 1024

const struct base_opt ig_runtimes_opts[] = {
	{"runtimes", 0, BASE_OPT_VALUE, IG_OPT_RUNTIMES, "LIST",
	 "container runtimes to ask: containerd, cri-o (default containerd,cri-o)", 0},
	{"containerd-socketpath", 0, BASE_OPT_VALUE, IG_OPT_CONTAINERD_SOCKET, "PATH",
	 "containerd's CRI socket (default " IG_RUNTIMES_CONTAINERD_SOCKET ")", 0},
	{"crio-socketpath", 0, BASE_OPT_VALUE, IG_OPT_CRIO_SOCKET, "PATH",
	 "CRI-O's socket (default " IG_RUNTIMES_CRIO_SOCKET ")", 0},
};

const size_t ig_runtimes_opts_len = sizeof(ig_runtimes_opts) / sizeof(ig_runtimes_opts[0]);

int ig_runtimes_set(struct ig_runtimes_flags *f, const struct base_opt *o, const char *v, char *err,
		    size_t errlen)
{
	const char **dst;

	switch (o->id) {
	case IG_OPT_RUNTIMES:
		dst = &f->runtimes;
		break;
	case IG_OPT_CONTAINERD_SOCKET:
		dst = &f->containerd_socket;
		break;
	case IG_OPT_CRIO_SOCKET:
		dst = &f->crio_socket;
		break;
	default:
		return 0;
	}
	if (!*v) {
		snprintf(err, errlen, "option --%s needs a non-empty value", o->long_name);
		return -EINVAL;
	}
	*dst = v;
	return 1;
}

int ig_runtimes_flag(struct ig_runtimes_flags *f, int argc, char **argv, int *i)
{
	struct base_opt_table t = {.opts = ig_runtimes_opts, .n = ig_runtimes_opts_len};
	const struct base_opt *o = NULL;
	const char *v = NULL;
	char err[256];
	int j = *i, r = base_opt_next(&t, 1, argc, argv, &j, &o, &v, err, sizeof(err));

	if (r == BASE_OPT_MATCHED)
		r = ig_runtimes_set(f, o, v, err, sizeof(err));
	else if (r >= 0)
		return 0;
	if (r < 0) {
		ig_error("%s", err);
		return r;
	}
	*i = j;
	return 1;
}

void ig_runtimes_help(FILE *out)
{
	struct base_opt_table t = {.opts = ig_runtimes_opts, .n = ig_runtimes_opts_len};

	base_opt_help(out, &t, 1);
}

static int parse_runtimes(const struct ig_runtimes_flags *f, struct cri_collection_runtime *rts,
			  size_t *n)
{
	const char *list = f->runtimes ? f->runtimes : "containerd,cri-o";
	char buf[RUNTIMES_MAX_ARG], *p, *comma;
	size_t len = strlen(list), k;

	if (len >= sizeof(buf) || !len) {
		ig_error("invalid --runtimes '%s'", list);
		return -EINVAL;
	}
	memcpy(buf, list, len + 1);
	*n = 0;
	for (p = buf; p; p = comma ? comma + 1 : NULL) {
		struct cri_collection_runtime r = {0};

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!strcmp(p, "containerd")) {
			r.name = "containerd";
			r.socket_path = f->containerd_socket ? f->containerd_socket
							     : IG_RUNTIMES_CONTAINERD_SOCKET;
		} else if (!strcmp(p, "cri-o") || !strcmp(p, "crio")) {
			r.name = "cri-o";
			r.socket_path = f->crio_socket ? f->crio_socket : IG_RUNTIMES_CRIO_SOCKET;
		} else {
			ig_error(
				"unsupported runtime '%s' in --runtimes (known: containerd, cri-o)",
				p);
			return -EINVAL;
		}
		for (k = 0; k < *n; k++)
			if (!strcmp(rts[k].name, r.name))
				break;
		if (k < *n)
			continue;
		if (*n >= CRI_COLLECTION_MAX_RUNTIMES) {
			ig_error("too many runtimes in --runtimes");
			return -EINVAL;
		}
		rts[(*n)++] = r;
	}
	return 0;
}

int ig_runtimes_check(const struct ig_runtimes_flags *f)
{
	struct cri_collection_runtime rts[CRI_COLLECTION_MAX_RUNTIMES];
	size_t n;

	return parse_runtimes(f, rts, &n);
}

int ig_runtimes_collection_new(const struct ig_runtimes_flags *f, int timeout_ms, bool quiet,
			       struct cri_collection **ret)
{
	struct cri_collection_runtime rts[CRI_COLLECTION_MAX_RUNTIMES];
	struct cri_collection_opts opts = {.timeout_ms = timeout_ms};
	char tried[RUNTIMES_MAX_TRIED];
	size_t n = 0, k, off = 0;
	int err;

	err = parse_runtimes(f, rts, &n);
	if (err)
		return err;
	opts.runtimes = rts;
	opts.n_runtimes = n;
	/*
	 * On a host without containers, do not start gRPC (and its threads)
	 * only to learn that no socket is there: it would delay every run.
	 */
	for (k = 0; quiet && k < n; k++)
		if (access(rts[k].socket_path, F_OK) == 0 || errno != ENOENT)
			break;
	err = quiet && k == n ? -ENOENT : cri_collection_new(&opts, ret);
	if (!err)
		return 0;
	tried[0] = '\0';
	for (k = 0; k < n && off < sizeof(tried); k++) {
		int w = snprintf(tried + off, sizeof(tried) - off, "%s%s at %s", k ? ", " : "",
				 rts[k].name, rts[k].socket_path);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (quiet)
		base_log_debug("ig: no container runtime answered (tried %s): %s", tried,
			       strerror(-err));
	else
		ig_error("no container runtime answered (tried %s): %s", tried, strerror(-err));
	return err;
}
