// SPDX-License-Identifier: Apache-2.0
/*
 * Container selectors; see selector.h.
 */
#include "run/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/collection.h"

static int fail(char *errbuf, size_t len, int err, const char *what, const char *item)
{
	if (errbuf && len)
		snprintf(errbuf, len, "%s%s%.*s%s", what, item ? " '" : "", 64, item ? item : "",
			 item ? "'" : "");
	return err;
}

int run_selector_set_labels(struct run_selector *s, const char *text, char *errbuf,
			    size_t errbuf_len)
{
	struct run_selector_label labels[RUN_SELECTOR_MAX_LABELS];
	size_t len, n = 0, i;
	char *copy, *p, *comma;

	if (!s || !text)
		return -EINVAL;
	len = strnlen(text, RUN_SELECTOR_MAX_TEXT + 1);
	if (len > RUN_SELECTOR_MAX_TEXT)
		return fail(errbuf, errbuf_len, -E2BIG, "label selector too long", NULL);
	if (!len)
		return fail(errbuf, errbuf_len, -EINVAL, "empty label selector", NULL);
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (p = copy; p; p = comma ? comma + 1 : NULL) {
		char *eq;

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		eq = strchr(p, '=');
		if (!eq || eq == p) {
			fail(errbuf, errbuf_len, -EINVAL,
			     eq ? "label selector: empty key in"
				: "label selector: expected key=value, got",
			     p);
			free(copy);
			return -EINVAL;
		}
		if (n == RUN_SELECTOR_MAX_LABELS) {
			free(copy);
			return fail(errbuf, errbuf_len, -E2BIG, "label selector: too many labels",
				    NULL);
		}
		*eq = '\0';
		for (i = 0; i < n; i++) {
			if (!strcmp(labels[i].key, p)) {
				fail(errbuf, errbuf_len, -EINVAL, "label selector: repeated key",
				     p);
				free(copy);
				return -EINVAL;
			}
		}
		labels[n].key = p;
		labels[n].value = eq + 1;
		n++;
	}
	free(s->labels_text);
	s->labels_text = copy;
	memcpy(s->labels, labels, n * sizeof(labels[0]));
	s->n_labels = n;
	return 0;
}

void run_selector_done(struct run_selector *s)
{
	if (!s)
		return;
	free(s->labels_text);
	s->labels_text = NULL;
	s->n_labels = 0;
}

static bool set(const char *v)
{
	return v && *v;
}

bool run_selector_empty(const struct run_selector *s)
{
	return !s || (!set(s->container_name) && !set(s->k8s_namespace) && !set(s->k8s_podname) &&
		      !set(s->k8s_containername) && !s->n_labels);
}

/*
 * Inspektor Gadget's filter strings: "a,b" any of these, "!a" not this;
 * with inclusions one must match, and no exclusion may.  Unset: anything.
 */
static bool list_match(const char *want, const char *have)
{
	bool has_inclusion = false, matched = false;
	const char *p = want;

	if (!set(want))
		return true;
	if (!have)
		have = "";
	while (*p) {
		size_t n = strcspn(p, ",");
		bool exclude = *p == '!';
		const char *v = exclude ? p + 1 : p;
		size_t vn = exclude ? n - 1 : n;

		if (n) {
			bool eq = strlen(have) == vn && !strncmp(have, v, vn);

			if (exclude && eq)
				return false;
			if (!exclude) {
				has_inclusion = true;
				matched = matched || eq;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return !has_inclusion || matched;
}

/* "k=v" (k has a value among v's list), "!k=v" (k has none of them), "k=!v". */
static bool label_match(const struct cri_container *c, const struct run_selector_label *l)
{
	bool negate = l->key[0] == '!';
	const char *key = negate ? l->key + 1 : l->key;
	size_t i;

	for (i = 0; i < c->n_pod_labels; i++)
		if (!strcmp(c->pod_labels[i].key, key))
			return list_match(l->value, c->pod_labels[i].value) != negate;
	return negate;
}

bool run_selector_match(const struct run_selector *s, const struct cri_container *c)
{
	size_t i;

	if (!c)
		return false;
	if (!s)
		return true;
	if (!list_match(s->container_name, c->name) ||
	    !list_match(s->k8s_namespace, c->pod_namespace) ||
	    !list_match(s->k8s_podname, c->pod_name) || !list_match(s->k8s_containername, c->name))
		return false;
	for (i = 0; i < s->n_labels; i++)
		if (!label_match(c, &s->labels[i]))
			return false;
	return true;
}
