// SPDX-License-Identifier: Apache-2.0
/*
 * YAML documents to JSON values (libyaml's document API) and JSON values
 * to YAML text; see yaml.h.
 */
#include "cli/kubectl-gadget/yaml.h"

#include <errno.h>

#include "base/yaml.h"
#include "base/yaml_emit.h"

/* Aliases may make a small document expand a lot: bound the nodes converted. */
#define KG_YAML_MAX_NODES (1u << 20)

int kg_yaml_load_all(const char *buf, size_t len, const char *name, json_t **ret, char *err,
		     size_t errlen)
{
	const struct base_yaml_opts opts = {.name = name, .max_bytes = KG_YAML_MAX_BYTES};
	struct base_yaml y = {0};
	json_t *docs, *v;
	int r;

	docs = json_array();
	if (!docs)
		return -ENOMEM;
	r = base_yaml_open(&y, buf, len, &opts, err, errlen);
	while (r == 0 && (r = base_yaml_next(&y)) > 0) {
		r = base_yaml_to_json(&y, base_yaml_root(&y), KG_YAML_MAX_NODES, &v);
		if (r == 0 && json_is_null(v))
			json_decref(v); /* an empty document */
		else if (r == 0 && json_array_append_new(docs, v) < 0)
			r = -ENOMEM;
	}
	base_yaml_done(&y);
	if (r < 0) {
		json_decref(docs);
		return r;
	}
	*ret = docs;
	return 0;
}

/* ---- emitting ---- */
