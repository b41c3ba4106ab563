/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flags of a gadget run, defined once for every client: `ig run`,
 * `kubectl gadget run` and `attach`, and any later front end.  Each flag has
 * one name (Inspektor Gadget's), one grammar, one limit and one error
 * message wherever it is typed.  A client adds only the flags that are its
 * own (--store, --node, --detach, ...) as a second option table.
 *
 * Some flags exist for one kind of client only: the container selectors of a
 * host (-c is the runtime's container name, --k8s-namespace, --host) differ
 * from a cluster's (-c is the container's name in its pod, -p, -l, -A, with
 * -n a global flag of kubectl gadget), as they do in Inspektor Gadget.  The
 * table tags those rows with RUN_FLAGS_LOCAL or RUN_FLAGS_CLUSTER.
 *
 * A gadget brings its own params, so a run's command line is read in two
 * steps: run_flags_parse() takes every flag it knows (and the client's),
 * the first plain word as the gadget, and keeps each unknown "--key[=v]"
 * aside; once the client knows the gadget's params (from the opened gadget,
 * or an agent's GadgetInfo), run_flags_params() matches them.
 */
#ifndef RUN_FLAGS_H
#define RUN_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/opt.h"
#include "run/pipeline.h"
#include "run/runner.h"
#include "run/selector.h"

/*
 * Which client a row is for (base_opt.tags); untagged rows (the output
 * flags) are for all, attaching to a running instance included.
 */
#define RUN_FLAGS_LOCAL	  (1u << 0) /* a run on this host: ig run */
#define RUN_FLAGS_CLUSTER (1u << 1) /* a run on the nodes: kubectl gadget run */
#define RUN_FLAGS_ATTACH  (1u << 2) /* records of a running instance: attach */

/* Ids of the run flags; client tables use ids from RUN_FLAG_CLIENT_FIRST on. */
enum run_flag_id {
	RUN_FLAG_OUTPUT = 1,
	RUN_FLAG_FIELDS,
	RUN_FLAG_FILTER,
	RUN_FLAG_SORT,
	RUN_FLAG_MAX_ENTRIES,
	RUN_FLAG_FETCH_INTERVAL,
	RUN_FLAG_FETCH_COUNT,
	RUN_FLAG_TIMEOUT,
	RUN_FLAG_NO_HEADER,
	RUN_FLAG_CONTAINERNAME,	    /* host: the runtime's container name */
	RUN_FLAG_K8S_NAMESPACE,	    /* host */
	RUN_FLAG_K8S_PODNAME,	    /* host */
	RUN_FLAG_K8S_CONTAINERNAME, /* host */
	RUN_FLAG_K8S_SELECTOR,	    /* host */
	RUN_FLAG_HOST,		    /* host */
	RUN_FLAG_ALL_NAMESPACES,    /* cluster */
	RUN_FLAG_PODNAME,	    /* cluster */
	RUN_FLAG_POD_CONTAINERNAME, /* cluster: the container's name in its pod */
	RUN_FLAG_SELECTOR,	    /* cluster */
	RUN_FLAG_ANNOTATE,
	RUN_FLAG_METRICS_NAME,
	RUN_FLAG_METRICS_LISTEN,	 /* host: serve the run's metrics */
	RUN_FLAG_METRICS_LISTEN_ADDRESS, /* host */
	RUN_FLAG_VERIFY_IMAGE,		 /* host: image policy (a cluster's is the agents') */
	RUN_FLAG_PUBLIC_KEYS,		 /* host */
	RUN_FLAG_ALLOWED_GADGETS,	 /* host */
	RUN_FLAG_DISALLOW_PULLING,	 /* host */
	RUN_FLAG_HELP,
	RUN_FLAG_CLIENT_FIRST = 100,
};

/* -F filters and gadget params one run takes at most. */
#define RUN_FLAGS_MAX_FILTERS RUN_PIPELINE_MAX_FILTERS
#define RUN_FLAGS_MAX_PARAMS  RUN_FLAGS_MAX_WORDS
/* --annotate and --otel-metrics-name values one run takes at most. */
#define RUN_FLAGS_MAX_ANNOTATIONS 64
/* The default of --otel-metrics-listen-address, Inspektor Gadget's. */
#define RUN_FLAGS_DEFAULT_METRICS_ADDRESS "0.0.0.0:2224"
/* Plain words and unknown "--key" a command line may hold. */
#define RUN_FLAGS_MAX_WORDS 256

/* --allowed-gadgets values one run takes at most (each a comma-separated list). */
#define RUN_FLAGS_MAX_ALLOWED 64

/* The default of --map-fetch-interval. */
#define RUN_FLAGS_DEFAULT_FETCH_MS 1000

struct run_flags_param {
	const char *key; /* the gadget's key, as its params list it */
	const char *value;
};

struct run_flags {
	const char *cmd;    /* how the user reaches the command, for messages: "ig run" */
	const char *gadget; /* the first plain word: the gadget to run */
	enum run_output output;
	const char *fields; /* NULL: the default set */
	/*
	 * -F: every expression, all of which must match.  One -F may hold
	 * several, separated by commas as in Inspektor Gadget ("comm==a,pid==1";
	 * "\," is a comma inside a value and "\\" a backslash; any other
	 * backslash stays, so "comm~^\d+$" is the regex it looks like).
	 */
	const char *filters[RUN_FLAGS_MAX_FILTERS];
	size_t n_filters;
	const char *sort;
	uint32_t max_entries; /* 0: all */
	uint64_t fetch_interval_ms;
	bool fetch_interval_set; /* given on the command line, not the default */
	uint32_t fetch_count;	 /* 0: until stopped */
	uint64_t timeout_ms;	 /* 0: until stopped */
	bool no_header;
	struct run_selector
		sel; /* the container selectors; the namespace of a cluster is the client's */
	bool host;   /* host: with a selector, host processes too */
	bool all_namespaces;				 /* cluster: -A */
	const char *annotate[RUN_FLAGS_MAX_ANNOTATIONS]; /* "DS:KEY=VALUE", run/annotate.h */
	size_t n_annotate;
	const char *metrics_names[RUN_FLAGS_MAX_ANNOTATIONS]; /* "DS:NAME" */
	size_t n_metrics_names;
	bool metrics_listen;		    /* host: --otel-metrics-listen */
	const char *metrics_listen_address; /* host: where; the default when NULL */
	/*
	 * host: the image policy, Inspektor Gadget's flags.  Signatures are
	 * checked when public_keys is given and verify_image is true (its
	 * default); verify_image_set says --verify-image was written.
	 */
	bool verify_image;
	bool verify_image_set;
	const char *public_keys;			    /* PEM texts or files, a,b */
	const char *allowed_gadgets[RUN_FLAGS_MAX_ALLOWED]; /* each "p1,p2" */
	size_t n_allowed_gadgets;
	bool disallow_pulling;
	bool help;

	/* After run_flags_params(): the params given, each key once (the last wins). */
	struct run_flags_param params[RUN_FLAGS_MAX_PARAMS];
	size_t n_params;

	/* Private to run_flags_parse() and run_flags_params(). */
	char *filter_copies[RUN_FLAGS_MAX_FILTERS]; /* -F parts that are not argv's own */
	size_t n_filter_copies;
	struct {
		const char *name; /* after the dashes */
		size_t len;
		const char *value; /* from "=value", else NULL */
		int argi;
	} unknown[RUN_FLAGS_MAX_WORDS];
	size_t n_unknown;
	int words[RUN_FLAGS_MAX_WORDS]; /* argv indexes of plain words after the gadget */
	size_t n_words;
};

/* The run flags, tagged for the clients (base_opt.tags); see flags.c. */
extern const struct base_opt run_flags_table[];
extern const size_t run_flags_table_len;

/* A client's view of the run flags: pass it first to base_opt_help() and the parse. */
struct base_opt_table run_flags_view(unsigned int client);

/* Defaults: columns output, fetch every second, no timeout; cmd as in struct run_flags. */
void run_flags_init(struct run_flags *f, const char *cmd);
/*
 * Frees what parsing allocated (the label selector, -F parts); f can be
 * reused after run_flags_init().
 */
void run_flags_done(struct run_flags *f);

/*
 * Called for a row of the client's own tables (ids >= RUN_FLAG_CLIENT_FIRST):
 * value as base_opt_next() gives it.  0, or -errno with a one-line reason
 * in err.
 */
typedef int (*run_flags_client_fn)(void *ctx, const struct base_opt *o, const char *value,
				   char *err, size_t errlen);

/*
 * Reads argv[1..argc) (argv[0] is the command): the run flags of client
 * (RUN_FLAGS_LOCAL or _CLUSTER), the rows of the client's tables (handed
 * to fn), the gadget (the first plain word), and unknown "--key[=v]" kept
 * for run_flags_params() (so is, with RUN_FLAGS_LOCAL, an unknown
 * one-letter "-k": a gadget's params may have such an alias).  -EINVAL with
 * a one-line reason in err for a bad value, a missing value, too many
 * filters or words, or an unknown short option that cannot be an alias
 * ("-xy", or any for another client).
 */
int run_flags_parse(struct run_flags *f, unsigned int client, const struct base_opt_table *extra,
		    size_t n_extra, run_flags_client_fn fn, void *ctx, int argc, char *const *argv,
		    char *err, size_t errlen);

/*
 * Matches the unknown "--key[=v]" of the parse against the gadget's params
 * (a param is named by its key, with '-' and '_' alike, by its eBPF
 * variable name, or by the key earlier versions derived; "-k" by its
 * alias): a boolean param takes "=v" or a following true/false
 * word, and is true alone; any other takes "=v" or the next word.  A plain
 * word left over is an error (one gadget per run).  -EINVAL with err for an
 * unknown option, a missing value; f->params holds the result.
 */
int run_flags_params(struct run_flags *f, const struct run_runner_param_info *const *params,
		     size_t n, int argc, char *const *argv, char *err, size_t errlen);

/*
 * The message for an option that is neither a run flag, nor the client's,
 * nor a param: "unknown option '--x' (see 'ig run trace_open --help' ...)".
 * cmd is how the user reaches the run command ("ig run", "kubectl gadget run").
 */
void run_flags_unknown(const char *cmd, const char *gadget, const char *opt, size_t len, char *err,
		       size_t errlen);

#endif /* RUN_FLAGS_H */
