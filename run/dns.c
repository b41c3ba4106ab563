// SPDX-License-Identifier: Apache-2.0
/*
 * DNS messages in records.  See dns.h.
 *
 * Wire format: RFC 1035 4.1 (header, question, resource records) and 4.1.4
 * (compression pointers, top two bits of a length byte set).  The decoded
 * message is kept for the record being rendered (run_pipeline_epoch()), so
 * the dozen columns of one record decode it once.
 */
#include "run/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/pipeline.h"

#define DNS_HEADER	12
#define DNS_TYPE_A	1
#define DNS_TYPE_AAAA	28
#define DNS_PTR_MASK	0xc0
#define DNS_MAX_LABEL	63
#define DNS_BYTES_FIELD "data"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Reads the name at *pos: its text into out (when not NULL) and *pos moved
 * past it where it is (not where pointers lead).  false on anything
 * malformed: out of bounds, a loop, too long, a reserved label type.
 */
static bool read_name(const uint8_t *m, size_t len, size_t *pos, char *out, size_t out_len)
{
	size_t p = *pos, wire = 0, o = 0, end = 0;
	unsigned int jumps = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return false;
		l = m[p];
		if ((l & DNS_PTR_MASK) == DNS_PTR_MASK) {
			if (p + 1 >= len || ++jumps > RUN_DNS_MAX_JUMPS)
				return false;
			if (!jumped)
				end = p + 2;
			jumped = true;
			p = (size_t)(l & 0x3f) << 8 | m[p + 1];
			continue;
		}
		if (l & DNS_PTR_MASK)
			return false; /* 0x40 and 0x80: reserved (RFC 6891 retired them) */
		wire += (size_t)l + 1;
		if (wire > RUN_DNS_MAX_WIRE_NAME)
			return false;
		if (l == 0) {
			p++;
			break;
		}
		if (p + 1 + l > len)
			return false;
		for (size_t i = 0; out && i < l; i++) {
			uint8_t c = m[p + 1 + i];

			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
				out[o++] = (char)c;
			} else if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else {
				o += (size_t)snprintf(out + o, out_len - o, "\\%03u", c);
			}
		}
		if (out)
			out[o++] = '.';
		p += 1 + (size_t)l;
	}
	if (out) {
		if (o == 0)
			out[o++] = '.';
		out[o] = '\0';
	}
	*pos = jumped ? end : p;
	return true;
}

int run_dns_parse(const void *msg, size_t len, struct run_dns_msg *ret)
{
	const uint8_t *m = msg;
	size_t pos = DNS_HEADER;
	uint16_t flags;

	if (!ret || (!msg && len))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (len < DNS_HEADER)
		return -EINVAL;
	ret->id = be16(m);
	flags = be16(m + 2);
	ret->qr = flags >> 15;
	ret->opcode = (flags >> 11) & 0xf;
	ret->aa = (flags >> 10) & 1;
	ret->tc = (flags >> 9) & 1;
	ret->rd = (flags >> 8) & 1;
	ret->ra = (flags >> 7) & 1;
	ret->rcode = flags & 0xf;
	ret->qdcount = be16(m + 4);
	ret->ancount = be16(m + 6);

	for (uint16_t q = 0; q < ret->qdcount; q++) {
		char *name = q == 0 ? ret->name : NULL;

		if (!read_name(m, len, &pos, name, sizeof(ret->name)) || pos + 4 > len) {
			if (q == 0)
				ret->name[0] = '\0'; /* half a name is no name */
			goto bad;
		}
		if (q == 0) {
			ret->has_question = true;
			ret->qtype = be16(m + pos);
		}
		pos += 4;
	}
	for (uint16_t a = 0; a < ret->ancount && a < RUN_DNS_MAX_ANSWERS; a++) {
		uint16_t type, rdlen;

		if (!read_name(m, len, &pos, NULL, 0) || pos + 10 > len)
			goto bad;
		type = be16(m + pos);
		rdlen = be16(m + pos + 8);
		pos += 10;
		if (pos + rdlen > len)
			goto bad;
		if (ret->n_addrs < RUN_DNS_MAX_ADDRS && ((type == DNS_TYPE_A && rdlen == 4) ||
							 (type == DNS_TYPE_AAAA && rdlen == 16))) {
			inet_ntop(type == DNS_TYPE_A ? AF_INET : AF_INET6, m + pos,
				  ret->addrs[ret->n_addrs], RUN_DNS_ADDR_LEN);
			ret->n_addrs++;
		}
		pos += rdlen;
		ret->n_answers++;
	}
	return 0;
bad:
	ret->malformed = true;
	return -EBADMSG;
}

static const struct {
	uint16_t type;
	const char *name;
} dns_types[] = {
	{1, "A"},      {2, "NS"},     {5, "CNAME"}, {6, "SOA"},	   {12, "PTR"},	 {15, "MX"},
	{16, "TXT"},   {28, "AAAA"},  {33, "SRV"},  {41, "OPT"},   {44, "WKS"},	 {13, "HINFO"},
	{14, "MINFO"}, {252, "AXFR"}, {255, "ALL"}, {65, "HTTPS"}, {64, "SVCB"},
};

const char *run_dns_type_name(uint16_t qtype)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].type == qtype)
			return dns_types[i].name;
	return NULL;
}

const char *run_dns_rcode_name(uint8_t rcode)
{
	static const char *const names[] = {"Success",	 "FormatError",	   "ServerFailure",
					    "NameError", "NotImplemented", "Refused"};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : NULL;
}

/* ---- columns ---- */

struct run_dns {
	struct run_pipeline *pipe;
	uint32_t len_off, len_size; /* data_len */
	uint32_t off_off, off_size; /* dns_off */
	uint32_t bytes_off;	    /* the data field, or the record's end for rest bytes */
	uint32_t bytes_cap;	    /* its size; 0 for rest bytes */
	uint64_t epoch;
	int status; /* of the cached decode: 0, -EBADMSG, -EINVAL */
	struct run_dns_msg msg;
};

static uint32_t read_uint(const void *rec, size_t size, uint32_t off, uint32_t n)
{
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	uint8_t v8 = 0;

	if ((size_t)off + n > size)
		return 0;
	switch (n) {
	case 1:
		memcpy(&v8, (const char *)rec + off, 1);
		return v8;
	case 2:
		memcpy(&v16, (const char *)rec + off, 2);
		return v16;
	case 4:
		memcpy(&v32, (const char *)rec + off, 4);
		return v32;
	default:
		return 0;
	}
}

/* The message of this record, decoded once per record. */
static const struct run_dns_msg *decode(struct run_dns *d, const void *rec, size_t size,
					int *status)
{
	uint64_t epoch = run_pipeline_epoch(d->pipe);
	uint32_t data_len, dns_off;
	size_t avail;

	if (d->epoch == epoch) {
		*status = d->status;
		return &d->msg;
	}
	d->epoch = epoch;
	data_len = read_uint(rec, size, d->len_off, d->len_size);
	dns_off = read_uint(rec, size, d->off_off, d->off_size);
	avail = size > d->bytes_off ? size - d->bytes_off : 0;
	if (d->bytes_cap && avail > d->bytes_cap)
		avail = d->bytes_cap;
	if (data_len < avail)
		avail = data_len;
	if (dns_off > avail)
		d->status = run_dns_parse(NULL, 0, &d->msg);
	else
		d->status = run_dns_parse((const char *)rec + d->bytes_off + dns_off,
					  avail - dns_off, &d->msg);
	*status = d->status;
	return &d->msg;
}

#define DECODE_OR_NONE(d, rec, size, m)                                                            \
	int status_;                                                                               \
	const struct run_dns_msg *m = decode(d, rec, size, &status_);                              \
	if (status_ == -EINVAL)                                                                    \
		return 1;

/* Formatting by hand: printf was most of a record's cost at 100k records/s. */
static int col_id(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	static const char hex[] = "0123456789abcdef";
	char s[4];

	DECODE_OR_NONE(ctx, rec, size, m);
	for (int i = 0; i < 4; i++)
		s[i] = hex[(m->id >> (12 - 4 * i)) & 0xf];
	return base_buf_append(out, s, 4);
}

static int col_qr(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return base_buf_puts(out, m->qr ? "R" : "Q");
}

static int bool_text(struct base_buf *out, bool v)
{
	return base_buf_puts(out, v ? "true" : "false");
}

static int col_qr_raw(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return bool_text(out, m->qr);
}

static int col_qtype(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const char *n;

	DECODE_OR_NONE(ctx, rec, size, m);
	if (!m->has_question)
		return 1;
	n = run_dns_type_name(m->qtype);
	return n ? base_buf_puts(out, n) : base_buf_put_u64(out, m->qtype);
}

static int col_qtype_raw(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	if (!m->has_question)
		return 1;
	return base_buf_put_u64(out, m->qtype);
}

static int col_name(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	if (!m->has_question)
		return 1;
	return base_buf_puts(out, m->name);
}

static int col_rcode(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const char *n;

	DECODE_OR_NONE(ctx, rec, size, m);
	if (!m->qr)
		return 1;
	n = run_dns_rcode_name(m->rcode);
	return n ? base_buf_puts(out, n) : base_buf_put_u64(out, m->rcode);
}

static int col_rcode_raw(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	if (!m->qr)
		return 1;
	return base_buf_put_u64(out, m->rcode);
}

static int col_num_answers(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return base_buf_put_u64(out, m->n_answers);
}

static int col_addresses(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	int err = 0;

	DECODE_OR_NONE(ctx, rec, size, m);
	for (size_t i = 0; i < m->n_addrs && !err; i++) {
		if (i)
			err = base_buf_putc(out, ',');
		if (!err)
			err = base_buf_puts(out, m->addrs[i]);
	}
	return err;
}

static int col_tc(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return bool_text(out, m->tc);
}

static int col_ra(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return bool_text(out, m->ra);
}

static int col_rd(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	DECODE_OR_NONE(ctx, rec, size, m);
	return bool_text(out, m->rd);
}

static int col_malformed(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	int status;

	decode(ctx, rec, size, &status);
	return bool_text(out, status != 0);
}

static const struct run_column_def dns_columns[] = {
	{.name = "id",
	 .description = "DNS query/response ID, used to match queries with responses",
	 .hidden_columns = true,
	 .text = col_id},
	{.name = "qr",
	 .description = "Whether the message is a query (Q) or a response (R)",
	 .width = 2,
	 .text = col_qr},
	{.name = "qr_raw",
	 .description = "Raw qr: true for a response",
	 .hidden = true,
	 .number = true,
	 .text = col_qr_raw},
	{.name = "qtype", .description = "Query type", .width = 6, .text = col_qtype},
	{.name = "qtype_raw",
	 .description = "Raw query type (1=A, 28=AAAA, ...)",
	 .hidden = true,
	 .number = true,
	 .text = col_qtype_raw},
	{.name = "name",
	 .description = "Domain name being queried in the DNS request or response",
	 .width = 30,
	 .text = col_name},
	{.name = "rcode",
	 .description = "Response code of a response (Success, NameError, ...); empty for queries",
	 .width = 8,
	 .text = col_rcode},
	{.name = "rcode_raw",
	 .description = "Raw response code (0=Success, 3=NameError, ...)",
	 .hidden = true,
	 .number = true,
	 .text = col_rcode_raw},
	{.name = "num_answers",
	 .description = "Number of answers in the message",
	 .hidden_columns = true,
	 .number = true,
	 .text = col_num_answers},
	{.name = "addresses",
	 .description = "Comma-separated IP addresses of the A and AAAA answers",
	 .width = 24,
	 .text = col_addresses},
	{.name = "tc",
	 .description = "Truncated flag",
	 .hidden_columns = true,
	 .number = true,
	 .text = col_tc},
	{.name = "ra",
	 .description = "Recursion Available flag",
	 .hidden_columns = true,
	 .number = true,
	 .text = col_ra},
	{.name = "rd",
	 .description = "Recursion Desired flag",
	 .hidden_columns = true,
	 .number = true,
	 .text = col_rd},
	{.name = "malformed",
	 .description = "The DNS message could not be read to its end (truncated, bad names, ...)",
	 .hidden_columns = true,
	 .number = true,
	 .text = col_malformed},
};

static const struct bpf_layout_field *int_field(const struct bpf_layout *l, const char *name)
{
	const struct bpf_layout_field *f = bpf_layout_find(l, name);

	if (!f || (f->kind != BPF_LAYOUT_INT && f->kind != BPF_LAYOUT_UINT) || f->bit_size ||
	    (f->size != 1 && f->size != 2 && f->size != 4))
		return NULL;
	return f;
}

int run_dns_new(struct run_pipeline *p, const char *name, const struct bpf_layout *l,
		const struct oci_metadata_ds *md, struct run_dns **ret)
{
	const struct bpf_layout_field *len_f, *off_f, *bytes_f;
	const char *rest = oci_metadata_ds_annotation(md, "ebpf.rest.name");
	struct run_dns *d;
	int err;

	if (!p || !l || !ret)
		return -EINVAL;
	if (!name || strcmp(name, "dns"))
		return -ENOENT;
	len_f = int_field(l, "data_len");
	off_f = int_field(l, "dns_off");
	bytes_f = bpf_layout_find(l, DNS_BYTES_FIELD);
	if (!len_f || !off_f)
		return -ENOENT;
	if (bytes_f && !(bytes_f->kind == BPF_LAYOUT_STRING || bytes_f->kind == BPF_LAYOUT_BYTES ||
			 (bytes_f->kind == BPF_LAYOUT_ARRAY && bytes_f->elem_size == 1)))
		bytes_f = NULL;
	if (!bytes_f && !(rest && *rest))
		return -ENOENT;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pipe = p;
	d->len_off = len_f->offset;
	d->len_size = len_f->size;
	d->off_off = off_f->offset;
	d->off_size = off_f->size;
	d->bytes_off = bytes_f ? bytes_f->offset : l->size;
	d->bytes_cap = bytes_f ? bytes_f->size : 0;
	for (size_t i = 0; i < sizeof(dns_columns) / sizeof(dns_columns[0]); i++) {
		struct run_column_def def = dns_columns[i];

		if (bpf_layout_find(l, def.name))
			continue; /* the gadget has it already */
		def.ctx = d;
		def.source = RUN_COLUMN_SOURCE_DERIVED;
		err = run_pipeline_add_column(p, &def);
		if (err < 0) {
			free(d);
			return err;
		}
	}
	*ret = d;
	return 0;
}

struct run_dns *run_dns_free(struct run_dns *d)
{
	free(d);
	return NULL;
}
