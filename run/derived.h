/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Columns the run library derives from a record and its data source's
 * annotations alone: the bytes after the struct (ebpf.rest, run/rest.h) and
 * the decoded DNS message (run/dns.h).  Added in one place, in one order,
 * both where records are made (the runner) and where they are rendered from
 * their bytes (run/remote.h), so that both pipelines have the same columns.
 * Their values need the whole record, bytes after the struct included.
 */
#ifndef RUN_DERIVED_H
#define RUN_DERIVED_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_layout;
struct oci_metadata_ds;
struct run_pipeline;
struct run_derived;

/*
 * Adds the derived columns of data source name (a tracer or not; layout l,
 * annotations md, may be NULL) to p before run_pipeline_prepare().  The
 * returned object must outlive p (free with run_derived_free()).  -EINVAL
 * with a one-line reason in err for annotations that name no usable field,
 * -ENOMEM.
 */
int run_derived_new(struct run_pipeline *p, const char *name, bool tracer,
		    const struct bpf_layout *l, const struct oci_metadata_ds *md,
		    struct run_derived **ret, char *err, size_t errlen);
struct run_derived *run_derived_free(struct run_derived *d);

#endif /* RUN_DERIVED_H */
