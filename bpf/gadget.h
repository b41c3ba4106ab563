/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gadget runtime: one eBPF object written against the gadget C API
 * (bpf/include/gadget/), opened, inspected, loaded, attached and drained.
 *
 * Life cycle:
 *
 *   bpf_gadget_open_file() / bpf_gadget_open_mem()
 *       parses the ELF and its BTF and discovers the data sources
 *       (GADGET_TRACER, GADGET_MAPITER, GADGET_ITER/GADGET_SNAPSHOTTER, and the
 *       .tracers/.mapiters section forms) and the params (GADGET_PARAM).
 *   bpf_gadget_set_param() ...           (optional, before load)
 *   bpf_gadget_mntns_filter_enable()     (optional, before load)
 *   bpf_gadget_load()                    verifier; map sizes applied
 *   bpf_gadget_attach()                  every program by its section name
 *   bpf_gadget_netns_attach() ...        socket filters, per network namespace
 *   loop: epoll on bpf_gadget_poll_fd(), bpf_gadget_consume() on wakeups and
 *         on a short timer; bpf_gadget_mapiter_fetch(); bpf_gadget_iter_run()
 *   bpf_gadget_free()
 *
 * This module knows nothing of containers: the caller fills the mount
 * namespace filter and enriches records itself.
 *
 * Errors are -errno.  Each failing call also leaves a one-line, user-facing
 * reason in bpf_gadget_last_error() (for the open functions: in opts->errbuf,
 * prefixed with the gadget's name), e.g. "program 'ig_open_e': cannot attach
 * kprobe/do_sys_open: kprobes are not available on this kernel".
 */
#ifndef BPF_GADGET_H
#define BPF_GADGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/layout.h"

struct btf;
struct bpf_gadget;

#define BPF_GADGET_MAX_ELF_BYTES (256u << 20)
#define BPF_GADGET_MAX_DS	 16
/* Params of one gadget: a bound on what a foreign object may declare. */
#define BPF_GADGET_MAX_PARAMS	  1024
#define BPF_GADGET_MAX_ITER_PROGS 3
/* Enumerators listed for an enum param; a larger enum is refused. */
#define BPF_GADGET_MAX_ENUM_VALUES 256
/* Ring buffers smaller than this are grown at load time (see bpf_gadget_opts). */
#define BPF_GADGET_DEFAULT_RINGBUF_BYTES (4u << 20)

enum bpf_gadget_ds_type {
	BPF_GADGET_DS_TRACER = 0, /* ring buffer or perf event array stream */
	BPF_GADGET_DS_MAPITER,	  /* hash map fetched periodically */
	BPF_GADGET_DS_ITER,	  /* iter/ programs run once per fetch (snapshotters) */
};

struct bpf_gadget_ds {
	char *name; /* data source name: "open" */
	enum bpf_gadget_ds_type type;
	struct bpf_layout *layout; /* records of this data source */
	char *map_name;		   /* TRACER: the ring buffer/perf array; MAPITER: the hash map */
	bool perf_array;	   /* TRACER: a perf event array rather than a ring buffer */
	uint32_t key_size;	   /* MAPITER: key bytes; value starts at value_offset */
	uint32_t value_offset;	   /* MAPITER */
	uint32_t value_size;	   /* MAPITER */
	size_t n_progs;		   /* ITER: program names */
	char *progs[BPF_GADGET_MAX_ITER_PROGS];
	char *iter_kind; /* ITER: "task", "task_file", "tcp", ... from the section */
};

enum bpf_gadget_param_type {
	BPF_GADGET_PARAM_BOOL = 0,
	BPF_GADGET_PARAM_INT,	 /* signed, size 1/2/4/8 */
	BPF_GADGET_PARAM_UINT,	 /* unsigned, size 1/2/4/8 */
	BPF_GADGET_PARAM_STRING, /* char array, size bytes including the NUL */
	BPF_GADGET_PARAM_ENUM,
};

struct bpf_gadget_param {
	char *name;	 /* the variable: "targ_pid" */
	char *type_name; /* its BTF type name: "gadget_pid", "bool", "char[16]" */
	enum bpf_gadget_param_type type;
	uint32_t size;
	char *default_value; /* text of the initial value in .rodata: "0", "false", "" */
	char *value;	     /* text of the value set with bpf_gadget_set_param(), or NULL */
	/* ENUM: the enumerator names in BTF order, borrowed from the gadget's BTF */
	const char **enum_values;
	size_t n_enum_values;
};

struct bpf_gadget_opts {
	size_t sz; /* sizeof(struct bpf_gadget_opts), for forward compatibility */
	/* Name used in messages and for bpf_object; defaults to the file name. */
	const char *name;
	/* Ring buffers declared smaller than this are grown to it at load; 0 = default. */
	uint32_t ringbuf_min_bytes;
	/* Where open errors are described (one line); may be NULL. */
	char *errbuf;
	size_t errbuf_len;
};

/* Open a gadget; returns a new object (free with bpf_gadget_free()). */
int bpf_gadget_open_file(const char *path, const struct bpf_gadget_opts *opts,
			 struct bpf_gadget **ret);
int bpf_gadget_open_mem(const void *elf, size_t size, const struct bpf_gadget_opts *opts,
			struct bpf_gadget **ret);
struct bpf_gadget *bpf_gadget_free(struct bpf_gadget *g);

const char *bpf_gadget_last_error(const struct bpf_gadget *g);
const struct btf *bpf_gadget_btf(const struct bpf_gadget *g);
/* The name from opts (or the file name); borrowed. */
const char *bpf_gadget_name(const struct bpf_gadget *g);

size_t bpf_gadget_ds_count(const struct bpf_gadget *g);
const struct bpf_gadget_ds *bpf_gadget_ds_get(const struct bpf_gadget *g, size_t i);
/*
 * The fd of the gadget's map called name once loaded (borrowed), for what
 * userspace reads beside the data sources (the stack maps ig_kstack and
 * ig_ustack); -ENOENT when there is none or the gadget is not loaded.
 */
int bpf_gadget_map_fd(const struct bpf_gadget *g, const char *name);

size_t bpf_gadget_param_count(const struct bpf_gadget *g);
const struct bpf_gadget_param *bpf_gadget_param_get(const struct bpf_gadget *g, size_t i);
const struct bpf_gadget_param *bpf_gadget_param_find(const struct bpf_gadget *g, const char *name);

/*
 * Sets a param from its text form: bools take true/false/1/0/yes/no, integers
 * decimal or 0x hex within the type's range, strings must fit with their NUL.
 * -ENOENT unknown param, -EINVAL/-ERANGE bad value, -EBUSY after load.
 */
int bpf_gadget_set_param(struct bpf_gadget *g, const char *name, const char *value);

/*
 * Gives this run its own mount namespace filter: the gadget's
 * gadget_mntns_filter_map is replaced by a fresh map and
 * gadget_filter_by_mntns is set, so only namespaces added below pass.
 * -EOPNOTSUPP if the gadget has no such map.  Before load.
 */
int bpf_gadget_mntns_filter_enable(struct bpf_gadget *g);
int bpf_gadget_mntns_filter_add(struct bpf_gadget *g, uint64_t mntns_id);
/* Removing an id that is not in the filter succeeds. */
int bpf_gadget_mntns_filter_remove(struct bpf_gadget *g, uint64_t mntns_id);
/* The filter map's fd (borrowed; -1 until enabled), e.g. to share it with another run. */
int bpf_gadget_mntns_filter_fd(const struct bpf_gadget *g);

/* True when the gadget declares a map of that name (gadget_sockets, ...). */
bool bpf_gadget_has_map(const struct bpf_gadget *g, const char *name);
/*
 * The gadget's map name becomes the existing map fd (dup'ed; the caller
 * keeps its own), shared with whoever fills it: the socket enricher's
 * gadget_sockets.  Before load.  -ENOENT for a map the gadget lacks.
 */
int bpf_gadget_map_reuse(struct bpf_gadget *g, const char *name, int fd);

int bpf_gadget_load(struct bpf_gadget *g);
/*
 * Attaches every program except iter/ ones (those run in bpf_gadget_iter_run())
 * and the uprobes below.  On a kernel without kprobes, kprobe programs are
 * left out as long as another program attaches: bpf_gadget_attach_warning()
 * then says which.
 */
int bpf_gadget_attach(struct bpf_gadget *g);
/* After a successful attach: why a program was left out, or NULL. */
const char *bpf_gadget_attach_warning(const struct bpf_gadget *g);

/*
 * Socket filter programs (SEC("socket"), "socket1", ...) are not attached by
 * bpf_gadget_attach() but, after it, in network namespaces the caller
 * names: a packet socket in each (bpf/sockfilter.h), with the namespace id
 * in skb->cb[0] for the program.  Attachments are counted per netns_id, so
 * every attach needs its detach.  netns_path: "/proc/PID/ns/net".
 */
size_t bpf_gadget_socket_prog_count(const struct bpf_gadget *g);
int bpf_gadget_netns_attach(struct bpf_gadget *g, uint64_t netns_id, const char *netns_path);
/* -ENOENT when netns_id is not attached. */
int bpf_gadget_netns_detach(struct bpf_gadget *g, uint64_t netns_id);
/* Network namespaces with socket filters now. */
size_t bpf_gadget_netns_count(const struct bpf_gadget *g);

/*
 * uprobe/, uretprobe/ and usdt/ programs name a file and a place in it:
 * "uprobe/libc:malloc", "uretprobe//usr/bin/bash:readline",
 * "usdt/libc:libc:setjmp".  The file is a library's short name ("libc",
 * "libssl") or an absolute path, and means what the traced processes see
 * (the host's, or a container's rootfs): finding it is the caller's
 * business, so these programs are not attached by bpf_gadget_attach() but
 * one file at a time with bpf_gadget_uprobe_attach().
 */
enum bpf_gadget_uprobe_kind {
	BPF_GADGET_UPROBE = 0,
	BPF_GADGET_URETPROBE,
	BPF_GADGET_USDT,
};

struct bpf_gadget_uprobe {
	const char *prog;    /* program name; borrowed */
	const char *section; /* "uprobe/libc:malloc"; borrowed */
	enum bpf_gadget_uprobe_kind kind;
	char *target; /* "libc", or an absolute path */
	char *symbol; /* "malloc"; USDT: "provider:name" */
};

size_t bpf_gadget_uprobe_count(const struct bpf_gadget *g);
const struct bpf_gadget_uprobe *bpf_gadget_uprobe_get(const struct bpf_gadget *g, size_t i);

/*
 * After load: attaches uprobe i, for every process, to the file at path
 * (any path the kernel can open: "/proc/self/fd/7" for a file the caller
 * found in a container).  shown is how messages name the file.  Returns 0
 * with a new link in *ret (bpf_link__destroy() detaches it), or -errno with
 * a one-line reason in bpf_gadget_last_error(): -ENOENT when the file has
 * no such function (or USDT probe).
 */
struct bpf_link;
int bpf_gadget_uprobe_attach(struct bpf_gadget *g, size_t i, const char *path, const char *shown,
			     struct bpf_link **ret);

/* A record from a tracer. data is valid only during the call.  size is what
 * the program submitted, which may be less than ds->layout->size (variable
 * length records) or more (perf event arrays pad to 8 bytes).  A negative
 * return stops bpf_gadget_consume() and is passed back. */
typedef int (*bpf_gadget_record_fn)(const struct bpf_gadget_ds *ds, const void *data, size_t size,
				    void *ctx);

/* Installs the callback for tracer records.  Before bpf_gadget_attach(). */
void bpf_gadget_set_record_fn(struct bpf_gadget *g, bpf_gadget_record_fn fn, void *ctx);

/* An epoll fd that turns readable when a tracer has woken up; -1 if none. */
int bpf_gadget_poll_fd(const struct bpf_gadget *g);

/* Drains every tracer; returns the number of records delivered or -errno. */
int bpf_gadget_consume(struct bpf_gadget *g);

/* Records the tracer of ds reported lost so far (ring buffer reserve failures
 * counted in <map>_lost_samples, plus perf buffer lost samples). */
int bpf_gadget_lost(struct bpf_gadget *g, const struct bpf_gadget_ds *ds, uint64_t *ret);

/*
 * Map iterators and iter programs hand over whole batches of records laid
 * out by ds->layout (for MAPITER: key bytes, then the value at value_offset).
 * The records are valid only during the call.
 */
typedef int (*bpf_gadget_batch_fn)(const struct bpf_gadget_ds *ds, const void *const *records,
				   size_t n, size_t record_size, void *ctx);

/* Reads every entry of a MAPITER data source; with clear, deletes what it read. */
int bpf_gadget_mapiter_fetch(struct bpf_gadget *g, const struct bpf_gadget_ds *ds, bool clear,
			     bpf_gadget_batch_fn fn, void *ctx);

/* Runs the iter/ programs of an ITER data source once and hands over their output. */
int bpf_gadget_iter_run(struct bpf_gadget *g, const struct bpf_gadget_ds *ds,
			bpf_gadget_batch_fn fn, void *ctx);

/*
 * The same, run in each network namespace of netns_paths (n_netns of them;
 * 0: where the caller is) into one batch: iter/tcp and iter/udp list the
 * sockets of the namespace the iterator is created in.  A namespace that is
 * gone by then is skipped.
 */
int bpf_gadget_iter_run_netns(struct bpf_gadget *g, const struct bpf_gadget_ds *ds,
			      const char *const *netns_paths, size_t n_netns,
			      bpf_gadget_batch_fn fn, void *ctx);

#endif /* BPF_GADGET_H */
