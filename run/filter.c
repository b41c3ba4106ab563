// SPDX-License-Identifier: Apache-2.0
/*
 * Record filters.  See filter.h.
 *
 * Grammar: optional blanks, a field name ([A-Za-z0-9_.]+), optional blanks,
 * an operator, then the value: everything to the end, blanks included, so
 * that "fname==/tmp/a b" means what it says.  "field==" matches an empty
 * value.
 */
#include "run/filter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "run/regex.h"

enum filter_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_MATCH,
	OP_NOMATCH,
};

struct run_filter {
	const struct run_column *col;
	enum filter_op op;
	bool numeric;
	uint64_t num; /* the value, sign-extended when the column is signed */
	char *value;
	size_t value_len;
	struct run_regex *re;
};

static const struct {
	const char *text;
	enum filter_op op;
} ops[] = {
	/* two-character operators first, so "<=" is not read as "<" */
	{"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GE},   {"<=", OP_LE}, {"!~", OP_NOMATCH},
	{">", OP_GT},  {"<", OP_LT},  {"~", OP_MATCH}, {"=", OP_EQ},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

static int parse_number(struct run_filter *f)
{
	size_t lead = strspn(f->value, " \t"), n = strlen(f->value + lead);
	const char *s = f->value;
	char *end;
	int base = 10;

	/* Blanks around a number mean nothing ("pid == 1"); in text they would. */
	while (n && (f->value[lead + n - 1] == ' ' || f->value[lead + n - 1] == '\t'))
		n--;
	memmove(f->value, f->value + lead, n);
	f->value[n] = '\0';

	if (f->col->kind == RUN_COLUMN_BOOL) {
		if (!strcmp(s, "true") || !strcmp(s, "1")) {
			f->num = 1;
			return 0;
		}
		if (!strcmp(s, "false") || !strcmp(s, "0")) {
			f->num = 0;
			return 0;
		}
		return -EINVAL;
	}
	if (!*s || (*s == '-' && f->col->kind == RUN_COLUMN_UINT))
		return -EINVAL;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ||
	    (s[0] == '-' && s[1] == '0' && (s[2] == 'x' || s[2] == 'X')))
		base = 16;
	errno = 0;
	if (f->col->kind == RUN_COLUMN_INT)
		f->num = (uint64_t)strtoll(s, &end, base);
	else
		f->num = strtoull(s, &end, base);
	if (errno || *end || end == s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	return 0;
}

int run_filter_new(const char *expr, const struct run_column *cols, size_t n_cols,
		   struct run_filter **ret, char *err, size_t errlen)
{
	struct run_filter *f;
	const char *p = expr, *name, *value;
	size_t name_len, i;
	int idx, r;

	if (!expr)
		return fail(err, errlen, "empty filter");
	while (*p == ' ' || *p == '\t')
		p++;
	name = p;
	while (name_char(*p))
		p++;
	name_len = (size_t)(p - name);
	while (*p == ' ' || *p == '\t')
		p++;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(p, ops[i].text, strlen(ops[i].text)))
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return fail(err, errlen,
			    "invalid filter '%s': expected FIELD OP VALUE with OP one of ==, !=, "
			    "<, <=, >, >=, ~, !~",
			    expr);
	if (!name_len)
		return fail(err, errlen, "invalid filter '%s': no field name before '%s'", expr,
			    ops[i].text);
	value = p + strlen(ops[i].text);
	idx = run_column_find(cols, n_cols, name, name_len);
	if (idx == -EINVAL)
		return fail(err, errlen,
			    "invalid filter '%s': field '%.*s' is ambiguous, use its full name",
			    expr, (int)name_len, name);
	if (idx < 0)
		return fail(err, errlen,
			    "invalid filter '%s': unknown field '%.*s' (see --help for the fields "
			    "of this gadget)",
			    expr, (int)name_len, name);

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->col = &cols[idx];
	f->op = ops[i].op;
	f->value_len = strlen(value);
	f->value = strdup(value);
	if (!f->value) {
		free(f);
		return -ENOMEM;
	}
	if (f->op == OP_MATCH || f->op == OP_NOMATCH) {
		char why[256] = "";

		r = run_regex_new(value, f->value_len, &f->re, why, sizeof(why));
		if (r < 0) {
			run_filter_free(f);
			if (r == -ENOMEM)
				return r;
			fail(err, errlen, "invalid filter '%s': bad regular expression: %s", expr,
			     why[0] ? why : strerror(-r));
			return -EINVAL;
		}
	} else if (run_column_is_number(f->col)) {
		f->numeric = true;
		if (parse_number(f) < 0) {
			const char *what = f->col->kind == RUN_COLUMN_BOOL  ? "true or false"
					   : f->col->kind == RUN_COLUMN_INT ? "an integer"
									    : "an unsigned integer";

			fail(err, errlen, "invalid filter '%s': field '%s' needs %s, not '%s'",
			     expr, f->col->name, what, value);
			run_filter_free(f);
			return -EINVAL;
		}
	}
	*ret = f;
	return 0;
}

struct run_filter *run_filter_free(struct run_filter *f)
{
	if (!f)
		return NULL;
	run_regex_free(f->re);
	free(f->value);
	free(f);
	return NULL;
}

static int compare(enum filter_op op, int c)
{
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_NE:
		return c != 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GE:
		return c >= 0;
	default:
		return 0;
	}
}

static int compare_text(const struct run_filter *f, const char *s, size_t n)
{
	size_t m = n < f->value_len ? n : f->value_len;
	int c = memcmp(s, f->value, m);

	if (!c)
		c = n < f->value_len ? -1 : n > f->value_len;
	return compare(f->op, c);
}

int run_filter_match(const struct run_filter *f, struct run_column_env *env, const void *rec,
		     size_t size)
{
	struct base_buf *tmp = &env->scratch;
	const char *s;
	size_t n;
	int r;

	if (f->numeric) {
		uint64_t x = run_column_read(&f->col->v, rec, size);
		int c;

		if (f->col->kind == RUN_COLUMN_INT)
			c = (int64_t)x < (int64_t)f->num ? -1 : (int64_t)x > (int64_t)f->num;
		else
			c = x < f->num ? -1 : x > f->num;
		return compare(f->op, c);
	}
	if (f->col->kind == RUN_COLUMN_STRING) {
		s = run_column_string(f->col, rec, size, &n);
		if (!f->re)
			return compare_text(f, s, n);
		r = run_regex_match(f->re, s, n);
		return r < 0 ? r : (r == 1) == (f->op == OP_MATCH);
	}
	base_buf_reset(tmp);
	r = run_column_text(env, f->col, rec, size, tmp);
	if (r < 0)
		return r;
	if (!tmp->data) {
		r = base_buf_reserve(tmp, 0);
		if (r < 0)
			return r;
		tmp->data[0] = '\0';
	}
	if (f->re) {
		r = run_regex_match(f->re, tmp->data, tmp->len);
		if (r < 0)
			return r;
		return (r == 1) == (f->op == OP_MATCH);
	}
	return compare_text(f, tmp->data, tmp->len);
}
