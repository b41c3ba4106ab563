// SPDX-License-Identifier: Apache-2.0
/*
 * The run flags table and the two steps of reading a run's command line
 * (see flags.h).  Every limit and every message of a run flag is here, so
 * `ig run` and `kubectl gadget run` cannot drift apart again.
 */
#include "run/flags.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "run/annotate.h"
#include "bpf/gadget.h"
#include "base/err.h"

#define L RUN_FLAGS_LOCAL
#define C RUN_FLAGS_CLUSTER
#define V BASE_OPT_VALUE
#define S BASE_OPT_SWITCH
#define R (RUN_FLAGS_LOCAL | RUN_FLAGS_CLUSTER)

const struct base_opt run_flags_table[] = {
	{"output", 'o', V, RUN_FLAG_OUTPUT, "FORMAT",
	 "columns (default), json (one record per line), jsonpretty or yaml", 0},
	{"fields", 0, V, RUN_FLAG_FIELDS, "LIST",
	 "fields to print: 'a,b' exactly these; '+a,-b' add to or remove from the defaults", 0},
	{"filter", 'F', V, RUN_FLAG_FILTER, "EXPR",
	 "keep records matching EXPR: field==v, !=, >, >=, <, <=, ~ regex (RE2 syntax: \\d, \\w, "
	 "*?), !~; 'a==1,b==2' (\\, for a comma in a value) and repeated -F: all must match",
	 R},
	{"sort", 0, V, RUN_FLAG_SORT, "LIST",
	 "map iterators and snapshots: sort by these fields, '-field' for descending", R},
	{"max-entries", 0, V, RUN_FLAG_MAX_ENTRIES, "N",
	 "map iterators and snapshots: at most N rows per interval (per node on a cluster; "
	 "0 = all)",
	 R},
	{"map-fetch-interval", 0, V, RUN_FLAG_FETCH_INTERVAL, "DURATION",
	 "map iterators: how often to read and clear the map (default 1s)", R},
	{"map-fetch-count", 0, V, RUN_FLAG_FETCH_COUNT, "N",
	 "map iterators: stop after N fetches (default 0 = until stopped)", R},
	{"timeout", 't', V, RUN_FLAG_TIMEOUT, "DURATION",
	 "stop after DURATION: seconds (5) or with a unit (500ms, 10s, 2m); 0 = until Ctrl-C "
	 "(default)",
	 R | RUN_FLAGS_ATTACH},
	{"no-header", 0, S, RUN_FLAG_NO_HEADER, NULL, "columns output: do not print the header", 0},

	/* on a host, as ig names them */
	{"containername", 'c', V, RUN_FLAG_CONTAINERNAME, "NAME",
	 "only containers with this name (as the runtime names them); a,b for either, !x to "
	 "exclude",
	 L},
	{"runtime-containername", 0, V, RUN_FLAG_CONTAINERNAME, NULL, NULL, L},
	{"k8s-namespace", 0, V, RUN_FLAG_K8S_NAMESPACE, "NS",
	 "only pods in namespace NS (a,b; !x excludes)", L},
	{"k8s-podname", 0, V, RUN_FLAG_K8S_PODNAME, "POD", "only pods named POD (a,b; !x excludes)",
	 L},
	{"k8s-containername", 0, V, RUN_FLAG_K8S_CONTAINERNAME, "NAME",
	 "only containers named NAME in their pod (a,b; !x excludes)", L},
	{"k8s-selector", 0, V, RUN_FLAG_K8S_SELECTOR, "k=v,...",
	 "only pods with all these labels (k=!v: another value, !k=v: not this one)", L},
	{"host", 0, S, RUN_FLAG_HOST, NULL,
	 "with a container selector: also show events of host processes", L},

	/* on a cluster, as kubectl gadget names them (-n is a global flag there) */
	{"all-namespaces", 'A', S, RUN_FLAG_ALL_NAMESPACES, NULL,
	 "pods of every namespace (default: those of -n, else the context's namespace)", C},
	{"podname", 'p', V, RUN_FLAG_PODNAME, "POD", "only the pods named so (a,b; !x excludes)",
	 C},
	{"k8s-podname", 0, V, RUN_FLAG_PODNAME, NULL, NULL, C},
	{"containername", 'c', V, RUN_FLAG_POD_CONTAINERNAME, "NAME",
	 "only containers named NAME in their pod (a,b; !x excludes)", C},
	{"k8s-containername", 0, V, RUN_FLAG_POD_CONTAINERNAME, NULL, NULL, C},
	{"selector", 'l', V, RUN_FLAG_SELECTOR, "k=v,...",
	 "only pods with all these labels (k=!v: another value, !k=v: not this one)", C},
	{"k8s-selector", 0, V, RUN_FLAG_SELECTOR, NULL, NULL, C},

	/* metrics, as Inspektor Gadget names them (docs/metrics.md) */
	{"annotate", 0, V, RUN_FLAG_ANNOTATE, "DS:KEY=VALUE",
	 "annotate a data source (DS:KEY=VALUE) or a field (DS.FIELD:KEY=VALUE) as gadget.yaml "
	 "would, e.g. open:metrics.collect=true (repeatable)",
	 R},
	{"otel-metrics-name", 0, V, RUN_FLAG_METRICS_NAME, "DS:NAME",
	 "export the metrics of data source DS under the name NAME (repeatable)", R},
	{"otel-metrics-listen", 0, S, RUN_FLAG_METRICS_LISTEN, NULL,
	 "serve the exported metrics for Prometheus at /metrics while the gadget runs", L},
	{"otel-metrics-listen-address", 0, V, RUN_FLAG_METRICS_LISTEN_ADDRESS, "ADDR",
	 "where --otel-metrics-listen serves (default " RUN_FLAGS_DEFAULT_METRICS_ADDRESS ")", L},

	/* the image policy on a host, as ig names it (on a cluster it is the agents') */
	{"verify-image", 0, S, RUN_FLAG_VERIFY_IMAGE, NULL,
	 "with --public-keys, run only images signed by one of them (default true; "
	 "=false skips the check)",
	 L},
	{"public-keys", 0, V, RUN_FLAG_PUBLIC_KEYS, "KEYS",
	 "PEM public keys that sign images (cosign formats), joined by commas, or files", L},
	{"allowed-gadgets", 0, V, RUN_FLAG_ALLOWED_GADGETS, "LIST",
	 "run only these images: repo:tag, repo@sha256:..., or a prefix ending in '*' "
	 "(comma-separated, repeatable)",
	 L},
	{"disallow-pulling", 0, S, RUN_FLAG_DISALLOW_PULLING, NULL,
	 "never pull: run only what the image stores hold", L},

	{"help", 'h', S, RUN_FLAG_HELP, NULL, "show this help, with the gadget's params and fields",
	 0},
};

const size_t run_flags_table_len = sizeof(run_flags_table) / sizeof(run_flags_table[0]);

#undef L
#undef C
#undef V
#undef S
#undef R

static int flag_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int flag_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

struct base_opt_table run_flags_view(unsigned int client)
{
	return (struct base_opt_table){
		.opts = run_flags_table, .n = run_flags_table_len, .tags = client};
}

void run_flags_init(struct run_flags *f, const char *cmd)
{
	memset(f, 0, sizeof(*f));
	f->cmd = cmd;
	f->output = RUN_OUTPUT_COLUMNS;
	f->fetch_interval_ms = RUN_FLAGS_DEFAULT_FETCH_MS;
	f->verify_image = true;
}

void run_flags_done(struct run_flags *f)
{
	size_t i;

	run_selector_done(&f->sel);
	for (i = 0; i < f->n_filter_copies; i++)
		free(f->filter_copies[i]);
	f->n_filter_copies = 0;
}

static int add_filter(struct run_flags *f, const char *expr, char *copy, char *err, size_t errlen)
{
	if (f->n_filters == RUN_FLAGS_MAX_FILTERS) {
		free(copy);
		return flag_err(err, errlen, "too many filters (at most %d)",
				RUN_FLAGS_MAX_FILTERS);
	}
	if (copy)
		f->filter_copies[f->n_filter_copies++] = copy;
	f->filters[f->n_filters++] = copy ? copy : expr;
	return 0;
}

/*
 * One -F value: expressions separated by commas, Inspektor Gadget's
 * SplitStringWithEscape(): "\," is a comma and "\\" a backslash inside an
 * expression, any other backslash is kept with what follows; empty parts
 * are skipped.  A value without commas or escapes is used as it is.
 */
static int set_filters(struct run_flags *f, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	if (strlen(v) > RUN_PIPELINE_MAX_EXPR)
		return flag_err(err, errlen, "filter longer than %d bytes", RUN_PIPELINE_MAX_EXPR);
	if (!strpbrk(v, ",\\"))
		return add_filter(f, v, NULL, err, errlen);
	while (*p) {
		char *part = malloc(strlen(p) + 1), *o = part;
		int r;

		if (!part)
			return -ENOMEM;
		for (; *p && *p != ','; p++) {
			if (*p == '\\' && (p[1] == ',' || p[1] == '\\'))
				p++;
			*o++ = *p;
		}
		*o = '\0';
		if (*p == ',')
			p++;
		if (!*part) {
			free(part);
			continue;
		}
		r = add_filter(f, NULL, part, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int bad_value(const struct base_opt *o, const char *v, const char *why, char *err,
		     size_t errlen)
{
	return flag_err(err, errlen, "invalid value '%s' for %s%s%s", v, base_opt_spelling(o),
			why ? ": " : "", why ? why : "");
}

static int set_uint(const struct base_opt *o, const char *v, uint64_t max, uint64_t *ret, char *err,
		    size_t errlen)
{
	int r = base_parse_uint(v, max, ret);

	if (r == -ERANGE) {
		char why[64];

		snprintf(why, sizeof(why), "at most %llu", (unsigned long long)max);
		return bad_value(o, v, why, err, errlen);
	}
	return r < 0 ? bad_value(o, v, "not a whole number", err, errlen) : 0;
}

static int set_duration(const struct base_opt *o, const char *v, bool zero_ok, uint64_t *ret,
			char *err, size_t errlen)
{
	uint64_t ms;
	int r = base_parse_duration_ms(v, &ms);

	if (r < 0)
		return bad_value(
			o, v,
			"a duration is seconds (5) or a number with a unit (500ms, 10s, 2m, 1h)",
			err, errlen);
	if (!ms && !zero_ok)
		return bad_value(o, v, "must be more than 0", err, errlen);
	*ret = ms;
	return 0;
}

/* One run flag with its value; everything a client may type about a run. */
static int set_flag(struct run_flags *f, const struct base_opt *o, const char *v, char *err,
		    size_t errlen)
{
	uint64_t u;
	int r;

	switch ((enum run_flag_id)o->id) {
	case RUN_FLAG_OUTPUT:
		if (run_output_parse(v, &f->output) < 0)
			return bad_value(o, v, "one of columns, json, jsonpretty, yaml", err,
					 errlen);
		return 0;
	case RUN_FLAG_FIELDS:
		if (strlen(v) > RUN_PIPELINE_MAX_EXPR)
			return flag_err(err, errlen, "--fields longer than %d bytes",
					RUN_PIPELINE_MAX_EXPR);
		f->fields = v;
		return 0;
	case RUN_FLAG_FILTER:
		return set_filters(f, v, err, errlen);
	case RUN_FLAG_SORT:
		if (strlen(v) > RUN_PIPELINE_MAX_EXPR)
			return flag_err(err, errlen, "--sort longer than %d bytes",
					RUN_PIPELINE_MAX_EXPR);
		f->sort = v;
		return 0;
	case RUN_FLAG_MAX_ENTRIES:
		r = set_uint(o, v, UINT32_MAX, &u, err, errlen);
		if (!r)
			f->max_entries = (uint32_t)u;
		return r;
	case RUN_FLAG_FETCH_INTERVAL:
		r = set_duration(o, v, false, &f->fetch_interval_ms, err, errlen);
		f->fetch_interval_set = r == 0;
		return r;
	case RUN_FLAG_FETCH_COUNT:
		r = set_uint(o, v, UINT32_MAX, &u, err, errlen);
		if (!r)
			f->fetch_count = (uint32_t)u;
		return r;
	case RUN_FLAG_TIMEOUT:
		return set_duration(o, v, true, &f->timeout_ms, err, errlen);
	case RUN_FLAG_NO_HEADER:
		f->no_header = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_CONTAINERNAME:
		f->sel.container_name = v;
		return 0;
	case RUN_FLAG_K8S_NAMESPACE:
		f->sel.k8s_namespace = v;
		return 0;
	case RUN_FLAG_K8S_PODNAME:
	case RUN_FLAG_PODNAME:
		f->sel.k8s_podname = v;
		return 0;
	case RUN_FLAG_K8S_CONTAINERNAME:
	case RUN_FLAG_POD_CONTAINERNAME:
		f->sel.k8s_containername = v;
		return 0;
	case RUN_FLAG_K8S_SELECTOR:
	case RUN_FLAG_SELECTOR: {
		char why[256] = "";

		r = run_selector_set_labels(&f->sel, v, why, sizeof(why));
		if (r < 0)
			return bad_value(o, v, why[0] ? why : strerror(-r), err, errlen);
		return 0;
	}
	case RUN_FLAG_HOST:
		f->host = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_ALL_NAMESPACES:
		f->all_namespaces = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_ANNOTATE: {
		struct run_annotation a;

		if (f->n_annotate == RUN_FLAGS_MAX_ANNOTATIONS)
			return flag_err(err, errlen, "too many --annotate (at most %d)",
					RUN_FLAGS_MAX_ANNOTATIONS);
		r = run_annotate_parse(v, &a, err, errlen);
		if (r < 0)
			return r;
		f->annotate[f->n_annotate++] = v;
		return 0;
	}
	case RUN_FLAG_METRICS_NAME: {
		const char *name;
		char ds[256];

		if (f->n_metrics_names == RUN_FLAGS_MAX_ANNOTATIONS)
			return flag_err(err, errlen, "too many --otel-metrics-name (at most %d)",
					RUN_FLAGS_MAX_ANNOTATIONS);
		r = run_annotate_metrics_name(v, ds, sizeof(ds), &name, err, errlen);
		if (r < 0)
			return r;
		f->metrics_names[f->n_metrics_names++] = v;
		return 0;
	}
	case RUN_FLAG_METRICS_LISTEN:
		f->metrics_listen = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_METRICS_LISTEN_ADDRESS:
		if (!*v)
			return bad_value(o, v, "an address, host:port", err, errlen);
		f->metrics_listen_address = v;
		return 0;
	case RUN_FLAG_VERIFY_IMAGE:
		f->verify_image = !strcmp(v, "true");
		f->verify_image_set = true;
		return 0;
	case RUN_FLAG_PUBLIC_KEYS:
		if (!*v)
			return bad_value(o, v, "PEM public keys, or files holding them", err,
					 errlen);
		f->public_keys = v;
		return 0;
	case RUN_FLAG_ALLOWED_GADGETS:
		if (f->n_allowed_gadgets == RUN_FLAGS_MAX_ALLOWED)
			return flag_err(err, errlen, "too many --allowed-gadgets (at most %d)",
					RUN_FLAGS_MAX_ALLOWED);
		f->allowed_gadgets[f->n_allowed_gadgets++] = v;
		return 0;
	case RUN_FLAG_DISALLOW_PULLING:
		f->disallow_pulling = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_HELP:
		f->help = !strcmp(v, "true");
		return 0;
	case RUN_FLAG_CLIENT_FIRST:
		break;
	}
	return flag_err(err, errlen, "%s: not a run flag", base_opt_spelling(o));
}

static int keep_word(struct run_flags *f, int i, char *err, size_t errlen)
{
	if (f->n_words == RUN_FLAGS_MAX_WORDS)
		return flag_err(err, errlen, "too many arguments (at most %d)",
				RUN_FLAGS_MAX_WORDS);
	f->words[f->n_words++] = i;
	return 0;
}

int run_flags_parse(struct run_flags *f, unsigned int client, const struct base_opt_table *extra,
		    size_t n_extra, run_flags_client_fn fn, void *ctx, int argc, char *const *argv,
		    char *err, size_t errlen)
{
	struct base_opt_table t[8];
	size_t nt = 0, k;
	int i, r;

	if (n_extra + 1 > sizeof(t) / sizeof(t[0]))
		return flag_err(err, errlen, "too many option tables");
	t[nt++] = run_flags_view(client);
	for (k = 0; k < n_extra; k++)
		t[nt++] = extra[k];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		const struct base_opt *o = NULL;

		r = base_opt_next(t, nt, argc, argv, &i, &o, &v, err, errlen);
		if (r < 0)
			return r;
		switch (r) {
		case BASE_OPT_MATCHED:
			if (o->id >= RUN_FLAG_CLIENT_FIRST)
				r = fn ? fn(ctx, o, v, err, errlen)
				       : flag_err(err, errlen, "%s: not handled",
						  base_opt_spelling(o));
			else
				r = set_flag(f, o, v, err, errlen);
			if (r < 0)
				return r;
			break;
		case BASE_OPT_END:
			for (i++; i < argc; i++) {
				if (!f->gadget)
					f->gadget = argv[i];
				else if ((r = keep_word(f, i, err, errlen)) < 0)
					return r;
			}
			break;
		case BASE_OPT_WORD:
			if (!f->gadget)
				f->gadget = a;
			else if ((r = keep_word(f, i, err, errlen)) < 0)
				return r;
			break;
		case BASE_OPT_UNKNOWN:
			/*
			 * A gadget param is a long option, or on a host a
			 * one-letter short one when gadget.yaml gives it an
			 * alias (-k).  A cluster client learns the params from
			 * the agents: an unknown short option there stays the
			 * usage error it always was.
			 */
			if (a[1] != '-' && (a[2] || client != RUN_FLAGS_LOCAL)) {
				run_flags_unknown(f->cmd, f->gadget, a, strlen(a), err, errlen);
				return -EINVAL;
			}
			if (f->n_unknown == RUN_FLAGS_MAX_WORDS)
				return flag_err(err, errlen, "too many arguments (at most %d)",
						RUN_FLAGS_MAX_WORDS);
			{
				const char *name = a + (a[1] == '-' ? 2 : 1),
					   *eq = strchr(name, '=');

				f->unknown[f->n_unknown].name = name;
				f->unknown[f->n_unknown].len =
					eq ? (size_t)(eq - name) : strlen(name);
				f->unknown[f->n_unknown].value = eq ? eq + 1 : NULL;
				f->unknown[f->n_unknown].argi = i;
				f->n_unknown++;
			}
			break;
		}
	}
	return 0;
}

void run_flags_unknown(const char *cmd, const char *gadget, const char *opt, size_t len, char *err,
		       size_t errlen)
{
	if (gadget)
		snprintf(err, errlen,
			 "unknown option '%.*s' (see '%s %s --help' for the run flags and the "
			 "gadget's params)",
			 (int)len, opt, cmd, gadget);
	else
		snprintf(err, errlen, "unknown option '%.*s' (see '%s --help')", (int)len, opt,
			 cmd);
}

/* key, with '-' and '_' alike: --target-syscall and --target_syscall are one param */
static bool key_is(const char *key, const char *name, size_t len)
{
	size_t i;

	if (!key || strlen(key) != len)
		return false;
	for (i = 0; i < len; i++) {
		char a = key[i] == '_' ? '-' : key[i], b = name[i] == '_' ? '-' : name[i];

		if (a != b)
			return false;
	}
	return true;
}

/* Takes the plain word at argv index i as a param's value, if it is one. */
static bool take_word(struct run_flags *f, int i)
{
	size_t k;

	for (k = 0; k < f->n_words; k++) {
		if (f->words[k] == i) {
			f->words[k] = -1;
			return true;
		}
	}
	return false;
}

int run_flags_params(struct run_flags *f, const struct run_runner_param_info *const *params,
		     size_t n, int argc, char *const *argv, char *err, size_t errlen)
{
	size_t i, k;

	f->n_params = 0;
	for (i = 0; i < f->n_unknown; i++) {
		const char *name = f->unknown[i].name, *v = f->unknown[i].value;
		size_t len = f->unknown[i].len;
		int argi = f->unknown[i].argi;
		const struct run_runner_param_info *p = NULL;

		if (argv[argi][1] != '-') {
			/* -k: a param's one-letter alias */
			for (k = 0; k < n && !p; k++)
				if (params[k]->alias && key_is(params[k]->alias, name, len))
					p = params[k];
		} else {
			for (k = 0; k < n && !p; k++)
				if (key_is(params[k]->key, name, len))
					p = params[k];
			for (k = 0; k < n && !p; k++)
				if (key_is(params[k]->name, name, len))
					p = params[k];
			for (k = 0; k < n && !p; k++)
				if (key_is(params[k]->compat_key, name, len))
					p = params[k];
		}
		if (!p) {
			run_flags_unknown(f->cmd, f->gadget, argv[argi], strcspn(argv[argi], "="),
					  err, errlen);
			return -EINVAL;
		}
		if (!v && p->type == BPF_GADGET_PARAM_BOOL) {
			bool b;

			/* a bare boolean turns it on; "--x false" reads too */
			v = "true";
			if (argi + 1 < argc && base_opt_parse_bool(argv[argi + 1], &b) == 0 &&
			    take_word(f, argi + 1))
				v = argv[argi + 1];
		} else if (!v) {
			/*
			 * The value is the next word, or the next unknown short
			 * option when that is what it looked like: a negative
			 * number (--ifindex -1) is the param's value, not an alias.
			 */
			if (argi + 1 < argc && i + 1 < f->n_unknown &&
			    f->unknown[i + 1].argi == argi + 1 && argv[argi + 1][1] != '-') {
				v = argv[argi + 1];
				i++;
			} else if (argi + 1 >= argc || !take_word(f, argi + 1)) {
				return flag_err(err, errlen, "param --%s needs a value", p->key);
			} else {
				v = argv[argi + 1];
			}
		}
		for (k = 0; k < f->n_params; k++)
			if (!strcmp(f->params[k].key, p->key))
				break;
		if (k == f->n_params) {
			if (k == RUN_FLAGS_MAX_PARAMS)
				return flag_err(err, errlen, "too many params (at most %d)",
						RUN_FLAGS_MAX_PARAMS);
			f->params[k].key = p->key;
			f->n_params++;
		}
		/* the last one given wins, like repeated flags usually do */
		f->params[k].value = v;
	}
	for (k = 0; k < f->n_words; k++)
		if (f->words[k] >= 0)
			return flag_err(err, errlen,
					"unexpected argument '%s' (one gadget per run)",
					argv[f->words[k]]);
	return 0;
}
