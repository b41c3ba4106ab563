// SPDX-License-Identifier: Apache-2.0
/*
 * Stack columns.  See stack.h.
 *
 * A user stack is resolved once per record (run_pipeline_epoch()) for its
 * three columns.  Its pid comes in the pid namespaces the kernel saw (the
 * initial one and the one below): the number that belongs to ig's own pid
 * namespace is the one /proc understands.
 */
#include "run/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "base/opt.h"
#include "bpf/gadget.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/ksyms.h"
#include "run/pipeline.h"
#include "run/symtab.h"

#define KSTACK_MAP	   "ig_kstack"
#define USTACK_MAP	   "ig_ustack"
#define KSTACK_ANNOTATION  "ebpf.formatter.kstack"
#define BUILD_ID_PARAM	   "collect_build_id"
#define USTACK_PARAM	   "collect_ustack"
#define STACK_COLUMN_WIDTH 32
#define STACK_TEXT_MAX	   (64u << 10)

/* One file-backed mapping of a process. */
struct mapping {
	uint64_t start, end, off;
	dev_t dev;
	ino_t ino;
};

struct proc_maps {
	uint32_t pid;
	uint32_t hash; /* base_addr_hash: changes at exec */
	uint64_t used;
	size_t n;
	struct mapping *m;
};

struct file_syms {
	dev_t dev;
	ino_t ino;
	uint64_t used;
	struct run_symtab *t; /* NULL: the file could not be read (not tried again) */
};

/* What a column needs of its field. */
struct stack_col {
	struct run_stack *s;
	struct run_pipeline *p;
	bool kernel;
	uint32_t off; /* kernel: the stack id */
	/* user: members of struct gadget_user_stack (offsets from the record) */
	uint32_t stack_id, inode, hash, tgid, pid0, pidns0, pid1, pidns1;
	int part;		 /* user: 0 addresses, 1 symbols, 2 build ids */
	struct stack_col *first; /* user: the column holding the record's resolution */
	uint64_t epoch;
	struct base_buf text[3];
};

struct run_stack {
	struct bpf_gadget *g;
	struct run_ksyms *ksyms;
	bool ksyms_tried;
	uint64_t clock;
	size_t n_procs;
	struct proc_maps procs[RUN_STACK_MAX_PROCS];
	size_t n_files;
	struct file_syms files[RUN_STACK_MAX_FILES];
	size_t symtab_bytes;
	uint64_t own_pidns; /* inode of ig's pid namespace, 0 unknown */
	bool build_ids;
	size_t n_cols;
	struct stack_col **cols;
};

int run_stack_new(struct bpf_gadget *g, struct run_stack **ret)
{
	struct run_stack *s = calloc(1, sizeof(*s));
	struct stat st;

	if (!s)
		return -ENOMEM;
	s->g = g;
	if (stat("/proc/self/ns/pid", &st) == 0)
		s->own_pidns = st.st_ino;
	*ret = s;
	return 0;
}

static void proc_done(struct proc_maps *p)
{
	free(p->m);
	memset(p, 0, sizeof(*p));
}

struct run_stack *run_stack_free(struct run_stack *s)
{
	if (!s)
		return NULL;
	run_ksyms_free(s->ksyms);
	for (size_t i = 0; i < s->n_procs; i++)
		proc_done(&s->procs[i]);
	for (size_t i = 0; i < s->n_files; i++)
		run_symtab_free(s->files[i].t);
	for (size_t i = 0; i < s->n_cols; i++) {
		for (int k = 0; k < 3; k++)
			base_buf_done(&s->cols[i]->text[k]);
		free(s->cols[i]);
	}
	free(s->cols);
	free(s);
	return NULL;
}

static uint32_t rd32(const void *rec, size_t size, uint32_t off)
{
	uint32_t v = 0;

	if ((size_t)off + sizeof(v) <= size)
		memcpy(&v, (const char *)rec + off, sizeof(v));
	return v;
}

static uint64_t rd64(const void *rec, size_t size, uint32_t off)
{
	uint64_t v = 0;

	if ((size_t)off + sizeof(v) <= size)
		memcpy(&v, (const char *)rec + off, sizeof(v));
	return v;
}

/* The frames of stack id in the map called name; the count, 0 when it is gone. */
static size_t read_frames(struct run_stack *s, const char *name, uint32_t id,
			  uint64_t frames[RUN_STACK_MAX_DEPTH])
{
	int fd = bpf_gadget_map_fd(s->g, name);
	size_t n = 0;

	if (fd < 0)
		return 0;
	memset(frames, 0, RUN_STACK_MAX_DEPTH * sizeof(*frames));
	if (bpf_map_lookup_elem(fd, &id, frames) < 0)
		return 0;
	while (n < RUN_STACK_MAX_DEPTH && frames[n])
		n++;
	return n;
}

/* ---- kernel stacks ---- */

static int kstack_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	struct stack_col *c = ctx;
	struct run_stack *s = c->s;
	uint64_t frames[RUN_STACK_MAX_DEPTH];
	size_t n;
	int r = 0;

	n = read_frames(s, KSTACK_MAP, rd32(rec, size, c->off), frames);
	if (n && !s->ksyms_tried) {
		s->ksyms_tried = true;
		if (run_ksyms_load(NULL, &s->ksyms) < 0)
			base_log_debug(
				"stack: /proc/kallsyms cannot be read: kernel frames unnamed");
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *name = run_ksyms_lookup(s->ksyms, frames[i]);

		r = base_buf_printf(out, "%s; ", name ? name : "[unknown]");
	}
	return r < 0 ? r : 0;
}

/* ---- user stacks: process maps ---- */

/* "start-end perms offset major:minor inode path" lines, file-backed ones kept. */
static int parse_maps(const char *text, struct proc_maps *pm)
{
	size_t cap = 0;

	for (const char *l = text; l && *l && pm->n < RUN_STACK_MAX_MAPPINGS;) {
		const char *nl = strchr(l, '\n');
		unsigned long long start, end, off, ino;
		unsigned int maj, min;

		if (sscanf(l, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off, &maj, &min,
			   &ino) == 6 &&
		    ino && end > start) {
			if (pm->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct mapping *m = reallocarray(pm->m, ncap, sizeof(*m));

				if (!m)
					return -ENOMEM;
				pm->m = m;
				cap = ncap;
			}
			pm->m[pm->n++] =
				(struct mapping){start, end, off, makedev(maj, min), (ino_t)ino};
		}
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* The cached maps of pid, read again after an exec (hash) or when forced. */
static struct proc_maps *proc_get(struct run_stack *s, uint32_t pid, uint32_t hash, bool reread)
{
	struct proc_maps *pm = NULL;
	char path[64], *text = NULL;
	size_t len = 0, i;

	for (i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == pid)
			pm = &s->procs[i];
	if (pm && pm->hash == hash && !reread) {
		pm->used = ++s->clock;
		return pm;
	}
	if (!pm && s->n_procs < RUN_STACK_MAX_PROCS) {
		pm = &s->procs[s->n_procs++];
	} else if (!pm) {
		/* the least recently used goes */
		pm = &s->procs[0];
		for (i = 1; i < s->n_procs; i++)
			if (s->procs[i].used < pm->used)
				pm = &s->procs[i];
	}
	proc_done(pm);
	pm->pid = pid;
	pm->hash = hash;
	pm->used = ++s->clock;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	if (base_file_read(path, RUN_STACK_MAX_MAPS_BYTES, &text, &len) == 0)
		parse_maps(text, pm);
	free(text);
	return pm;
}

/* The mapping holding addr; /proc/PID/maps lists them by address. */
static const struct mapping *mapping_of(const struct proc_maps *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->m[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < pm->m[lo - 1].end)
		return &pm->m[lo - 1];
	return NULL;
}

/* Makes room under the bounds: least recently used tables go first. */
static void files_trim(struct run_stack *s, size_t want)
{
	while (s->n_files && (s->n_files >= RUN_STACK_MAX_FILES ||
			      s->symtab_bytes + want > RUN_STACK_MAX_SYMTAB_BYTES)) {
		size_t old = 0;

		for (size_t i = 1; i < s->n_files; i++)
			if (s->files[i].used < s->files[old].used)
				old = i;
		s->symtab_bytes -= run_symtab_bytes(s->files[old].t);
		run_symtab_free(s->files[old].t);
		s->files[old] = s->files[--s->n_files];
	}
}

/* The symbols of the file behind mapping m of process pid; NULL if unreadable. */
static const struct run_symtab *file_get(struct run_stack *s, uint32_t pid, const struct mapping *m)
{
	struct run_symtab *t = NULL;
	char path[96];
	int fd;

	for (size_t i = 0; i < s->n_files; i++) {
		if (s->files[i].dev == m->dev && s->files[i].ino == m->ino) {
			s->files[i].used = ++s->clock;
			return s->files[i].t;
		}
	}
	/* the mapped file itself, wherever (and whether) its path still leads */
	snprintf(path, sizeof(path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, pid, m->start,
		 m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (run_symtab_load(fd, &t) < 0)
			t = NULL;
		close(fd);
	}
	files_trim(s, run_symtab_bytes(t));
	s->files[s->n_files] = (struct file_syms){m->dev, m->ino, ++s->clock, t};
	s->n_files++;
	s->symtab_bytes += run_symtab_bytes(t);
	return t;
}

/* ---- user stacks: a record ---- */

/* The pid /proc knows the task by, from the numbers the kernel gave. */
static uint32_t proc_pid(const struct run_stack *s, const struct stack_col *c, const void *rec,
			 size_t size)
{
	uint32_t ns0 = rd32(rec, size, c->pidns0), ns1 = rd32(rec, size, c->pidns1);

	if (s->own_pidns && ns1 && s->own_pidns == ns1 && rd32(rec, size, c->pid1))
		return rd32(rec, size, c->pid1);
	if (!s->own_pidns || s->own_pidns == ns0)
		return rd32(rec, size, c->pid0);
	return rd32(rec, size, c->tgid);
}

static int resolve_user(struct stack_col *c, const void *rec, size_t size)
{
	struct run_stack *s = c->s;
	uint64_t frames[RUN_STACK_MAX_DEPTH];
	struct proc_maps *pm = NULL;
	bool reread = false;
	uint32_t pid;
	size_t n;
	int r = 0;

	for (int k = 0; k < 3; k++) {
		c->text[k].len = 0;
		base_buf_puts(&c->text[k], "");
	}
	if (!rd64(rec, size, c->inode))
		return 0; /* not collected (collect_ustack off) */
	n = read_frames(s, USTACK_MAP, rd32(rec, size, c->stack_id), frames);
	pid = proc_pid(s, c, rec, size);
	if (n && pid)
		pm = proc_get(s, pid, rd32(rec, size, c->hash), false);
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct mapping *m = pm ? mapping_of(pm, frames[i]) : NULL;
		const struct run_symtab *t = NULL;
		const char *name = NULL;
		uint64_t off = 0;

		/* a library loaded since the maps were read: read them again, once */
		if (pm && !m && !reread) {
			reread = true;
			pm = proc_get(s, pid, rd32(rec, size, c->hash), true);
			m = mapping_of(pm, frames[i]);
		}
		if (m) {
			off = frames[i] - m->start + m->off;
			t = file_get(s, pid, m);
			name = run_symtab_lookup(t, off);
		}
		r = base_buf_printf(&c->text[0], "0x%016" PRIx64 "; ", frames[i]);
		if (r >= 0 && name)
			r = base_buf_printf(&c->text[1], "%s; ", name);
		else if (r >= 0)
			r = base_buf_printf(&c->text[1], "0x%" PRIx64 "; ", frames[i]);
		if (r >= 0 && s->build_ids) {
			const char *id = t ? run_symtab_build_id(t) : "";

			if (*id)
				r = base_buf_printf(&c->text[2], "%s +%" PRIx64 "; ", id, off);
			else
				r = base_buf_printf(&c->text[2], "%" PRIx64 "; ", frames[i]);
		}
	}
	return r < 0 ? r : 0;
}

static int ustack_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	struct stack_col *c = ctx;
	struct stack_col *f = c->first;
	uint64_t epoch = run_pipeline_epoch(f->p);
	int r;

	if (f->epoch != epoch) {
		r = resolve_user(f, rec, size);
		if (r < 0)
			return r;
		f->epoch = epoch;
	}
	if (!f->text[c->part].len)
		return 0;
	r = base_buf_append(out, f->text[c->part].data, f->text[c->part].len);
	return r < 0 ? r : 0;
}

/* ---- columns ---- */

static struct stack_col *new_col(struct run_stack *s, struct run_pipeline *p)
{
	struct stack_col **grown, *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	grown = reallocarray(s->cols, s->n_cols + 1, sizeof(*grown));
	if (!grown) {
		free(c);
		return NULL;
	}
	s->cols = grown;
	s->cols[s->n_cols++] = c;
	c->s = s;
	c->p = p;
	for (int k = 0; k < 3; k++)
		c->text[k] = (struct base_buf)BASE_BUF_INIT(STACK_TEXT_MAX);
	return c;
}

/* The offset of member name of the struct at index parent, or -1. */
static long member_off(const struct bpf_layout *l, size_t parent, const char *name)
{
	for (size_t i = parent + 1; i < l->n_fields && l->fields[i].depth > l->fields[parent].depth;
	     i++)
		if (l->fields[i].parent == (int)parent && !strcmp(l->fields[i].name, name) &&
		    l->fields[i].size == 4)
			return (long)l->fields[i].offset;
	return -1;
}

static long member_off64(const struct bpf_layout *l, size_t parent, const char *name)
{
	for (size_t i = parent + 1; i < l->n_fields && l->fields[i].depth > l->fields[parent].depth;
	     i++)
		if (l->fields[i].parent == (int)parent && !strcmp(l->fields[i].name, name) &&
		    l->fields[i].size == 8)
			return (long)l->fields[i].offset;
	return -1;
}

static int add_kstack(struct run_stack *s, struct run_pipeline *p, const struct bpf_layout_field *f,
		      const struct oci_metadata_ds *md, char *err, size_t errlen)
{
	const char *target = oci_metadata_field_annotation(md, f->full_name, KSTACK_ANNOTATION);
	size_t n = strlen(f->full_name);
	char name[BPF_LAYOUT_MAX_NAME * 2];
	struct run_column_def def = {0};
	struct stack_col *c;

	if (target && *target)
		snprintf(name, sizeof(name), "%s", target);
	else if (n > 4 && !strcmp(f->full_name + n - 4, "_raw"))
		snprintf(name, sizeof(name), "%.*s", (int)(n - 4), f->full_name);
	else
		return 0; /* as Inspektor Gadget: no name to give, the id stays as it is */
	if (f->size != 4)
		return 0;
	c = new_col(s, p);
	if (!c)
		return -ENOMEM;
	c->kernel = true;
	c->off = f->offset;
	def.name = name;
	def.description = "Kernel stack, innermost frame first";
	def.width = STACK_COLUMN_WIDTH;
	def.text = kstack_text;
	def.ctx = c;
	return run_pipeline_add_column_after(p, &def, f->full_name);
}

static int add_ustack(struct run_stack *s, struct run_pipeline *p, const struct bpf_layout *l,
		      size_t i, char *err, size_t errlen)
{
	static const char *const parts[] = {"addresses", "symbols", "buildid"};
	static const char *const descs[] = {
		"User stack's addresses, innermost frame first",
		"User stack's functions (or addresses where none is known)",
		"User stack's build ids and offsets (with --collect-build-id)",
	};
	const struct bpf_layout_field *f = &l->fields[i];
	const struct bpf_gadget_param *ustack_param;
	struct stack_col *first = NULL;
	char name[BPF_LAYOUT_MAX_NAME * 2];
	bool collected = true;
	long offs[8];
	static const char *const members[] = {"stack_id",    "base_addr_hash", "tgid_level0",
					      "pid_level0",  "pidns_level0",   "pid_level1",
					      "pidns_level1"};

	for (size_t k = 0; k < 7; k++) {
		offs[k] = member_off(l, i, members[k]);
		if (offs[k] < 0)
			return 0; /* not the API's struct: left as numbers */
	}
	offs[7] = member_off64(l, i, "inode");
	if (offs[7] < 0)
		return 0;
	/*
	 * Without collect_ustack the gadget stores no stack: the columns are
	 * empty for every record, which a client rendering the records
	 * elsewhere can print without this host's processes (run/remote.h).
	 */
	ustack_param = bpf_gadget_param_find(s->g, USTACK_PARAM);
	if (!ustack_param || base_opt_parse_bool(ustack_param->value ? ustack_param->value
								     : ustack_param->default_value,
						 &collected) < 0)
		collected = true;
	for (int k = 0; k < 3; k++) {
		struct run_column_def def = {0};
		struct stack_col *c = new_col(s, p);
		int r;

		if (!c)
			return -ENOMEM;
		c->stack_id = (uint32_t)offs[0];
		c->hash = (uint32_t)offs[1];
		c->tgid = (uint32_t)offs[2];
		c->pid0 = (uint32_t)offs[3];
		c->pidns0 = (uint32_t)offs[4];
		c->pid1 = (uint32_t)offs[5];
		c->pidns1 = (uint32_t)offs[6];
		c->inode = (uint32_t)offs[7];
		c->part = k;
		c->first = first ? first : c;
		first = c->first;
		snprintf(name, sizeof(name), "%s.%s", f->full_name, parts[k]);
		def.name = name;
		def.description = descs[k];
		def.hidden_columns = true; /* as Inspektor Gadget: in JSON, --fields in a table */
		def.width = STACK_COLUMN_WIDTH;
		def.text = ustack_text;
		def.ctx = c;
		def.source = collected ? RUN_COLUMN_SOURCE_RECORD : RUN_COLUMN_SOURCE_CONSTANT;
		r = run_pipeline_add_column_after(p, &def, f->full_name);
		if (r < 0)
			return r;
	}
	return 0;
}

int run_stack_add_columns(struct run_stack *s, struct run_pipeline *p, const struct bpf_layout *l,
			  const struct oci_metadata_ds *md, char *err, size_t errlen)
{
	const struct bpf_gadget_param *bid;
	int r = 0;

	if (!s || !p || !l)
		return -EINVAL;
	bid = bpf_gadget_param_find(s->g, BUILD_ID_PARAM);
	s->build_ids = false;
	if (bid &&
	    base_opt_parse_bool(bid->value ? bid->value : bid->default_value, &s->build_ids) < 0)
		s->build_ids = false;
	for (size_t i = 0; i < l->n_fields && r >= 0; i++) {
		const struct bpf_layout_field *f = &l->fields[i];

		if (f->special == BPF_LAYOUT_SPECIAL_KERNEL_STACK && f->kind != BPF_LAYOUT_STRUCT)
			r = add_kstack(s, p, f, md, err, errlen);
		else if (f->special == BPF_LAYOUT_SPECIAL_USER_STACK &&
			 f->kind == BPF_LAYOUT_STRUCT)
			r = add_ustack(s, p, l, i, err, errlen);
	}
	return r;
}
