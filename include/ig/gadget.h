/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gadget run from your program: what `ig run` does, as a library.
 *
 *   struct ig_gadget_opts o = {.sz = sizeof(o)};
 *   struct ig_gadget *g;
 *   struct ig_record *rec;
 *
 *   ig_gadget_open("trace_open", &o, &g);       // or _open_file(), _open_mem()
 *   ig_gadget_set_param(g, "failed", "true");     // any number of set_*() calls
 *   ig_gadget_add_filter(g, "proc.comm==cat");
 *   ig_gadget_start(g);                           // load and attach
 *   while (ig_gadget_next(g, -1, &rec) > 0)       // one record at a time
 *           printf("%s\n", ig_record_json(rec, NULL));
 *   ig_gadget_free(g);                            // detach and free
 *
 * Options are strings with the grammar of `ig run`'s flags (--fields, -F,
 * --sort, the gadget's params, the container selectors), checked the same
 * way and failing with the same messages (ig_gadget_errmsg()).
 *
 * A gadget object belongs to one thread at a time; different gadgets may run
 * in different threads.  Everything given to the library is copied: strings
 * and buffers may be freed once a call returns.  What the library returns
 * (strings, info structs) is borrowed and lives as long as the gadget, or
 * until the next ig_gadget_next() for records.
 *
 * Running gadgets needs what `ig run` needs: root (or CAP_BPF, CAP_PERFMON
 * and CAP_SYS_ADMIN), a kernel with BTF, and tracefs mounted for tracepoints
 * (the library does not mount anything).
 */
#ifndef IG_GADGET_H
#define IG_GADGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ig_gadget;
struct ig_record;

enum ig_pull_policy {
	IG_PULL_MISSING = 0, /* pull an image with a registry when the store lacks it */
	IG_PULL_ALWAYS,	     /* pull before every open */
	IG_PULL_NEVER,	     /* the store only */
};

struct ig_gadget_opts {
	size_t sz; /* sizeof(struct ig_gadget_opts) */

	/*
	 * ig_gadget_open(): the local image store (an OCI image layout), NULL
	 * for $IG_OCI_STORE, else /var/lib/ig/oci-store.  A short name
	 * ("trace_open") is looked up there, then in the gadgets installed with
	 * the library (<libdir>/ig/oci-store); a reference with a registry
	 * ("localhost:5000/trace_open:v1") is pulled into this store as `pull`
	 * says.
	 */
	const char *store_dir;
	enum ig_pull_policy pull;
	const char *const *insecure_registries; /* "host[:port]" reached over plain HTTP */
	size_t n_insecure_registries;
	const char *authfile; /* registry credentials; NULL: the same file `ig login` writes */

	/*
	 * ig_gadget_open_file() and _open_mem(): the gadget.yaml (n bytes of
	 * YAML), or NULL: _open_file() then reads the gadget.yaml beside the
	 * object if there is one, _open_mem() runs without.
	 */
	const char *metadata;
	size_t metadata_len;
	const char *name; /* _open_mem(): the gadget's name in messages; default "gadget" */

	/*
	 * Container runtimes asked for the k8s.* and runtime.* fields and for
	 * selectors (ig_gadget_set_selector()): NULL for the default sockets
	 * (/run/containerd/containerd.sock, /run/crio/crio.sock), "" for none.
	 */
	const char *containerd_socket;
	const char *crio_socket;

	/* When an open fails: a one-line reason here (NUL-terminated, cut to fit). */
	char *errbuf;
	size_t errbuf_len;
};

/*
 * Opens the gadget of an image: a short name or a full reference (see
 * ig_gadget_opts.store_dir).  0 and a new gadget in *ret (free with
 * ig_gadget_free()), or -ENOENT (not found, after the pull policy),
 * -EACCES, -ENOEXEC (not a gadget this kernel can load), -EIO (a pull that
 * failed), -ENOMEM, -EINVAL (not a reference).  opts may be NULL.
 */
int ig_gadget_open(const char *image, const struct ig_gadget_opts *opts, struct ig_gadget **ret);
/* Opens an eBPF object file, or a directory holding program.bpf.o and gadget.yaml. */
int ig_gadget_open_file(const char *path, const struct ig_gadget_opts *opts,
			struct ig_gadget **ret);
/* Opens an eBPF object of len bytes (copied). */
int ig_gadget_open_mem(const void *obj, size_t len, const struct ig_gadget_opts *opts,
		       struct ig_gadget **ret);
/* Stops the gadget if it runs (detaches it), frees everything; NULL-safe; returns NULL. */
struct ig_gadget *ig_gadget_free(struct ig_gadget *g);

/* A one-line reason for the last failure of a call on g ("" if none). */
const char *ig_gadget_errmsg(const struct ig_gadget *g);

/* ---- before ig_gadget_start(); -EBUSY after it (and after ig_gadget_prepare()) ---- */

/*
 * A param of the gadget by its key (ig_gadget_param(): "failed", with '-'
 * and '_' alike) or its eBPF variable name.  -ENOENT for a param the gadget
 * does not have, -EINVAL for a value its type does not take.
 */
int ig_gadget_set_param(struct ig_gadget *g, const char *key, const char *value);
/* --fields: "a,b" exactly these, "+a,-b" change the default set; NULL: the default. */
int ig_gadget_set_fields(struct ig_gadget *g, const char *fields);
/* -F: "field OP value", OP one of == != < <= > >= ~ !~; all filters must match.  -E2BIG past 64. */
int ig_gadget_add_filter(struct ig_gadget *g, const char *expr);
/* Map iterators and snapshots: --sort ("-bytes,file", NULL for none) and --max-entries (0: all). */
int ig_gadget_set_sort(struct ig_gadget *g, const char *sort, uint32_t max_entries);
/* Map iterators: fetch every interval_ms (0: 1000), stop after count fetches (0: never). */
int ig_gadget_set_fetch(struct ig_gadget *g, uint64_t interval_ms, uint32_t count);
/* Stop after timeout_ms once started (0: never). */
int ig_gadget_set_timeout(struct ig_gadget *g, uint64_t timeout_ms);

/* Which containers, as ig run's -c, --k8s-namespace, --k8s-podname, ... */
struct ig_selector {
	size_t sz;		       /* sizeof(struct ig_selector) */
	const char *containername;     /* the runtime's container name (runtime.containerName) */
	const char *k8s_namespace;     /* k8s.namespace */
	const char *k8s_podname;       /* k8s.podName */
	const char *k8s_containername; /* k8s.containerName */
	const char *k8s_labels;	       /* pod labels that must all match: "app=web,tier=front" */
	bool host;		       /* host processes too */
};

/*
 * Only events of the containers sel matches (NULL or empty: everything).
 * Needs a container runtime: with a selector, ig_gadget_prepare() fails
 * with -ENODEV when none answers.
 */
int ig_gadget_set_selector(struct ig_gadget *g, const struct ig_selector *sel);

enum ig_output {
	IG_OUTPUT_RECORDS = 0, /* records through ig_gadget_next() (the default) */
	IG_OUTPUT_COLUMNS,     /* text to a file descriptor, as `ig run -o columns` */
	IG_OUTPUT_JSON,	       /* ... -o json: one object per line */
	IG_OUTPUT_JSONPRETTY,
	IG_OUTPUT_YAML,
};

#define IG_OUTPUT_NO_HEADER (1u << 0) /* columns without the header line */

/*
 * Text output: records are written to fd (borrowed, not closed) exactly as
 * ig run prints them, and ig_gadget_next() never hands out a record.
 */
int ig_gadget_set_output(struct ig_gadget *g, enum ig_output output, int fd, unsigned int flags);

/*
 * Applies the options and builds the record pipelines without loading
 * anything into the kernel: the data sources and fields are known after it.
 * ig_gadget_start() does it when it was not done.
 */
int ig_gadget_prepare(struct ig_gadget *g);

/* Loads and attaches the gadget.  A snapshot gadget takes its snapshot here. */
int ig_gadget_start(struct ig_gadget *g);

/* ---- running ---- */

/*
 * Waits up to timeout_ms (-1: no limit, 0: only what is ready) for the next
 * record.  1 with the record in *ret (valid until the next call on g), 0 when
 * the time passed without one, -ENODATA once the run is over (a snapshot
 * taken, the fetch count or timeout reached, ig_gadget_stop()) and every
 * record was handed out, -EINTR when a signal interrupted the wait, -EPIPE
 * when text output's reader went away, another -errno when the gadget failed.
 * With text output, *ret is never set (ret may be NULL) and the records go to
 * the file descriptor.
 */
int ig_gadget_next(struct ig_gadget *g, int timeout_ms, struct ig_record **ret);

/*
 * A file descriptor that becomes readable when ig_gadget_next() has work:
 * for a program with its own poll loop, which then calls ig_gadget_next(g,
 * 0, ...) until it returns 0.  Borrowed.  -EINVAL before the start.
 */
int ig_gadget_fd(const struct ig_gadget *g);

/*
 * Ends the run: what the kernel still holds is read (a map iterator is read
 * once more, as ig run does at Ctrl-C), ig_gadget_next() hands it out and
 * then returns -ENODATA.  The gadget stays loaded until ig_gadget_free().
 */
int ig_gadget_stop(struct ig_gadget *g);

/* Records the kernel could not queue (ring buffers full), so far. */
uint64_t ig_gadget_lost(const struct ig_gadget *g);

/* ---- what the gadget is ---- */

/* The gadget's name ("trace_open"), its gadget.yaml description ("" if none). */
const char *ig_gadget_name(const struct ig_gadget *g);
const char *ig_gadget_description(const struct ig_gadget *g);
/* For an image: the reference found ("trace_open:latest") and its manifest digest; else NULL. */
const char *ig_gadget_image(const struct ig_gadget *g);
const char *ig_gadget_digest(const struct ig_gadget *g);

enum ig_param_type {
	IG_PARAM_STRING = 0,
	IG_PARAM_BOOL,
	IG_PARAM_INT,
	IG_PARAM_UINT,
	IG_PARAM_ENUM,
};

/* Members may be added at the end in later versions: use only what the library returns. */
struct ig_param_info {
	const char *key;	   /* the flag name: "failed" */
	const char *name;	   /* the eBPF variable: "targ_failed" */
	const char *description;   /* "" when none */
	const char *default_value; /* as text */
	const char *type_name;	   /* the BTF type: "bool", "gadget_pid", "char[16]" */
	enum ig_param_type type;
	size_t n_values; /* IG_PARAM_ENUM: the names it takes */
	const char *const *values;
};

/* The params, known from the open on. */
size_t ig_gadget_param_count(const struct ig_gadget *g);
/* NULL past the end. */
const struct ig_param_info *ig_gadget_param(const struct ig_gadget *g, size_t i);

enum ig_ds_type {
	IG_DS_TRACER = 1, /* a stream of events */
	IG_DS_MAPITER,	  /* a map read every fetch interval */
	IG_DS_SNAPSHOT,	  /* an iterator run once at the start */
};

struct ig_ds_info {
	const char *name;
	enum ig_ds_type type;
	size_t n_fields; /* ig_gadget_field() */
};

struct ig_field_info {
	const char *name;	 /* dotted, as in the JSON records: "proc.comm" */
	const char *short_name;	 /* the column header, lower case: "comm" */
	const char *type;	 /* as `ig run --help` shows it: "uint32", "string", "errno" */
	const char *description; /* "" when none */
	bool visible_json;	 /* in the records as the fields option makes them */
	bool visible_columns;	 /* in columns output */
	unsigned int width;	 /* columns output; 0: unlimited */
	bool align_right;
};

/* The data sources and their fields: after ig_gadget_prepare() (0 and NULL before). */
size_t ig_gadget_ds_count(const struct ig_gadget *g);
const struct ig_ds_info *ig_gadget_ds(const struct ig_gadget *g, size_t i);
/* Field i of data source ds, in default column order; NULL past the end. */
const struct ig_field_info *ig_gadget_field(const struct ig_gadget *g, size_t ds, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* IG_GADGET_H */
