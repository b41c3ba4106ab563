// SPDX-License-Identifier: Apache-2.0
/*
 * The one option matcher of the tree (see opt.h).  Tables are small (a few
 * dozen rows), so a linear scan per argument is all it takes.
 */
#include "base/opt.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

/* Left column of the help lines; longer names push the text to the next line. */
#define OPT_HELP_COLUMN 34
/* Help text is wrapped at word boundaries to stay within this width. */
#define OPT_HELP_WIDTH 100

static int opt_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int opt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool row_in(const struct base_opt_table *t, const struct base_opt *o)
{
	return !t->tags || !o->tags || (t->tags & o->tags);
}

static const struct base_opt *find_long(const struct base_opt_table *t, size_t nt, const char *name,
					size_t len)
{
	size_t k, i;

	for (k = 0; k < nt; k++)
		for (i = 0; i < t[k].n; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (o->long_name && row_in(&t[k], o) && strlen(o->long_name) == len &&
			    !strncmp(o->long_name, name, len))
				return o;
		}
	return NULL;
}

static const struct base_opt *find_short(const struct base_opt_table *t, size_t nt, char c)
{
	size_t k, i;

	for (k = 0; k < nt; k++)
		for (i = 0; i < t[k].n; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (o->short_name == c && row_in(&t[k], o))
				return o;
		}
	return NULL;
}

int base_opt_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!strcmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

const char *base_opt_spelling(const struct base_opt *o)
{
	static __thread char buf[128];

	if (o->long_name)
		snprintf(buf, sizeof(buf), "--%s", o->long_name);
	else
		snprintf(buf, sizeof(buf), "-%c", o->short_name);
	return buf;
}

int base_opt_next(const struct base_opt_table *t, size_t nt, int argc, char *const *argv, int *i,
		  const struct base_opt **ret_opt, const char **ret_value, char *err, size_t errlen)
{
	const char *a = argv[*i], *v = NULL;
	const struct base_opt *o;
	int next = *i;

	if (a[0] != '-' || a[1] == '\0')
		return BASE_OPT_WORD;
	if (!strcmp(a, "--"))
		return BASE_OPT_END;
	if (a[1] == '-') {
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);

		o = find_long(t, nt, name, len);
		if (!o)
			return BASE_OPT_UNKNOWN;
		if (eq)
			v = eq + 1;
		else if (o->kind == BASE_OPT_VALUE)
			v = next + 1 < argc ? argv[++next] : NULL;
	} else {
		o = find_short(t, nt, a[1]);
		if (!o)
			return BASE_OPT_UNKNOWN;
		if (o->kind == BASE_OPT_VALUE)
			v = a[2] ? a + 2 : (next + 1 < argc ? argv[++next] : NULL);
		else if (a[2] == '=')
			v = a + 3;
		else if (a[2])
			return opt_err(err, errlen, "option -%c takes no value (in '%s')",
				       o->short_name, a);
	}
	if (o->kind == BASE_OPT_SWITCH) {
		bool b = true;

		if (v && base_opt_parse_bool(v, &b) < 0)
			return opt_err(err, errlen, "option %s takes no value but true or false",
				       base_opt_spelling(o));
		v = b ? "true" : "false";
	} else if (!v) {
		return opt_err(err, errlen, "option %s needs a value", base_opt_spelling(o));
	}
	if (strlen(v) > BASE_OPT_MAX_VALUE)
		return opt_err(err, errlen, "the value of %s is longer than %u bytes",
			       base_opt_spelling(o), BASE_OPT_MAX_VALUE);
	*i = next;
	*ret_opt = o;
	*ret_value = v;
	return BASE_OPT_MATCHED;
}

const struct base_opt *base_opt_by_id(const struct base_opt_table *t, size_t nt, int id)
{
	size_t k, i;

	for (k = 0; k < nt; k++)
		for (i = 0; i < t[k].n; i++)
			if (t[k].opts[i].id == id && row_in(&t[k], &t[k].opts[i]))
				return &t[k].opts[i];
	return NULL;
}

/* "-p, --podname, --k8s-podname POD": the row and its aliases of every table. */
static int help_lhs(struct base_buf *b, const struct base_opt_table *t, size_t nt,
		    const struct base_opt *first)
{
	size_t k, i;
	int r = 0;
	bool any = false;

	for (k = 0; k < nt && r >= 0; k++) {
		for (i = 0; i < t[k].n && r >= 0; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (o->id != first->id || !row_in(&t[k], o))
				continue;
			if (o->short_name)
				r = base_buf_printf(b, "%s-%c", any ? ", " : "", o->short_name);
			any = any || o->short_name;
			if (r >= 0 && o->long_name)
				r = base_buf_printf(b, "%s--%s", any ? ", " : "", o->long_name);
			any = true;
		}
	}
	if (r >= 0 && first->kind == BASE_OPT_VALUE && first->arg_name)
		r = base_buf_printf(b, " %s", first->arg_name);
	return r;
}

/*
 * text from the help column on, continued lines (wrapped, or after a
 * newline in the text) indented to it
 */
static void print_wrapped(FILE *out, const char *text)
{
	const size_t room = OPT_HELP_WIDTH - OPT_HELP_COLUMN - 1;

	for (;;) {
		size_t line = strcspn(text, "\n"), cut = line;

		if (line > room) {
			cut = room;
			while (cut && text[cut] != ' ')
				cut--;
			if (!cut)
				cut = strcspn(text, " \n");
		}
		fprintf(out, "%.*s", (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
		if (*text == '\n')
			text++;
		if (!*text)
			break;
		fprintf(out, "\n%*s", OPT_HELP_COLUMN + 1, "");
	}
	fputc('\n', out);
}

void base_opt_help(FILE *out, const struct base_opt_table *t, size_t nt)
{
	struct base_buf b = BASE_BUF_INIT(0);
	size_t k, i;

	for (k = 0; k < nt; k++) {
		for (i = 0; i < t[k].n; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (!o->help || !row_in(&t[k], o) || base_opt_by_id(t, nt, o->id) != o)
				continue;
			base_buf_reset(&b);
			/* a row without a short name lines up with those that have one */
			if (base_buf_printf(&b, "%s", o->short_name ? "" : "    ") < 0 ||
			    help_lhs(&b, t, nt, o) < 0)
				break;
			if (b.len + 2 >= OPT_HELP_COLUMN)
				fprintf(out, "  %.*s\n%*s", (int)b.len, b.data, OPT_HELP_COLUMN + 1,
					"");
			else
				fprintf(out, "  %-*.*s ", OPT_HELP_COLUMN - 2, (int)b.len, b.data);
			print_wrapped(out, o->help);
		}
	}
	base_buf_done(&b);
}
