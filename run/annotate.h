/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Annotations given at run time, Inspektor Gadget's --annotate:
 *
 *   DS:KEY=VALUE          on data source DS ("open:metrics.collect=true")
 *   DS.FIELD:KEY=VALUE    on a field of it ("open.k8s.namespace:metrics.type=key")
 *
 * They are applied to the gadget's description (gadget.yaml) before the run
 * is built, as if gadget.yaml had said them, and override what it says.
 * --otel-metrics-name DS:NAME names the metrics scope of a data source.
 */
#ifndef RUN_ANNOTATE_H
#define RUN_ANNOTATE_H

#include <stddef.h>

struct oci_metadata;

/* Longest --annotate or --otel-metrics-name value. */
#define RUN_ANNOTATE_MAX 4096

struct run_annotation {
	char ds[256];
	char field[256]; /* "" on the data source itself */
	char key[256];
	const char *value; /* points into the text parsed */
};

/* Parses one --annotate value; -EINVAL with a one-line reason in err. */
int run_annotate_parse(const char *text, struct run_annotation *ret, char *err, size_t errlen);

/*
 * Parses and applies every annotation to *md, creating an empty
 * description when *md is NULL and there is something to apply.  On
 * failure *md may hold some of them (free it either way).  -EINVAL with err.
 */
int run_annotate_apply(const char *const *ann, size_t n, struct oci_metadata **md, char *err,
		       size_t errlen);

/* "DS:NAME" -> ds (NUL-terminated, room for 256) and name; -EINVAL with err. */
int run_annotate_metrics_name(const char *text, char *ds, size_t ds_size, const char **ret_name,
			      char *err, size_t errlen);

#endif /* RUN_ANNOTATE_H */
