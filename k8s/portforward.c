// SPDX-License-Identifier: Apache-2.0
/*
 * pods/portforward over WebSocket, on libwebsockets.
 *
 * One process-wide service thread owns the lws context; libwebsockets is
 * not thread-safe, so every lws call except lws_cancel_service() happens on
 * that thread.  Callers queue work on a list under a lock and wake the loop
 * with lws_cancel_service(); the wakeup arms a zero-delay timer (a "sul")
 * whose callback starts queued forwards and tears down closing ones, so
 * that vhosts are created and destroyed outside any wsi callback.
 *
 * Each forward gets its own vhost, because a vhost is where lws keeps the
 * client TLS context, and forwards may differ in CA or client certificate.
 * The TLS context is built here with OpenSSL from memory (lws 4.1 only
 * takes the first certificate of a CA bundle) and handed to lws as a
 * provided client context.  The caller's socketpair end is adopted as a
 * raw file wsi, so one poll loop drives both sides and flow control is the
 * lws one: lws_rx_flow_control() on whichever side is ahead.
 *
 * lws discards the body of a refused upgrade, yet the API server's Status
 * message is what tells a user why (403 names the missing permission, 404
 * the pod).  After a refusal other than 401 the same URL is fetched once
 * more with libcurl, without the upgrade, on the caller's thread, only to
 * read that message.
 */
#include "k8s/portforward.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/curl.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

#define PF_PROTOCOL "v4.channel.k8s.io"
/* reading from the WebSocket pauses above this, resumes below the second */
#define PF_PAUSE_AT  (K8S_PORTFORWARD_MAX_BUFFER - 2 * K8S_PORTFORWARD_MAX_MESSAGE)
#define PF_RESUME_AT (K8S_PORTFORWARD_MAX_BUFFER / 4)
/* largest Status body read after a refused upgrade */
#define PF_MAX_STATUS_BODY (64u << 10)

enum pf_phase {
	PF_QUEUED,
	PF_CONNECTING,
	PF_OPEN,
	PF_DONE,
};

struct k8s_portforward {
	/* set by open(), read-only afterwards */
	char host[K8S_PORTFORWARD_MAX_URL];
	int server_port;
	char host_header[K8S_PORTFORWARD_MAX_URL + 8];
	char path[3 * K8S_PORTFORWARD_MAX_NAME + 96];
	char url[2 * K8S_PORTFORWARD_MAX_URL + 3 * K8S_PORTFORWARD_MAX_NAME + 96];
	char *auth;				     /* "Bearer ..." or NULL */
	char *hdr_name[K8S_PORTFORWARD_MAX_HEADERS]; /* lower case, ':' at the end, for lws */
	char *hdr_value[K8S_PORTFORWARD_MAX_HEADERS];
	size_t n_hdr;
	char *proxy_host; /* NULL: no proxy */
	unsigned int proxy_port;
	bool insecure;
	uint16_t port;
	SSL_CTX *ssl_ctx;
	int user_fd;
	int our_fd; /* -1 once lws owns it */

	/* service thread only */
	struct lws_vhost *vhost;
	struct k8s_portforward_demux demux;
	uint8_t *out; /* LWS_PRE, channel byte, then out_len bytes for the server */
	size_t out_len;
	uint8_t *in; /* bytes for the caller: in[in_off .. in_off + in_len) */
	size_t in_off, in_len;
	char errtext[K8S_PORTFORWARD_MAX_ERRMSG];
	size_t errtext_len;
	bool ws_paused, user_eof, remote_done, shut_done, killed;
	bool tcp_up, tls_up;

	/* under pf_lock */
	struct lws *ws, *raw;
	enum pf_phase phase;
	int http_status;
	char verify_msg[128];
	char hs_msg[K8S_PORTFORWARD_MAX_ERRMSG];
	bool closing, linked;
	struct k8s_portforward *next;

	/* published once, read by any thread */
	_Atomic(char *) errmsg;
	atomic_int error;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock; /* recursive: lws may call back inside lws calls made under it */
	pthread_cond_t cond;
	pthread_mutex_t life; /* serialises starting and stopping the thread */
	struct lws_context *ctx;
	pthread_t thread;
	atomic_bool stop;
	unsigned int users;
	struct k8s_portforward *list;
	lws_sorted_usec_list_t sul;
} pf_g = {
	.once = PTHREAD_ONCE_INIT,
	.life = PTHREAD_MUTEX_INITIALIZER,
};

static void pf_global_init(void)
{
	pthread_mutexattr_t a;
	pthread_condattr_t ca;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&pf_g.lock, &a);
	pthread_mutexattr_destroy(&a);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pf_g.cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* --- the channel demultiplexer ------------------------------------------ */

void k8s_portforward_demux_init(struct k8s_portforward_demux *d, uint16_t port)
{
	memset(d, 0, sizeof(*d));
	d->port = port;
}

int k8s_portforward_demux_feed(struct k8s_portforward_demux *d, const uint8_t *buf, size_t len,
			       bool start, struct k8s_portforward_piece *ret)
{
	size_t i = 0;
	uint8_t ch;

	ret->channel = K8S_PORTFORWARD_CHANNEL_DATA;
	ret->data = buf;
	ret->len = 0;
	if (d->error)
		return d->error;
	if (start) {
		d->in_message = true;
		d->have_channel = false;
	}
	if (!d->in_message) {
		/* a continuation without a start: the caller broke its contract */
		d->error = -EPROTO;
		return d->error;
	}
	if (!len)
		return 0;
	if (!d->have_channel) {
		if (buf[0] > K8S_PORTFORWARD_CHANNEL_ERROR) {
			d->error = -EPROTO;
			return d->error;
		}
		d->channel = buf[0];
		d->have_channel = true;
		i = 1;
	}
	ch = d->channel;
	/* the first two bytes of each channel's stream name the port */
	while (i < len && d->header_len[ch] < 2)
		d->header[ch][d->header_len[ch]++] = buf[i++];
	if (d->header_len[ch] == 2 && i > 0 &&
	    (d->header[ch][0] | d->header[ch][1] << 8) != d->port) {
		d->error = -EPROTO;
		return d->error;
	}
	ret->channel = ch;
	ret->data = buf + i;
	ret->len = len - i;
	return 0;
}

/* --- helpers -------------------------------------------------------------- */

/* Publishes the stream's message once; later ones are only logged. */
static void pf_publish(struct k8s_portforward *pf, int error, const char *msg)
{
	char *expected = NULL, *copy;
	int zero = 0;

	if (error)
		atomic_compare_exchange_strong(&pf->error, &zero, error);
	if (!msg || !*msg)
		return;
	copy = strdup(msg);
	if (!copy)
		return;
	if (!atomic_compare_exchange_strong(&pf->errmsg, &expected, copy)) {
		base_log_debug("portforward: another error: %s", msg);
		free(copy);
	}
}

static void pf_work(lws_sorted_usec_list_t *sul);

/* Runs pf_work() soon, from the service loop; service thread only. */
static void pf_kick(void)
{
	lws_sul_schedule(pf_g.ctx, 0, &pf_g.sul, pf_work, 1);
}

static void pf_lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	base_log_debug("lws: %.*s", (int)n, line);
}

static bool pf_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > K8S_PORTFORWARD_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool pf_header_value_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Splits https://host[:port][/] into host and port; IPv6 in brackets. */
static int pf_parse_server(struct k8s_portforward *pf, const char *server)
{
	const char *h, *end, *colon;
	size_t hl;
	char *e;
	long port = 443;

	if (!server || strnlen(server, K8S_PORTFORWARD_MAX_URL + 1) > K8S_PORTFORWARD_MAX_URL ||
	    strncmp(server, "https://", 8))
		return -EINVAL;
	h = server + 8;
	end = h + strcspn(h, "/?#");
	if (end[0] == '/' && end[1])
		return -EINVAL; /* a path prefix is not supported */
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (!rb)
			return -EINVAL;
		hl = (size_t)(rb - h - 1);
		memcpy(pf->host, h + 1, hl);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (!colon && rb + 1 != end)
			return -EINVAL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon ? colon : end) - h);
		memcpy(pf->host, h, hl);
	}
	pf->host[hl] = '\0';
	if (!hl || !pf_header_value_ok(pf->host, sizeof(pf->host) - 1))
		return -EINVAL;
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (errno || e != end || port < 1 || port > 65535)
			return -EINVAL;
	}
	pf->server_port = (int)port;
	snprintf(pf->host_header, sizeof(pf->host_header), "%.*s", (int)(end - h), h);
	return 0;
}

static int pf_ssl_ctx(struct k8s_portforward *pf, const struct k8s_portforward_opts *opts)
{
	SSL_CTX *ctx;
	BIO *b = NULL;
	int r = -EINVAL;

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (opts->ca_pem) {
		size_t len = opts->ca_pem_len ? opts->ca_pem_len
					      : strnlen(opts->ca_pem, K8S_PORTFORWARD_MAX_PEM + 1);
		STACK_OF(X509_INFO) * infos;
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);
		int added = 0;

		if (len > K8S_PORTFORWARD_MAX_PEM) {
			base_err_set(opts->err, opts->err_size,
				     "CA bundle too large (max %u bytes)", K8S_PORTFORWARD_MAX_PEM);
			goto out;
		}
		b = BIO_new_mem_buf(opts->ca_pem, (int)len);
		infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
		for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, i);

			if (xi->x509 && X509_STORE_add_cert(store, xi->x509) == 1)
				added++;
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		BIO_free(b);
		b = NULL;
		if (!added) {
			base_err_set(opts->err, opts->err_size, "no certificate in the CA bundle");
			goto out;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	if (!!opts->client_cert_pem != !!opts->client_key_pem) {
		base_err_set(opts->err, opts->err_size,
			     "a client certificate needs its key and the other way round");
		goto out;
	}
	if (opts->client_cert_pem) {
		X509 *x;
		EVP_PKEY *k;

		if (strnlen(opts->client_cert_pem, K8S_PORTFORWARD_MAX_PEM + 1) >
			    K8S_PORTFORWARD_MAX_PEM ||
		    strnlen(opts->client_key_pem, K8S_PORTFORWARD_MAX_PEM + 1) >
			    K8S_PORTFORWARD_MAX_PEM) {
			base_err_set(opts->err, opts->err_size,
				     "client certificate or key too large");
			goto out;
		}
		b = BIO_new_mem_buf(opts->client_cert_pem, -1);
		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
			X509_free(x);
			base_err_set(opts->err, opts->err_size, "bad client certificate");
			goto out;
		}
		X509_free(x);
		/* the rest of the PEM is the chain */
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
				X509_free(x);
		ERR_clear_error();
		BIO_free(b);
		b = BIO_new_mem_buf(opts->client_key_pem, -1);
		k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			EVP_PKEY_free(k);
			base_err_set(opts->err, opts->err_size,
				     "bad client key, or it does not match the certificate");
			goto out;
		}
		EVP_PKEY_free(k);
	}
	pf->ssl_ctx = ctx;
	ctx = NULL;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	SSL_CTX_free(ctx);
	return r;
}

/* --- service thread --------------------------------------------------------- */

static void pf_fail(struct k8s_portforward *pf, int error, const char *msg)
{
	pf_publish(pf, error, msg);
}

static void pf_kill(struct lws *wsi)
{
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int pf_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len);

static const struct lws_protocols pf_protocols[] = {
	{
		.name = PF_PROTOCOL,
		.callback = pf_callback,
		.rx_buffer_size = K8S_PORTFORWARD_MAX_MESSAGE,
	},
	{0},
};

static void pf_start(struct k8s_portforward *pf)
{
	struct lws_context_creation_info vi = {0};
	struct lws_client_connect_info ci = {0};
	struct lws *wsi;

	pf->phase = PF_CONNECTING;
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.protocols = pf_protocols;
	vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vi.provided_client_ssl_ctx = pf->ssl_ctx;
	vi.vhost_name = "k8s-portforward";
	/* a vhost per forward: its proxy is the forward's own (CONNECT, then TLS) */
	vi.http_proxy_address = pf->proxy_host;
	vi.http_proxy_port = pf->proxy_port;
	pf->vhost = lws_create_vhost(pf_g.ctx, &vi);
	if (!pf->vhost) {
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "cannot create a libwebsockets vhost");
		pf_fail(pf, -ENOMEM, NULL);
		pf->phase = PF_DONE;
		return;
	}
	ci.context = pf_g.ctx;
	ci.vhost = pf->vhost;
	ci.address = pf->host;
	ci.port = pf->server_port;
	/*
	 * libwebsockets follows a 3xx by default and sends the handshake
	 * headers, the bearer token among them, wherever it points: the
	 * token belongs to the API server alone.
	 */
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	if (pf->insecure)
		ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
				     LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED |
				     LCCSCF_ALLOW_INSECURE;
	ci.path = pf->path;
	ci.host = pf->host_header;
	ci.origin = pf->host_header;
	ci.protocol = PF_PROTOCOL;
	ci.local_protocol_name = PF_PROTOCOL;
	ci.ietf_version_or_minus_one = -1;
	/* the API server speaks h2 too, and lws cannot carry WebSocket over it */
	ci.alpn = "http/1.1";
	ci.opaque_user_data = pf;
	wsi = lws_client_connect_via_info(&ci);
	if (pf->phase == PF_CONNECTING)
		pf->ws = wsi;
	if (!wsi && pf->phase == PF_CONNECTING) {
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "cannot start a connection to %.256s",
			 pf->host_header);
		pf_fail(pf, -ECONNREFUSED, NULL);
		pf->phase = PF_DONE;
	}
}

/* The sul callback: starts queued forwards, finishes closing ones. */
static void pf_work(lws_sorted_usec_list_t *sul)
{
	struct k8s_portforward **pp, *pf;
	bool changed = false;

	pthread_mutex_lock(&pf_g.lock);
	for (pp = &pf_g.list; (pf = *pp);) {
		if (pf->phase == PF_QUEUED && !pf->closing) {
			pf_start(pf);
			changed = true;
		}
		if (!pf->closing) {
			pp = &pf->next;
			continue;
		}
		if (!pf->killed) {
			pf->killed = true;
			pf_kill(pf->ws);
			pf_kill(pf->raw);
		}
		if (pf->ws || pf->raw) {
			pp = &pf->next;
			continue;
		}
		if (pf->vhost) {
			lws_vhost_destroy(pf->vhost);
			pf->vhost = NULL;
		}
		*pp = pf->next;
		pf->linked = false;
		changed = true;
	}
	if (changed)
		pthread_cond_broadcast(&pf_g.cond);
	pthread_mutex_unlock(&pf_g.lock);
}

static void pf_handshake_failed(struct k8s_portforward *pf, const char *cce)
{
	int e;

	if (pf->verify_msg[0]) {
		e = -EKEYREJECTED;
		snprintf(pf->hs_msg, sizeof(pf->hs_msg),
			 "TLS: cannot verify the API server's certificate: %s", pf->verify_msg);
	} else if (pf->http_status == 401) {
		e = -EACCES;
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "Unauthorized");
	} else if (pf->http_status && pf->http_status != 101) {
		/* refined by open() from the Status body */
		e = pf->http_status == 403   ? -EPERM
		    : pf->http_status == 404 ? -ENOENT
		    : pf->http_status == 400 ? -EINVAL
		    : pf->http_status >= 500 ? -EIO
					     : -EPROTO;
		if (pf->http_status >= 300 && pf->http_status < 400)
			snprintf(pf->hs_msg, sizeof(pf->hs_msg),
				 "HTTP %d: a redirect, not followed (the token is only sent to "
				 "the API server)",
				 pf->http_status);
		else
			snprintf(pf->hs_msg, sizeof(pf->hs_msg), "HTTP %d", pf->http_status);
	} else if (pf->tls_up) {
		e = -EPROTO;
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "WebSocket upgrade failed: %.256s",
			 cce ? cce : "connection closed");
	} else if (pf->tcp_up) {
		e = -EKEYREJECTED;
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "TLS handshake with %.256s failed: %.256s",
			 pf->host_header, cce ? cce : "connection closed");
	} else {
		e = -ECONNREFUSED;
		snprintf(pf->hs_msg, sizeof(pf->hs_msg),
			 "cannot connect to %.256s: connection refused", pf->host_header);
	}
	base_log_debug("portforward: handshake failed: %s (lws: %s)", pf->hs_msg, cce ? cce : "");
	pf_fail(pf, e, NULL);
}

static void pf_error_text(struct k8s_portforward *pf, const uint8_t *p, size_t n, bool final)
{
	size_t room = sizeof(pf->errtext) - 1 - pf->errtext_len;

	if (n > room)
		n = room; /* truncated: the start says what went wrong */
	memcpy(pf->errtext + pf->errtext_len, p, n);
	pf->errtext_len += n;
	pf->errtext[pf->errtext_len] = '\0';
	if (final && pf->errtext_len) {
		pf_publish(pf, 0, pf->errtext);
		pf->errtext_len = 0;
	}
}

/* Bytes from the pod: queue them for the caller, pause the WebSocket when full. */
static int pf_rx(struct k8s_portforward *pf, struct lws *wsi, const uint8_t *p, size_t n,
		 bool start)
{
	struct k8s_portforward_piece piece;
	int r;

	r = k8s_portforward_demux_feed(&pf->demux, p, n, start, &piece);
	if (r < 0) {
		pf_publish(pf, r, "portforward: bad frame from the API server");
		return -1;
	}
	if (piece.channel == K8S_PORTFORWARD_CHANNEL_ERROR) {
		pf_error_text(pf, piece.data, piece.len, lws_is_final_fragment(wsi));
		return 0;
	}
	if (!piece.len)
		return 0;
	if (pf->in_off + pf->in_len + piece.len > K8S_PORTFORWARD_MAX_BUFFER) {
		memmove(pf->in, pf->in + pf->in_off, pf->in_len);
		pf->in_off = 0;
	}
	if (pf->in_len + piece.len > K8S_PORTFORWARD_MAX_BUFFER) {
		pf_publish(pf, -ENOBUFS, "portforward: receive buffer overrun");
		return -1;
	}
	memcpy(pf->in + pf->in_off + pf->in_len, piece.data, piece.len);
	pf->in_len += piece.len;
	if (pf->raw)
		lws_callback_on_writable(pf->raw);
	if (pf->in_len > PF_PAUSE_AT && !pf->ws_paused) {
		pf->ws_paused = true;
		lws_rx_flow_control(wsi, 0);
	}
	return 0;
}

/* Room for the caller's bytes again: let the WebSocket go on. */
static void pf_drained(struct k8s_portforward *pf)
{
	if (pf->ws_paused && pf->in_len < PF_RESUME_AT && pf->ws) {
		pf->ws_paused = false;
		lws_rx_flow_control(pf->ws, 1);
	}
	if (!pf->in_len && pf->remote_done && !pf->shut_done && pf->raw) {
		pf->shut_done = true;
		shutdown(lws_get_socket_fd(pf->raw), SHUT_WR);
	}
}

static int pf_user_writable(struct k8s_portforward *pf, struct lws *wsi)
{
	ssize_t n;

	if (pf->closing)
		return -1;
	while (pf->in_len) {
		n = send(lws_get_socket_fd(wsi), pf->in + pf->in_off, pf->in_len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			lws_callback_on_writable(wsi);
			break;
		}
		if (n < 0)
			return -1; /* the caller closed its end */
		pf->in_off += (size_t)n;
		pf->in_len -= (size_t)n;
	}
	if (!pf->in_len)
		pf->in_off = 0;
	pf_drained(pf);
	return 0;
}

static int pf_user_readable(struct k8s_portforward *pf, struct lws *wsi)
{
	size_t room = K8S_PORTFORWARD_MAX_MESSAGE - pf->out_len;
	ssize_t n;

	if (!room) {
		lws_rx_flow_control(wsi, 0);
		return 0;
	}
	n = recv(lws_get_socket_fd(wsi), pf->out + LWS_PRE + 1 + pf->out_len, room, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0) {
		/* the channel protocol cannot half-close: wait for the pod's end */
		pf->user_eof = true;
		lws_rx_flow_control(wsi, 0);
		return 0;
	}
	if (pf->remote_done)
		return 0; /* nobody to send it to */
	pf->out_len += (size_t)n;
	if (pf->out_len == K8S_PORTFORWARD_MAX_MESSAGE)
		lws_rx_flow_control(wsi, 0);
	if (pf->ws)
		lws_callback_on_writable(pf->ws);
	return 0;
}

static int pf_ws_writable(struct k8s_portforward *pf, struct lws *wsi)
{
	int n;

	if (pf->closing)
		return -1;
	if (!pf->out_len)
		return 0;
	pf->out[LWS_PRE] = K8S_PORTFORWARD_CHANNEL_DATA;
	n = lws_write(wsi, pf->out + LWS_PRE, pf->out_len + 1, LWS_WRITE_BINARY);
	if (n < 0) {
		pf_publish(pf, -EIO, "portforward: write to the API server failed");
		return -1;
	}
	pf->out_len = 0;
	if (pf->raw && !pf->user_eof)
		lws_rx_flow_control(pf->raw, 1);
	return 0;
}

static int pf_established(struct k8s_portforward *pf, struct lws *wsi)
{
	lws_adopt_desc_t ad = {0};

	ad.vh = pf->vhost;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = pf->our_fd;
	ad.vh_prot_name = PF_PROTOCOL;
	ad.opaque = pf;
	pf->raw = lws_adopt_descriptor_vhost_via_info(&ad);
	if (!pf->raw) {
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "cannot adopt the socketpair");
		pf_fail(pf, -ENOMEM, NULL);
		pf->phase = PF_DONE;
		return -1;
	}
	pf->our_fd = -1;
	pf->phase = PF_OPEN;
	return 0;
}

static int pf_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct k8s_portforward *pf = NULL;
	int r = 0;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		pf_kick();
		return 0;
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_RAW_RX_FILE:
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
	case LWS_CALLBACK_RAW_CLOSE_FILE:
	case LWS_CALLBACK_WSI_CREATE:
		pf = lws_get_opaque_user_data(wsi);
		break;
	default:
		return 0;
	}
	if (!pf)
		return 0;

	pthread_mutex_lock(&pf_g.lock);
	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE:
		/* for a client, lws says this once the TCP connection is up */
		if (pf->phase == PF_CONNECTING)
			pf->tcp_up = true;
		break;
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		if (!len) {
			X509_STORE_CTX *x = user;
			int e = X509_STORE_CTX_get_error(x);

			if (pf->insecure) {
				X509_STORE_CTX_set_error(x, X509_V_OK);
			} else if (!pf->verify_msg[0]) {
				snprintf(pf->verify_msg, sizeof(pf->verify_msg), "%s",
					 X509_verify_cert_error_string(e));
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;

		pf->tcp_up = pf->tls_up = true;
		if (pf->auth &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:",
						(const unsigned char *)pf->auth,
						(int)strlen(pf->auth), p, end))
			r = -1;
		for (size_t i = 0; r == 0 && i < pf->n_hdr; i++)
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)pf->hdr_name[i],
							(const unsigned char *)pf->hdr_value[i],
							(int)strlen(pf->hdr_value[i]), p, end))
				r = -1;
		break;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		pf->http_status = (int)lws_http_client_http_response(wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (pf->phase == PF_CONNECTING) {
			pf_handshake_failed(pf, in);
			pf->phase = PF_DONE;
		}
		pf->ws = NULL;
		pthread_cond_broadcast(&pf_g.cond);
		pf_kick();
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		r = pf_established(pf, wsi);
		pthread_cond_broadcast(&pf_g.cond);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		r = pf_rx(pf, wsi, in, len, lws_is_first_fragment(wsi));
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		r = pf_ws_writable(pf, wsi);
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const uint8_t *c = in;
			unsigned int code = (unsigned int)c[0] << 8 | c[1];

			if (code != LWS_CLOSE_STATUS_NORMAL) {
				char msg[160];

				snprintf(msg, sizeof(msg),
					 "API server closed the stream (%u): %.*s", code,
					 (int)(len - 2 > 120 ? 120 : len - 2),
					 (const char *)in + 2);
				pf_publish(pf, -ECONNRESET, msg);
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (pf->errtext_len)
			pf_error_text(pf, NULL, 0, true);
		pf->ws = NULL;
		pf->remote_done = true;
		pf->out_len = 0;
		if (pf->phase == PF_CONNECTING)
			pf->phase = PF_DONE;
		pf_drained(pf);
		pthread_cond_broadcast(&pf_g.cond);
		pf_kick();
		break;
	case LWS_CALLBACK_RAW_RX_FILE:
		r = pf_user_readable(pf, wsi);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		r = pf_user_writable(pf, wsi);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		pf->raw = NULL;
		/* the caller is gone: so is the stream */
		pf_kill(pf->ws);
		pf_kick();
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&pf_g.lock);
	return r;
}

static void *pf_thread(void *arg)
{
	while (!atomic_load(&pf_g.stop))
		lws_service(pf_g.ctx, 0);
	return NULL;
}

/* Called with pf_g.life held. */
static int pf_service_start(void)
{
	struct lws_context_creation_info info = {0};
	sigset_t all, old;
	int r;

	lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, pf_lws_log);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = pf_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* one read from the socket; lws' default is 4 KiB */
	info.pt_serv_buf_size = K8S_PORTFORWARD_MAX_MESSAGE;
	pf_g.ctx = lws_create_context(&info);
	if (!pf_g.ctx)
		return -ENOMEM;
	atomic_store(&pf_g.stop, false);
	/* signals belong to the application's threads, not to this one */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&pf_g.thread, NULL, pf_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		lws_context_destroy(pf_g.ctx);
		pf_g.ctx = NULL;
	}
	return r;
}

/* Called with pf_g.life held. */
static void pf_service_stop(void)
{
	atomic_store(&pf_g.stop, true);
	lws_cancel_service(pf_g.ctx);
	pthread_join(pf_g.thread, NULL);
	/* the timer lives in this context's lists: unhook it before they go */
	lws_sul_cancel(&pf_g.sul);
	memset(&pf_g.sul, 0, sizeof(pf_g.sul));
	lws_context_destroy(pf_g.ctx);
	pf_g.ctx = NULL;
}

/* --- refused upgrades: read the Status message ------------------------------ */

struct pf_body {
	char *data;
	size_t len;
};

static size_t pf_body_write(char *p, size_t size, size_t n, void *userdata)
{
	struct pf_body *b = userdata;
	size_t add = size * n;
	char *d;

	if (b->len + add > PF_MAX_STATUS_BODY)
		return 0;
	d = realloc(b->data, b->len + add + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	d[b->len] = '\0';
	return add;
}

static void pf_fetch_status(struct k8s_portforward *pf, const struct k8s_portforward_opts *opts,
			    long timeout_ms)
{
	struct curl_slist *h = NULL;
	struct pf_body body = {0};
	struct curl_blob blob;
	char hdr[K8S_PORTFORWARD_MAX_TOKEN + 32];
	json_t *j = NULL;
	const char *msg;
	CURL *c;

	/* Only to explain a refusal: without libcurl the status code has to do. */
	if (base_curl_load(NULL, 0) < 0)
		return;
	c = curl_easy_init();
	if (!c)
		return;
	curl_easy_setopt(c, CURLOPT_URL, pf->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pf_body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (pf->auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", pf->auth);
		h = curl_slist_append(h, hdr);
	}
	for (size_t i = 0; i < pf->n_hdr; i++) {
		/* "impersonate-user:" + " value" */
		snprintf(hdr, sizeof(hdr), "%s %s", pf->hdr_name[i], pf->hdr_value[i]);
		h = curl_slist_append(h, hdr);
	}
	h = curl_slist_append(h, "Accept: application/json");
	if (opts->proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, opts->proxy);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (opts->ca_pem) {
		blob.data = (void *)opts->ca_pem;
		blob.len = opts->ca_pem_len ? opts->ca_pem_len : strlen(opts->ca_pem);
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (opts->client_cert_pem && opts->client_key_pem) {
		blob.data = (void *)opts->client_cert_pem;
		blob.len = strlen(opts->client_cert_pem);
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		blob.data = (void *)opts->client_key_pem;
		blob.len = strlen(opts->client_key_pem);
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (pf->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (curl_easy_perform(c) == CURLE_OK && body.data) {
		j = json_loadb(body.data, body.len, 0, NULL);
		msg = json_string_value(json_object_get(j, "message"));
		if (msg && *msg)
			snprintf(pf->hs_msg, sizeof(pf->hs_msg), "%s", msg);
	}
	json_decref(j);
	free(body.data);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* The extra headers and the proxy of opts, checked and copied. */
static int pf_extra(struct k8s_portforward *pf, const struct k8s_portforward_opts *opts)
{
	if (opts->n_headers > K8S_PORTFORWARD_MAX_HEADERS) {
		base_err_set(opts->err, opts->err_size, "more than %d extra headers",
			     K8S_PORTFORWARD_MAX_HEADERS);
		return -E2BIG;
	}
	for (size_t i = 0; i < opts->n_headers; i++) {
		const char *n = opts->headers[i].name;
		size_t len = n ? strlen(n) : 0;

		if (!len || len > 64 ||
		    strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			      "0123456789-") != len ||
		    !pf_header_value_ok(opts->headers[i].value, K8S_PORTFORWARD_MAX_TOKEN)) {
			base_err_set(opts->err, opts->err_size, "bad header %.64s", n ? n : "");
			return -EINVAL;
		}
		pf->hdr_value[i] = strdup(opts->headers[i].value);
		pf->hdr_name[i] = malloc(len + 2);
		pf->n_hdr++;
		if (!pf->hdr_value[i] || !pf->hdr_name[i])
			return -ENOMEM;
		for (size_t k = 0; k < len; k++)
			pf->hdr_name[i][k] = (char)tolower((unsigned char)n[k]);
		pf->hdr_name[i][len] = ':';
		pf->hdr_name[i][len + 1] = '\0';
	}
	if (opts->proxy && *opts->proxy) {
		const char *h = opts->proxy, *colon;
		char *end;
		long port;

		if (!strncmp(h, "http://", 7))
			h += 7;
		else {
			base_err_set(opts->err, opts->err_size,
				     "proxy %.200s: only http:// proxies carry port-forwards",
				     opts->proxy);
			return -EINVAL;
		}
		colon = strrchr(h, ':');
		if (!colon || colon == h) {
			base_err_set(opts->err, opts->err_size,
				     "proxy %.200s: want http://host:port", opts->proxy);
			return -EINVAL;
		}
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || (*end && strcmp(end, "/")) || port < 1 || port > 65535) {
			base_err_set(opts->err, opts->err_size, "proxy %.200s: bad port",
				     opts->proxy);
			return -EINVAL;
		}
		pf->proxy_host = strndup(h, (size_t)(colon - h));
		if (!pf->proxy_host)
			return -ENOMEM;
		pf->proxy_port = (unsigned int)port;
	}
	return 0;
}

/* --- public API ------------------------------------------------------------- */

static int pf_wait(struct k8s_portforward *pf, int timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	base_time_mono_deadline(timeout_ms > 0 ? (uint64_t)timeout_ms : 0, &deadline);
	pthread_mutex_lock(&pf_g.lock);
	while (pf->phase < PF_OPEN && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&pf_g.cond, &pf_g.lock, &deadline);
	if (pf->phase < PF_OPEN) {
		snprintf(pf->hs_msg, sizeof(pf->hs_msg), "no answer from %.256s within %d ms",
			 pf->host_header, timeout_ms);
		pf_fail(pf, -ETIMEDOUT, NULL);
		r = -ETIMEDOUT;
	} else {
		r = pf->phase == PF_OPEN ? 0 : atomic_load(&pf->error);
		if (!r && pf->phase != PF_OPEN)
			r = -EPROTO;
	}
	pthread_mutex_unlock(&pf_g.lock);
	return r;
}

int k8s_portforward_open(const struct k8s_portforward_opts *opts, int *ret_fd,
			 struct k8s_portforward **ret)
{
	struct k8s_portforward *pf;
	int sv[2], r, timeout;

	if (!opts || !ret || !ret_fd)
		return -EINVAL;
	pthread_once(&pf_g.once, pf_global_init);
	if (opts->err && opts->err_size)
		opts->err[0] = '\0';
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->user_fd = pf->our_fd = -1;
	if (pf_parse_server(pf, opts->server) < 0) {
		base_err_set(opts->err, opts->err_size,
			     "bad API server URL (want https://host[:port])");
		r = -EINVAL;
		goto fail;
	}
	if (!pf_name_ok(opts->namespace_) || !pf_name_ok(opts->pod)) {
		base_err_set(opts->err, opts->err_size, "bad namespace or pod name");
		r = -EINVAL;
		goto fail;
	}
	if (!opts->port) {
		base_err_set(opts->err, opts->err_size, "port 0");
		r = -EINVAL;
		goto fail;
	}
	pf->port = opts->port;
	pf->insecure = opts->insecure_skip_tls_verify;
	snprintf(pf->path, sizeof(pf->path), "/api/v1/namespaces/%s/pods/%s/portforward?ports=%u",
		 opts->namespace_, opts->pod, opts->port);
	snprintf(pf->url, sizeof(pf->url), "https://%s%s", pf->host_header, pf->path);
	if (opts->token && *opts->token) {
		if (!pf_header_value_ok(opts->token, K8S_PORTFORWARD_MAX_TOKEN)) {
			base_err_set(opts->err, opts->err_size, "bad bearer token");
			r = -EINVAL;
			goto fail;
		}
		if (asprintf(&pf->auth, "Bearer %s", opts->token) < 0) {
			pf->auth = NULL;
			r = -ENOMEM;
			goto fail;
		}
	}
	r = pf_extra(pf, opts);
	if (r < 0)
		goto fail;
	r = pf_ssl_ctx(pf, opts);
	if (r < 0)
		goto fail;
	k8s_portforward_demux_init(&pf->demux, pf->port);
	pf->out = malloc(LWS_PRE + 1 + K8S_PORTFORWARD_MAX_MESSAGE);
	pf->in = malloc(K8S_PORTFORWARD_MAX_BUFFER);
	if (!pf->out || !pf->in) {
		r = -ENOMEM;
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		base_err_set(opts->err, opts->err_size, "socketpair: %s", strerror(-r));
		goto fail;
	}
	pf->user_fd = sv[0];
	pf->our_fd = sv[1];
	if (fcntl(pf->our_fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}

	pthread_mutex_lock(&pf_g.life);
	r = pf_g.users ? 0 : pf_service_start();
	if (r == 0)
		pf_g.users++;
	pthread_mutex_unlock(&pf_g.life);
	if (r < 0) {
		base_err_set(opts->err, opts->err_size, "cannot start the libwebsockets service");
		goto fail;
	}
	pthread_mutex_lock(&pf_g.lock);
	pf->phase = PF_QUEUED;
	pf->linked = true;
	pf->next = pf_g.list;
	pf_g.list = pf;
	pthread_mutex_unlock(&pf_g.lock);
	lws_cancel_service(pf_g.ctx);

	timeout = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
					       : K8S_PORTFORWARD_DEFAULT_TIMEOUT_MS;
	r = pf_wait(pf, timeout);
	if (r < 0) {
		if (pf->http_status && pf->http_status != 101 && pf->http_status != 401)
			pf_fetch_status(pf, opts, timeout);
		base_err_set(opts->err, opts->err_size, "%s", pf->hs_msg);
		k8s_portforward_free(pf);
		return r;
	}
	*ret_fd = pf->user_fd;
	*ret = pf;
	return 0;
fail:
	k8s_portforward_free(pf);
	return r;
}

int k8s_portforward_fd(const struct k8s_portforward *pf)
{
	return pf ? pf->user_fd : -EINVAL;
}

const char *k8s_portforward_errmsg(const struct k8s_portforward *pf)
{
	return pf ? atomic_load(&((struct k8s_portforward *)pf)->errmsg) : NULL;
}

int k8s_portforward_error(const struct k8s_portforward *pf)
{
	return pf ? atomic_load(&((struct k8s_portforward *)pf)->error) : -EINVAL;
}

struct k8s_portforward *k8s_portforward_free(struct k8s_portforward *pf)
{
	bool was_linked;

	if (!pf)
		return NULL;
	pthread_mutex_lock(&pf_g.lock);
	was_linked = pf->linked;
	if (was_linked) {
		pf->closing = true;
		lws_cancel_service(pf_g.ctx);
		while (pf->linked)
			pthread_cond_wait(&pf_g.cond, &pf_g.lock);
	}
	pthread_mutex_unlock(&pf_g.lock);
	if (was_linked) {
		pthread_mutex_lock(&pf_g.life);
		if (--pf_g.users == 0)
			pf_service_stop();
		pthread_mutex_unlock(&pf_g.life);
	}
	if (pf->user_fd >= 0)
		close(pf->user_fd);
	if (pf->our_fd >= 0)
		close(pf->our_fd);
	SSL_CTX_free(pf->ssl_ctx);
	free(pf->auth);
	for (size_t i = 0; i < pf->n_hdr; i++) {
		free(pf->hdr_name[i]);
		free(pf->hdr_value[i]);
	}
	free(pf->proxy_host);
	free(pf->in);
	free(pf->out);
	free(atomic_load(&pf->errmsg));
	free(pf);
	return NULL;
}

struct k8s_portforward *k8s_portforward_close(struct k8s_portforward *pf)
{
	return k8s_portforward_free(pf);
}
