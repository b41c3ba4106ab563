// SPDX-License-Identifier: Apache-2.0
/*
 * Watch event decoder and the list+watch loop.  See watch.h.
 *
 * The loop keeps one piece of state across connections, the
 * resourceVersion of the last thing applied (a list, an event or a
 * bookmark).  Every reconnect starts from it, and every event not newer
 * than it is dropped, which together give "nothing lost, nothing twice"
 * whatever the server or the network does in between; a 410 is the server
 * saying it can no longer give that guarantee from there, hence the relist.
 */
#include "k8s/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "k8s/client.h"

#define WATCH_ERRLEN 512

struct k8s_watch_decoder {
	struct base_buf buf; /* the event being assembled */
	k8s_watch_event_fn fn;
	void *userdata;
	unsigned int depth;
	bool in_string;
	bool escape;
	int err;
	char errmsg[WATCH_ERRLEN];
};

struct k8s_watch {
	struct k8s_client *client;
	char *path;
	char *field_selector;
	char *label_selector;
	unsigned int page_limit;
	unsigned int timeout_s;
	unsigned int backoff_initial_ms;
	unsigned int backoff_max_ms;
	size_t max_event_bytes;
	struct k8s_watch_handlers h;

	atomic_bool stop;
	pthread_mutex_t lock; /* stats and the stop condition */
	pthread_cond_t cond;
	struct k8s_watch_stats stats;

	/* loop state, owned by the thread in k8s_watch_run() */
	char *rv;
	bool got_event; /* this stream decoded something */
	bool gone;	/* this stream said 410 */
	unsigned int seed;
	struct k8s_watch_decoder *decoder; /* of the open stream */
	uint64_t last_tick;		   /* second of the monotonic clock */
	char errmsg[WATCH_ERRLEN];
};

const char *k8s_watch_type_name(enum k8s_watch_type t)
{
	switch (t) {
	case K8S_WATCH_ADDED:
		return "ADDED";
	case K8S_WATCH_MODIFIED:
		return "MODIFIED";
	case K8S_WATCH_DELETED:
		return "DELETED";
	case K8S_WATCH_BOOKMARK:
		return "BOOKMARK";
	case K8S_WATCH_ERROR:
		return "ERROR";
	}
	return "?";
}

int k8s_watch_decoder_new(size_t max_event, k8s_watch_event_fn fn, void *userdata,
			  struct k8s_watch_decoder **ret)
{
	struct k8s_watch_decoder *d;

	if (!fn)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->buf = (struct base_buf)BASE_BUF_INIT(max_event ? max_event : K8S_WATCH_MAX_EVENT_BYTES);
	d->fn = fn;
	d->userdata = userdata;
	*ret = d;
	return 0;
}

struct k8s_watch_decoder *k8s_watch_decoder_free(struct k8s_watch_decoder *d)
{
	if (!d)
		return NULL;
	base_buf_done(&d->buf);
	free(d);
	return NULL;
}

void k8s_watch_decoder_reset(struct k8s_watch_decoder *d)
{
	base_buf_reset(&d->buf);
	d->depth = 0;
	d->in_string = false;
	d->escape = false;
	d->err = 0;
	d->errmsg[0] = '\0';
}

size_t k8s_watch_decoder_pending(const struct k8s_watch_decoder *d)
{
	return d->buf.len;
}

const char *k8s_watch_decoder_errmsg(const struct k8s_watch_decoder *d)
{
	return d->errmsg;
}

static int decoder_fail(struct k8s_watch_decoder *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int decoder_fail(struct k8s_watch_decoder *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(d->errmsg, sizeof(d->errmsg), fmt, ap);
	va_end(ap);
	d->err = err;
	return err;
}

static int decoder_type(const char *s, enum k8s_watch_type *ret)
{
	static const enum k8s_watch_type all[] = {K8S_WATCH_ADDED, K8S_WATCH_MODIFIED,
						  K8S_WATCH_DELETED, K8S_WATCH_BOOKMARK,
						  K8S_WATCH_ERROR};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, k8s_watch_type_name(all[i]))) {
			*ret = all[i];
			return 0;
		}
	}
	return -EBADMSG;
}

/* One complete object is in d->buf: check it is an event and hand it out. */
static int decoder_emit(struct k8s_watch_decoder *d)
{
	enum k8s_watch_type type;
	json_error_t jerr;
	json_t *ev, *obj;
	const char *ts;
	int r;

	ev = json_loadb(d->buf.data, d->buf.len, JSON_REJECT_DUPLICATES, &jerr);
	base_buf_reset(&d->buf);
	if (!ev)
		return decoder_fail(d, -EBADMSG, "malformed watch event: %s (column %d)", jerr.text,
				    jerr.column);
	ts = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!ts || decoder_type(ts, &type) < 0) {
		json_decref(ev);
		return decoder_fail(d, -EBADMSG, "watch event without a known type");
	}
	if (!json_is_object(obj)) {
		r = decoder_fail(d, -EBADMSG, "%s watch event without an object", ts);
		json_decref(ev);
		return r;
	}
	if (type != K8S_WATCH_ERROR &&
	    !json_is_string(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"))) {
		r = decoder_fail(d, -EBADMSG, "%s watch event without a resourceVersion", ts);
		json_decref(ev);
		return r;
	}
	r = d->fn(d->userdata, type, obj);
	json_decref(ev);
	if (r < 0) {
		d->err = r;
		if (!d->errmsg[0])
			snprintf(d->errmsg, sizeof(d->errmsg), "event handler: %s", strerror(-r));
	}
	return r < 0 ? r : 0;
}

int k8s_watch_decoder_feed(struct k8s_watch_decoder *d, const char *data, size_t len)
{
	size_t start = 0;
	int r;

	if (d->err)
		return d->err;
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (d->depth == 0) {
			/* between events: only whitespace may come before the next '{' */
			if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
				continue;
			if (c != '{')
				return decoder_fail(d, -EBADMSG,
						    "unexpected byte 0x%02x between watch events",
						    (unsigned char)c);
			start = i;
			d->depth = 1;
			continue;
		}
		if (d->in_string) {
			if (d->escape)
				d->escape = false;
			else if (c == '\\')
				d->escape = true;
			else if (c == '"')
				d->in_string = false;
			continue;
		}
		if (c == '"') {
			d->in_string = true;
		} else if (c == '{' || c == '[') {
			d->depth++;
		} else if ((c == '}' || c == ']') && --d->depth == 0) {
			r = base_buf_append(&d->buf, data + start, i + 1 - start);
			if (r < 0)
				return decoder_fail(d, r,
						    r == -E2BIG ? "watch event over %zu bytes"
								: "out of memory (%zu)",
						    d->buf.max);
			r = decoder_emit(d);
			if (r < 0)
				return r;
		}
	}
	if (d->depth > 0) {
		r = base_buf_append(&d->buf, data + start, len - start);
		if (r < 0)
			return decoder_fail(d, r,
					    r == -E2BIG ? "watch event over %zu bytes"
							: "out of memory (%zu)",
					    d->buf.max);
	}
	return 0;
}

static bool watch_rv_num(const char *s, unsigned long long *ret)
{
	unsigned long long v = 0;

	if (!s || !*s || strlen(s) > 19)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	*ret = v;
	return true;
}

int k8s_watch_rv_cmp(const char *a, const char *b)
{
	unsigned long long x, y;

	if (!watch_rv_num(a, &x) || !watch_rv_num(b, &y))
		return 1;
	return x < y ? -1 : x > y;
}

static char *watch_dup_opt(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int k8s_watch_new(const struct k8s_watch_opts *opts, struct k8s_watch **ret)
{
	struct k8s_watch *w;
	pthread_condattr_t ca;
	struct timespec ts;

	if (!opts || !opts->client || !opts->path || opts->path[0] != '/' ||
	    !opts->handlers.list_item || !opts->handlers.list_end || !opts->handlers.event)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->client = opts->client;
	w->path = strdup(opts->path);
	w->field_selector = watch_dup_opt(opts->field_selector);
	w->label_selector = watch_dup_opt(opts->label_selector);
	if (!w->path || (opts->field_selector && *opts->field_selector && !w->field_selector) ||
	    (opts->label_selector && *opts->label_selector && !w->label_selector)) {
		free(w->path);
		free(w->field_selector);
		free(w->label_selector);
		free(w);
		return -ENOMEM;
	}
	w->page_limit = opts->page_limit;
	w->timeout_s = opts->timeout_s;
	w->backoff_initial_ms =
		opts->backoff_initial_ms ? opts->backoff_initial_ms : K8S_WATCH_BACKOFF_INITIAL_MS;
	w->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : K8S_WATCH_BACKOFF_MAX_MS;
	if (w->backoff_max_ms < w->backoff_initial_ms)
		w->backoff_max_ms = w->backoff_initial_ms;
	w->max_event_bytes =
		opts->max_event_bytes ? opts->max_event_bytes : K8S_WATCH_MAX_EVENT_BYTES;
	w->h = opts->handlers;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w->seed = (unsigned int)(ts.tv_nsec ^ (uintptr_t)w ^ (unsigned int)getpid());
	*ret = w;
	return 0;
}

struct k8s_watch *k8s_watch_free(struct k8s_watch *w)
{
	if (!w)
		return NULL;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w->field_selector);
	free(w->label_selector);
	free(w->rv);
	free(w);
	return NULL;
}

void k8s_watch_stop(struct k8s_watch *w)
{
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void k8s_watch_get_stats(struct k8s_watch *w, struct k8s_watch_stats *ret)
{
	pthread_mutex_lock(&w->lock);
	*ret = w->stats;
	pthread_mutex_unlock(&w->lock);
}

#define WATCH_COUNT(w, field, n)                                                                   \
	do {                                                                                       \
		pthread_mutex_lock(&(w)->lock);                                                    \
		(w)->stats.field += (n);                                                           \
		pthread_mutex_unlock(&(w)->lock);                                                  \
	} while (0)

/* Sleeps ms unless stopped first; the tick handler keeps running meanwhile. */
static void watch_sleep(struct k8s_watch *w, unsigned int ms)
{
	uint64_t end = base_time_mono_ms() + ms;

	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->stop)) {
		uint64_t now = base_time_mono_ms();
		struct timespec step;

		if (now >= end)
			break;
		/* wake at least once a second for the tick handler */
		base_time_mono_deadline(end - now < 1000 ? end - now : 1000, &step);
		pthread_cond_timedwait(&w->cond, &w->lock, &step);
		if (w->h.tick && !atomic_load(&w->stop)) {
			pthread_mutex_unlock(&w->lock);
			w->h.tick(w->h.userdata);
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
}

static unsigned int watch_jitter(struct k8s_watch *w, unsigned int ms)
{
	return ms + (unsigned int)((unsigned long long)ms * (rand_r(&w->seed) % 500) / 1000);
}

static void watch_error(struct k8s_watch *w, int err, const char *msg)
{
	base_log_debug("k8s: watch %s: %s", w->path, msg);
	if (w->h.error)
		w->h.error(w->h.userdata, err, msg);
}

static int watch_set_rv(struct k8s_watch *w, const char *rv)
{
	char *d = strdup(rv);

	if (!d)
		return -ENOMEM;
	free(w->rv);
	w->rv = d;
	return 0;
}

static int watch_list_item(void *userdata, json_t *item)
{
	struct k8s_watch *w = userdata;

	if (atomic_load(&w->stop))
		return -ECANCELED;
	return w->h.list_item(w->h.userdata, item);
}

static int watch_list(struct k8s_watch *w)
{
	struct k8s_client_list_opts lo = {
		.field_selector = w->field_selector,
		.label_selector = w->label_selector,
		.limit = w->page_limit,
	};
	char err[WATCH_ERRLEN] = "";
	char *rv = NULL;
	int r;

	if (w->h.list_begin) {
		r = w->h.list_begin(w->h.userdata);
		if (r < 0)
			return r;
	}
	r = k8s_client_list(w->client, w->path, &lo, watch_list_item, w, &rv, err, sizeof(err));
	if (r == 0 && !rv)
		rv = strdup("");
	if (r == 0 && !rv)
		r = -ENOMEM;
	if (r == 0)
		r = w->h.list_end(w->h.userdata, rv, 0);
	else
		w->h.list_end(w->h.userdata, NULL, r);
	if (r == 0)
		r = watch_set_rv(w, rv);
	free(rv);
	if (r < 0) {
		if (r != -ECANCELED) {
			WATCH_COUNT(w, list_errors, 1);
			watch_error(w, r, err[0] ? err : strerror(-r));
		}
		return r;
	}
	WATCH_COUNT(w, lists, 1);
	return 0;
}

/* Decoder callback: the RV filter and the ERROR and BOOKMARK handling. */
static int watch_on_event(void *userdata, enum k8s_watch_type type, json_t *object)
{
	struct k8s_watch *w = userdata;
	const char *rv;
	int r;

	w->got_event = true;
	if (type == K8S_WATCH_ERROR) {
		json_t *code = json_object_get(object, "code");
		const char *msg = json_string_value(json_object_get(object, "message"));

		snprintf(w->errmsg, sizeof(w->errmsg), "watch %s: ERROR event %lld: %s", w->path,
			 (long long)json_integer_value(code), msg ? msg : "");
		if (json_integer_value(code) == 410) {
			w->gone = true;
			return -ESTALE;
		}
		return -EPROTO;
	}
	rv = json_string_value(
		json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
	if (w->rv && *w->rv && k8s_watch_rv_cmp(rv, w->rv) <= 0) {
		WATCH_COUNT(w, stale_events, 1);
		return 0;
	}
	if (type == K8S_WATCH_BOOKMARK) {
		WATCH_COUNT(w, bookmarks, 1);
		return watch_set_rv(w, rv);
	}
	r = w->h.event(w->h.userdata, type, object);
	if (r < 0)
		return r;
	WATCH_COUNT(w, events, 1);
	return watch_set_rv(w, rv);
}

/* Stream callbacks get the loop; the decoder of the current stream is w->decoder. */
static int watch_on_data(void *userdata, const char *data, size_t len)
{
	struct k8s_watch *w = userdata;

	return k8s_watch_decoder_feed(w->decoder, data, len);
}

/* Runs the tick handler about once a second while a stream is open. */
static void watch_on_poll(void *userdata)
{
	struct k8s_watch *w = userdata;
	uint64_t now_s;

	if (!w->h.tick)
		return;
	now_s = base_time_mono_ms() / 1000;
	if (now_s == w->last_tick)
		return;
	w->last_tick = now_s;
	w->h.tick(w->h.userdata);
}

/* One watch request; returns 0 when the server ended it, else why it ended. */
static int watch_stream(struct k8s_watch *w)
{
	struct k8s_watch_decoder *d = NULL;
	struct k8s_client_stream_opts so = {0};
	char *url = NULL, num[32], err[WATCH_ERRLEN] = "";
	unsigned int timeout_s =
		w->timeout_s ? w->timeout_s : 300u + (unsigned int)rand_r(&w->seed) % 300u;
	int r;

	url = malloc(K8S_CLIENT_MAX_URL + 1);
	if (!url)
		return -ENOMEM;
	snprintf(url, K8S_CLIENT_MAX_URL + 1, "%s", w->path);
	snprintf(num, sizeof(num), "%u", timeout_s);
	r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "watch", "1");
	if (!r)
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "allowWatchBookmarks",
					 "true");
	if (!r && w->rv && *w->rv)
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "resourceVersion", w->rv);
	if (!r)
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "timeoutSeconds", num);
	if (!r && w->field_selector)
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "fieldSelector",
					 w->field_selector);
	if (!r && w->label_selector)
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "labelSelector",
					 w->label_selector);
	if (!r)
		r = k8s_watch_decoder_new(w->max_event_bytes, watch_on_event, w, &d);
	if (r < 0) {
		free(url);
		return r;
	}
	w->got_event = false;
	w->gone = false;
	w->errmsg[0] = '\0';
	w->decoder = d;
	so.on_data = watch_on_data;
	so.on_poll = watch_on_poll;
	so.userdata = w;
	so.cancel = &w->stop;
	/* the server ends the watch at timeout_s; silence well past it is a dead peer */
	so.idle_timeout_s = timeout_s + 60;
	WATCH_COUNT(w, watches, 1);
	r = k8s_client_stream(w->client, url, &so, err, sizeof(err));
	if (k8s_watch_decoder_pending(d) && r != -ECANCELED) {
		WATCH_COUNT(w, partial_dropped, 1);
		base_log_debug("k8s: watch %s: dropped %zu bytes of an incomplete event", w->path,
			       k8s_watch_decoder_pending(d));
	}
	if (r == -EBADMSG || r == -E2BIG) {
		WATCH_COUNT(w, decode_errors, 1);
		snprintf(w->errmsg, sizeof(w->errmsg), "watch %.200s: %.300s", w->path,
			 k8s_watch_decoder_errmsg(d));
	} else if (r < 0 && !w->errmsg[0]) {
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", err[0] ? err : strerror(-r));
	}
	w->decoder = k8s_watch_decoder_free(d);
	free(url);
	return r;
}

int k8s_watch_run(struct k8s_watch *w)
{
	unsigned int backoff = w->backoff_initial_ms;
	bool need_list = true, gone_relist = false;

	while (!atomic_load(&w->stop)) {
		int r;

		if (w->h.tick)
			w->h.tick(w->h.userdata);
		if (need_list) {
			r = watch_list(w);
			if (r == -ECANCELED || atomic_load(&w->stop))
				break;
			if (r < 0) {
				watch_sleep(w, watch_jitter(w, backoff));
				backoff = backoff * 2 > w->backoff_max_ms ? w->backoff_max_ms
									  : backoff * 2;
				continue;
			}
			if (gone_relist)
				WATCH_COUNT(w, relists_gone, 1);
			need_list = false;
			gone_relist = false;
		}
		r = watch_stream(w);
		if (r == -ECANCELED || atomic_load(&w->stop))
			break;
		if (w->got_event)
			backoff = w->backoff_initial_ms;
		if (r == -ESTALE) {
			/* 410: the server has compacted past our resourceVersion */
			watch_error(w, r, w->errmsg[0] ? w->errmsg : "410 Gone");
			need_list = true;
			gone_relist = true;
			if (!w->got_event && !w->gone) {
				/* HTTP 410 straight away: relist now, but never spin */
				watch_sleep(w, watch_jitter(w, w->backoff_initial_ms));
			}
			continue;
		}
		WATCH_COUNT(w, reconnects, 1);
		if (r == 0 && w->got_event)
			continue; /* the server's timeout: pick up at once */
		if (r < 0)
			watch_error(w, r, w->errmsg[0] ? w->errmsg : strerror(-r));
		watch_sleep(w, watch_jitter(w, backoff));
		backoff = backoff * 2 > w->backoff_max_ms ? w->backoff_max_ms : backoff * 2;
	}
	return 0;
}
