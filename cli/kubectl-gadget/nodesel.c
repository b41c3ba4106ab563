// SPDX-License-Identifier: Apache-2.0
/*
 * --node-selector as a node affinity.  See nodesel.h.
 *
 * A hand-written scanner over kubectl's label selector grammar: a
 * requirement is [!]KEY, or KEY followed by =, ==, != and a value, or by
 * "in"/"notin" and a parenthesised list; requirements are separated by
 * commas outside parentheses.  Keys and values use the characters labels
 * may hold (letters, digits, '-', '_', '.', and '/' in keys).
 */
#include "cli/kubectl-gadget/nodesel.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

struct scan {
	const char *p;
	char *err;
	size_t errlen;
};

static int fail(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct scan *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void blanks(struct scan *s)
{
	while (*s->p == ' ' || *s->p == '\t')
		s->p++;
}

static bool word_char(char c, bool key)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || (key && c == '/');
}

/* A key or value into a new JSON string; an empty value is allowed when empty_ok. */
static int word(struct scan *s, bool key, bool empty_ok, json_t **ret)
{
	const char *start;

	blanks(s);
	start = s->p;
	while (word_char(*s->p, key))
		s->p++;
	if (s->p == start && !empty_ok)
		return fail(s, "--node-selector: expected a %s at '%.32s'", key ? "label" : "value",
			    start);
	if (s->p - start > 317)
		return fail(s, "--node-selector: '%.32s...' is too long", start);
	*ret = json_stringn(start, (size_t)(s->p - start));
	return *ret ? 0 : -ENOMEM;
}

static bool keyword(struct scan *s, const char *kw)
{
	size_t n = strlen(kw);

	if (strncmp(s->p, kw, n) || word_char(s->p[n], true))
		return false;
	s->p += n;
	return true;
}

/* "(a, b, c)" */
static int value_list(struct scan *s, json_t *values)
{
	blanks(s);
	if (*s->p != '(')
		return fail(s, "--node-selector: expected '(' at '%.32s'", s->p);
	s->p++;
	for (;;) {
		json_t *v;
		int r = word(s, false, false, &v);

		if (r < 0)
			return r;
		if (json_array_size(values) == KG_NODESEL_MAX_VALUES) {
			json_decref(v);
			base_err_set(s->err, s->errlen, "--node-selector: more than %d values",
				     KG_NODESEL_MAX_VALUES);
			return -E2BIG;
		}
		json_array_append_new(values, v);
		blanks(s);
		if (*s->p == ')') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return fail(s, "--node-selector: expected ',' or ')' at '%.32s'", s->p);
		s->p++;
	}
}

static int requirement(struct scan *s, json_t **ret)
{
	json_t *key = NULL, *values = json_array(), *v = NULL;
	const char *op;
	bool negated;
	int r;

	if (!values)
		return -ENOMEM;
	blanks(s);
	negated = *s->p == '!';
	if (negated)
		s->p++;
	r = word(s, true, false, &key);
	if (r < 0)
		goto out;
	blanks(s);
	if (negated || !*s->p || *s->p == ',') {
		op = negated ? "DoesNotExist" : "Exists";
	} else if (!strncmp(s->p, "!=", 2) || *s->p == '=') {
		op = s->p[0] == '!' ? "NotIn" : "In";
		s->p += s->p[0] == '!' || s->p[1] == '=' ? 2 : 1;
		r = word(s, false, true, &v);
		if (r < 0)
			goto out;
		json_array_append_new(values, v);
	} else if (keyword(s, "notin") || keyword(s, "in")) {
		op = s->p[-3] == 't' ? "NotIn" : "In"; /* the keyword just read */
		r = value_list(s, values);
		if (r < 0)
			goto out;
	} else {
		r = fail(s, "--node-selector: expected =, ==, !=, in or notin at '%.32s'", s->p);
		goto out;
	}
	*ret = json_pack("{s:O, s:s}", "key", key, "operator", op);
	if (!*ret) {
		r = -ENOMEM;
		goto out;
	}
	if (json_array_size(values))
		json_object_set(*ret, "values", values);
out:
	json_decref(key);
	json_decref(values);
	return r;
}

int kg_nodesel_affinity(const char *text, json_t **ret, char *err, size_t errlen)
{
	struct scan s = {.p = text, .err = err, .errlen = errlen};
	json_t *exprs = json_array(), *req = NULL;
	int r = 0;

	if (!exprs)
		return -ENOMEM;
	if (strlen(text) > KG_NODESEL_MAX_TEXT) {
		base_err_set(err, errlen, "--node-selector: longer than %d bytes",
			     KG_NODESEL_MAX_TEXT);
		r = -E2BIG;
		goto out;
	}
	for (;;) {
		r = requirement(&s, &req);
		if (r < 0)
			goto out;
		if (json_array_size(exprs) == KG_NODESEL_MAX_ITEMS) {
			json_decref(req);
			base_err_set(err, errlen, "--node-selector: more than %d requirements",
				     KG_NODESEL_MAX_ITEMS);
			r = -E2BIG;
			goto out;
		}
		json_array_append_new(exprs, req);
		blanks(&s);
		if (!*s.p)
			break;
		if (*s.p != ',') {
			r = fail(&s, "--node-selector: expected ',' at '%.32s'", s.p);
			goto out;
		}
		s.p++;
	}
	*ret = json_pack("{s:{s:{s:[{s:O}]}}}", "nodeAffinity",
			 "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
			 "matchExpressions", exprs);
	if (!*ret)
		r = -ENOMEM;
out:
	json_decref(exprs);
	return r;
}
