// SPDX-License-Identifier: Apache-2.0
/*
 * Columns derived from a record and its annotations (see derived.h).
 */
#include "run/derived.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "run/dns.h"
#include "run/rest.h"

struct run_derived {
	struct run_rest *rest; /* the ebpf.rest column */
	struct run_dns *dns;   /* DNS columns, for DNS data sources */
};

int run_derived_new(struct run_pipeline *p, const char *name, bool tracer,
		    const struct bpf_layout *l, const struct oci_metadata_ds *md,
		    struct run_derived **ret, char *err, size_t errlen)
{
	struct run_derived *d = calloc(1, sizeof(*d));
	int r = 0;

	if (!d)
		return -ENOMEM;
	/* only tracer records carry bytes after the struct */
	if (tracer) {
		r = run_rest_new(p, l, md, &d->rest);
		if (r == -EINVAL)
			snprintf(err, errlen,
				 "data source '%s': ebpf.rest.len names no integer field", name);
		else if (r == -ENOENT)
			r = 0;
	}
	if (r >= 0) {
		r = run_dns_new(p, name, l, md, &d->dns);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0) {
		run_derived_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

struct run_derived *run_derived_free(struct run_derived *d)
{
	if (!d)
		return NULL;
	run_rest_free(d->rest);
	run_dns_free(d->dns);
	free(d);
	return NULL;
}
