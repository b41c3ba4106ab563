// SPDX-License-Identifier: Apache-2.0
/*
 * The bytes after a record's struct, as a column.  See rest.h.
 */
#include "run/rest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/pipeline.h"

struct run_rest {
	uint32_t start; /* the struct's size */
	uint32_t len_off, len_size;
	bool has_len;
};

static int rest_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	static const char hex[] = "0123456789abcdef";
	const struct run_rest *r = ctx;
	const uint8_t *p = (const uint8_t *)rec + r->start;
	size_t n = size > r->start ? size - r->start : 0;
	uint32_t len = 0;
	int err;

	if (r->has_len && (size_t)r->len_off + r->len_size <= size) {
		memcpy(&len, (const char *)rec + r->len_off, r->len_size);
		if (len < n)
			n = len;
	}
	if (n > RUN_REST_MAX_BYTES)
		n = RUN_REST_MAX_BYTES;
	err = base_buf_reserve(out, n * 2);
	for (size_t i = 0; i < n && !err; i++) {
		err = base_buf_putc(out, hex[p[i] >> 4]);
		if (!err)
			err = base_buf_putc(out, hex[p[i] & 0xf]);
	}
	return err;
}

int run_rest_new(struct run_pipeline *p, const struct bpf_layout *l,
		 const struct oci_metadata_ds *md, struct run_rest **ret)
{
	const char *name = oci_metadata_ds_annotation(md, "ebpf.rest.name");
	const char *len = oci_metadata_ds_annotation(md, "ebpf.rest.len");
	struct run_column_def def = {
		.description = "Bytes sent after the record (the packet), in hex",
		.hidden = true,
		.text = rest_text,
		.source = RUN_COLUMN_SOURCE_DERIVED,
	};
	const struct bpf_layout_field *f = NULL;
	struct run_rest *r;
	int err;

	if (!p || !l || !ret)
		return -EINVAL;
	if (!name || !*name)
		return -ENOENT;
	if (len && *len) {
		f = bpf_layout_find(l, len);
		if (!f || (f->kind != BPF_LAYOUT_UINT && f->kind != BPF_LAYOUT_INT) ||
		    f->bit_size || f->size > 4)
			return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->start = l->size;
	if (f) {
		r->has_len = true;
		r->len_off = f->offset;
		r->len_size = f->size;
	}
	def.name = name;
	def.ctx = r;
	err = run_pipeline_add_column(p, &def);
	if (err < 0) {
		free(r);
		return err;
	}
	*ret = r;
	return 0;
}

struct run_rest *run_rest_free(struct run_rest *r)
{
	free(r);
	return NULL;
}
