/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gadget.yaml: the metadata that travels with a gadget as the config blob of
 * its OCI image (media type application/vnd.gadget.config.v1+yaml).
 *
 * The format is the one Inspektor Gadget gadgets use:
 *
 *   name: trace open
 *   description: trace open files
 *   homepageURL / documentationURL / sourceURL: ...
 *   datasources:
 *     open:
 *       annotations: {cli.clear-screen-before: "true"}
 *       fields:
 *         fname:
 *           annotations:
 *             description: File name
 *             columns.width: 32
 *   params:
 *     ebpf:
 *       targ_failed:
 *         key: failed
 *         defaultValue: "false"
 *         description: Show only failed events
 *
 * Unknown keys are kept out of the way (ignored), so metadata written for
 * newer versions still loads.  Scalars of any YAML type are kept as text.
 *
 * Rules for what the format leaves open:
 *  - aliases ("*name") are rejected anywhere in the document, which makes
 *    alias bombs harmless; anchors on their own are accepted;
 *  - a key given twice in a mapping this module reads is an error (YAML
 *    requires unique keys, and Inspektor Gadget's decoder rejects them too);
 *    duplicates inside ignored subtrees are not looked at;
 *  - a null value ("fields:" followed by nothing, "~", "null") where a
 *    mapping is expected is an empty mapping; a null param attribute counts
 *    as not given (NULL); a null annotation value is the empty string;
 *  - an empty stream or a null document is an empty struct oci_metadata;
 *    a second document in the stream is an error;
 *  - the keys of the format (datasources, fields, annotations, params, key,
 *    defaultValue, ...) are matched without case, as Inspektor Gadget's
 *    decoder does ("dataSources" is datasources); names the document gives
 *    (datasources, fields, annotation keys, params) keep their case.
 *
 * Besides params.ebpf, the top-level paramDefaults mapping gives defaults to
 * params that belong to the run rather than to the eBPF program, e.g.
 * "operator.oci.ebpf.map-fetch-interval: 0" (no periodic fetch).
 */
#ifndef OCI_METADATA_H
#define OCI_METADATA_H

#include <stddef.h>

#define OCI_METADATA_MAX_BYTES	 (1u << 20)
#define OCI_METADATA_MAX_DEPTH	 16
#define OCI_METADATA_MAX_ENTRIES 4096 /* datasources + fields + params + annotations */
#define OCI_METADATA_MAX_SCALAR	 8192 /* bytes in any key or value that is kept */

struct oci_metadata_annotation {
	char *key;
	char *value;
};

struct oci_metadata_field {
	char *name;
	size_t n_annotations;
	struct oci_metadata_annotation *annotations;
};

struct oci_metadata_ds {
	char *name;
	size_t n_annotations;
	struct oci_metadata_annotation *annotations;
	size_t n_fields;
	struct oci_metadata_field *fields;
};

struct oci_metadata_param {
	char *name;	     /* the eBPF variable: "targ_failed" */
	char *key;	     /* flag name without dashes: "failed"; NULL if not given */
	char *default_value; /* NULL if not given */
	char *description;   /* NULL if not given */
	char *alias;	     /* a one-letter short flag: "k" for -k; NULL if not given */
};

struct oci_metadata {
	char *name;
	char *description;
	char *homepage_url;
	char *documentation_url;
	char *source_url;
	size_t n_datasources;
	struct oci_metadata_ds *datasources;
	size_t n_params;
	struct oci_metadata_param *params; /* params.ebpf */
	/* paramDefaults: key = the param's full name, value = its default text */
	size_t n_param_defaults;
	struct oci_metadata_annotation *param_defaults;
};

/*
 * Parses a gadget.yaml document of len bytes.  Returns 0 and a new object in
 * *ret (free with oci_metadata_free()).  On failure *ret is left untouched and
 * the result is -EINVAL (malformed YAML, wrong structure, duplicate key,
 * alias), -E2BIG (over one of the limits above) or -ENOMEM; when err is not
 * NULL it receives a one-line reason, "gadget.yaml:<line>: <why>".
 */
int oci_metadata_parse(const void *buf, size_t len, struct oci_metadata **ret, char *err,
		       size_t errlen);
/*
 * Same for a file; -ENOENT and friends from open()/read().  Messages start
 * with the path instead of "gadget.yaml".
 */
int oci_metadata_load(const char *path, struct oci_metadata **ret, char *err, size_t errlen);
struct oci_metadata *oci_metadata_free(struct oci_metadata *m);

/* Lookups return borrowed pointers, or NULL when absent (m may be NULL). */
const struct oci_metadata_ds *oci_metadata_find_ds(const struct oci_metadata *m, const char *name);
const struct oci_metadata_param *oci_metadata_find_param(const struct oci_metadata *m,
							 const char *name);
/* The paramDefaults entry for key ("operator.oci.ebpf.map-fetch-interval"), or NULL. */
const char *oci_metadata_param_default(const struct oci_metadata *m, const char *key);
const char *oci_metadata_ds_annotation(const struct oci_metadata_ds *ds, const char *key);
const struct oci_metadata_field *oci_metadata_find_field(const struct oci_metadata_ds *ds,
							 const char *name);
const char *oci_metadata_field_annotation(const struct oci_metadata_ds *ds, const char *field,
					  const char *key);

/* An empty description, for a gadget without gadget.yaml that gets --annotate. */
struct oci_metadata *oci_metadata_new(void);

/*
 * Sets an annotation as `--annotate DS:KEY=VALUE` (field NULL) or
 * `--annotate DS.FIELD:KEY=VALUE` does: on the data source or on one of its
 * fields, replacing a value gadget.yaml gave, adding the data source or the
 * field when gadget.yaml has none.  -EINVAL for an empty name, -E2BIG past
 * the limits above, -ENOMEM.
 */
int oci_metadata_annotate(struct oci_metadata *m, const char *ds, const char *field,
			  const char *key, const char *value);

#endif /* OCI_METADATA_H */
