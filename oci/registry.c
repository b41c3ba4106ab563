// SPDX-License-Identifier: Apache-2.0
/*
 * Registry client over the OCI distribution spec with libcurl.  See
 * registry.h for what it does and the errors it returns.
 *
 * One curl easy handle per client, reset before every request, so that
 * connections are reused across the many small requests of a push or pull
 * while no option leaks from one request into the next.  Redirects are
 * followed here rather than by libcurl: registries send blob GETs to object
 * storage on another host, and the Authorization header must not follow
 * them there, nor may a redirect leave http(s) or drop from HTTPS to HTTP.
 *
 * Every byte that arrives goes through reg_write_cb(), which bounds it:
 * manifests by OCI_REGISTRY_MAX_MANIFEST, blobs by the size their descriptor
 * announces, error bodies and token replies by OCI_REGISTRY_MAX_REPLY.
 */
#include "oci/registry.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/curl.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "oci/auth.h"
#include "oci/ref.h"
#include "oci/store.h"

#define REG_DOCKER_LIST	    "application/vnd.docker.distribution.manifest.list.v2+json"
#define REG_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_ACCEPT                                                                                 \
	"Accept: " OCI_MEDIA_TYPE_INDEX ", " OCI_MEDIA_TYPE_MANIFEST ", " REG_DOCKER_LIST          \
	", " REG_DOCKER_MANIFEST

#define REG_DEFAULT_CONNECT_MS 10000
#define REG_DEFAULT_STALL_MS   30000
/* A whole pull or push, and the slowest transfer kept (averaged over the stall time). */
#define REG_DEFAULT_DEADLINE_MS 600000
#define REG_DEFAULT_MIN_RATE	16384
/* Redirects followed for one request. */
#define REG_MAX_REDIRECTS 5
/* Longest Location, Content-Type or digest header kept. */
#define REG_MAX_HEADER 8192
/* Tokens cached per client (one per scope: a push uses one, a pull one). */
#define REG_MAX_TOKENS 16
/* Nesting of indexes inside indexes followed by a pull. */
#define REG_MAX_DEPTH 4
/* How often the progress callback runs during one transfer. */
#define REG_PROGRESS_MS 250

struct reg_token {
	char *scope;
	char *value;
};

struct oci_registry {
	char *registry;
	char *base_url; /* "https://host:port" */
	const char *protocols;
	bool plain_http;
	bool tls_skip_verify;
	char *ca_file;
	char *user, *password;
	long connect_timeout_ms;
	long stall_timeout_ms;
	long deadline_ms;
	long min_rate;
	uint64_t deadline_at; /* CLOCK_MONOTONIC ms: the end of the pull or push under way */
	oci_registry_progress_fn progress;
	void *progress_userdata;
	CURL *curl;
	bool basic; /* the registry asked for Basic: send it up front */
	struct reg_token tokens[REG_MAX_TOKENS];
	size_t n_tokens;
	char curl_err[CURL_ERROR_SIZE];
	char err[512];
};

/* One HTTP exchange, with its bounded response. */
struct reg_req {
	const char *method; /* GET HEAD POST PUT */
	char *url;
	const char *scope;	  /* bearer token scope; NULL for none */
	const char *accept;	  /* a whole "Accept: ..." header, or NULL */
	const char *content_type; /* of the body */
	const void *body;
	size_t body_len;

	struct base_buf *out;	 /* 2xx body; NULL to discard it */
	struct oci_digest *hash; /* fed with the 2xx body when not NULL */
	const char *what;	 /* names the transfer for progress; NULL for none */
	uint64_t total;		 /* its expected size */

	/* filled in by the transfer */
	long status;
	char *location;
	char *content_type_out;
	char *docker_digest;
	char *www_authenticate;
	struct base_buf errbody;
	uint64_t discarded;
	int cb_err; /* why a callback stopped the transfer */
	uint64_t last_progress_ms;
	struct oci_registry *r;
};

static int reg_fail(struct oci_registry *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int reg_fail(struct oci_registry *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	base_log_debug("oci registry %s: %s", r->registry, r->err);
	return err;
}

static bool reg_is_index_type(const char *t)
{
	return t && (!strcmp(t, OCI_MEDIA_TYPE_INDEX) || !strcmp(t, REG_DOCKER_LIST));
}

static bool reg_is_manifest_type(const char *t)
{
	return t && (!strcmp(t, OCI_MEDIA_TYPE_MANIFEST) || !strcmp(t, REG_DOCKER_MANIFEST));
}

/* ---- object ---- */

struct oci_registry *oci_registry_free(struct oci_registry *r)
{
	if (!r)
		return NULL;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	for (size_t i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].scope);
		if (r->tokens[i].value)
			explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
		free(r->tokens[i].value);
	}
	if (r->password)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->user);
	free(r->ca_file);
	free(r->base_url);
	free(r->registry);
	free(r);
	return NULL;
}

const char *oci_registry_errmsg(const struct oci_registry *r)
{
	return r->err;
}

static char *reg_strdup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int oci_registry_new(const struct oci_registry_opts *opts, struct oci_registry **ret)
{
	struct oci_registry *r;
	const char *host;
	bool fail = false;
	size_t len;

	int err;

	if (!opts || !opts->registry || !*opts->registry || !!opts->username != !!opts->password)
		return -EINVAL;
	len = strlen(opts->registry);
	if (len > OCI_REF_NAME_MAX_LEN || strcspn(opts->registry, "/ \t\r\n?#@") != len)
		return -EINVAL;
	err = base_curl_load(NULL, 0);
	if (err < 0)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->registry = reg_strdup_opt(opts->registry, &fail);
	r->ca_file = reg_strdup_opt(opts->ca_file, &fail);
	r->user = reg_strdup_opt(opts->username, &fail);
	r->password = reg_strdup_opt(opts->password, &fail);
	r->plain_http = opts->plain_http;
	r->tls_skip_verify = opts->tls_skip_verify;
	r->connect_timeout_ms =
		opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : REG_DEFAULT_CONNECT_MS;
	r->stall_timeout_ms =
		opts->stall_timeout_ms > 0 ? opts->stall_timeout_ms : REG_DEFAULT_STALL_MS;
	r->deadline_ms = opts->deadline_ms > 0 ? opts->deadline_ms : REG_DEFAULT_DEADLINE_MS;
	r->min_rate = opts->min_rate > 0 ? opts->min_rate : REG_DEFAULT_MIN_RATE;
	r->progress = opts->progress;
	r->progress_userdata = opts->progress_userdata;
	/* Plain HTTP registries may still hand out tokens from an HTTPS realm. */
	r->protocols = r->plain_http ? "http,https" : "https";
	/* Docker Hub's API lives on another name than its references use. */
	host = strcmp(opts->registry, "docker.io") ? opts->registry : "registry-1.docker.io";
	if (asprintf(&r->base_url, "%s://%s", r->plain_http ? "http" : "https", host) < 0) {
		r->base_url = NULL;
		fail = true;
	}
	if (fail) {
		oci_registry_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

/* ---- one transfer ---- */

static void reg_req_reset_reply(struct reg_req *q)
{
	q->status = 0;
	free(q->location);
	free(q->content_type_out);
	free(q->docker_digest);
	free(q->www_authenticate);
	q->location = q->content_type_out = q->docker_digest = q->www_authenticate = NULL;
	base_buf_reset(&q->errbody);
	q->discarded = 0;
	q->cb_err = 0;
}

static void reg_req_done(struct reg_req *q)
{
	reg_req_reset_reply(q);
	base_buf_done(&q->errbody);
	free(q->url);
	q->url = NULL;
}

static bool reg_ok(long status)
{
	return status >= 200 && status < 300;
}

static size_t reg_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct reg_req *q = userdata;
	size_t n = size * nmemb;
	int r;

	if (!reg_ok(q->status)) {
		/* Error bodies only explain: keep the start, drop the rest. */
		size_t room = OCI_REGISTRY_MAX_REPLY - q->errbody.len;

		if (room)
			base_buf_append(&q->errbody, ptr, n < room ? n : room);
		return n;
	}
	if (!q->out) {
		q->discarded += n;
		if (q->discarded > OCI_REGISTRY_MAX_REPLY) {
			q->cb_err = -EFBIG;
			return 0;
		}
		return n;
	}
	r = base_buf_append(q->out, ptr, n);
	if (r < 0) {
		q->cb_err = r == -E2BIG ? -EFBIG : r;
		return 0;
	}
	if (q->hash && oci_digest_update(q->hash, ptr, n) < 0) {
		q->cb_err = -ENOMEM;
		return 0;
	}
	return n;
}

/* Copies a header value (trimmed) into a new string, bounded. */
static int reg_header_value(const char *v, size_t len, size_t max, char **ret)
{
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' ||
		       v[len - 1] == '\t'))
		len--;
	if (len > max)
		return -EFBIG;
	free(*ret);
	*ret = strndup(v, len);
	return *ret ? 0 : -ENOMEM;
}

static bool reg_header_is(const char *line, size_t len, const char *name, const char **value,
			  size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n))
		return false;
	*value = line + n + 1;
	*vlen = len - n - 1;
	return true;
}

static size_t reg_header_cb(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct reg_req *q = userdata;
	size_t len = size * nmemb;
	const char *v;
	size_t vlen;
	int r = 0;

	if (len > 5 && !strncmp(line, "HTTP/", 5)) {
		const char *sp = memchr(line, ' ', len);

		/* A new status line (after a 100 Continue): forget the old headers. */
		reg_req_reset_reply(q);
		if (sp && sp + 4 <= line + len)
			q->status = strtol(sp + 1, NULL, 10);
		return len;
	}
	if (reg_header_is(line, len, "location", &v, &vlen))
		r = reg_header_value(v, vlen, REG_MAX_HEADER, &q->location);
	else if (reg_header_is(line, len, "content-type", &v, &vlen))
		r = reg_header_value(v, vlen, REG_MAX_HEADER, &q->content_type_out);
	else if (reg_header_is(line, len, "docker-content-digest", &v, &vlen))
		r = reg_header_value(v, vlen, OCI_DIGEST_MAX_LEN, &q->docker_digest);
	else if (reg_header_is(line, len, "www-authenticate", &v, &vlen) && !q->www_authenticate)
		r = reg_header_value(v, vlen, OCI_REGISTRY_MAX_CHALLENGE, &q->www_authenticate);
	if (r < 0) {
		q->cb_err = r;
		return 0;
	}
	return len;
}

static int reg_xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			   curl_off_t ulnow)
{
	struct reg_req *q = userdata;
	struct oci_registry *r = q->r;
	uint64_t now = base_time_mono_ms();
	curl_off_t done = ulnow > dlnow ? ulnow : dlnow;

	/* An upload has no status until it is sent; a known error status is no progress. */
	if (!r->progress || !q->what || (q->status && !reg_ok(q->status)) || done <= 0)
		return 0;
	if (now - q->last_progress_ms < REG_PROGRESS_MS)
		return 0;
	q->last_progress_ms = now;
	r->progress(r->progress_userdata, q->what, (uint64_t)done, q->total);
	return 0;
}

/* Translates a failed transfer into -errno and a message naming the registry. */
static int reg_curl_fail(struct oci_registry *r, struct reg_req *q, CURLcode code)
{
	const char *detail = r->curl_err[0] ? r->curl_err : curl_easy_strerror(code);
	long os_errno = 0;

	base_log_debug("oci registry: %s %s: curl %d: %s", q->method, q->url, (int)code, detail);
	switch (code) {
	case CURLE_WRITE_ERROR:
		if (q->cb_err == -EFBIG)
			return reg_fail(r, -EFBIG, "reply from %s to %s %s exceeds the size limit",
					r->registry, q->method, q->what ? q->what : "request");
		if (q->cb_err < 0)
			return reg_fail(r, q->cb_err, "reading the reply from %s failed: %s",
					r->registry, strerror(-q->cb_err));
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(r->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
			return reg_fail(r, -EHOSTUNREACH, "cannot reach %s: %s", r->registry,
					strerror(os_errno));
		return reg_fail(r, -ECONNREFUSED,
				"cannot connect to %s: connection refused (is the registry "
				"running?)",
				r->registry);
	case CURLE_COULDNT_RESOLVE_HOST:
		return reg_fail(r, -EHOSTUNREACH, "cannot resolve the host of %s", r->registry);
	case CURLE_OPERATION_TIMEDOUT:
		/* curl's own clock may end the transfer a hair before ours */
		if (base_time_mono_ms() + 100 >= r->deadline_at)
			return reg_fail(r, -ETIMEDOUT,
					"%s: given up after %ld s (the time a pull or "
					"push may take)",
					r->registry, r->deadline_ms / 1000);
		return reg_fail(r, -ETIMEDOUT, "%s stopped answering or sends too slowly (%s)",
				r->registry, detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		return reg_fail(r, -EKEYREJECTED, "the TLS certificate of %s is not trusted: %s",
				r->registry, detail);
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return reg_fail(r, -EINVAL, "cannot use the CA file %s: %s",
				r->ca_file ? r->ca_file : "(system)", detail);
	case CURLE_SSL_CONNECT_ERROR:
		return reg_fail(r, -EPROTO,
				"TLS handshake with %s failed (does it serve plain HTTP?): %s",
				r->registry, detail);
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return reg_fail(r, -ECONNRESET, "connection to %s broke during %s %s: %s",
				r->registry, q->method, q->what ? q->what : "a request", detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return reg_fail(r, -EPROTO, "%s: refusing %s", r->registry, detail);
	default:
		break;
	}
	return reg_fail(r, -EIO, "%s %s on %s failed: %s", q->method, q->what ? q->what : "request",
			r->registry, detail);
}

static int reg_setup(struct oci_registry *r, struct reg_req *q, struct curl_slist *headers)
{
	uint64_t now = base_time_mono_ms();
	CURL *c = r->curl;
	bool fail = false;

	if (now >= r->deadline_at)
		return reg_fail(r, -ETIMEDOUT,
				"%s: given up after %ld s (the time a pull or push may "
				"take)",
				r->registry, r->deadline_ms / 1000);

	curl_easy_reset(c);
	r->curl_err[0] = '\0';
#define SET(opt, val) fail |= curl_easy_setopt(c, opt, val) != CURLE_OK
	SET(CURLOPT_URL, q->url);
	SET(CURLOPT_PROTOCOLS_STR, r->protocols);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, r->protocols);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, r->curl_err);
	SET(CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
	/* a registry that drips bytes is as good as one that stopped */
	SET(CURLOPT_LOW_SPEED_LIMIT, r->min_rate);
	SET(CURLOPT_LOW_SPEED_TIME, (r->stall_timeout_ms + 999) / 1000);
	SET(CURLOPT_TIMEOUT_MS, (long)(r->deadline_at - now));
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_WRITEFUNCTION, reg_write_cb);
	SET(CURLOPT_WRITEDATA, q);
	SET(CURLOPT_HEADERFUNCTION, reg_header_cb);
	SET(CURLOPT_HEADERDATA, q);
	SET(CURLOPT_XFERINFOFUNCTION, reg_xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, q);
	SET(CURLOPT_NOPROGRESS, 0L);
#ifdef IG_VERSION
	SET(CURLOPT_USERAGENT, "ig/" IG_VERSION);
#endif
	if (r->tls_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (r->ca_file) {
		/*
		 * CAINFO replaces the default bundle; the system directory stays
		 * trusted through CAPATH, so the file adds to it.
		 */
		const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);

		SET(CURLOPT_CAINFO, r->ca_file);
		if (vi && vi->capath)
			SET(CURLOPT_CAPATH, vi->capath);
	}
	if (!strcmp(q->method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "POST") || !strcmp(q->method, "PUT")) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		SET(CURLOPT_POSTFIELDS, q->body ? q->body : "");
		if (!strcmp(q->method, "PUT"))
			SET(CURLOPT_CUSTOMREQUEST, "PUT");
	}
#undef SET
	return fail ? reg_fail(r, -EINVAL, "cannot configure libcurl") : 0;
}

/* scheme://host:port of a URL, to tell whether a redirect leaves the origin. */
static int reg_url_origin(const char *url, char **ret_scheme, char **ret_origin)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u = curl_url();
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		r = asprintf(ret_origin, "%s://%s:%s", scheme, host, port) < 0 ? -ENOMEM : 0;
	if (r == 0) {
		*ret_scheme = strdup(scheme);
		if (!*ret_scheme) {
			free(*ret_origin);
			r = -ENOMEM;
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* Resolves location (absolute or relative) against base into a new string. */
static int reg_url_resolve(const char *base, const char *location, char **ret)
{
	CURLU *u = curl_url();
	char *out = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
		*ret = strdup(out);
		r = *ret ? 0 : -ENOMEM;
	}
	curl_free(out);
	curl_url_cleanup(u);
	return r;
}

/* The host of a URL (lowercase as libcurl gives it), in a new string. */
static int reg_url_host(const char *url, char **ret)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		*ret = strdup(host);
		r = *ret ? 0 : -ENOMEM;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

/* True when url is on the origin (scheme, host, port) of base. */
static bool reg_same_origin(const char *url, const char *base)
{
	char *s1 = NULL, *o1 = NULL, *s2 = NULL, *o2 = NULL;
	bool same = false;

	if (reg_url_origin(url, &s1, &o1) == 0 && reg_url_origin(base, &s2, &o2) == 0)
		same = !strcmp(o1, o2);
	free(s1);
	free(o1);
	free(s2);
	free(o2);
	return same;
}

/*
 * Whether the registry's credentials may go to a token realm it named: only
 * on the registry's own host (any port, as registries run their token
 * service beside them), or Docker Hub's known pair.  A realm elsewhere is
 * asked for an anonymous token: a registry that was broken into, or a
 * challenge relayed from elsewhere, must not be able to send the user's
 * password to a host of its choosing.
 */
static bool reg_realm_trusted(const struct oci_registry *r, const char *realm)
{
	char *rh = NULL, *th = NULL;
	bool ok = false;

	if (reg_url_host(r->base_url, &rh) == 0 && reg_url_host(realm, &th) == 0)
		ok = !strcasecmp(rh, th) ||
		     (!strcmp(r->registry, "docker.io") && !strcasecmp(th, "auth.docker.io"));
	free(rh);
	free(th);
	return ok;
}

/*
 * Runs q once with auth (an "Authorization: ..." header or NULL), following
 * redirects of GET and HEAD.  Authorization is only sent to the origin it
 * was meant for.
 */
static int reg_perform(struct oci_registry *r, struct reg_req *q, const char *auth)
{
	char *origin = NULL, *scheme = NULL;
	int redirects = 0, err;

	err = reg_url_origin(q->url, &scheme, &origin);
	if (err < 0)
		return reg_fail(r, err, "%s: invalid URL %.200s", r->registry, q->url);
	free(scheme);
	for (;;) {
		struct curl_slist *headers = NULL, *h;
		char *new_origin = NULL, *next = NULL;
		bool fail = false;
		CURLcode code;

		reg_req_reset_reply(q);
		q->last_progress_ms = 0;
		h = curl_slist_append(headers, "Expect:");
		fail |= !h;
		headers = h ? h : headers;
		if (q->accept && !fail) {
			h = curl_slist_append(headers, q->accept);
			fail |= !h;
			headers = h ? h : headers;
		}
		if (q->content_type && !fail) {
			char ct[256];

			snprintf(ct, sizeof(ct), "Content-Type: %s", q->content_type);
			h = curl_slist_append(headers, ct);
			fail |= !h;
			headers = h ? h : headers;
		}
		if (auth && !fail) {
			h = curl_slist_append(headers, auth);
			fail |= !h;
			headers = h ? h : headers;
		}
		err = fail ? -ENOMEM : reg_setup(r, q, headers);
		if (err == 0) {
			code = curl_easy_perform(r->curl);
			if (code != CURLE_OK)
				err = reg_curl_fail(r, q, code);
		}
		curl_slist_free_all(headers);
		if (err < 0)
			break;
		if (q->status < 300 || q->status >= 400 || q->status == 304)
			break;
		if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD"))
			break; /* reported by the caller as an unexpected status */
		if (!q->location) {
			err = reg_fail(r, -EPROTO, "%s answered %ld without a Location",
				       r->registry, q->status);
			break;
		}
		if (++redirects > REG_MAX_REDIRECTS) {
			err = reg_fail(r, -EPROTO, "%s redirected more than %d times", r->registry,
				       REG_MAX_REDIRECTS);
			break;
		}
		err = reg_url_resolve(q->url, q->location, &next);
		if (err == 0)
			err = reg_url_origin(next, &scheme, &new_origin);
		if (err < 0) {
			free(next);
			err = reg_fail(r, -EPROTO, "%s redirected to an invalid URL", r->registry);
			break;
		}
		if (strcmp(scheme, "https") && (strcmp(scheme, "http") || !r->plain_http)) {
			err = reg_fail(r, -EPROTO, "%s redirected to a %s URL, refused",
				       r->registry, scheme);
			free(scheme);
			free(new_origin);
			free(next);
			break;
		}
		free(scheme);
		if (strcmp(new_origin, origin))
			auth = NULL;
		free(origin);
		origin = new_origin;
		free(q->url);
		q->url = next;
	}
	free(origin);
	return err;
}

/* "CODE: message" from a registry's error body, for messages; "" if none. */
static void reg_error_detail(const struct reg_req *q, char *buf, size_t len)
{
	json_t *root, *e;
	const char *code, *msg;

	buf[0] = '\0';
	if (!q->errbody.len)
		return;
	root = json_loadb(q->errbody.data, q->errbody.len, 0, NULL);
	e = json_array_get(json_object_get(root, "errors"), 0);
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	if (code && msg)
		snprintf(buf, len, " (%.60s: %.200s)", code, msg);
	else if (msg)
		snprintf(buf, len, " (%.200s)", msg);
	json_decref(root);
}

/* ---- authentication ---- */

static const char *reg_token_get(struct oci_registry *r, const char *scope)
{
	for (size_t i = 0; i < r->n_tokens; i++)
		if (!strcmp(r->tokens[i].scope, scope ? scope : ""))
			return r->tokens[i].value;
	return NULL;
}

static void reg_token_drop(struct oci_registry *r, const char *scope)
{
	for (size_t i = 0; i < r->n_tokens; i++) {
		if (strcmp(r->tokens[i].scope, scope ? scope : ""))
			continue;
		free(r->tokens[i].scope);
		explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
		free(r->tokens[i].value);
		r->tokens[i] = r->tokens[--r->n_tokens];
		return;
	}
}

static int reg_token_put(struct oci_registry *r, const char *scope, char *value)
{
	char *s;

	reg_token_drop(r, scope);
	if (r->n_tokens == REG_MAX_TOKENS)
		reg_token_drop(r, r->tokens[0].scope);
	s = strdup(scope ? scope : "");
	if (!s)
		return -ENOMEM;
	r->tokens[r->n_tokens].scope = s;
	r->tokens[r->n_tokens].value = value;
	r->n_tokens++;
	return 0;
}

static int reg_basic_header(struct oci_registry *r, char **ret)
{
	char *b64 = NULL;
	int n;

	n = oci_auth_encode_basic(r->user, r->password, &b64);
	if (n < 0)
		return n;
	n = asprintf(ret, "Authorization: Basic %s", b64);
	explicit_bzero(b64, strlen(b64));
	free(b64);
	return n < 0 ? -ENOMEM : 0;
}

/* Appends "name=value" (value URL-escaped) to a query string. */
static int reg_query_add(CURL *c, struct base_buf *b, const char *name, const char *value)
{
	char *esc;
	int r;

	esc = curl_easy_escape(c, value, 0);
	if (!esc)
		return -ENOMEM;
	r = base_buf_printf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', name, esc);
	curl_free(esc);
	return r;
}

/*
 * Fetches a token from the challenge's realm, with the credentials when
 * there are some, for scope (what the whole operation needs: a push asks
 * for pull,push at its first HEAD, so one token serves it) and the
 * challenge's own scope (what this request needs) when that differs.
 */
static int reg_fetch_token(struct oci_registry *r, const struct oci_auth_challenge *ch,
			   const char *scope)
{
	struct base_buf url = BASE_BUF_INIT(REG_MAX_HEADER);
	struct base_buf body = BASE_BUF_INIT(OCI_REGISTRY_MAX_REPLY);
	struct reg_req q = {.method = "GET", .out = &body, .r = r};
	char *auth = NULL, *value, detail[300];
	json_t *root = NULL, *tok;
	bool withheld;
	int err;

	if (strncmp(ch->realm, "https://", 8) && strncmp(ch->realm, "http://", 7))
		return reg_fail(r, -EPROTO, "%s sent a token realm that is not an http(s) URL",
				r->registry);
	err = base_buf_puts(&url, ch->realm);
	if (err == 0 && ch->service)
		err = reg_query_add(r->curl, &url, "service", ch->service);
	if (err == 0 && scope)
		err = reg_query_add(r->curl, &url, "scope", scope);
	if (err == 0 && ch->scope && (!scope || strcmp(ch->scope, scope)))
		err = reg_query_add(r->curl, &url, "scope", ch->scope);
	withheld = r->user && !reg_realm_trusted(r, ch->realm);
	if (err == 0 && r->user && !withheld)
		err = reg_basic_header(r, &auth);
	if (withheld)
		base_log_debug("oci registry %s: token realm %.200s is on another host: asking "
			       "it without the credentials",
			       r->registry, ch->realm);
	if (err < 0) {
		base_buf_done(&url);
		return err == -E2BIG
			       ? reg_fail(r, -EFBIG, "%s: token realm URL too long", r->registry)
			       : err;
	}
	q.url = base_buf_take(&url);
	err = reg_perform(r, &q, auth);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (err < 0)
		goto out;
	reg_error_detail(&q, detail, sizeof(detail));
	if (q.status == 401 || q.status == 403) {
		if (withheld)
			err = reg_fail(r, -EACCES,
				       "%ld %s from the token service of %s: anonymous access "
				       "refused (its realm %.200s is not on %s, so the credentials "
				       "saved for %s are not sent there)%s",
				       q.status, q.status == 401 ? "Unauthorized" : "Forbidden",
				       r->registry, ch->realm, r->registry, r->registry, detail);
		else
			err = reg_fail(
				r, -EACCES, "%ld %s from the token service of %s: %s%s", q.status,
				q.status == 401 ? "Unauthorized" : "Forbidden", r->registry,
				r->user ? "bad credentials" : "anonymous access refused", detail);
		goto out;
	}
	if (!reg_ok(q.status)) {
		err = reg_fail(r, -EPROTO, "the token service of %s answered %ld%s", r->registry,
			       q.status, detail);
		goto out;
	}
	root = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
	tok = json_object_get(root, "token");
	if (!json_is_string(tok))
		tok = json_object_get(root, "access_token");
	if (!json_is_string(tok) || json_string_length(tok) == 0 ||
	    strcspn(json_string_value(tok), "\r\n") != json_string_length(tok)) {
		err = reg_fail(r, -EPROTO, "the token service of %s sent no usable token",
			       r->registry);
		goto out;
	}
	value = strdup(json_string_value(tok));
	err = value ? reg_token_put(r, scope, value) : -ENOMEM;
	if (err < 0)
		free(value);
out:
	json_decref(root);
	if (body.data)
		explicit_bzero(body.data, body.len);
	base_buf_done(&body);
	reg_req_done(&q);
	return err;
}

/*
 * Runs q, answering the registry's challenge on a 401 (Basic or Bearer) and
 * retrying once with the credentials or token.  Returns 0 with q->status set
 * to whatever the registry finally said (the caller judges it), or -errno
 * for transport failures and rejected credentials.
 */
static int reg_request(struct oci_registry *r, struct reg_req *q)
{
	struct oci_auth_challenge ch = {0};
	bool fresh_token = false, sent_basic = false, own;
	char *auth = NULL, *start, detail[300];
	const char *token;
	int err = 0;

	q->r = r;
	/*
	 * Every attempt starts at the registry: a 401 at the end of a
	 * redirect must not send the credentials to where it led.
	 */
	start = strdup(q->url);
	if (!start)
		return -ENOMEM;
	/*
	 * A URL the registry handed out (an upload Location) may be on
	 * another host: it gets no credentials, as a redirect would not.
	 */
	own = reg_same_origin(start, r->base_url);
	for (int attempt = 0; attempt < 3; attempt++) {
		free(auth);
		auth = NULL;
		if (strcmp(q->url, start)) {
			free(q->url);
			q->url = strdup(start);
			if (!q->url) {
				err = -ENOMEM;
				break;
			}
		}
		token = own ? reg_token_get(r, q->scope) : NULL;
		if (token) {
			if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
				auth = NULL;
				err = -ENOMEM;
				break;
			}
		} else if (own && r->basic && r->user) {
			err = reg_basic_header(r, &auth);
			if (err < 0)
				break;
			sent_basic = true;
		}
		err = reg_perform(r, q, auth);
		if (err < 0 || q->status != 401)
			break;
		if (!reg_same_origin(q->url, r->base_url)) {
			char *host = NULL;

			reg_url_host(q->url, &host);
			err = reg_fail(r, -EACCES,
				       "401 Unauthorized from %.200s, where %s sent %s %s: the "
				       "credentials of %s are only sent to %s itself",
				       host ? host : "another host", r->registry, q->method,
				       q->what ? q->what : "a request", r->registry, r->registry);
			free(host);
			break;
		}
		reg_error_detail(q, detail, sizeof(detail));
		oci_auth_challenge_done(&ch);
		err = q->www_authenticate
			      ? oci_auth_parse_challenge(q->www_authenticate,
							 strlen(q->www_authenticate), &ch)
			      : -EINVAL;
		if (err == -EOPNOTSUPP) {
			err = reg_fail(r, -EACCES,
				       "401 Unauthorized from %s: unsupported "
				       "authentication scheme in \"%.100s\"",
				       r->registry, q->www_authenticate);
			break;
		}
		if (err < 0) {
			err = reg_fail(
				r, -EPROTO,
				"401 Unauthorized from %s with %s WWW-Authenticate challenge",
				r->registry, q->www_authenticate ? "an invalid" : "no");
			break;
		}
		if (ch.scheme == OCI_AUTH_SCHEME_BASIC) {
			if (!r->user) {
				err = reg_fail(r, -EACCES,
					       "401 Unauthorized from %s: authentication required "
					       "and no credentials are known%s",
					       r->registry, detail);
				break;
			}
			if (sent_basic) {
				err = reg_fail(r, -EACCES,
					       "401 Unauthorized from %s: bad credentials%s",
					       r->registry, detail);
				break;
			}
			r->basic = true;
			continue;
		}
		/* Bearer: a token that was just issued and still refused is final. */
		if (fresh_token) {
			err = reg_fail(r, -EACCES,
				       "401 Unauthorized from %s: the token was refused%s",
				       r->registry, detail);
			break;
		}
		reg_token_drop(r, q->scope);
		err = reg_fetch_token(r, &ch, q->scope);
		if (err < 0)
			break;
		fresh_token = true;
	}
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(start);
	oci_auth_challenge_done(&ch);
	if (err == 0 && q->status == 401)
		err = reg_fail(r, -EACCES, "401 Unauthorized from %s", r->registry);
	return err;
}

/* The message and -errno for a status the caller did not expect. */
static int reg_status_fail(struct oci_registry *r, const struct reg_req *q, const char *what)
{
	char detail[300];

	reg_error_detail(q, detail, sizeof(detail));
	if (q->status == 401 || q->status == 403)
		return reg_fail(r, -EACCES, "%ld %s from %s for %s%s", q->status,
				q->status == 401 ? "Unauthorized" : "Forbidden", r->registry, what,
				detail);
	if (q->status == 404)
		return reg_fail(r, -ENOENT, "%s not found on %s%s", what, r->registry, detail);
	return reg_fail(r, -EPROTO, "%s answered %ld to %s %s%s", r->registry, q->status, q->method,
			what, detail);
}

static int reg_lazy_curl(struct oci_registry *r)
{
	if (r->curl)
		return 0;
	r->curl = curl_easy_init();
	if (!r->curl)
		return reg_fail(r, -ENOMEM, "cannot initialize libcurl");
	return 0;
}

int oci_registry_ping(struct oci_registry *r)
{
	struct reg_req q = {.method = "GET"};
	int err;

	r->err[0] = '\0';
	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	err = reg_lazy_curl(r);
	if (err < 0)
		return err;
	if (asprintf(&q.url, "%s/v2/", r->base_url) < 0)
		return -ENOMEM;
	err = reg_request(r, &q);
	if (err == 0 && !reg_ok(q.status))
		err = reg_status_fail(r, &q, "/v2/");
	reg_req_done(&q);
	return err;
}

/* ---- pull ---- */

/* A reference split into what the API paths need. */
struct reg_target {
	struct oci_ref *ref;
	char *repo;	 /* repository path on the registry */
	char *display;	 /* the reference as the user wrote it, for messages */
	char *scope;	 /* "repository:<repo>:pull[,push]" */
	const char *tag; /* NULL when fetched by digest */
};

static void reg_target_done(struct reg_target *t)
{
	oci_ref_free(t->ref);
	free(t->repo);
	free(t->display);
	free(t->scope);
	*t = (struct reg_target){0};
}

static int reg_target_parse(struct oci_registry *r, const char *ref, bool push,
			    struct reg_target *t)
{
	int err;

	*t = (struct reg_target){0};
	err = oci_ref_parse(ref, &t->ref);
	if (err < 0)
		return reg_fail(r, err, "invalid image reference \"%.200s\"", ref ? ref : "");
	if (!t->ref->registry || strcmp(t->ref->registry, r->registry)) {
		err = reg_fail(r, -EINVAL, "%.200s is not on registry %s", ref, r->registry);
		goto fail;
	}
	/* Docker Hub keeps its official images under library/. */
	if (!strcmp(r->registry, "docker.io") && !strchr(t->ref->repository, '/'))
		err = asprintf(&t->repo, "library/%s", t->ref->repository);
	else
		err = asprintf(&t->repo, "%s", t->ref->repository);
	if (err < 0) {
		t->repo = NULL;
		err = -ENOMEM;
		goto fail;
	}
	err = oci_ref_format(t->ref, &t->display);
	if (err < 0)
		goto fail;
	if (asprintf(&t->scope, "repository:%s:%s", t->repo, push ? "pull,push" : "pull") < 0) {
		t->scope = NULL;
		err = -ENOMEM;
		goto fail;
	}
	t->tag = t->ref->tag;
	return 0;
fail:
	reg_target_done(t);
	return err;
}

struct reg_obj {
	char digest[OCI_DIGEST_SIZE];
	char *buf;
	size_t len;
};

struct reg_pull {
	struct oci_registry *r;
	struct oci_store *store;
	struct reg_target *t;
	struct reg_obj *objs; /* fetched, verified, not yet stored */
	size_t n, cap;
	char (*seen)[OCI_DIGEST_SIZE];
	size_t n_seen;
	uint64_t bytes;
};

static void reg_pull_done(struct reg_pull *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->objs[i].buf);
	free(p->objs);
	free(p->seen);
}

/* 1 if digest was already seen by this pull, else records it. */
static int reg_pull_seen(struct reg_pull *p, const char *digest)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (!strcmp(p->seen[i], digest))
			return 1;
	if (p->n_seen == OCI_STORE_MAX_DESCRIPTORS)
		return reg_fail(p->r, -EFBIG, "image %s references more than %u objects",
				p->t->display, OCI_STORE_MAX_DESCRIPTORS);
	if (!p->seen) {
		p->seen = calloc(OCI_STORE_MAX_DESCRIPTORS, sizeof(*p->seen));
		if (!p->seen)
			return -ENOMEM;
	}
	snprintf(p->seen[p->n_seen++], OCI_DIGEST_SIZE, "%s", digest);
	return 0;
}

/* Keeps a verified blob for the commit; takes buf. */
static int reg_pull_keep(struct reg_pull *p, const char *digest, char *buf, size_t len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		void *v = reallocarray(p->objs, cap, sizeof(*p->objs));

		if (!v) {
			free(buf);
			return -ENOMEM;
		}
		p->objs = v;
		p->cap = cap;
	}
	snprintf(p->objs[p->n].digest, OCI_DIGEST_SIZE, "%s", digest);
	p->objs[p->n].buf = buf;
	p->objs[p->n].len = len;
	p->n++;
	return 0;
}

struct reg_desc {
	const char *media_type;
	const char *digest;
	uint64_t size;
};

static int reg_desc_parse(struct reg_pull *p, json_t *o, const char *parent, struct reg_desc *d)
{
	json_t *size = json_object_get(o, "size");

	d->media_type = json_string_value(json_object_get(o, "mediaType"));
	d->digest = json_string_value(json_object_get(o, "digest"));
	if (!json_is_object(o) || !d->media_type || !d->digest || !json_is_integer(size) ||
	    json_integer_value(size) < 0)
		return reg_fail(p->r, -EPROTO,
				"%s from %s has a descriptor without mediaType, digest or size",
				parent, p->r->registry);
	d->size = json_integer_value(size);
	if (!oci_digest_is_sha256(d->digest)) {
		if (oci_digest_check(d->digest) == 0)
			return reg_fail(
				p->r, -EOPNOTSUPP,
				"%s from %s names %.100s: only sha256 digests are supported",
				parent, p->r->registry, d->digest);
		return reg_fail(p->r, -EPROTO, "%s from %s names an invalid digest \"%.100s\"",
				parent, p->r->registry, d->digest);
	}
	return 0;
}

/*
 * GETs a manifest or blob into a new buffer of at most max bytes, hashing
 * it; the caller checks digest and size.
 */
static int reg_get(struct reg_pull *p, const char *kind, const char *reference, const char *what,
		   uint64_t total, size_t max, const char *accept, struct reg_req *q,
		   char out_digest[OCI_DIGEST_SIZE], struct base_buf *out)
{
	struct oci_registry *r = p->r;
	struct oci_digest *h = NULL;
	int err;

	*out = (struct base_buf)BASE_BUF_INIT(max);
	*q = (struct reg_req){
		.method = "GET",
		.scope = p->t->scope,
		.accept = accept,
		.out = out,
		.what = what,
		.total = total,
	};
	if (asprintf(&q->url, "%s/v2/%s/%s/%s", r->base_url, p->t->repo, kind, reference) < 0) {
		q->url = NULL;
		return -ENOMEM;
	}
	/* Known sizes are allocated once rather than doubled up to. */
	if (total && total < max && base_buf_reserve(out, total) < 0)
		return -ENOMEM;
	err = oci_digest_new(&h);
	if (err < 0)
		return err;
	q->hash = h;
	err = reg_request(r, q);
	if (err == 0 && reg_ok(q->status))
		err = oci_digest_final(h, out_digest);
	q->hash = NULL;
	oci_digest_free(h);
	if (err == 0 && reg_ok(q->status) && r->progress && what)
		r->progress(r->progress_userdata, what, out->len, total ? total : out->len);
	return err;
}

/* Fetches blob d (a config or layer), checks it and keeps it. */
static int reg_pull_blob(struct reg_pull *p, const struct reg_desc *d, const char *parent)
{
	struct oci_registry *r = p->r;
	char actual[OCI_DIGEST_SIZE];
	struct base_buf body;
	struct reg_req q = {0};
	void *local = NULL;
	size_t local_len = 0;
	int err;

	if (d->size > OCI_STORE_MAX_BLOB)
		return reg_fail(r, -EFBIG, "blob %s of %s is %llu bytes, more than the limit of %u",
				d->digest, p->t->display, (unsigned long long)d->size,
				OCI_STORE_MAX_BLOB);
	/* An intact local copy is as good as the registry's. */
	if (oci_store_get_blob(p->store, d->digest, d->size, &local, &local_len) == 0) {
		free(local);
		if (local_len == d->size)
			return 0;
	}
	if (p->bytes + d->size > OCI_REGISTRY_MAX_PULL_BYTES)
		return reg_fail(r, -EFBIG, "image %s is larger than %llu bytes", p->t->display,
				(unsigned long long)OCI_REGISTRY_MAX_PULL_BYTES);
	/* One byte more than announced is enough to tell a lying registry. */
	err = reg_get(p, "blobs", d->digest, d->digest, d->size, d->size + 1, NULL, &q, actual,
		      &body);
	if (err == -EFBIG)
		err = reg_fail(r, -EBADMSG, "blob %s from %s is larger than the %llu bytes %s says",
			       d->digest, r->registry, (unsigned long long)d->size, parent);
	if (err == 0 && !reg_ok(q.status)) {
		char what[128];

		snprintf(what, sizeof(what), "blob %s of %s", d->digest, p->t->display);
		err = reg_status_fail(r, &q, what);
	}
	if (err == 0 && body.len != d->size)
		err = reg_fail(r, -EBADMSG, "blob %s from %s has %zu bytes, %s says %llu",
			       d->digest, r->registry, body.len, parent,
			       (unsigned long long)d->size);
	if (err == 0 && strcmp(actual, d->digest))
		err = reg_fail(r, -EBADMSG, "blob %s from %s has digest %s", d->digest, r->registry,
			       actual);
	if (err == 0) {
		char *buf = body.len ? base_buf_take(&body) : strdup("");

		p->bytes += d->size;
		err = buf ? reg_pull_keep(p, d->digest, buf, d->size) : -ENOMEM;
	}
	base_buf_done(&body);
	reg_req_done(&q);
	return err;
}

static int reg_pull_node(struct reg_pull *p, const struct reg_desc *d, const char *parent,
			 unsigned int depth);

/* Follows the descriptors of an index or manifest. */
static int reg_pull_children(struct reg_pull *p, const char *digest, const char *media_type,
			     json_t *doc, unsigned int depth)
{
	struct reg_desc child;
	json_t *arr, *o;
	size_t i;
	int err;

	if (reg_is_index_type(media_type)) {
		arr = json_object_get(doc, "manifests");
		if (!json_is_array(arr))
			return reg_fail(p->r, -EPROTO, "index %s from %s has no manifests array",
					digest, p->r->registry);
		json_array_foreach(arr, i, o)
		{
			err = reg_desc_parse(p, o, digest, &child);
			if (err == 0)
				err = reg_pull_node(p, &child, digest, depth + 1);
			if (err < 0)
				return err;
		}
		return 0;
	}
	arr = json_object_get(doc, "layers");
	o = json_object_get(doc, "config");
	if (!o || !json_is_array(arr))
		return reg_fail(p->r, -EPROTO, "manifest %s from %s has no config or no layers",
				digest, p->r->registry);
	err = reg_desc_parse(p, o, digest, &child);
	if (err == 0)
		err = reg_pull_node(p, &child, digest, depth + 1);
	json_array_foreach(arr, i, o)
	{
		if (err == 0)
			err = reg_desc_parse(p, o, digest, &child);
		if (err == 0)
			err = reg_pull_node(p, &child, digest, depth + 1);
	}
	return err;
}

static int reg_parse_doc(struct reg_pull *p, const char *digest, const char *buf, size_t len,
			 const char *expect_type, const char **ret_type, json_t **ret)
{
	const char *declared;
	json_t *doc;

	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return reg_fail(p->r, -EPROTO, "manifest %s from %s is not a JSON object", digest,
				p->r->registry);
	}
	declared = json_string_value(json_object_get(doc, "mediaType"));
	if (declared && expect_type && strcmp(declared, expect_type)) {
		json_decref(doc);
		return reg_fail(p->r, -EMEDIUMTYPE,
				"manifest %s from %s has media type %.100s, its descriptor says "
				"%.100s",
				digest, p->r->registry, declared, expect_type);
	}
	if (!declared)
		declared = expect_type;
	if (!declared && json_is_array(json_object_get(doc, "manifests")))
		declared = OCI_MEDIA_TYPE_INDEX;
	else if (!declared && json_is_array(json_object_get(doc, "layers")))
		declared = OCI_MEDIA_TYPE_MANIFEST;
	if (!reg_is_index_type(declared) && !reg_is_manifest_type(declared)) {
		json_decref(doc);
		return reg_fail(p->r, -EMEDIUMTYPE, "%s on %s is not an image (media type %.100s)",
				digest, p->r->registry, declared ? declared : "unknown");
	}
	*ret_type = declared;
	*ret = doc;
	return 0;
}

/* Fetches (or reads locally) a child manifest d, then what it names. */
static int reg_pull_manifest(struct reg_pull *p, const struct reg_desc *d, const char *parent,
			     unsigned int depth)
{
	struct oci_registry *r = p->r;
	char actual[OCI_DIGEST_SIZE];
	struct base_buf body = BASE_BUF_INIT(0);
	struct reg_req q = {0};
	const char *type = NULL;
	json_t *doc = NULL;
	void *local = NULL;
	size_t len = 0;
	char *buf;
	int err;

	if (depth > REG_MAX_DEPTH)
		return reg_fail(r, -EFBIG, "image %s nests indexes deeper than %d levels",
				p->t->display, REG_MAX_DEPTH);
	if (d->size > OCI_REGISTRY_MAX_MANIFEST)
		return reg_fail(r, -EFBIG, "manifest %s of %s is larger than %u bytes", d->digest,
				p->t->display, OCI_REGISTRY_MAX_MANIFEST);
	if (oci_store_get_blob(p->store, d->digest, d->size, &local, &len) == 0 && len == d->size) {
		buf = local;
	} else {
		free(local);
		err = reg_get(p, "manifests", d->digest, "manifest", d->size, d->size + 1,
			      REG_ACCEPT, &q, actual, &body);
		if (err == -EFBIG)
			err = reg_fail(r, -EBADMSG,
				       "manifest %s from %s is larger than the %llu bytes %s says",
				       d->digest, r->registry, (unsigned long long)d->size, parent);
		if (err == 0 && !reg_ok(q.status)) {
			char what[128];

			snprintf(what, sizeof(what), "manifest %s of %s", d->digest, p->t->display);
			err = reg_status_fail(r, &q, what);
		}
		if (err == 0 && (body.len != d->size || strcmp(actual, d->digest)))
			err = reg_fail(r, -EBADMSG,
				       "manifest %s from %s has %zu bytes and digest %s, %s says "
				       "%llu bytes",
				       d->digest, r->registry, body.len, actual, parent,
				       (unsigned long long)d->size);
		reg_req_done(&q);
		if (err < 0) {
			base_buf_done(&body);
			return err;
		}
		len = body.len;
		buf = body.len ? base_buf_take(&body) : strdup("");
		if (!buf)
			return -ENOMEM;
		p->bytes += len;
		err = reg_pull_keep(p, d->digest, buf, len);
		if (err < 0)
			return err;
		local = NULL;
	}
	err = reg_parse_doc(p, d->digest, buf, len, d->media_type, &type, &doc);
	free(local);
	if (err == 0)
		err = reg_pull_children(p, d->digest, type, doc, depth);
	json_decref(doc);
	return err;
}

static int reg_pull_node(struct reg_pull *p, const struct reg_desc *d, const char *parent,
			 unsigned int depth)
{
	int err = reg_pull_seen(p, d->digest);

	if (err != 0)
		return err < 0 ? err : 0;
	if (reg_is_index_type(d->media_type) || reg_is_manifest_type(d->media_type))
		return reg_pull_manifest(p, d, parent, depth);
	return reg_pull_blob(p, d, parent);
}

/* The top object, by tag or digest; its digest goes to digest. */
static int reg_pull_top(struct reg_pull *p, char digest[OCI_DIGEST_SIZE])
{
	struct oci_registry *r = p->r;
	const char *reference = p->t->ref->digest ? p->t->ref->digest : p->t->tag;
	struct base_buf body;
	struct reg_req q = {0};
	const char *type = NULL;
	json_t *doc = NULL;
	char *buf;
	size_t len;
	int err;

	if (p->t->ref->digest && !oci_digest_is_sha256(p->t->ref->digest))
		return reg_fail(r, -EOPNOTSUPP, "%s: only sha256 digests are supported",
				p->t->display);
	err = reg_get(p, "manifests", reference, "manifest", 0, OCI_REGISTRY_MAX_MANIFEST,
		      REG_ACCEPT, &q, digest, &body);
	if (err == -EFBIG)
		err = reg_fail(r, -EFBIG, "the manifest of %s is larger than %u bytes",
			       p->t->display, OCI_REGISTRY_MAX_MANIFEST);
	if (err == 0 && q.status == 404)
		err = reg_fail(r, -ENOENT, "manifest for %s not found", p->t->display);
	if (err == 0 && !reg_ok(q.status)) {
		char what[300];

		snprintf(what, sizeof(what), "the manifest of %s", p->t->display);
		err = reg_status_fail(r, &q, what);
	}
	if (err == 0 && p->t->ref->digest && strcmp(digest, p->t->ref->digest))
		err = reg_fail(r, -EBADMSG, "manifest %s from %s has digest %s", p->t->ref->digest,
			       r->registry, digest);
	/* By tag there is nothing to check against but the registry's own claim. */
	if (err == 0 && q.docker_digest && oci_digest_is_sha256(q.docker_digest) &&
	    strcmp(q.docker_digest, digest))
		err = reg_fail(r, -EBADMSG,
			       "manifest of %s from %s has digest %s, not the %s it claims",
			       p->t->display, r->registry, digest, q.docker_digest);
	if (err == 0) {
		char *ct = q.content_type_out;
		const char *expect = NULL;

		/* Content-Type may carry parameters ("; charset=utf-8"). */
		if (ct)
			ct[strcspn(ct, "; ")] = '\0';
		if (reg_is_index_type(ct) || reg_is_manifest_type(ct))
			expect = ct;
		err = reg_parse_doc(p, digest, body.data ? body.data : "", body.len, NULL, &type,
				    &doc);
		if (err == 0 && expect && !json_object_get(doc, "mediaType") &&
		    strcmp(expect, type))
			type = expect;
	}
	reg_req_done(&q);
	if (err == 0)
		err = reg_pull_seen(p, digest);
	if (err == 0) {
		len = body.len;
		buf = len ? base_buf_take(&body) : strdup("");
		err = buf ? reg_pull_keep(p, digest, buf, len) : -ENOMEM;
		if (err == 0)
			p->bytes += len;
	}
	if (err == 0)
		err = reg_pull_children(p, digest, type, doc, 0);
	json_decref(doc);
	base_buf_done(&body);
	return err;
}

/* Stores every fetched blob and sets the tag, under the store lock. */
static int reg_pull_commit(struct reg_pull *p, const char *digest)
{
	struct oci_registry *r = p->r;
	struct oci_ref tagref = *p->t->ref;
	char *name = NULL;
	int err;

	/* "name:tag@digest" was fetched by digest and is tagged name:tag. */
	if (tagref.tag)
		tagref.digest = NULL;
	err = oci_ref_format(&tagref, &name);
	if (err < 0)
		return err;
	err = oci_store_lock(p->store);
	if (err < 0) {
		free(name);
		return reg_fail(r, err, "cannot store %s: %s", p->t->display,
				oci_store_errmsg(p->store));
	}
	for (size_t i = 0; err == 0 && i < p->n; i++)
		err = oci_store_put_blob(p->store, p->objs[i].buf, p->objs[i].len,
					 p->objs[i].digest, NULL);
	if (err == 0)
		err = oci_store_tag(p->store, name, digest);
	oci_store_unlock(p->store);
	if (err < 0)
		reg_fail(r, err, "cannot store %s: %s", p->t->display, oci_store_errmsg(p->store));
	free(name);
	return err;
}

int oci_registry_pull(struct oci_registry *r, struct oci_store *store, const char *ref,
		      char digest_out[OCI_DIGEST_SIZE])
{
	struct reg_target t;
	struct reg_pull p = {.r = r, .store = store, .t = &t};
	char digest[OCI_DIGEST_SIZE];
	int err;

	r->err[0] = '\0';
	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	err = reg_lazy_curl(r);
	if (err < 0)
		return err;
	err = reg_target_parse(r, ref, false, &t);
	if (err < 0)
		return err;
	err = reg_pull_top(&p, digest);
	if (err == 0)
		err = reg_pull_commit(&p, digest);
	if (err == 0 && digest_out)
		memcpy(digest_out, digest, OCI_DIGEST_SIZE);
	reg_pull_done(&p);
	reg_target_done(&t);
	return err;
}

/* ---- single objects, for signatures ---- */

/*
 * GETs one object of ref's repository into a new buffer: kind and
 * reference as in the API path (query appended to the reference when not
 * NULL).  0 with the status in *ret_status; the body only for a 2xx.
 */
static int reg_fetch(struct oci_registry *r, const char *ref, const char *kind,
		     const char *reference, const char *query, const char *accept, size_t max,
		     long *ret_status, char **ret, size_t *ret_len,
		     char digest_out[OCI_DIGEST_SIZE], char *what, size_t whatlen)
{
	struct reg_target t;
	struct reg_pull p = {.r = r, .t = &t};
	struct base_buf body;
	struct reg_req q = {0};
	char *full = NULL, digest[OCI_DIGEST_SIZE];
	int err;

	r->err[0] = '\0';
	err = reg_lazy_curl(r);
	if (err < 0)
		return err;
	err = reg_target_parse(r, ref, false, &t);
	if (err < 0)
		return err;
	snprintf(what, whatlen, "%s %s of %s", !strcmp(kind, "blobs") ? "blob" : kind, reference,
		 t.display);
	if (query && asprintf(&full, "%s?%s", reference, query) < 0) {
		reg_target_done(&t);
		return -ENOMEM;
	}
	err = reg_get(&p, kind, full ? full : reference, NULL, 0, max, accept, &q, digest, &body);
	if (err == -EFBIG)
		err = reg_fail(r, -EFBIG, "%s is larger than %zu bytes", what, max);
	if (err == 0) {
		*ret_status = q.status;
		if (reg_ok(q.status)) {
			*ret_len = body.len;
			*ret = body.len ? base_buf_take(&body) : strdup("");
			if (!*ret)
				err = -ENOMEM;
			else
				memcpy(digest_out, digest, OCI_DIGEST_SIZE);
		}
	}
	if (err == 0 && !reg_ok(q.status) && q.status != 404 && q.status != 405)
		err = reg_status_fail(r, &q, what);
	base_buf_done(&body);
	reg_req_done(&q);
	free(full);
	reg_target_done(&t);
	return err;
}

int oci_registry_get_manifest(struct oci_registry *r, const char *ref, size_t max, char **ret,
			      size_t *ret_len, char digest_out[OCI_DIGEST_SIZE])
{
	struct oci_ref *pr = NULL;
	char digest[OCI_DIGEST_SIZE], what[512];
	long status = 0;
	int err;

	/* a request of its own (signature lookups): its own deadline, as a pull has */
	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	err = oci_ref_parse(ref, &pr);
	if (err < 0)
		return reg_fail(r, err, "invalid image reference \"%.200s\"", ref);
	err = reg_fetch(r, ref, "manifests", pr->digest ? pr->digest : pr->tag, NULL, REG_ACCEPT,
			max, &status, ret, ret_len, digest, what, sizeof(what));
	if (err == 0 && !reg_ok(status))
		err = reg_fail(r, -ENOENT, "%s not found on %s", what, r->registry);
	if (err == 0 && pr->digest && strcmp(pr->digest, digest)) {
		free(*ret);
		err = reg_fail(r, -EBADMSG, "%s from %s has digest %s", what, r->registry, digest);
	}
	if (err == 0)
		memcpy(digest_out, digest, OCI_DIGEST_SIZE);
	oci_ref_free(pr);
	return err;
}

int oci_registry_get_blob(struct oci_registry *r, const char *ref, const char *digest,
			  uint64_t size, char **ret)
{
	char actual[OCI_DIGEST_SIZE], what[512], *buf = NULL;
	size_t len = 0;
	long status = 0;
	int err;

	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	if (!oci_digest_is_sha256(digest) || size > OCI_STORE_MAX_BLOB)
		return reg_fail(r, -EINVAL, "cannot fetch blob %.100s of %llu bytes", digest,
				(unsigned long long)size);
	/* one byte more than announced is enough to tell a lying registry */
	err = reg_fetch(r, ref, "blobs", digest, NULL, NULL, size + 1, &status, &buf, &len, actual,
			what, sizeof(what));
	if (err == -EFBIG)
		return reg_fail(r, -EBADMSG, "%s from %s is larger than its %llu bytes", what,
				r->registry, (unsigned long long)size);
	if (err == 0 && !reg_ok(status))
		return reg_fail(r, -ENOENT, "%s not found on %s", what, r->registry);
	if (err == 0 && (len != size || strcmp(actual, digest))) {
		free(buf);
		return reg_fail(r, -EBADMSG, "%s from %s has %zu bytes and digest %s", what,
				r->registry, len, actual);
	}
	if (err == 0)
		*ret = buf;
	return err;
}

int oci_registry_get_referrers(struct oci_registry *r, const char *ref, const char *digest,
			       const char *artifact_type, size_t max, char **ret, size_t *ret_len)
{
	char d[OCI_DIGEST_SIZE], what[512], *query = NULL, *esc;
	long status = 0;
	int err;

	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	if (!oci_digest_is_sha256(digest))
		return reg_fail(r, -EINVAL, "invalid digest %.100s", digest);
	err = reg_lazy_curl(r);
	if (err < 0)
		return err;
	if (artifact_type) {
		esc = curl_easy_escape(r->curl, artifact_type, 0);
		if (!esc || asprintf(&query, "artifactType=%s", esc) < 0) {
			curl_free(esc);
			return -ENOMEM;
		}
		curl_free(esc);
	}
	err = reg_fetch(r, ref, "referrers", digest, query, "Accept: " OCI_MEDIA_TYPE_INDEX, max,
			&status, ret, ret_len, d, what, sizeof(what));
	free(query);
	/* distribution spec 1.1: a registry without the API answers 404 */
	if (err == 0 && !reg_ok(status))
		err = reg_fail(r, -EOPNOTSUPP, "%s has no referrers API", r->registry);
	return err;
}

/* ---- push ---- */

struct reg_push_obj {
	char *media_type;
	char digest[OCI_DIGEST_SIZE];
	uint64_t size;
};

struct reg_push {
	struct reg_push_obj *v;
	size_t n, cap;
};

static int reg_push_collect(void *userdata, const char *media_type, const char *digest,
			    uint64_t size)
{
	struct reg_push *p = userdata;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		void *v = reallocarray(p->v, cap, sizeof(*p->v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n].media_type = strdup(media_type);
	if (!p->v[p->n].media_type)
		return -ENOMEM;
	snprintf(p->v[p->n].digest, OCI_DIGEST_SIZE, "%s", digest);
	p->v[p->n].size = size;
	p->n++;
	return 0;
}

/* 1 if the registry has blob digest, 0 if not. */
static int reg_blob_exists(struct oci_registry *r, struct reg_target *t, const char *digest)
{
	struct reg_req q = {.method = "HEAD", .scope = t->scope};
	char what[128];
	int err;

	if (asprintf(&q.url, "%s/v2/%s/blobs/%s", r->base_url, t->repo, digest) < 0)
		return -ENOMEM;
	err = reg_request(r, &q);
	if (err == 0 && reg_ok(q.status))
		err = 1;
	else if (err == 0 && q.status != 404) {
		snprintf(what, sizeof(what), "blob %s", digest);
		err = reg_status_fail(r, &q, what);
	}
	reg_req_done(&q);
	return err;
}

/* Monolithic upload: POST for a session, then PUT the bytes with their digest. */
static int reg_upload_blob(struct oci_registry *r, struct reg_target *t, const char *digest,
			   const void *buf, size_t len)
{
	struct reg_req q = {.method = "POST", .scope = t->scope};
	char what[128], *url = NULL;
	char *esc = NULL;
	int err;

	snprintf(what, sizeof(what), "the upload of blob %s", digest);
	if (asprintf(&q.url, "%s/v2/%s/blobs/uploads/", r->base_url, t->repo) < 0)
		return -ENOMEM;
	err = reg_request(r, &q);
	if (err == 0 && q.status != 202)
		err = reg_status_fail(r, &q, what);
	if (err == 0 && !q.location)
		err = reg_fail(r, -EPROTO, "%s started an upload without a Location", r->registry);
	if (err == 0 && reg_url_resolve(q.url, q.location, &url) < 0)
		err = reg_fail(r, -EPROTO, "%s sent an invalid upload Location", r->registry);
	if (err == 0 && !(esc = curl_easy_escape(r->curl, digest, 0)))
		err = -ENOMEM;
	reg_req_done(&q);
	if (err < 0) {
		free(url);
		return err;
	}
	q = (struct reg_req){
		.method = "PUT",
		.scope = t->scope,
		.content_type = "application/octet-stream",
		.body = buf,
		.body_len = len,
		.what = digest,
		.total = len,
	};
	if (asprintf(&q.url, "%s%cdigest=%s", url, strchr(url, '?') ? '&' : '?', esc) < 0)
		q.url = NULL;
	free(url);
	curl_free(esc);
	if (!q.url)
		return -ENOMEM;
	err = reg_request(r, &q);
	if (err == 0 && q.status != 201 && !reg_ok(q.status))
		err = reg_status_fail(r, &q, what);
	if (err == 0 && r->progress)
		r->progress(r->progress_userdata, digest, len, len);
	reg_req_done(&q);
	return err;
}

static int reg_put_manifest(struct oci_registry *r, struct reg_target *t, const char *reference,
			    const struct reg_push_obj *o, const void *buf, size_t len)
{
	struct reg_req q = {
		.method = "PUT",
		.scope = t->scope,
		.content_type = o->media_type,
		.body = buf,
		.body_len = len,
	};
	char what[300];
	int err;

	snprintf(what, sizeof(what), "manifest %s of %s", reference, t->display);
	if (asprintf(&q.url, "%s/v2/%s/manifests/%s", r->base_url, t->repo, reference) < 0)
		return -ENOMEM;
	err = reg_request(r, &q);
	if (err == 0 && !reg_ok(q.status))
		err = reg_status_fail(r, &q, what);
	if (err == 0 && q.docker_digest && oci_digest_is_sha256(q.docker_digest) &&
	    strcmp(q.docker_digest, o->digest))
		err = reg_fail(r, -EBADMSG, "%s stored manifest %s as %s", r->registry, o->digest,
			       q.docker_digest);
	reg_req_done(&q);
	return err;
}

static int reg_push_one(struct oci_registry *r, struct oci_store *store, struct reg_target *t,
			const struct reg_push_obj *o, bool top)
{
	bool container = reg_is_index_type(o->media_type) || reg_is_manifest_type(o->media_type);
	void *buf = NULL;
	size_t len = 0;
	int err;

	if (!container) {
		err = reg_blob_exists(r, t, o->digest);
		if (err != 0) {
			if (err > 0 && r->progress)
				r->progress(r->progress_userdata, o->digest, o->size, o->size);
			return err < 0 ? err : 0;
		}
	}
	err = oci_store_get_blob(store, o->digest,
				 container ? OCI_STORE_MAX_MANIFEST : OCI_STORE_MAX_BLOB, &buf,
				 &len);
	if (err < 0)
		return reg_fail(r, err, "cannot push %s: %s", t->display, oci_store_errmsg(store));
	if (len != o->size)
		err = reg_fail(r, -EBADMSG, "cannot push %s: blob %s has %zu bytes, not %llu",
			       t->display, o->digest, len, (unsigned long long)o->size);
	else if (!container)
		err = reg_upload_blob(r, t, o->digest, buf, len);
	else if (!top)
		err = reg_put_manifest(r, t, o->digest, o, buf, len);
	else
		err = reg_put_manifest(r, t, t->tag ? t->tag : t->ref->digest, o, buf, len);
	free(buf);
	return err;
}

int oci_registry_push(struct oci_registry *r, struct oci_store *store, const char *local_ref,
		      const char *remote_ref, char digest_out[OCI_DIGEST_SIZE])
{
	struct reg_push p = {0};
	struct reg_target t;
	int err;

	r->err[0] = '\0';
	r->deadline_at = base_time_mono_ms() + (uint64_t)r->deadline_ms;
	err = reg_lazy_curl(r);
	if (err < 0)
		return err;
	err = reg_target_parse(r, remote_ref ? remote_ref : local_ref, true, &t);
	if (err < 0)
		return err;
	if (t.tag && t.ref->digest) {
		reg_target_done(&t);
		return reg_fail(r, -EINVAL, "push to %s: give a tag or a digest, not both",
				remote_ref ? remote_ref : local_ref);
	}
	err = oci_store_walk(store, local_ref, reg_push_collect, &p);
	if (err < 0)
		reg_fail(r, err, "cannot push %s: %s", local_ref, oci_store_errmsg(store));
	if (err == 0 && p.n == 0)
		err = reg_fail(r, -ENOENT, "cannot push %s: nothing to push", local_ref);
	if (err == 0 && t.ref->digest && strcmp(t.ref->digest, p.v[p.n - 1].digest))
		err = reg_fail(r, -EINVAL, "cannot push %s as %s: it has digest %s", local_ref,
			       t.display, p.v[p.n - 1].digest);
	for (size_t i = 0; err == 0 && i < p.n; i++)
		err = reg_push_one(r, store, &t, &p.v[i], i == p.n - 1);
	if (err == 0 && digest_out)
		memcpy(digest_out, p.v[p.n - 1].digest, OCI_DIGEST_SIZE);
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i].media_type);
	free(p.v);
	reg_target_done(&t);
	return err;
}
