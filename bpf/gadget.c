// SPDX-License-Identifier: Apache-2.0
/*
 * The gadget runtime.  See gadget.h.
 *
 * Opening checks the ELF (bpf/elf.c), lets libbpf parse it, and then reads
 * everything the gadget declares from the object's BTF: the data sources
 * from the names of marker variables (gadget_tracer_<name>___<map>___<struct>
 * and friends) or from the .tracers/.mapiters section forms, and the params
 * from gadget_param_<var> markers next to const volatile globals in .rodata.
 * Params and knobs such as gadget_ringbuf_wakeup_threshold are written into
 * the .rodata map's initial value before load, which is how libbpf skeletons
 * do it too.
 *
 * The streams (bpf/tracer.c), snapshots (bpf/snapshot.c) and hook handling
 * (bpf/hook.c) live in their own files; this one ties them to a gadget.
 */
#include "bpf/gadget.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "bpf/diag.h"
#include "bpf/elf.h"
#include "bpf/hook.h"
#include "bpf/netns.h"
#include "bpf/param.h"
#include "bpf/snapshot.h"
#include "bpf/sockfilter.h"
#include "bpf/tracer.h"

#define GADGET_ERROR_LEN 512
/* Longest identifier considered when splitting marker names. */
#define GADGET_MAX_IDENT 256
/* Separators ("___") considered in one marker name. */
#define GADGET_MAX_SEPS 16
/* Entries given to maps that declare max_entries 0. */
#define GADGET_DEFAULT_MAX_ENTRIES 10240
/*
 * Verifier log kept for a failed load.  The kernel keeps the tail of a
 * longer log, which is where the error is.
 */
#define GADGET_VERIFIER_LOG_BYTES (1u << 20)
/* The mount namespace filter map made by bpf_gadget_mntns_filter_enable(). */
#define GADGET_MNTNS_FILTER_ENTRIES 8192

#define MNTNS_FILTER_MAP     "gadget_mntns_filter_map"
#define MNTNS_FILTER_FLAG    "gadget_filter_by_mntns"
#define WAKEUP_THRESHOLD_VAR "gadget_ringbuf_wakeup_threshold"

/* Where a .rodata variable lives: its map and its bytes in the initial value. */
struct rodata_var {
	struct bpf_map *map;
	uint32_t offset;
	uint32_t size;
	uint32_t type_id;
};

struct gadget_param_priv {
	struct bpf_param_desc desc;
	struct rodata_var var;
};

/* Context of one tracer's records: the gadget and the data source. */
struct gadget_sink {
	struct bpf_gadget *g;
	const struct bpf_gadget_ds *ds;
	int tracer_idx;
};

struct bpf_gadget {
	char *name;
	struct bpf_object *obj;
	/*
	 * Our own zeroed buffer for the verifier log, given to libbpf at open:
	 * it is only touched when a load fails, and tools like valgrind then
	 * see initialised memory rather than a buffer only the kernel wrote.
	 */
	char *log_buf;
	uint32_t ringbuf_min;

	size_t n_ds;
	struct bpf_gadget_ds ds[BPF_GADGET_MAX_DS];
	struct gadget_sink sinks[BPF_GADGET_MAX_DS];
	struct bpf_link *iter_links[BPF_GADGET_MAX_DS][BPF_GADGET_MAX_ITER_PROGS];

	/* grown as GADGET_PARAM markers are found, up to BPF_GADGET_MAX_PARAMS */
	size_t n_params, cap_params;
	struct bpf_gadget_param *params;
	struct gadget_param_priv *param_priv;

	size_t n_uprobes;
	struct bpf_gadget_uprobe *uprobes;

	bool loaded;
	bool attached;
	struct bpf_map *mntns_map; /* set by bpf_gadget_mntns_filter_enable() */
	int mntns_fd;

	size_t n_links;
	struct bpf_link **links;
	struct bpf_sockfilter *sockfilter; /* socket filter programs, once attached */
	size_t n_socket_progs;
	struct bpf_tracer *tracer;
	bpf_gadget_record_fn record_fn;
	void *record_ctx;

	char error[GADGET_ERROR_LEN];
	char warning[GADGET_ERROR_LEN]; /* programs left unattached, see skippable() */
};

static int set_error(struct bpf_gadget *g, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_error(struct bpf_gadget *g, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(g->error, sizeof(g->error), fmt, ap);
	va_end(ap);
	base_log_debug("bpf: %s: %s", g->name ? g->name : "gadget", g->error);
	return err;
}

static const char *btf_name(const struct btf *btf, uint32_t off)
{
	const char *s = btf__name_by_offset(btf, off);

	return s ? s : "";
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_rodata_sec(const char *sec)
{
	return strcmp(sec, ".rodata") == 0 || starts_with(sec, ".rodata.");
}

/* Skips typedefs and modifiers; 0 when the chain is broken or too long. */
static uint32_t skip_mods(const struct btf *btf, uint32_t id)
{
	for (int i = 0; i < 32; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return 0;
		if (!btf_is_typedef(t) && !btf_is_mod(t))
			return id;
		id = t->type;
	}
	return 0;
}

/* Calls fn for every variable of every DATASEC; stops at a non-zero return. */
typedef int (*var_fn)(struct bpf_gadget *g, const char *sec, const char *name,
		      const struct btf_type *var, uint32_t var_id,
		      const struct btf_var_secinfo *vsi, void *ctx);

static int for_each_var(struct bpf_gadget *g, var_fn fn, void *ctx)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	uint32_t n = btf__type_cnt(btf);

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_var_secinfo *vsi;
		const char *sec;

		if (!t || !btf_is_datasec(t))
			continue;
		sec = btf_name(btf, t->name_off);
		vsi = btf_var_secinfos(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, vsi++) {
			const struct btf_type *v = btf__type_by_id(btf, vsi->type);
			int err;

			if (!v || !btf_is_var(v))
				continue;
			err = fn(g, sec, btf_name(btf, v->name_off), v, vsi->type, vsi, ctx);
			if (err)
				return err;
		}
	}
	return 0;
}

struct find_var_ctx {
	const char *name;
	struct rodata_var *out;
	bool found;
};

static int find_rodata_cb(struct bpf_gadget *g, const char *sec, const char *name,
			  const struct btf_type *var, uint32_t var_id,
			  const struct btf_var_secinfo *vsi, void *ctx)
{
	struct find_var_ctx *c = ctx;
	struct bpf_map *map;
	size_t size = 0;

	if (!is_rodata_sec(sec) || strcmp(name, c->name) != 0)
		return 0;
	map = bpf_object__find_map_by_name(g->obj, sec);
	if (!map || !bpf_map__initial_value(map, &size))
		return 0;
	if (vsi->offset > size || vsi->size > size - vsi->offset)
		return -EINVAL;
	c->out->map = map;
	c->out->offset = vsi->offset;
	c->out->size = vsi->size;
	c->out->type_id = var->type;
	c->found = true;
	return 1;
}

/* Finds a variable of .rodata by name: 0, -ENOENT, or -EINVAL if corrupt. */
static int find_rodata(struct bpf_gadget *g, const char *name, struct rodata_var *out)
{
	struct find_var_ctx c = {.name = name, .out = out};
	int err = for_each_var(g, find_rodata_cb, &c);

	if (err < 0)
		return err;
	return c.found ? 0 : -ENOENT;
}

/* Replaces size bytes of a .rodata variable before load. */
static int rodata_write(const struct rodata_var *v, const void *bytes, uint32_t size)
{
	const void *cur;
	size_t total = 0;
	void *copy;
	int err;

	cur = bpf_map__initial_value(v->map, &total);
	if (!cur || v->offset > total || size > total - v->offset || size > v->size)
		return -EINVAL;
	copy = malloc(total);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, cur, total);
	memcpy((char *)copy + v->offset, bytes, size);
	err = bpf_map__set_initial_value(v->map, copy, total);
	free(copy);
	return err;
}

/* Writes an unsigned value into an integer variable of .rodata. */
static int rodata_write_uint(const struct rodata_var *v, uint64_t value)
{
	uint8_t u8 = (uint8_t)value;
	uint16_t u16 = (uint16_t)value;
	uint32_t u32 = (uint32_t)value;

	switch (v->size) {
	case 1:
		return rodata_write(v, &u8, 1);
	case 2:
		return rodata_write(v, &u16, 2);
	case 4:
		return rodata_write(v, &u32, 4);
	case 8:
		return rodata_write(v, &value, 8);
	default:
		return -EINVAL;
	}
}

/* ---- data source discovery ---- */

/* Offsets of every "___" in s (overlapping ones included). */
static size_t find_seps(const char *s, size_t *pos, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s[i] && s[i + 1] && s[i + 2] && n < max; i++)
		if (s[i] == '_' && s[i + 1] == '_' && s[i + 2] == '_')
			pos[n++] = i;
	return n;
}

static bool copy_part(char *dst, const char *s, size_t from, size_t to)
{
	if (to <= from || to - from >= GADGET_MAX_IDENT)
		return false;
	memcpy(dst, s + from, to - from);
	dst[to - from] = '\0';
	return true;
}

static uint32_t find_struct(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (id <= 0)
		id = btf__find_by_name_kind(btf, name, BTF_KIND_UNION);
	return id > 0 ? (uint32_t)id : 0;
}

static int add_ds(struct bpf_gadget *g, const char *name, enum bpf_gadget_ds_type type,
		  struct bpf_gadget_ds **ret)
{
	struct bpf_gadget_ds *ds;

	for (size_t i = 0; i < g->n_ds; i++)
		if (strcmp(g->ds[i].name, name) == 0)
			return set_error(g, -EINVAL, "data source '%s' is defined twice", name);
	if (g->n_ds >= BPF_GADGET_MAX_DS)
		return set_error(g, -E2BIG, "too many data sources (at most %d)",
				 BPF_GADGET_MAX_DS);
	ds = &g->ds[g->n_ds];
	memset(ds, 0, sizeof(*ds));
	ds->name = strdup(name);
	if (!ds->name)
		return -ENOMEM;
	ds->type = type;
	g->n_ds++;
	*ret = ds;
	return 0;
}

static int layout_error(struct bpf_gadget *g, int err, const char *what, const char *ds,
			const char *type)
{
	if (err == -E2BIG)
		return set_error(g, err, "%s '%s': type '%s' is too large or too deep for a record",
				 what, ds, type);
	if (err == -ENOMEM)
		return err;
	return set_error(g, err, "%s '%s': type '%s' cannot describe a record (malformed BTF?)",
			 what, ds, type);
}

static int add_tracer(struct bpf_gadget *g, const char *name, struct bpf_map *map,
		      uint32_t struct_id)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	enum bpf_map_type mt = bpf_map__type(map);
	struct bpf_gadget_ds *ds;
	int err;

	if (mt != BPF_MAP_TYPE_RINGBUF && mt != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return set_error(g, -EINVAL,
				 "tracer '%s': map '%s' is not a ring buffer or perf event array",
				 name, bpf_map__name(map));
	err = add_ds(g, name, BPF_GADGET_DS_TRACER, &ds);
	if (err)
		return err;
	ds->perf_array = mt == BPF_MAP_TYPE_PERF_EVENT_ARRAY;
	ds->map_name = strdup(bpf_map__name(map));
	if (!ds->map_name)
		return -ENOMEM;
	err = bpf_layout_from_btf(btf, struct_id, &ds->layout);
	if (err)
		return layout_error(g, err, "tracer", name,
				    btf_name(btf, btf__type_by_id(btf, struct_id)->name_off));
	return 0;
}

static int add_mapiter(struct bpf_gadget *g, const char *name, struct bpf_map *map)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	enum bpf_map_type mt = bpf_map__type(map);
	uint32_t kid = bpf_map__btf_key_type_id(map);
	uint32_t vid = bpf_map__btf_value_type_id(map);
	struct bpf_gadget_ds *ds;
	int err;

	if (mt != BPF_MAP_TYPE_HASH && mt != BPF_MAP_TYPE_LRU_HASH)
		return set_error(g, -EINVAL, "map iterator '%s': map '%s' is not a hash map", name,
				 bpf_map__name(map));
	if (!kid || !vid)
		return set_error(g, -EINVAL,
				 "map iterator '%s': map '%s' has no BTF key and value types "
				 "(declare them with __type(key, ...) and __type(value, ...))",
				 name, bpf_map__name(map));
	err = add_ds(g, name, BPF_GADGET_DS_MAPITER, &ds);
	if (err)
		return err;
	ds->map_name = strdup(bpf_map__name(map));
	if (!ds->map_name)
		return -ENOMEM;
	err = bpf_layout_from_btf_kv(btf, kid, vid, &ds->value_offset, &ds->layout);
	if (err)
		return layout_error(g, err, "map iterator", name, bpf_map__name(map));
	ds->key_size = bpf_map__key_size(map);
	ds->value_size = bpf_map__value_size(map);
	if (ds->value_offset < ds->key_size ||
	    (uint64_t)ds->value_offset + ds->value_size > ds->layout->size)
		return set_error(g, -EINVAL,
				 "map iterator '%s': map '%s' sizes disagree with its BTF types",
				 name, bpf_map__name(map));
	return 0;
}

/* gadget_tracer_<name>___<map>___<struct>: the first split naming a real map and struct. */
static int parse_tracer_marker(struct bpf_gadget *g, const char *rest)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	char name[GADGET_MAX_IDENT], map[GADGET_MAX_IDENT], type[GADGET_MAX_IDENT];
	size_t pos[GADGET_MAX_SEPS], n = find_seps(rest, pos, GADGET_MAX_SEPS);
	size_t len = strlen(rest);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			struct bpf_map *m;
			uint32_t sid;

			if (!copy_part(name, rest, 0, pos[i]) ||
			    !copy_part(map, rest, pos[i] + 3, pos[j]) ||
			    !copy_part(type, rest, pos[j] + 3, len))
				continue;
			m = bpf_object__find_map_by_name(g->obj, map);
			sid = find_struct(btf, type);
			if (m && sid)
				return add_tracer(g, name, m, sid);
		}
	}
	if (n >= 2 && copy_part(name, rest, 0, pos[0]) &&
	    copy_part(map, rest, pos[0] + 3, pos[1]) && copy_part(type, rest, pos[1] + 3, len)) {
		if (!bpf_object__find_map_by_name(g->obj, map))
			return set_error(g, -EINVAL, "tracer '%s': no map named '%s'", name, map);
		return set_error(
			g, -EINVAL,
			"tracer '%s': no struct %s in the BTF (is it used by the program?)", name,
			type);
	}
	return set_error(
		g, -EINVAL,
		"malformed tracer marker 'gadget_tracer_%.200s' (want <name>___<map>___<struct>)",
		rest);
}

static int parse_mapiter_marker(struct bpf_gadget *g, const char *rest)
{
	char name[GADGET_MAX_IDENT], map[GADGET_MAX_IDENT];
	size_t pos[GADGET_MAX_SEPS], n = find_seps(rest, pos, GADGET_MAX_SEPS);
	size_t len = strlen(rest);

	for (size_t i = 0; i < n; i++) {
		struct bpf_map *m;

		if (!copy_part(name, rest, 0, pos[i]) || !copy_part(map, rest, pos[i] + 3, len))
			continue;
		m = bpf_object__find_map_by_name(g->obj, map);
		if (m)
			return add_mapiter(g, name, m);
	}
	if (n >= 1 && copy_part(name, rest, 0, pos[0]) && copy_part(map, rest, pos[0] + 3, len))
		return set_error(g, -EINVAL, "map iterator '%s': no map named '%s'", name, map);
	return set_error(
		g, -EINVAL,
		"malformed map iterator marker 'gadget_mapiter_%.200s' (want <name>___<map>)",
		rest);
}

static bool is_iter_prog(const struct bpf_program *p)
{
	return bpf_hook_kind(bpf_program__section_name(p), NULL) == BPF_HOOK_ITER;
}

/* Splits s into 1 to (max - n) existing iter program names, appended to progs. */
static bool split_progs(struct bpf_gadget *g, const char *s, char progs[][GADGET_MAX_IDENT],
			size_t n, size_t max, size_t *ret_n)
{
	size_t pos[GADGET_MAX_SEPS], ns = find_seps(s, pos, GADGET_MAX_SEPS);
	size_t len = strlen(s);
	struct bpf_program *p;

	if (n >= max)
		return false;
	if (copy_part(progs[n], s, 0, len)) {
		p = bpf_object__find_program_by_name(g->obj, progs[n]);
		if (p && is_iter_prog(p)) {
			*ret_n = n + 1;
			return true;
		}
	}
	for (size_t i = 0; i < ns; i++) {
		if (!copy_part(progs[n], s, 0, pos[i]))
			continue;
		p = bpf_object__find_program_by_name(g->obj, progs[n]);
		if (p && is_iter_prog(p) &&
		    split_progs(g, s + pos[i] + 3, progs, n + 1, max, ret_n))
			return true;
	}
	return false;
}

static int add_iter(struct bpf_gadget *g, const char *name, uint32_t type_id,
		    char progs[][GADGET_MAX_IDENT], size_t n_progs)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	struct bpf_gadget_ds *ds;
	const char *sec, *kind;
	int err;

	err = add_ds(g, name, BPF_GADGET_DS_ITER, &ds);
	if (err)
		return err;
	for (size_t i = 0; i < n_progs; i++) {
		ds->progs[i] = strdup(progs[i]);
		if (!ds->progs[i])
			return -ENOMEM;
		ds->n_progs = i + 1;
	}
	sec = bpf_program__section_name(bpf_object__find_program_by_name(g->obj, progs[0]));
	kind = strchr(sec, '/');
	ds->iter_kind = strdup(kind ? kind + 1 : "");
	if (!ds->iter_kind)
		return -ENOMEM;
	err = bpf_layout_from_btf(btf, type_id, &ds->layout);
	if (err)
		return layout_error(g, err, "iterator", name,
				    btf_name(btf, btf__type_by_id(btf, type_id)->name_off));
	if (ds->layout->size == 0)
		return set_error(g, -EINVAL, "iterator '%s': its record type is empty", name);
	return 0;
}

/* gadget_iter_<name>___<type>___<prog>[___<prog>...] */
static int parse_iter_marker(struct bpf_gadget *g, const char *rest)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	char name[GADGET_MAX_IDENT], type[GADGET_MAX_IDENT];
	char progs[BPF_GADGET_MAX_ITER_PROGS][GADGET_MAX_IDENT];
	size_t pos[GADGET_MAX_SEPS], n = find_seps(rest, pos, GADGET_MAX_SEPS);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			size_t n_progs = 0;
			uint32_t tid;

			if (!copy_part(name, rest, 0, pos[i]) ||
			    !copy_part(type, rest, pos[i] + 3, pos[j]))
				continue;
			tid = find_struct(btf, type);
			if (tid && split_progs(g, rest + pos[j] + 3, progs, 0,
					       BPF_GADGET_MAX_ITER_PROGS, &n_progs))
				return add_iter(g, name, tid, progs, n_progs);
		}
	}
	if (n >= 2 && copy_part(name, rest, 0, pos[0]) &&
	    copy_part(type, rest, pos[0] + 3, pos[1])) {
		if (!find_struct(btf, type))
			return set_error(g, -EINVAL,
					 "iterator '%s': no struct %s in the BTF (is it used by "
					 "the program?)",
					 name, type);
		return set_error(g, -EINVAL,
				 "iterator '%s': programs '%.200s' are not all SEC(\"iter/...\") "
				 "programs of this object",
				 name, rest + pos[1] + 3);
	}
	return set_error(
		g, -EINVAL,
		"malformed iterator marker 'gadget_iter_%.200s' (want <name>___<type>___<program>)",
		rest);
}

/* Member name of a .tracers/.mapiters struct -> the type its pointer points to. */
static uint32_t member_pointee(const struct btf *btf, const struct btf_type *st, const char *name)
{
	const struct btf_member *m = btf_members(st);

	for (uint16_t i = 0; i < btf_vlen(st); i++, m++) {
		const struct btf_type *t;
		uint32_t id;

		if (strcmp(btf_name(btf, m->name_off), name) != 0)
			continue;
		id = skip_mods(btf, m->type);
		t = id ? btf__type_by_id(btf, id) : NULL;
		if (!t || !btf_is_ptr(t))
			return 0;
		return skip_mods(btf, t->type);
	}
	return 0;
}

struct map_by_type_ctx {
	uint32_t type_id;
	const char *found;
};

static int map_by_type_cb(struct bpf_gadget *g, const char *sec, const char *name,
			  const struct btf_type *var, uint32_t var_id,
			  const struct btf_var_secinfo *vsi, void *ctx)
{
	struct map_by_type_ctx *c = ctx;

	if (strcmp(sec, ".maps") != 0)
		return 0;
	if (skip_mods(bpf_object__btf(g->obj), var->type) != c->type_id)
		return 0;
	c->found = name;
	return 1;
}

/* The map whose .maps definition has BTF type type_id (what __type(map, m) points to). */
static struct bpf_map *map_by_type(struct bpf_gadget *g, uint32_t type_id)
{
	struct map_by_type_ctx c = {.type_id = type_id};

	if (!type_id || for_each_var(g, map_by_type_cb, &c) <= 0 || !c.found)
		return NULL;
	return bpf_object__find_map_by_name(g->obj, c.found);
}

static int parse_section_form(struct bpf_gadget *g, const char *sec, const char *name,
			      const struct btf_type *var)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	bool tracer = strcmp(sec, ".tracers") == 0;
	const char *what = tracer ? "tracer" : "map iterator";
	uint32_t id = skip_mods(btf, var->type);
	const struct btf_type *st = id ? btf__type_by_id(btf, id) : NULL;
	struct bpf_map *map;
	uint32_t type_id = 0;

	if (!st || !btf_is_struct(st))
		return set_error(g, -EINVAL, "%s '%s' in section %s is not a struct", what, name,
				 sec);
	map = map_by_type(g, member_pointee(btf, st, "map"));
	if (!map)
		return set_error(g, -EINVAL,
				 "%s '%s' in section %s: __type(map, ...) does not name a map of "
				 "this object",
				 what, name, sec);
	if (!tracer)
		return add_mapiter(g, name, map);
	type_id = member_pointee(btf, st, "type");
	st = type_id ? btf__type_by_id(btf, type_id) : NULL;
	if (!st || !btf_is_composite(st))
		return set_error(
			g, -EINVAL,
			"tracer '%s' in section .tracers: __type(type, ...) is not a struct", name);
	return add_tracer(g, name, map, type_id);
}

static int discover_ds_cb(struct bpf_gadget *g, const char *sec, const char *name,
			  const struct btf_type *var, uint32_t var_id,
			  const struct btf_var_secinfo *vsi, void *ctx)
{
	if (strcmp(sec, ".tracers") == 0 || strcmp(sec, ".mapiters") == 0)
		return parse_section_form(g, sec, name, var);
	if (starts_with(name, "gadget_tracer_"))
		return parse_tracer_marker(g, name + strlen("gadget_tracer_"));
	if (starts_with(name, "gadget_mapiter_"))
		return parse_mapiter_marker(g, name + strlen("gadget_mapiter_"));
	if (starts_with(name, "gadget_iter_"))
		return parse_iter_marker(g, name + strlen("gadget_iter_"));
	return 0;
}

/* Room for one more param; the arrays double, so a large gadget costs little. */
static int grow_params(struct bpf_gadget *g)
{
	struct gadget_param_priv *priv;
	struct bpf_gadget_param *p;
	size_t cap;

	if (g->n_params < g->cap_params)
		return 0;
	cap = g->cap_params ? g->cap_params * 2 : 16;
	if (cap > BPF_GADGET_MAX_PARAMS)
		cap = BPF_GADGET_MAX_PARAMS;
	p = reallocarray(g->params, cap, sizeof(*p));
	if (!p)
		return -ENOMEM;
	g->params = p;
	priv = reallocarray(g->param_priv, cap, sizeof(*priv));
	if (!priv)
		return -ENOMEM;
	g->param_priv = priv;
	g->cap_params = cap;
	return 0;
}

static int add_param(struct bpf_gadget *g, const char *var_name)
{
	const struct btf *btf = bpf_object__btf(g->obj);
	struct gadget_param_priv *priv;
	struct bpf_gadget_param *p;
	const void *init;
	size_t total = 0;
	int err;

	for (size_t i = 0; i < g->n_params; i++)
		if (strcmp(g->params[i].name, var_name) == 0)
			return 0;
	if (g->n_params >= BPF_GADGET_MAX_PARAMS)
		return set_error(g, -E2BIG, "too many params (at most %d)", BPF_GADGET_MAX_PARAMS);
	err = grow_params(g);
	if (err)
		return err;
	p = &g->params[g->n_params];
	priv = &g->param_priv[g->n_params];
	memset(p, 0, sizeof(*p));
	memset(priv, 0, sizeof(*priv));
	err = find_rodata(g, var_name, &priv->var);
	if (err == -ENOENT)
		return set_error(g, -EINVAL,
				 "param '%s' is not a const volatile global (GADGET_PARAM needs "
				 "one in .rodata)",
				 var_name);
	if (err)
		return set_error(g, err, "param '%s': malformed .rodata", var_name);
	p->name = strdup(var_name);
	if (!p->name)
		return -ENOMEM;
	g->n_params++;
	err = bpf_param_describe(btf, priv->var.type_id, &priv->desc, &p->type_name);
	if (err == -EOPNOTSUPP)
		return set_error(g, -EINVAL,
				 "param '%s' has a type a param cannot have (use bool, an integer, "
				 "an enum or a char array)",
				 var_name);
	if (err)
		return err;
	if (priv->desc.size != priv->var.size)
		return set_error(g, -EINVAL, "param '%s': BTF size disagrees with .rodata",
				 var_name);
	p->type = priv->desc.type;
	p->size = priv->desc.size;
	if (p->type == BPF_GADGET_PARAM_ENUM) {
		err = bpf_param_enum_values(&priv->desc, &p->enum_values, &p->n_enum_values);
		if (err == -E2BIG)
			return set_error(g, -EINVAL, "param '%s': an enum of more than %d values",
					 var_name, BPF_GADGET_MAX_ENUM_VALUES);
		if (err)
			return err;
	}
	init = bpf_map__initial_value(priv->var.map, &total);
	if (!init)
		return -EINVAL;
	return bpf_param_format(&priv->desc, (const char *)init + priv->var.offset,
				&p->default_value);
}

static int discover_param_cb(struct bpf_gadget *g, const char *sec, const char *name,
			     const struct btf_type *var, uint32_t var_id,
			     const struct btf_var_secinfo *vsi, void *ctx)
{
	if (!starts_with(name, "gadget_param_") || !name[strlen("gadget_param_")])
		return 0;
	return add_param(g, name + strlen("gadget_param_"));
}

/*
 * Socket filters in Inspektor Gadget's sections ("socket", "socket1", ...):
 * libbpf knows only "socket", so the type is set here for all of them.
 */
static int setup_socket_progs(struct bpf_gadget *g)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, g->obj)
	{
		if (bpf_hook_kind(bpf_program__section_name(p), NULL) != BPF_HOOK_SOCKET)
			continue;
		if (g->n_socket_progs >= BPF_SOCKFILTER_MAX_PROGS)
			return set_error(g, -E2BIG, "too many socket filter programs (at most %d)",
					 BPF_SOCKFILTER_MAX_PROGS);
		bpf_program__set_type(p, BPF_PROG_TYPE_SOCKET_FILTER);
		g->n_socket_progs++;
	}
	return 0;
}

/*
 * "uprobe/libc:malloc" -> uprobe, "libc", "malloc"; "usdt/libc:prov:name"
 * -> USDT, "libc", "prov:name".  0 for a program of another kind or one
 * without a target (attached by other means), 1 for an uprobe, -EINVAL for
 * a malformed one.
 */
static int parse_uprobe(struct bpf_gadget *g, const struct bpf_program *prog,
			struct bpf_gadget_uprobe *u)
{
	static const struct {
		const char *prefix;
		enum bpf_gadget_uprobe_kind kind;
	} kinds[] = {
		{"uprobe/", BPF_GADGET_UPROBE},
		{"uretprobe/", BPF_GADGET_URETPROBE},
		{"usdt/", BPF_GADGET_USDT},
	};
	const char *sec = bpf_program__section_name(prog), *spec = NULL, *colon;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !spec; i++)
		if (starts_with(sec, kinds[i].prefix))
			spec = sec + strlen(kinds[i].prefix);
	if (!spec || !*spec)
		return 0;
	memset(u, 0, sizeof(*u));
	u->kind = kinds[i - 1].kind;
	u->prog = bpf_program__name(prog);
	u->section = sec;
	colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1] ||
	    (spec[0] != '/' && memchr(spec, '/', colon - spec)))
		return set_error(g, -EINVAL,
				 "program '%s': section %s must name a library or an absolute path "
				 "and a function: uprobe/libc:malloc",
				 u->prog, sec);
	if (u->kind == BPF_GADGET_USDT &&
	    (!strchr(colon + 1, ':') || strchr(colon + 1, ':')[1] == 0))
		return set_error(g, -EINVAL,
				 "program '%s': section %s must name a provider and a probe: "
				 "usdt/libc:provider:name",
				 u->prog, sec);
	u->target = strndup(spec, colon - spec);
	u->symbol = strdup(colon + 1);
	if (!u->target || !u->symbol) {
		free(u->target);
		free(u->symbol);
		return -ENOMEM;
	}
	return 1;
}

static int discover_uprobes(struct bpf_gadget *g)
{
	struct bpf_program *prog;
	size_t n = 0;
	int r;

	bpf_object__for_each_program(prog, g->obj) n++;
	g->uprobes = calloc(n ? n : 1, sizeof(*g->uprobes));
	if (!g->uprobes)
		return -ENOMEM;
	bpf_object__for_each_program(prog, g->obj)
	{
		r = parse_uprobe(g, prog, &g->uprobes[g->n_uprobes]);
		if (r < 0)
			return r;
		g->n_uprobes += r;
	}
	return 0;
}

static int discover(struct bpf_gadget *g)
{
	int err = for_each_var(g, discover_ds_cb, NULL);

	if (err)
		return err;
	if (g->n_ds == 0)
		return set_error(
			g, -ENOENT,
			"defines no data source: use GADGET_TRACER, GADGET_MAPITER or GADGET_ITER");
	err = for_each_var(g, discover_param_cb, NULL);
	if (err)
		return err;
	return discover_uprobes(g);
}

/* ---- open and free ---- */

static void ds_done(struct bpf_gadget_ds *ds)
{
	free(ds->name);
	free(ds->map_name);
	free(ds->iter_kind);
	for (size_t i = 0; i < ds->n_progs; i++)
		free(ds->progs[i]);
	bpf_layout_free(ds->layout);
}

struct bpf_gadget *bpf_gadget_free(struct bpf_gadget *g)
{
	if (!g)
		return NULL;
	g->sockfilter = bpf_sockfilter_free(g->sockfilter);
	g->tracer = bpf_tracer_free(g->tracer);
	for (size_t i = 0; i < g->n_links; i++)
		bpf_link__destroy(g->links[i]);
	free(g->links);
	for (size_t i = 0; i < g->n_ds; i++) {
		for (size_t j = 0; j < BPF_GADGET_MAX_ITER_PROGS; j++)
			bpf_link__destroy(g->iter_links[i][j]);
		ds_done(&g->ds[i]);
	}
	for (size_t i = 0; i < g->n_params; i++) {
		free(g->params[i].name);
		free(g->params[i].type_name);
		free(g->params[i].default_value);
		free(g->params[i].value);
		free(g->params[i].enum_values);
	}
	free(g->params);
	free(g->param_priv);
	for (size_t i = 0; i < g->n_uprobes; i++) {
		free(g->uprobes[i].target);
		free(g->uprobes[i].symbol);
	}
	free(g->uprobes);
	bpf_object__close(g->obj);
	free(g->log_buf);
	if (g->mntns_fd >= 0)
		close(g->mntns_fd);
	free(g->name);
	free(g);
	return NULL;
}

static bool has_errbuf(const struct bpf_gadget_opts *opts)
{
	return opts &&
	       opts->sz >=
		       offsetof(struct bpf_gadget_opts, errbuf_len) + sizeof(opts->errbuf_len) &&
	       opts->errbuf && opts->errbuf_len;
}

static void copy_error(const struct bpf_gadget_opts *opts, const char *msg)
{
	if (has_errbuf(opts))
		snprintf(opts->errbuf, opts->errbuf_len, "%s", msg);
}

static const char *opt_name(const struct bpf_gadget_opts *opts)
{
	if (opts && opts->sz >= offsetof(struct bpf_gadget_opts, name) + sizeof(opts->name) &&
	    opts->name && opts->name[0])
		return opts->name;
	return NULL;
}

static int gadget_new(const char *name, const struct bpf_gadget_opts *opts, struct bpf_gadget **ret)
{
	struct bpf_gadget *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->mntns_fd = -1;
	g->ringbuf_min = BPF_GADGET_DEFAULT_RINGBUF_BYTES;
	if (opts &&
	    opts->sz >= offsetof(struct bpf_gadget_opts, ringbuf_min_bytes) +
				sizeof(opts->ringbuf_min_bytes) &&
	    opts->ringbuf_min_bytes)
		g->ringbuf_min = opts->ringbuf_min_bytes;
	g->name = strdup(name);
	if (!g->name) {
		free(g);
		return -ENOMEM;
	}
	*ret = g;
	return 0;
}

static int open_object(struct bpf_gadget *g, const void *elf, size_t size)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = g->name);
	struct bpf_elf_info info;
	struct bpf_diag d;
	char why[GADGET_ERROR_LEN];
	int err;

	if (size > BPF_GADGET_MAX_ELF_BYTES)
		return set_error(g, -E2BIG, "ELF is too large (%zu bytes, at most %u)", size,
				 BPF_GADGET_MAX_ELF_BYTES);
	err = bpf_elf_check(elf, size, &info, why, sizeof(why));
	if (err)
		return set_error(g, err, "%s", why);
	if (!info.has_btf)
		return set_error(g, -EINVAL, "has no BTF: compile with clang -g");

	g->log_buf = calloc(1, GADGET_VERIFIER_LOG_BYTES);
	if (!g->log_buf)
		return -ENOMEM;
	oopts.kernel_log_buf = g->log_buf;
	oopts.kernel_log_size = GADGET_VERIFIER_LOG_BYTES;
	bpf_diag_capture(&d);
	g->obj = bpf_object__open_mem(elf, size, &oopts);
	err = g->obj ? 0 : (errno ? -errno : -EINVAL);
	bpf_diag_capture(NULL);
	if (!g->obj) {
		if (strstr(d.first_warn, "BTF"))
			return set_error(g, err, "malformed BTF (%s)", d.first_warn);
		return set_error(g, err, "cannot open the BPF object: %s",
				 d.first_warn[0] ? d.first_warn : strerror(-err));
	}
	if (!bpf_object__btf(g->obj))
		return set_error(g, -EINVAL, "malformed BTF (%s)",
				 d.first_warn[0] ? d.first_warn : "libbpf could not parse it");
	return 0;
}

int bpf_gadget_open_mem(const void *elf, size_t size, const struct bpf_gadget_opts *opts,
			struct bpf_gadget **ret)
{
	const char *name = opt_name(opts);
	struct bpf_gadget *g;
	int err;

	if (!ret || (!elf && size))
		return -EINVAL;
	bpf_diag_init();
	err = gadget_new(name ? name : "gadget", opts, &g);
	if (err) {
		copy_error(opts, "out of memory");
		return err;
	}
	err = open_object(g, elf, size);
	if (!err)
		err = discover(g);
	if (!err)
		err = setup_socket_progs(g);
	if (err) {
		if (!g->error[0])
			set_error(g, err, "%s", strerror(-err));
		if (has_errbuf(opts))
			snprintf(opts->errbuf, opts->errbuf_len, "%s: %s", g->name, g->error);
		bpf_gadget_free(g);
		return err;
	}
	*ret = g;
	return 0;
}

int bpf_gadget_open_file(const char *path, const struct bpf_gadget_opts *opts,
			 struct bpf_gadget **ret)
{
	struct bpf_gadget_opts o = {.sz = sizeof(o)};
	const char *base;
	char msg[GADGET_ERROR_LEN];
	size_t size = 0;
	char *elf = NULL;
	int err;

	if (!path || !ret)
		return -EINVAL;
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!opt_name(&o))
		o.name = base;
	err = base_file_read(path, BPF_GADGET_MAX_ELF_BYTES, &elf, &size);
	if (err == -EFBIG)
		err = -E2BIG; /* what bpf_gadget_open_mem() says of too large an ELF */
	if (err) {
		if (err == -E2BIG)
			snprintf(msg, sizeof(msg), "%s: ELF is too large (at most %u bytes)", path,
				 BPF_GADGET_MAX_ELF_BYTES);
		else
			snprintf(msg, sizeof(msg), "cannot read %s: %s", path, strerror(-err));
		copy_error(opts, msg);
		return err;
	}
	err = bpf_gadget_open_mem(elf, size, &o, ret);
	free(elf);
	return err;
}

const char *bpf_gadget_last_error(const struct bpf_gadget *g)
{
	return g ? g->error : "";
}

const struct btf *bpf_gadget_btf(const struct bpf_gadget *g)
{
	return g ? bpf_object__btf(g->obj) : NULL;
}

const char *bpf_gadget_name(const struct bpf_gadget *g)
{
	return g ? g->name : NULL;
}

size_t bpf_gadget_ds_count(const struct bpf_gadget *g)
{
	return g ? g->n_ds : 0;
}

const struct bpf_gadget_ds *bpf_gadget_ds_get(const struct bpf_gadget *g, size_t i)
{
	return g && i < g->n_ds ? &g->ds[i] : NULL;
}

int bpf_gadget_map_fd(const struct bpf_gadget *g, const char *name)
{
	struct bpf_map *m;
	int fd;

	if (!g || !name || !g->loaded)
		return -ENOENT;
	m = bpf_object__find_map_by_name(g->obj, name);
	fd = m ? bpf_map__fd(m) : -1;
	return fd >= 0 ? fd : -ENOENT;
}

size_t bpf_gadget_param_count(const struct bpf_gadget *g)
{
	return g ? g->n_params : 0;
}

const struct bpf_gadget_param *bpf_gadget_param_get(const struct bpf_gadget *g, size_t i)
{
	return g && i < g->n_params ? &g->params[i] : NULL;
}

const struct bpf_gadget_param *bpf_gadget_param_find(const struct bpf_gadget *g, const char *name)
{
	if (!g || !name)
		return NULL;
	for (size_t i = 0; i < g->n_params; i++)
		if (strcmp(g->params[i].name, name) == 0)
			return &g->params[i];
	return NULL;
}

/* ---- params and filter ---- */

int bpf_gadget_set_param(struct bpf_gadget *g, const char *name, const char *value)
{
	struct gadget_param_priv *priv;
	struct bpf_gadget_param *p;
	uint8_t *bytes;
	char *copy;
	int err;

	if (!g || !name)
		return -EINVAL;
	p = (struct bpf_gadget_param *)bpf_gadget_param_find(g, name);
	if (!p)
		return set_error(g, -ENOENT, "unknown param '%s'", name);
	if (g->loaded)
		return set_error(g, -EBUSY, "param '%s' cannot change after the gadget is loaded",
				 name);
	priv = &g->param_priv[p - g->params];
	bytes = calloc(1, priv->desc.size);
	if (!bytes)
		return -ENOMEM;
	err = bpf_param_parse(&priv->desc, name, value, bytes, g->error, sizeof(g->error));
	if (!err)
		err = rodata_write(&priv->var, bytes, priv->desc.size);
	free(bytes);
	if (err) {
		if (err != -EINVAL && err != -ERANGE)
			set_error(g, err, "param '%s': cannot store the value", name);
		return err;
	}
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(p->value);
	p->value = copy;
	return 0;
}

int bpf_gadget_mntns_filter_enable(struct bpf_gadget *g)
{
	struct rodata_var flag;
	struct bpf_map *map;
	int fd, err;

	if (!g)
		return -EINVAL;
	if (g->loaded)
		return set_error(g, -EBUSY,
				 "the mount namespace filter must be enabled before load");
	if (g->mntns_fd >= 0)
		return 0;
	map = bpf_object__find_map_by_name(g->obj, MNTNS_FILTER_MAP);
	if (!map)
		return set_error(g, -EOPNOTSUPP,
				 "gadget has no mount namespace filter (" MNTNS_FILTER_MAP ")");
	if (bpf_map__key_size(map) != sizeof(uint64_t) || bpf_map__value_size(map) != 4)
		return set_error(g, -EINVAL,
				 MNTNS_FILTER_MAP " must map a u64 mount namespace id to a u32");
	err = find_rodata(g, MNTNS_FILTER_FLAG, &flag);
	if (err)
		return set_error(g, -EOPNOTSUPP,
				 "gadget has " MNTNS_FILTER_MAP
				 " but no const volatile " MNTNS_FILTER_FLAG);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mntns_filter", sizeof(uint64_t), sizeof(uint32_t),
			    GADGET_MNTNS_FILTER_ENTRIES, NULL);
	if (fd < 0)
		return set_error(g, fd, "cannot create the mount namespace filter map: %s",
				 strerror(-fd));
	err = bpf_map__reuse_fd(map, fd);
	if (!err)
		err = rodata_write_uint(&flag, 1);
	if (err) {
		close(fd);
		return set_error(g, err, "cannot install the mount namespace filter: %s",
				 strerror(-err));
	}
	g->mntns_map = map;
	g->mntns_fd = fd;
	return 0;
}

int bpf_gadget_mntns_filter_add(struct bpf_gadget *g, uint64_t mntns_id)
{
	uint32_t one = 1;

	if (!g)
		return -EINVAL;
	if (g->mntns_fd < 0)
		return set_error(g, -EINVAL, "the mount namespace filter is not enabled");
	if (bpf_map_update_elem(g->mntns_fd, &mntns_id, &one, BPF_ANY) < 0)
		return set_error(g, -errno, "cannot add mount namespace %llu to the filter: %s",
				 (unsigned long long)mntns_id, strerror(errno));
	return 0;
}

int bpf_gadget_mntns_filter_remove(struct bpf_gadget *g, uint64_t mntns_id)
{
	if (!g)
		return -EINVAL;
	if (g->mntns_fd < 0)
		return set_error(g, -EINVAL, "the mount namespace filter is not enabled");
	/* Removing an id that is not there is not an error: the result is the same. */
	if (bpf_map_delete_elem(g->mntns_fd, &mntns_id) < 0 && errno != ENOENT)
		return set_error(g, -errno,
				 "cannot remove mount namespace %llu from the filter: %s",
				 (unsigned long long)mntns_id, strerror(errno));
	return 0;
}

int bpf_gadget_mntns_filter_fd(const struct bpf_gadget *g)
{
	return g ? g->mntns_fd : -1;
}

bool bpf_gadget_has_map(const struct bpf_gadget *g, const char *name)
{
	return g && name && bpf_object__find_map_by_name(g->obj, name);
}

int bpf_gadget_map_reuse(struct bpf_gadget *g, const char *name, int fd)
{
	struct bpf_map *m;
	int err;

	if (!g || !name || fd < 0)
		return -EINVAL;
	if (g->loaded)
		return set_error(g, -EBUSY, "map '%s' can only be replaced before load", name);
	m = bpf_object__find_map_by_name(g->obj, name);
	if (!m)
		return set_error(g, -ENOENT, "gadget has no map '%s'", name);
	err = bpf_map__reuse_fd(m, fd);
	if (err)
		return set_error(g, err, "map '%s': cannot use the shared map: %s", name,
				 strerror(-err));
	return 0;
}

/* ---- load and attach ---- */

static uint32_t ringbuf_size(uint32_t want)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t size = page > 0 ? (uint32_t)page : 4096;

	/* The kernel wants a power of two that is a multiple of the page size. */
	while (size < want && size < (1u << 30))
		size *= 2;
	return size;
}

static bool needs_entries(enum bpf_map_type t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LPM_TRIE:
	case BPF_MAP_TYPE_STACK_TRACE:
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return true;
	default:
		return false;
	}
}

/* Grows small ring buffers, fills in missing sizes, sets the wakeup threshold. */
static int size_maps(struct bpf_gadget *g)
{
	uint32_t smallest_ring = 0;
	struct rodata_var thr;
	struct bpf_map *m;
	int err;

	bpf_object__for_each_map(m, g->obj)
	{
		enum bpf_map_type t = bpf_map__type(m);
		uint32_t entries = bpf_map__max_entries(m);

		if (bpf_map__is_internal(m) || m == g->mntns_map)
			continue;
		if (t == BPF_MAP_TYPE_RINGBUF) {
			uint32_t want =
				ringbuf_size(entries > g->ringbuf_min ? entries : g->ringbuf_min);

			if (want != entries) {
				err = bpf_map__set_max_entries(m, want);
				if (err)
					return set_error(g, err,
							 "map '%s': cannot resize to %u bytes",
							 bpf_map__name(m), want);
			}
			if (!smallest_ring || want < smallest_ring)
				smallest_ring = want;
		} else if (entries == 0 && needs_entries(t)) {
			err = bpf_map__set_max_entries(m, GADGET_DEFAULT_MAX_ENTRIES);
			if (err)
				return set_error(g, err, "map '%s': cannot set max_entries",
						 bpf_map__name(m));
		}
	}
	if (smallest_ring && find_rodata(g, WAKEUP_THRESHOLD_VAR, &thr) == 0) {
		err = rodata_write_uint(&thr, smallest_ring / 4);
		if (err)
			return set_error(g, err, WAKEUP_THRESHOLD_VAR " cannot be set");
	}
	return 0;
}

int bpf_gadget_load(struct bpf_gadget *g)
{
	struct bpf_program *prog = NULL;
	struct bpf_diag d;
	int err;

	if (!g)
		return -EINVAL;
	if (g->loaded)
		return set_error(g, -EALREADY, "the gadget is already loaded");
	err = size_maps(g);
	if (err)
		return err;
	bpf_diag_capture(&d);
	err = bpf_object__load(g->obj);
	bpf_diag_capture(NULL);
	if (err) {
		/* libbpf does not print a log it did not allocate: read ours. */
		if (!d.verifier[0] && g->log_buf) {
			g->log_buf[GADGET_VERIFIER_LOG_BYTES - 1] = '\0';
			bpf_diag_verifier_line(g->log_buf, d.verifier, sizeof(d.verifier));
		}
		if (d.prog[0])
			prog = bpf_object__find_program_by_name(g->obj, d.prog);
		bpf_hook_explain_load(prog, err, &d, g->error, sizeof(g->error));
		base_log_debug("bpf: %s: %s", g->name, g->error);
		return err;
	}
	g->loaded = true;
	/*
	 * libbpf frees the kernel BTF it parsed for CO-RE (megabytes) once
	 * loaded; hand those pages back so a long-running agent does not keep
	 * the load-time peak.
	 */
	malloc_trim(0);
	return 0;
}

static int sink_record(void *ctx, const void *data, size_t size)
{
	struct gadget_sink *s = ctx;

	if (!s->g->record_fn)
		return 0;
	return s->g->record_fn(s->ds, data, size, s->g->record_ctx);
}

void bpf_gadget_set_record_fn(struct bpf_gadget *g, bpf_gadget_record_fn fn, void *ctx)
{
	if (!g)
		return;
	g->record_fn = fn;
	g->record_ctx = ctx;
}

static int setup_tracers(struct bpf_gadget *g)
{
	int ncpu = libbpf_num_possible_cpus();
	int err;

	for (size_t i = 0; i < g->n_ds; i++) {
		struct bpf_gadget_ds *ds = &g->ds[i];
		struct gadget_sink *s = &g->sinks[i];
		struct bpf_map *m;
		int fd, idx;

		if (ds->type != BPF_GADGET_DS_TRACER)
			continue;
		m = bpf_object__find_map_by_name(g->obj, ds->map_name);
		fd = m ? bpf_map__fd(m) : -1;
		if (fd < 0)
			return set_error(g, -ENOENT, "tracer '%s': map '%s' was not created",
					 ds->name, ds->map_name);
		if (!g->tracer) {
			err = bpf_tracer_new(&g->tracer);
			if (err)
				return set_error(g, err, "cannot create the tracer: %s",
						 strerror(-err));
		}
		s->g = g;
		s->ds = ds;
		if (ds->perf_array)
			idx = bpf_tracer_add_perf(g->tracer, fd,
						  g->ringbuf_min / (ncpu > 0 ? (uint32_t)ncpu : 1),
						  sink_record, s);
		else
			idx = bpf_tracer_add_ringbuf(g->tracer, fd, sink_record, s);
		if (idx < 0)
			return set_error(g, idx, "tracer '%s': cannot read map '%s': %s", ds->name,
					 ds->map_name, strerror(-idx));
		s->tracer_idx = idx;
	}
	return 0;
}

static void detach_all(struct bpf_gadget *g)
{
	g->sockfilter = bpf_sockfilter_free(g->sockfilter);
	for (size_t i = 0; i < g->n_links; i++)
		bpf_link__destroy(g->links[i]);
	free(g->links);
	g->links = NULL;
	g->n_links = 0;
	g->tracer = bpf_tracer_free(g->tracer);
}

/* The one-slot program arrays the dispatchers of bpf/sockfilter.c tail-call through. */
static int setup_sockfilter(struct bpf_gadget *g)
{
	int fds[BPF_SOCKFILTER_MAX_PROGS];
	struct bpf_program *p;
	size_t n = 0;
	int err;

	bpf_object__for_each_program(p, g->obj)
	{
		if (bpf_hook_kind(bpf_program__section_name(p), NULL) != BPF_HOOK_SOCKET ||
		    !bpf_program__autoload(p) || n >= BPF_SOCKFILTER_MAX_PROGS)
			continue;
		fds[n++] = bpf_program__fd(p);
	}
	err = bpf_sockfilter_new(fds, n, &g->sockfilter);
	if (err)
		return set_error(g, err, "socket filters: cannot prepare their dispatch: %s",
				 strerror(-err));
	return 0;
}

/*
 * A kprobe on a kernel built without kprobes: Inspektor Gadget's gadgets
 * sometimes add one to tracepoints that do the main work (trace_tcpretrans's
 * loss probes), and running without it beats not running.
 */
static bool skippable(const struct bpf_program *prog)
{
	return bpf_hook_kind(bpf_program__section_name(prog), NULL) == BPF_HOOK_KPROBE &&
	       !bpf_hook_kprobes_available();
}

static bool has_iter(const struct bpf_gadget *g)
{
	for (size_t i = 0; i < g->n_ds; i++)
		if (g->ds[i].type == BPF_GADGET_DS_ITER)
			return true;
	return false;
}

const char *bpf_gadget_attach_warning(const struct bpf_gadget *g)
{
	return g && g->attached && g->warning[0] ? g->warning : NULL;
}

static long uprobe_index(const struct bpf_gadget *g, const struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);

	for (size_t i = 0; i < g->n_uprobes; i++)
		if (!strcmp(g->uprobes[i].prog, name))
			return (long)i;
	return -1;
}

size_t bpf_gadget_uprobe_count(const struct bpf_gadget *g)
{
	return g ? g->n_uprobes : 0;
}

const struct bpf_gadget_uprobe *bpf_gadget_uprobe_get(const struct bpf_gadget *g, size_t i)
{
	return g && i < g->n_uprobes ? &g->uprobes[i] : NULL;
}

int bpf_gadget_uprobe_attach(struct bpf_gadget *g, size_t i, const char *path, const char *shown,
			     struct bpf_link **ret)
{
	const struct bpf_gadget_uprobe *u;
	struct bpf_program *prog;
	struct bpf_link *link;
	struct bpf_diag d;
	int err;

	if (!g || i >= g->n_uprobes || !path || !ret)
		return -EINVAL;
	if (!g->loaded)
		return set_error(g, -EINVAL, "the gadget must be loaded before it is attached");
	u = &g->uprobes[i];
	shown = shown ? shown : path;
	prog = bpf_object__find_program_by_name(g->obj, u->prog);
	if (!prog)
		return set_error(g, -ENOENT, "program '%s' is gone", u->prog);
	bpf_diag_capture(&d);
	if (u->kind == BPF_GADGET_USDT) {
		char provider[GADGET_MAX_IDENT];
		const char *name = strchr(u->symbol, ':');
		size_t n = name ? (size_t)(name - u->symbol) : 0;

		if (!name || n >= sizeof(provider)) {
			bpf_diag_capture(NULL);
			return set_error(g, -EINVAL, "%s: malformed USDT probe", u->section);
		}
		memcpy(provider, u->symbol, n);
		provider[n] = '\0';
		link = bpf_program__attach_usdt(prog, -1, path, provider, name + 1, NULL);
	} else {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = u->symbol,
			    .retprobe = u->kind == BPF_GADGET_URETPROBE);

		link = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &o);
	}
	err = link ? 0 : (errno ? -errno : -EINVAL);
	bpf_diag_capture(NULL);
	if (err == -ENOENT || err == -ESRCH)
		return set_error(g, -ENOENT, "%s: %s %s not found in %s", u->section,
				 u->kind == BPF_GADGET_USDT ? "USDT probe" : "function", u->symbol,
				 shown);
	if (err)
		return set_error(g, err, "%s: cannot attach to %s: %s", u->section, shown,
				 d.last_warn[0] ? d.last_warn : strerror(-err));
	*ret = link;
	return 0;
}

int bpf_gadget_attach(struct bpf_gadget *g)
{
	struct bpf_program *prog;
	size_t n_progs = 0;
	int err;

	if (!g)
		return -EINVAL;
	if (!g->loaded)
		return set_error(g, -EINVAL, "the gadget must be loaded before it is attached");
	if (g->attached)
		return set_error(g, -EALREADY, "the gadget is already attached");
	err = setup_tracers(g);
	if (err) {
		detach_all(g);
		return err;
	}
	bpf_object__for_each_program(prog, g->obj) n_progs++;
	g->links = calloc(n_progs ? n_progs : 1, sizeof(*g->links));
	if (!g->links) {
		detach_all(g);
		return -ENOMEM;
	}
	g->warning[0] = '\0';
	bpf_object__for_each_program(prog, g->obj)
	{
		struct bpf_link *link = NULL;

		if (uprobe_index(g, prog) >= 0)
			continue; /* bpf_gadget_uprobe_attach(), per file */
		err = bpf_hook_attach(prog, &link, g->error, sizeof(g->error));
		if (err && skippable(prog)) {
			/* keep the first reason: it is the error if nothing else attaches */
			if (!g->warning[0])
				snprintf(g->warning, sizeof(g->warning), "%s", g->error);
			err = 0;
			continue;
		}
		if (err)
			break;
		if (link)
			g->links[g->n_links++] = link;
	}
	if (!err && g->warning[0] && !g->n_links && !g->n_socket_progs && !has_iter(g)) {
		snprintf(g->error, sizeof(g->error), "%s", g->warning);
		err = -EOPNOTSUPP;
	}
	if (!err && g->n_socket_progs)
		err = setup_sockfilter(g);
	if (err) {
		base_log_debug("bpf: %s: %s", g->name, g->error);
		detach_all(g);
		return err;
	}
	g->attached = true;
	return 0;
}

size_t bpf_gadget_socket_prog_count(const struct bpf_gadget *g)
{
	return g ? g->n_socket_progs : 0;
}

int bpf_gadget_netns_attach(struct bpf_gadget *g, uint64_t netns_id, const char *netns_path)
{
	int err;

	if (!g || !netns_path)
		return -EINVAL;
	if (!g->sockfilter)
		return set_error(g, -EINVAL, "no socket filter is ready to attach");
	err = bpf_sockfilter_attach(g->sockfilter, netns_id, netns_path);
	if (err == -E2BIG)
		return set_error(g, err, "socket filters: more than %d network namespaces",
				 BPF_SOCKFILTER_MAX_NETNS);
	if (err)
		return set_error(g, err, "socket filters: network namespace %llu (%s): %s",
				 (unsigned long long)netns_id, netns_path, strerror(-err));
	return 0;
}

int bpf_gadget_netns_detach(struct bpf_gadget *g, uint64_t netns_id)
{
	if (!g)
		return -EINVAL;
	return bpf_sockfilter_detach(g->sockfilter, netns_id);
}

size_t bpf_gadget_netns_count(const struct bpf_gadget *g)
{
	return g ? bpf_sockfilter_count(g->sockfilter) : 0;
}

int bpf_gadget_poll_fd(const struct bpf_gadget *g)
{
	return g ? bpf_tracer_poll_fd(g->tracer) : -1;
}

int bpf_gadget_consume(struct bpf_gadget *g)
{
	if (!g)
		return -EINVAL;
	if (!g->tracer)
		return 0;
	return bpf_tracer_consume(g->tracer);
}

static long ds_index(const struct bpf_gadget *g, const struct bpf_gadget_ds *ds)
{
	if (!g || !ds || ds < g->ds || ds >= g->ds + g->n_ds)
		return -1;
	return ds - g->ds;
}

int bpf_gadget_lost(struct bpf_gadget *g, const struct bpf_gadget_ds *ds, uint64_t *ret)
{
	char name[GADGET_MAX_IDENT + 16];
	long i = ds_index(g, ds);
	struct bpf_map *m;
	uint64_t total = 0;

	if (i < 0 || !ret || ds->type != BPF_GADGET_DS_TRACER)
		return -EINVAL;
	if (g->tracer && g->sinks[i].g)
		total += bpf_tracer_lost(g->tracer, g->sinks[i].tracer_idx);
	snprintf(name, sizeof(name), "%s_lost_samples", ds->map_name);
	m = bpf_object__find_map_by_name(g->obj, name);
	if (m && g->loaded && bpf_map__fd(m) >= 0) {
		enum bpf_map_type t = bpf_map__type(m);
		uint32_t vsize = bpf_map__value_size(m);
		int ncpu = t == BPF_MAP_TYPE_PERCPU_ARRAY ? libbpf_num_possible_cpus() : 1;
		size_t stride = t == BPF_MAP_TYPE_PERCPU_ARRAY ? ((vsize + 7) & ~7u) : vsize;
		uint32_t zero = 0;
		uint8_t *vals;

		if (ncpu <= 0 || (vsize != 4 && vsize != 8) || bpf_map__key_size(m) != 4)
			goto out;
		vals = calloc((size_t)ncpu, stride);
		if (!vals)
			return -ENOMEM;
		if (bpf_map_lookup_elem(bpf_map__fd(m), &zero, vals) == 0) {
			for (int c = 0; c < ncpu; c++) {
				uint64_t v64 = 0;
				uint32_t v32 = 0;

				if (vsize == 8) {
					memcpy(&v64, vals + (size_t)c * stride, 8);
					total += v64;
				} else {
					memcpy(&v32, vals + (size_t)c * stride, 4);
					total += v32;
				}
			}
		}
		free(vals);
	}
out:
	*ret = total;
	return 0;
}

int bpf_gadget_mapiter_fetch(struct bpf_gadget *g, const struct bpf_gadget_ds *ds, bool clear,
			     bpf_gadget_batch_fn fn, void *ctx)
{
	struct bpf_snapshot_map_opts o = {0};
	struct bpf_snapshot s;
	long i = ds_index(g, ds);
	struct bpf_map *m;
	int n, err;

	if (i < 0 || !fn || ds->type != BPF_GADGET_DS_MAPITER)
		return -EINVAL;
	if (!g->loaded)
		return set_error(g, -EINVAL, "the gadget must be loaded before it is read");
	m = bpf_object__find_map_by_name(g->obj, ds->map_name);
	if (!m || bpf_map__fd(m) < 0)
		return set_error(g, -ENOENT, "map iterator '%s': map '%s' was not created",
				 ds->name, ds->map_name);
	o.key_size = bpf_map__key_size(m);
	o.value_size = bpf_map__value_size(m);
	o.value_offset = ds->value_offset;
	o.max_entries = bpf_map__max_entries(m);
	o.clear = clear;
	bpf_snapshot_init(&s, ds->layout->size, 0);
	n = bpf_snapshot_map(&s, bpf_map__fd(m), &o);
	if (n < 0) {
		bpf_snapshot_done(&s);
		return set_error(g, n, "map iterator '%s': cannot read map '%s': %s", ds->name,
				 ds->map_name, strerror(-n));
	}
	err = bpf_snapshot_index(&s);
	if (!err)
		err = fn(ds, s.records, s.n, s.record_size, ctx);
	bpf_snapshot_done(&s);
	return err;
}

int bpf_gadget_iter_run(struct bpf_gadget *g, const struct bpf_gadget_ds *ds,
			bpf_gadget_batch_fn fn, void *ctx)
{
	return bpf_gadget_iter_run_netns(g, ds, NULL, 0, fn, ctx);
}

/* Creates the iterator of link while inside the namespace at path (NULL: here). */
static int iter_in_netns(struct bpf_snapshot *s, struct bpf_link *link, const char *path)
{
	int back, err, err2;

	if (!path)
		return bpf_snapshot_iter(s, bpf_link__fd(link));
	err = bpf_netns_enter(path, &back);
	if (err)
		return err;
	err = bpf_snapshot_iter(s, bpf_link__fd(link));
	err2 = bpf_netns_leave(back);
	if (err2)
		abort(); /* the thread would stay in another namespace */
	return err;
}

int bpf_gadget_iter_run_netns(struct bpf_gadget *g, const struct bpf_gadget_ds *ds,
			      const char *const *netns_paths, size_t n_netns,
			      bpf_gadget_batch_fn fn, void *ctx)
{
	size_t n_ns = n_netns ? n_netns : 1;
	struct bpf_snapshot s;
	long i = ds_index(g, ds);
	int err = 0;

	if (i < 0 || !fn || ds->type != BPF_GADGET_DS_ITER || (n_netns && !netns_paths))
		return -EINVAL;
	if (!g->loaded)
		return set_error(g, -EINVAL, "the gadget must be loaded before it is run");
	bpf_snapshot_init(&s, ds->layout->size, 0);
	for (size_t k = 0; k < n_ns * ds->n_progs && !err; k++) {
		const char *path = n_netns ? netns_paths[k / ds->n_progs] : NULL;
		size_t p = k % ds->n_progs;
		struct bpf_link **link = &g->iter_links[i][p];
		struct bpf_program *prog;

		if (!*link) {
			prog = bpf_object__find_program_by_name(g->obj, ds->progs[p]);
			*link = prog ? bpf_program__attach_iter(prog, NULL) : NULL;
			if (!*link) {
				err = errno ? -errno : -ENOENT;
				set_error(g, err, "program '%s': cannot attach %s: %s",
					  ds->progs[p],
					  prog ? bpf_program__section_name(prog) : "iter",
					  strerror(-err));
				break;
			}
		}
		err = iter_in_netns(&s, *link, path);
		/* a namespace that went away in between has nothing to list */
		if (err == -ENOENT && path)
			err = 0;
		if (err < 0)
			set_error(g, err, "iterator '%s': program '%s' failed: %s", ds->name,
				  ds->progs[p], strerror(-err));
		else
			err = 0;
	}
	if (!err)
		err = bpf_snapshot_index(&s);
	if (!err)
		err = fn(ds, s.records, s.n, s.record_size, ctx);
	bpf_snapshot_done(&s);
	return err;
}
