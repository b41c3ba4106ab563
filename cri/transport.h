/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC transport to a container runtime's CRI socket.
 *
 * The gRPC C core API changes between releases, so this is the only file that
 * includes its headers: everything above it deals in request and reply bytes
 * (protobuf-c encodes and decodes them) and in -errno codes.  A transport is
 * an insecure channel to "unix://<path>"; unary calls always carry a
 * deadline; a server-streaming call delivers its messages to a queue that an
 * epoll loop drains when an eventfd becomes readable.
 *
 * gRPC status codes are translated to -errno in one place:
 *   UNAVAILABLE       -ENOENT (socket missing), -ENOTSOCK (path is no socket),
 *                     -ECONNREFUSED (nobody answers on it)
 *   DEADLINE_EXCEEDED -ETIMEDOUT      UNIMPLEMENTED     -EOPNOTSUPP
 *   NOT_FOUND         -ESRCH (the runtime has no such object; -ENOENT is
 *                     kept for "no socket")
 *   INVALID_ARGUMENT  -EINVAL         ALREADY_EXISTS    -EEXIST
 *   PERMISSION_DENIED, UNAUTHENTICATED  -EACCES
 *   RESOURCE_EXHAUSTED -E2BIG (mostly: reply above CRI_MAX_REPLY)
 *   CANCELLED -ECANCELED, ABORTED -ECONNABORTED, OUT_OF_RANGE -ERANGE,
 *   FAILED_PRECONDITION -EBUSY, INTERNAL -EPROTO, other -EIO.
 *
 * A call that fails with UNAVAILABLE marks the channel broken; the next call
 * builds a fresh one, so a restarted runtime is reached again at once rather
 * than after gRPC's reconnect backoff.
 */
#ifndef CRI_TRANSPORT_H
#define CRI_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Largest reply (or stream message) accepted from a runtime. */
#define CRI_MAX_REPLY (16u << 20)
/* Longest socket path. */
#define CRI_MAX_SOCKET_PATH 512
/* Messages a stream queues before the reader drains them; past it -ENOBUFS. */
#define CRI_MAX_STREAM_QUEUE 4096

struct cri_transport;
struct cri_transport_stream;

/*
 * Prepares a channel to the unix socket at path (nothing is connected yet).
 * Returns 0 and a new transport; free with cri_transport_free().
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
 * Starts a server-streaming call.  Replies are read by a helper thread into
 * a queue; cri_transport_stream_fd() becomes readable when a message or the
 * end of the stream is there.  The stream must be freed before its transport.
 */
int cri_transport_stream_open(struct cri_transport *t, const char *method, const void *req,
			      size_t req_len, struct cri_transport_stream **ret);
/* An eventfd to poll for input (borrowed). */
int cri_transport_stream_fd(const struct cri_transport_stream *s);
/*
 * Takes the next queued message: 1 and the bytes (free() them), 0 when none
 * is queued yet, or -errno once the stream has ended (a stream the server
 * closed with OK ends with -ECONNRESET: CRI event streams do not end).
 */
int cri_transport_stream_next(struct cri_transport_stream *s, uint8_t **ret_buf, size_t *ret_len);
/* Cancels the call and waits for the helper thread. */
struct cri_transport_stream *cri_transport_stream_free(struct cri_transport_stream *s);

#endif /* CRI_TRANSPORT_H */
