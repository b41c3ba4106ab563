// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for record layouts built from BTF (bpf/layout.c).
 *
 * A gadget's BTF comes from an ELF pulled out of an image, so the layout
 * walker reads foreign types.  Raw BTF has a 24-byte header whose section
 * offsets and lengths must agree with the blob's size, which random
 * mutations almost always break; so an input may either be raw BTF (it
 * starts with the BTF magic) or, more usefully for the fuzzer, a 4-byte
 * little-endian type section length followed by the type section and then
 * the string section, around which the harness writes a consistent header.
 *
 * Every type id is tried (not only structs: anything else must be refused
 * cleanly), and each layout that is built is checked against the promises
 * of bpf/layout.h and read from a record of exactly its size, so that a
 * field lying outside the record shows up as an ASan report.
 */
#include "bpf/layout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <linux/btf.h>

/* Bounds the time per input: a fuzzer BTF can hold thousands of types. */
#define FUZZ_MAX_TYPES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct btf *fuzz_btf(const uint8_t *data, size_t size)
{
	struct btf_header hdr = {
		.magic = BTF_MAGIC,
		.version = BTF_VERSION,
		.hdr_len = sizeof(hdr),
	};
	struct btf *btf;
	uint32_t type_len;
	uint8_t *blob;

	if (size >= 2 && data[0] == (BTF_MAGIC & 0xff) && data[1] == (BTF_MAGIC >> 8))
		return btf__new(data, (uint32_t)size);
	if (size < 4)
		return NULL;
	memcpy(&type_len, data, 4);
	data += 4;
	size -= 4;
	if (type_len > size)
		type_len = (uint32_t)size;
	hdr.type_off = 0;
	hdr.type_len = type_len;
	hdr.str_off = type_len;
	hdr.str_len = (uint32_t)(size - type_len);
	blob = malloc(sizeof(hdr) + size);
	if (!blob)
		return NULL;
	memcpy(blob, &hdr, sizeof(hdr));
	memcpy(blob + sizeof(hdr), data, size);
	btf = btf__new(blob, (uint32_t)(sizeof(hdr) + size));
	free(blob);
	return btf;
}

static void check_layout(const struct bpf_layout *l)
{
	uint8_t *record;

	if (!l->name || l->n_fields > BPF_LAYOUT_MAX_FIELDS || l->size > BPF_LAYOUT_MAX_RECORD)
		__builtin_trap();
	/* malloc, not calloc: MSan-free builds still see reads past the end */
	record = malloc(l->size ? l->size : 1);
	if (!record)
		return;
	memset(record, 0xa5, l->size);
	for (size_t i = 0; i < l->n_fields; i++) {
		const struct bpf_layout_field *f = &l->fields[i];

		if (!f->name || !f->full_name || !f->type_name)
			__builtin_trap();
		if (f->parent >= (int)i || f->parent < -1)
			__builtin_trap();
		if (f->parent >= 0 && l->fields[f->parent].kind != BPF_LAYOUT_STRUCT)
			__builtin_trap();
		if (f->depth > BPF_LAYOUT_MAX_DEPTH)
			__builtin_trap();
		if ((uint64_t)f->offset + f->size > l->size)
			__builtin_trap();
		if (!bpf_layout_find(l, f->full_name))
			__builtin_trap();
		if (!bpf_layout_special_name(f->special))
			__builtin_trap();
		for (size_t j = 0; j < f->n_enum_vals; j++)
			if (!f->enum_vals[j].name)
				__builtin_trap();
		switch (f->kind) {
		case BPF_LAYOUT_INT:
		case BPF_LAYOUT_UINT:
		case BPF_LAYOUT_BOOL:
		case BPF_LAYOUT_ENUM:
			(void)bpf_layout_read_u64(f, record);
			(void)bpf_layout_read_i64(f, record);
			break;
		default:
			break;
		}
	}
	free(record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t first = 0, n, ids[2] = {0, 0};
	struct bpf_layout *l;
	unsigned int built = 0;
	uint32_t value_offset;
	struct btf *btf;

	btf = fuzz_btf(data, size);
	if (!btf)
		return 0;
	n = btf__type_cnt(btf);
	if (n > FUZZ_MAX_TYPES)
		n = FUZZ_MAX_TYPES;
	/* id 0 (void) and ids past the end must be refused too */
	for (uint32_t id = 0; id <= n; id++) {
		l = NULL;
		if (bpf_layout_from_btf(btf, id, &l) < 0) {
			if (l)
				__builtin_trap();
			continue;
		}
		check_layout(l);
		bpf_layout_free(l);
		if (built < 2)
			ids[built] = id;
		built++;
	}
	/* a map iterator record from the first two types that had a layout */
	if (built) {
		first = ids[0];
		l = NULL;
		if (bpf_layout_from_btf_kv(btf, first, built > 1 ? ids[1] : first, &value_offset,
					   &l) == 0) {
			check_layout(l);
			if (value_offset > l->size || value_offset % 8)
				__builtin_trap();
			bpf_layout_free(l);
		}
	}
	btf__free(btf);
	return 0;
}
