// SPDX-License-Identifier: Apache-2.0
/*
 * User and group names.  See users.h.
 *
 * Both files have the same shape, "name:password:id:...", one entry a line,
 * so one loader fills a sorted array of (id, name) per file.  When an id
 * appears twice the first line wins, as with getpwuid().
 */
#include "run/users.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

struct users_entry {
	uint32_t id;
	uint32_t line; /* order in the file, to keep the first of duplicates */
	const char *name;
};

struct users_table {
	char *path;
	bool loaded;
	char *text; /* the file, with ':' and '\n' turned into NULs */
	size_t n;
	struct users_entry *entries;
};

struct run_users {
	struct users_table users;
	struct users_table groups;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct users_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Parses "name:pw:id:..." lines; malformed lines are skipped. */
static void parse_table(struct users_table *t, size_t len)
{
	char *p = t->text, *end = t->text + len;
	size_t cap = 0;

	while (p < end && t->n < RUN_USERS_MAX_ENTRIES) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line_end = nl ? nl : end;
		char *c1, *c2, *c3, *num_end;
		unsigned long id;

		*line_end = '\0';
		c1 = strchr(p, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		c3 = c2 ? strchr(c2 + 1, ':') : NULL;
		if (c1 && c2 && c1 > p && *p != '#' && *p != '+' && *p != '-') {
			errno = 0;
			id = strtoul(c2 + 1, &num_end, 10);
			if (!errno && num_end != c2 + 1 && (num_end == c3 || (!c3 && !*num_end)) &&
			    id <= UINT32_MAX) {
				if (t->n == cap) {
					size_t ncap = cap ? cap * 2 : 64;
					struct users_entry *e =
						realloc(t->entries, ncap * sizeof(*e));

					if (!e)
						break;
					t->entries = e;
					cap = ncap;
				}
				*c1 = '\0';
				t->entries[t->n].id = (uint32_t)id;
				t->entries[t->n].line = (uint32_t)t->n;
				t->entries[t->n].name = p;
				t->n++;
			}
		}
		p = line_end + 1;
	}
	if (t->n)
		qsort(t->entries, t->n, sizeof(*t->entries), cmp_entry);
}

static const char *table_lookup(struct users_table *t, uint32_t id)
{
	size_t lo = 0, hi;

	if (!t->loaded) {
		size_t len = 0;

		/* A missing or unreadable file leaves an empty table: ids stay numbers. */
		t->loaded = true;
		if (base_file_read(t->path, RUN_USERS_MAX_FILE, &t->text, &len) == 0)
			parse_table(t, len);
	}
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->entries[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->entries[lo].id == id ? t->entries[lo].name : NULL;
}

int run_users_new(const char *passwd, const char *group, struct run_users **ret)
{
	struct run_users *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->users.path = strdup(passwd ? passwd : "/etc/passwd");
	u->groups.path = strdup(group ? group : "/etc/group");
	if (!u->users.path || !u->groups.path) {
		run_users_free(u);
		return -ENOMEM;
	}
	*ret = u;
	return 0;
}

static void table_done(struct users_table *t)
{
	free(t->path);
	free(t->text);
	free(t->entries);
}

struct run_users *run_users_free(struct run_users *u)
{
	if (!u)
		return NULL;
	table_done(&u->users);
	table_done(&u->groups);
	free(u);
	return NULL;
}

const char *run_users_user(struct run_users *u, uint32_t uid)
{
	return u ? table_lookup(&u->users, uid) : NULL;
}

const char *run_users_group(struct run_users *u, uint32_t gid)
{
	return u ? table_lookup(&u->groups, gid) : NULL;
}
