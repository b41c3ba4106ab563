/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods/portforward through the Kubernetes API server, over WebSocket.
 *
 * `kubectl gadget` reaches each node's agent this way, so that API-server
 * RBAC is the access control and nothing listens on the node network.
 * k8s_portforward_open() upgrades
 * GET /api/v1/namespaces/NS/pods/POD/portforward?ports=PORT to a WebSocket
 * with subprotocol v4.channel.k8s.io and hands back one end of a socketpair
 * that behaves like a TCP connection to POD:PORT.
 *
 * Wire format (the channel protocol of the API server): every binary
 * message starts with a channel byte; for the one port requested, channel 0
 * carries data and channel 1 the server's error text; the first two bytes
 * the server sends on each channel are the port number, little endian.
 * Client data goes out on channel 0.  The protocol has no half-close: when
 * the caller shuts down its writing side nothing is sent, and the stream
 * ends when the pod side closes (the caller then reads EOF).
 *
 * All WebSocket work happens on one background thread per process (one
 * libwebsockets context), shared by every forward; forwards may be opened
 * and freed from any thread.  Buffers are bounded both ways: reading from
 * the socketpair pauses while a message waits for the WebSocket, and
 * reading from the WebSocket pauses while K8S_PORTFORWARD_MAX_BUFFER bytes
 * wait for the caller.
 *
 * Errors from k8s_portforward_open() (with a message in opts->err):
 *   -EACCES "Unauthorized" (401), -EPERM (403), -ENOENT (404, e.g. the pod
 *   does not exist), -EINVAL (400, e.g. the pod is not running), -EPROTO
 *   (other replies, a broken upgrade), -EKEYREJECTED (TLS verification or
 *   handshake failed), -ECONNREFUSED (nothing answered), -ETIMEDOUT,
 *   -ENOMEM, -EMFILE.
 */
#ifndef K8S_PORTFORWARD_H
#define K8S_PORTFORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct k8s_portforward;

/* Bytes from the pod held for a caller that does not read. */
#define K8S_PORTFORWARD_MAX_BUFFER (256u << 10)
/* Largest message sent to the server; also what is read from the caller at once. */
#define K8S_PORTFORWARD_MAX_MESSAGE (32u << 10)
/* Longest error text kept from the error channel or a failed handshake. */
#define K8S_PORTFORWARD_MAX_ERRMSG 1024
/* Longest namespace, pod name or server URL accepted. */
#define K8S_PORTFORWARD_MAX_NAME 253
#define K8S_PORTFORWARD_MAX_URL	 2048
/* Longest PEM (CA bundle, certificate, key) and token accepted. */
#define K8S_PORTFORWARD_MAX_PEM	  (1u << 20)
#define K8S_PORTFORWARD_MAX_TOKEN (16u << 10)
/* Connect and handshake timeout when opts->connect_timeout_ms is 0. */
#define K8S_PORTFORWARD_DEFAULT_TIMEOUT_MS 10000

/* Most extra headers (impersonation) a forward's upgrade request carries. */
#define K8S_PORTFORWARD_MAX_HEADERS 72

/* One extra request header: "Impersonate-User", "jane". */
struct k8s_portforward_header {
	const char *name; /* letters, digits and '-' */
	const char *value;
};

struct k8s_portforward_opts {
	const char *server;			      /* https://host[:port] of the API server */
	const char *ca_pem;			      /* CA bundle to verify it; NULL: system CAs */
	size_t ca_pem_len;			      /* 0: strlen(ca_pem) */
	const char *token;			      /* bearer token, or NULL */
	const char *client_cert_pem, *client_key_pem; /* client certificate, or NULL */
	bool insecure_skip_tls_verify;
	/* more headers for the upgrade request (impersonation), or NULL */
	const struct k8s_portforward_header *headers;
	size_t n_headers;
	/* an HTTP proxy, "http://host:port" (CONNECT), or NULL for none */
	const char *proxy;
	const char *namespace_, *pod;
	uint16_t port;
	int connect_timeout_ms; /* connect + TLS + upgrade; 0 for the default */
	char *err;		/* on failure, a one-line reason; may be NULL */
	size_t err_size;
};

/*
 * Opens a forward to opts->pod:opts->port and waits until the WebSocket is
 * up.  *ret_fd is the caller's end of a SOCK_STREAM socketpair (CLOEXEC,
 * blocking); it stays owned by the forward (like bpf_map__fd()) and is
 * closed by k8s_portforward_free().  Returns a new forward; free with
 * k8s_portforward_free().
 */
int k8s_portforward_open(const struct k8s_portforward_opts *opts, int *ret_fd,
			 struct k8s_portforward **ret);

/* The caller's end of the socketpair; borrowed. */
int k8s_portforward_fd(const struct k8s_portforward *pf);

/*
 * The text the server sent on the error channel (e.g. it could not connect
 * to the pod's port), or what broke the stream; NULL while there is none.
 * Set at most once, before the fd reaches EOF; valid until the forward is
 * freed.
 */
const char *k8s_portforward_errmsg(const struct k8s_portforward *pf);

/* 0 while the stream runs or after a clean end; -errno once it has failed. */
int k8s_portforward_error(const struct k8s_portforward *pf);

/*
 * Tears the forward down (the WebSocket is closed, the fd too) and frees
 * it.  NULL-safe; returns NULL.
 */
struct k8s_portforward *k8s_portforward_free(struct k8s_portforward *pf);
/* Same as k8s_portforward_free(), for symmetry with _open(). */
struct k8s_portforward *k8s_portforward_close(struct k8s_portforward *pf);

/*
 * The inbound channel demultiplexer, exposed for tests and fuzzing.
 *
 * Feed it each piece of each binary message as it arrives (start: the piece
 * begins a new message).  A piece belongs to one channel; *ret is the part
 * of it that is payload (channel byte and port header removed), which may
 * be empty.  Returns 0, or -EPROTO for a channel other than 0 or 1, a port
 * header naming another port, or a continuation before any start.  Once it
 * has failed it keeps failing.
 */
enum k8s_portforward_channel {
	K8S_PORTFORWARD_CHANNEL_DATA = 0,
	K8S_PORTFORWARD_CHANNEL_ERROR = 1,
};

struct k8s_portforward_demux {
	uint16_t port;	       /* the port asked for */
	bool in_message;       /* a message has started */
	bool have_channel;     /* its channel byte has been read */
	uint8_t channel;       /* channel of the current message */
	uint8_t header_len[2]; /* port header bytes seen per channel */
	uint8_t header[2][2];  /* the headers */
	int error;	       /* sticky */
};

struct k8s_portforward_piece {
	enum k8s_portforward_channel channel;
	const uint8_t *data;
	size_t len;
};

void k8s_portforward_demux_init(struct k8s_portforward_demux *d, uint16_t port);
int k8s_portforward_demux_feed(struct k8s_portforward_demux *d, const uint8_t *buf, size_t len,
			       bool start, struct k8s_portforward_piece *ret);

#endif /* K8S_PORTFORWARD_H */
