/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Records rendered somewhere else than where they were made: a node's agent
 * sends a gadget's own record bytes, and the client renders them with the
 * same pipeline `ig run` uses, so that every output mode is byte for byte
 * what ig prints, and the node never builds JSON for it.
 *
 * What a client needs besides the bytes:
 *
 *   - once per data source: its record layout (the fields found in BTF) and
 *     the columns the node's pipeline computes (k8s.*, runtime.*, k8s.node),
 *     each with where its value comes from: a constant of the node, or the
 *     record's container;
 *   - a table of containers (the values of the container columns for a mount
 *     namespace id) and of endpoint names (the pod, service or node behind
 *     an address), each entry sent once before the first record that needs
 *     it, again when it changed, and whole to a client that attaches.
 *
 * The encoder (node side) follows a pipeline's records and reports the
 * table entries to send; the printer (client side) rebuilds the pipelines
 * from the descriptions and keeps a table per node.  Nothing here knows the
 * wire format: agent/wire.c carries these structs.
 */
#ifndef RUN_REMOTE_H
#define RUN_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run/pipeline.h"

struct bpf_layout;
struct oci_metadata_ds;

/* Entries one (node, data source) table keeps at most; past it, records render unnamed. */
#define RUN_REMOTE_MAX_ENTRIES 65536
/* A node re-checks a container or endpoint it sent after this long, and sends changes. */
#define RUN_REMOTE_RECHECK_MS 1000
/* Longest value of a computed column kept. */
#define RUN_REMOTE_MAX_VALUE 4096
/* Nodes and data sources one printer follows. */
#define RUN_REMOTE_MAX_NODES 1024
#define RUN_REMOTE_MAX_DS    16
/* Strings a record may end with that the encoder looks at (run_remote_enc_size()). */
#define RUN_REMOTE_MAX_TAILS 4
/* Computed columns of one data source. */
#define RUN_REMOTE_MAX_CONTAINER_COLUMNS 64

/* A column the node computes. */
struct run_remote_column {
	const char *name;
	const char *description;
	bool hidden;
	bool hidden_columns;
	bool number;
	unsigned int width;
	enum run_column_source source; /* CONSTANT or CONTAINER */
	const char *value;	       /* CONSTANT: the node's */
};

/* A data source as a client needs it to render its records. */
struct run_remote_desc {
	const struct bpf_layout *layout; /* borrowed from the pipeline */
	struct run_remote_column *columns;
	size_t n_columns;
	bool endpoint_k8s; /* endpoint fields are named (run_remote_endpoint()) */
};

/* ------------------------------------------------------------ the node's side */

/*
 * Describes p (prepared).  -EOPNOTSUPP when p has a column whose value can
 * only be computed per record (the caller then sends JSON), -ENOMEM.  Free
 * with run_remote_desc_done().
 */
int run_remote_describe(const struct run_pipeline *p, struct run_remote_desc *ret);
void run_remote_desc_done(struct run_remote_desc *d);
/*
 * The bytes of a record of p a client needs: the layout's size, or more when
 * a derived column (run/derived.h) reads what follows the struct.
 */
size_t run_remote_record_max(const struct run_pipeline *p);

struct run_remote_enc;

/* Table entries for a client, as run_remote_enc_record() finds them; a NULL value: none. */
struct run_remote_news {
	int (*container)(void *ctx, uint64_t mntns, const char *const *values, size_t n);
	int (*endpoint)(void *ctx, const char *ip, const char *kind, const char *name,
			const char *ns);
	void *ctx;
};

/* Follows the records of p (borrowed, prepared); free with run_remote_enc_free(). */
int run_remote_enc_new(struct run_pipeline *p, struct run_remote_enc **ret);
struct run_remote_enc *run_remote_enc_free(struct run_remote_enc *e);
/* The clock the rechecks go by; call it once per batch of records. */
void run_remote_enc_tick(struct run_remote_enc *e, uint64_t now_ms);
/*
 * The entries rec needs that were not reported yet, or changed, through
 * news.  0 or the first negative return of news.
 */
int run_remote_enc_record(struct run_remote_enc *e, const void *rec, size_t size,
			  const struct run_remote_news *news);
/*
 * The bytes of rec (size of them, at most the layout's) worth sending: all,
 * or up to the end of the string that ends the record, when it does (the
 * rest is an older record's bytes that nothing shows; a client reads them
 * as zeros).
 */
size_t run_remote_enc_size(const struct run_remote_enc *e, const void *rec, size_t size);
/* Every entry kept, for a client that attaches to a running instance. */
int run_remote_enc_all(struct run_remote_enc *e, const struct run_remote_news *news);

/* ------------------------------------------------------------ the client's side */

struct run_remote_opts {
	size_t sz; /* sizeof(struct run_remote_opts) */
	enum run_output output;
	const char *fields;
	bool no_header;
	int out_fd;
	char *errbuf; /* one-line reason for -EINVAL */
	size_t errbuf_len;
};

struct run_remote;

/* Returns a new printer; free with run_remote_free(). */
int run_remote_new(const struct run_remote_opts *opts, struct run_remote **ret);
struct run_remote *run_remote_free(struct run_remote *r);

/*
 * Adds a data source: its name, whether its records come in fetches (map
 * iterators, snapshots: run_remote_batch()), its layout (taken, also on
 * failure), its gadget.yaml annotations (md, borrowed; may be NULL) and the
 * node's columns (copied).  Before run_remote_prepare().  -EINVAL with
 * errbuf for a description the pipeline refuses (a bad --fields).
 */
int run_remote_add_ds(struct run_remote *r, const char *name, bool batches,
		      struct bpf_layout *layout, const struct oci_metadata_ds *md,
		      const struct run_remote_column *cols, size_t n, bool endpoint_k8s);
int run_remote_prepare(struct run_remote *r);
/* Index of data source name, or -ENOENT. */
int run_remote_ds_index(const struct run_remote *r, const char *name);
/* The description of data source i the printer was given (for --help, checks). */
size_t run_remote_ds_count(const struct run_remote *r);

/*
 * A node the records come from, by name; its constant columns take the
 * values of cols (what that node said).  Returns its index (0, 1, ...), or
 * -E2BIG past RUN_REMOTE_MAX_NODES, -ENOMEM.
 */
int run_remote_node(struct run_remote *r, const char *name);
int run_remote_node_constant(struct run_remote *r, int node, size_t ds, const char *column,
			     const char *value);
/* The node's CLOCK_REALTIME - CLOCK_BOOTTIME: its records' timestamps become dates with it. */
int run_remote_node_clock(struct run_remote *r, int node, int64_t boot_to_real_ns);
/* The number of container columns of data source ds (what ContainerValues carries). */
size_t run_remote_container_columns(const struct run_remote *r, size_t ds);
/* The layout of data source ds. */
const struct bpf_layout *run_remote_ds_layout(const struct run_remote *r, size_t ds);
/* Whether data source ds comes in fetches. */
bool run_remote_ds_batches(const struct run_remote *r, size_t ds);
/*
 * Table entries of a node; values as many as the data source has container
 * columns, NULL for a column without a value (null in JSON).
 */
int run_remote_container(struct run_remote *r, int node, size_t ds, uint64_t mntns,
			 const char *const *values, size_t n);
int run_remote_endpoint(struct run_remote *r, int node, size_t ds, const char *ip, const char *kind,
			const char *name, const char *ns);

/* The output starts (columns header of a tracer). */
int run_remote_begin(struct run_remote *r);
/* One streamed record of node. */
int run_remote_record(struct run_remote *r, int node, size_t ds, const void *data, size_t size);
/* A fetch of node (records already filtered, sorted and limited by the node). */
int run_remote_batch(struct run_remote *r, int node, size_t ds, const void *const *records,
		     const size_t *sizes, size_t n);
int run_remote_flush(struct run_remote *r);

#endif /* RUN_REMOTE_H */
