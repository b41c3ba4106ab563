// SPDX-License-Identifier: Apache-2.0
/*
 * Framing and queueing of the agent's control API messages (agent/wire.h).
 *
 * Both directions keep one flat buffer with a consumed offset: it is the
 * cheapest shape for "append at the end, take from the front", and moving
 * the unconsumed tail to the front only when room is needed keeps every
 * message contiguous, so protobuf-c can unpack it in place and pack straight
 * into the queue.
 */
#include "agent/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent/budget.h"
#include "bpf/gadget.h"

static uint32_t wire_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void wire_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* ------------------------------------------------------------ reader */

struct agent_wire_reader {
	uint8_t *buf;
	size_t cap;
	size_t start; /* first byte not yet taken */
	size_t end;   /* one past the last byte received */
	size_t max_message;
	int err;		     /* sticky: the stream is broken */
	bool eof;		     /* the peer closed on a message boundary */
	struct agent_budget *budget; /* charged with cap; NULL: none */
};

int agent_wire_reader_new(size_t max_message, struct agent_wire_reader **ret)
{
	struct agent_wire_reader *r;

	if (max_message > AGENT_WIRE_MAX_MESSAGE)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->max_message = max_message ? max_message : AGENT_WIRE_MAX_MESSAGE;
	*ret = r;
	return 0;
}

struct agent_wire_reader *agent_wire_reader_free(struct agent_wire_reader *r)
{
	if (r) {
		agent_budget_give(r->budget, r->cap);
		free(r->buf);
		free(r);
	}
	return NULL;
}

int agent_wire_reader_set_budget(struct agent_wire_reader *r, struct agent_budget *b)
{
	if (r->cap)
		return -EBUSY;
	r->budget = b;
	return 0;
}

size_t agent_wire_reader_pending(const struct agent_wire_reader *r)
{
	return r->end - r->start;
}

/* Bytes the message at the front needs in all (header included). */
static int reader_need(const struct agent_wire_reader *r, size_t *ret)
{
	uint32_t len;

	if (r->end - r->start < AGENT_WIRE_HEADER_BYTES) {
		*ret = AGENT_WIRE_HEADER_BYTES;
		return 0;
	}
	len = wire_get_be32(r->buf + r->start);
	if (len > r->max_message)
		return -EMSGSIZE;
	*ret = AGENT_WIRE_HEADER_BYTES + (size_t)len;
	return 0;
}

/*
 * Room at the end of the buffer for more bytes: 0 when a complete message is
 * waiting (taking it comes first, which is what bounds the buffer).  Space is
 * only ever grown to what the message at the front needs.
 */
static int reader_make_room(struct agent_wire_reader *r, size_t *ret_room)
{
	size_t need, want, avail;
	uint8_t *nb;
	int err;

	if (r->err)
		return r->err;
	err = reader_need(r, &need);
	if (err < 0) {
		r->err = err;
		return err;
	}
	avail = r->end - r->start;
	if (avail >= need) {
		*ret_room = 0;
		return 0;
	}
	if (avail == 0) {
		r->start = r->end = 0;
		if (r->cap > AGENT_WIRE_READ_CHUNK) {
			/* a big message is gone: give its memory back */
			agent_budget_give(r->budget, r->cap);
			free(r->buf);
			r->buf = NULL;
			r->cap = 0;
		}
	} else if (r->start) {
		memmove(r->buf, r->buf + r->start, avail);
		r->end = avail;
		r->start = 0;
	}
	/*
	 * Grow with what arrives, not with what the header announces, so a peer
	 * that announces big messages and sends nothing costs us nothing.
	 */
	want = r->cap ? r->cap : AGENT_WIRE_READ_CHUNK;
	if (r->end == r->cap && r->cap)
		want = r->cap * 2;
	if (want > need && need > AGENT_WIRE_READ_CHUNK)
		want = need;
	if (r->cap < want) {
		if (!agent_budget_take(r->budget, want - r->cap))
			return -EDQUOT;
		nb = realloc(r->buf, want);
		if (!nb) {
			agent_budget_give(r->budget, want - r->cap);
			return -ENOMEM;
		}
		r->buf = nb;
		r->cap = want;
	}
	*ret_room = r->cap - r->end;
	return 0;
}

/* End of stream: clean only if what is left is whole messages. */
static int reader_check_eof(struct agent_wire_reader *r)
{
	size_t off = r->start;
	uint32_t len;

	while (r->end - off >= AGENT_WIRE_HEADER_BYTES) {
		len = wire_get_be32(r->buf + off);
		if (len > r->max_message || r->end - off - AGENT_WIRE_HEADER_BYTES < len)
			break;
		off += AGENT_WIRE_HEADER_BYTES + len;
	}
	if (off != r->end) {
		r->err = -EPROTO;
		return -EPROTO;
	}
	r->eof = true;
	return 0;
}

int agent_wire_reader_read(struct agent_wire_reader *r, int fd)
{
	size_t room;
	ssize_t n;
	int err;

	if (r->eof)
		return 0;
	err = reader_make_room(r, &room);
	if (err < 0)
		return err;
	if (!room)
		return -ENOBUFS;
	do
		n = read(fd, r->buf + r->end, room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return reader_check_eof(r);
	r->end += (size_t)n;
	return (int)n;
}

int agent_wire_reader_feed(struct agent_wire_reader *r, const void *data, size_t len,
			   size_t *ret_taken)
{
	const uint8_t *p = data;
	size_t taken = 0, room, n;
	int err = 0;

	while (taken < len) {
		err = reader_make_room(r, &room);
		if (err < 0 || !room)
			break;
		n = len - taken < room ? len - taken : room;
		memcpy(r->buf + r->end, p + taken, n);
		r->end += n;
		taken += n;
	}
	*ret_taken = taken;
	if (err < 0)
		return err;
	/* a header over the maximum is refused as soon as it is whole */
	err = reader_need(r, &room);
	if (err < 0)
		r->err = err;
	return err;
}

int agent_wire_reader_next(struct agent_wire_reader *r, const uint8_t **ret_msg, size_t *ret_len)
{
	size_t need;
	int err;

	err = reader_need(r, &need);
	if (err < 0) {
		r->err = err;
		return err;
	}
	if (r->end - r->start >= need) {
		*ret_msg = r->buf + r->start + AGENT_WIRE_HEADER_BYTES;
		*ret_len = need - AGENT_WIRE_HEADER_BYTES;
		r->start += need;
		return 1;
	}
	return r->err;
}

/* ------------------------------------------------------------ writer */

struct agent_wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t start; /* first byte not yet written */
	size_t end;
	size_t max_queue;
	struct agent_budget *budget; /* charged with cap; NULL: none */
};

int agent_wire_writer_new(size_t max_queue, struct agent_wire_writer **ret)
{
	struct agent_wire_writer *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->max_queue = max_queue ? max_queue : AGENT_WIRE_MAX_QUEUE;
	*ret = w;
	return 0;
}

struct agent_wire_writer *agent_wire_writer_free(struct agent_wire_writer *w)
{
	if (w) {
		agent_budget_give(w->budget, w->cap);
		free(w->buf);
		free(w);
	}
	return NULL;
}

int agent_wire_writer_set_budget(struct agent_wire_writer *w, struct agent_budget *b)
{
	if (w->cap)
		return -EBUSY;
	w->budget = b;
	return 0;
}

size_t agent_wire_writer_pending(const struct agent_wire_writer *w)
{
	return w->end - w->start;
}

/* Room for one framed message of body bytes at the end; its start in *ret. */
static int writer_reserve(struct agent_wire_writer *w, size_t body, unsigned int flags,
			  uint8_t **ret)
{
	size_t frame = AGENT_WIRE_HEADER_BYTES + body, pending = w->end - w->start, limit, want;
	uint8_t *nb;

	if (body > AGENT_WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	limit = w->max_queue;
	if (!(flags & AGENT_WIRE_DROPPABLE))
		limit += AGENT_WIRE_HEADER_BYTES + AGENT_WIRE_MAX_MESSAGE;
	if (frame > limit || pending > limit - frame)
		return -ENOBUFS;
	if (w->cap - w->end < frame && w->start) {
		memmove(w->buf, w->buf + w->start, pending);
		w->start = 0;
		w->end = pending;
	}
	if (w->cap - w->end < frame) {
		want = w->cap ? w->cap : AGENT_WIRE_READ_CHUNK;
		while (want - w->end < frame)
			want *= 2;
		/* the whole agent's queues have a budget too: past it, as past max_queue */
		if (!agent_budget_take(w->budget, want - w->cap))
			return -ENOBUFS;
		nb = realloc(w->buf, want);
		if (!nb) {
			agent_budget_give(w->budget, want - w->cap);
			return -ENOMEM;
		}
		w->buf = nb;
		w->cap = want;
	}
	*ret = w->buf + w->end;
	return 0;
}

int agent_wire_writer_queue(struct agent_wire_writer *w, const ProtobufCMessage *msg,
			    unsigned int flags)
{
	size_t body = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;
	int err;

	err = writer_reserve(w, body, flags, &p);
	if (err < 0)
		return err;
	wire_put_be32(p, (uint32_t)body);
	if (protobuf_c_message_pack(msg, p + AGENT_WIRE_HEADER_BYTES) != body)
		return -EINVAL;
	w->end += AGENT_WIRE_HEADER_BYTES + body;
	return 0;
}

int agent_wire_writer_queue_raw(struct agent_wire_writer *w, const void *msg, size_t len,
				unsigned int flags)
{
	uint8_t *p;
	int err;

	err = writer_reserve(w, len, flags, &p);
	if (err < 0)
		return err;
	wire_put_be32(p, (uint32_t)len);
	if (len)
		memcpy(p + AGENT_WIRE_HEADER_BYTES, msg, len);
	w->end += AGENT_WIRE_HEADER_BYTES + len;
	return 0;
}

int agent_wire_writer_flush(struct agent_wire_writer *w, int fd)
{
	bool sock = true;
	ssize_t n;

	while (w->start < w->end) {
		if (sock) {
			n = send(fd, w->buf + w->start, w->end - w->start, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				sock = false;
				continue;
			}
		} else {
			n = write(fd, w->buf + w->start, w->end - w->start);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		w->start += (size_t)n;
	}
	w->start = w->end = 0;
	if (w->cap > AGENT_WIRE_READ_CHUNK) {
		/* a burst is over: do not keep its memory per idle client */
		agent_budget_give(w->budget, w->cap);
		free(w->buf);
		w->buf = NULL;
		w->cap = 0;
	}
	return 0;
}

/* ------------------------------------------------------------ messages */

int agent_wire_frame(const ProtobufCMessage *msg, struct base_buf *out)
{
	size_t body = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;
	int err;

	if (body > AGENT_WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	err = base_buf_reserve(out, AGENT_WIRE_HEADER_BYTES + body);
	if (err < 0)
		return err;
	p = (uint8_t *)out->data + out->len;
	wire_put_be32(p, (uint32_t)body);
	if (protobuf_c_message_pack(msg, p + AGENT_WIRE_HEADER_BYTES) != body)
		return -EINVAL;
	out->len += AGENT_WIRE_HEADER_BYTES + body;
	out->data[out->len] = '\0';
	return 0;
}

static int wire_unpack(const ProtobufCMessageDescriptor *desc, const void *msg, size_t len,
		       ProtobufCMessage **ret)
{
	ProtobufCMessage *m;

	if (len > AGENT_WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	/* protobuf-c wants a pointer even for an empty message */
	m = protobuf_c_message_unpack(desc, NULL, len, len ? msg : (const void *)"");
	if (!m)
		return -EBADMSG;
	*ret = m;
	return 0;
}

int agent_wire_request_unpack(const void *msg, size_t len, Gadget__Agent__V1__Request **ret)
{
	ProtobufCMessage *m;
	int err;

	err = wire_unpack(&gadget__agent__v1__request__descriptor, msg, len, &m);
	if (err < 0)
		return err;
	*ret = (Gadget__Agent__V1__Request *)m;
	return 0;
}

Gadget__Agent__V1__Request *agent_wire_request_free(Gadget__Agent__V1__Request *m)
{
	if (m)
		gadget__agent__v1__request__free_unpacked(m, NULL);
	return NULL;
}

int agent_wire_response_unpack(const void *msg, size_t len, Gadget__Agent__V1__Response **ret)
{
	ProtobufCMessage *m;
	int err;

	err = wire_unpack(&gadget__agent__v1__response__descriptor, msg, len, &m);
	if (err < 0)
		return err;
	*ret = (Gadget__Agent__V1__Response *)m;
	return 0;
}

Gadget__Agent__V1__Response *agent_wire_response_free(Gadget__Agent__V1__Response *m)
{
	if (m)
		gadget__agent__v1__response__free_unpacked(m, NULL);
	return NULL;
}

int agent_wire_check_version(uint32_t major, uint32_t minor, uint32_t *ret_minor, char *errbuf,
			     size_t errbuf_len)
{
	if (major != AGENT_WIRE_PROTOCOL_MAJOR) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len,
				 "peer speaks control protocol %u.%u, this side speaks %u.%u: "
				 "the major versions must be equal (upgrade the older side)",
				 major, minor, AGENT_WIRE_PROTOCOL_MAJOR,
				 AGENT_WIRE_PROTOCOL_MINOR);
		return -EPROTONOSUPPORT;
	}
	*ret_minor = AGENT_WIRE_PROTOCOL_MINOR;
	if (minor < *ret_minor)
		*ret_minor = minor;
	return 0;
}

/* The schema already names every case; reading it keeps the names in one place. */
static const char *wire_field_name(const ProtobufCMessageDescriptor *desc, unsigned int id)
{
	const ProtobufCFieldDescriptor *f;

	if (!id)
		return "unknown";
	f = protobuf_c_message_descriptor_get_field(desc, id);
	return f && f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF ? f->name : "unknown";
}

const char *agent_wire_request_name(Gadget__Agent__V1__Request__PayloadCase c)
{
	return wire_field_name(&gadget__agent__v1__request__descriptor, (unsigned int)c);
}

const char *agent_wire_response_name(Gadget__Agent__V1__Response__PayloadCase c)
{
	return wire_field_name(&gadget__agent__v1__response__descriptor, (unsigned int)c);
}

const char *agent_wire_error_code_name(Gadget__Agent__V1__ErrorCode code)
{
	const ProtobufCEnumValue *v;

	v = protobuf_c_enum_descriptor_get_value(&gadget__agent__v1__error_code__descriptor,
						 (int)code);
	return v ? v->name : "unknown";
}

/* ------------------------------------------------------------ gadget info */

Gadget__Agent__V1__ParamType agent_wire_param_type(int type)
{
	switch (type) {
	case BPF_GADGET_PARAM_BOOL:
		return GADGET__AGENT__V1__PARAM_TYPE__PARAM_BOOL;
	case BPF_GADGET_PARAM_INT:
		return GADGET__AGENT__V1__PARAM_TYPE__PARAM_INT;
	case BPF_GADGET_PARAM_UINT:
		return GADGET__AGENT__V1__PARAM_TYPE__PARAM_UINT;
	case BPF_GADGET_PARAM_ENUM:
		return GADGET__AGENT__V1__PARAM_TYPE__PARAM_ENUM;
	default:
		return GADGET__AGENT__V1__PARAM_TYPE__PARAM_STRING;
	}
}

int agent_wire_param_type_from(Gadget__Agent__V1__ParamType t)
{
	switch (t) {
	case GADGET__AGENT__V1__PARAM_TYPE__PARAM_BOOL:
		return BPF_GADGET_PARAM_BOOL;
	case GADGET__AGENT__V1__PARAM_TYPE__PARAM_INT:
		return BPF_GADGET_PARAM_INT;
	case GADGET__AGENT__V1__PARAM_TYPE__PARAM_UINT:
		return BPF_GADGET_PARAM_UINT;
	case GADGET__AGENT__V1__PARAM_TYPE__PARAM_ENUM:
		return BPF_GADGET_PARAM_ENUM;
	default:
		return BPF_GADGET_PARAM_STRING;
	}
}

static enum run_runner_ds_type ds_type_from(Gadget__Agent__V1__DataSourceType t)
{
	switch (t) {
	case GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_MAPITER:
		return RUN_RUNNER_DS_MAPITER;
	case GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_ITER:
		return RUN_RUNNER_DS_ITER;
	default:
		return RUN_RUNNER_DS_TRACER;
	}
}

struct agent_wire_desc *agent_wire_desc_free(struct agent_wire_desc *d)
{
	if (!d)
		return NULL;
	free(d->params);
	free(d->param_ptrs);
	free(d->ds);
	free(d->ds_ptrs);
	free(d->fields);
	free(d);
	return NULL;
}

int agent_wire_desc_new(const Gadget__Agent__V1__GadgetInfo *info, struct agent_wire_desc **ret)
{
	struct agent_wire_desc *d = calloc(1, sizeof(*d));
	size_t i, j, nf = 0, f = 0;

	if (!d)
		return -ENOMEM;
	for (i = 0; i < info->n_data_sources; i++)
		nf += info->data_sources[i]->n_fields;
	d->params = calloc(info->n_params + 1, sizeof(*d->params));
	d->param_ptrs = calloc(info->n_params + 1, sizeof(*d->param_ptrs));
	d->ds = calloc(info->n_data_sources + 1, sizeof(*d->ds));
	d->ds_ptrs = calloc(info->n_data_sources + 1, sizeof(*d->ds_ptrs));
	d->fields = calloc(nf + 1, sizeof(*d->fields));
	if (!d->params || !d->param_ptrs || !d->ds || !d->ds_ptrs || !d->fields) {
		agent_wire_desc_free(d);
		return -ENOMEM;
	}
	for (i = 0; i < info->n_params; i++) {
		const Gadget__Agent__V1__ParamInfo *pi = info->params[i];
		struct run_runner_param_info *p = &d->params[i];

		p->key = pi->key;
		p->name = pi->name;
		p->description = pi->description;
		p->default_value = pi->default_value;
		p->type_name = pi->type_name;
		p->type = agent_wire_param_type_from(pi->type);
		p->values = (const char *const *)pi->values;
		p->n_values = pi->n_values;
		p->alias = pi->alias && *pi->alias ? pi->alias : NULL;
		p->compat_key = pi->compat_key && *pi->compat_key ? pi->compat_key : NULL;
		d->param_ptrs[i] = p;
	}
	for (i = 0; i < info->n_data_sources; i++) {
		const Gadget__Agent__V1__DataSourceInfo *di = info->data_sources[i];
		struct run_runner_ds_info *ds = &d->ds[i];

		ds->name = di->name;
		ds->type = ds_type_from(di->type);
		ds->fields = &d->fields[f];
		ds->n_fields = di->n_fields;
		for (j = 0; j < di->n_fields; j++, f++) {
			const Gadget__Agent__V1__FieldInfo *fi = di->fields[j];

			d->fields[f].name = fi->name;
			d->fields[f].short_name = fi->short_name;
			d->fields[f].type = fi->type;
			d->fields[f].description = fi->description;
			d->fields[f].visible_json = fi->visible_json;
			d->fields[f].visible_columns = fi->visible_columns;
			d->fields[f].width = (int)fi->width;
			d->fields[f].align_right =
				fi->alignment == GADGET__AGENT__V1__ALIGNMENT__ALIGN_RIGHT;
		}
		d->ds_ptrs[i] = ds;
	}
	d->help.name = info->name && *info->name ? info->name : info->image;
	d->help.description = info->description;
	d->help.image = info->image;
	d->help.digest = info->digest;
	d->help.params = d->param_ptrs;
	d->help.n_params = info->n_params;
	d->help.ds = d->ds_ptrs;
	d->help.n_ds = info->n_data_sources;
	*ret = d;
	return 0;
}
