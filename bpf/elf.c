// SPDX-License-Identifier: Apache-2.0
/*
 * Structural check of a gadget ELF.  See elf.h.
 *
 * Only what libbpf later trusts is checked: the section table, section
 * names, the symbol table and its string table, the symbol indices of
 * relocations, and that every type and name the BTF refers to exists
 * (libbpf 1.1 follows BTF type ids without checking them).  Reads go
 * through memcpy so an unaligned buffer is fine.
 */
#include "bpf/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "base/err.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

/* True when [off, off + len) lies inside size bytes. */
static bool in_bounds(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static bool string_ok(const char *base, uint64_t tab_off, uint64_t tab_size, uint64_t idx)
{
	if (idx >= tab_size)
		return false;
	return memchr(base + tab_off + idx, '\0', tab_size - idx) != NULL;
}

static void shdr_at(const char *base, const Elf64_Ehdr *eh, size_t i, Elf64_Shdr *sh)
{
	memcpy(sh, base + eh->e_shoff + i * sizeof(*sh), sizeof(*sh));
}

static int check_symtab(const char *base, const Elf64_Ehdr *eh, const Elf64_Shdr *sh,
			size_t *ret_nsyms, char *err, size_t err_len)
{
	Elf64_Shdr strtab;
	size_t n;

	if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_size % sizeof(Elf64_Sym))
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: bad symbol table entry size");
	if (sh->sh_link == 0 || sh->sh_link >= eh->e_shnum)
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: symbol table has no string table");
	shdr_at(base, eh, sh->sh_link, &strtab);
	if (strtab.sh_type != SHT_STRTAB || strtab.sh_size == 0)
		return base_err_fail(err, err_len, -EINVAL, "corrupt ELF: bad symbol string table");
	n = sh->sh_size / sizeof(Elf64_Sym);
	for (size_t i = 0; i < n; i++) {
		Elf64_Sym sym;

		memcpy(&sym, base + sh->sh_offset + i * sizeof(sym), sizeof(sym));
		if (!string_ok(base, strtab.sh_offset, strtab.sh_size, sym.st_name))
			return base_err_fail(err, err_len, -EINVAL,
					     "corrupt ELF: symbol %zu has a bad name", i);
		if (sym.st_shndx >= eh->e_shnum && sym.st_shndx < SHN_LORESERVE)
			return base_err_fail(
				err, err_len, -EINVAL,
				"corrupt ELF: symbol %zu points past the section table", i);
		if (sym.st_shndx == SHN_XINDEX)
			return base_err_fail(
				err, err_len, -EINVAL,
				"corrupt ELF: extended section indices are not supported");
	}
	*ret_nsyms = n;
	return 0;
}

static int check_rel(const char *base, const Elf64_Ehdr *eh, const Elf64_Shdr *sh,
		     size_t symtab_idx, size_t nsyms, char *err, size_t err_len)
{
	size_t n;

	if (sh->sh_entsize != sizeof(Elf64_Rel) || sh->sh_size % sizeof(Elf64_Rel))
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: bad relocation entry size");
	if (sh->sh_link != symtab_idx)
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: relocations refer to another symbol table");
	if (sh->sh_info >= eh->e_shnum)
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: relocations for a section past the table");
	n = sh->sh_size / sizeof(Elf64_Rel);
	for (size_t i = 0; i < n; i++) {
		Elf64_Rel rel;

		memcpy(&rel, base + sh->sh_offset + i * sizeof(rel), sizeof(rel));
		if (ELF64_R_SYM(rel.r_info) >= nsyms)
			return base_err_fail(err, err_len, -EINVAL,
					     "corrupt ELF: relocation names symbol %llu of %zu",
					     (unsigned long long)ELF64_R_SYM(rel.r_info), nsyms);
	}
	return 0;
}

static bool id_ok(const struct btf *btf, uint32_t id)
{
	return id < btf__type_cnt(btf);
}

static bool name_ok(const struct btf *btf, uint32_t off)
{
	return btf__name_by_offset(btf, off) != NULL;
}

/* One type: its name, the names of its parts and every type id it names. */
static int check_btf_type(const struct btf *btf, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	uint16_t n;

	if (!t || !name_ok(btf, t->name_off))
		return -EINVAL;
	n = btf_vlen(t);
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_FWD:
		return 0;
	case BTF_KIND_ENUM:
		for (uint16_t i = 0; i < n; i++)
			if (!name_ok(btf, btf_enum(t)[i].name_off))
				return -EINVAL;
		return 0;
	case BTF_KIND_ENUM64:
		for (uint16_t i = 0; i < n; i++)
			if (!name_ok(btf, btf_enum64(t)[i].name_off))
				return -EINVAL;
		return 0;
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
	case BTF_KIND_FUNC:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return id_ok(btf, t->type) ? 0 : -EINVAL;
	case BTF_KIND_ARRAY:
		return id_ok(btf, btf_array(t)->type) && id_ok(btf, btf_array(t)->index_type)
			       ? 0
			       : -EINVAL;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (uint16_t i = 0; i < n; i++)
			if (!name_ok(btf, btf_members(t)[i].name_off) ||
			    !id_ok(btf, btf_members(t)[i].type))
				return -EINVAL;
		return 0;
	case BTF_KIND_FUNC_PROTO:
		if (!id_ok(btf, t->type))
			return -EINVAL;
		for (uint16_t i = 0; i < n; i++)
			if (!name_ok(btf, btf_params(t)[i].name_off) ||
			    !id_ok(btf, btf_params(t)[i].type))
				return -EINVAL;
		return 0;
	case BTF_KIND_DATASEC:
		for (uint16_t i = 0; i < n; i++)
			if (!id_ok(btf, btf_var_secinfos(t)[i].type))
				return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_btf(const char *base, const Elf64_Shdr *sh, char *err, size_t err_len)
{
	struct btf *btf;
	uint32_t n;

	if (sh->sh_type == SHT_NOBITS || sh->sh_size == 0 || sh->sh_size > UINT32_MAX)
		return base_err_fail(err, err_len, -EINVAL,
				     "malformed BTF: empty or oversized .BTF section");
	btf = btf__new(base + sh->sh_offset, (uint32_t)sh->sh_size);
	if (!btf)
		return base_err_fail(err, err_len, -EINVAL,
				     "malformed BTF: the .BTF section does not parse");
	n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n; id++) {
		if (check_btf_type(btf, id)) {
			btf__free(btf);
			return base_err_fail(
				err, err_len, -EINVAL,
				"malformed BTF: type %u refers to a type or name that does not "
				"exist",
				id);
		}
	}
	btf__free(btf);
	return 0;
}

int bpf_elf_check(const void *buf, size_t size, struct bpf_elf_info *info, char *err,
		  size_t err_len)
{
	const char *base = buf;
	size_t symtab_idx = 0, nsyms = 0;
	Elf64_Shdr names;
	Elf64_Ehdr eh;
	int ret;

	memset(info, 0, sizeof(*info));
	if (!buf || size < EI_NIDENT || memcmp(base, ELFMAG, SELFMAG) != 0)
		return base_err_fail(err, err_len, -EINVAL, "not an ELF file");
	if (size < sizeof(eh))
		return base_err_fail(err, err_len, -EINVAL, "corrupt ELF: truncated header");
	memcpy(&eh, base, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return base_err_fail(err, err_len, -EINVAL, "not a 64-bit little-endian ELF file");
	if (eh.e_machine != EM_BPF)
		return base_err_fail(
			err, err_len, -EINVAL,
			"not a BPF object (ELF machine %u): build it with clang -target bpf",
			eh.e_machine);
	if (eh.e_type != ET_REL)
		return base_err_fail(
			err, err_len, -EINVAL,
			"not a relocatable BPF object (ELF type %u): build it with clang -c",
			eh.e_type);
	if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr))
		return base_err_fail(err, err_len, -EINVAL, "corrupt ELF: no usable section table");
	if (eh.e_shnum > BPF_ELF_MAX_SECTIONS)
		return base_err_fail(err, err_len, -E2BIG, "ELF has too many sections (%u, max %u)",
				     eh.e_shnum, BPF_ELF_MAX_SECTIONS);
	if (!in_bounds(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), size))
		return base_err_fail(err, err_len, -EINVAL,
				     "corrupt ELF: section table past the end");
	if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
		return base_err_fail(err, err_len, -EINVAL, "corrupt ELF: no section name table");

	for (size_t i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;

		shdr_at(base, &eh, i, &sh);
		if (sh.sh_type != SHT_NOBITS && !in_bounds(sh.sh_offset, sh.sh_size, size))
			return base_err_fail(err, err_len, -EINVAL,
					     "corrupt ELF: section %zu past the end", i);
		if (sh.sh_type == SHT_SYMTAB) {
			if (symtab_idx)
				return base_err_fail(err, err_len, -EINVAL,
						     "corrupt ELF: more than one symbol table");
			symtab_idx = i;
		}
	}
	shdr_at(base, &eh, eh.e_shstrndx, &names);
	if (names.sh_type != SHT_STRTAB || names.sh_size == 0)
		return base_err_fail(err, err_len, -EINVAL, "corrupt ELF: bad section name table");
	if (!symtab_idx)
		return base_err_fail(err, err_len, -EINVAL,
				     "ELF has no symbol table: was it stripped?");

	for (size_t i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		const char *name;

		shdr_at(base, &eh, i, &sh);
		if (!string_ok(base, names.sh_offset, names.sh_size, sh.sh_name))
			return base_err_fail(err, err_len, -EINVAL,
					     "corrupt ELF: section %zu has a bad name", i);
		name = base + names.sh_offset + sh.sh_name;
		if (strcmp(name, ".BTF") == 0) {
			ret = check_btf(base, &sh, err, err_len);
			if (ret)
				return ret;
			info->has_btf = true;
		} else if (strcmp(name, ".BTF.ext") == 0)
			info->has_btf_ext = true;
		if (sh.sh_type == SHT_SYMTAB) {
			ret = check_symtab(base, &eh, &sh, &nsyms, err, err_len);
			if (ret)
				return ret;
		}
	}
	for (size_t i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;

		shdr_at(base, &eh, i, &sh);
		if (sh.sh_type == SHT_RELA)
			return base_err_fail(
				err, err_len, -EINVAL,
				"corrupt ELF: RELA relocations are not used by BPF objects");
		if (sh.sh_type != SHT_REL)
			continue;
		ret = check_rel(base, &eh, &sh, symtab_idx, nsyms, err, err_len);
		if (ret)
			return ret;
	}
	info->n_sections = eh.e_shnum;
	return 0;
}
