// SPDX-License-Identifier: Apache-2.0
/*
 * REST client for the Kubernetes API server.  See client.h.
 *
 * Each request gets its own curl easy handle, so a client can be shared by
 * the cache threads without a lock around transfers; a list reuses one
 * handle for all its pages to keep the connection.  DNS answers and TLS
 * sessions are shared between handles through a curl share object (its
 * connection cache is not: libcurl does not support sharing connections
 * between threads that run transfers at the same time).
 *
 * Streams (watches) run on a multi handle so that the thread can look at
 * its cancel flag while the server is silent, instead of blocking in
 * curl_easy_perform() until the next byte.
 */
#include "k8s/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/curl.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "k8s/config.h"

#ifndef IG_VERSION
#define IG_VERSION "0"
#endif

#define CLIENT_STREAM_POLL_MS 250

struct k8s_client {
	struct k8s_config *cfg;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	long connect_timeout_ms;
	long timeout_ms;
	char *user_agent;
};

/* One transfer's state, handed to the write callback. */
struct client_xfer {
	CURL *h;
	struct base_buf body;
	bool too_big;
	/* streams */
	const struct k8s_client_stream_opts *stream;
	int stream_err;
	bool is_error_reply;
	uint64_t last_data_ms; /* base_time_mono_ms() of the last bytes of a stream */
};

static void client_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userptr)
{
	struct k8s_client *c = userptr;

	if ((unsigned int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->locks[data]);
}

static void client_unlock(CURL *h, curl_lock_data data, void *userptr)
{
	struct k8s_client *c = userptr;

	if ((unsigned int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->locks[data]);
}

int k8s_client_new(struct k8s_config *cfg, const struct k8s_client_opts *opts,
		   struct k8s_client **ret)
{
	struct k8s_client *c;
	int err;

	if (!cfg || !k8s_config_server(cfg))
		return -EINVAL;
	err = base_curl_load(NULL, 0);
	if (err < 0)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->cfg = cfg;
	c->connect_timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 60000;
	if (c->timeout_ms < 0)
		c->timeout_ms = 0; /* none, libcurl's 0 */
	else if (c->connect_timeout_ms > c->timeout_ms)
		c->connect_timeout_ms = c->timeout_ms;
	c->user_agent = strdup(opts && opts->user_agent ? opts->user_agent : "ig/" IG_VERSION);
	c->share = curl_share_init();
	if (!c->user_agent || !c->share) {
		k8s_client_free(c);
		return -ENOMEM;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, client_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, client_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*ret = c;
	return 0;
}

struct k8s_client *k8s_client_free(struct k8s_client *c)
{
	if (!c)
		return NULL;
	if (c->share)
		curl_share_cleanup(c->share);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->user_agent);
	free(c);
	return NULL;
}

struct k8s_config *k8s_client_config(const struct k8s_client *c)
{
	return c->cfg;
}

static const char *client_reason(long code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Request Entity Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

int k8s_client_status_errno(long http_code, const json_t *st)
{
	const char *reason = NULL;
	long code = http_code;

	if (json_is_object(st)) {
		json_t *jc = json_object_get(st, "code");

		reason = json_string_value(json_object_get(st, "reason"));
		if (json_is_integer(jc) && json_integer_value(jc) >= 100 &&
		    json_integer_value(jc) < 600)
			code = (long)json_integer_value(jc);
	}
	switch (code) {
	case 400:
	case 422:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return reason && !strcmp(reason, "AlreadyExists") ? -EEXIST : -EBUSY;
	case 410:
		return -ESTALE;
	case 413:
		return -E2BIG;
	case 415:
		return -EPROTONOSUPPORT;
	case 429:
	case 503:
		return -EAGAIN;
	case 504:
		return -ETIMEDOUT;
	default:
		if (code >= 200 && code < 300)
			return 0;
		if (code >= 400 && code < 500)
			return -EPROTO;
		return -EIO;
	}
}

/* "GET /api/v1/pods" without the query, for messages. */
static void client_what(char *buf, size_t size, const char *method, const char *path)
{
	size_t n = strcspn(path, "?");

	if (n > 200)
		n = 200;
	snprintf(buf, size, "%s %.*s", method, (int)n, path);
}

/* Maps a non-2xx reply; the message carries the server's own words when it gave any. */
static int client_http_error(long code, const struct base_buf *body, const char *what, char *err,
			     size_t errlen)
{
	json_t *st = NULL;
	const char *msg = NULL;
	int r;

	if (body->len && body->len <= K8S_CLIENT_MAX_ERROR_BODY)
		st = json_loadb(body->data, body->len, 0, NULL);
	if (st && !json_is_object(st)) {
		json_decref(st);
		st = NULL;
	}
	if (st)
		msg = json_string_value(json_object_get(st, "message"));
	r = k8s_client_status_errno(code, st);
	if (r == 0)
		r = -EPROTO;
	if (msg && *msg && strcmp(msg, client_reason(code)))
		base_err_set(err, errlen, "%s: %ld %s: %.300s", what, code, client_reason(code),
			     msg);
	else
		base_err_set(err, errlen, "%s: %ld %s", what, code, client_reason(code));
	base_log_debug("k8s: %s: HTTP %ld: %.*s", what, code,
		       (int)(body->len < 1024 ? body->len : 1024), body->data ? body->data : "");
	json_decref(st);
	return r;
}

static int client_curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
		return -EKEYREJECTED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int client_transport_error(struct k8s_client *c, CURLcode rc, const char *errbuf,
				  const char *what, char *err, size_t errlen)
{
	int r = client_curl_errno(rc);

	base_err_set(err, errlen, "%s: %s: %s", what, k8s_config_server(c->cfg),
		     errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
	base_log_debug("k8s: %s: curl error %d: %s", what, rc, errbuf ? errbuf : "");
	return r;
}

static size_t client_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct client_xfer *x = userdata;
	size_t n = size * nmemb;

	if (x->stream) {
		long code = 0;

		x->last_data_ms = base_time_mono_ms();
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			int r = x->stream->on_data(x->stream->userdata, data, n);

			if (r < 0) {
				x->stream_err = r;
				return 0;
			}
			return n;
		}
		x->is_error_reply = true;
		/* keep the start of an error body; the rest is not needed */
		if (x->body.len < K8S_CLIENT_MAX_ERROR_BODY)
			base_buf_append(&x->body, data,
					n < K8S_CLIENT_MAX_ERROR_BODY - x->body.len
						? n
						: K8S_CLIENT_MAX_ERROR_BODY - x->body.len);
		return n;
	}
	if (base_buf_append(&x->body, data, n) < 0) {
		x->too_big = true;
		return 0;
	}
	return n;
}

static struct curl_slist *client_header(struct curl_slist *hl, const char *name, const char *value,
					bool *oom)
{
	struct curl_slist *t;
	char *line;

	if (*oom)
		return hl;
	if (asprintf(&line, "%s: %s", name, value) < 0) {
		*oom = true;
		return hl;
	}
	t = curl_slist_append(hl, line);
	explicit_bzero(line, strlen(line));
	free(line);
	if (!t)
		*oom = true;
	return t ? t : hl;
}

/*
 * Sets up h for one transfer to path, with the credentials in *creds (got
 * here; release with k8s_config_creds_done()).  *headers receives the list
 * to free after the transfer.  On failure, -errno with a one-line reason in
 * msg.
 */
static int client_setup(struct k8s_client *c, CURL *h, const char *method, const char *path,
			const char *ctype, struct k8s_config_creds *creds,
			struct curl_slist **headers, char *errbuf, char *msg, size_t msglen)
{
	struct curl_slist *hl = NULL;
	struct curl_blob blob;
	const char *const *groups;
	char *url = NULL, *ct = NULL;
	const char *pem, *v;
	size_t len, n;
	bool oom = false;
	int r;

	*headers = NULL;
	msg[0] = '\0';
	if (strlen(path) > K8S_CLIENT_MAX_URL || path[0] != '/') {
		base_err_set(msg, msglen, "%s", strerror(EINVAL));
		return -EINVAL;
	}
	/* an exec plugin may run here; its failure is the message */
	r = k8s_config_creds(c->cfg, creds, msg, msglen);
	if (r < 0) {
		if (!msg[0])
			base_err_set(msg, msglen, "%s", strerror(-r));
		return r;
	}
	if (asprintf(&url, "%s%s", k8s_config_server(c->cfg), path) < 0)
		goto nomem;
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url); /* libcurl keeps its own copy */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write);
	/* proxy-url, else libcurl reads $https_proxy, $no_proxy and friends as kubectl does */
	v = k8s_config_proxy(c->cfg);
	if (v)
		curl_easy_setopt(h, CURLOPT_PROXY, v);

	if (!strcmp(method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

	if (k8s_config_insecure(c->cfg)) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	pem = k8s_config_ca(c->cfg, &len);
	if (pem) {
		blob = (struct curl_blob){.data = (void *)pem, .len = len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (creds->cert) {
		blob = (struct curl_blob){
			.data = creds->cert, .len = creds->cert_len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		blob = (struct curl_blob){
			.data = creds->key, .len = creds->key_len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}

	hl = client_header(hl, "Accept", "application/json", &oom);
	if (ctype)
		hl = client_header(hl, "Content-Type", ctype, &oom);
	if (creds->token) {
		if (asprintf(&ct, "Bearer %s", creds->token) < 0)
			goto nomem;
		hl = client_header(hl, "Authorization", ct, &oom);
		explicit_bzero(ct, strlen(ct));
		free(ct);
	}
	/* --as, --as-group, --as-uid: the API server's impersonation headers */
	v = k8s_config_as_user(c->cfg);
	if (v)
		hl = client_header(hl, "Impersonate-User", v, &oom);
	groups = k8s_config_as_groups(c->cfg, &n);
	for (size_t i = 0; i < n; i++)
		hl = client_header(hl, "Impersonate-Group", groups[i], &oom);
	v = k8s_config_as_uid(c->cfg);
	if (v)
		hl = client_header(hl, "Impersonate-Uid", v, &oom);
	if (oom)
		goto nomem;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	*headers = hl;
	return 0;
nomem:
	curl_slist_free_all(hl);
	k8s_config_creds_done(creds);
	base_err_set(msg, msglen, "%s", strerror(ENOMEM));
	return -ENOMEM;
}

/*
 * Performs one request on h, retrying once after a 401 with credentials
 * that changed since (a rotated token file, an exec plugin run again).
 * Returns the HTTP status, or -errno for a transport error; the body is in
 * x->body.
 */
static int client_perform(struct k8s_client *c, CURL *h, const char *method, const char *path,
			  const char *body, const char *ctype, struct client_xfer *x,
			  const char *what, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE], msg[K8S_CLIENT_ERRLEN];

	for (int attempt = 0;; attempt++) {
		struct k8s_config_creds creds = {0};
		struct curl_slist *headers = NULL;
		CURLcode rc;
		long code = 0;
		int r;

		errbuf[0] = '\0';
		base_buf_reset(&x->body);
		x->too_big = false;
		r = client_setup(c, h, method, path, body ? ctype : NULL, &creds, &headers, errbuf,
				 msg, sizeof(msg));
		if (r < 0) {
			/* a credential plugin's message names it: the request adds nothing */
			if (r == -ENOKEY)
				base_err_set(err, errlen, "%s", msg);
			else
				base_err_set(err, errlen, "%s: %s", what, msg);
			return r;
		}
		curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		if (body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		}
		rc = curl_easy_perform(h);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(headers);
		if (x->too_big) {
			k8s_config_creds_done(&creds);
			base_err_set(err, errlen, "%s: reply over %u bytes", what,
				     K8S_CLIENT_MAX_BODY);
			return -E2BIG;
		}
		if (rc != CURLE_OK) {
			k8s_config_creds_done(&creds);
			return client_transport_error(c, rc, errbuf, what, err, errlen);
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (code == 401 && attempt == 0 && k8s_config_refresh(c->cfg, &creds)) {
			k8s_config_creds_done(&creds);
			continue;
		}
		k8s_config_creds_done(&creds);
		return (int)code;
	}
}

static int client_reply_json(const struct client_xfer *x, const char *what, json_t **ret, char *err,
			     size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	if (!ret)
		return 0;
	*ret = NULL;
	if (!x->body.len)
		return 0;
	j = json_loadb(x->body.data, x->body.len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		base_err_set(err, errlen, "%s: reply is not a JSON object%s%s", what, j ? "" : ": ",
			     j ? "" : jerr.text);
		json_decref(j);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

int k8s_client_request(struct k8s_client *c, const char *method, const char *path,
		       const json_t *body, const char *content_type, json_t **ret, char *err,
		       size_t errlen)
{
	struct client_xfer x = {.body = BASE_BUF_INIT(K8S_CLIENT_MAX_BODY)};
	char what[256];
	char *text = NULL;
	int code, r;

	client_what(what, sizeof(what), method, path);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
	}
	x.h = curl_easy_init();
	if (!x.h) {
		free(text);
		return -ENOMEM;
	}
	code = client_perform(c, x.h, method, path, text,
			      content_type ? content_type : "application/json", &x, what, err,
			      errlen);
	if (code < 0) {
		r = code;
	} else if (code < 200 || code >= 300) {
		r = client_http_error(code, &x.body, what, err, errlen);
	} else {
		r = client_reply_json(&x, what, ret, err, errlen);
		if (r == 0)
			r = code;
	}
	curl_easy_cleanup(x.h);
	base_buf_done(&x.body);
	free(text);
	return r;
}

int k8s_client_get(struct k8s_client *c, const char *path, json_t **ret, char *err, size_t errlen)
{
	return k8s_client_request(c, "GET", path, NULL, NULL, ret, err, errlen);
}

int k8s_client_post(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		    char *err, size_t errlen)
{
	return k8s_client_request(c, "POST", path, body, NULL, ret, err, errlen);
}

int k8s_client_put(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		   char *err, size_t errlen)
{
	return k8s_client_request(c, "PUT", path, body, NULL, ret, err, errlen);
}

int k8s_client_patch(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		     char *err, size_t errlen)
{
	return k8s_client_request(c, "PATCH", path, body, "application/merge-patch+json", ret, err,
				  errlen);
}

int k8s_client_delete(struct k8s_client *c, const char *path, json_t **ret, char *err,
		      size_t errlen)
{
	return k8s_client_request(c, "DELETE", path, NULL, NULL, ret, err, errlen);
}

int k8s_client_add_query(char *path, size_t size, const char *key, const char *value)
{
	size_t len = strlen(path);
	char *esc;
	int n;

	if (len >= size)
		return -E2BIG;
	esc = curl_easy_escape(NULL, value, 0);
	if (!esc)
		return -ENOMEM;
	n = snprintf(path + len, size - len, "%c%s=%s", strchr(path, '?') ? '&' : '?', key, esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= size - len) {
		path[len] = '\0';
		return -E2BIG;
	}
	return 0;
}

int k8s_client_list(struct k8s_client *c, const char *path, const struct k8s_client_list_opts *opts,
		    k8s_client_item_fn fn, void *userdata, char **ret_rv, char *err, size_t errlen)
{
	struct client_xfer x = {.body = BASE_BUF_INIT(K8S_CLIENT_MAX_BODY)};
	unsigned int limit = opts && opts->limit ? opts->limit : K8S_CLIENT_DEFAULT_LIMIT;
	char *cont = NULL, *rv = NULL;
	char *url = NULL;
	char what[256], num[32];
	int r = 0;

	client_what(what, sizeof(what), "GET", path);
	url = malloc(K8S_CLIENT_MAX_URL + 1);
	x.h = curl_easy_init();
	if (!url || !x.h) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned long page = 0;; page++) {
		json_t *reply = NULL, *items, *meta;
		const char *next, *page_rv;
		bool oom;
		int code;

		if (page >= K8S_CLIENT_MAX_PAGES) {
			base_err_set(err, errlen, "%s: more than %u pages", what,
				     K8S_CLIENT_MAX_PAGES);
			r = -E2BIG;
			goto out;
		}
		if (strlen(path) >= K8S_CLIENT_MAX_URL) {
			r = -E2BIG;
			goto out;
		}
		snprintf(url, K8S_CLIENT_MAX_URL + 1, "%s", path);
		snprintf(num, sizeof(num), "%u", limit);
		r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "limit", num);
		if (!r && opts && opts->field_selector && *opts->field_selector)
			r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "fieldSelector",
						 opts->field_selector);
		if (!r && opts && opts->label_selector && *opts->label_selector)
			r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "labelSelector",
						 opts->label_selector);
		if (!r && cont)
			r = k8s_client_add_query(url, K8S_CLIENT_MAX_URL + 1, "continue", cont);
		if (r < 0) {
			base_err_set(err, errlen, "%s: request too long", what);
			goto out;
		}
		base_log_debug("k8s: list page %lu: GET %.300s", page + 1, url);
		code = client_perform(c, x.h, "GET", url, NULL, NULL, &x, what, err, errlen);
		if (code < 0) {
			r = code;
			goto out;
		}
		if (code < 200 || code >= 300) {
			r = client_http_error(code, &x.body, what, err, errlen);
			goto out;
		}
		r = client_reply_json(&x, what, &reply, err, errlen);
		if (r < 0)
			goto out;
		items = json_object_get(reply, "items");
		meta = json_object_get(reply, "metadata");
		if (!reply || !(json_is_array(items) || json_is_null(items) || !items) ||
		    (meta && !json_is_object(meta))) {
			base_err_set(err, errlen, "%s: reply is not a list", what);
			json_decref(reply);
			r = -EBADMSG;
			goto out;
		}
		for (size_t i = 0; json_is_array(items) && i < json_array_size(items); i++) {
			r = fn(userdata, json_array_get(items, i));
			if (r < 0) {
				json_decref(reply);
				goto out;
			}
		}
		next = json_string_value(json_object_get(meta, "continue"));
		page_rv = json_string_value(json_object_get(meta, "resourceVersion"));
		free(rv);
		rv = page_rv ? strdup(page_rv) : NULL;
		free(cont);
		cont = next && *next ? strdup(next) : NULL;
		oom = (page_rv && !rv) || (next && *next && !cont);
		json_decref(reply);
		if (oom) {
			r = -ENOMEM;
			goto out;
		}
		if (!cont)
			break;
		base_buf_reset(&x.body);
	}
	if (ret_rv) {
		*ret_rv = rv;
		rv = NULL;
	}
	r = 0;
out:
	if (x.h)
		curl_easy_cleanup(x.h);
	base_buf_done(&x.body);
	free(url);
	free(cont);
	free(rv);
	return r;
}

int k8s_client_stream(struct k8s_client *c, const char *path,
		      const struct k8s_client_stream_opts *opts, char *err, size_t errlen)
{
	struct client_xfer x = {.body = BASE_BUF_INIT(K8S_CLIENT_MAX_ERROR_BODY), .stream = opts};
	struct curl_slist *headers = NULL;
	struct k8s_config_creds creds = {0};
	char errbuf[CURL_ERROR_SIZE] = "", why[K8S_CLIENT_ERRLEN];
	char what[256];
	CURLM *m = NULL;
	CURLcode rc = CURLE_OK;
	long code = 0;
	int running = 1, r;

	client_what(what, sizeof(what), "GET", path);
	x.h = curl_easy_init();
	m = curl_multi_init();
	if (!x.h || !m) {
		r = -ENOMEM;
		goto out;
	}
	r = client_setup(c, x.h, "GET", path, NULL, &creds, &headers, errbuf, why, sizeof(why));
	if (r < 0) {
		if (r == -ENOKEY)
			base_err_set(err, errlen, "%s", why);
		else
			base_err_set(err, errlen, "%s: %s", what, why);
		goto out;
	}
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.h, CURLOPT_TIMEOUT_MS, 0L);
	x.last_data_ms = base_time_mono_ms();
	curl_multi_add_handle(m, x.h);
	while (running) {
		CURLMcode mc = curl_multi_perform(m, &running);

		if (mc != CURLM_OK) {
			r = -EIO;
			base_err_set(err, errlen, "%s: %s", what, curl_multi_strerror(mc));
			goto out_remove;
		}
		if (x.stream_err)
			break;
		if (!running)
			break;
		if (opts->cancel && atomic_load(opts->cancel)) {
			r = -ECANCELED;
			base_err_set(err, errlen, "%s: cancelled", what);
			goto out_remove;
		}
		if (opts->idle_timeout_s &&
		    base_time_mono_ms() - x.last_data_ms > (uint64_t)opts->idle_timeout_s * 1000) {
			r = -ETIMEDOUT;
			base_err_set(err, errlen, "%s: no data for %u s", what,
				     opts->idle_timeout_s);
			goto out_remove;
		}
		curl_multi_poll(m, NULL, 0, CLIENT_STREAM_POLL_MS, NULL);
		if (opts->on_poll)
			opts->on_poll(opts->userdata);
	}
	for (;;) {
		int left;
		CURLMsg *msg = curl_multi_info_read(m, &left);

		if (!msg)
			break;
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	}
	curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &code);
	if (x.stream_err) {
		r = x.stream_err;
	} else if (code && (code < 200 || code >= 300)) {
		if (code == 401)
			k8s_config_refresh(c->cfg, &creds);
		r = client_http_error(code, &x.body, what, err, errlen);
	} else if (rc != CURLE_OK) {
		r = client_transport_error(c, rc, errbuf, what, err, errlen);
	} else {
		r = 0;
	}
out_remove:
	curl_multi_remove_handle(m, x.h);
out:
	if (m)
		curl_multi_cleanup(m);
	if (x.h)
		curl_easy_cleanup(x.h);
	curl_slist_free_all(headers);
	k8s_config_creds_done(&creds);
	base_buf_done(&x.body);
	return r;
}
