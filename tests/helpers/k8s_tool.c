// SPDX-License-Identifier: Apache-2.0
/*
 * k8s_tool: a small driver for the Kubernetes client library, for the
 * integration tests (tests/integration/test_k8s_client.py).
 *
 *   k8s_tool [global options] get PATH [--repeat N] [--every MS]
 *       prints the object as one line of JSON (N times, MS apart, in one
 *       process: credentials are cached between the requests)
 *   k8s_tool [global options] list PATH [--limit N] [--field-selector S]
 *                                      [--label-selector S]
 *       prints "namespace/name" per item, then "RV <resourceVersion>"
 *   k8s_tool [global options] cache KIND|PATH [--field-selector S]
 *                 [--label-selector S] [--for SECONDS] [--resolve-owners]
 *                 [--ttl-ms N] [--limit N] [--backoff-max-ms N] [--watch-timeout S]
 *       runs a cache; prints "SYNCED" once listed, then one line per handler
 *       call ("ADD ns/name rv", "UPDATE ns/name rv", "DELETE ns/name rv") and,
 *       on SIGUSR1 and at exit, the contents between "DUMP BEGIN" and
 *       "DUMP END" followed by a "STATS ..." line
 *   k8s_tool [global options] enrich (--ip IP | --pod NS/NAME | --container-id ID)
 *       caches pods (owners resolved), services and nodes, and prints what
 *       the key leads to: "kind=Pod namespace=.. name=.. labels=.. owner=K/N"
 *
 * Global options: --kubeconfig F, --context C, --in-cluster, --root DIR
 * (in-cluster files prefix), --token-recheck SECONDS, -v (debug log).
 * Errors are printed once as "k8s_tool: error: <reason>", exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "k8s/cache.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/enrich.h"

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t got_dump, got_stop;

struct tool {
	struct k8s_config_opts cfg_opts;
	struct k8s_config *cfg;
	struct k8s_client *client;
};

static void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void tool_error(const char *fmt, ...)
{
	va_list ap;

	fputs("k8s_tool: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int tool_uint(const char *s, unsigned long max, unsigned int *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		tool_error("bad number \"%s\"", s);
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

static int cmd_get(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"repeat", required_argument, NULL, 'n'},
		{"every", required_argument, NULL, 'e'},
		{0},
	};
	unsigned int repeat = 1, every_ms = 0;
	char err[K8S_CLIENT_ERRLEN];
	int c;

	optind = 0; /* 0: glibc re-initialises, dropping the global parse's "+" */
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (tool_uint(optarg, 1000, &repeat) < 0)
				return 2;
			break;
		case 'e':
			if (tool_uint(optarg, 600000, &every_ms) < 0)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		tool_error("usage: get PATH [--repeat N] [--every MS]");
		return 2;
	}
	for (unsigned int i = 0; i < repeat; i++) {
		struct timespec ts = {.tv_sec = every_ms / 1000,
				      .tv_nsec = (long)(every_ms % 1000) * 1000000L};
		json_t *j = NULL;
		char *s;
		int r;

		if (i && every_ms)
			nanosleep(&ts, NULL);
		r = k8s_client_get(t->client, argv[optind], &j, err, sizeof(err));
		if (r < 0) {
			tool_error("%s", err);
			return 1;
		}
		s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		out("%s\n", s ? s : "null");
		free(s);
		json_decref(j);
	}
	return 0;
}

static int list_print(void *userdata, json_t *item)
{
	json_t *meta = json_object_get(item, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	out("%s%s%s\n", ns ? ns : "", ns ? "/" : "", name ? name : "?");
	return 0;
}

static int cmd_list(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"limit", required_argument, NULL, 'l'},
		{"field-selector", required_argument, NULL, 'f'},
		{"label-selector", required_argument, NULL, 's'},
		{0},
	};
	struct k8s_client_list_opts lo = {0};
	char err[K8S_CLIENT_ERRLEN], *rv = NULL;
	int c, r;

	optind = 0; /* 0: glibc re-initialises, dropping the global parse's "+" */
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (tool_uint(optarg, 100000, &lo.limit) < 0)
				return 2;
			break;
		case 'f':
			lo.field_selector = optarg;
			break;
		case 's':
			lo.label_selector = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		tool_error(
			"usage: list PATH [--limit N] [--field-selector S] [--label-selector S]");
		return 2;
	}
	r = k8s_client_list(t->client, argv[optind], &lo, list_print, NULL, &rv, err, sizeof(err));
	if (r < 0) {
		tool_error("%s", err);
		return 1;
	}
	out("RV %s\n", rv ? rv : "");
	free(rv);
	return 0;
}

static const char *kind_path(const char *kind)
{
	if (kind[0] == '/')
		return kind;
	if (!strcmp(kind, "pods"))
		return "/api/v1/pods";
	if (!strcmp(kind, "services"))
		return "/api/v1/services";
	if (!strcmp(kind, "namespaces"))
		return "/api/v1/namespaces";
	if (!strcmp(kind, "nodes"))
		return "/api/v1/nodes";
	return NULL;
}

static void on_add(void *userdata, const struct k8s_cache_obj *o)
{
	out("ADD %s %s\n", o->key, o->resource_version);
}

static void on_update(void *userdata, const struct k8s_cache_obj *old,
		      const struct k8s_cache_obj *o)
{
	out("UPDATE %s %s\n", o->key, o->resource_version);
}

static void on_delete(void *userdata, const struct k8s_cache_obj *o)
{
	out("DELETE %s %s\n", o->key, o->resource_version);
}

static void print_obj(const struct k8s_cache_obj *o)
{
	printf("OBJ %s %s uid=%s labels=%s owner=%s/%s node=%s hostNetwork=%d deleted=%d ips=",
	       o->key, o->resource_version, o->uid, o->labels, o->owner_kind, o->owner_name,
	       o->node, o->host_network, k8s_cache_obj_deleted(o));
	for (size_t i = 0; i < o->n_ips; i++)
		printf("%s%s", i ? "," : "", o->ips[i]);
	printf(" containers=");
	for (size_t i = 0; i < o->n_containers; i++)
		printf("%s%s:%s", i ? "," : "", o->containers[i].name, o->containers[i].id);
	printf("\n");
}

static int dump_one(void *userdata, const struct k8s_cache_obj *o)
{
	print_obj(o);
	return 0;
}

static void dump(struct k8s_cache *cache)
{
	struct k8s_watch_stats st;

	k8s_cache_get_stats(cache, &st);
	pthread_mutex_lock(&print_lock);
	printf("DUMP BEGIN\n");
	k8s_cache_foreach(cache, dump_one, NULL);
	printf("DUMP END\n");
	printf("STATS lists=%llu list_errors=%llu relists_gone=%llu watches=%llu "
	       "reconnects=%llu events=%llu stale_events=%llu bookmarks=%llu decode_errors=%llu "
	       "partial_dropped=%llu\n",
	       (unsigned long long)st.lists, (unsigned long long)st.list_errors,
	       (unsigned long long)st.relists_gone, (unsigned long long)st.watches,
	       (unsigned long long)st.reconnects, (unsigned long long)st.events,
	       (unsigned long long)st.stale_events, (unsigned long long)st.bookmarks,
	       (unsigned long long)st.decode_errors, (unsigned long long)st.partial_dropped);
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_dump = 1;
	else
		got_stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_cache(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"field-selector", required_argument, NULL, 'f'},
		{"label-selector", required_argument, NULL, 's'},
		{"for", required_argument, NULL, 't'},
		{"resolve-owners", no_argument, NULL, 'o'},
		{"ttl-ms", required_argument, NULL, 'T'},
		{"limit", required_argument, NULL, 'l'},
		{"backoff-max-ms", required_argument, NULL, 'b'},
		{"watch-timeout", required_argument, NULL, 'w'},
		{0},
	};
	struct k8s_cache_opts co = {.client = t->client};
	struct k8s_cache *cache = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	char err[512];
	unsigned int seconds = 0;
	double end;
	int c, r;

	optind = 0; /* 0: glibc re-initialises, dropping the global parse's "+" */
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			co.field_selector = optarg;
			break;
		case 's':
			co.label_selector = optarg;
			break;
		case 't':
			if (tool_uint(optarg, 86400, &seconds) < 0)
				return 2;
			break;
		case 'o':
			co.resolve_owners = true;
			break;
		case 'T':
			if (tool_uint(optarg, 3600000, &co.deleted_ttl_ms) < 0)
				return 2;
			break;
		case 'l':
			if (tool_uint(optarg, 100000, &co.page_limit) < 0)
				return 2;
			break;
		case 'b':
			if (tool_uint(optarg, 600000, &co.backoff_max_ms) < 0)
				return 2;
			break;
		case 'w':
			if (tool_uint(optarg, 3600, &co.watch_timeout_s) < 0)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !(co.path = kind_path(argv[optind]))) {
		tool_error("usage: cache pods|services|namespaces|nodes|PATH [options]");
		return 2;
	}
	if (co.backoff_max_ms && co.backoff_max_ms < K8S_WATCH_BACKOFF_INITIAL_MS)
		co.backoff_initial_ms = co.backoff_max_ms;
	co.handlers = (struct k8s_cache_handlers){on_add, on_update, on_delete, NULL};
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	r = k8s_cache_new(&co, &cache);
	if (r < 0) {
		tool_error("cache %s: %s", co.path, strerror(-r));
		return 1;
	}
	r = k8s_cache_wait_synced(cache, 30000, err, sizeof(err));
	if (r < 0) {
		tool_error("%s", err);
		k8s_cache_free(cache);
		return 1;
	}
	out("SYNCED\n");
	end = now_s() + seconds;
	while (!got_stop && (!seconds || now_s() < end)) {
		struct timespec ts = {0, 20 * 1000000L};

		if (got_dump) {
			got_dump = 0;
			dump(cache);
		}
		nanosleep(&ts, NULL);
	}
	dump(cache);
	k8s_cache_free(cache);
	return 0;
}

static void print_result(const char *via, const struct k8s_cache_obj *o)
{
	out("kind=%s namespace=%s name=%s labels=%s owner=%s/%s node=%s deleted=%d via=%s\n",
	    k8s_enrich_kind_name(o->kind), o->namespace, o->name, o->labels, o->owner_kind,
	    o->owner_name, o->node, k8s_cache_obj_deleted(o), via);
}

static int cmd_enrich(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"ip", required_argument, NULL, 'i'},
		{"pod", required_argument, NULL, 'p'},
		{"container-id", required_argument, NULL, 'c'},
		{0},
	};
	static const char *const paths[] = {"/api/v1/pods", "/api/v1/services", "/api/v1/nodes"};
	struct k8s_cache *caches[3] = {0};
	struct k8s_enrich_opts eo;
	struct k8s_enrich *e = NULL;
	const char *ip = NULL, *pod = NULL, *cid = NULL;
	struct k8s_cache_obj *o = NULL;
	char err[512];
	int c, r, ret = 1;

	optind = 0; /* 0: glibc re-initialises, dropping the global parse's "+" */
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ip = optarg;
			break;
		case 'p':
			pod = optarg;
			break;
		case 'c':
			cid = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc || !!ip + !!pod + !!cid != 1) {
		tool_error("usage: enrich --ip IP | --pod NS/NAME | --container-id ID");
		return 2;
	}
	for (size_t i = 0; i < 3; i++) {
		struct k8s_cache_opts co = {
			.client = t->client,
			.path = paths[i],
			.resolve_owners = i == 0,
		};

		r = k8s_cache_new(&co, &caches[i]);
		if (r == 0)
			r = k8s_cache_wait_synced(caches[i], 30000, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "cache %s: %s", paths[i], strerror(-r));
		if (r < 0) {
			tool_error("%s", err);
			goto out;
		}
	}
	eo = (struct k8s_enrich_opts){caches[0], caches[1], caches[2]};
	if (k8s_enrich_new(&eo, &e) < 0) {
		tool_error("out of memory");
		goto out;
	}
	if (ip) {
		o = k8s_enrich_ip(e, ip);
	} else if (pod) {
		const char *slash = strchr(pod, '/');
		char ns[256];

		if (!slash || (size_t)(slash - pod) >= sizeof(ns)) {
			tool_error("--pod wants NAMESPACE/NAME");
			goto out;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pod), pod);
		o = k8s_enrich_pod(e, ns, slash + 1);
	} else {
		o = k8s_enrich_container(e, cid);
	}
	if (!o) {
		tool_error("nothing found for %s", ip ? ip : pod ? pod : cid);
		goto out;
	}
	print_result(ip ? "ip" : pod ? "pod" : "container-id", o);
	k8s_cache_obj_unref(o);
	ret = 0;
out:
	k8s_enrich_free(e);
	for (size_t i = 0; i < 3; i++)
		k8s_cache_free(caches[i]);
	return ret;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: k8s_tool [--kubeconfig F] [--context C] [--in-cluster] [--root DIR]\n"
		"                [--token-recheck S] [-v] get|list|cache|enrich ...\n");
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"in-cluster", no_argument, NULL, 'i'},
		{"root", required_argument, NULL, 'r'},
		{"token-recheck", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{0},
	};
	struct tool t = {0};
	char err[512];
	int c, r, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the subcommand's own options start at its name */
	while ((c = getopt_long(argc, argv, "+v", gopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			t.cfg_opts.kubeconfig = optarg;
			break;
		case 'c':
			t.cfg_opts.context = optarg;
			break;
		case 'i':
			t.cfg_opts.in_cluster = true;
			break;
		case 'r':
			t.cfg_opts.root = optarg;
			break;
		case 't':
			if (tool_uint(optarg, 86400, &t.cfg_opts.token_recheck_s) < 0)
				return 2;
			break;
		case 'v':
			base_log_set_level(BASE_LOG_DEBUG);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind >= argc) {
		usage();
		return 2;
	}
	r = k8s_config_load(&t.cfg_opts, &t.cfg, err, sizeof(err));
	if (r < 0) {
		tool_error("%s", err);
		return 1;
	}
	r = k8s_client_new(t.cfg, NULL, &t.client);
	if (r < 0) {
		tool_error("client: %s", strerror(-r));
		k8s_config_free(t.cfg);
		return 1;
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "get")) {
		ret = cmd_get(&t, argc, argv);
	} else if (!strcmp(argv[0], "list")) {
		ret = cmd_list(&t, argc, argv);
	} else if (!strcmp(argv[0], "cache")) {
		ret = cmd_cache(&t, argc, argv);
	} else if (!strcmp(argv[0], "enrich")) {
		ret = cmd_enrich(&t, argc, argv);
	} else {
		usage();
		ret = 2;
	}
	k8s_client_free(t.client);
	k8s_config_free(t.cfg);
	return ret;
}
