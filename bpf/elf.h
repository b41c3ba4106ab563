/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First look at a gadget ELF, before libbpf parses it.
 *
 * libbpf assumes a well-formed compiler output; a gadget image is foreign
 * input.  This check walks the ELF header, the section table, the symbol
 * table and the relocation sections with every offset bounded, so that a
 * truncated or corrupt file is refused with a clear reason instead of
 * reaching libbpf's parser, and tells whether the object carries BTF.
 */
#ifndef BPF_ELF_H
#define BPF_ELF_H

#include <stdbool.h>
#include <stddef.h>

/* More sections than any compiler emits for one BPF object. */
#define BPF_ELF_MAX_SECTIONS 4096

struct bpf_elf_info {
	bool has_btf;	  /* a .BTF section */
	bool has_btf_ext; /* a .BTF.ext section */
	size_t n_sections;
};

/*
 * Checks that buf holds a 64-bit little-endian BPF relocatable object whose
 * tables stay inside size bytes.  Returns 0 and fills *info, or -EINVAL
 * (-E2BIG past BPF_ELF_MAX_SECTIONS) with a one-line reason in err.
 */
int bpf_elf_check(const void *buf, size_t size, struct bpf_elf_info *info, char *err,
		  size_t err_len);

#endif /* BPF_ELF_H */
