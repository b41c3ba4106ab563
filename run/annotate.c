// SPDX-License-Identifier: Apache-2.0
/*
 * --annotate and --otel-metrics-name (see annotate.h).
 */
#include "run/annotate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oci/metadata.h"

static int copy_part(char *dst, size_t size, const char *s, size_t n)
{
	if (!n || n >= size)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int run_annotate_parse(const char *text, struct run_annotation *ret, char *err, size_t errlen)
{
	const char *colon = strchr(text, ':'), *eq, *dot;
	size_t n;

	if (strlen(text) > RUN_ANNOTATE_MAX)
		goto bad;
	memset(ret, 0, sizeof(*ret));
	if (!colon)
		goto bad;
	eq = strchr(colon + 1, '=');
	if (!eq)
		goto bad;
	/* the data source's name has no dot; a field's may have several */
	dot = memchr(text, '.', (size_t)(colon - text));
	n = (size_t)((dot ? dot : colon) - text);
	if (copy_part(ret->ds, sizeof(ret->ds), text, n) < 0)
		goto bad;
	if (dot &&
	    copy_part(ret->field, sizeof(ret->field), dot + 1, (size_t)(colon - dot - 1)) < 0)
		goto bad;
	if (copy_part(ret->key, sizeof(ret->key), colon + 1, (size_t)(eq - colon - 1)) < 0)
		goto bad;
	ret->value = eq + 1;
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid --annotate '%.200s' (DS:KEY=VALUE or DS.FIELD:KEY=VALUE, e.g. "
		 "open:metrics.collect=true)",
		 text);
	return -EINVAL;
}

int run_annotate_apply(const char *const *ann, size_t n, struct oci_metadata **md, char *err,
		       size_t errlen)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		struct run_annotation a;

		r = run_annotate_parse(ann[i], &a, err, errlen);
		if (r < 0)
			return r;
		if (!*md && !(*md = oci_metadata_new()))
			return -ENOMEM;
		r = oci_metadata_annotate(*md, a.ds, a.field[0] ? a.field : NULL, a.key, a.value);
		if (r < 0) {
			snprintf(err, errlen, "--annotate '%.200s': %s", ann[i], strerror(-r));
			return r == -ENOMEM ? r : -EINVAL;
		}
	}
	return 0;
}

int run_annotate_metrics_name(const char *text, char *ds, size_t ds_size, const char **ret_name,
			      char *err, size_t errlen)
{
	const char *colon = strchr(text, ':');

	if (!colon || colon == text || !colon[1] || strlen(text) > RUN_ANNOTATE_MAX ||
	    copy_part(ds, ds_size, text, (size_t)(colon - text)) < 0) {
		snprintf(err, errlen,
			 "invalid --otel-metrics-name '%.200s' (DS:NAME, e.g. open:open-metrics)",
			 text);
		return -EINVAL;
	}
	*ret_name = colon + 1;
	return 0;
}
