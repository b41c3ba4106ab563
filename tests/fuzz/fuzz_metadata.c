// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the gadget.yaml parser.
 *
 * gadget.yaml arrives inside images pulled from registries, so its parser
 * reads untrusted bytes.  Every input must either parse or fail with a
 * message; the lookups are run over whatever was parsed so that a malformed
 * but accepted object is also exercised, then it is freed (leaks are caught
 * by LeakSanitizer).
 */
#include "oci/metadata.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_metadata *m = NULL;
	char err[256];
	int r;

	r = oci_metadata_parse(data, size, &m, err, sizeof(err));
	if (r < 0) {
		/* a failure always explains itself in one line */
		if (!err[0] || strchr(err, '\n') || m)
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < m->n_datasources; i++) {
		const struct oci_metadata_ds *ds = &m->datasources[i];

		if (oci_metadata_find_ds(m, ds->name) != ds)
			__builtin_trap();
		for (size_t j = 0; j < ds->n_annotations; j++)
			if (!oci_metadata_ds_annotation(ds, ds->annotations[j].key))
				__builtin_trap();
		for (size_t j = 0; j < ds->n_fields; j++)
			for (size_t k = 0; k < ds->fields[j].n_annotations; k++)
				if (!oci_metadata_field_annotation(
					    ds, ds->fields[j].name,
					    ds->fields[j].annotations[k].key))
					__builtin_trap();
	}
	for (size_t i = 0; i < m->n_params; i++)
		if (oci_metadata_find_param(m, m->params[i].name) != &m->params[i])
			__builtin_trap();
	oci_metadata_free(m);
	return 0;
}
