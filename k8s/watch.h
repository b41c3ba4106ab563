/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes watch streams: the incremental event decoder and the
 * list+watch loop built on it (what client-go calls a reflector).
 *
 * Decoder: a watch reply is a sequence of JSON objects
 * {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}},
 * normally one per line.  The decoder is fed the bytes in whatever pieces
 * the network delivers and hands out one complete event at a time; it frames
 * objects by their braces (strings and escapes included), so it does not
 * depend on the line breaks.  One event is at most max_event bytes.  A
 * malformed or oversized event makes the decoder fail for good (-EBADMSG,
 * -E2BIG): the stream it came from cannot be trusted past that point.
 *
 * Loop (k8s_watch_run()): lists the collection (pages of opts.page_limit),
 * hands the items to the handlers and commits the list, then watches from
 * the list's resourceVersion with allowWatchBookmarks=true:
 *
 *  - BOOKMARK moves the resourceVersion on, nothing else.
 *  - ADDED/MODIFIED/DELETED are handed on when their resourceVersion is
 *    newer than the last one applied, and ignored otherwise, so that an
 *    event replayed by a reconnect is never applied twice.
 *  - an ERROR event with code 410, or an HTTP 410 reply ("too old resource
 *    version", after a compaction): list again, then watch from the new
 *    list's resourceVersion.
 *  - the server ending the stream (its timeoutSeconds) reconnects at once
 *    from the last resourceVersion; a cut connection, a server restart, an
 *    ERROR event with another code, or a malformed or oversized event
 *    reconnects from the last resourceVersion after an exponential backoff
 *    (opts.backoff_initial_ms doubling up to backoff_max_ms, plus up to 50%
 *    jitter), reset once a stream delivers an event.  Bytes of an event cut
 *    short by a broken connection are discarded, never applied.
 *  - a failed list is retried with the same backoff; the previous contents
 *    stay with the handlers until a list completes.
 *
 * resourceVersions are compared as decimal numbers (what every API server
 * stores them as); a non-numeric one is taken as newer.
 *
 * Thread safety: a decoder is for one thread.  k8s_watch_run() runs in one
 * thread and calls every handler from it; k8s_watch_stop() and
 * k8s_watch_get_stats() may be called from any other thread.
 */
#ifndef K8S_WATCH_H
#define K8S_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct k8s_client;

/* Largest single watch event (the object is a whole Kubernetes object). */
#define K8S_WATCH_MAX_EVENT_BYTES    (4u << 20)
#define K8S_WATCH_BACKOFF_INITIAL_MS 250
#define K8S_WATCH_BACKOFF_MAX_MS     30000

enum k8s_watch_type {
	K8S_WATCH_ADDED,
	K8S_WATCH_MODIFIED,
	K8S_WATCH_DELETED,
	K8S_WATCH_BOOKMARK,
	K8S_WATCH_ERROR,
};

const char *k8s_watch_type_name(enum k8s_watch_type t);

/*
 * One decoded event; object is borrowed for the call (json_incref() to keep
 * it).  For ERROR it is a metav1 Status.  A negative return stops the
 * decoder and is returned by k8s_watch_decoder_feed().
 */
typedef int (*k8s_watch_event_fn)(void *userdata, enum k8s_watch_type type, json_t *object);

struct k8s_watch_decoder;

/* max_event 0 for K8S_WATCH_MAX_EVENT_BYTES.  Free with k8s_watch_decoder_free(). */
int k8s_watch_decoder_new(size_t max_event, k8s_watch_event_fn fn, void *userdata,
			  struct k8s_watch_decoder **ret);
struct k8s_watch_decoder *k8s_watch_decoder_free(struct k8s_watch_decoder *d);
/*
 * Feeds len bytes; calls fn for every event they complete.  Returns 0, or
 * -EBADMSG (not a watch event), -E2BIG (an event over the maximum) or fn's
 * error; after an error every call returns it again until a reset.
 */
int k8s_watch_decoder_feed(struct k8s_watch_decoder *d, const char *data, size_t len);
/* Forgets a partial event and any error, for a new stream. */
void k8s_watch_decoder_reset(struct k8s_watch_decoder *d);
/* Bytes of an incomplete event held (what a cut would discard). */
size_t k8s_watch_decoder_pending(const struct k8s_watch_decoder *d);
/* Why the decoder failed; "" when it has not. */
const char *k8s_watch_decoder_errmsg(const struct k8s_watch_decoder *d);

/*
 * Compares two resourceVersions: <0, 0, >0 when a is older, the same,
 * newer than b.  NULL or non-numeric ones compare as newer than anything.
 */
int k8s_watch_rv_cmp(const char *a, const char *b);

struct k8s_watch_handlers {
	/* A list starts: what follows replaces everything held so far. */
	int (*list_begin)(void *userdata);
	/* One listed object, borrowed for the call. */
	int (*list_item)(void *userdata, json_t *item);
	/*
	 * err 0: the list is complete at resourceVersion rv, commit it;
	 * err < 0: it was abandoned half-way, drop what it brought.
	 */
	int (*list_end)(void *userdata, const char *rv, int err);
	/* ADDED, MODIFIED or DELETED, newer than anything applied before. */
	int (*event)(void *userdata, enum k8s_watch_type type, json_t *object);
	/* Called about once a second from the loop (timers such as expiries). */
	void (*tick)(void *userdata);
	/* A list or watch failed and will be retried; msg says why. */
	void (*error)(void *userdata, int err, const char *msg);
	void *userdata;
};

struct k8s_watch_opts {
	struct k8s_client *client; /* borrowed; required */
	const char *path;	   /* collection: "/api/v1/pods"; required */
	const char *field_selector;
	const char *label_selector;
	unsigned int page_limit;	 /* 0 for K8S_CLIENT_DEFAULT_LIMIT */
	unsigned int timeout_s;		 /* server-side watch timeout; 0 for 5-10 min */
	unsigned int backoff_initial_ms; /* 0 for the default */
	unsigned int backoff_max_ms;	 /* 0 for the default */
	size_t max_event_bytes;		 /* 0 for K8S_WATCH_MAX_EVENT_BYTES */
	struct k8s_watch_handlers handlers;
};

struct k8s_watch_stats {
	uint64_t lists; /* lists completed */
	uint64_t list_errors;
	uint64_t relists_gone; /* lists forced by 410 Gone */
	uint64_t watches;      /* watch requests made */
	uint64_t reconnects;   /* watches after an error or the server's end */
	uint64_t events;       /* events handed on */
	uint64_t stale_events; /* ignored: not newer than the last applied */
	uint64_t bookmarks;
	uint64_t decode_errors;
	uint64_t partial_dropped; /* streams cut in the middle of an event */
};

struct k8s_watch;

/* Returns a new loop in *ret (free with k8s_watch_free()); -EINVAL, -ENOMEM. */
int k8s_watch_new(const struct k8s_watch_opts *opts, struct k8s_watch **ret);
/* Not while k8s_watch_run() runs: stop and join first. */
struct k8s_watch *k8s_watch_free(struct k8s_watch *w);
/* Runs until k8s_watch_stop(); returns 0 then. */
int k8s_watch_run(struct k8s_watch *w);
/* Makes k8s_watch_run() return within about 250 ms.  Any thread. */
void k8s_watch_stop(struct k8s_watch *w);
/* A consistent copy of the counters.  Any thread. */
void k8s_watch_get_stats(struct k8s_watch *w, struct k8s_watch_stats *ret);

#endif /* K8S_WATCH_H */
