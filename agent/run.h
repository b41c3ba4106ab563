/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gadget run inside the agent, and the table of all of them (docs/api.md
 * "Runs", "Detached instances").  A client's run (RunGadget) and an
 * instance's run are the same object: a runner from the run library, the
 * batch of records being filled, the sequence numbers, and its
 * subscribers, the sessions its stream goes to.
 *
 * Records.  The runner's records are appended to a batch; the batch is
 * published on every drain tick, when it would pass
 * AGENT_WIRE_MAX_BATCH_BYTES, when the data source or the fetch changes,
 * and at a fetch's end.  Publishing sends one RecordBatch to each
 * subscriber that has its RunStarted; a session that is behind refuses it,
 * and the records are counted as dropped for that subscriber only and
 * reported with its next batch.  An instance's run also keeps the last
 * published records, to replay them to each attach.
 *
 * Kinds.  A client's run streams to one subscriber, the client that asked
 * for it, and is freed when it ends or its session goes.  An instance's
 * run (opts.instance_name set) survives its ends, so that the instance can
 * start it again; attaches subscribe to it and unsubscribe, and when it
 * ends by itself (its gadget failed, or made its last fetch) it tells its
 * owner through ops.ended().  A run that is never started serves to answer
 * GetGadgetInfo and to check a CreateInstance.
 *
 * The table owns every run's fds (ring buffers, fetch and timeout timers,
 * the drain tick) in an epoll set of its own: poll agent_run_table_fd()
 * and call agent_run_table_process() when it is readable.  Single-threaded,
 * for the agent's loop; detaching a loaded gadget, which waits for the
 * kernel, is handed to the worker pool.
 */
#ifndef AGENT_RUN_H
#define AGENT_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"
#include "base/buf.h"

struct agent_budget;
struct agent_containers;
struct agent_gadget_info;
struct agent_image;
struct agent_metrics;
struct agent_session;
struct agent_worker_pool;
struct k8s_enrich;
struct run_selector;

struct agent_run_table;
struct agent_run;

struct agent_run_table_opts {
	const char *node;		/* RunStarted.node and k8s.node; borrowed */
	bool no_node_field;		/* ig daemon: records as ig run has them, no k8s.node */
	struct agent_worker_pool *pool; /* where loaded gadgets are detached */
	struct agent_metrics *metrics;	/* the per-gadget counters runs add to */
	struct agent_containers *containers; /* read at each start */
	struct k8s_enrich *k8s;		     /* NULL: no Kubernetes API */
	/*
	 * The enrichment of endpoint fields (cluster-wide services and
	 * nodes), made on first use by a run that has such fields; NULL
	 * without a Kubernetes API.
	 */
	struct k8s_enrich *(*k8s_l4)(void *ctx);
	void *ctx;
	uint64_t drain_ms;	   /* how often ring buffers are drained and batches sent */
	size_t metrics_max_series; /* per run exporting metrics; 0: the default */
	/* instances' logs unless their spec says otherwise: "none", "stdout" or "file" */
	const char *logs_channel;
	const char *logs_dir; /* "file": the directory, under the host root */
	uint32_t logs_max_size_mb, logs_max_backups;
	/* What instances' replay buffers may hold together (agent/budget.h); NULL: unbounded. */
	struct agent_budget *replay_budget;
	/*
	 * Loaded gadgets, each counted as AGENT_RUN_GADGET_BYTES (its ring
	 * buffers and maps, kernel memory charged to the agent's cgroup); a
	 * start past it is refused.  NULL: unbounded.
	 */
	struct agent_budget *gadget_budget;
};

/* What one loaded gadget is counted as: the default ring buffer and its other maps. */
#define AGENT_RUN_GADGET_BYTES (6u << 20)

/* Returns a new, empty table in *ret (free with agent_run_table_free()); -errno. */
int agent_run_table_new(const struct agent_run_table_opts *opts, struct agent_run_table **ret);
/*
 * Frees the runs left (their subscribers get nothing more), then the
 * table; NULL-safe.  Instances free their runs first.
 */
struct agent_run_table *agent_run_table_free(struct agent_run_table *t);

/* Readable when a run has work (borrowed). */
int agent_run_table_fd(const struct agent_run_table *t);
/* Drains, fetches and ends runs as their fds say; never blocks.  0 or -errno of epoll. */
int agent_run_table_process(struct agent_run_table *t);

/* Ends every run with reason (the agent is stopping); clients' runs are freed. */
void agent_run_table_end_all(struct agent_run_table *t, Gadget__Agent__V1__RunEndReason reason);
/*
 * StopRun: ends the client's run, or detaches the attach, that session s
 * knows as run_id.  -ENOENT when s has none.
 */
int agent_run_table_stop(struct agent_run_table *t, struct agent_session *s, uint64_t run_id);
/*
 * RecordsAck: s has taken bytes record bytes of its run (or attach)
 * run_id in all, which opens its window again.  -ENOENT for no such run.
 */
int agent_run_table_ack(struct agent_run_table *t, struct agent_session *s, uint64_t run_id,
			uint64_t bytes);
/* Session s is gone: its subscriptions go, and its runs with no one else to stream to. */
void agent_run_table_drop_session(struct agent_run_table *t, struct agent_session *s);

/* Runs whose dropped series the exposition counts, at most. */
#define AGENT_RUN_MAX_EXPORTING 1024

/*
 * The gadget metrics of every run that exports some (--otel-metrics-name),
 * in the Prometheus text format, then one family counting the series each
 * run dropped past its bound.  0, -E2BIG past out's maximum.
 */
int agent_run_table_write_metrics(const struct agent_run_table *t, struct base_buf *out);

/* Whether session s has a run or an attach (it streams, or is about to). */
bool agent_run_table_session_busy(const struct agent_run_table *t, const struct agent_session *s);
/* Clients' runs, streaming or starting. */
size_t agent_run_table_clients(const struct agent_run_table *t);
/* Clients' runs with a gadget. */
size_t agent_run_table_streaming(const struct agent_run_table *t);
/* Subscriptions to instances. */
size_t agent_run_table_attaches(const struct agent_run_table *t);

/* ------------------------------------------------------------ one run */

struct agent_run_ops {
	/*
	 * An instance's run ended by itself: END_ERROR with the message when
	 * its gadget failed, END_DONE when it made its last fetch.  Called
	 * once the subscribers have RunEnded and the gadget is detached; not
	 * called for agent_run_end().  It must not free r.
	 */
	void (*ended)(void *ctx, struct agent_run *r, Gadget__Agent__V1__RunEndReason reason,
		      const char *error);
	void *ctx;
};

struct agent_run_opts {
	/* What to run: borrowed, it must outlive the run... */
	const Gadget__Agent__V1__GadgetSpec *spec;
	/* ...or taken: freed with the run, also when agent_run_new() fails. */
	Gadget__Agent__V1__GadgetSpec *spec_take;
	/* An instance's run: its name and id, borrowed; NULL: a client's run. */
	const char *instance_name;
	const char *instance_id;
	uint32_t replay_records;		     /* an instance's: records kept for attaches */
	const Gadget__Agent__V1__InstanceLogs *logs; /* an instance's, borrowed; may be NULL */
	struct agent_run_ops ops;
};

/*
 * Returns a new run in *ret, in table t, not started; -ENOMEM.  Free with
 * agent_run_free() (a client's run also goes by itself when it ends).
 */
int agent_run_new(struct agent_run_table *t, const struct agent_run_opts *opts,
		  struct agent_run **ret);
/* Frees r without telling its subscribers anything; NULL-safe. */
struct agent_run *agent_run_free(struct agent_run *r);

/*
 * Opens the gadget of img (taken, also on failure), applies params and the
 * spec's pipeline options, and checks the spec's selector; nothing is
 * loaded.  For GetGadgetInfo and CreateInstance.  -errno with the
 * protocol's error code in *code and a message in msg.
 */
int agent_run_prepare(struct agent_run *r, struct agent_image *img,
		      const Gadget__Agent__V1__KeyValue *const *params, size_t n_params,
		      Gadget__Agent__V1__ErrorCode *code, char *msg, size_t len);
/* The GadgetInfo of a prepared run; release with agent_gadget_info_done(). */
int agent_run_gadget_info(const struct agent_run *r, struct agent_gadget_info *ret);

/*
 * Opens the gadget of img (taken, also on failure) as agent_run_prepare()
 * does, selects its containers, loads and attaches it, then sends
 * RunStarted (and the replay of an attach that asked for it) to every
 * subscriber; records made while starting (a snapshot's) follow RunStarted.
 * timeout_ms 0: until stopped.  -errno with *code and msg as above; the
 * caller then ends the run.
 */
int agent_run_start(struct agent_run *r, struct agent_image *img,
		    const Gadget__Agent__V1__KeyValue *const *params, size_t n_params,
		    uint64_t timeout_ms, Gadget__Agent__V1__ErrorCode *code, char *msg, size_t len);
/* The started gadget has nothing more to give (a snapshot made its records while starting). */
bool agent_run_done(const struct agent_run *r);
/*
 * Ends the streams: what is still in the ring buffers and the batch goes
 * out, then RunEnded (with error, when given) to each subscriber that has
 * RunStarted, an Error to those still waiting.  A client's run is freed;
 * an instance's run detaches its gadget and stays, without subscribers.
 */
void agent_run_end(struct agent_run *r, Gadget__Agent__V1__RunEndReason reason, const char *error);
/* Detaches a started gadget, keeping the run and its subscribers (an instance starting anew). */
void agent_run_stop(struct agent_run *r);

/* How a client wants its records (docs/api.md "Record encodings", "Windows"). */
struct agent_run_sub_opts {
	bool raw;	 /* ENCODING_RAW, unless the gadget's records cannot be described */
	bool compress;	 /* zstd batches when they pay */
	uint32_t window; /* record bytes in flight before RecordsAck; 0: none */
};

/*
 * The client of a client's run: RunStarted, records and RunEnded go to s,
 * about req_id, as o says.  -ENOMEM.
 */
int agent_run_subscribe(struct agent_run *r, struct agent_session *s, uint64_t req_id,
			const struct agent_run_sub_opts *o);
/*
 * AttachInstance: s subscribes to an instance's run under a new run id.  A
 * running run sends RunStarted now, then the kept records (the newest
 * replay_max; 0: all) unless no_replay; otherwise that happens when it
 * starts.  -ENOMEM.
 */
int agent_run_attach(struct agent_run *r, struct agent_session *s, uint64_t req_id,
		     uint32_t replay_max, bool no_replay, const struct agent_run_sub_opts *o);
/* Sends an Error with code and the message to each subscriber still waiting for RunStarted, and
 * drops them. */
void agent_run_refuse(struct agent_run *r, Gadget__Agent__V1__ErrorCode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint64_t agent_run_id(const struct agent_run *r);
/* The canonical reference of the image it runs (borrowed); NULL before a start. */
const char *agent_run_image_ref(const struct agent_run *r);
/* Records published since it was made, over every start. */
uint64_t agent_run_records(const struct agent_run *r);
/* Its metric series now, and records dropped past the series bound (0, 0 without metrics). */
void agent_run_metrics_stats(const struct agent_run *r, uint64_t *series, uint64_t *dropped);
size_t agent_run_subscribers(const struct agent_run *r);

/* ------------------------------------------------------------ specs */

/* A self-contained copy of spec (which may be part of a larger message); NULL: -ENOMEM. */
Gadget__Agent__V1__GadgetSpec *agent_run_spec_dup(const Gadget__Agent__V1__GadgetSpec *spec);
Gadget__Agent__V1__GadgetSpec *agent_run_spec_free(Gadget__Agent__V1__GadgetSpec *spec);

/*
 * Checks a spec's filters as far as can be done before the gadget is known:
 * their number, grammar and operator, and each regular expression compiled
 * by the run library (whose cost it bounds).  0, or -EINVAL (-ENOMEM) with
 * a one-line reason in msg.  What they name is checked when the run starts.
 */
int agent_run_check_filters(char *const *filters, size_t n, char *msg, size_t len);

/*
 * The selector of a request as the run library's; strings are borrowed
 * from s.  NULL s: an empty selector.  Release with run_selector_done().
 * -EINVAL, -E2BIG or -ENOMEM with the reason in msg, and nothing to release.
 */
int agent_run_selector_parse(const Gadget__Agent__V1__Selector *s, struct run_selector *ret,
			     char *msg, size_t len);

#endif /* AGENT_RUN_H */
