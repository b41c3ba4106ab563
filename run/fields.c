// SPDX-License-Identifier: Apache-2.0
/*
 * The --fields grammar (see fields.h).  Lists are short (a gadget has at
 * most a few hundred fields), so every lookup is a scan.
 */
#include "run/fields.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct sel_state {
	const struct run_fields_item *items;
	size_t n;
	size_t *sel;
	size_t n_sel;
};

static void sel_add(struct sel_state *s, size_t idx)
{
	size_t i;

	for (i = 0; i < s->n_sel; i++)
		if (s->sel[i] == idx)
			return;
	s->sel[s->n_sel++] = idx;
}

static void sel_remove(struct sel_state *s, size_t idx)
{
	size_t i;

	for (i = 0; i < s->n_sel; i++) {
		if (s->sel[i] == idx) {
			memmove(&s->sel[i], &s->sel[i + 1], (s->n_sel - i - 1) * sizeof(*s->sel));
			s->n_sel--;
			return;
		}
	}
}

static bool name_is(const char *s, const char *name, size_t len, bool fold)
{
	if (!s || strlen(s) != len)
		return false;
	return fold ? !strncasecmp(s, name, len) : !strncmp(s, name, len);
}

/* items whose name is name + "." + more: the fields of struct name */
static size_t struct_members(struct sel_state *s, const char *name, size_t len, bool fold,
			     bool remove)
{
	size_t pass, i, found = 0;

	for (pass = 0; pass < 2 && !found; pass++) {
		for (i = 0; i < s->n; i++) {
			const struct run_fields_item *it = &s->items[i];
			int c = fold ? strncasecmp(it->name, name, len)
				     : strncmp(it->name, name, len);

			if (c || it->name[len] != '.')
				continue;
			/* the struct's fields of the default set first, else all */
			if (pass == 0 && !it->in_default)
				continue;
			if (remove)
				sel_remove(s, i);
			else
				sel_add(s, i);
			found++;
		}
	}
	return found;
}

static int sel_item(struct sel_state *s, const char *name, size_t len, bool remove, char *err,
		    size_t errlen)
{
	size_t i, hits = 0, hit = 0, fold, pass;

	for (fold = 0; fold < 2; fold++) {
		for (i = 0; i < s->n; i++) {
			if (name_is(s->items[i].name, name, len, fold)) {
				if (remove)
					sel_remove(s, i);
				else
					sel_add(s, i);
				return 0;
			}
		}
		if (struct_members(s, name, len, fold, remove))
			return 0;
	}
	/* a column name first (what the table header shows), then a last component */
	for (pass = 0; pass < 2 && !hits; pass++) {
		for (fold = 0; fold < 2 && !hits; fold++) {
			for (i = 0; i < s->n; i++) {
				const char *dot = strrchr(s->items[i].name, '.');
				const char *last = dot ? dot + 1 : s->items[i].name;

				if (pass == 0 ? name_is(s->items[i].short_name, name, len, fold)
					      : name_is(last, name, len, fold)) {
					if (!hits++)
						hit = i;
				}
			}
		}
	}
	if (hits > 1) {
		snprintf(err, errlen, "field '%.*s' is ambiguous, use its full name", (int)len,
			 name);
		return -EINVAL;
	}
	if (!hits) {
		snprintf(err, errlen,
			 "unknown field '%.*s' (see --help for the fields of this gadget)",
			 (int)len, name);
		return -EINVAL;
	}
	if (remove)
		sel_remove(s, hit);
	else
		sel_add(s, hit);
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int run_fields_select(const struct run_fields_item *items, size_t n, const char *spec, size_t *sel,
		      size_t *ret_n, char *err, size_t errlen)
{
	struct sel_state s = {.items = items, .n = n, .sel = sel};
	bool relative = false;
	const char *item;
	size_t i;
	int r;

	/* "--fields=" with nothing in it means the defaults, not no fields */
	if (spec && !spec[strspn(spec, " \t,")])
		spec = NULL;
	for (item = spec; item && *item;) {
		size_t len = strcspn(item, ",");
		const char *t = item;

		trim(&t, &len);
		if (len && (*t == '+' || *t == '-'))
			relative = true;
		item += strcspn(item, ",");
		if (*item)
			item++;
	}
	if (!spec || relative)
		for (i = 0; i < n; i++)
			if (items[i].in_default)
				s.sel[s.n_sel++] = i;
	for (item = spec; item && *item;) {
		size_t len = strcspn(item, ",");
		const char *t = item;
		bool remove = false;

		item += len;
		if (*item)
			item++;
		trim(&t, &len);
		if (len && (*t == '+' || *t == '-')) {
			remove = *t == '-';
			t++;
			len--;
			trim(&t, &len);
		}
		if (!len)
			continue;
		r = sel_item(&s, t, len, remove, err, errlen);
		if (r < 0)
			return r;
	}
	*ret_n = s.n_sel;
	return 0;
}
