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
#include <sys/timerfd.h>
#include <unistd.h>

#include "run/enrich.h"
#include "run/pipeline.h"
#include "run/runner.h"
#include "run/selector.h"
#include "base/buf.h"
#include "base/log.h"
#include "bpf/gadget.h"
#include "cli/ig/resolve.h"
#include "cri/collection.h"
#include "oci/metadata.h"
#include "oci/store.h"

#define RUN_MAX_FILTERS	     RUN_RUNNER_MAX_FILTERS
#define RUN_ERRBUF	     2048
#define RUN_DEFAULT_DRAIN_MS 10
#define RUN_LOST_CHECK_MS    1000
/*
 * Bound on each CRI call: a runtime that hangs must neither hold up the
 * start of a run that does not need it nor stall the event loop for long.
 */
#define RUN_CRI_TIMEOUT_MS 1000

enum run_opt_id {
	OPT_OUTPUT = 1,
	OPT_FIELDS,
	OPT_FILTER,
	OPT_SORT,
	OPT_MAX_ENTRIES,
	OPT_FETCH_INTERVAL,
	OPT_FETCH_COUNT,
	OPT_TIMEOUT,
	OPT_RING_SIZE,
	OPT_DRAIN_INTERVAL,
	OPT_NO_HEADER,
	OPT_STORE,
	OPT_PULL,
	OPT_CONTAINERNAME,
	OPT_K8S_NAMESPACE,
	OPT_K8S_PODNAME,
	OPT_K8S_CONTAINERNAME,
	OPT_K8S_SELECTOR,
	OPT_HOST,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_HELP,
};

struct run_opt {
	const char *long_name;
	char short_name;
	bool has_arg;
	enum run_opt_id id;
	const char *arg_name;
	const char *help;
};

static const struct run_opt run_opts[] = {
	{"output", 'o', true, OPT_OUTPUT, "FORMAT",
	 "columns (default), json (one object per line), jsonpretty or yaml"},
	{"fields", 0, true, OPT_FIELDS, "LIST",
	 "fields to print: 'a,b' exactly these; '+a,-b' add to or remove from the defaults"},
	{"filter", 'F', true, OPT_FILTER, "EXPR",
	 "keep records matching EXPR: field==v, !=, >, >=, <, <=, ~ regex, !~ (repeatable)"},
	{"sort", 0, true, OPT_SORT, "LIST",
	 "map iterators and snapshots: sort by these fields, '-field' for descending"},
	{"max-entries", 0, true, OPT_MAX_ENTRIES, "N",
	 "map iterators and snapshots: print at most N rows per interval (0 = all)"},
	{"map-fetch-interval", 0, true, OPT_FETCH_INTERVAL, "DURATION",
	 "map iterators: how often to read and clear the map (default 1s)"},
	{"map-fetch-count", 0, true, OPT_FETCH_COUNT, "N",
	 "map iterators: stop after N fetches (default 0 = until interrupted)"},
	{"timeout", 't', true, OPT_TIMEOUT, "DURATION",
	 "stop after DURATION (e.g. 10, 10s, 500ms, 2m); default: until Ctrl-C"},
	{"ring-size", 0, true, OPT_RING_SIZE, "SIZE",
	 "grow tracer ring buffers to at least SIZE bytes (default 4MiB)"},
	{"drain-interval", 0, true, OPT_DRAIN_INTERVAL, "DURATION",
	 "how often tracer buffers are drained without a wakeup (default 10ms)"},
	{"no-header", 0, false, OPT_NO_HEADER, NULL, "columns output: do not print the header"},
	{"store", 0, true, OPT_STORE, "DIR",
	 "local image store (default: $IG_OCI_STORE, else " OCI_STORE_DEFAULT_DIR ")"},
	{"pull", 0, true, OPT_PULL, "POLICY",
	 "images with a registry: always, missing (default) or never pull before running"},
	{"containername", 'c', true, OPT_CONTAINERNAME, "NAME",
	 "only events from containers with this name"},
	{"k8s-namespace", 0, true, OPT_K8S_NAMESPACE, "NS",
	 "only events from pods in namespace NS"},
	{"k8s-podname", 0, true, OPT_K8S_PODNAME, "POD", "only events from pods named POD"},
	{"k8s-containername", 0, true, OPT_K8S_CONTAINERNAME, "NAME",
	 "only events from containers named NAME in their pod"},
	{"k8s-selector", 0, true, OPT_K8S_SELECTOR, "k=v,...",
	 "only events from pods with all these labels"},
	{"host", 0, false, OPT_HOST, NULL,
	 "with a container selector: also show events of host processes"},
	{"kubeconfig", 0, true, OPT_KUBECONFIG, "FILE",
	 "enrich from this cluster's API: current k8s.podLabels, k8s.owner.kind/name, the pod, "
	 "service or node behind network endpoints (see docs/kubernetes.md)"},
	{"context", 0, true, OPT_CONTEXT, "NAME",
	 "with --kubeconfig: use this context instead of the current one"},
	{"help", 'h', false, OPT_HELP, NULL, "show this help, with the gadget's params and fields"},
};

#define N_RUN_OPTS (sizeof(run_opts) / sizeof(run_opts[0]))

struct run_param {
	const struct run_runner_param_info *info;
	const char *value; /* given on the command line, or NULL */
};

struct run_ctx {
	struct ig_gadget_files files;
	struct oci_metadata *md;
	struct run_runner *runner;
	struct run_param params[RUN_RUNNER_MAX_PARAMS];
	size_t n_params;
	char err[RUN_ERRBUF];

	/* options */
	enum run_output output;
	const char *fields;
	const char *filters[RUN_MAX_FILTERS];
	size_t n_filters;
	const char *sort;
	uint64_t max_entries;
	uint64_t fetch_interval_ms;
	uint64_t fetch_count;
	uint64_t timeout_ms;
	uint64_t ring_size;
	uint64_t drain_ms;
	bool no_header;
	bool help;
	const char *store_dir;
	enum ig_pull_policy pull;
	struct ig_registry_flags reg;
	struct ig_runtimes_flags rt;
	struct run_selector sel;
	bool host;
	const char *kubeconfig;
	const char *context;

	/* containers and the cluster */
	struct cri_collection *coll; /* NULL: no runtime answered */
	struct run_enrich *enrich;
	struct ig_kube *kube;

	uint64_t lost_reported[BPF_GADGET_MAX_DS];
};

static const struct run_opt *find_long(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < N_RUN_OPTS; i++)
		if (strlen(run_opts[i].long_name) == len &&
		    !strncmp(run_opts[i].long_name, name, len))
			return &run_opts[i];
	return NULL;
}

static const struct run_opt *find_short(char c)
{
	size_t i;

	for (i = 0; i < N_RUN_OPTS; i++)
		if (run_opts[i].short_name == c)
			return &run_opts[i];
	return NULL;
}

static struct run_param *find_param(struct run_ctx *c, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < c->n_params; i++)
		if (strlen(c->params[i].info->key) == len &&
		    !strncmp(c->params[i].info->key, key, len))
			return &c->params[i];
	return NULL;
}

/*
 * The registry flags (--authfile, --tls-ca-file, ...) belong to registry.c,
 * the container runtime ones (--runtimes, ...) to runtimes.c;
 * on success *i is left on the last argument the flag used.
 */
static int registry_flag(struct run_ctx *c, int argc, char **argv, int *i)
{
	int r = ig_registry_flag(&c->reg, argc, argv, i);

	/* the container runtime flags are shared with list-containers the same way */
	return r ? r : ig_runtimes_flag(&c->rt, argc, argv, i);
}

/*
 * The first argument that is neither an option nor an option's value names
 * the gadget; it is needed before the rest can be parsed, since the gadget
 * brings its own params.  *bad is set when a registry flag lacks its value
 * (already reported).
 */
static const char *find_gadget_arg(struct run_ctx *c, int argc, char **argv, bool *bad)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct run_opt *o = NULL;

		if (!strcmp(a, "--"))
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || a[1] == '\0')
			return a;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			int r = registry_flag(c, argc, argv, &i);

			if (r < 0) {
				*bad = true;
				return NULL;
			}
			if (r > 0)
				continue;

			o = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
			if (o && o->has_arg && !eq)
				i++;
		} else {
			o = find_short(a[1]);
			if (o && o->has_arg && a[2] == '\0')
				i++;
		}
	}
	return NULL;
}

static int set_option(struct run_ctx *c, const struct run_opt *o, const char *v);

/*
 * Options needed before the gadget is opened, which is before the full
 * parse: where to find it (--store, --pull, registry flags) and the ring
 * sizes, fixed when the object is opened.
 */
static int prescan(struct run_ctx *c, int argc, char **argv)
{
	static const char *const early[] = {"ring-size", "store", "pull"};
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int j = i;

		if (!strcmp(a, "--"))
			break;
		if (strncmp(a, "--", 2))
			continue;
		if (registry_flag(c, argc, argv, &j) < 0)
			return -EINVAL;
		for (size_t k = 0; k < sizeof(early) / sizeof(early[0]); k++) {
			const struct run_opt *o = find_long(early[k], strlen(early[k]));
			size_t len = strlen(early[k]);

			if (strncmp(a + 2, early[k], len))
				continue;
			if (a[2 + len] == '=' && set_option(c, o, a + 3 + len) < 0)
				return -EINVAL;
			if (a[2 + len] == '\0' && i + 1 < argc && set_option(c, o, argv[i + 1]) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

static int set_option(struct run_ctx *c, const struct run_opt *o, const char *v)
{
	int r = 0;

	switch (o->id) {
	case OPT_OUTPUT:
		if (run_output_parse(v, &c->output) < 0) {
			ig_error("invalid output format '%s' (columns, json, jsonpretty or yaml)",
				 v);
			return -EINVAL;
		}
		return 0;
	case OPT_FIELDS:
		c->fields = v;
		return 0;
	case OPT_FILTER:
		if (c->n_filters == RUN_MAX_FILTERS) {
			ig_error("too many filters (at most %d)", RUN_MAX_FILTERS);
			return -E2BIG;
		}
		c->filters[c->n_filters++] = v;
		return 0;
	case OPT_SORT:
		c->sort = v;
		return 0;
	case OPT_MAX_ENTRIES:
		r = base_parse_uint(v, 1u << 30, &c->max_entries);
		break;
	case OPT_FETCH_INTERVAL:
		r = base_parse_duration_ms(v, &c->fetch_interval_ms);
		if (!r && c->fetch_interval_ms == 0)
			r = -EINVAL;
		break;
	case OPT_FETCH_COUNT:
		r = base_parse_uint(v, UINT32_MAX, &c->fetch_count);
		break;
	case OPT_TIMEOUT:
		r = base_parse_duration_ms(v, &c->timeout_ms);
		break;
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
	case OPT_NO_HEADER:
		c->no_header = true;
		return 0;
	case OPT_STORE:
		c->store_dir = v;
		return 0;
	case OPT_PULL:
		r = ig_pull_policy_parse(v, &c->pull);
		if (r < 0) {
			ig_error("invalid value '%s' for --pull (always, missing or never)", v);
			return r;
		}
		return 0;
	case OPT_CONTAINERNAME:
		c->sel.container_name = v;
		return 0;
	case OPT_K8S_NAMESPACE:
		c->sel.k8s_namespace = v;
		return 0;
	case OPT_K8S_PODNAME:
		c->sel.k8s_podname = v;
		return 0;
	case OPT_K8S_CONTAINERNAME:
		c->sel.k8s_containername = v;
		return 0;
	case OPT_K8S_SELECTOR: {
		char why[128] = "";

		r = run_selector_set_labels(&c->sel, v, why, sizeof(why));
		if (r < 0) {
			ig_error("invalid --k8s-selector '%s': %s", v, why[0] ? why : strerror(-r));
			return r;
		}
		return 0;
	}
	case OPT_HOST:
		c->host = true;
		return 0;
	case OPT_KUBECONFIG:
		c->kubeconfig = v;
		return 0;
	case OPT_CONTEXT:
		c->context = v;
		return 0;
	case OPT_HELP:
		c->help = true;
		return 0;
	}
	if (r < 0)
		ig_error("invalid value '%s' for --%s", v, o->long_name);
	return r;
}

static bool is_bool_word(const char *s)
{
	static const char *const words[] = {"true", "false", "1", "0", "yes", "no"};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static int parse_args(struct run_ctx *c, int argc, char **argv, const char *gadget_arg)
{
	bool gadget_seen = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct run_opt *o;
		const char *v = NULL;

		if (!strcmp(a, "--")) {
			if (i + 1 < argc && !gadget_seen && argv[i + 1] == gadget_arg) {
				gadget_seen = true;
				i++;
			}
			if (i + 1 < argc) {
				ig_error("unexpected argument '%s'", argv[i + 1]);
				return -EINVAL;
			}
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (!gadget_seen && a == gadget_arg) {
				gadget_seen = true;
				continue;
			}
			ig_error("unexpected argument '%s' (one gadget per run)", a);
			return -EINVAL;
		}
		if (a[1] != '-') {
			o = find_short(a[1]);
			if (!o) {
				ig_error("unknown option '%s' (see 'ig run %s --help')", a,
					 gadget_arg ? gadget_arg : "<gadget>");
				return -EINVAL;
			}
			if (o->has_arg) {
				v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
				if (!v) {
					ig_error("option -%c needs a value", a[1]);
					return -EINVAL;
				}
			} else if (a[2]) {
				ig_error("unknown option '%s'", a);
				return -EINVAL;
			}
			if (set_option(c, o, v) < 0)
				return -EINVAL;
			continue;
		}
		{
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			struct run_param *p;
			int r = registry_flag(c, argc, argv, &i);

			if (r < 0)
				return -EINVAL;
			if (r > 0)
				continue;
			o = find_long(name, len);
			if (o) {
				if (o->has_arg) {
					v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
					if (!v) {
						ig_error("option --%s needs a value", o->long_name);
						return -EINVAL;
					}
				} else if (eq) {
					ig_error("option --%s takes no value", o->long_name);
					return -EINVAL;
				}
				if (set_option(c, o, v) < 0)
					return -EINVAL;
				continue;
			}
			p = find_param(c, name, len);
			if (!p) {
				ig_error("unknown option '--%.*s' (see 'ig run %s --help' for the "
					 "gadget's params)",
					 (int)len, name, gadget_arg ? gadget_arg : "<gadget>");
				return -EINVAL;
			}
			if (eq) {
				v = eq + 1;
			} else if (p->info->type == BPF_GADGET_PARAM_BOOL) {
				/* a bare boolean flag turns it on; "--x false" also reads */
				v = (i + 1 < argc && is_bool_word(argv[i + 1])) ? argv[++i]
										: "true";
			} else {
				v = i + 1 < argc ? argv[++i] : NULL;
				if (!v) {
					ig_error("param --%s needs a value", p->info->key);
					return -EINVAL;
				}
			}
			p->value = v;
		}
	}
	return 0;
}

/* The param table of the open gadget, for the command line. */
static void collect_params(struct run_ctx *c)
{
	size_t i, n = run_runner_param_count(c->runner);

	for (i = 0; i < n && c->n_params < RUN_RUNNER_MAX_PARAMS; i++) {
		struct run_param *p = &c->params[c->n_params++];

		p->info = run_runner_param(c->runner, i);
		if (find_long(p->info->key, strlen(p->info->key)))
			ig_warn("gadget param '%s' is shadowed by the run option --%s",
				p->info->name, p->info->key);
	}
}

static const char *param_type_word(int type)
{
	switch (type) {
	case BPF_GADGET_PARAM_BOOL:
		return "bool";
	case BPF_GADGET_PARAM_INT:
		return "int";
	case BPF_GADGET_PARAM_UINT:
		return "uint";
	case BPF_GADGET_PARAM_STRING:
		return "string";
	case BPF_GADGET_PARAM_ENUM:
		return "enum";
	}
	return "value";
}

/* One line per field: its type, description, and whether the output shows it. */
static void print_fields(const struct run_ctx *c, const struct run_runner_ds_info *ds)
{
	size_t i, w = 0;

	for (i = 0; i < ds->n_fields; i++) {
		size_t n = strlen(ds->fields[i].name);

		if (n > w)
			w = n;
	}
	if (w > 40)
		w = 40;
	for (i = 0; i < ds->n_fields; i++) {
		const struct run_runner_field *f = &ds->fields[i];
		const char *d = f->description ? f->description : "";
		bool hidden =
			c->output == RUN_OUTPUT_COLUMNS ? !f->visible_columns : !f->visible_json;
		struct base_buf b = BASE_BUF_INIT(0);

		if (base_buf_printf(&b, "  %-*s  %-10s  %s%s%s", (int)w, f->name, f->type, d,
				    *d && hidden ? " " : "", hidden ? "(hidden)" : "") < 0)
			return;
		while (b.len && b.data[b.len - 1] == ' ')
			b.len--;
		printf("%.*s\n", (int)b.len, b.data);
		base_buf_done(&b);
	}
}

static void print_help(struct run_ctx *c)
{
	size_t i;

	printf("Usage: ig run <gadget> [options] [--<param> VALUE ...]\n\n"
	       "<gadget> is one of:\n"
	       "  an image reference with a registry (localhost:5000/trace_open:v1,\n"
	       "    ghcr.io/org/gadget@sha256:...), run from the local store and pulled\n"
	       "    from its registry when missing (see --pull);\n"
	       "  a short name (trace_open, mygadget:v2): an image in the local store, else\n"
	       "    an in-tree gadget shipped with ig;\n"
	       "  a directory holding program.bpf.o and gadget.yaml, or an eBPF object file.\n"
	       "\nOptions:\n");
	for (i = 0; i < N_RUN_OPTS; i++) {
		const struct run_opt *o = &run_opts[i];
		char lhs[64];

		if (o->short_name)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->short_name, o->long_name,
				 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->long_name,
				 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
		printf("  %-32s %s\n", lhs, o->help);
	}
	printf("\nRegistry options (for pulls):\n%s", ig_registry_flags_help);
	printf("\nContainer runtimes (for container filters and the k8s.* and runtime.*\n"
	       "fields):\n%s",
	       ig_runtimes_flags_help);
	if (!c->runner)
		return;

	printf("\nGadget %s", c->files.name);
	if (c->md && c->md->description)
		printf(": %s", c->md->description);
	printf("\n");
	if (c->files.image)
		printf("Image %s (%s) from the store %s\n", c->files.ref,
		       c->files.image->image_digest, c->files.store_dir);
	printf("\nParams of %s:\n", c->files.name);
	if (!c->n_params)
		printf("  (none)\n");
	for (i = 0; i < c->n_params; i++) {
		const struct run_runner_param_info *p = c->params[i].info;
		const char *dflt = p->default_value;
		char lhs[96];

		snprintf(lhs, sizeof(lhs), "--%s %s", p->key, param_type_word(p->type));
		printf("  %-32s %s%s", lhs, p->description, *p->description ? " " : "");
		for (size_t k = 0; k < p->n_values; k++)
			printf("%s%s", k ? ", " : "(one of: ", p->values[k]);
		printf("%s(default: %s)\n", p->n_values ? ") " : "", dflt && *dflt ? dflt : "\"\"");
	}
	for (i = 0; i < run_runner_ds_count(c->runner); i++) {
		const struct run_runner_ds_info *ds = run_runner_ds(c->runner, i);
		static const char *const kinds[] = {"tracer", "map iterator", "snapshot"};

		printf("\nFields of data source '%s' (%s):\n", ds->name, kinds[ds->type]);
		print_fields(c, ds);
	}
}

/* The options as the runner takes them. */
static void runner_opts(const struct run_ctx *c, struct run_runner_opts *o, bool for_help)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->output = c->output;
	if (!for_help) {
		o->fields = c->fields;
		o->filters = c->filters;
		o->n_filters = c->n_filters;
		o->sort = c->sort;
	}
	o->max_entries = (size_t)c->max_entries;
	o->no_header = c->no_header;
	o->out_fd = STDOUT_FILENO;
	o->selector = for_help ? NULL : &c->sel;
	o->host = c->host;
	o->coll = c->coll;
	o->enrich = c->enrich;
	o->k8s = ig_kube_enrich(c->kube);
	o->errbuf = (char *)c->err;
	o->errbuf_len = sizeof(c->err);
	/* with no runtime, --help still lists the enrichment fields as a run shows them */
	o->show_enrich_columns = for_help;
}

static int apply_params(struct run_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_params; i++) {
		const struct run_param *p = &c->params[i];
		int r;

		if (!p->value)
			continue;
		r = run_runner_set_param(c->runner, p->info->key, p->value);
		if (r < 0) {
			ig_error("--%s: %s", p->info->key, c->err[0] ? c->err : strerror(-r));
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
	bool need = !run_selector_empty(&c->sel);
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

static int timer_new(uint64_t ms, bool periodic)
{
	struct itimerspec its = {0};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void timer_ack(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;
}

enum loop_tag { TAG_SIGNAL = 1, TAG_RING, TAG_DRAIN, TAG_FETCH, TAG_TIMEOUT, TAG_LOST, TAG_CRI };

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
	uint64_t fetches = 0;
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
		drain = timer_new(c->drain_ms, true);
		lost = timer_new(RUN_LOST_CHECK_MS, true);
		if (drain < 0 || lost < 0 || (r = ep_add(ep, drain, TAG_DRAIN)) < 0 ||
		    (r = ep_add(ep, lost, TAG_LOST)) < 0) {
			r = drain < 0 ? drain : lost < 0 ? lost : r;
			goto out_err;
		}
	}
	if (has_mapiter) {
		fetch = timer_new(c->fetch_interval_ms, true);
		if (fetch < 0 || (r = ep_add(ep, fetch, TAG_FETCH)) < 0) {
			r = fetch < 0 ? fetch : r;
			goto out_err;
		}
	}
	if (c->coll && (r = ep_add(ep, cri_collection_fd(c->coll), TAG_CRI)) < 0)
		goto out_err;
	if (c->timeout_ms) {
		tmo = timer_new(c->timeout_ms, false);
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
				timer_ack(drain);
				consume = true;
				break;
			case TAG_LOST:
				timer_ack(lost);
				report_lost(c, false);
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
				timer_ack(fetch);
				r = run_runner_fetch(c->runner);
				if (r < 0) {
					loop_error(c, r);
					goto out;
				}
				if (c->fetch_count && ++fetches >= c->fetch_count)
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
	if (has_mapiter && !(c->fetch_count && fetches >= c->fetch_count)) {
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
	c->enrich = run_enrich_free(c->enrich);
	c->coll = cri_collection_free(c->coll);
	c->kube = ig_kube_free(c->kube);
	run_selector_done(&c->sel);
	c->md = oci_metadata_free(c->md);
	ig_gadget_files_done(&c->files);
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
	o.md = c->md;
	r = run_runner_new(&o, &c->runner);
	if (r < 0)
		ig_error("%s", c->err[0] ? c->err : strerror(-r));
	return r;
}

int ig_cmd_run(int argc, char **argv)
{
	struct run_ctx c = {
		.output = RUN_OUTPUT_COLUMNS,
		.fetch_interval_ms = 1000,
		.drain_ms = RUN_DEFAULT_DRAIN_MS,
	};
	struct run_runner_opts ro;
	struct ig_resolve_opts ropts = {0};
	bool bad = false;
	const char *spec = find_gadget_arg(&c, argc, argv, &bad);
	sigset_t mask;
	int r, ret = IG_EXIT_ERROR;

	signal(SIGPIPE, SIG_IGN);
	if (bad)
		return IG_EXIT_USAGE;
	if (!spec) {
		/* no gadget: only --help makes sense */
		if (parse_args(&c, argc, argv, NULL) == 0 && c.help) {
			print_help(&c);
			return IG_EXIT_OK;
		}
		if (!c.help)
			ig_error("which gadget? usage: ig run <gadget> [options] (see 'ig run "
				 "--help')");
		return IG_EXIT_USAGE;
	}

	if (prescan(&c, argc, argv) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	ropts.store_dir = c.store_dir;
	ropts.pull = c.pull;
	ropts.registry = &c.reg;
	r = ig_resolve_gadget(spec, &ropts, &c.files, c.err, sizeof(c.err));
	if (r < 0) {
		if (c.err[0])
			ig_error("%s", c.err);
		goto out;
	}
	if (open_gadget(&c) < 0)
		goto out;
	collect_params(&c);
	if (parse_args(&c, argc, argv, spec) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (c.help) {
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
	if (apply_params(&c) < 0) {
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
	 * gRPC and the Kubernetes caches start threads that inherit the signal
	 * mask: block now, so that Ctrl-C reaches the event loop's signalfd
	 * and not one of them.
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
