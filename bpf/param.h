/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gadget params: the text a user types and the bytes of the const volatile
 * global that holds it.
 *
 * A param's type comes from BTF (bool, integers, enums, char arrays); this
 * module turns the initial bytes found in .rodata into the text shown as the
 * default, and validates a user's text before it becomes the new bytes.
 */
#ifndef BPF_PARAM_H
#define BPF_PARAM_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/gadget.h"

struct btf;

struct bpf_param_desc {
	const struct btf *btf;
	uint32_t type_id; /* typedefs and modifiers skipped */
	enum bpf_gadget_param_type type;
	uint32_t size;
};

/*
 * Classifies the BTF type of a param variable.  Returns 0 with *d filled and
 * a new display name in *ret_type_name ("gadget_pid", "bool", "char[16]",
 * "enum op"; free() it), or -EOPNOTSUPP for a type a param cannot have.
 */
int bpf_param_describe(const struct btf *btf, uint32_t type_id, struct bpf_param_desc *d,
		       char **ret_type_name);

/*
 * The enumerator names of an enum param, in declaration order: a new array
 * in *ret (free() it) of names borrowed from d->btf.  -EINVAL for another
 * type, -E2BIG past BPF_GADGET_MAX_ENUM_VALUES.
 */
int bpf_param_enum_values(const struct bpf_param_desc *d, const char ***ret, size_t *ret_n);

/* The text form of d->size bytes: "42", "true", "comm", "OP_READ". New string in *ret. */
int bpf_param_format(const struct bpf_param_desc *d, const void *bytes, char **ret);

/*
 * Parses text into d->size bytes at out.  Bools take true/false/1/0/yes/no
 * (any case), integers decimal or 0x hex, enums an enumerator name or a
 * number, strings anything that fits with its NUL.  -EINVAL or -ERANGE with a
 * one-line reason naming the param in err; out is untouched on failure.
 */
int bpf_param_parse(const struct bpf_param_desc *d, const char *name, const char *text, void *out,
		    char *err, size_t err_len);

#endif /* BPF_PARAM_H */
