/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One gadget run: what `ig run` does in-process and what the agent does for
 * each run and each detached instance.  A runner opens a gadget (an ELF in
 * memory or on disk plus its gadget.yaml), applies params, builds one record
 * pipeline per data source (filters, enrichment, fields, format), keeps the
 * run's mount namespace filter in step with the selected containers, then
 * loads and attaches it.
 *
 * A runner does not own an event loop: its owner polls run_runner_fd()
 * and calls run_runner_consume() on readiness and on a drain timer, and
 * run_runner_fetch() on the map fetch timer.  Many runners may share one
 * loop (the agent) and one container collection; nothing here blocks, and
 * nothing here is thread-safe: one thread owns a runner and the collection.
 *
 * Output goes either to a file descriptor in any run_output format (ig), or
 * record by record to a callback as JSON objects (the agent's RecordBatch).
 */
#ifndef RUN_RUNNER_H
#define RUN_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/gadget.h"
#include "run/pipeline.h"
#include "run/selector.h"

struct run_enrich;
struct cri_collection;
struct k8s_enrich;
struct oci_metadata;
struct run_runner;

/* Params and -F filters one run takes at most. */
#define RUN_RUNNER_MAX_PARAMS  BPF_GADGET_MAX_PARAMS
#define RUN_RUNNER_MAX_FILTERS RUN_PIPELINE_MAX_FILTERS

/* Callbacks for RUN_RUNNER_SINK_CALLBACK output. */
struct run_runner_sink {
	/*
	 * One record of data source ds (index as in run_runner_ds()), a JSON
	 * object without a newline, exactly a line of `ig run -o json`.  json
	 * is borrowed for the call.  A negative return stops the runner's
	 * current consume/fetch and is passed back by it.
	 */
	int (*record)(void *ctx, size_t ds, const char *json, size_t len);
	/*
	 * Map iterators and snapshots: the records of fetch number `fetch`
	 * (1, 2, ...) of data source ds have all been given to record().
	 * Called for empty fetches too.  May be NULL.
	 */
	int (*fetch_end)(void *ctx, size_t ds, uint64_t fetch);
	/*
	 * Instead of record: each record that passes as the gadget's own bytes
	 * (run_pipeline_opts.raw_fn), for a client that renders it elsewhere;
	 * run_runner_ds_pipeline() gives what describes and formats it.
	 */
	int (*raw)(void *ctx, size_t ds, const void *rec, size_t size);
	void *ctx;
};

struct run_runner_opts {
	size_t sz; /* sizeof(struct run_runner_opts) */

	/* The gadget: program from memory (program/program_len) or a file (elf_path). */
	const char *name; /* for messages and the BPF object: "trace_open" */
	const void *program;
	size_t program_len;
	const char *elf_path;
	const struct oci_metadata *md; /* gadget.yaml; borrowed, may be NULL */

	/* Pipeline options, as run_pipeline_opts (fields/filters/sort/max_entries). */
	enum run_output output;
	const char *fields;
	const char *const *filters;
	size_t n_filters;
	const char *sort;
	size_t max_entries;
	bool no_header;
	bool clear_screen; /* columns: clear the terminal before each map fetch */
	int out_fd;	   /* output without a sink */
	/*
	 * When sink.record (or sink.raw) is set, records go there and
	 * output/out_fd are ignored.
	 */
	struct run_runner_sink sink;

	/* Containers; every pointer is borrowed and must outlive the runner. */
	const struct run_selector *selector; /* NULL or empty: everything */
	bool host;			     /* with a selector: host processes pass too */
	struct cri_collection *coll;	     /* NULL: no runtime (a selector is then -ENODEV) */
	struct run_enrich *enrich;	     /* runtime.* and k8s.* columns; may be NULL */
	struct k8s_enrich *k8s;		     /* podLabels, owner, endpoints; may be NULL */
	const char *node_name;		     /* k8s.node column when set */

	uint32_t ring_min_bytes; /* grow tracer ring buffers to this; 0 = default */

	/*
	 * Metrics (run/metrics.h): each "DS:NAME" of metrics_names
	 * (--otel-metrics-name) exports data source DS into the registry
	 * metrics (borrowed) under the scope NAME; DS must be annotated
	 * metrics.collect: true.  annotate: the --annotate values the caller
	 * applied to md (run_annotate_apply()), checked here against the
	 * gadget's data sources and fields.
	 */
	struct run_metrics *metrics;
	const char *const *metrics_names;
	size_t n_metrics_names;
	const char *const *annotate;
	size_t n_annotate;

	char *errbuf; /* one-line reason for a failure of run_runner_new/_start */
	size_t errbuf_len;
	/*
	 * Something went wrong outside any call that could return it: a
	 * container the filter map could not take (its events go missing).
	 * The program decides how to report msg; NULL: only a debug line.
	 */
	void (*problem)(void *ctx, const char *msg);
	void *problem_ctx;

	/*
	 * Describing only (ig run --help): the k8s.* columns count as shown in
	 * the table even without a container collection.
	 */
	bool show_enrich_columns;
};

/*
 * The life of a runner:
 *
 *   run_runner_new()        opens the gadget; its params are known
 *   run_runner_set_param()  any number of times
 *   run_runner_prepare()    gadget.yaml defaults for params not set, the
 *                             pipelines, the container filter; the data
 *                             sources and fields are known (GetGadgetInfo,
 *                             ig run --help); nothing is in the kernel yet
 *   run_runner_start()      load and attach
 *   run_runner_consume() / _fetch() from the owner's loop
 *   run_runner_free()
 *
 * The opts strings and objects are borrowed and must outlive the runner.
 * Failures return -errno with a one-line reason in opts->errbuf.
 */

/* -ENOEXEC for a gadget that does not open, -ENOMEM. */
int run_runner_new(const struct run_runner_opts *opts, struct run_runner **ret);
/*
 * Frees the runner.  Without run_runner_unfollow() first, it must be called
 * from the thread that runs the container collection (opts.coll).
 */
struct run_runner *run_runner_free(struct run_runner *r);
/*
 * Stops following the container collection: the filter map keeps the
 * containers it has.  Call it from the collection's thread before handing
 * the runner to another thread to free: closing a loaded gadget's links
 * waits for the kernel, and a callback must not find the runner half freed.
 */
void run_runner_unfollow(struct run_runner *r);

/*
 * Before run_runner_prepare(): takes every option of opts again except the
 * gadget (name, program, elf_path, md) and ring_min_bytes, which only
 * run_runner_new() reads.  For a caller that learns its options from the
 * gadget's params (ig run parses its command line after opening the
 * gadget).  -EBUSY once prepared.
 */
int run_runner_set_opts(struct run_runner *r, const struct run_runner_opts *opts);

/*
 * True when a data source has a gadget_l4endpoint_t field: the run can use
 * services and nodes in opts.k8s (known from run_runner_new() on).
 */
bool run_runner_has_l4endpoint(const struct run_runner *r);

/*
 * key: the param's key (flag name without dashes, "failed") or its eBPF
 * variable name.  -ENOENT for a key the gadget does not have, -EINVAL for a
 * value its type does not take.
 */
int run_runner_set_param(struct run_runner *r, const char *key, const char *value);

/*
 * -EINVAL for a bad field list, filter or sort key, -ENODEV for a selector
 * without a container collection, -EOPNOTSUPP for a selector on a gadget
 * that cannot filter by container.
 */
int run_runner_prepare(struct run_runner *r);

/* Loads and attaches; snapshots (iterators) run once here.  errbuf says why not. */
int run_runner_start(struct run_runner *r);

/* Poll for EPOLLIN (tracers); -1 when the gadget has no tracer. */
int run_runner_fd(const struct run_runner *r);
/* Reads what the ring buffers hold and flushes output.  0 or -errno. */
int run_runner_consume(struct run_runner *r);
/* Map iterators: one fetch of each (read and clear), then flush.  0 or -errno. */
int run_runner_fetch(struct run_runner *r);

/*
 * The map fetch interval the gadget asks for when the user gives none:
 * gadget.yaml's paramDefaults "operator.oci.ebpf.map-fetch-interval", as
 * Inspektor Gadget names it ("0": no periodic fetch, the maps are read
 * when the run stops).  0 with *ms set, -ENOENT when gadget.yaml says
 * nothing, -EINVAL for a value that is not a duration.
 */
int run_runner_fetch_interval(const struct run_runner *r, uint64_t *ms);
/* A map iterator is annotated ebpf.map.flush-on-stop: read it when the run stops. */
bool run_runner_flush_on_stop(const struct run_runner *r);

bool run_runner_has_tracer(const struct run_runner *r);
bool run_runner_has_mapiter(const struct run_runner *r);
/* Snapshot only: nothing left to do after run_runner_start(). */
bool run_runner_done(const struct run_runner *r);

/* Records the kernel could not queue, summed over the tracers. */
uint64_t run_runner_lost(const struct run_runner *r);
/* The same for data source ds alone (0 for anything but a tracer). */
uint64_t run_runner_ds_lost(const struct run_runner *r, size_t ds);
/* Records that passed the filters and were output. */
uint64_t run_runner_records(const struct run_runner *r);

/* Describing a run (ig run --help, GadgetInfo). */
enum run_runner_ds_type {
	RUN_RUNNER_DS_TRACER,
	RUN_RUNNER_DS_MAPITER,
	RUN_RUNNER_DS_ITER,
};

struct run_runner_field {
	const char *name;	/* dotted, as in JSON: "proc.comm" */
	const char *short_name; /* column header before upper-casing: "comm" */
	const char *type;	/* as ig run --help shows it: "uint32", "string", "errno" */
	const char *description;
	bool visible_json;
	bool visible_columns;
	int width; /* 0 = unlimited */
	bool align_right;
};

struct run_runner_ds_info {
	const char *name;
	enum run_runner_ds_type type;
	const struct oci_metadata_ds *md;      /* annotations; may be NULL */
	const struct run_runner_field *fields; /* after the fields option, default order */
	size_t n_fields;
};

struct run_runner_param_info {
	/*
	 * Flag name: gadget.yaml's key, else Inspektor Gadget's name for the
	 * well-known filter and stack params (pid, comm, collect-ustack), else
	 * the variable's name ("target_syscall").
	 */
	const char *key;
	const char *name; /* eBPF variable: "targ_failed" */
	const char *description;
	const char *default_value;
	const char *type_name; /* BTF type: "bool", "gadget_pid" */
	int type;	       /* enum bpf_gadget_param_type */
	/* BPF_GADGET_PARAM_ENUM: the accepted names */
	const char *const *values;
	size_t n_values;
	const char *alias;	/* gadget.yaml's one-letter short flag ("k" for -k), or NULL */
	const char *compat_key; /* the flag earlier ig versions derived ("failed"), or NULL */
};

size_t run_runner_ds_count(const struct run_runner *r);
/*
 * The pipeline of data source i, prepared (run/remote.h describes and
 * encodes its records; run_pipeline_json() formats one); NULL before
 * run_runner_prepare().
 */
struct run_pipeline *run_runner_ds_pipeline(struct run_runner *r, size_t i);
const struct run_runner_ds_info *run_runner_ds(const struct run_runner *r, size_t i);
size_t run_runner_param_count(const struct run_runner *r);
const struct run_runner_param_info *run_runner_param(const struct run_runner *r, size_t i);

#endif /* RUN_RUNNER_H */
