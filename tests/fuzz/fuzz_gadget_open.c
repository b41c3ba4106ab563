// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for opening a gadget ELF (bpf_gadget_open_mem()).
 *
 * A gadget's ELF comes out of an OCI image, so everything up to load is
 * foreign-input parsing: our ELF check, libbpf's ELF and BTF parsers, and
 * discovery of data sources and params from the BTF.  Nothing is loaded
 * into the kernel.  Every input must end in a gadget or in an error with a
 * one-line reason.  Seed it with the objects in build/tests/data.
 */
#include "bpf/gadget.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every field a consumer would, so a dangling pointer shows up under ASan. */
static size_t touch(const struct bpf_gadget *g)
{
	size_t sum = 0;

	for (size_t i = 0; i < bpf_gadget_ds_count(g); i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(g, i);
		const struct bpf_layout *l = ds->layout;

		sum += strlen(ds->name) + l->size;
		for (size_t f = 0; f < l->n_fields; f++) {
			const struct bpf_layout_field *fl = &l->fields[f];

			if (fl->offset > l->size || fl->size > l->size - fl->offset)
				abort();
			sum += strlen(fl->full_name) + strlen(fl->type_name);
			for (size_t e = 0; e < fl->n_enum_vals; e++)
				sum += strlen(fl->enum_vals[e].name);
		}
		for (size_t p = 0; p < ds->n_progs; p++)
			sum += strlen(ds->progs[p]);
	}
	for (size_t i = 0; i < bpf_gadget_param_count(g); i++) {
		const struct bpf_gadget_param *p = bpf_gadget_param_get(g, i);

		sum += strlen(p->name) + strlen(p->type_name) + strlen(p->default_value);
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	struct bpf_gadget_opts opts = {
		.sz = sizeof(opts),
		.name = "fuzz",
		.errbuf = err,
		.errbuf_len = sizeof(err),
	};
	struct bpf_gadget *g = NULL;
	int ret = bpf_gadget_open_mem(data, size, &opts, &g);

	if (ret == 0) {
		touch(g);
		/* Params are parsed from text too: the first one gets junk. */
		if (bpf_gadget_param_count(g))
			bpf_gadget_set_param(g, bpf_gadget_param_get(g, 0)->name, "0x7fffffff");
		bpf_gadget_free(g);
	} else if (err[0] == '\0' || strchr(err, '\n')) {
		abort();
	}
	return 0;
}
