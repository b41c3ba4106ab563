// SPDX-License-Identifier: Apache-2.0
/*
 * ig run: open a gadget, apply its params, load and attach it, and feed what
 * it produces through the record pipeline until Ctrl-C, a timeout, or (for
 * snapshots and counted map fetches) the end of the data.
 *
 * The loop is one epoll set: tracers wake it when their ring buffer passes the
 * gadget's wakeup threshold, and a short drain timer collects what arrived
 * without a wakeup (the no-wakeup submits that keep per-event cost low).  The
 * container collection's fd is in the same set.
 *
 * Containers: records with a mount namespace field are enriched with their
 * container, pod and namespace whenever a CRI runtime answers.  A container
 * selector (-c, --k8s-*) gives the run its own mount namespace filter map,
 * filled from the collection's ADDED/REMOVED callbacks, so the kernel drops
 * everything else; with --host the selection is made here instead, letting
 * host processes through.
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

#include <bpf/bpf.h>

#include "agent/enrich.h"
#include "agent/pipeline.h"
#include "agent/selector.h"
#include "base/buf.h"
#include "base/log.h"
#include "bpf/gadget.h"
#include "cli/ig/resolve.h"
#include "cri/collection.h"
#include "oci/metadata.h"
#include "oci/store.h"

#define RUN_MAX_FILTERS	     32
#define RUN_ERRBUF	     512
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
	{"help", 'h', false, OPT_HELP, NULL, "show this help, with the gadget's params and fields"},
};

#define N_RUN_OPTS (sizeof(run_opts) / sizeof(run_opts[0]))

struct run_param {
	const struct bpf_gadget_param *bp;
	const struct oci_metadata_param *mp;
	char *key;	   /* flag name without the dashes */
	const char *value; /* given on the command line, or NULL */
};

struct run_ctx {
	struct ig_gadget_files files;
	struct bpf_gadget *gadget;
	struct oci_metadata *md;
	struct agent_pipeline *pipes[BPF_GADGET_MAX_DS];
	size_t n_ds;
	struct run_param params[BPF_GADGET_MAX_PARAMS];
	size_t n_params;

	/* options */
	enum agent_output output;
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
	struct agent_selector sel;
	bool host;

	/* containers */
	struct cri_collection *coll; /* NULL: no runtime answered */
	struct agent_enrich *enrich;
	int filter_sub;	  /* the mount namespace filter's subscription, or -1 */
	bool select_here; /* --host with a selector: select in on_record */
	uint32_t mntns_off[BPF_GADGET_MAX_DS];
	bool has_mntns[BPF_GADGET_MAX_DS];

	uint64_t lost_reported[BPF_GADGET_MAX_DS];
	int stop_err; /* first error a callback hit */
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
		if (strlen(c->params[i].key) == len && !strncmp(c->params[i].key, key, len))
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
		if (agent_output_parse(v, &c->output) < 0) {
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
		r = ig_parse_uint(v, 1u << 30, &c->max_entries);
		break;
	case OPT_FETCH_INTERVAL:
		r = ig_parse_duration_ms(v, &c->fetch_interval_ms);
		if (!r && c->fetch_interval_ms == 0)
			r = -EINVAL;
		break;
	case OPT_FETCH_COUNT:
		r = ig_parse_uint(v, UINT32_MAX, &c->fetch_count);
		break;
	case OPT_TIMEOUT:
		r = ig_parse_duration_ms(v, &c->timeout_ms);
		break;
	case OPT_RING_SIZE:
		r = ig_parse_size(v, &c->ring_size);
		if (!r && (c->ring_size < 4096 || c->ring_size > (1u << 30)))
			r = -ERANGE;
		break;
	case OPT_DRAIN_INTERVAL:
		r = ig_parse_duration_ms(v, &c->drain_ms);
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

		r = agent_selector_set_labels(&c->sel, v, why, sizeof(why));
		if (r < 0) {
			ig_error("invalid --k8s-selector '%s': %s", v, why[0] ? why : strerror(-r));
			return r;
		}
		return 0;
	}
	case OPT_HOST:
		c->host = true;
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
			} else if (p->bp->type == BPF_GADGET_PARAM_BOOL) {
				/* a bare boolean flag turns it on; "--x false" also reads */
				v = (i + 1 < argc && is_bool_word(argv[i + 1])) ? argv[++i]
										: "true";
			} else {
				v = i + 1 < argc ? argv[++i] : NULL;
				if (!v) {
					ig_error("param --%s needs a value", p->key);
					return -EINVAL;
				}
			}
			p->value = v;
		}
	}
	return 0;
}

/* targ_pid -> pid, show_threads -> show-threads, unless gadget.yaml names it. */
static char *param_key(const struct bpf_gadget_param *bp, const struct oci_metadata_param *mp)
{
	const char *src = bp->name;
	char *k, *p;

	if (mp && mp->key && *mp->key)
		return strdup(mp->key);
	if (!strncmp(src, "targ_", 5) && src[5])
		src += 5;
	k = strdup(src);
	for (p = k; p && *p; p++)
		if (*p == '_')
			*p = '-';
	return k;
}

/* The filter params every gadget gets from <gadget/filter.h> rarely carry a
 * description in gadget.yaml; say what they do. */
static const char *param_description(const struct run_param *p)
{
	static const struct {
		const char *name, *text;
	} known[] = {
		{"targ_pid", "Show only events from this process id (0: all)"},
		{"targ_tid", "Show only events from this thread id (0: all)"},
		{"targ_uid", "Show only events from this user id (4294967295: all)"},
		{"targ_gid", "Show only events from this group id (4294967295: all)"},
		{"targ_comm", "Show only events from processes with this command name"},
	};
	size_t i;

	if (p->mp && p->mp->description)
		return p->mp->description;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(p->bp->name, known[i].name))
			return known[i].text;
	return "";
}

static const char *param_type_word(const struct bpf_gadget_param *bp)
{
	switch (bp->type) {
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

static int collect_params(struct run_ctx *c)
{
	size_t i, n = bpf_gadget_param_count(c->gadget);

	for (i = 0; i < n && c->n_params < BPF_GADGET_MAX_PARAMS; i++) {
		struct run_param *p = &c->params[c->n_params];

		p->bp = bpf_gadget_param_get(c->gadget, i);
		p->mp = oci_metadata_find_param(c->md, p->bp->name);
		p->key = param_key(p->bp, p->mp);
		if (!p->key)
			return -ENOMEM;
		if (find_long(p->key, strlen(p->key)))
			ig_warn("gadget param '%s' is shadowed by the run option --%s", p->bp->name,
				p->key);
		c->n_params++;
	}
	return 0;
}

static void print_help(struct run_ctx *c)
{
	struct base_buf b = BASE_BUF_INIT(0);
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
	if (!c->gadget)
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
		const struct run_param *p = &c->params[i];
		const char *dflt =
			p->mp && p->mp->default_value ? p->mp->default_value : p->bp->default_value;
		char lhs[96];

		snprintf(lhs, sizeof(lhs), "--%s %s", p->key, param_type_word(p->bp));
		printf("  %-32s %s%s(default: %s)\n", lhs, param_description(p),
		       *param_description(p) ? " " : "", dflt && *dflt ? dflt : "\"\"");
	}
	for (i = 0; i < c->n_ds; i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(c->gadget, i);
		static const char *const kinds[] = {"tracer", "map iterator", "snapshot"};

		printf("\nFields of data source '%s' (%s):\n", ds->name, kinds[ds->type]);
		if (!c->pipes[i])
			continue;
		base_buf_reset(&b);
		agent_pipeline_print_fields(c->pipes[i], &b);
		fputs(b.data ? b.data : "", stdout);
	}
	base_buf_done(&b);
}

static int make_pipelines(struct run_ctx *c, bool for_help)
{
	size_t i;

	c->n_ds = bpf_gadget_ds_count(c->gadget);
	for (i = 0; i < c->n_ds; i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(c->gadget, i);
		const struct oci_metadata_ds *mds = oci_metadata_find_ds(c->md, ds->name);
		char err[RUN_ERRBUF] = "";
		struct agent_pipeline_opts po = {
			.sz = sizeof(po),
			.output = c->output,
			.fields = for_help ? NULL : c->fields,
			.filters = for_help ? NULL : c->filters,
			.n_filters = for_help ? 0 : c->n_filters,
			.sort = for_help ? NULL : c->sort,
			.max_entries = c->max_entries,
			.out_fd = STDOUT_FILENO,
			.clear_screen =
				ds->type == BPF_GADGET_DS_MAPITER && isatty(STDOUT_FILENO) &&
				c->output == AGENT_OUTPUT_COLUMNS && mds &&
				oci_metadata_ds_annotation(mds, "cli.clear-screen-before") &&
				!strcmp(oci_metadata_ds_annotation(mds, "cli.clear-screen-before"),
					"true"),
			.no_header = c->no_header,
			.errbuf = err,
			.errbuf_len = sizeof(err),
		};
		int r = agent_pipeline_new(ds->layout, mds, &po, &c->pipes[i]);

		c->has_mntns[i] = agent_enrich_mntns_offset(ds->layout, &c->mntns_off[i]) == 0;
		/*
		 * Without a runtime the columns stay in JSON (with empty values,
		 * so the output has one shape) but leave the table alone.
		 */
		if (r >= 0 && c->enrich && c->has_mntns[i])
			r = agent_enrich_add_columns(c->enrich, c->pipes[i], ds->layout,
						     c->coll != NULL || for_help);
		if (r >= 0)
			r = agent_pipeline_prepare(c->pipes[i]);
		if (r < 0) {
			ig_error("%s", err[0] ? err : strerror(-r));
			return r;
		}
	}
	return 0;
}

static int apply_params(struct run_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_params; i++) {
		const struct run_param *p = &c->params[i];
		const char *v = p->value;
		int r;

		if (!v && p->mp && p->mp->default_value)
			v = p->mp->default_value;
		if (!v)
			continue;
		r = bpf_gadget_set_param(c->gadget, p->bp->name, v);
		if (r < 0) {
			const char *why = bpf_gadget_last_error(c->gadget);

			if (p->value)
				ig_error("--%s: %s", p->key, why && *why ? why : strerror(-r));
			else
				ig_error("gadget.yaml default of param '%s': %s", p->bp->name,
					 why && *why ? why : strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * --host with a selector: host processes and the selected containers pass;
 * records without a mount namespace field cannot be told apart and pass too.
 */
static bool selected_here(struct run_ctx *c, size_t ds, const void *data, size_t size)
{
	const struct cri_container *ct;
	uint64_t mntns;

	if (!c->select_here || !c->has_mntns[ds] || (size_t)c->mntns_off[ds] + 8 > size)
		return true;
	memcpy(&mntns, (const char *)data + c->mntns_off[ds], sizeof(mntns));
	ct = agent_enrich_lookup(c->enrich, mntns);
	return !ct || agent_selector_match(&c->sel, ct);
}

/* Keeps the run's mount namespace filter in step with the selected containers. */
static void on_container(void *userdata, enum cri_collection_event ev,
			 const struct cri_container *ct)
{
	struct run_ctx *c = userdata;
	bool add = ev == CRI_COLLECTION_ADDED;
	int r;

	if (!agent_selector_match(&c->sel, ct))
		return;
	r = add ? bpf_gadget_mntns_filter_add(c->gadget, ct->mntns)
		: bpf_gadget_mntns_filter_remove(c->gadget, ct->mntns);
	if (r < 0) {
		ig_warn("container %s: %s", ct->name, bpf_gadget_last_error(c->gadget));
		return;
	}
	base_log_debug("ig: run: filter %s mntns %llu: container %s (%.12s) of pod %s/%s",
		       add ? "+" : "-", (unsigned long long)ct->mntns, ct->name, ct->id,
		       ct->pod_namespace, ct->pod_name);
}

/*
 * The container collection, before the pipelines (their columns depend on
 * it).  A selector needs a runtime; otherwise a missing one only means no
 * enrichment, and is not worth more than a debug line.
 */
static int setup_containers(struct run_ctx *c)
{
	bool need = !agent_selector_empty(&c->sel);
	sigset_t mask;
	int r;

	/*
	 * gRPC starts threads that inherit the signal mask: block now, so that
	 * Ctrl-C reaches the event loop's signalfd and not one of them.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = ig_runtimes_collection_new(&c->rt, RUN_CRI_TIMEOUT_MS, !need, &c->coll);
	if (r < 0 && need)
		return r;
	r = agent_enrich_new(c->coll, &c->enrich);
	if (r < 0)
		ig_error("container enrichment: %s", strerror(-r));
	return r;
}

/* After the pipelines, before load: the filter replaces the gadget's map at load. */
static int setup_filter(struct run_ctx *c)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int r;

	if (agent_selector_empty(&c->sel))
		return 0;
	if (c->host) {
		c->select_here = true;
		return 0;
	}
	r = bpf_gadget_mntns_filter_enable(c->gadget);
	if (r < 0) {
		ig_error("%s cannot filter by container: %s", c->files.name,
			 bpf_gadget_last_error(c->gadget));
		return r;
	}
	if (!bpf_obj_get_info_by_fd(bpf_gadget_mntns_filter_fd(c->gadget), &info, &len))
		base_log_debug("ig: run: mount namespace filter map id %u", info.id);
	/* replays the containers already running as ADDED */
	c->filter_sub = cri_collection_subscribe(c->coll, on_container, c);
	if (c->filter_sub < 0) {
		ig_error("watching containers: %s", strerror(-c->filter_sub));
		return c->filter_sub;
	}
	return 0;
}

static int on_record(const struct bpf_gadget_ds *ds, const void *data, size_t size, void *ctx)
{
	struct run_ctx *c = ctx;
	size_t i = 0;

	if (c->n_ds > 1)
		while (i < c->n_ds && bpf_gadget_ds_get(c->gadget, i) != ds)
			i++;
	if (i == c->n_ds)
		return 0;
	if (c->select_here && !selected_here(c, i, data, size))
		return 0;
	return agent_pipeline_record(c->pipes[i], data, size);
}

static int on_batch(const struct bpf_gadget_ds *ds, const void *const *records, size_t n,
		    size_t record_size, void *ctx)
{
	struct run_ctx *c = ctx;
	const void **kept;
	size_t i, k, m = 0;
	int r;

	for (i = 0; i < c->n_ds; i++)
		if (bpf_gadget_ds_get(c->gadget, i) == ds)
			break;
	if (i == c->n_ds)
		return 0;
	if (!c->select_here || !c->has_mntns[i] || !n)
		return agent_pipeline_batch(c->pipes[i], records, n, record_size);
	kept = calloc(n, sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		if (selected_here(c, i, records[k], record_size))
			kept[m++] = records[k];
	r = agent_pipeline_batch(c->pipes[i], kept, m, record_size);
	free(kept);
	return r;
}

static int flush_all(struct run_ctx *c)
{
	size_t i;
	int r;

	for (i = 0; i < c->n_ds; i++) {
		r = agent_pipeline_flush(c->pipes[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void report_lost(struct run_ctx *c, bool final)
{
	size_t i;

	for (i = 0; i < c->n_ds; i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(c->gadget, i);
		uint64_t lost = 0;

		if (ds->type != BPF_GADGET_DS_TRACER || bpf_gadget_lost(c->gadget, ds, &lost) < 0)
			continue;
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

static int fetch_mapiters(struct run_ctx *c)
{
	size_t i;
	int r;

	for (i = 0; i < c->n_ds; i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(c->gadget, i);

		if (ds->type != BPF_GADGET_DS_MAPITER)
			continue;
		r = bpf_gadget_mapiter_fetch(c->gadget, ds, true, on_batch, c);
		if (r < 0) {
			ig_error("fetching '%s': %s", ds->name, bpf_gadget_last_error(c->gadget));
			return r;
		}
	}
	return flush_all(c);
}

static int run_loop(struct run_ctx *c)
{
	bool has_tracer = false, has_mapiter = false, has_iter = false;
	int ep = -1, sfd = -1, drain = -1, fetch = -1, tmo = -1, lost = -1;
	uint64_t fetches = 0;
	sigset_t mask;
	size_t i;
	int r = 0;

	for (i = 0; i < c->n_ds; i++) {
		enum bpf_gadget_ds_type t = bpf_gadget_ds_get(c->gadget, i)->type;

		has_tracer |= t == BPF_GADGET_DS_TRACER;
		has_mapiter |= t == BPF_GADGET_DS_MAPITER;
		has_iter |= t == BPF_GADGET_DS_ITER;
	}

	/* Snapshots run once and end the run, like a 'ps'. */
	if (has_iter) {
		for (i = 0; i < c->n_ds; i++) {
			const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(c->gadget, i);

			if (ds->type != BPF_GADGET_DS_ITER)
				continue;
			r = bpf_gadget_iter_run(c->gadget, ds, on_batch, c);
			if (r < 0) {
				ig_error("running '%s': %s", ds->name,
					 bpf_gadget_last_error(c->gadget));
				return r;
			}
		}
		r = flush_all(c);
		if (!has_tracer && !has_mapiter)
			return r;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ep < 0 || sfd < 0 || ep_add(ep, sfd, TAG_SIGNAL) < 0) {
		r = -errno;
		ig_error("setting up the event loop: %s", strerror(errno));
		goto out;
	}
	if (has_tracer) {
		int pfd = bpf_gadget_poll_fd(c->gadget);

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
				 * follows in the callbacks); a runtime that is
				 * down is retried by the collection itself.
				 */
				cri_collection_process(c->coll);
				agent_enrich_expire(c->enrich);
				break;
			case TAG_FETCH:
				timer_ack(fetch);
				r = fetch_mapiters(c);
				if (r < 0)
					goto out;
				if (c->fetch_count && ++fetches >= c->fetch_count)
					stop = true;
				break;
			}
		}
		if (consume || stop) {
			r = has_tracer ? bpf_gadget_consume(c->gadget) : 0;
			if (r >= 0)
				r = flush_all(c);
			if (r < 0)
				goto out;
		}
		if (stop)
			break;
	}
	/* What a map holds at Ctrl-C is shown, unless the fetch count was reached. */
	if (has_mapiter && !(c->fetch_count && fetches >= c->fetch_count))
		r = fetch_mapiters(c);
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
	size_t i;

	if (c->coll && c->filter_sub >= 0)
		cri_collection_unsubscribe(c->coll, c->filter_sub);
	for (i = 0; i < BPF_GADGET_MAX_DS; i++)
		c->pipes[i] = agent_pipeline_free(c->pipes[i]);
	c->enrich = agent_enrich_free(c->enrich);
	c->coll = cri_collection_free(c->coll);
	agent_selector_done(&c->sel);
	for (i = 0; i < c->n_params; i++)
		free(c->params[i].key);
	c->gadget = bpf_gadget_free(c->gadget);
	c->md = oci_metadata_free(c->md);
	ig_gadget_files_done(&c->files);
}

int ig_cmd_run(int argc, char **argv)
{
	struct run_ctx c = {
		.output = AGENT_OUTPUT_COLUMNS,
		.fetch_interval_ms = 1000,
		.drain_ms = RUN_DEFAULT_DRAIN_MS,
		.filter_sub = -1,
	};
	char err[IG_RESOLVE_ERRLEN] = "";
	struct bpf_gadget_opts gopts = {
		.sz = sizeof(gopts), .errbuf = err, .errbuf_len = sizeof(err)};
	struct ig_resolve_opts ropts = {0};
	bool bad = false;
	const char *spec = find_gadget_arg(&c, argc, argv, &bad);
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
	r = ig_resolve_gadget(spec, &ropts, &c.files, err, sizeof(err));
	if (r < 0) {
		if (err[0])
			ig_error("%s", err);
		goto out;
	}
	if (c.files.image) {
		r = oci_metadata_parse(c.files.image->config, c.files.image->config_len, &c.md, err,
				       sizeof(err));
		if (r < 0) {
			ig_error("image %s: %s", c.files.ref, err);
			goto out;
		}
	} else if (c.files.yaml_path) {
		r = oci_metadata_load(c.files.yaml_path, &c.md, err, sizeof(err));
		if (r < 0) {
			ig_error("%s", err);
			goto out;
		}
	}
	gopts.name = c.files.name;
	gopts.ringbuf_min_bytes = (uint32_t)c.ring_size;
	if (c.files.image)
		r = bpf_gadget_open_mem(c.files.image->program, c.files.image->program_len, &gopts,
					&c.gadget);
	else
		r = bpf_gadget_open_file(c.files.elf_path, &gopts, &c.gadget);
	if (r < 0) {
		ig_error("%s", err[0] ? err : strerror(-r));
		goto out;
	}
	if (collect_params(&c) < 0)
		goto out;
	if (parse_args(&c, argc, argv, spec) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (c.help) {
		/* no runtime is asked, but the enrichment fields are listed */
		if (agent_enrich_new(NULL, &c.enrich) == 0 && make_pipelines(&c, true) == 0) {
			print_help(&c);
			ret = IG_EXIT_OK;
		}
		goto out;
	}
	if (ig_runtimes_check(&c.rt) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (setup_containers(&c) < 0)
		goto out;
	if (make_pipelines(&c, false) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (apply_params(&c) < 0) {
		ret = IG_EXIT_USAGE;
		goto out;
	}
	if (setup_filter(&c) < 0)
		goto out;

	ig_ensure_kernel_fs();
	bpf_gadget_set_record_fn(c.gadget, on_record, &c);
	r = bpf_gadget_load(c.gadget);
	if (r < 0) {
		ig_error("%s", bpf_gadget_last_error(c.gadget));
		goto out;
	}
	r = bpf_gadget_attach(c.gadget);
	if (r < 0) {
		ig_error("%s", bpf_gadget_last_error(c.gadget));
		goto out;
	}
	r = run_loop(&c);
	if (r >= 0)
		ret = IG_EXIT_OK;
out:
	run_ctx_done(&c);
	return ret;
}
