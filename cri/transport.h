/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC transport to a container runtime's CRI socket.
 *
 * Our own small gRPC client over libnghttp2: HTTP/2 over cleartext with
 * prior knowledge ("h2c") on the runtime's unix socket, and, ours, the gRPC
 * message framing (a flag byte and a 4-byte length before each message),
 * deadlines as grpc-timeout and status from the trailers.  Everything above
 * it deals in request and reply bytes (protobuf-c encodes and decodes them)
 * and in -errno codes.  We never ask for compression, so a compressed reply
 * is -EPROTO.
 *
 * Unary calls share one kept-open connection per transport, one call at a
 * time (a mutex serialises threads).  Each call has a deadline that bounds
 * connecting, writing and reading alike.  A connection that failed (end of
 * file, GOAWAY, reset, protocol error, timeout) is dropped and the next call
 * dials afresh; when a reused connection turns out dead before any reply
 * byte arrived (the runtime restarted between calls), or the server refused
 * the call unprocessed on it (REFUSED_STREAM, or a GOAWAY that left it
 * out), the call is retried once on a fresh one.  A server-streaming call
 * has its own connection, whose socket the caller polls.
 *
 * gRPC status codes are translated to -errno in one place:
 *   UNAVAILABLE       -ENOENT (socket missing), -ENOTSOCK (path is no socket),
 *                     -ECONNREFUSED (nobody answers on it)
 *   DEADLINE_EXCEEDED -ETIMEDOUT      UNIMPLEMENTED     -EOPNOTSUPP
 *   NOT_FOUND         -ESRCH (the runtime has no such object; -ENOENT is
 *                     kept for "no socket")
 *   INVALID_ARGUMENT  -EINVAL         ALREADY_EXISTS    -EEXIST
 *   PERMISSION_DENIED, UNAUTHENTICATED  -EACCES
 *   RESOURCE_EXHAUSTED -E2BIG (also: reply above CRI_MAX_REPLY)
 *   CANCELLED -ECANCELED, ABORTED -ECONNABORTED, OUT_OF_RANGE -ERANGE,
 *   FAILED_PRECONDITION -EBUSY, INTERNAL -EPROTO, other -EIO.
 * An HTTP status other than 200 without a gRPC status is mapped as gRPC
 * does (404 UNIMPLEMENTED, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
 * 429/502/503/504 UNAVAILABLE, 400 INTERNAL, others UNKNOWN); RST_STREAM
 * codes likewise (CANCEL CANCELLED, REFUSED_STREAM UNAVAILABLE,
 * ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED, others INTERNAL).  A connection
 * lost after part of the reply arrived is -ECONNRESET; one lost before is
 * UNAVAILABLE.  Protocol violations by the server are -EPROTO.
 */
#ifndef CRI_TRANSPORT_H
#define CRI_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Largest reply (or stream message) accepted from a runtime. */
#define CRI_MAX_REPLY (16u << 20)
/* Longest socket path. */
#define CRI_MAX_SOCKET_PATH 512
/* How long opening a stream may take (connecting and sending the request). */
#define CRI_STREAM_OPEN_TIMEOUT_MS 5000

struct cri_transport;
struct cri_transport_stream;

/*
 * Prepares a transport to the unix socket at path (nothing is connected
 * yet).  Returns 0 and a new transport; free with cri_transport_free().
 */
int cri_transport_new(const char *socket_path, struct cri_transport **ret);
struct cri_transport *cri_transport_free(struct cri_transport *t);
/* The socket path (borrowed). */
const char *cri_transport_path(const struct cri_transport *t);

/*
 * Unary call of method (e.g. "/runtime.v1.RuntimeService/Version") with the
 * serialized request; waits at most timeout_ms.  On success *ret_buf holds
 * the reply bytes (malloc'd, free() it; may be NULL when *ret_len is 0).
 */
int cri_transport_call(struct cri_transport *t, const char *method, const void *req, size_t req_len,
		       int timeout_ms, uint8_t **ret_buf, size_t *ret_len);

/*
 * Starts a server-streaming call on a connection of its own: connects and
 * sends the request (bounded by CRI_STREAM_OPEN_TIMEOUT_MS).  The stream
 * must be freed before its transport.
 */
int cri_transport_stream_open(struct cri_transport *t, const char *method, const void *req,
			      size_t req_len, struct cri_transport_stream **ret);
/*
 * The stream's socket, to poll for input (borrowed): readable when a
 * message, the end of the stream or something for the connection itself
 * (a PING, a window update) arrived.  Level-triggered polling must call
 * cri_transport_stream_next() until it returns 0.
 */
int cri_transport_stream_fd(const struct cri_transport_stream *s);
/*
 * Takes the next message without blocking: 1 and the bytes (free() them),
 * 0 when no complete message is buffered and the socket has nothing more
 * for now, or -errno once the stream has ended (a stream the server closed
 * with OK ends with -ECONNRESET: CRI event streams do not end).  Messages
 * that arrived before the end are returned first.
 */
int cri_transport_stream_next(struct cri_transport_stream *s, uint8_t **ret_buf, size_t *ret_len);
/* Cancels the call and closes its connection. */
struct cri_transport_stream *cri_transport_stream_free(struct cri_transport_stream *s);

#endif /* CRI_TRANSPORT_H */
