/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ENCODING_RAW on the control API (docs/api.md "Record encodings"): the
 * gadget's own record bytes cross the wire, and the client renders them
 * with the run library's pipeline, as `ig run` does (run/remote.h).
 *
 * The node's side builds, once per run, the DataSourceLayout messages of
 * RunStarted (agent_raw_layouts_new()), and fills RecordBatch messages
 * (struct agent_raw_batch): the records as a varint length and the bytes,
 * and the container and endpoint table entries the client learns before
 * the records that need them; zstd-compressed for a client that asked, when
 * the batch is large enough for it to pay.
 *
 * The client's side (struct agent_raw_client) takes the RunStarted and
 * RecordBatch messages of any number of nodes and prints: everything that
 * came over the wire is checked (layouts with bpf_layout_check(), lengths,
 * counts, the decompressed size) and refused with a one-line reason.
 */
#ifndef AGENT_RAW_H
#define AGENT_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"
#include "base/buf.h"
#include "run/pipeline.h"
#include "run/runner.h"

struct oci_metadata_ds;
struct run_remote_enc;

/* A batch is compressed when its records take at least this many bytes. */
#define AGENT_RAW_COMPRESS_MIN 4096
/* The zstd level: the fastest of the normal ones (measured in docs/benchmarks.md). */
#define AGENT_RAW_ZSTD_LEVEL 1
/* Most bytes of a fetch (map iterator, snapshot) a client holds for one node. */
#define AGENT_RAW_MAX_FETCH_BYTES (64u << 20)
/* Different descriptions of the records (versions of a gadget) one client prints. */
#define AGENT_RAW_MAX_SHAPES 8

/* ------------------------------------------------------------ the node's side */

/*
 * RunStarted.layouts for the data sources of runner r (prepared), in *ret
 * (n of them, free with agent_raw_layouts_free()).  -EOPNOTSUPP when a data
 * source has a column that can only be computed per record (the run then
 * speaks JSON), -ENOMEM.
 */
int agent_raw_layouts_new(struct run_runner *r, Gadget__Agent__V1__DataSourceLayout ***ret,
			  size_t *ret_n);
void agent_raw_layouts_free(Gadget__Agent__V1__DataSourceLayout **l, size_t n);
/* The same for one data source: its name, type, annotations (may be NULL) and pipeline. */
int agent_raw_layout_new(const char *name, enum run_runner_ds_type type,
			 const struct oci_metadata_ds *md, const struct run_pipeline *p,
			 Gadget__Agent__V1__DataSourceLayout **ret);

/* The records of one RecordBatch being filled, and the table entries they need. */
struct agent_raw_batch {
	struct base_buf raw; /* varint length, bytes; ... */
	uint32_t n;
	Gadget__Agent__V1__ContainerValues **containers;
	size_t n_containers, cap_containers;
	Gadget__Agent__V1__EndpointName **endpoints;
	size_t n_endpoints, cap_endpoints;
	/* compressed once for every client that asked */
	struct base_buf z;
	bool z_done, z_pays;
};

void agent_raw_batch_init(struct agent_raw_batch *b);
void agent_raw_batch_reset(struct agent_raw_batch *b);
void agent_raw_batch_done(struct agent_raw_batch *b);
/* Appends a record of at most max bytes (the layout's size: the rest is never read). */
int agent_raw_batch_add(struct agent_raw_batch *b, const void *rec, size_t size, size_t max);
/* Table entries (run_remote_news callbacks, ctx a struct agent_raw_batch). */
int agent_raw_batch_container(void *ctx, uint64_t mntns, const char *const *values, size_t n);
int agent_raw_batch_endpoint(void *ctx, const char *ip, const char *kind, const char *name,
			     const char *ns);
/* Bytes the batch takes on the wire (before compression). */
size_t agent_raw_batch_bytes(const struct agent_raw_batch *b);
/*
 * Sets the raw fields of rb to b's (borrowed); compress: a zstd frame when
 * it pays.  0 or -ENOMEM.
 */
int agent_raw_batch_fill(struct agent_raw_batch *b, bool compress,
			 Gadget__Agent__V1__RecordBatch *rb);
/* Every entry enc keeps into b (a client that attaches, or missed some). */
int agent_raw_batch_tables(struct agent_raw_batch *b, struct run_remote_enc *enc);

/* ------------------------------------------------------------ the client's side */

struct agent_raw_client_opts {
	size_t sz; /* sizeof(struct agent_raw_client_opts) */
	enum run_output output;
	const char *fields;
	bool no_header;
	int out_fd;
	/*
	 * --sort timestamp for tracers: records of every node are held this
	 * long after they arrive and printed in the order of their timestamps
	 * (agent_raw_client_tick()); a record later than that behind another
	 * is printed out of order.  0: in the order they arrive.
	 */
	unsigned int sort_delay_ms;
};

/* Records (and bytes) the timestamp sort holds at most; past it, the oldest go out early. */
#define AGENT_RAW_SORT_MAX_RECORDS (1u << 20)
#define AGENT_RAW_SORT_MAX_BYTES   (256u << 20)
/* The sort keeps records in chunks of this many bytes, each freed when its last record is out. */
#define AGENT_RAW_SORT_CHUNK (1u << 20)

struct agent_raw_client;

int agent_raw_client_new(const struct agent_raw_client_opts *o, struct agent_raw_client **ret);
struct agent_raw_client *agent_raw_client_free(struct agent_raw_client *c);

/*
 * A node's RunStarted (ENCODING_RAW): the first one builds the pipelines;
 * a later node must describe the same records.  Returns the node's index,
 * or -EINVAL/-E2BIG with a one-line reason in err (the node's records are
 * then refused), -ENOMEM.  A --fields the pipeline refuses is -EINVAL too.
 */
int agent_raw_client_started(struct agent_raw_client *c, const char *node,
			     const Gadget__Agent__V1__RunStarted *rs, char *err, size_t errlen);
/* The columns header of a tracer, once, before any record. */
int agent_raw_client_begin(struct agent_raw_client *c);
/*
 * One RecordBatch of node: its table entries, then its records printed
 * (a fetch's once its last batch came).  -EINVAL (a malformed batch, err
 * says why: the caller drops the node), -EPIPE and other output errors.
 */
int agent_raw_client_batch(struct agent_raw_client *c, int node,
			   const Gadget__Agent__V1__RecordBatch *rb, char *err, size_t errlen);
int agent_raw_client_flush(struct agent_raw_client *c);
/*
 * With sort_delay_ms: prints the held records whose time came (all with
 * all), and flushes.  Returns the milliseconds until the next is due
 * (-1: none held), or -errno from the output.
 */
int agent_raw_client_tick(struct agent_raw_client *c, uint64_t now_ms, bool all);
/* Records printed. */
uint64_t agent_raw_client_records(const struct agent_raw_client *c);

#endif /* AGENT_RAW_H */
