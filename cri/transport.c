// SPDX-License-Identifier: Apache-2.0
/*
 * gRPC C core behind a byte-level API: channels to a unix socket, unary calls
 * with deadlines, one server-streaming call form, and the translation of gRPC
 * status codes to -errno.  See transport.h for the contract.
 *
 * Every call gets its own pluck completion queue: calls are synchronous and
 * short, and a private queue keeps them independent of any stream whose
 * helper thread is blocked on its own queue at the same time.
 *
 * The gRPC library is loaded with dlopen() when the first transport is made,
 * not linked: it brings some 80 shared libraries (abseil, re2, c-ares, ...)
 * whose loading and relocation would cost every start of ig about 10 ms and
 * 10 MB, also on hosts with no runtime at all.  The headers still type-check
 * every call: each function is called through a pointer of its own type.
 */
#include "cri/transport.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "base/log.h"

/* The soname the build found; the unversioned name of the -dev package otherwise. */
#ifndef CRI_GRPC_SONAME
#define CRI_GRPC_SONAME "libgrpc.so"
#endif

#define TRANSPORT_GRPC_FUNCS(X)                                                                    \
	X(gpr_free)                                                                                \
	X(gpr_inf_future)                                                                          \
	X(gpr_now)                                                                                 \
	X(gpr_time_add)                                                                            \
	X(gpr_time_from_millis)                                                                    \
	X(grpc_byte_buffer_destroy)                                                                \
	X(grpc_byte_buffer_length)                                                                 \
	X(grpc_byte_buffer_reader_destroy)                                                         \
	X(grpc_byte_buffer_reader_init)                                                            \
	X(grpc_byte_buffer_reader_readall)                                                         \
	X(grpc_call_cancel)                                                                        \
	X(grpc_call_start_batch)                                                                   \
	X(grpc_call_unref)                                                                         \
	X(grpc_channel_create)                                                                     \
	X(grpc_channel_create_call)                                                                \
	X(grpc_channel_credentials_release)                                                        \
	X(grpc_channel_destroy)                                                                    \
	X(grpc_completion_queue_create_for_pluck)                                                  \
	X(grpc_completion_queue_destroy)                                                           \
	X(grpc_completion_queue_pluck)                                                             \
	X(grpc_completion_queue_shutdown)                                                          \
	X(grpc_empty_slice)                                                                        \
	X(grpc_init)                                                                               \
	X(grpc_insecure_credentials_create)                                                        \
	X(grpc_metadata_array_destroy)                                                             \
	X(grpc_metadata_array_init)                                                                \
	X(grpc_raw_byte_buffer_create)                                                             \
	X(grpc_shutdown)                                                                           \
	X(grpc_slice_from_copied_buffer)                                                           \
	X(grpc_slice_from_static_string)                                                           \
	X(grpc_slice_to_c_string)                                                                  \
	X(grpc_slice_unref)

static struct {
#define TRANSPORT_GRPC_PTR(f) __typeof__(f) *p_##f;
	TRANSPORT_GRPC_FUNCS(TRANSPORT_GRPC_PTR)
#undef TRANSPORT_GRPC_PTR
} transport_grpc;

static pthread_once_t transport_grpc_once = PTHREAD_ONCE_INIT;
static int transport_grpc_err;

static void transport_grpc_load(void)
{
	void *h = dlopen(CRI_GRPC_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		base_log_debug("cri: cannot load %s: %s", CRI_GRPC_SONAME, dlerror());
		transport_grpc_err = -ELIBACC;
		return;
	}
	/* dlsym() on the handle also searches libgpr, which libgrpc depends on. */
#define TRANSPORT_GRPC_SYM(f)                                                                      \
	transport_grpc.p_##f = (__typeof__(f) *)dlsym(h, #f);                                      \
	if (!transport_grpc.p_##f) {                                                               \
		base_log_debug("cri: %s has no %s", CRI_GRPC_SONAME, #f);                          \
		transport_grpc_err = -ELIBBAD;                                                     \
		return;                                                                            \
	}
	TRANSPORT_GRPC_FUNCS(TRANSPORT_GRPC_SYM)
#undef TRANSPORT_GRPC_SYM
	/* kept loaded for the life of the process, as a linked library would be */
}

/* The calls below go through the table; the headers above declared their types. */
#define gpr_free			 transport_grpc.p_gpr_free
#define gpr_inf_future			 transport_grpc.p_gpr_inf_future
#define gpr_now				 transport_grpc.p_gpr_now
#define gpr_time_add			 transport_grpc.p_gpr_time_add
#define gpr_time_from_millis		 transport_grpc.p_gpr_time_from_millis
#define grpc_byte_buffer_destroy	 transport_grpc.p_grpc_byte_buffer_destroy
#define grpc_byte_buffer_length		 transport_grpc.p_grpc_byte_buffer_length
#define grpc_byte_buffer_reader_destroy	 transport_grpc.p_grpc_byte_buffer_reader_destroy
#define grpc_byte_buffer_reader_init	 transport_grpc.p_grpc_byte_buffer_reader_init
#define grpc_byte_buffer_reader_readall	 transport_grpc.p_grpc_byte_buffer_reader_readall
#define grpc_call_cancel		 transport_grpc.p_grpc_call_cancel
#define grpc_call_start_batch		 transport_grpc.p_grpc_call_start_batch
#define grpc_call_unref			 transport_grpc.p_grpc_call_unref
#define grpc_channel_create		 transport_grpc.p_grpc_channel_create
#define grpc_channel_create_call	 transport_grpc.p_grpc_channel_create_call
#define grpc_channel_credentials_release transport_grpc.p_grpc_channel_credentials_release
#define grpc_channel_destroy		 transport_grpc.p_grpc_channel_destroy
#define grpc_completion_queue_create_for_pluck                                                     \
	transport_grpc.p_grpc_completion_queue_create_for_pluck
#define grpc_completion_queue_destroy	 transport_grpc.p_grpc_completion_queue_destroy
#define grpc_completion_queue_pluck	 transport_grpc.p_grpc_completion_queue_pluck
#define grpc_completion_queue_shutdown	 transport_grpc.p_grpc_completion_queue_shutdown
#define grpc_empty_slice		 transport_grpc.p_grpc_empty_slice
#define grpc_init			 transport_grpc.p_grpc_init
#define grpc_insecure_credentials_create transport_grpc.p_grpc_insecure_credentials_create
#define grpc_metadata_array_destroy	 transport_grpc.p_grpc_metadata_array_destroy
#define grpc_metadata_array_init	 transport_grpc.p_grpc_metadata_array_init
#define grpc_raw_byte_buffer_create	 transport_grpc.p_grpc_raw_byte_buffer_create
#define grpc_shutdown			 transport_grpc.p_grpc_shutdown
#define grpc_slice_from_copied_buffer	 transport_grpc.p_grpc_slice_from_copied_buffer
#define grpc_slice_from_static_string	 transport_grpc.p_grpc_slice_from_static_string
#define grpc_slice_to_c_string		 transport_grpc.p_grpc_slice_to_c_string
#define grpc_slice_unref		 transport_grpc.p_grpc_slice_unref

/* How soon gRPC retries a broken connection by itself (we also rebuild). */
#define TRANSPORT_RECONNECT_MIN_MS 100
#define TRANSPORT_RECONNECT_MAX_MS 1000

struct cri_transport {
	char *path;
	char *target; /* "unix://<path>" */
	grpc_channel_credentials *creds;
	grpc_channel *ch;
	bool broken; /* last call saw UNAVAILABLE: rebuild the channel */
};

struct transport_msg {
	struct transport_msg *next;
	uint8_t *buf;
	size_t len;
};

struct cri_transport_stream {
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_byte_buffer *send;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	struct transport_msg *head, *tail;
	size_t queued;
	bool ended;
	int end_err;
	int efd;
	char *path; /* to tell a missing socket from a dead one */
};

static int transport_status_to_errno(grpc_status_code code, const char *path)
{
	struct stat st;

	switch (code) {
	case GRPC_STATUS_OK:
		return 0;
	case GRPC_STATUS_UNAVAILABLE:
		if (path && stat(path, &st) < 0)
			return errno == ENOENT ? -ENOENT : -errno;
		if (path && !S_ISSOCK(st.st_mode))
			return -ENOTSOCK;
		return -ECONNREFUSED;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_STATUS_UNIMPLEMENTED:
		return -EOPNOTSUPP;
	case GRPC_STATUS_NOT_FOUND:
		return -ESRCH;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return -EINVAL;
	case GRPC_STATUS_ALREADY_EXISTS:
		return -EEXIST;
	case GRPC_STATUS_PERMISSION_DENIED:
	case GRPC_STATUS_UNAUTHENTICATED:
		return -EACCES;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return -E2BIG;
	case GRPC_STATUS_CANCELLED:
		return -ECANCELED;
	case GRPC_STATUS_ABORTED:
		return -ECONNABORTED;
	case GRPC_STATUS_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_STATUS_FAILED_PRECONDITION:
		return -EBUSY;
	case GRPC_STATUS_INTERNAL:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Translates and logs the detail once, at debug level. */
static int transport_status(const char *path, const char *method, grpc_status_code code,
			    grpc_slice details)
{
	char *msg;
	int err;

	err = transport_status_to_errno(code, path);
	if (err) {
		msg = grpc_slice_to_c_string(details);
		base_log_debug("cri: %s on %s: grpc status %d (%s) -> %s", method, path, (int)code,
			       msg ? msg : "", strerror(-err));
		gpr_free(msg);
	}
	return err;
}

static int transport_connect(struct cri_transport *t)
{
	grpc_arg args[3];
	grpc_channel_args chargs;

	if (t->ch && !t->broken)
		return 0;
	if (t->ch) {
		base_log_debug("cri: reconnecting to %s", t->path);
		grpc_channel_destroy(t->ch);
		t->ch = NULL;
	}
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = (int)CRI_MAX_REPLY;
	/*
	 * Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also the connect
	 * timeout, and a busy runtime may take longer than our backoff to
	 * send its SETTINGS frame.
	 */
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
	args[1].value.integer = TRANSPORT_RECONNECT_MIN_MS;
	args[2].type = GRPC_ARG_INTEGER;
	args[2].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
	args[2].value.integer = TRANSPORT_RECONNECT_MAX_MS;
	chargs.num_args = 3;
	chargs.args = args;
	t->ch = grpc_channel_create(t->target, t->creds, &chargs);
	if (!t->ch)
		return -ENOMEM;
	t->broken = false;
	return 0;
}

int cri_transport_new(const char *socket_path, struct cri_transport **ret)
{
	struct cri_transport *t;
	size_t n;

	if (!socket_path || !*socket_path || !ret)
		return -EINVAL;
	n = strlen(socket_path);
	if (n > CRI_MAX_SOCKET_PATH)
		return -ENAMETOOLONG;
	pthread_once(&transport_grpc_once, transport_grpc_load);
	if (transport_grpc_err)
		return transport_grpc_err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* gRPC reference-counts init/shutdown: one pair per transport. */
	grpc_init();
	t->path = strdup(socket_path);
	t->target = malloc(n + sizeof("unix://"));
	if (!t->path || !t->target) {
		cri_transport_free(t);
		return -ENOMEM;
	}
	memcpy(t->target, "unix://", 7);
	memcpy(t->target + 7, socket_path, n + 1);
	t->creds = grpc_insecure_credentials_create();
	if (!t->creds) {
		cri_transport_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

struct cri_transport *cri_transport_free(struct cri_transport *t)
{
	if (!t)
		return NULL;
	if (t->ch)
		grpc_channel_destroy(t->ch);
	if (t->creds)
		grpc_channel_credentials_release(t->creds);
	free(t->path);
	free(t->target);
	free(t);
	grpc_shutdown();
	return NULL;
}

const char *cri_transport_path(const struct cri_transport *t)
{
	return t ? t->path : NULL;
}

static gpr_timespec transport_deadline(int timeout_ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Copies a received message out, bounded by CRI_MAX_REPLY. */
static int transport_take_bytes(grpc_byte_buffer *bb, uint8_t **ret_buf, size_t *ret_len)
{
	grpc_byte_buffer_reader rd;
	grpc_slice all;
	size_t n;
	uint8_t *p = NULL;

	n = grpc_byte_buffer_length(bb);
	if (n > CRI_MAX_REPLY)
		return -E2BIG;
	if (!grpc_byte_buffer_reader_init(&rd, bb))
		return -EPROTO;
	all = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	n = GRPC_SLICE_LENGTH(all);
	if (n) {
		p = malloc(n);
		if (!p) {
			grpc_slice_unref(all);
			return -ENOMEM;
		}
		memcpy(p, GRPC_SLICE_START_PTR(all), n);
	}
	grpc_slice_unref(all);
	*ret_buf = p;
	*ret_len = n;
	return 0;
}

static grpc_byte_buffer *transport_request(const void *req, size_t req_len)
{
	grpc_slice s = grpc_slice_from_copied_buffer(req ? (const char *)req : "", req_len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

	grpc_slice_unref(s);
	return bb;
}

int cri_transport_call(struct cri_transport *t, const char *method, const void *req, size_t req_len,
		       int timeout_ms, uint8_t **ret_buf, size_t *ret_len)
{
	grpc_metadata_array md_init, md_trail;
	grpc_completion_queue *cq = NULL;
	grpc_byte_buffer *send = NULL, *recv = NULL;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_call *call = NULL;
	grpc_op ops[6];
	grpc_event ev;
	int err;

	if (!t || !method || !ret_buf || !ret_len || timeout_ms <= 0)
		return -EINVAL;
	err = transport_connect(t);
	if (err)
		return err;
	grpc_metadata_array_init(&md_init);
	grpc_metadata_array_init(&md_trail);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	send = transport_request(req, req_len);
	if (!cq || !send) {
		err = -ENOMEM;
		goto out;
	}
	call = grpc_channel_create_call(t->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					grpc_slice_from_static_string(method), NULL,
					transport_deadline(timeout_ms), NULL);
	if (!call) {
		err = -ENOMEM;
		goto out;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) != GRPC_CALL_OK) {
		err = -EIO;
		goto out;
	}
	/* The call's own deadline bounds this wait. */
	ev = grpc_completion_queue_pluck(cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (ev.type != GRPC_OP_COMPLETE) {
		err = -EIO;
		goto out;
	}
	err = transport_status(t->path, method, code, details);
	if (code == GRPC_STATUS_UNAVAILABLE)
		t->broken = true;
	if (err)
		goto out;
	if (!recv) {
		err = -EPROTO;
		goto out;
	}
	err = transport_take_bytes(recv, ret_buf, ret_len);
out:
	if (recv)
		grpc_byte_buffer_destroy(recv);
	if (send)
		grpc_byte_buffer_destroy(send);
	if (call)
		grpc_call_unref(call);
	if (cq) {
		grpc_completion_queue_shutdown(cq);
		grpc_completion_queue_destroy(cq);
	}
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md_init);
	grpc_metadata_array_destroy(&md_trail);
	return err;
}

static void stream_signal(struct cri_transport_stream *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) < 0)
		base_log_debug("cri: stream eventfd write: %s", strerror(errno));
}

static void stream_end(struct cri_transport_stream *s, int err)
{
	pthread_mutex_lock(&s->lock);
	if (!s->ended) {
		s->ended = true;
		s->end_err = err;
	}
	pthread_mutex_unlock(&s->lock);
	stream_signal(s);
}

static void *stream_thread(void *arg)
{
	struct cri_transport_stream *s = arg;
	grpc_metadata_array md_init, md_trail;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_byte_buffer *recv;
	struct transport_msg *m;
	grpc_op ops[4];
	grpc_event ev;
	int err = 0;

	grpc_metadata_array_init(&md_init);
	grpc_metadata_array_init(&md_trail);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
	if (grpc_call_start_batch(s->call, ops, 4, (void *)1, NULL) != GRPC_CALL_OK) {
		stream_end(s, -EIO);
		goto out;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &md_trail;
	ops[0].data.recv_status_on_client.status = &code;
	ops[0].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(s->call, ops, 1, (void *)2, NULL) != GRPC_CALL_OK) {
		grpc_call_cancel(s->call, NULL);
		grpc_completion_queue_pluck(s->cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME),
					    NULL);
		stream_end(s, -EIO);
		goto out;
	}
	grpc_completion_queue_pluck(s->cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	for (;;) {
		recv = NULL;
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &recv;
		if (grpc_call_start_batch(s->call, ops, 1, (void *)3, NULL) != GRPC_CALL_OK)
			break;
		ev = grpc_completion_queue_pluck(s->cq, (void *)3,
						 gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (!ev.success || !recv)
			break;
		m = calloc(1, sizeof(*m));
		err = m ? transport_take_bytes(recv, &m->buf, &m->len) : -ENOMEM;
		grpc_byte_buffer_destroy(recv);
		if (!err) {
			pthread_mutex_lock(&s->lock);
			if (s->queued >= CRI_MAX_STREAM_QUEUE) {
				err = -ENOBUFS;
			} else {
				if (s->tail)
					s->tail->next = m;
				else
					s->head = m;
				s->tail = m;
				s->queued++;
			}
			pthread_mutex_unlock(&s->lock);
		}
		if (err) {
			if (m)
				free(m->buf);
			free(m);
			grpc_call_cancel(s->call, NULL);
			break;
		}
		stream_signal(s);
	}
	grpc_completion_queue_pluck(s->cq, (void *)2, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (!err) {
		err = transport_status(s->path, "stream", code, details);
		if (!err)
			err = -ECONNRESET;
	}
	stream_end(s, err);
out:
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md_init);
	grpc_metadata_array_destroy(&md_trail);
	return NULL;
}

int cri_transport_stream_open(struct cri_transport *t, const char *method, const void *req,
			      size_t req_len, struct cri_transport_stream **ret)
{
	struct cri_transport_stream *s;
	int err;

	if (!t || !method || !ret)
		return -EINVAL;
	err = transport_connect(t);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->path = strdup(t->path);
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	s->send = transport_request(req, req_len);
	if (s->efd < 0 || !s->path || !s->cq || !s->send) {
		err = s->efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	/* An event stream has no natural end, so no deadline. */
	s->call = grpc_channel_create_call(t->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
					   grpc_slice_from_static_string(method), NULL,
					   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (!s->call) {
		err = -ENOMEM;
		goto fail;
	}
	err = -pthread_create(&s->thread, NULL, stream_thread, s);
	if (err)
		goto fail;
	s->thread_started = true;
	*ret = s;
	return 0;
fail:
	cri_transport_stream_free(s);
	return err;
}

int cri_transport_stream_fd(const struct cri_transport_stream *s)
{
	return s ? s->efd : -EINVAL;
}

int cri_transport_stream_next(struct cri_transport_stream *s, uint8_t **ret_buf, size_t *ret_len)
{
	struct transport_msg *m;
	uint64_t cnt;
	int r = 0;

	if (!s || !ret_buf || !ret_len)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	m = s->head;
	if (m) {
		s->head = m->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		*ret_buf = m->buf;
		*ret_len = m->len;
		free(m);
		r = 1;
	} else if (s->ended) {
		r = s->end_err;
	} else {
		/* Drained: clear the eventfd under the lock so no signal is lost. */
		if (read(s->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			r = -errno;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

struct cri_transport_stream *cri_transport_stream_free(struct cri_transport_stream *s)
{
	struct transport_msg *m;

	if (!s)
		return NULL;
	if (s->call)
		grpc_call_cancel(s->call, NULL);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	if (s->call)
		grpc_call_unref(s->call);
	if (s->cq) {
		grpc_completion_queue_shutdown(s->cq);
		grpc_completion_queue_destroy(s->cq);
	}
	if (s->send)
		grpc_byte_buffer_destroy(s->send);
	while ((m = s->head)) {
		s->head = m->next;
		free(m->buf);
		free(m);
	}
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
	return NULL;
}
