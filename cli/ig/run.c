// SPDX-License-Identifier: Apache-2.0
/*
 * ig run: the command line front end of the gadget runner (run/runner.h),
 * which opens the gadget, applies its params, builds the record pipelines and
 * the container filter, and loads and attaches it.  Here: the options (the
 * gadget brings its own params, so the command line is read after the gadget
 * is open), --help, and the event loop, until Ctrl-C, a timeout, or (for
 * snapshots and counted map fetches) the end of the data.
 *
 * The loop is one epoll set: tracers wake it when their ring buffer passes the
 * gadget's wakeup threshold, and a short drain timer collects what arrived
 * without a wakeup (the no-wakeup submits that keep per-event cost low).  The
 * container collection's fd is in the same set.
 *
 * Containers: records with a mount namespace field are enriched with their
 * container, pod and namespace whenever a CRI runtime answers; with
 * --kubeconfig also with what the Kubernetes API knows of the pod (kube.c).
 * A container selector (-c, --k8s-*) gives the run its own mount namespace
 * filter map, kept current by the runner from the collection's events.
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

#include "agent/health.h"
#include "run/annotate.h"
#include "run/enrich.h"
#include "run/metrics.h"
#include "run/flags.h"
#include "run/help.h"
#include "run/pipeline.h"
#include "run/runner.h"
#include "run/selector.h"
#include "base/buf.h"
#include "base/complete.h"
#include "base/log.h"
#include "base/time.h"
#include "bpf/gadget.h"
#include "cli/ig/resolve.h"
#include "cri/collection.h"
#include "oci/allow.h"
#include "oci/key.h"
#include "oci/metadata.h"
#include "oci/store.h"

#define RUN_ERRBUF	     2048
#define RUN_DEFAULT_DRAIN_MS 10
#define RUN_LOST_CHECK_MS    1000
/*
 * Bound on each CRI call: a runtime that hangs must neither hold up the
 * start of a run that does not need it nor stall the event loop for long.
 */
#define RUN_CRI_TIMEOUT_MS 1000

/* ig run's own flags; the run flags themselves are run/flags.h's */
enum ig_run_opt_id {
	OPT_RING_SIZE = IG_OPT_COMMAND_FIRST,
	OPT_DRAIN_INTERVAL,
	OPT_STORE,
	OPT_PULL,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
};

static const struct base_opt ig_run_opts[] = {
	{"ring-size", 0, BASE_OPT_VALUE, OPT_RING_SIZE, "SIZE",
	 "grow tracer ring buffers to at least SIZE bytes (default 4MiB)", 0},
	{"drain-interval", 0, BASE_OPT_VALUE, OPT_DRAIN_INTERVAL, "DURATION",
	 "how often tracer buffers are drained without a wakeup (default 10ms)", 0},
	{"store", 0, BASE_OPT_VALUE, OPT_STORE, "DIR",
	 "local image store (default: $IG_OCI_STORE, else " OCI_STORE_DEFAULT_DIR ")", 0},
	{"pull", 0, BASE_OPT_VALUE, OPT_PULL, "POLICY",
	 "images with a registry: always, missing (default) or never pull before running", 0},
	{"kubeconfig", 0, BASE_OPT_VALUE, OPT_KUBECONFIG, "FILE",
	 "enrich from this cluster's API: current k8s.podLabels, k8s.owner.kind/name, the pod, "
	 "service or node behind network endpoints (see docs/kubernetes.md)",
	 0},
	{"context", 0, BASE_OPT_VALUE, OPT_CONTEXT, "NAME",
	 "with --kubeconfig: use this context instead of the current one", 0},
};

#define N_IG_RUN_OPTS (sizeof(ig_run_opts) / sizeof(ig_run_opts[0]))

struct run_ctx {
	struct run_flags f; /* the run flags and the gadget's params */
	struct ig_gadget_files files;
	struct oci_metadata *md;
	struct run_runner *runner;
	char err[RUN_ERRBUF];

	/* ig run's own options */
	uint64_t ring_size;
	uint64_t drain_ms;
	const char *store_dir;
	enum ig_pull_policy pull;
	struct ig_registry_flags reg;
	struct ig_runtimes_flags rt;
	const char *kubeconfig;
	const char *context;

	/* the image policy: keys and allow-list patterns from the run flags */
	struct oci_key_set *keys;
	char **allowed;
	size_t n_allowed;

	/* metrics: the run's registry and, with --otel-metrics-listen, its endpoint */
	struct run_metrics *metrics;
	struct agent_health *metrics_srv;

	/* containers and the cluster */
	struct cri_collection *coll; /* NULL: no runtime answered */
	struct run_enrich *enrich;
	struct ig_kube *kube;

	uint64_t lost_reported[BPF_GADGET_MAX_DS];
};

/* The tables of ig run, in the order --help lists them. */
static void opt_tables(struct base_opt_table t[4])
{
	t[0] = run_flags_view(RUN_FLAGS_LOCAL);
	t[1] = (struct base_opt_table){.opts = ig_run_opts, .n = N_IG_RUN_OPTS};
	t[2] = (struct base_opt_table){.opts = ig_registry_opts, .n = ig_registry_opts_len};
	t[3] = (struct base_opt_table){.opts = ig_runtimes_opts, .n = ig_runtimes_opts_len};
}

/* One of ig run's own flags (run_flags_client_fn). */
static int set_option(void *ctx, const struct base_opt *o, const char *v, char *err, size_t errlen)
{
	struct run_ctx *c = ctx;
	int r;

	if (ig_registry_set(&c->reg, o, v))
		return 0;
	r = ig_runtimes_set(&c->rt, o, v, err, errlen);
	if (r)
		return r < 0 ? r : 0;
	switch (o->id) {
	case OPT_RING_SIZE:
		r = base_parse_size(v, &c->ring_size);
		if (!r && (c->ring_size < 4096 || c->ring_size > (1u << 30)))
			r = -ERANGE;
		break;
	case OPT_DRAIN_INTERVAL:
		r = base_parse_duration_ms(v, &c->drain_ms);
		if (!r && c->drain_ms == 0)
			r = -EINVAL;
		break;
	case OPT_STORE:
		c->store_dir = v;
		return 0;
	case OPT_PULL:
		if (ig_pull_policy_parse(v, &c->pull) < 0) {
			snprintf(err, errlen,
				 "invalid value '%s' for --pull (always, missing or never)", v);
			return -EINVAL;
		}
		return 0;
	case OPT_KUBECONFIG:
		c->kubeconfig = v;
		return 0;
	case OPT_CONTEXT:
		c->context = v;
		return 0;
	default:
		r = -EINVAL;
	}
	if (r < 0)
		snprintf(err, errlen, "invalid value '%s' for --%s", v, o->long_name);
	return r;
}

static void print_help(struct run_ctx *c)
{
	struct base_opt_table t[4];

	opt_tables(t);
	printf("Usage: ig run <gadget> [options] [--<param> VALUE ...]\n\n"
	       "<gadget> is one of:\n"
	       "  an image reference with a registry (localhost:5000/trace_open:v1,\n"
	       "    ghcr.io/org/gadget@sha256:...), run from the local store and pulled\n"
	       "    from its registry when missing (see --pull);\n"
	       "  a short name (trace_open, mygadget:v2): an image in the local store, else\n"
	       "    an in-tree gadget shipped with ig;\n"
	       "  a directory holding program.bpf.o and gadget.yaml, or an eBPF object file.\n"
	       "\nOptions:\n");
	base_opt_help(stdout, t, 2);
	printf("\nRegistry options (for pulls):\n");
	base_opt_help(stdout, &t[2], 1);
	printf("\nContainer runtimes (for container filters and the k8s.* and runtime.*\n"
	       "fields):\n");
	base_opt_help(stdout, &t[3], 1);
	if (!c->runner)
		return;
	{
		const struct run_runner_param_info *params[RUN_RUNNER_MAX_PARAMS];
		const struct run_runner_ds_info *ds[BPF_GADGET_MAX_DS];
		struct run_help_gadget g = {
			.name = c->files.name,
			.description = c->md ? c->md->description : NULL,
			.params = params,
			.ds = ds,
		};
		char origin[4096];
		size_t i;

		if (c->files.image) {
			snprintf(origin, sizeof(origin), "the store %s", c->files.store_dir);
			g.image = c->files.ref;
			g.digest = c->files.image->image_digest;
			g.origin = origin;
		}
		for (i = 0; i < run_runner_param_count(c->runner) && i < RUN_RUNNER_MAX_PARAMS; i++)
			params[g.n_params++] = run_runner_param(c->runner, i);
		for (i = 0; i < run_runner_ds_count(c->runner) && i < BPF_GADGET_MAX_DS; i++)
			ds[g.n_ds++] = run_runner_ds(c->runner, i);
		run_help_gadget(stdout, &g);
	}
}

/* What the runner could not return from a call (run_runner_opts.problem). */
static void report_problem(void *ctx, const char *msg)
{
	ig_warn("%s", msg);
}

/* The options as the runner takes them. */
static void runner_opts(const struct run_ctx *c, struct run_runner_opts *o, bool for_help)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->output = c->f.output;
	if (!for_help) {
		o->fields = c->f.fields;
		o->filters = c->f.filters;
		o->n_filters = c->f.n_filters;
		o->sort = c->f.sort;
	}
	o->max_entries = c->f.max_entries;
	o->no_header = c->f.no_header;
	o->out_fd = STDOUT_FILENO;
	o->selector = for_help ? NULL : &c->f.sel;
	o->host = c->f.host;
	o->coll = c->coll;
	o->enrich = c->enrich;
	o->k8s = ig_kube_enrich(c->kube);
	o->errbuf = (char *)c->err;
	o->errbuf_len = sizeof(c->err);
	/* with no runtime, --help still lists the enrichment fields as a run shows them */
	o->show_enrich_columns = for_help;
	o->problem = report_problem;
	o->annotate = c->f.annotate;
	o->n_annotate = c->f.n_annotate;
	if (!for_help) {
		o->metrics = c->metrics;
		o->metrics_names = c->f.metrics_names;
		o->n_metrics_names = c->f.n_metrics_names;
	}
}

static int apply_params(struct run_ctx *c)
{
	size_t i;

	for (i = 0; i < c->f.n_params; i++) {
		const struct run_flags_param *p = &c->f.params[i];
		int r = run_runner_set_param(c->runner, p->key, p->value);

		if (r < 0) {
			if (c->err[0])
				ig_error("%s", c->err);
			else
				ig_error("--%s: %s", p->key, strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * The container collection, before the pipelines (their columns depend on
 * it).  A selector needs a runtime; otherwise a missing one only means no
 * enrichment, and is not worth more than a debug line.
 */
static int setup_containers(struct run_ctx *c)
{
	bool need = !run_selector_empty(&c->f.sel);
	int r;

	r = ig_runtimes_collection_new(&c->rt, RUN_CRI_TIMEOUT_MS, !need, &c->coll);
	if (r < 0 && need)
		return r;
	r = run_enrich_new(c->coll, &c->enrich);
	if (r < 0)
		ig_error("container enrichment: %s", strerror(-r));
	return r;
}

static void report_lost(struct run_ctx *c, bool final)
{
	size_t i;

	for (i = 0; i < run_runner_ds_count(c->runner) && i < BPF_GADGET_MAX_DS; i++) {
		const struct run_runner_ds_info *ds = run_runner_ds(c->runner, i);
		uint64_t lost;

		if (ds->type != RUN_RUNNER_DS_TRACER)
			continue;
		lost = run_runner_ds_lost(c->runner, i);
		if (lost > c->lost_reported[i]) {
			ig_warn("%llu records lost on '%s' (buffer full; try a larger --ring-size)",
				(unsigned long long)(lost - c->lost_reported[i]), ds->name);
			c->lost_reported[i] = lost;
		}
		if (final && lost)
			ig_warn("%llu records lost in total on '%s'", (unsigned long long)lost,
				ds->name);
	}
}

enum loop_tag {
	TAG_SIGNAL = 1,
	TAG_RING,
	TAG_DRAIN,
	TAG_FETCH,
	TAG_TIMEOUT,
	TAG_LOST,
	TAG_CRI,
	TAG_METRICS,
};

static int ep_add(int ep, int fd, enum loop_tag tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* A failure of the runner while running, reported once; a closed reader is none. */
static int loop_error(struct run_ctx *c, int r)
{
	if (r != -EPIPE)
		ig_error("%s", c->err[0] ? c->err : strerror(-r));
	return r;
}

static int run_loop(struct run_ctx *c)
{
	bool has_tracer = run_runner_has_tracer(c->runner);
	bool has_mapiter = run_runner_has_mapiter(c->runner);
	int ep = -1, sfd = -1, drain = -1, fetch = -1, tmo = -1, lost = -1;
	uint64_t fetches = 0, gadget_ms = 0;
	sigset_t mask;
	int r = 0;

	/* Snapshots ran in run_runner_start() and end the run, like a 'ps'. */
	if (run_runner_done(c->runner))
		return 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	ep = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ep < 0 || sfd < 0 || ep_add(ep, sfd, TAG_SIGNAL) < 0) {
		r = -errno;
		ig_error("setting up the event loop: %s", strerror(errno));
		goto out;
	}
	if (has_tracer) {
		int pfd = run_runner_fd(c->runner);

		if (pfd >= 0 && (r = ep_add(ep, pfd, TAG_RING)) < 0)
			goto out_err;
		drain = base_time_timer_new(c->drain_ms, c->drain_ms);
		lost = base_time_timer_new(RUN_LOST_CHECK_MS, RUN_LOST_CHECK_MS);
		if (drain < 0 || lost < 0 || (r = ep_add(ep, drain, TAG_DRAIN)) < 0 ||
		    (r = ep_add(ep, lost, TAG_LOST)) < 0) {
			r = drain < 0 ? drain : lost < 0 ? lost : r;
			goto out_err;
		}
	}
	/*
	 * A gadget may ask for no periodic fetch (paramDefaults
	 * operator.oci.ebpf.map-fetch-interval: 0, as advise_seccomp does):
	 * its maps are read once, when the run stops.
	 */
	if (has_mapiter && !c->f.fetch_interval_set &&
	    run_runner_fetch_interval(c->runner, &gadget_ms) == 0)
		c->f.fetch_interval_ms = gadget_ms;
	if (has_mapiter && c->f.fetch_interval_ms) {
		fetch = base_time_timer_new(c->f.fetch_interval_ms, c->f.fetch_interval_ms);
		if (fetch < 0 || (r = ep_add(ep, fetch, TAG_FETCH)) < 0) {
			r = fetch < 0 ? fetch : r;
			goto out_err;
		}
	}
	if (c->coll && (r = ep_add(ep, cri_collection_fd(c->coll), TAG_CRI)) < 0)
		goto out_err;
	if (c->metrics_srv && (r = ep_add(ep, agent_health_fd(c->metrics_srv), TAG_METRICS)) < 0)
		goto out_err;
	if (c->f.timeout_ms) {
		tmo = base_time_timer_new(c->f.timeout_ms, 0);
		if (tmo < 0 || (r = ep_add(ep, tmo, TAG_TIMEOUT)) < 0) {
			r = tmo < 0 ? tmo : r;
			goto out_err;
		}
	}

	for (;;) {
		struct epoll_event evs[8];
		bool stop = false, consume = false;
		int n = epoll_wait(ep, evs, 8, -1), k;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_err;
		}
		for (k = 0; k < n; k++) {
			switch (evs[k].data.u32) {
			case TAG_SIGNAL:
			case TAG_TIMEOUT:
				stop = true;
				break;
			case TAG_RING:
				consume = true;
				break;
			case TAG_DRAIN:
				base_time_timer_drain(drain);
				consume = true;
				break;
			case TAG_LOST:
				base_time_timer_drain(lost);
				report_lost(c, false);
				break;
			case TAG_METRICS:
				/* a scrape: the registry is this thread's, so it is read here */
				agent_health_process(c->metrics_srv);
				break;
			case TAG_CRI:
				/*
				 * Containers come and go here (the filter map
				 * follows in the runner's callbacks); a runtime
				 * that is down is retried by the collection itself.
				 */
				cri_collection_process(c->coll);
				run_enrich_expire(c->enrich);
				break;
			case TAG_FETCH:
				base_time_timer_drain(fetch);
				r = run_runner_fetch(c->runner);
				if (r < 0) {
					loop_error(c, r);
					goto out;
				}
				if (c->f.fetch_count && ++fetches >= c->f.fetch_count)
					stop = true;
				break;
			}
		}
		if (consume || stop) {
			r = run_runner_consume(c->runner);
			if (r < 0) {
				loop_error(c, r);
				goto out;
			}
		}
		if (stop)
			break;
	}
	/* What a map holds at Ctrl-C is shown, unless the fetch count was reached. */
	if (has_mapiter && !(c->f.fetch_count && fetches >= c->f.fetch_count)) {
		r = run_runner_fetch(c->runner);
		if (r < 0)
			loop_error(c, r);
	}
	if (has_tracer)
		report_lost(c, true);
	goto out;
out_err:
	ig_error("event loop: %s", strerror(-r));
out:
	if (r == -EPIPE)
		r = 0; /* the reader went away (| head): not an error */
	if (tmo >= 0)
		close(tmo);
	if (fetch >= 0)
		close(fetch);
	if (drain >= 0)
		close(drain);
	if (lost >= 0)
		close(lost);
	if (sfd >= 0)
		close(sfd);
	if (ep >= 0)
		close(ep);
	return r;
}

static void run_ctx_done(struct run_ctx *c)
{
	/* the runner unsubscribes from the collection and uses the enrichment */
	c->runner = run_runner_free(c->runner);
	c->metrics_srv = agent_health_free(c->metrics_srv);
	c->metrics = run_metrics_free(c->metrics);
	c->enrich = run_enrich_free(c->enrich);
	c->coll = cri_collection_free(c->coll);
	c->kube = ig_kube_free(c->kube);
	run_flags_done(&c->f);
	c->md = oci_metadata_free(c->md);
	ig_gadget_files_done(&c->files);
	c->keys = oci_key_set_free(c->keys);
	for (size_t i = 0; i < c->n_allowed; i++)
		free(c->allowed[i]);
	free(c->allowed);
	c->allowed = NULL;
	c->n_allowed = 0;
}

/*
 * --public-keys, --verify-image, --allowed-gadgets and --disallow-pulling
 * into the resolver's options; prints its own error.
 */
static int image_policy(struct run_ctx *c, struct ig_resolve_opts *o)
{
	char err[OCI_KEY_ERRLEN];
	int r;

	if (c->f.verify_image_set && c->f.verify_image && !c->f.public_keys) {
		ig_error(
			"--verify-image needs --public-keys (the keys images must be signed with)");
		return -EINVAL;
	}
	if (c->f.public_keys && !c->f.verify_image) {
		ig_warn("gadget signature verification is disabled (--verify-image=false)");
	} else if (c->f.public_keys) {
		r = oci_key_set_new(&c->keys);
		if (r == 0)
			r = oci_key_set_add(c->keys, c->f.public_keys, err, sizeof(err));
		if (r < 0) {
			ig_error("--public-keys: %s", r == -ENOMEM ? strerror(ENOMEM) : err);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < c->f.n_allowed_gadgets; i++) {
		const char *p = c->f.allowed_gadgets[i];

		while (*p) {
			size_t n = strcspn(p, ",");
			char *item = strndup(p, n);
			void *v = item ? reallocarray(c->allowed, c->n_allowed + 1,
						      sizeof(*c->allowed))
				       : NULL;

			if (!v) {
				free(item);
				ig_error("%s", strerror(ENOMEM));
				return -ENOMEM;
			}
			c->allowed = v;
			c->allowed[c->n_allowed++] = item;
			if (oci_allow_check_pattern(item, err, sizeof(err)) < 0) {
				ig_error("--allowed-gadgets: '%s': %s", item, err);
				return -EINVAL;
			}
			p += n + (p[n] == ',');
		}
	}
	o->keys = c->keys;
	o->allowed = (const char *const *)c->allowed;
	o->n_allowed = c->n_allowed;
	o->disallow_pulling = c->f.disallow_pulling;
	return 0;
}

/* Opens the gadget the resolver found, with its gadget.yaml. */
static int open_gadget(struct run_ctx *c)
{
	struct run_runner_opts o = {
		.sz = sizeof(o),
		.name = c->files.name,
		.ring_min_bytes = (uint32_t)c->ring_size,
		.errbuf = c->err,
		.errbuf_len = sizeof(c->err),
	};
	int r;

	if (c->files.image) {
		r = oci_metadata_parse(c->files.image->config, c->files.image->config_len, &c->md,
				       c->err, sizeof(c->err));
		if (r < 0) {
			ig_error("image %s: %s", c->files.ref, c->err);
			return r;
		}
		o.program = c->files.image->program;
		o.program_len = c->files.image->program_len;
	} else {
		if (c->files.yaml_path) {
			r = oci_metadata_load(c->files.yaml_path, &c->md, c->err, sizeof(c->err));
			if (r < 0) {
				ig_error("%s", c->err);
				return r;
			}
		}
		o.elf_path = c->files.elf_path;
	}
	/* --annotate speaks as gadget.yaml would, before anything reads it */
	r = run_annotate_apply(c->f.annotate, c->f.n_annotate, &c->md, c->err, sizeof(c->err));
	if (r < 0) {
		ig_error("%s", c->err);
		return r;
	}
	o.md = c->md;
	r = run_runner_new(&o, &c->runner);
	if (r < 0)
		ig_error("%s", c->err[0] ? c->err : strerror(-r));
	return r;
}

/* --otel-metrics-name: the registry the named data sources export into. */
static int setup_metrics(struct run_ctx *c)
{
	int r;

	if (!c->f.n_metrics_names)
		return 0;
	r = run_metrics_new(NULL, &c->metrics);
	if (r < 0)
		ig_error("metrics: %s", strerror(-r));
	return r;
}

static int write_metrics(void *ctx, struct base_buf *out)
{
	const struct run_ctx *c = ctx;
	const struct run_metrics *regs[1] = {c->metrics};
	const char *labels[1] = {c->files.name};
	int r = run_metrics_write(c->metrics, out);

	return r < 0 ? r : run_metrics_write_dropped(regs, labels, c->metrics ? 1 : 0, out);
}

static bool metrics_ready(void *ctx, char *why, size_t len)
{
	return true;
}

/* --otel-metrics-listen: /metrics on the address, served from the run's loop. */
static int start_metrics_listener(struct run_ctx *c)
{
	const struct agent_health_ops ops = {
		.metrics = write_metrics,
		.ready = metrics_ready,
		.ctx = c,
	};
	const char *addr = c->f.metrics_listen_address ? c->f.metrics_listen_address
						       : RUN_FLAGS_DEFAULT_METRICS_ADDRESS;
	int r = agent_health_new(addr, &ops, &c->metrics_srv, c->err, sizeof(c->err));

	if (r < 0)
		ig_error("--otel-metrics-listen %s: %s", addr, c->err[0] ? c->err : strerror(-r));
	return r;
}

/* The gadget's params, for the second step of reading the command line. */
static int read_params(struct run_ctx *c, int argc, char **argv)
{
	const struct run_runner_param_info *params[RUN_RUNNER_MAX_PARAMS];
	size_t i, n = 0;

	for (i = 0; i < run_runner_param_count(c->runner) && n < RUN_RUNNER_MAX_PARAMS; i++)
		params[n++] = run_runner_param(c->runner, i);
	if (run_flags_params(&c->f, params, n, argc, argv, c->err, sizeof(c->err)) < 0) {
		ig_error("%s", c->err);
		return -EINVAL;
	}
	return 0;
}

int ig_cmd_run(int argc, char **argv)
{
	struct run_ctx c = {
		.drain_ms = RUN_DEFAULT_DRAIN_MS,
	};
	struct base_opt_table t[4];
	struct run_runner_opts ro;
	struct ig_resolve_opts ropts = {0};
	sigset_t mask;
	int r, ret = IG_EXIT_ERROR;

	signal(SIGPIPE, SIG_IGN);
	run_flags_init(&c.f, "ig run");
	opt_tables(t);
	/* the run flags, ig's own, the registry's and the runtimes' */
	if (run_flags_parse(&c.f, RUN_FLAGS_LOCAL, &t[1], 3, set_option, &c, argc, argv, c.err,
			    sizeof(c.err)) < 0) {
		ig_error("%s", c.err);
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (!c.f.gadget) {
		/* no gadget: only --help makes sense */
		if (c.f.help) {
			print_help(&c);
			ret = IG_EXIT_OK;
		} else {
			ig_error("which gadget? usage: ig run <gadget> [options] (see 'ig run "
				 "--help')");
			ret = IG_EXIT_USAGE;
		}
		goto out;
	}

	ropts.store_dir = c.store_dir;
	ropts.pull = c.pull;
	ropts.registry = &c.reg;
	if (image_policy(&c, &ropts) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	r = ig_resolve_gadget(c.f.gadget, &ropts, &c.files, c.err, sizeof(c.err));
	if (r < 0) {
		if (c.err[0])
			ig_error("%s", c.err);
		goto out;
	}
	if (open_gadget(&c) < 0)
		goto out;
	if (c.f.help) {
		/* no runtime is asked, but the enrichment fields are listed */
		if (run_enrich_new(NULL, &c.enrich) < 0)
			goto out;
		runner_opts(&c, &ro, true);
		r = run_runner_set_opts(c.runner, &ro);
		if (r >= 0)
			r = run_runner_prepare(c.runner);
		if (r < 0) {
			ig_error("%s", c.err[0] ? c.err : strerror(-r));
			goto out;
		}
		print_help(&c);
		ret = IG_EXIT_OK;
		goto out;
	}
	if (read_params(&c, argc, argv) < 0 || apply_params(&c) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (ig_runtimes_check(&c.rt) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (c.context && !c.kubeconfig) {
		ig_error("--context needs --kubeconfig");
		ret = IG_EXIT_USAGE;
		goto out;
	}
	/*
	 * The Kubernetes caches start threads that inherit the signal mask:
	 * block now, so that Ctrl-C reaches the event loop's signalfd and not
	 * one of them.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (setup_containers(&c) < 0)
		goto out;
	if (c.kubeconfig && ig_kube_start(c.kubeconfig, c.context,
					  run_runner_has_l4endpoint(c.runner), &c.kube) < 0)
		goto out;
	if (setup_metrics(&c) < 0)
		goto out;
	runner_opts(&c, &ro, false);
	r = run_runner_set_opts(c.runner, &ro);
	if (r >= 0)
		r = run_runner_prepare(c.runner);
	if (r < 0) {
		ig_error("%s", c.err[0] ? c.err : strerror(-r));
		if (r == -EINVAL)
			ret = IG_EXIT_USAGE;
		goto out;
	}
	if (c.f.metrics_listen && !c.f.n_metrics_names)
		ig_warn("--otel-metrics-listen: nothing is exported (name a data source with "
			"--otel-metrics-name DS:NAME)");
	if (c.f.n_metrics_names && !c.f.metrics_listen)
		ig_warn("--otel-metrics-name: the metrics are collected but not served (add "
			"--otel-metrics-listen)");
	if (c.f.metrics_listen && start_metrics_listener(&c) < 0)
		goto out;

	ig_ensure_kernel_fs();
	r = run_runner_start(c.runner);
	if (r < 0) {
		if (r != -EPIPE)
			ig_error("%s", c.err[0] ? c.err : strerror(-r));
		else
			ret = IG_EXIT_OK;
		goto out;
	}
	r = run_loop(&c);
	if (r >= 0)
		ret = IG_EXIT_OK;
out:
	run_ctx_done(&c);
	return ret;
}

/* ---- shell completion ---- */

static void add_name(void *ctx, const char *name)
{
	base_complete_add(ctx, name, NULL);
}

/* The gadget's params as "--key", from the gadget opened without pulling anything. */
static void complete_params(struct base_complete *c, const char *gadget, const char *store_dir)
{
	struct ig_resolve_opts ro = {.store_dir = store_dir, .pull = IG_PULL_NEVER};
	struct run_ctx rc = {0};
	char name[300];

	if (ig_resolve_gadget(gadget, &ro, &rc.files, rc.err, sizeof(rc.err)) < 0)
		return;
	/* opening reads the ELF and its BTF; nothing is loaded into the kernel */
	if (open_gadget(&rc) == 0) {
		for (size_t i = 0; i < run_runner_param_count(rc.runner); i++) {
			const struct run_runner_param_info *p = run_runner_param(rc.runner, i);

			snprintf(name, sizeof(name), "--%s", p->key ? p->key : p->name);
			base_complete_add(c, name, p->description);
		}
	}
	run_ctx_done(&rc);
}

void ig_run_complete(struct base_complete *c, int argc, char **argv, const char *prev)
{
	struct base_opt_table t[4];
	const struct base_opt *o;
	const char *value, *gadget = NULL, *store = NULL;

	opt_tables(t);
	o = base_complete_value_of(t, 4, prev, c->word, &value);
	if (o) {
		switch (o->id) {
		case RUN_FLAG_OUTPUT:
			base_complete_add_value(c, "columns");
			base_complete_add_value(c, "json");
			base_complete_add_value(c, "jsonpretty");
			base_complete_add_value(c, "yaml");
			c->directive = BASE_COMPLETE_NOFILE;
			break;
		case OPT_PULL:
			base_complete_add_value(c, "always");
			base_complete_add_value(c, "missing");
			base_complete_add_value(c, "never");
			c->directive = BASE_COMPLETE_NOFILE;
			break;
		case IG_OPT_RUNTIMES:
			base_complete_add_value(c, "containerd");
			base_complete_add_value(c, "cri-o");
			c->directive = BASE_COMPLETE_NOFILE;
			break;
		default:
			break; /* a file, a number, a name: the shell's own completion */
		}
		return;
	}
	/* the gadget is the first plain word; a flag's separate value is not one */
	for (int i = 1; i < argc; i++) {
		const struct base_opt *row = NULL;
		const char *v = NULL;
		char err[256];
		int r = base_opt_next(t, 4, argc, argv, &i, &row, &v, err, sizeof(err));

		if (r == BASE_OPT_MATCHED && row->id == OPT_STORE)
			store = v;
		if (r == BASE_OPT_WORD && !gadget)
			gadget = argv[i];
		if (r < 0 || r == BASE_OPT_END)
			break;
	}
	if (c->word[0] == '-') {
		base_complete_flags(c, t, 4);
		if (gadget)
			complete_params(c, gadget, store);
		if (strchr(c->word, '='))
			c->directive |= BASE_COMPLETE_NOSPACE;
		c->directive |= BASE_COMPLETE_NOFILE;
		return;
	}
	if (!gadget) {
		/* a path to a gadget directory or object is a file name: still offered */
		ig_resolve_names(store, add_name, c);
		return;
	}
	c->directive = BASE_COMPLETE_NOFILE;
}
