// SPDX-License-Identifier: Apache-2.0
/*
 * One gadget run, shared by ig run and the agent.  See runner.h.
 *
 * The runner glues the gadget runtime (bpf/gadget.h) to one record pipeline
 * per data source (run/pipeline.h): tracer records arrive one by one
 * through the gadget's record callback, map iterator fetches and snapshots
 * as whole batches.  Containers enter twice: the mount namespace filter map
 * follows the collection's ADDED/REMOVED events for the containers the
 * selector matches (so the kernel drops everything else), and the
 * enrichment columns name each record's container.  With "host" the kernel
 * cannot do the selection (host processes have no entry in the filter), so
 * it is done here per record instead.
 */
#include "run/runner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "run/annotate.h"
#include "run/column.h"
#include "run/enrich.h"
#include "run/metrics.h"
#include "run/derived.h"
#include "base/buf.h"
#include "base/log.h"
#include "bpf/gadget.h"
#include "bpf/netns.h"
#include "bpf/socket_enricher.h"
#include "cri/collection.h"
#include "oci/metadata.h"
#include "base/err.h"

/* What every caller of the first version of the options sets. */
#define OPTS_MIN_SZ (offsetof(struct run_runner_opts, errbuf_len) + sizeof(size_t))

/* Width of the k8s.node column: node names are DNS names, mostly short. */
#define NODE_COLUMN_WIDTH 16

struct runner_ds {
	struct run_runner *r;
	size_t idx;
	const struct bpf_gadget_ds *ds;
	struct run_pipeline *pipe;
	uint32_t mntns_off;
	bool has_mntns;
	uint64_t fetches;
	struct run_runner_ds_info info;
	struct run_runner_field *fields;
	struct run_derived *derived; /* ebpf.rest, DNS */
};

struct runner_param {
	struct run_runner_param_info info;
	char *key;
	bool set; /* by run_runner_set_param() */
};

struct run_runner {
	struct run_runner_opts o;
	struct bpf_gadget *gadget;
	struct runner_ds ds[BPF_GADGET_MAX_DS];
	size_t n_ds;
	struct runner_param params[BPF_GADGET_MAX_PARAMS];
	size_t n_params;
	bool has_tracer, has_mapiter, has_iter, has_l4;

	int filter_sub; /* the collection subscription filling the filter, or -1 */
	int net_sub;	/* the one attaching socket filters in containers, or -1 */
	/*
	 * Containers whose namespace holds an attachment: only their REMOVED
	 * detaches, so one that failed to attach cannot take away another's.
	 */
	char **net_ids;
	size_t n_net_ids, cap_net_ids;
	struct bpf_socket_enricher *enricher; /* when the gadget reads gadget_sockets */
	bool select_here;
	bool prepared, started;
	int cb_err; /* the last error a record or batch callback returned */
};

static int set_err(struct run_runner *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(struct run_runner *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(r->o.errbuf, r->o.errbuf_len, fmt, ap);
	va_end(ap);
	return err;
}

static const char *gadget_error(const struct run_runner *r, int err)
{
	const char *why = bpf_gadget_last_error(r->gadget);

	return why && *why ? why : strerror(-err);
}

/* Copies the caller's options, tolerating older (shorter) versions of the struct. */
static int copy_opts(struct run_runner_opts *dst, const struct run_runner_opts *opts)
{
	if (!opts || opts->sz < OPTS_MIN_SZ)
		return -EINVAL;
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, opts, opts->sz < sizeof(*dst) ? opts->sz : sizeof(*dst));
	dst->sz = sizeof(*dst);
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

/*
 * The filter params every gadget gets from <gadget/filter.h> rarely carry a
 * description in gadget.yaml; say what they do.
 */
static const char *param_description(const struct bpf_gadget_param *bp,
				     const struct oci_metadata_param *mp)
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

	if (mp && mp->description)
		return mp->description;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(bp->name, known[i].name))
			return known[i].text;
	return "";
}

static int collect_params(struct run_runner *r)
{
	size_t i, n = bpf_gadget_param_count(r->gadget);

	for (i = 0; i < n && r->n_params < BPF_GADGET_MAX_PARAMS; i++) {
		struct runner_param *p = &r->params[r->n_params];
		const struct bpf_gadget_param *bp = bpf_gadget_param_get(r->gadget, i);
		const struct oci_metadata_param *mp = oci_metadata_find_param(r->o.md, bp->name);

		p->key = param_key(bp, mp);
		if (!p->key)
			return -ENOMEM;
		p->info.key = p->key;
		p->info.name = bp->name;
		p->info.description = param_description(bp, mp);
		p->info.default_value = mp && mp->default_value ? mp->default_value
					: bp->default_value	? bp->default_value
								: "";
		p->info.type_name = bp->type_name ? bp->type_name : "";
		p->info.type = (int)bp->type;
		p->info.values = bp->enum_values;
		p->info.n_values = bp->n_enum_values;
		r->n_params++;
	}
	return 0;
}

static void collect_ds(struct run_runner *r)
{
	size_t i, j;

	r->n_ds = bpf_gadget_ds_count(r->gadget);
	if (r->n_ds > BPF_GADGET_MAX_DS)
		r->n_ds = BPF_GADGET_MAX_DS;
	for (i = 0; i < r->n_ds; i++) {
		struct runner_ds *d = &r->ds[i];
		const struct bpf_layout *l;

		d->r = r;
		d->idx = i;
		d->ds = bpf_gadget_ds_get(r->gadget, i);
		l = d->ds->layout;
		d->info.name = d->ds->name;
		d->info.md = oci_metadata_find_ds(r->o.md, d->ds->name);
		switch (d->ds->type) {
		case BPF_GADGET_DS_TRACER:
			d->info.type = RUN_RUNNER_DS_TRACER;
			r->has_tracer = true;
			break;
		case BPF_GADGET_DS_MAPITER:
			d->info.type = RUN_RUNNER_DS_MAPITER;
			r->has_mapiter = true;
			break;
		case BPF_GADGET_DS_ITER:
			d->info.type = RUN_RUNNER_DS_ITER;
			r->has_iter = true;
			break;
		}
		d->has_mntns = l && run_enrich_mntns_offset(l, &d->mntns_off) == 0;
		for (j = 0; l && j < l->n_fields; j++)
			if (l->fields[j].special == BPF_LAYOUT_SPECIAL_L4ENDPOINT)
				r->has_l4 = true;
	}
}

int run_runner_new(const struct run_runner_opts *opts, struct run_runner **ret)
{
	struct bpf_gadget_opts gopts = {.sz = sizeof(gopts)};
	struct run_runner *r;
	int err;

	if (!ret)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->filter_sub = -1;
	r->net_sub = -1;
	err = copy_opts(&r->o, opts);
	if (err < 0)
		goto fail;
	if (r->o.errbuf && r->o.errbuf_len)
		r->o.errbuf[0] = '\0';
	if (!r->o.program == !r->o.elf_path || (r->o.program && !r->o.program_len)) {
		err = set_err(r, -EINVAL, "a gadget needs a program in memory or a file");
		goto fail;
	}
	gopts.name = r->o.name;
	gopts.ringbuf_min_bytes = r->o.ring_min_bytes;
	gopts.errbuf = r->o.errbuf;
	gopts.errbuf_len = r->o.errbuf_len;
	if (r->o.program)
		err = bpf_gadget_open_mem(r->o.program, r->o.program_len, &gopts, &r->gadget);
	else
		err = bpf_gadget_open_file(r->o.elf_path, &gopts, &r->gadget);
	if (err < 0) {
		if (r->o.errbuf && r->o.errbuf_len && !r->o.errbuf[0])
			set_err(r, err, "%s: %s", r->o.name ? r->o.name : r->o.elf_path,
				strerror(-err));
		if (err != -ENOMEM)
			err = -ENOEXEC;
		goto fail;
	}
	err = collect_params(r);
	if (err < 0)
		goto fail;
	collect_ds(r);
	*ret = r;
	return 0;
fail:
	run_runner_free(r);
	return err;
}

int run_runner_set_opts(struct run_runner *r, const struct run_runner_opts *opts)
{
	struct run_runner_opts o;
	int err;

	if (!r)
		return -EINVAL;
	if (r->prepared)
		return -EBUSY;
	err = copy_opts(&o, opts);
	if (err < 0)
		return err;
	/* what the open gadget was made from stays */
	o.name = r->o.name;
	o.program = r->o.program;
	o.program_len = r->o.program_len;
	o.elf_path = r->o.elf_path;
	o.md = r->o.md;
	o.ring_min_bytes = r->o.ring_min_bytes;
	r->o = o;
	return 0;
}

bool run_runner_has_l4endpoint(const struct run_runner *r)
{
	return r && r->has_l4;
}

static struct runner_param *find_param(struct run_runner *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n_params; i++)
		if (!strcmp(r->params[i].key, key))
			return &r->params[i];
	for (i = 0; i < r->n_params; i++)
		if (!strcmp(r->params[i].info.name, key))
			return &r->params[i];
	return NULL;
}

int run_runner_set_param(struct run_runner *r, const char *key, const char *value)
{
	struct runner_param *p;
	int err;

	if (!r || !key || !value)
		return -EINVAL;
	if (r->started)
		return set_err(r, -EBUSY, "param '%s' cannot change once the gadget runs", key);
	p = find_param(r, key);
	if (!p)
		return set_err(r, -ENOENT, "unknown param '%s'", key);
	err = bpf_gadget_set_param(r->gadget, p->info.name, value);
	if (err < 0) {
		/* the flag as the user wrote it, then what the gadget's type takes */
		set_err(r, err, "--%s: %s", p->info.key, gadget_error(r, err));
		return err == -ENOMEM ? err : -EINVAL;
	}
	p->set = true;
	return 0;
}

/* gadget.yaml's defaults for the params nobody set. */
static int apply_defaults(struct run_runner *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_params; i++) {
		const struct runner_param *p = &r->params[i];
		const struct oci_metadata_param *mp =
			oci_metadata_find_param(r->o.md, p->info.name);

		if (p->set || !mp || !mp->default_value)
			continue;
		err = bpf_gadget_set_param(r->gadget, p->info.name, mp->default_value);
		if (err < 0)
			return set_err(r, err == -ENOMEM ? err : -EINVAL,
				       "gadget.yaml default of param '%s': %s", p->info.name,
				       gadget_error(r, err));
	}
	return 0;
}

static int node_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const struct run_runner *r = ctx;
	int err = base_buf_puts(out, r->o.node_name);

	return err < 0 ? err : 0;
}

static int sink_record(void *ctx, const char *json, size_t len)
{
	struct runner_ds *d = ctx;
	const struct run_runner *r = d->r;

	return r->o.sink.record(r->o.sink.ctx, d->idx, json, len);
}

static int sink_raw(void *ctx, const void *rec, size_t size)
{
	struct runner_ds *d = ctx;
	const struct run_runner *r = d->r;

	return r->o.sink.raw(r->o.sink.ctx, d->idx, rec, size);
}

static int fill_fields(struct runner_ds *d)
{
	size_t i, n = run_pipeline_field_count(d->pipe);

	d->fields = calloc(n ? n : 1, sizeof(*d->fields));
	if (!d->fields)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct run_pipeline_field f;
		struct run_runner_field *o = &d->fields[i];

		if (run_pipeline_field(d->pipe, i, &f) < 0)
			break;
		o->name = f.name;
		o->short_name = f.short_name;
		o->type = f.type;
		o->description = f.description;
		o->visible_json = f.visible_json;
		o->visible_columns = f.visible_columns;
		o->width = (int)f.width;
		o->align_right = f.align_right;
	}
	d->info.fields = d->fields;
	d->info.n_fields = i;
	return 0;
}

static int make_pipeline(struct run_runner *r, struct runner_ds *d)
{
	bool raw = r->o.sink.raw != NULL;
	bool sink = r->o.sink.record != NULL && !raw;
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = r->o.output,
		.fields = r->o.fields,
		.filters = r->o.filters,
		.n_filters = r->o.n_filters,
		.sort = r->o.sort,
		.max_entries = r->o.max_entries,
		.out_fd = sink || raw ? -1 : r->o.out_fd,
		.clear_screen = r->o.clear_screen && d->ds->type == BPF_GADGET_DS_MAPITER,
		.no_header = r->o.no_header,
		.errbuf = r->o.errbuf,
		.errbuf_len = r->o.errbuf_len,
		.record_fn = sink ? sink_record : NULL,
		.record_ctx = d,
		.raw_fn = raw ? sink_raw : NULL,
		.raw_ctx = d,
	};
	const struct bpf_layout *l = d->ds->layout;
	int err;

	err = run_pipeline_new(l, d->info.md, &po, &d->pipe);
	if (err >= 0 && r->o.node_name && *r->o.node_name) {
		struct run_column_def def = {
			.name = "k8s.node",
			.description = "Kubernetes node the record comes from",
			.width = NODE_COLUMN_WIDTH,
			.text = node_text,
			.source = RUN_COLUMN_SOURCE_CONSTANT,
			.ctx = r,
		};

		err = run_pipeline_add_column(d->pipe, &def);
	}
	/*
	 * Without a runtime the columns stay in JSON (with empty values, so
	 * the output has one shape) but leave the table alone.
	 */
	if (err >= 0 && r->o.enrich && d->has_mntns)
		err = run_enrich_add_columns(r->o.enrich, d->pipe, l,
					     r->o.coll || r->o.show_enrich_columns, r->o.k8s);
	if (err >= 0 && r->o.k8s)
		err = run_enrich_add_endpoint_columns(d->pipe, r->o.k8s);
	if (err >= 0)
		err = run_derived_new(d->pipe, d->ds->name, d->ds->type == BPF_GADGET_DS_TRACER, l,
				      d->info.md, &d->derived, r->o.errbuf, r->o.errbuf_len);
	if (err >= 0)
		err = run_pipeline_prepare(d->pipe);
	if (err >= 0)
		err = fill_fields(d);
	if (err < 0 && r->o.errbuf && r->o.errbuf_len && !r->o.errbuf[0])
		set_err(r, err, "data source '%s': %s", d->ds->name, strerror(-err));
	return err;
}

/* Keeps the run's mount namespace filter in step with the selected containers. */
static void on_container(void *userdata, enum cri_collection_event ev,
			 const struct cri_container *ct)
{
	struct run_runner *r = userdata;
	bool add = ev == CRI_COLLECTION_ADDED;
	int err;

	if (!run_selector_match(r->o.selector, ct))
		return;
	err = add ? bpf_gadget_mntns_filter_add(r->gadget, ct->mntns)
		  : bpf_gadget_mntns_filter_remove(r->gadget, ct->mntns);
	if (err < 0) {
		/* nobody to return this to: the container's events go missing */
		char msg[512];

		snprintf(msg, sizeof(msg), "%s: container %s: %s", bpf_gadget_name(r->gadget),
			 ct->name, gadget_error(r, err));
		base_log_debug("runner: %s", msg);
		if (r->o.problem)
			r->o.problem(r->o.problem_ctx, msg);
		return;
	}
	base_log_debug("runner: %s: filter %s mntns %llu: container %s (%.12s) of pod %s/%s",
		       bpf_gadget_name(r->gadget), add ? "+" : "-", (unsigned long long)ct->mntns,
		       ct->name, ct->id, ct->pod_namespace, ct->pod_name);
}

static bool iter_per_netns(const struct bpf_gadget_ds *ds);

/* Socket filters and socket iterators see only the namespaces the run gives them. */
static bool netns_scoped(const struct run_runner *r)
{
	if (bpf_gadget_socket_prog_count(r->gadget))
		return true;
	for (size_t i = 0; i < r->n_ds; i++)
		if (r->ds[i].ds->type == BPF_GADGET_DS_ITER && iter_per_netns(r->ds[i].ds))
			return true;
	return false;
}

/* After the pipelines, before load: the filter replaces the gadget's map at load. */
static int setup_filter(struct run_runner *r)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int err;

	if (!r->o.selector || run_selector_empty(r->o.selector))
		return 0;
	if (!r->o.coll)
		return set_err(r, -ENODEV, "selecting containers needs a container runtime");
	if (r->o.host) {
		r->select_here = true;
		return 0;
	}
	err = bpf_gadget_mntns_filter_enable(r->gadget);
	if (err == -EOPNOTSUPP && netns_scoped(r)) {
		/* the namespaces it runs in select; records are checked here too */
		r->select_here = true;
		return 0;
	}
	if (err < 0)
		return set_err(r, err == -ENOMEM ? err : -EOPNOTSUPP,
			       "%s cannot filter by container: %s", bpf_gadget_name(r->gadget),
			       gadget_error(r, err));
	if (!bpf_obj_get_info_by_fd(bpf_gadget_mntns_filter_fd(r->gadget), &info, &len))
		base_log_debug("runner: %s: mount namespace filter map id %u",
			       bpf_gadget_name(r->gadget), info.id);
	/* replays the containers already running as ADDED */
	r->filter_sub = cri_collection_subscribe(r->o.coll, on_container, r);
	if (r->filter_sub < 0)
		return set_err(r, r->filter_sub, "watching containers: %s",
			       strerror(-r->filter_sub));
	return 0;
}

static struct runner_ds *ds_named(struct run_runner *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_ds; i++)
		if (!strcmp(r->ds[i].ds->name, name))
			return &r->ds[i];
	return NULL;
}

static bool has_column(const struct runner_ds *d, const char *name)
{
	const struct run_column *cols = run_pipeline_columns(d->pipe);
	size_t i, n = run_pipeline_n_columns(d->pipe);

	for (i = 0; i < n; i++)
		if (!strcmp(cols[i].name, name))
			return true;
	return false;
}

/* Every --annotate names a data source and field the gadget has. */
static int check_annotations(struct run_runner *r)
{
	size_t i;

	for (i = 0; i < r->o.n_annotate; i++) {
		struct run_annotation a;
		const struct runner_ds *d;
		char why[512];

		if (run_annotate_parse(r->o.annotate[i], &a, why, sizeof(why)) < 0)
			return set_err(r, -EINVAL, "%s", why);
		d = ds_named(r, a.ds);
		if (!d)
			return set_err(r, -EINVAL,
				       "--annotate %s: the gadget has no data source '%s'",
				       r->o.annotate[i], a.ds);
		if (a.field[0] && !has_column(d, a.field))
			return set_err(r, -EINVAL,
				       "--annotate %s: data source '%s' has no field '%s' (see "
				       "--help for its fields)",
				       r->o.annotate[i], a.ds, a.field);
	}
	return 0;
}

static int observe_metrics(void *ctx, const void *rec, size_t size)
{
	return run_metrics_ds_record(ctx, rec, size);
}

/* The data sources named by --otel-metrics-name export into the registry. */
static int setup_metrics(struct run_runner *r)
{
	size_t i;

	for (i = 0; i < r->o.n_metrics_names; i++) {
		const char *text = r->o.metrics_names[i], *name;
		struct run_metrics_ds *md;
		struct runner_ds *d;
		char ds[256], why[512];
		int err;

		if (run_annotate_metrics_name(text, ds, sizeof(ds), &name, why, sizeof(why)) < 0)
			return set_err(r, -EINVAL, "%s", why);
		d = ds_named(r, ds);
		if (!d)
			return set_err(r, -EINVAL,
				       "--otel-metrics-name %s: the gadget has no data source '%s'",
				       text, ds);
		if (!run_metrics_wanted(d->info.md))
			return set_err(r, -EINVAL,
				       "--otel-metrics-name %s: data source '%s' does not collect "
				       "metrics (annotate it: --annotate %s:metrics.collect=true)",
				       text, ds, ds);
		if (!r->o.metrics)
			return set_err(r, -EINVAL,
				       "--otel-metrics-name %s: nothing exports metrics here",
				       text);
		err = run_metrics_add_ds(r->o.metrics, name, d->pipe, d->info.md, why, sizeof(why),
					 &md);
		if (err < 0)
			return set_err(r, err, "data source '%s': %s", ds,
				       err == -ENOMEM ? strerror(ENOMEM) : why);
		run_pipeline_set_observer(d->pipe, observe_metrics, md);
	}
	return 0;
}

int run_runner_prepare(struct run_runner *r)
{
	size_t i;
	int err;

	if (!r)
		return -EINVAL;
	if (r->prepared)
		return -EBUSY;
	if (r->o.errbuf && r->o.errbuf_len)
		r->o.errbuf[0] = '\0';
	if (r->o.n_filters > RUN_RUNNER_MAX_FILTERS)
		return set_err(r, -EINVAL, "too many filters (at most %d)", RUN_RUNNER_MAX_FILTERS);
	if (r->o.selector && !run_selector_empty(r->o.selector) && !r->o.coll)
		return set_err(r, -ENODEV, "selecting containers needs a container runtime");
	err = apply_defaults(r);
	if (err < 0)
		return err;
	for (i = 0; i < r->n_ds; i++) {
		err = make_pipeline(r, &r->ds[i]);
		if (err < 0)
			return err;
	}
	err = check_annotations(r);
	if (err >= 0)
		err = setup_metrics(r);
	if (err < 0)
		return err;
	err = setup_filter(r);
	if (err < 0)
		return err;
	r->prepared = true;
	return 0;
}

static struct runner_ds *ds_of(struct run_runner *r, const struct bpf_gadget_ds *ds)
{
	size_t i;

	for (i = 0; i < r->n_ds; i++)
		if (r->ds[i].ds == ds)
			return &r->ds[i];
	return NULL;
}

/*
 * host with a selector: host processes and the selected containers pass;
 * records without a mount namespace field cannot be told apart and pass too.
 */
static bool selected_here(struct run_runner *r, const struct runner_ds *d, const void *data,
			  size_t size)
{
	const struct cri_container *ct;
	uint64_t mntns;

	if (!r->select_here || !d->has_mntns || (size_t)d->mntns_off + sizeof(mntns) > size)
		return true;
	memcpy(&mntns, (const char *)data + d->mntns_off, sizeof(mntns));
	ct = run_enrich_lookup(r->o.enrich, mntns);
	return !ct || run_selector_match(r->o.selector, ct);
}

static int on_record(const struct bpf_gadget_ds *ds, const void *data, size_t size, void *ctx)
{
	struct run_runner *r = ctx;
	struct runner_ds *d = r->n_ds == 1 && r->ds[0].ds == ds ? &r->ds[0] : ds_of(r, ds);
	int err;

	if (!d || !selected_here(r, d, data, size))
		return 0;
	err = run_pipeline_record(d->pipe, data, size);
	if (err < 0)
		r->cb_err = err;
	return err;
}

static int on_batch(const struct bpf_gadget_ds *ds, const void *const *records, size_t n,
		    size_t record_size, void *ctx)
{
	struct run_runner *r = ctx;
	struct runner_ds *d = ds_of(r, ds);
	const void **kept;
	size_t k, m = 0;
	int err;

	if (!d)
		return 0;
	if (!r->select_here || !d->has_mntns || !n) {
		err = run_pipeline_batch(d->pipe, records, n, record_size);
	} else {
		kept = calloc(n, sizeof(*kept));
		if (!kept)
			return -ENOMEM;
		for (k = 0; k < n; k++)
			if (selected_here(r, d, records[k], record_size))
				kept[m++] = records[k];
		err = run_pipeline_batch(d->pipe, kept, m, record_size);
		free(kept);
	}
	if (err < 0)
		r->cb_err = err;
	return err;
}

static int flush_all(struct run_runner *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_ds; i++) {
		err = run_pipeline_flush(r->ds[i].pipe);
		if (err < 0)
			return set_err(r, err, "writing records: %s", strerror(-err));
	}
	return 0;
}

/* After a batch of data source d went out: the sink learns the fetch ended. */
static int fetch_done(struct run_runner *r, struct runner_ds *d)
{
	d->fetches++;
	if ((!r->o.sink.record && !r->o.sink.raw) || !r->o.sink.fetch_end)
		return 0;
	return r->o.sink.fetch_end(r->o.sink.ctx, d->idx, d->fetches);
}

/* Why a drain or fetch failed: a callback's own error, or the gadget's. */
static int run_err(struct run_runner *r, int err, const char *what, const char *ds)
{
	if (err == r->cb_err)
		return set_err(r, err, "%s '%s': %s", what, ds, strerror(-err));
	return set_err(r, err, "%s '%s': %s", what, ds, gadget_error(r, err));
}

/* ---- network namespaces ---- */

/*
 * The host's network namespace: init's.  The agent runs in a pod with the
 * host's pids but a network namespace of its own; ig on a host sees the
 * same namespace either way.  Without access to init's, ig's own.
 */
static const char *host_netns_path(void)
{
	return access("/proc/1/ns/net", R_OK) == 0 ? "/proc/1/ns/net" : "/proc/self/ns/net";
}

static bool selects_all(const struct run_runner *r)
{
	return !r->o.selector || run_selector_empty(r->o.selector);
}

/* The host's namespace is covered without a selector, or with --host. */
static bool wants_host(const struct run_runner *r)
{
	return selects_all(r) || r->o.host;
}

static bool wants_container(const struct run_runner *r, const struct cri_container *ct)
{
	return ct->netns && ct->pid && (selects_all(r) || run_selector_match(r->o.selector, ct));
}

static void net_problem(struct run_runner *r, const char *what, int err)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s: %s", bpf_gadget_name(r->gadget), what,
		 gadget_error(r, err));
	base_log_debug("runner: %s", msg);
	if (r->o.problem)
		r->o.problem(r->o.problem_ctx, msg);
}

/* Socket filters follow the selected containers' network namespaces. */
/* Removes id from the attached containers; false if it was not there. */
static bool net_id_take(struct run_runner *r, const char *id)
{
	for (size_t i = 0; i < r->n_net_ids; i++) {
		if (strcmp(r->net_ids[i], id))
			continue;
		free(r->net_ids[i]);
		r->net_ids[i] = r->net_ids[--r->n_net_ids];
		return true;
	}
	return false;
}

static int net_id_add(struct run_runner *r, const char *id)
{
	char *copy;

	if (r->n_net_ids == r->cap_net_ids) {
		size_t cap = r->cap_net_ids ? r->cap_net_ids * 2 : 16;
		char **p = realloc(r->net_ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->net_ids = p;
		r->cap_net_ids = cap;
	}
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	r->net_ids[r->n_net_ids++] = copy;
	return 0;
}

static void on_container_net(void *userdata, enum cri_collection_event ev,
			     const struct cri_container *ct)
{
	struct run_runner *r = userdata;
	char path[64], what[300];
	int err;

	if (!wants_container(r, ct))
		return;
	if (ev == CRI_COLLECTION_REMOVED) {
		if (net_id_take(r, ct->id))
			bpf_gadget_netns_detach(r->gadget, ct->netns);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%u/ns/net", ct->pid);
	err = bpf_gadget_netns_attach(r->gadget, ct->netns, path);
	if (err == -ENOENT)
		return; /* gone already: its REMOVED follows */
	if (err >= 0) {
		err = net_id_add(r, ct->id);
		if (err < 0)
			bpf_gadget_netns_detach(r->gadget, ct->netns);
	}
	if (err < 0) {
		snprintf(what, sizeof(what), "container %.200s", ct->name);
		net_problem(r, what, err);
		return;
	}
	base_log_debug("runner: %s: socket filters in netns %llu: container %s of pod %s/%s",
		       bpf_gadget_name(r->gadget), (unsigned long long)ct->netns, ct->name,
		       ct->pod_namespace, ct->pod_name);
}

static int start_socket_filters(struct run_runner *r)
{
	uint64_t host;
	int err;

	if (!bpf_gadget_socket_prog_count(r->gadget))
		return 0;
	if (wants_host(r)) {
		err = bpf_netns_id(host_netns_path(), &host);
		if (!err)
			err = bpf_gadget_netns_attach(r->gadget, host, host_netns_path());
		if (err < 0)
			return set_err(r, err, "%s", gadget_error(r, err));
	}
	if (!r->o.coll)
		return 0;
	/* replays the containers already running as ADDED */
	r->net_sub = cri_collection_subscribe(r->o.coll, on_container_net, r);
	if (r->net_sub < 0)
		return set_err(r, r->net_sub, "watching containers: %s", strerror(-r->net_sub));
	return 0;
}

/* Gadgets reading gadget_sockets get the process's socket enricher's map. */
static int setup_enricher(struct run_runner *r)
{
	char why[512] = "";
	int err;

	if (!bpf_gadget_has_map(r->gadget, "gadget_sockets"))
		return 0;
	err = bpf_socket_enricher_get(&r->enricher, why, sizeof(why));
	if (err < 0)
		return set_err(r, err, "%s", why[0] ? why : strerror(-err));
	err = bpf_gadget_map_reuse(r->gadget, "gadget_sockets",
				   bpf_socket_enricher_map_fd(r->enricher));
	if (err < 0)
		return set_err(r, err, "%s", gadget_error(r, err));
	return 0;
}

/* iter/tcp, iter/udp and friends list one network namespace: the one they start in. */
static bool iter_per_netns(const struct bpf_gadget_ds *ds)
{
	static const char *const kinds[] = {"tcp", "udp", "unix", "ipv6_route", "netlink"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (ds->iter_kind && !strcmp(ds->iter_kind, kinds[i]))
			return true;
	return false;
}

#define RUNNER_MAX_ITER_NETNS 1024

struct netns_list {
	struct run_runner *r;
	uint64_t ids[RUNNER_MAX_ITER_NETNS];
	char *paths[RUNNER_MAX_ITER_NETNS];
	size_t n;
};

static int netns_list_add(struct netns_list *l, uint64_t id, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return 0;
	if (l->n >= RUNNER_MAX_ITER_NETNS)
		return 1;
	l->paths[l->n] = strdup(path);
	if (!l->paths[l->n])
		return -ENOMEM;
	l->ids[l->n++] = id;
	return 0;
}

static int netns_list_cb(void *userdata, const struct cri_container *ct)
{
	struct netns_list *l = userdata;
	char path[64];

	if (!wants_container(l->r, ct))
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/ns/net", ct->pid);
	return netns_list_add(l, ct->netns, path) != 0;
}

static int iter_netns(struct run_runner *r, struct runner_ds *d)
{
	struct netns_list *l = calloc(1, sizeof(*l));
	uint64_t host;
	int err = 0;

	if (!l)
		return -ENOMEM;
	l->r = r;
	if (wants_host(r) && !bpf_netns_id(host_netns_path(), &host))
		err = netns_list_add(l, host, host_netns_path());
	if (err >= 0 && r->o.coll)
		cri_collection_foreach(r->o.coll, netns_list_cb, l);
	if (err >= 0)
		err = bpf_gadget_iter_run_netns(r->gadget, d->ds, (const char *const *)l->paths,
						l->n, on_batch, r);
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	/* nothing selected: an empty snapshot, not the caller's namespace */
	if (!l->n && err >= 0)
		err = on_batch(d->ds, NULL, 0, d->ds->layout->size, r);
	free(l);
	return err;
}

/* Snapshots: run once, like a 'ps'. */
static int run_iters(struct run_runner *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_ds; i++) {
		struct runner_ds *d = &r->ds[i];

		if (d->ds->type != BPF_GADGET_DS_ITER)
			continue;
		r->cb_err = 0;
		if (iter_per_netns(d->ds))
			err = iter_netns(r, d);
		else
			err = bpf_gadget_iter_run(r->gadget, d->ds, on_batch, r);
		if (err < 0)
			return run_err(r, err, "running", d->ds->name);
		err = flush_all(r);
		if (err >= 0)
			err = fetch_done(r, d);
		if (err < 0)
			return err;
	}
	return 0;
}

int run_runner_start(struct run_runner *r)
{
	int err;

	if (!r || !r->prepared)
		return -EINVAL;
	if (r->started)
		return -EBUSY;
	if (r->o.errbuf && r->o.errbuf_len)
		r->o.errbuf[0] = '\0';
	bpf_gadget_set_record_fn(r->gadget, on_record, r);
	err = setup_enricher(r);
	if (err < 0)
		return err;
	err = bpf_gadget_load(r->gadget);
	if (err < 0)
		return set_err(r, err, "%s", gadget_error(r, err));
	r->started = true;
	err = bpf_gadget_attach(r->gadget);
	if (err < 0)
		return set_err(r, err, "%s", gadget_error(r, err));
	if (bpf_gadget_attach_warning(r->gadget)) {
		char msg[700];

		snprintf(msg, sizeof(msg), "%s: left out: %s", bpf_gadget_name(r->gadget),
			 bpf_gadget_attach_warning(r->gadget));
		base_log_debug("runner: %s", msg);
		if (r->o.problem)
			r->o.problem(r->o.problem_ctx, msg);
	}
	err = start_socket_filters(r);
	if (err < 0)
		return err;
	if (r->has_iter)
		return run_iters(r);
	/* the tables of tracers show their header as soon as the gadget runs */
	for (size_t i = 0; i < r->n_ds; i++) {
		if (r->ds[i].ds->type != BPF_GADGET_DS_TRACER)
			continue;
		err = run_pipeline_begin(r->ds[i].pipe);
		if (err < 0)
			return set_err(r, err, "writing records: %s", strerror(-err));
	}
	return flush_all(r);
}

int run_runner_fd(const struct run_runner *r)
{
	return r && r->has_tracer ? bpf_gadget_poll_fd(r->gadget) : -1;
}

int run_runner_consume(struct run_runner *r)
{
	int err;

	if (!r || !r->started)
		return -EINVAL;
	if (r->enricher)
		bpf_socket_enricher_tick(r->enricher);
	if (r->has_tracer) {
		r->cb_err = 0;
		err = bpf_gadget_consume(r->gadget);
		if (err < 0) {
			flush_all(r);
			return run_err(r, err, "reading", bpf_gadget_name(r->gadget));
		}
	}
	return flush_all(r);
}

int run_runner_fetch(struct run_runner *r)
{
	size_t i;
	int err;

	if (!r || !r->started)
		return -EINVAL;
	for (i = 0; i < r->n_ds; i++) {
		struct runner_ds *d = &r->ds[i];

		if (d->ds->type != BPF_GADGET_DS_MAPITER)
			continue;
		r->cb_err = 0;
		err = bpf_gadget_mapiter_fetch(r->gadget, d->ds, true, on_batch, r);
		if (err < 0)
			return run_err(r, err, "fetching", d->ds->name);
		err = flush_all(r);
		if (err >= 0)
			err = fetch_done(r, d);
		if (err < 0)
			return err;
	}
	return 0;
}

bool run_runner_has_tracer(const struct run_runner *r)
{
	return r && r->has_tracer;
}

bool run_runner_has_mapiter(const struct run_runner *r)
{
	return r && r->has_mapiter;
}

bool run_runner_done(const struct run_runner *r)
{
	return r && r->started && !r->has_tracer && !r->has_mapiter;
}

uint64_t run_runner_ds_lost(const struct run_runner *r, size_t ds)
{
	uint64_t lost = 0;

	if (!r || ds >= r->n_ds || r->ds[ds].ds->type != BPF_GADGET_DS_TRACER || !r->started)
		return 0;
	if (bpf_gadget_lost(r->gadget, r->ds[ds].ds, &lost) < 0)
		return 0;
	return lost;
}

uint64_t run_runner_lost(const struct run_runner *r)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; r && i < r->n_ds; i++)
		sum += run_runner_ds_lost(r, i);
	return sum;
}

uint64_t run_runner_records(const struct run_runner *r)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; r && i < r->n_ds; i++)
		sum += run_pipeline_matched(r->ds[i].pipe);
	return sum;
}

size_t run_runner_ds_count(const struct run_runner *r)
{
	return r ? r->n_ds : 0;
}

const struct run_runner_ds_info *run_runner_ds(const struct run_runner *r, size_t i)
{
	return r && i < r->n_ds ? &r->ds[i].info : NULL;
}

struct run_pipeline *run_runner_ds_pipeline(struct run_runner *r, size_t i)
{
	return r && i < r->n_ds ? r->ds[i].pipe : NULL;
}

size_t run_runner_param_count(const struct run_runner *r)
{
	return r ? r->n_params : 0;
}

const struct run_runner_param_info *run_runner_param(const struct run_runner *r, size_t i)
{
	return r && i < r->n_params ? &r->params[i].info : NULL;
}

void run_runner_unfollow(struct run_runner *r)
{
	if (r && r->o.coll && r->filter_sub >= 0)
		cri_collection_unsubscribe(r->o.coll, r->filter_sub);
	if (r && r->o.coll && r->net_sub >= 0)
		cri_collection_unsubscribe(r->o.coll, r->net_sub);
	if (r) {
		r->filter_sub = -1;
		r->net_sub = -1;
	}
}

struct run_runner *run_runner_free(struct run_runner *r)
{
	size_t i;

	if (!r)
		return NULL;
	run_runner_unfollow(r);
	for (i = 0; i < BPF_GADGET_MAX_DS; i++) {
		r->ds[i].pipe = run_pipeline_free(r->ds[i].pipe);
		free(r->ds[i].fields);
		r->ds[i].derived = run_derived_free(r->ds[i].derived);
	}
	for (i = 0; i < r->n_params; i++)
		free(r->params[i].key);
	bpf_gadget_free(r->gadget);
	bpf_socket_enricher_put(r->enricher);
	for (i = 0; i < r->n_net_ids; i++)
		free(r->net_ids[i]);
	free(r->net_ids);
	free(r);
	return NULL;
}
