// SPDX-License-Identifier: Apache-2.0
/*
 * Records of libig and their typed accessors.  See record.h.
 */
#include "libig/record.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct libig_record_chunk {
	struct libig_record_chunk *next;
	char data[];
};

static void chunks_free(struct ig_record *r)
{
	while (r->chunks) {
		struct libig_record_chunk *c = r->chunks;

		r->chunks = c->next;
		free(c);
	}
}

void libig_record_set(struct ig_record *r, const char *json, size_t len, const char *ds,
		      uint64_t fetch)
{
	chunks_free(r);
	r->json = json;
	r->len = len;
	r->ds = ds;
	r->fetch = fetch;
}

void libig_record_done(struct ig_record *r)
{
	chunks_free(r);
	memset(r, 0, sizeof(*r));
}

/* ---- the scanner ---- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* *pp at '"': moves past the closing quote. */
static int skip_string(const char **pp, const char *end)
{
	const char *p = *pp + 1;

	while (p < end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p == '"') {
			*pp = p + 1;
			return 0;
		}
		if ((unsigned char)*p < 0x20)
			return -EINVAL;
		p++;
	}
	return -EINVAL;
}

/* A number, true, false or null: up to the next delimiter. */
static int skip_scalar(const char **pp, const char *end)
{
	const char *p = *pp;

	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
	       *p != '\n' && *p != '\r' && *p != ':' && *p != '"' && *p != '{' && *p != '[')
		p++;
	if (p == *pp)
		return -EINVAL;
	*pp = p;
	return 0;
}

static int skip_value(const char **pp, const char *end, int depth);

/* *pp at '{' or '[': moves past the matching close. */
static int skip_container(const char **pp, const char *end, int depth)
{
	char close = **pp == '{' ? '}' : ']';
	bool object = close == '}';
	const char *p = *pp + 1;
	int r;

	if (depth >= LIBIG_RECORD_MAX_DEPTH)
		return -EINVAL;
	p = skip_ws(p, end);
	if (p < end && *p == close) {
		*pp = p + 1;
		return 0;
	}
	for (;;) {
		if (object) {
			if (p >= end || *p != '"' || (r = skip_string(&p, end)) < 0)
				return -EINVAL;
			p = skip_ws(p, end);
			if (p >= end || *p != ':')
				return -EINVAL;
			p = skip_ws(p + 1, end);
		}
		r = skip_value(&p, end, depth + 1);
		if (r < 0)
			return r;
		p = skip_ws(p, end);
		if (p >= end)
			return -EINVAL;
		if (*p == close) {
			*pp = p + 1;
			return 0;
		}
		if (*p != ',')
			return -EINVAL;
		p = skip_ws(p + 1, end);
	}
}

static int skip_value(const char **pp, const char *end, int depth)
{
	if (*pp >= end)
		return -EINVAL;
	if (**pp == '"')
		return skip_string(pp, end);
	if (**pp == '{' || **pp == '[')
		return skip_container(pp, end, depth);
	return skip_scalar(pp, end);
}

/*
 * In the object at *pp, finds the member named seg[0..seg_len): 1 with *pp
 * at its value, 0 when there is none.  Keys are compared as written: the
 * pipeline never escapes a field name.
 */
static int find_member(const char **pp, const char *end, const char *seg, size_t seg_len, int depth)
{
	const char *p = skip_ws(*pp, end);
	int r;

	if (p >= end || *p != '{')
		return 0;
	if (depth >= LIBIG_RECORD_MAX_DEPTH)
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	for (;;) {
		const char *key = p + 1;
		size_t key_len;

		if (p >= end || *p != '"' || (r = skip_string(&p, end)) < 0)
			return -EINVAL;
		key_len = (size_t)(p - 1 - key);
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return -EINVAL;
		p = skip_ws(p + 1, end);
		if (key_len == seg_len && !memcmp(key, seg, seg_len)) {
			*pp = p;
			return 1;
		}
		r = skip_value(&p, end, depth + 1);
		if (r < 0)
			return r;
		p = skip_ws(p, end);
		if (p >= end)
			return -EINVAL;
		if (*p == '}')
			return 0;
		if (*p != ',')
			return -EINVAL;
		p = skip_ws(p + 1, end);
	}
}

int libig_record_find(const char *json, size_t len, const char *path, const char **ret,
		      size_t *ret_len)
{
	const char *end = json + len, *p = json, *seg = path, *v;
	size_t plen = strnlen(path, LIBIG_RECORD_MAX_PATH + 1);
	int depth = 0, r;

	if (!plen || plen > LIBIG_RECORD_MAX_PATH)
		return -ENOENT;
	for (;;) {
		const char *dot = memchr(seg, '.', plen - (size_t)(seg - path));
		size_t seg_len = dot ? (size_t)(dot - seg) : plen - (size_t)(seg - path);

		r = find_member(&p, end, seg, seg_len, depth++);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
		if (!dot)
			break;
		seg = dot + 1;
	}
	v = p;
	r = skip_value(&p, end, depth);
	if (r < 0)
		return r;
	*ret = v;
	*ret_len = (size_t)(p - v);
	return 0;
}

/* ---- strings ---- */

static int hex4(const char *s, unsigned int *ret)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* UTF-8 of cp into out; the bytes written. */
static size_t put_utf8(unsigned int cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Every escape is at least as long as what it stands for ("\u00e9" is six
 * bytes for two, a surrogate pair twelve for four), so out never needs more
 * than the token's length.
 */
int libig_record_unescape(const char *s, size_t len, char *out, size_t *ret_len)
{
	const char *p = s + 1, *end = s + len - 1;
	size_t n = 0;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return -EINVAL;
	while (p < end) {
		unsigned int cp, lo;

		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		if (end - p < 2)
			return -EINVAL;
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			out[n++] = p[1];
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (end - p < 6 || hex4(p + 2, &cp) < 0)
				return -EINVAL;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 12 && p[6] == '\\' &&
			    p[7] == 'u' && hex4(p + 8, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd; /* a lone surrogate */
			}
			n += put_utf8(cp, out + n);
			p += 6;
			continue;
		default:
			return -EINVAL;
		}
		p += 2;
	}
	*ret_len = n;
	return 0;
}

/* ---- the public accessors ---- */

const char *ig_record_json(const struct ig_record *r, size_t *len)
{
	if (len)
		*len = r->len;
	return r->json;
}

const char *ig_record_ds(const struct ig_record *r)
{
	return r->ds;
}

uint64_t ig_record_fetch(const struct ig_record *r)
{
	return r->fetch;
}

/* The value of field, -ENOENT for a missing field or null. */
static int value_of(const struct ig_record *r, const char *field, const char **ret, size_t *ret_len)
{
	int e;

	if (!r || !r->json || !field)
		return -EINVAL;
	e = libig_record_find(r->json, r->len, field, ret, ret_len);
	if (e < 0)
		return e;
	if (*ret_len == 4 && !memcmp(*ret, "null", 4))
		return -ENOENT;
	return 0;
}

int ig_record_get_str(struct ig_record *r, const char *field, const char **ret, size_t *len)
{
	struct libig_record_chunk *c;
	const char *v;
	size_t vlen, n;
	int e;

	e = value_of(r, field, &v, &vlen);
	if (e < 0)
		return e;
	if (v[0] != '"')
		return -EINVAL;
	c = malloc(sizeof(*c) + vlen + 1);
	if (!c)
		return -ENOMEM;
	e = libig_record_unescape(v, vlen, c->data, &n);
	if (e < 0) {
		free(c);
		return e;
	}
	c->data[n] = '\0';
	c->next = r->chunks;
	r->chunks = c;
	*ret = c->data;
	if (len)
		*len = n;
	return 0;
}

/*
 * The number token of field as a NUL-terminated copy in buf, for strto*()
 * (the token is not terminated): value_of()'s errors, -EINVAL for another
 * token or one longer than size.
 */
static int number_of(const struct ig_record *r, const char *field, char *buf, size_t size)
{
	const char *v;
	size_t vlen;
	int e;

	e = value_of(r, field, &v, &vlen);
	if (e < 0)
		return e;
	if (!vlen || vlen >= size || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
		return -EINVAL;
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	return 0;
}

int ig_record_get_int(struct ig_record *r, const char *field, int64_t *ret)
{
	char buf[32], *endp;
	long long x;
	int e;

	e = number_of(r, field, buf, sizeof(buf));
	if (e < 0)
		return e;
	errno = 0;
	x = strtoll(buf, &endp, 10);
	if (*endp)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = x;
	return 0;
}

int ig_record_get_uint(struct ig_record *r, const char *field, uint64_t *ret)
{
	char buf[32], *endp;
	unsigned long long x;
	int e;

	e = number_of(r, field, buf, sizeof(buf));
	if (e < 0)
		return e;
	if (buf[0] == '-')
		return -ERANGE;
	errno = 0;
	x = strtoull(buf, &endp, 10);
	if (*endp)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = x;
	return 0;
}

int ig_record_get_double(struct ig_record *r, const char *field, double *ret)
{
	char buf[64], *endp;
	double x;
	int e;

	e = number_of(r, field, buf, sizeof(buf));
	if (e < 0)
		return e;
	errno = 0;
	x = strtod(buf, &endp);
	if (*endp)
		return -EINVAL;
	if (errno == ERANGE && isinf(x))
		return -ERANGE;
	*ret = x;
	return 0;
}

int ig_record_get_bool(struct ig_record *r, const char *field, bool *ret)
{
	const char *v;
	size_t vlen;
	int e;

	e = value_of(r, field, &v, &vlen);
	if (e < 0)
		return e;
	if (vlen == 4 && !memcmp(v, "true", 4))
		*ret = true;
	else if (vlen == 5 && !memcmp(v, "false", 5))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int ig_record_get_json(struct ig_record *r, const char *field, const char **ret, size_t *len)
{
	const char *v;
	size_t vlen;
	int e;

	e = value_of(r, field, &v, &vlen);
	if (e < 0)
		return e;
	*ret = v;
	if (len)
		*len = vlen;
	return 0;
}
