/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The record pipeline: what happens to a gadget's records between the ring
 * buffer (or a map iterator) and the user.
 *
 *   record -> filters (-F) -> [batches: sort, limit] -> format -> out_fd
 *
 * A pipeline is built from the record layout found in BTF (bpf/layout.h) and
 * the data source's gadget.yaml annotations (oci/metadata.h).  Every leaf
 * field becomes a column named by its dotted path ("proc.comm").  Fields of
 * the gadget API's special types get a human-readable sibling: "error_raw"
 * (gadget_errno) adds "error" = "ENOENT" and hides "error_raw" by default; a
 * gadget_uid "uid" adds "user" = "root".  Callers add computed columns (the
 * container and Kubernetes context) with run_pipeline_add_column().
 *
 * Output formats:
 *   columns     a header of upper-case names, then one line per record; each
 *               cell is cut to its width with "…" (the last one is neither cut
 *               nor padded); batches get a header each, separated by an empty
 *               line or preceded by a screen clear
 *   json        one object per line, nested by the dotted names; a batch is
 *               one array on one line
 *   jsonpretty  the same indented by two spaces; a batch is one array
 *   yaml        one document per record ("---"); a batch is one document
 *               holding a list
 * A value the pipeline cannot give (a column callback returning 1) is null
 * in JSON and YAML and empty in columns.
 *
 * Histograms: when the selected fields of a batch (a map iterator's fetch)
 * include an array of log2 slots, of the gadget API's type
 * gadget_histogram_slot__u32/__u64, columns output draws every record as a
 * histogram instead of a table row: the other selected fields on one line
 * ("dev=8388608 cmd_flags=1"), then under each histogram field's name the
 * slots from the first non-empty to the last, "lo -> hi : count |***|", as
 * bcc's tools do (run_render_log2_hist(); the unit from the field's
 * metrics.unit annotation).  Records are separated by an empty line, an
 * empty batch prints nothing.  Streamed records, JSON and YAML keep the
 * array.
 *
 * Records may be shorter than the layout (gadgets submit only the used part
 * of a trailing buffer): missing numbers read as 0, strings stop at the end
 * of the record.  Nothing is ever read past the size given.
 *
 * Output is buffered and written to out_fd when the buffer passes 64 KiB and
 * on run_pipeline_flush().  A closed reader shows up as -EPIPE: callers
 * should ignore SIGPIPE.  Or, with record_fn, each record goes to the caller
 * on its own as a json line without the newline (the agent's RecordBatch),
 * formatted in the same reused buffer.
 */
#ifndef RUN_PIPELINE_H
#define RUN_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct bpf_layout;
struct oci_metadata_ds;
struct run_pipeline;

enum run_output {
	RUN_OUTPUT_COLUMNS = 0,
	RUN_OUTPUT_JSON,
	RUN_OUTPUT_JSONPRETTY,
	RUN_OUTPUT_YAML,
};

/* "columns", "json", "jsonpretty" or "yaml"; -EINVAL otherwise. */
int run_output_parse(const char *s, enum run_output *ret);

/* Buffered output is written out once it grows past this. */
#define RUN_PIPELINE_FLUSH_BYTES (64u << 10)
/* Limits on the user's -F / --fields / --sort input. */
#define RUN_PIPELINE_MAX_FILTERS 64
#define RUN_PIPELINE_MAX_EXPR	 4096

struct run_pipeline_opts {
	size_t sz; /* sizeof(struct run_pipeline_opts) */
	enum run_output output;
	/*
	 * --fields: "a,b" is exactly these columns in this order; "+a,-b" adds to
	 * and removes from the default set.  A struct's name ("proc") stands for
	 * its fields; a field may also be named by its last component ("comm")
	 * when no other field has it.  NULL = the default set.
	 */
	const char *fields;
	/*
	 * -F expressions "field OP value", all of which must match, with OP one
	 * of == (or =), !=, <, <=, >, >=, ~ (regex, run/regex.h), !~.  Integer
	 * fields compare as numbers, everything else as the text shown.
	 */
	const char *const *filters;
	size_t n_filters;
	const char *sort;   /* batches: "-reads,file" ('-' = descending); NULL = none */
	size_t max_entries; /* batches: at most this many rows; 0 = all */
	int out_fd;	    /* output goes here */
	bool clear_screen;  /* columns mode: clear the terminal before each batch */
	bool no_header;	    /* columns mode: no header line */
	char *errbuf;	    /* one-line reason for -EINVAL from _new/_add_column/_prepare */
	size_t errbuf_len;
	/*
	 * Instead of out_fd: each record that passes, of a batch too (one by
	 * one, after sort and max_entries), as one compact JSON object without
	 * a newline, exactly a line of json output.  json is borrowed for the
	 * call; the output format is json whatever output says.  A negative
	 * return stops the record or batch and is passed back.
	 */
	int (*record_fn)(void *ctx, const char *json, size_t len);
	void *record_ctx;
	/*
	 * Instead of out_fd or record_fn: each record that passes, of a batch
	 * too (after sort and max_entries), as the gadget's own bytes, for a
	 * client that renders it elsewhere (run/remote.h).  The computed
	 * columns' lookups for the record are still current during the call
	 * (run_pipeline_json() gives its JSON line).  A negative return stops
	 * the record or batch and is passed back.
	 */
	int (*raw_fn)(void *ctx, const void *rec, size_t size);
	void *raw_ctx;
};

/*
 * Where the value of a caller's column comes from, for a client that renders
 * records elsewhere (run/remote.h): the record alone, by the caller's code
 * (it cannot be sent ahead), a constant of the process, the record's
 * container, or the record and its annotations by the run library's own
 * code (run/derived.h), which the client runs too.
 */
enum run_column_source {
	RUN_COLUMN_SOURCE_RECORD = 0,
	RUN_COLUMN_SOURCE_CONSTANT,
	RUN_COLUMN_SOURCE_CONTAINER,
	RUN_COLUMN_SOURCE_DERIVED,
};

/* A column computed by the caller (enrichment: k8s.*, runtime.*). */
struct run_column_def {
	const char *name; /* dotted: "runtime.containerName" */
	const char *description;
	bool hidden;	     /* not in the default set */
	bool hidden_columns; /* not in the default set of columns mode (still in json/yaml) */
	int width;	     /* columns mode; 0 = default */
	bool number;	     /* the text is a decimal number: unquoted in JSON, sorts as one */
	/*
	 * Appends the value as text; returns 0, 1 when there is no value, or a
	 * negative errno that stops the record.
	 */
	int (*text)(const void *record, size_t size, struct base_buf *out, void *ctx);
	void *ctx;
	enum run_column_source source;
};

/*
 * Who is behind a network address in the cluster: the F.k8s.kind, F.k8s.name
 * and F.k8s.namespace of an endpoint field F.  lookup() fills *ret (strings
 * valid until release(ref) is called) and returns 0, or 1 when the address
 * is unknown; release() may be NULL.
 */
struct run_endpoint_k8s {
	const char *kind; /* "Pod", "Service", "Node" */
	const char *name;
	const char *namespace; /* "" for nodes */
	void *ref;
};

struct run_endpoint_resolver {
	int (*lookup)(void *ctx, const char *ip, struct run_endpoint_k8s *ret);
	void (*release)(void *ctx, void *ref);
	void *ctx;
};

/*
 * Returns a new pipeline in *ret (free with run_pipeline_free()).  layout
 * and md are borrowed and must outlive the pipeline; md may be NULL.
 * -EINVAL (with errbuf) on bad options, -ENOMEM.
 */
int run_pipeline_new(const struct bpf_layout *layout, const struct oci_metadata_ds *md,
		     const struct run_pipeline_opts *opts, struct run_pipeline **ret);

/*
 * Adds a caller-computed column; they come first in the default set, in the
 * order added.  The strings are copied.  Before run_pipeline_prepare();
 * -EINVAL for a bad or duplicate name, -EBUSY once prepared.
 */
int run_pipeline_add_column(struct run_pipeline *p, const struct run_column_def *def);
/*
 * The same, placed after the column named after (and after its members
 * when it names a struct), at the end when there is none: a column derived
 * from a field stands beside it, as the stacks of run/stack.h do.
 */
int run_pipeline_add_column_after(struct run_pipeline *p, const struct run_column_def *def,
				  const char *after);

/*
 * Adds F.k8s.kind, F.k8s.name and F.k8s.namespace after every
 * gadget_l4endpoint_t field F, and a "k8s" member to F's own JSON and YAML
 * object.  They are in the default json set (inside F) but not in the
 * default columns.  Looked up once per record and endpoint.  Before
 * run_pipeline_prepare(); -EBUSY after, -ENOMEM.
 */
int run_pipeline_add_endpoint_k8s(struct run_pipeline *p, const struct run_endpoint_resolver *res);

/* Resolves fields, filters and sort keys; -EINVAL with a reason in errbuf. */
int run_pipeline_prepare(struct run_pipeline *p);

/* Streaming: filters and formats one record.  0 or -errno (-EPIPE, ...). */
int run_pipeline_record(struct run_pipeline *p, const void *data, size_t size);

/*
 * A map iterator's or snapshot's whole output: filters, sorts, keeps
 * max_entries and prints the batch (with its own header in columns mode).
 */
int run_pipeline_batch(struct run_pipeline *p, const void *const *records, size_t n,
		       size_t record_size);

/*
 * Streaming: the gadget is running.  Columns output prints its header now
 * (once), so that a quiet run shows it is working; nothing else does
 * anything.  Flush to write it.  0 or -errno.
 */
int run_pipeline_begin(struct run_pipeline *p);

/*
 * Appends rec as a line of json output without the newline (what record_fn
 * would be given), whatever the output format; for a pipeline with raw_fn,
 * whose caller needs JSON only for some readers.  0 or -errno.
 */
int run_pipeline_json(struct run_pipeline *p, const void *rec, size_t size, struct base_buf *out);

/*
 * The offset from the records' clock (ns since boot, of the host that made
 * them) to the wall clock; a pipeline measures its own host's when prepared,
 * a client rendering another host's records sets that host's.
 */
int64_t run_pipeline_boot_offset(const struct run_pipeline *p);
void run_pipeline_set_boot_offset(struct run_pipeline *p, int64_t boot_to_real_ns);

/* Writes what is buffered to out_fd.  0, -EPIPE or another -errno. */
int run_pipeline_flush(struct run_pipeline *p);

/* For --help: one line per field with its type, description, hidden or not. */
void run_pipeline_print_fields(const struct run_pipeline *p, struct base_buf *out);

/* A field as GadgetInfo describes it (run_runner_field); strings borrowed. */
struct run_pipeline_field {
	const char *name;
	const char *short_name;
	const char *type;
	const char *description; /* "" when none */
	bool visible_json;	 /* in the json output as the options make it */
	bool visible_columns;	 /* in the columns output as the options make it */
	unsigned int width;	 /* 0 = unlimited */
	bool align_right;
};

/*
 * After run_pipeline_prepare(): every field, in default order, or, with a
 * fields option, the selected ones first in their order (visible in both
 * outputs) and the others after them (in neither).  -ERANGE past the end.
 */
size_t run_pipeline_field_count(const struct run_pipeline *p);
int run_pipeline_field(const struct run_pipeline *p, size_t i, struct run_pipeline_field *ret);

/*
 * A number that changes with every record the pipeline looks at (filters,
 * sort keys, output) and is never reused by any pipeline of the process:
 * computed columns use it to do a lookup once per record.
 */
uint64_t run_pipeline_epoch(const struct run_pipeline *p);

/*
 * Internal to run/ (the metrics collector): the pipeline's columns, the
 * state their renderers share, and a function called with every record that
 * passes the filters (streamed or in a batch), before sort and max_entries.
 * A negative return of fn stops the record and is passed back.
 */
struct run_column;
struct run_column_env;
size_t run_pipeline_n_columns(const struct run_pipeline *p);
const struct bpf_layout *run_pipeline_layout(const struct run_pipeline *p);
const struct run_column *run_pipeline_columns(const struct run_pipeline *p);
struct run_column_env *run_pipeline_env(struct run_pipeline *p);
void run_pipeline_set_observer(struct run_pipeline *p,
			       int (*fn)(void *ctx, const void *rec, size_t size), void *ctx);

/* Records printed so far. */
uint64_t run_pipeline_matched(const struct run_pipeline *p);

struct run_pipeline *run_pipeline_free(struct run_pipeline *p);

#endif /* RUN_PIPELINE_H */
