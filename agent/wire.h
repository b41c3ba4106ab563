/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gadget agent's control API on the wire: messages of agent/api.proto
 * framed on a byte stream (a unix socket, a loopback TCP connection, or the
 * data channel of a pods/portforward WebSocket).  docs/api.md describes the
 * protocol; this module is the codec both the agent and its clients use.
 *
 * Framing: each message is a 4-byte big-endian length, then that many bytes
 * of protobuf (a Request from the client, a Response from the agent).  A
 * length over the reader's maximum is refused from the header alone, before
 * anything is allocated for it, so a peer cannot make us reserve memory it
 * never sends.
 *
 * The reader is incremental and made for non-blocking fds in an epoll loop:
 * bytes arrive by agent_wire_reader_read() (one read(2) per call) or by
 * agent_wire_reader_feed() (bytes the caller got elsewhere, e.g. WebSocket
 * frames); complete messages are taken with agent_wire_reader_next().  It
 * never holds more than max(AGENT_WIRE_READ_CHUNK, 4 + max_message) bytes.
 *
 * The writer keeps a bounded output queue per peer.  Records are queued as
 * droppable: when the queue would grow past max_queue, the message is
 * refused with -ENOBUFS and the caller counts the records as dropped and
 * reports them in its next batch, so a slow client never blocks the node and
 * never makes the agent buffer without bound.  Control messages (answers,
 * RunEnded) may go past max_queue by up to AGENT_WIRE_MAX_MESSAGE; a client
 * that lets even that fill up gets -ENOBUFS too and should be disconnected.
 * Whatever was accepted is written in order, whole, or not at all.
 */
#ifndef AGENT_WIRE_H
#define AGENT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "agent/api.pb-c.h"
#include "base/buf.h"
#include "run/help.h"

/* Protocol version this code speaks; see docs/api.md "Versioning". */
#define AGENT_WIRE_PROTOCOL_MAJOR 1
#define AGENT_WIRE_PROTOCOL_MINOR 2

#define AGENT_WIRE_HEADER_BYTES 4
/* Largest message body either side accepts. */
#define AGENT_WIRE_MAX_MESSAGE (16u << 20)
/* Default bound on a writer's queue of not yet written bytes. */
#define AGENT_WIRE_MAX_QUEUE (8u << 20)
/* The reader's buffer for small messages, and the most one read(2) asks for. */
#define AGENT_WIRE_READ_CHUNK (64u << 10)
/* A RecordBatch the agent builds stays under this (a batch is flushed then). */
#define AGENT_WIRE_MAX_BATCH_BYTES (1u << 20)
/* InstanceSpec.replay_records: 0 means the default; more is refused. */
#define AGENT_WIRE_DEFAULT_REPLAY_RECORDS 1024
#define AGENT_WIRE_MAX_REPLAY_RECORDS	  65536

/* ------------------------------------------------------------ reader */

struct agent_wire_reader;

/*
 * Returns a new reader in *ret (free with agent_wire_reader_free()).
 * max_message 0 means AGENT_WIRE_MAX_MESSAGE; -EINVAL above it.
 */
int agent_wire_reader_new(size_t max_message, struct agent_wire_reader **ret);
struct agent_wire_reader *agent_wire_reader_free(struct agent_wire_reader *r);

/*
 * One read(2) from fd into the reader (EINTR is retried).  Returns the bytes
 * read (> 0), 0 at end of stream on a message boundary, -EPROTO at end of
 * stream inside a message, -EAGAIN when a non-blocking fd has nothing,
 * -ENOBUFS when a complete message is waiting (take it with _next() first),
 * -EMSGSIZE when the next message is announced over the maximum, or the
 * -errno of read(2).
 */
int agent_wire_reader_read(struct agent_wire_reader *r, int fd);

/*
 * Copies bytes the caller received into the reader, as many as it can hold
 * now; *ret_taken says how many (fewer than len only when a complete message
 * is waiting: take messages with _next(), then feed the rest).  0, or
 * -EMSGSIZE as above, with *ret_taken still set.
 */
int agent_wire_reader_feed(struct agent_wire_reader *r, const void *data, size_t len,
			   size_t *ret_taken);

/*
 * Takes the next complete message: returns 1 with the protobuf bytes in
 * *ret_msg / *ret_len (borrowed, valid until the next call on r), 0 when more
 * bytes are needed, -EMSGSIZE when the announced length is over the maximum
 * (the stream cannot be resynchronised: close it), or the error that ended
 * the stream.
 */
int agent_wire_reader_next(struct agent_wire_reader *r, const uint8_t **ret_msg, size_t *ret_len);

/* Bytes received and not yet taken as messages. */
size_t agent_wire_reader_pending(const struct agent_wire_reader *r);

/* ------------------------------------------------------------ writer */

/* The message may be refused when the queue is past its soft limit. */
#define AGENT_WIRE_DROPPABLE (1u << 0)

struct agent_wire_writer;

/*
 * Returns a new writer in *ret (free with agent_wire_writer_free()).
 * max_queue 0 means AGENT_WIRE_MAX_QUEUE.
 */
int agent_wire_writer_new(size_t max_queue, struct agent_wire_writer **ret);
struct agent_wire_writer *agent_wire_writer_free(struct agent_wire_writer *w);

/*
 * Frames and queues one message (a Request or a Response; &msg->base).
 * -EMSGSIZE when it packs to more than AGENT_WIRE_MAX_MESSAGE, -ENOBUFS when
 * the queue has no room for it (see above), -ENOMEM; nothing is queued then.
 */
int agent_wire_writer_queue(struct agent_wire_writer *w, const ProtobufCMessage *msg,
			    unsigned int flags);

/* The same for a message already packed (len bytes of protobuf). */
int agent_wire_writer_queue_raw(struct agent_wire_writer *w, const void *msg, size_t len,
				unsigned int flags);

/*
 * Writes queued bytes to fd until the queue is empty (returns 0) or the fd
 * would block (-EAGAIN: wait for EPOLLOUT and call again).  Sockets are
 * written with MSG_NOSIGNAL, so a closed peer is -EPIPE, not SIGPIPE; other
 * fds with write(2).  -errno of the write otherwise; what was not written
 * stays queued.
 */
int agent_wire_writer_flush(struct agent_wire_writer *w, int fd);

/* Bytes queued and not yet written. */
size_t agent_wire_writer_pending(const struct agent_wire_writer *w);

/* ------------------------------------------------------------ messages */

/*
 * Appends msg framed (length + protobuf) to out.  -EMSGSIZE over
 * AGENT_WIRE_MAX_MESSAGE, -E2BIG past out's maximum, -ENOMEM.
 */
int agent_wire_frame(const ProtobufCMessage *msg, struct base_buf *out);

/*
 * Decodes a Request / Response body as taken from the reader.  Returns 0 and
 * a new message in *ret (free with the matching _free()), or -EBADMSG when the
 * bytes are not a valid message.  A payload case this code does not know (a
 * newer minor version) decodes with payload_case NOT_SET.
 */
int agent_wire_request_unpack(const void *msg, size_t len, Gadget__Agent__V1__Request **ret);
Gadget__Agent__V1__Request *agent_wire_request_free(Gadget__Agent__V1__Request *m);
int agent_wire_response_unpack(const void *msg, size_t len, Gadget__Agent__V1__Response **ret);
Gadget__Agent__V1__Response *agent_wire_response_free(Gadget__Agent__V1__Response *m);

/*
 * The Hello check: a peer speaking major.minor can talk to us when the major
 * versions are equal; the session then uses the smaller minor, stored in
 * *ret_minor.  -EPROTONOSUPPORT otherwise, with a one-line reason in errbuf.
 */
int agent_wire_check_version(uint32_t major, uint32_t minor, uint32_t *ret_minor, char *errbuf,
			     size_t errbuf_len);

/* Names for messages and logs: "run_gadget", "ERROR_NOT_FOUND", ...; "unknown" otherwise. */
const char *agent_wire_request_name(Gadget__Agent__V1__Request__PayloadCase c);
const char *agent_wire_response_name(Gadget__Agent__V1__Response__PayloadCase c);
const char *agent_wire_error_code_name(Gadget__Agent__V1__ErrorCode code);

/* ------------------------------------------------------------ gadget info */

/*
 * A GadgetInfo as the run library describes a gadget, so a client prints its
 * help (run_help_gadget()) and reads its params (run_flags_params()) with
 * the same code as ig.  Strings point into the message, which must outlive
 * the description.
 */
struct agent_wire_desc {
	struct run_help_gadget help; /* params and ds of the gadget */
	struct run_runner_param_info *params;
	const struct run_runner_param_info **param_ptrs;
	struct run_runner_ds_info *ds;
	const struct run_runner_ds_info **ds_ptrs;
	struct run_runner_field *fields;
};

/* Returns a new description in *ret (free with agent_wire_desc_free()); -ENOMEM. */
int agent_wire_desc_new(const Gadget__Agent__V1__GadgetInfo *info, struct agent_wire_desc **ret);
struct agent_wire_desc *agent_wire_desc_free(struct agent_wire_desc *d);

/* The wire's ParamType of a run library param type (enum bpf_gadget_param_type), and back. */
Gadget__Agent__V1__ParamType agent_wire_param_type(int type);
int agent_wire_param_type_from(Gadget__Agent__V1__ParamType t);

#endif /* AGENT_WIRE_H */
