// SPDX-License-Identifier: Apache-2.0
/*
 * Param values between text and bytes.  See param.h.
 *
 * Values are stored in host byte order: the object is loaded on the host
 * that parses them, and bpf_elf_check() refuses objects of the other order.
 */
#include "bpf/param.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bpf/btf.h>

#include "base/buf.h"
#include "base/err.h"

#define PARAM_MAX_CHAIN 32
/* Longest text a param value may have: strings are bounded by their array. */
#define PARAM_MAX_TEXT 4096

static const char *name_of(const struct btf *btf, const struct btf_type *t)
{
	const char *s = btf__name_by_offset(btf, t->name_off);

	return s ? s : "";
}

int bpf_param_describe(const struct btf *btf, uint32_t type_id, struct bpf_param_desc *d,
		       char **ret_type_name)
{
	const char *shown = NULL;
	char buf[128];
	const struct btf_type *t = NULL;
	uint32_t id = type_id;
	int i;

	for (i = 0; i < PARAM_MAX_CHAIN; i++) {
		t = btf__type_by_id(btf, id);
		if (!t)
			return -EINVAL;
		if (btf_is_typedef(t) && !shown)
			shown = name_of(btf, t);
		if (!btf_is_typedef(t) && !btf_is_mod(t))
			break;
		id = t->type;
	}
	if (i == PARAM_MAX_CHAIN)
		return -EINVAL;

	memset(d, 0, sizeof(*d));
	d->btf = btf;
	d->type_id = id;
	if (btf_is_int(t)) {
		uint8_t enc = btf_int_encoding(t);

		if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
			return -EOPNOTSUPP;
		if (enc & BTF_INT_BOOL)
			d->type = BPF_GADGET_PARAM_BOOL;
		else if (enc & BTF_INT_SIGNED)
			d->type = BPF_GADGET_PARAM_INT;
		else
			d->type = BPF_GADGET_PARAM_UINT;
		d->size = t->size;
		if (!shown)
			shown = name_of(btf, t);
	} else if (btf_is_any_enum(t)) {
		if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
			return -EOPNOTSUPP;
		d->type = BPF_GADGET_PARAM_ENUM;
		d->size = t->size;
		if (!shown) {
			snprintf(buf, sizeof(buf), "enum %.100s", name_of(btf, t));
			shown = buf;
		}
	} else if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		const struct btf_type *et = btf__type_by_id(btf, a->type);

		for (i = 0; et && i < PARAM_MAX_CHAIN && (btf_is_typedef(et) || btf_is_mod(et));
		     i++)
			et = btf__type_by_id(btf, et->type);
		if (!et || !btf_is_int(et) || et->size != 1 || a->nelems == 0 ||
		    a->nelems > PARAM_MAX_TEXT)
			return -EOPNOTSUPP;
		d->type = BPF_GADGET_PARAM_STRING;
		d->size = a->nelems;
		if (!shown) {
			snprintf(buf, sizeof(buf), "char[%u]", a->nelems);
			shown = buf;
		}
	} else {
		return -EOPNOTSUPP;
	}
	*ret_type_name = strdup(shown);
	return *ret_type_name ? 0 : -ENOMEM;
}

static uint64_t load_uint(const void *bytes, uint32_t size)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		memcpy(&v8, bytes, 1);
		return v8;
	case 2:
		memcpy(&v16, bytes, 2);
		return v16;
	case 4:
		memcpy(&v32, bytes, 4);
		return v32;
	default:
		memcpy(&v64, bytes, 8);
		return v64;
	}
}

static void store_uint(void *out, uint32_t size, uint64_t v)
{
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(out, &v8, 1);
		break;
	case 2:
		memcpy(out, &v16, 2);
		break;
	case 4:
		memcpy(out, &v32, 4);
		break;
	default:
		memcpy(out, &v, 8);
		break;
	}
}

static int64_t sign_extend(uint64_t v, uint32_t size)
{
	unsigned int bits = size * 8;

	if (bits < 64 && (v >> (bits - 1)) & 1)
		v |= ~((UINT64_C(1) << bits) - 1);
	return (int64_t)v;
}

static bool enum_is_signed(const struct btf_type *t)
{
	return btf_kflag(t);
}

/* Enumerator i of an ENUM or ENUM64. */
static void enum_entry(const struct bpf_param_desc *d, const struct btf_type *t, int i,
		       const char **name, int64_t *value)
{
	if (btf_is_enum(t)) {
		const struct btf_enum *e = btf_enum(t) + i;

		*name = btf__name_by_offset(d->btf, e->name_off);
		*value = enum_is_signed(t) ? (int64_t)(int32_t)e->val : (int64_t)(uint32_t)e->val;
	} else {
		const struct btf_enum64 *e = btf_enum64(t) + i;

		*name = btf__name_by_offset(d->btf, e->name_off);
		*value = (int64_t)btf_enum64_value(e);
	}
	if (!*name)
		*name = "";
}

int bpf_param_enum_values(const struct bpf_param_desc *d, const char ***ret, size_t *ret_n)
{
	const struct btf_type *t;
	const char **names;
	int64_t v;
	int i, n;

	if (d->type != BPF_GADGET_PARAM_ENUM)
		return -EINVAL;
	t = btf__type_by_id(d->btf, d->type_id);
	if (!t || !btf_is_any_enum(t))
		return -EINVAL;
	n = btf_vlen(t);
	if (n > BPF_GADGET_MAX_ENUM_VALUES)
		return -E2BIG;
	names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		enum_entry(d, t, i, &names[i], &v);
	*ret = names;
	*ret_n = (size_t)n;
	return 0;
}

int bpf_param_format(const struct bpf_param_desc *d, const void *bytes, char **ret)
{
	struct base_buf b = BASE_BUF_INIT(PARAM_MAX_TEXT + 64);
	uint64_t u = 0;
	int err = 0;

	if (d->type != BPF_GADGET_PARAM_STRING)
		u = load_uint(bytes, d->size);
	switch (d->type) {
	case BPF_GADGET_PARAM_BOOL:
		err = base_buf_puts(&b, u ? "true" : "false");
		break;
	case BPF_GADGET_PARAM_INT:
		err = base_buf_put_i64(&b, sign_extend(u, d->size));
		break;
	case BPF_GADGET_PARAM_UINT:
		err = base_buf_put_u64(&b, u);
		break;
	case BPF_GADGET_PARAM_STRING:
		err = base_buf_append(&b, bytes, strnlen(bytes, d->size));
		break;
	case BPF_GADGET_PARAM_ENUM: {
		const struct btf_type *t = btf__type_by_id(d->btf, d->type_id);
		int64_t v = enum_is_signed(t) ? sign_extend(u, d->size) : (int64_t)u;
		const char *found = NULL;

		for (int i = 0; i < btf_vlen(t) && !found; i++) {
			const char *name;
			int64_t ev;

			enum_entry(d, t, i, &name, &ev);
			if (ev == v || (d->size < 8 && (uint64_t)ev == u))
				found = name;
		}
		if (found)
			err = base_buf_puts(&b, found);
		else if (enum_is_signed(t))
			err = base_buf_put_i64(&b, v);
		else
			err = base_buf_put_u64(&b, u);
		break;
	}
	}
	if (!err && !b.data)
		err = base_buf_puts(&b, "");
	if (err) {
		base_buf_done(&b);
		return err;
	}
	*ret = base_buf_take(&b);
	return 0;
}

/* Decimal, or hex after 0x; a leading '-' only when is_signed. */
static int parse_number(const char *text, bool is_signed, uint64_t *mag, bool *neg)
{
	const char *p = text;
	int base = 10;
	char *end;

	*neg = false;
	if (*p == '-') {
		if (!is_signed)
			return -EINVAL;
		*neg = true;
		p++;
	} else if (*p == '+') {
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!isxdigit((unsigned char)*p) || (base == 10 && !isdigit((unsigned char)*p)))
		return -EINVAL;
	errno = 0;
	*mag = strtoull(p, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	return 0;
}

static int parse_int(const struct bpf_param_desc *d, bool is_signed, const char *name,
		     const char *text, uint64_t *ret, char *err, size_t err_len)
{
	unsigned int bits = d->size * 8;
	uint64_t mag;
	bool neg;
	int r = parse_number(text, is_signed, &mag, &neg);

	if (r == -EINVAL)
		return base_err_fail(err, err_len, -EINVAL,
				     "invalid value '%.64s' for param '%s' (expected %s)", text,
				     name, is_signed ? "an integer" : "an unsigned integer");
	if (is_signed) {
		uint64_t max_pos = (UINT64_C(1) << (bits - 1)) - 1;

		if (r == 0 && ((!neg && mag > max_pos) || (neg && mag > max_pos + 1)))
			r = -ERANGE;
		if (r)
			return base_err_fail(
				err, err_len, -ERANGE,
				"value '%.64s' for param '%s' is out of range (%lld to %lld)", text,
				name, -(long long)max_pos - 1, (long long)max_pos);
		*ret = neg ? (uint64_t)0 - mag : mag;
	} else {
		uint64_t max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;

		if (r == 0 && mag > max)
			r = -ERANGE;
		if (r)
			return base_err_fail(
				err, err_len, -ERANGE,
				"value '%.64s' for param '%s' is out of range (0 to %llu)", text,
				name, (unsigned long long)max);
		*ret = mag;
	}
	return 0;
}

static int parse_bool(const char *name, const char *text, uint64_t *ret, char *err, size_t err_len)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*ret = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*ret = 0;
			return 0;
		}
	}
	return base_err_fail(err, err_len, -EINVAL,
			     "invalid value '%.64s' for param '%s' (expected true or false)", text,
			     name);
}

static int parse_enum(const struct bpf_param_desc *d, const char *name, const char *text,
		      uint64_t *ret, char *err, size_t err_len)
{
	const struct btf_type *t = btf__type_by_id(d->btf, d->type_id);
	struct base_buf names = BASE_BUF_INIT(512);
	int r;

	for (int i = 0; i < btf_vlen(t); i++) {
		const char *ename;
		int64_t ev;

		enum_entry(d, t, i, &ename, &ev);
		if (strcmp(ename, text) == 0) {
			*ret = (uint64_t)ev;
			return 0;
		}
	}
	if (isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+')
		return parse_int(d, enum_is_signed(t), name, text, ret, err, err_len);

	for (int i = 0; i < btf_vlen(t); i++) {
		const char *ename;
		int64_t ev;

		enum_entry(d, t, i, &ename, &ev);
		/* The list is only for the message: stop quietly when it is full. */
		if (base_buf_printf(&names, "%s%s", i ? ", " : "", ename) < 0) {
			base_buf_puts(&names, ", ...");
			break;
		}
	}
	r = base_err_fail(err, err_len, -EINVAL,
			  "invalid value '%.64s' for param '%s' (expected one of: %s)", text, name,
			  names.data ? names.data : "a number");
	base_buf_done(&names);
	return r;
}

int bpf_param_parse(const struct bpf_param_desc *d, const char *name, const char *text, void *out,
		    char *err, size_t err_len)
{
	uint64_t v = 0;
	size_t len;
	int r;

	if (!text)
		return base_err_fail(err, err_len, -EINVAL, "no value for param '%s'", name);
	len = strnlen(text, PARAM_MAX_TEXT + 1);
	if (d->type == BPF_GADGET_PARAM_STRING) {
		if (len >= d->size)
			return base_err_fail(err, err_len, -ERANGE,
					     "value for param '%s' is too long (at most %u bytes)",
					     name, d->size - 1);
		memset(out, 0, d->size);
		memcpy(out, text, len);
		return 0;
	}
	if (len == 0 || len > 64 || isspace((unsigned char)text[0]) ||
	    isspace((unsigned char)text[len - 1]))
		return base_err_fail(err, err_len, -EINVAL, "invalid value '%.64s' for param '%s'",
				     text, name);
	switch (d->type) {
	case BPF_GADGET_PARAM_BOOL:
		r = parse_bool(name, text, &v, err, err_len);
		break;
	case BPF_GADGET_PARAM_INT:
		r = parse_int(d, true, name, text, &v, err, err_len);
		break;
	case BPF_GADGET_PARAM_UINT:
		r = parse_int(d, false, name, text, &v, err, err_len);
		break;
	case BPF_GADGET_PARAM_ENUM:
		r = parse_enum(d, name, text, &v, err, err_len);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r)
		return r;
	store_uint(out, d->size, v);
	return 0;
}
