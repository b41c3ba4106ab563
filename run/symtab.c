// SPDX-License-Identifier: Apache-2.0
/*
 * ELF function symbols.  See symtab.h.
 *
 * libelf does the ELF parsing (it checks section bounds itself); this file
 * keeps what a lookup needs, sorted by address: start, size and an offset
 * into one buffer of names, so a table of a million symbols is three
 * allocations, not a million.
 */
#include "run/symtab.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Loadable segments remembered to turn file offsets into addresses. */
#define SYMTAB_MAX_SEGMENTS  64
#define NT_GNU_BUILD_ID_TYPE 3

struct sym {
	uint64_t addr;
	uint64_t size;
	uint32_t name; /* offset in names */
};

struct segment {
	uint64_t off, vaddr, filesz;
};

struct run_symtab {
	size_t n, cap;
	struct sym *syms;
	char *names;
	size_t names_len, names_cap;
	size_t n_segs;
	struct segment segs[SYMTAB_MAX_SEGMENTS];
	char build_id[2 * RUN_SYMTAB_MAX_BUILD_ID + 1];
};

static int add_name(struct run_symtab *t, const char *name, uint32_t *ret)
{
	size_t len = strnlen(name, RUN_SYMTAB_MAX_NAME - 1);

	if (t->names_len + len + 1 > t->names_cap) {
		size_t cap = t->names_cap ? t->names_cap * 2 : 4096;
		char *p;

		while (cap < t->names_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -E2BIG;
		p = realloc(t->names, cap);
		if (!p)
			return -ENOMEM;
		t->names = p;
		t->names_cap = cap;
	}
	memcpy(t->names + t->names_len, name, len);
	t->names[t->names_len + len] = '\0';
	*ret = (uint32_t)t->names_len;
	t->names_len += len + 1;
	return 0;
}

static int add_sym(struct run_symtab *t, uint64_t addr, uint64_t size, const char *name)
{
	struct sym *s;
	int r;

	if (t->n == RUN_SYMTAB_MAX_SYMBOLS)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		s = reallocarray(t->syms, cap, sizeof(*s));
		if (!s)
			return -ENOMEM;
		t->syms = s;
		t->cap = cap;
	}
	s = &t->syms[t->n];
	r = add_name(t, name, &s->name);
	if (r < 0)
		return r;
	s->addr = addr;
	s->size = size;
	t->n++;
	return 0;
}

/* The FUNC and IFUNC symbols of one symbol table section. */
static int read_symbols(struct run_symtab *t, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int type, r;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !sym.st_value ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		r = add_sym(t, sym.st_value, sym.st_size, name);
		if (r < 0)
			return r;
	}
	return 0;
}

static void read_build_id(struct run_symtab *t, Elf_Scn *scn)
{
	static const char hex[] = "0123456789abcdef";
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const unsigned char *desc;

		if (nh.n_type != NT_GNU_BUILD_ID_TYPE || nh.n_namesz != 4 ||
		    memcmp((const char *)data->d_buf + name_off, "GNU", 4) || !nh.n_descsz ||
		    nh.n_descsz > RUN_SYMTAB_MAX_BUILD_ID)
			continue;
		desc = (const unsigned char *)data->d_buf + desc_off;
		for (size_t i = 0; i < nh.n_descsz; i++) {
			t->build_id[2 * i] = hex[desc[i] >> 4];
			t->build_id[2 * i + 1] = hex[desc[i] & 15];
		}
		t->build_id[2 * nh.n_descsz] = '\0';
		return;
	}
}

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* at one address, the symbol with a size first: it is the one kept */
	return (y->size != 0) - (x->size != 0);
}

static int read_elf(struct run_symtab *t, Elf *elf)
{
	bool have_symtab = false;
	Elf_Scn *scn = NULL;
	size_t phnum = 0, k = 0;
	GElf_Shdr sh;
	int r;

	if (elf_kind(elf) != ELF_K_ELF)
		return -ENOEXEC;
	if (elf_getphdrnum(elf, &phnum) == 0) {
		for (size_t i = 0; i < phnum && t->n_segs < SYMTAB_MAX_SEGMENTS; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			t->segs[t->n_segs++] =
				(struct segment){ph.p_offset, ph.p_vaddr, ph.p_filesz};
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			have_symtab = true;
		if (sh.sh_type == SHT_NOTE && !t->build_id[0])
			read_build_id(t, scn);
	}
	/* .symtab has every function .dynsym has and the local ones */
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != (have_symtab ? SHT_SYMTAB : SHT_DYNSYM))
			continue;
		r = read_symbols(t, elf, scn, &sh);
		if (r < 0)
			return r;
	}
	if (!t->n)
		return 0;
	qsort(t->syms, t->n, sizeof(*t->syms), cmp_sym);
	for (size_t i = 1; i < t->n; i++)
		if (t->syms[i].addr != t->syms[k].addr)
			t->syms[++k] = t->syms[i];
	t->n = k + 1;
	return 0;
}

static int load(Elf *elf, struct run_symtab **ret)
{
	struct run_symtab *t;
	int r;

	if (!elf)
		return -ENOEXEC;
	t = calloc(1, sizeof(*t));
	if (!t) {
		elf_end(elf);
		return -ENOMEM;
	}
	r = read_elf(t, elf);
	elf_end(elf);
	if (r < 0) {
		run_symtab_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int run_symtab_load(int fd, struct run_symtab **ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	if ((uint64_t)st.st_size > RUN_SYMTAB_MAX_FILE)
		return -EFBIG;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	return load(elf_begin(fd, ELF_C_READ_MMAP, NULL), ret);
}

int run_symtab_load_mem(const void *buf, size_t len, struct run_symtab **ret)
{
	char *copy;
	int r;

	if (len > RUN_SYMTAB_MAX_FILE)
		return -EFBIG;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	/* libelf wants a writable image; it never writes with ELF_C_READ */
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	r = load(elf_memory(copy, len), ret);
	free(copy);
	return r;
}

struct run_symtab *run_symtab_free(struct run_symtab *t)
{
	if (!t)
		return NULL;
	free(t->syms);
	free(t->names);
	free(t);
	return NULL;
}

const char *run_symtab_lookup(const struct run_symtab *t, uint64_t off)
{
	uint64_t addr = off;
	size_t lo = 0, hi;

	if (!t || !t->n)
		return NULL;
	for (size_t i = 0; i < t->n_segs; i++) {
		const struct segment *s = &t->segs[i];

		if (off >= s->off && off - s->off < s->filesz) {
			addr = off - s->off + s->vaddr;
			break;
		}
	}
	/* the last symbol starting at or before addr */
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	lo--;
	if (t->syms[lo].size && addr - t->syms[lo].addr >= t->syms[lo].size)
		return NULL;
	return t->names + t->syms[lo].name;
}

const char *run_symtab_build_id(const struct run_symtab *t)
{
	return t ? t->build_id : "";
}

size_t run_symtab_count(const struct run_symtab *t)
{
	return t ? t->n : 0;
}

size_t run_symtab_bytes(const struct run_symtab *t)
{
	return t ? sizeof(*t) + t->cap * sizeof(*t->syms) + t->names_cap : 0;
}
