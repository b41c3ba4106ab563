// SPDX-License-Identifier: Apache-2.0
/*
 * The gadget agent's event loop and lifecycle.  See daemon.h.
 *
 * The loop owns one epoll set and a handful of parts, each with its own fd
 * (or epoll set) that the loop polls and hands back to it when readable:
 *
 *   agent/run.h         the table of runs: ring buffers, fetch and timeout
 *                       timers, the drain tick; batching and streaming
 *   agent/requests.h    one handler per control API request
 *   agent/instances.h   detached instances: ConfigMaps or files, reconcile
 *   agent/worker.h      the worker threads, whose completions come back here
 *   agent/containers.h  the CRI runtimes and their containers
 *   agent/server.h      the control API sessions
 *   agent/health.h      /healthz, /readyz, /metrics (agent/metrics.h)
 *
 * This file builds them in order, wires their callbacks to each other,
 * keeps the Kubernetes client and the pods cache the enrichment reads,
 * dispatches the fds, and takes everything down in the documented order.
 */
#include "agent/daemon.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/budget.h"
#include "agent/config.h"
#include "agent/containers.h"
#include "agent/health.h"
#include "agent/image.h"
#include "agent/instances.h"
#include "agent/metrics.h"
#include "agent/requests.h"
#include "agent/run.h"
#include "agent/server.h"
#include "agent/worker.h"
#include "base/buf.h"
#include "base/cgroup.h"
#include "base/log.h"
#include "base/time.h"
#include "cri/collection.h"
#include "k8s/cache.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/enrich.h"

#define END(x)	   GADGET__AGENT__V1__RUN_END_REASON__RUN_END_##x
#define N_WORKERS  2
#define MAX_EVENTS 32

/* What an event of the loop's epoll set is about. */
enum src_kind {
	SRC_SIGNAL = 1,
	SRC_RETRY,
	SRC_JOBS,
	SRC_INSTANCES,
	SRC_SERVER,
	SRC_HEALTH,
	SRC_GADGET_METRICS,
	SRC_COLL,
	SRC_RUNS,
};

struct agent_daemon {
	const struct agent_config *cfg;
	char *node, *version, *state_dir, *unix_path, *logs_dir;
	char *host_root; /* "" for "/" */
	int64_t started_ms;
	int ep, sig_fd, retry_fd;
	bool stopping;
	bool host_service;
	struct agent_image_opts img_opts;
	struct agent_metrics *metrics;
	struct agent_worker_pool *pool;
	struct agent_containers *containers;
	struct agent_server *srv;
	struct agent_health *health;
	struct agent_health *gadget_metrics; /* otel-metrics-listen: the runs' metrics */
	/* memory for what clients and gadgets make the agent hold (agent/budget.h) */
	struct agent_budget *budget_tcp, *budget_unix, *budget_replay, *budget_gadgets;

	/* Kubernetes */
	struct k8s_config *kcfg;
	struct k8s_client *kc;
	struct k8s_cache *pods;
	struct k8s_enrich *kenrich;
	/* started by the first run with endpoint fields: cluster-wide services and nodes */
	struct k8s_cache *services, *nodes;
	struct k8s_enrich *kenrich_l4;
	_Atomic uint64_t pods_last_event_ms;

	struct agent_run_table *runs;
	struct agent_instances *insts;
	struct agent_requests *reqs;
};

/* ------------------------------------------------------------ small helpers */

static int ep_add(struct agent_daemon *d, int fd, enum src_kind kind)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = kind};

	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static char *path_join(const char *root, const char *path)
{
	char *p;

	if (asprintf(&p, "%s%s", root, path) < 0)
		return NULL;
	return p;
}

/* ------------------------------------------------------------ Kubernetes */

static void pods_touch(void *userdata)
{
	struct agent_daemon *d = userdata;

	atomic_store(&d->pods_last_event_ms, base_time_mono_ms());
}

static void pods_on_add(void *userdata, const struct k8s_cache_obj *o)
{
	pods_touch(userdata);
}

static void pods_on_update(void *userdata, const struct k8s_cache_obj *old,
			   const struct k8s_cache_obj *o)
{
	pods_touch(userdata);
}

static void pods_on_delete(void *userdata, const struct k8s_cache_obj *o)
{
	pods_touch(userdata);
}

static int k8s_setup(struct agent_daemon *d, char *err, size_t errlen)
{
	struct k8s_client_opts co = {.timeout_ms = 15000};
	struct k8s_cache_opts po = {0};
	char ua[128], field[320];
	struct k8s_enrich_opts eo = {0};
	int rc;

	snprintf(ua, sizeof(ua), "gadget-agent/%s", d->version);
	co.user_agent = ua;
	rc = k8s_client_new(d->kcfg, &co, &d->kc);
	if (rc < 0) {
		snprintf(err, errlen, "Kubernetes client for %s: %s", k8s_config_server(d->kcfg),
			 strerror(-rc));
		return rc;
	}
	snprintf(field, sizeof(field), "spec.nodeName=%s", d->node);
	po.client = d->kc;
	po.path = "/api/v1/pods";
	po.field_selector = field;
	po.resolve_owners = true;
	po.handlers.on_add = pods_on_add;
	po.handlers.on_update = pods_on_update;
	po.handlers.on_delete = pods_on_delete;
	po.handlers.userdata = d;
	rc = k8s_cache_new(&po, &d->pods);
	if (rc < 0) {
		snprintf(err, errlen, "pods cache: %s", strerror(-rc));
		return rc;
	}
	eo.pods = d->pods;
	rc = k8s_enrich_new(&eo, &d->kenrich);
	if (rc < 0) {
		snprintf(err, errlen, "Kubernetes enrichment: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/*
 * The enrichment of endpoint fields needs every service and node of the
 * cluster: those caches start with the first run that has such a field, so
 * an agent that never runs one does not hold them.
 */
static struct k8s_enrich *k8s_enrich_l4(void *ctx)
{
	struct agent_daemon *d = ctx;
	struct k8s_cache_opts co = {.client = d->kc};
	struct k8s_enrich_opts eo;
	int rc = 0;

	if (d->kenrich_l4)
		return d->kenrich_l4;
	co.path = "/api/v1/services";
	if (!d->services)
		rc = k8s_cache_new(&co, &d->services);
	co.path = "/api/v1/nodes";
	if (!rc && !d->nodes)
		rc = k8s_cache_new(&co, &d->nodes);
	eo = (struct k8s_enrich_opts){.pods = d->pods, .services = d->services, .nodes = d->nodes};
	if (!rc)
		rc = k8s_enrich_new(&eo, &d->kenrich_l4);
	if (rc < 0) {
		base_log_warn("agent: services and nodes caches: %s", strerror(-rc));
		return d->kenrich;
	}
	base_log_info("agent: watching services and nodes for endpoint fields");
	return d->kenrich_l4;
}

/* ------------------------------------------------------------ containers */

static int coll_watch(void *ctx, int fd)
{
	struct agent_daemon *d = ctx;

	return ep_add(d, fd, SRC_COLL);
}

/* A runtime that answers now also starts the instances that waited for one. */
static void coll_try(struct agent_daemon *d)
{
	if (agent_containers_try(d->containers) <= 0)
		return;
	base_time_timer_set(d->retry_fd, 0, 0);
	if (d->insts)
		agent_instances_retry(d->insts);
}

/* ------------------------------------------------------------ sessions */

static void on_request(void *ctx, struct agent_session *s, const Gadget__Agent__V1__Request *req)
{
	struct agent_daemon *d = ctx;

	agent_requests_handle(d->reqs, s, req);
}

/* A session with a run or an attach is not idle, whatever it sends. */
static bool on_busy(void *ctx, struct agent_session *s)
{
	struct agent_daemon *d = ctx;

	return d->runs && agent_run_table_session_busy(d->runs, s);
}

/* The session is gone: its runs stop, its attaches detach. */
static void on_closed(void *ctx, struct agent_session *s)
{
	struct agent_daemon *d = ctx;

	/* sessions close when the server is freed, after the runs */
	if (d->runs)
		agent_run_table_drop_session(d->runs, s);
}

/* ------------------------------------------------------------ health */

static int on_metrics(void *ctx, struct base_buf *b)
{
	struct agent_daemon *d = ctx;
	struct agent_metrics_cache rows[2] = {{.what = "pods"}, {.what = "configmaps"}};
	struct agent_server_stats ss;
	struct cri_collection *coll = agent_containers_collection(d->containers);
	struct agent_metrics_node n = {0};

	agent_server_get_stats(d->srv, &ss);
	n.runs = agent_run_table_streaming(d->runs);
	n.version = d->version;
	n.node = d->node;
	n.started_ms = d->started_ms;
	n.instances = agent_instances_count(d->insts, true);
	n.containers = coll ? cri_collection_count(coll) : 0;
	n.clients = ss.sessions;
	n.client_records_dropped = ss.records_dropped;
	n.sessions_tcp = ss.sessions_tcp;
	n.sessions_unix = ss.sessions_unix;
	n.sessions_refused = ss.sessions_refused;
	n.hello_timeouts = ss.hello_timeouts;
	n.idle_timeouts = ss.idle_timeouts;
	n.budgets[0] = d->budget_tcp;
	n.budgets[1] = d->budget_unix;
	n.budgets[2] = d->budget_replay;
	n.budgets[3] = d->budget_gadgets;
	n.n_budgets = d->budget_gadgets ? 4 : 3;
	if (d->kc) {
		k8s_cache_get_stats(d->pods, &rows[0].st);
		rows[0].synced = k8s_cache_synced(d->pods);
		rows[0].last_ms = atomic_load(&d->pods_last_event_ms);
		agent_instances_watch_stats(d->insts, &rows[1].st, &rows[1].synced,
					    &rows[1].last_ms);
		n.caches = rows;
		n.n_caches = 2;
	}
	return agent_metrics_write(d->metrics, &n, b);
}

static bool on_ready(void *ctx, char *why, size_t len)
{
	struct agent_daemon *d = ctx;

	if (!agent_containers_collection(d->containers)) {
		char tried[512];

		agent_containers_tried(d->containers, tried, sizeof(tried));
		snprintf(why, len, "no container runtime answers (tried %s)", tried);
		return false;
	}
	if (d->pods && !k8s_cache_synced(d->pods)) {
		snprintf(why, len, "the pods of node %s are not listed yet from %s", d->node,
			 k8s_config_server(d->kcfg));
		return false;
	}
	return agent_instances_ready(d->insts, why, len);
}

/* ------------------------------------------------------------ setup */

/* The loop's own fds, and the workers whose completions it takes. */
static int loop_setup(struct agent_daemon *d, char *err, size_t errlen)
{
	sigset_t mask;
	int rc;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->ep < 0 || d->sig_fd < 0 || d->retry_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return rc;
	}
	if ((rc = agent_worker_pool_new(&d->pool)) < 0 ||
	    (rc = ep_add(d, d->sig_fd, SRC_SIGNAL)) < 0 ||
	    (rc = ep_add(d, d->retry_fd, SRC_RETRY)) < 0 ||
	    (rc = ep_add(d, agent_worker_pool_fd(d->pool), SRC_JOBS)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return rc;
	}
	rc = agent_worker_pool_start(d->pool, N_WORKERS);
	if (rc < 0)
		snprintf(err, errlen, "worker threads: %s", strerror(-rc));
	return rc;
}

/* /metrics of the gadget metrics port: what the runs export, written on the loop. */
static int on_gadget_metrics(void *ctx, struct base_buf *out)
{
	struct agent_daemon *d = ctx;

	return agent_run_table_write_metrics(d->runs, out);
}

static void mib(uint64_t bytes, char *out, size_t len)
{
	snprintf(out, len, "%.1f MiB", (double)bytes / (1 << 20));
}

/*
 * The memory budgets, from memoryBudget or else half the cgroup's memory
 * limit (the other half is the agent itself, libbpf and the gadgets' maps,
 * which the kernel charges to the same cgroup).  TCP clients get half of
 * it, the unix socket and the instances' replays a quarter each.  Loaded
 * gadgets get the other half less what the agent and libbpf take for
 * themselves; without a limit or memoryBudget, they are not counted.
 */
static int budgets_setup(struct agent_daemon *d, char *err, size_t errlen)
{
	uint64_t limit = 0, total = d->cfg->memory_budget;
	char a[32], b[32], c[32], l[32];
	const char *why = "memoryBudget";
	int rc;

	if (!total) {
		rc = base_cgroup_memory_limit(NULL, NULL, &limit);
		if (rc == 0) {
			total = limit / 2;
			why = "half the cgroup's memory limit";
		} else {
			total = AGENT_DAEMON_DEFAULT_BUDGET;
			why = "no memory limit found: the default";
		}
		if (total < AGENT_CONFIG_MIN_BUDGET)
			total = AGENT_CONFIG_MIN_BUDGET;
	}
	if ((rc = agent_budget_new("tcp", total / 2, &d->budget_tcp)) < 0 ||
	    (rc = agent_budget_new("unix", total / 4, &d->budget_unix)) < 0 ||
	    (rc = agent_budget_new("replay", total / 4, &d->budget_replay)) < 0 ||
	    ((limit || d->cfg->memory_budget) &&
	     (rc = agent_budget_new("gadgets",
				    total > AGENT_DAEMON_SELF_BYTES + AGENT_DAEMON_MIN_GADGET_BYTES
					    ? total - AGENT_DAEMON_SELF_BYTES
					    : AGENT_DAEMON_MIN_GADGET_BYTES,
				    &d->budget_gadgets)) < 0)) {
		snprintf(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	mib(total / 2, a, sizeof(a));
	mib(total / 4, b, sizeof(b));
	mib(total / 4, c, sizeof(c));
	mib(limit, l, sizeof(l));
	base_log_info("agent: memory budget %s for TCP clients, %s for the unix socket, %s for "
		      "replays (%s%s%s)",
		      a, b, c, why, limit ? " of " : "", limit ? l : "");
	if (d->budget_gadgets)
		base_log_info("agent: at most %zu gadgets loaded at once (%zu MiB, %u MiB each)",
			      agent_budget_limit(d->budget_gadgets) / AGENT_RUN_GADGET_BYTES,
			      agent_budget_limit(d->budget_gadgets) >> 20,
			      AGENT_RUN_GADGET_BYTES >> 20);
	return 0;
}

/* The control API (TCP and the unix socket) and the health port. */
static int listeners_setup(struct agent_daemon *d, char *err, size_t errlen)
{
	struct agent_server_opts so = {
		/* the host service never listens on TCP: the unix socket is its access control */
		.tcp_address = d->host_service ? NULL : d->cfg->listen_address,
		.max_queue_records = d->cfg->queue_max_records,
		.node = d->node,
		.version = d->version,
		.tcp_budget = d->budget_tcp,
		.unix_budget = d->budget_unix,
		.hello_timeout_ms = d->cfg->hello_timeout_ms,
		.idle_timeout_ms = d->cfg->idle_timeout_ms,
		.ops = {.request = on_request, .closed = on_closed, .busy = on_busy, .ctx = d},
	};
	struct agent_health_ops ho = {.metrics = on_metrics, .ready = on_ready, .ctx = d};
	int rc;

	if (d->cfg->listen_unix[0]) {
		d->unix_path = path_join(d->host_root, d->cfg->listen_unix);
		if (!d->unix_path)
			return -ENOMEM;
	}
	so.unix_path = d->unix_path;
	rc = agent_config_unix_group(d->cfg, &so.unix_gid, err, errlen);
	if (rc < 0)
		return rc;
	rc = agent_server_new(&so, &d->srv, err, errlen);
	if (rc < 0)
		return rc;
	rc = ep_add(d, agent_server_fd(d->srv), SRC_SERVER);
	if (rc < 0 || d->host_service)
		return rc;
	rc = agent_health_new(d->cfg->health_address, &ho, &d->health, err, errlen);
	if (rc < 0)
		return rc;
	rc = ep_add(d, agent_health_fd(d->health), SRC_HEALTH);
	if (rc < 0 || !d->cfg->metrics_listen)
		return rc;
	/*
	 * Gadget metrics on a port of their own (Inspektor Gadget's 2224), apart
	 * from the agent's own health metrics: a scrape job for the one never
	 * pulls in the series of the other.
	 */
	ho.metrics = on_gadget_metrics;
	rc = agent_health_new(d->cfg->metrics_address, &ho, &d->gadget_metrics, err, errlen);
	if (rc < 0)
		return rc;
	return ep_add(d, agent_health_fd(d->gadget_metrics), SRC_GADGET_METRICS);
}

static int containers_setup(struct agent_daemon *d)
{
	struct agent_containers_opts co = {
		.runtimes = d->cfg->runtimes,
		.n_runtimes = d->cfg->n_runtimes,
		.host_root = d->host_root,
		.timeout_ms = AGENT_DAEMON_CRI_TIMEOUT_MS,
		.retry_ms = AGENT_DAEMON_RUNTIME_RETRY_MS,
		.watch = coll_watch,
		.ctx = d,
	};
	int rc;

	rc = agent_containers_new(&co, &d->containers);
	if (rc < 0)
		return rc;
	coll_try(d);
	if (!agent_containers_collection(d->containers))
		base_time_timer_set(d->retry_fd, AGENT_DAEMON_RUNTIME_RETRY_MS,
				    AGENT_DAEMON_RUNTIME_RETRY_MS);
	return 0;
}

/* The runs, the instances that run some of them, the requests that ask for both. */
static int runs_setup(struct agent_daemon *d, char *err, size_t errlen)
{
	struct agent_run_table_opts ro = {
		.node = d->node,
		.no_node_field = d->host_service,
		.pool = d->pool,
		.metrics = d->metrics,
		.containers = d->containers,
		.k8s = d->kenrich,
		.k8s_l4 = d->kc ? k8s_enrich_l4 : NULL,
		.ctx = d,
		.drain_ms = AGENT_DAEMON_DRAIN_MS,
		.metrics_max_series = d->cfg->metrics_max_series,
		.logs_channel = d->cfg->logs_channel,
		.logs_max_size_mb = d->cfg->logs_max_size_mb,
		.logs_max_backups = d->cfg->logs_max_backups,
		.replay_budget = d->budget_replay,
		.gadget_budget = d->budget_gadgets,
	};
	struct agent_instances_opts io = {
		.node = d->node,
		.state_dir = d->state_dir,
		.kc = d->kc,
		.gadget_namespace = d->cfg->gadget_namespace,
		.instance_label = d->cfg->instance_label,
		.max_instances = AGENT_DAEMON_MAX_INSTANCES,
		.pool = d->pool,
		.img_opts = &d->img_opts,
	};
	struct agent_requests_opts qo = {
		.node = d->node,
		.version = d->version,
		.started_ms = d->started_ms,
		.srv = d->srv,
		.containers = d->containers,
		.pool = d->pool,
		.img_opts = &d->img_opts,
		.kc = d->kc,
		.max_runs = AGENT_DAEMON_MAX_RUNS,
		.max_attaches = AGENT_DAEMON_MAX_ATTACHES,
	};
	int rc;

	/* instances' log files live on the host, under the host root */
	d->logs_dir = path_join(d->host_root, d->cfg->logs_dir);
	if (!d->logs_dir)
		return -ENOMEM;
	ro.logs_dir = d->logs_dir;
	if ((rc = agent_run_table_new(&ro, &d->runs)) < 0 ||
	    (rc = ep_add(d, agent_run_table_fd(d->runs), SRC_RUNS)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return rc;
	}
	io.runs = d->runs;
	rc = agent_instances_new(&io, &d->insts, err, errlen);
	if (rc < 0)
		return rc;
	rc = ep_add(d, agent_instances_fd(d->insts), SRC_INSTANCES);
	if (rc < 0)
		return rc;
	qo.runs = d->runs;
	qo.insts = d->insts;
	return agent_requests_new(&qo, &d->reqs);
}

/* The host's / as a prefix of host paths: "" for "/", without a trailing '/'. */
static char *host_root_dup(const char *root)
{
	char *p = strdup(strcmp(root, "/") ? root : "");

	if (p && *p && p[strlen(p) - 1] == '/')
		p[strlen(p) - 1] = '\0';
	return p;
}

int agent_daemon_new(const struct agent_daemon_opts *opts, struct agent_daemon **ret, char *err,
		     size_t errlen)
{
	struct agent_daemon *d;
	int rc;

	err[0] = '\0';
	d = calloc(1, sizeof(*d));
	if (!d) {
		k8s_config_free(opts->k8s);
		return -ENOMEM;
	}
	d->cfg = opts->cfg;
	d->kcfg = opts->k8s;
	d->host_service = opts->host_service;
	d->started_ms = base_time_unix_ms();
	d->ep = d->sig_fd = d->retry_fd = -1;
	d->node = strdup(opts->node_name);
	d->version = strdup(opts->version ? opts->version : "");
	d->state_dir = strdup(opts->state_dir ? opts->state_dir : AGENT_DAEMON_STATE_DIR);
	d->host_root = host_root_dup(d->cfg->host_root);
	if (!d->node || !d->version || !d->state_dir || !d->host_root ||
	    agent_metrics_new(&d->metrics) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = agent_image_opts_init(&d->img_opts, d->cfg, err, errlen);
	if (rc < 0)
		goto fail;
	d->img_opts.pull_timeout_ms = d->cfg->pull_timeout_ms;
	d->img_opts.fallback_stores = opts->fallback_stores;
	d->img_opts.n_fallback_stores = opts->n_fallback_stores;

	if ((rc = budgets_setup(d, err, errlen)) < 0 || (rc = loop_setup(d, err, errlen)) < 0 ||
	    (rc = containers_setup(d)) < 0 || (rc = listeners_setup(d, err, errlen)) < 0)
		goto fail;
	if (d->kcfg) {
		rc = k8s_setup(d, err, errlen);
		if (rc < 0)
			goto fail;
	}
	rc = runs_setup(d, err, errlen);
	if (rc < 0)
		goto fail;
	if (d->kc)
		base_log_info("agent: Kubernetes API %s (%s); node %s; instances in namespace %s",
			      k8s_config_server(d->kcfg), k8s_config_source(d->kcfg), d->node,
			      d->cfg->gadget_namespace);
	else
		base_log_info("agent: no Kubernetes API; node %s; instances in %s/instances",
			      d->node, d->state_dir);
	if (d->host_service)
		base_log_info("agent: control API on unix://%s (%s)",
			      d->unix_path ? d->unix_path : "(none)",
			      d->cfg->listen_unix_group[0] ? "root and its group" : "root only");
	else
		base_log_info("agent: control API on %s%s%s, health on %s",
			      d->cfg->listen_address[0] ? d->cfg->listen_address : "no TCP address",
			      d->unix_path ? " and " : "", d->unix_path ? d->unix_path : "",
			      d->cfg->health_address);
	*ret = d;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "%s", strerror(-rc));
	agent_daemon_free(d);
	return rc;
}

/* ------------------------------------------------------------ the loop */

static void shutdown_streams(struct agent_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	uint64_t deadline;
	int ep;

	d->stopping = true;
	agent_instances_shutdown(d->insts);
	agent_requests_shutdown(d->reqs);
	/* 1. no new clients */
	agent_server_stop_listening(d->srv);
	/* 2. and 3. every stream ends with RunEnded, every gadget is detached */
	agent_run_table_end_all(d->runs, END(SHUTDOWN));
	/* the clients get a moment to take their last messages */
	deadline = base_time_mono_ms() + AGENT_DAEMON_SHUTDOWN_FLUSH_MS;
	agent_server_flush(d->srv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, agent_server_fd(d->srv), &ev) < 0) {
		if (ep >= 0)
			close(ep);
		return;
	}
	while (agent_server_pending(d->srv) && base_time_mono_ms() < deadline) {
		if (epoll_wait(ep, &ev, 1, 50) < 0 && errno != EINTR)
			break;
		agent_server_process(d->srv);
		agent_server_flush(d->srv);
	}
	close(ep);
}

int agent_daemon_run(struct agent_daemon *d)
{
	int rc = 0;

	/* nothing yet, most likely; the watch will say */
	if (d->kcfg)
		agent_instances_process(d->insts);
	while (!d->stopping) {
		struct epoll_event evs[MAX_EVENTS];
		int n, i;

		n = epoll_wait(d->ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (i = 0; i < n && !d->stopping; i++) {
			switch ((enum src_kind)evs[i].data.u32) {
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si))
					base_log_info("agent: %s received: stopping",
						      si.ssi_signo == SIGTERM ? "SIGTERM"
									      : "SIGINT");
				d->stopping = true;
				break;
			}
			case SRC_RETRY:
				base_time_timer_drain(d->retry_fd);
				coll_try(d);
				agent_containers_expire(d->containers);
				break;
			case SRC_JOBS:
				agent_worker_pool_complete(d->pool);
				break;
			case SRC_INSTANCES:
				agent_instances_process(d->insts);
				break;
			case SRC_SERVER:
				agent_server_process(d->srv);
				break;
			case SRC_GADGET_METRICS:
				agent_health_process(d->gadget_metrics);
				break;
			case SRC_HEALTH:
				agent_health_process(d->health);
				break;
			case SRC_COLL:
				agent_containers_process(d->containers);
				break;
			case SRC_RUNS:
				agent_run_table_process(d->runs);
				break;
			}
		}
		agent_server_flush(d->srv);
	}
	shutdown_streams(d);
	return rc;
}

struct agent_daemon *agent_daemon_free(struct agent_daemon *d)
{
	if (!d)
		return NULL;
	d->stopping = true;
	d->insts = agent_instances_free(d->insts);
	d->runs = agent_run_table_free(d->runs);
	/* 4. the unix socket goes with the server */
	d->srv = agent_server_free(d->srv);
	d->health = agent_health_free(d->health);
	d->gadget_metrics = agent_health_free(d->gadget_metrics);
	d->pool = agent_worker_pool_free(d->pool);
	d->reqs = agent_requests_free(d->reqs);
	d->kenrich = k8s_enrich_free(d->kenrich);
	d->kenrich_l4 = k8s_enrich_free(d->kenrich_l4);
	d->services = k8s_cache_free(d->services);
	d->nodes = k8s_cache_free(d->nodes);
	d->pods = k8s_cache_free(d->pods);
	d->kc = k8s_client_free(d->kc);
	d->kcfg = k8s_config_free(d->kcfg);
	d->containers = agent_containers_free(d->containers);
	d->metrics = agent_metrics_free(d->metrics);
	agent_image_opts_done(&d->img_opts);
	/* after everything that charged them */
	d->budget_tcp = agent_budget_free(d->budget_tcp);
	d->budget_unix = agent_budget_free(d->budget_unix);
	d->budget_replay = agent_budget_free(d->budget_replay);
	d->budget_gadgets = agent_budget_free(d->budget_gadgets);
	if (d->ep >= 0)
		close(d->ep);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->retry_fd >= 0)
		close(d->retry_fd);
	free(d->host_root);
	free(d->unix_path);
	free(d->logs_dir);
	free(d->node);
	free(d->version);
	free(d->state_dir);
	free(d);
	return NULL;
}
