// SPDX-License-Identifier: Apache-2.0
/*
 * The gadget agent's event loop.  See daemon.h.
 *
 * Runs.  A client run and a detached instance are the same thing inside:
 * a run of agent/run.h, in the table of runs, which owns the runs' fds in
 * an epoll set of its own; the loop polls that set as one fd.
 *
 * Pending work.  A request that needs an image (GetGadgetInfo, RunGadget,
 * CreateInstance, an instance start) or a ConfigMap write becomes a job for
 * the worker threads; its completion finds the session again by id, since
 * the client may have gone meanwhile.
 *
 * Instances.  The detached instances, their ConfigMaps or files and their
 * runs are agent/instances.h's; the loop polls its fd for the watch's news.
 */
#include "agent/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/clock.h"
#include "agent/config.h"
#include "agent/containers.h"
#include "run/enrich.h"
#include "agent/gadget_info.h"
#include "agent/health.h"
#include "agent/image.h"
#include "agent/instance.h"
#include "agent/instances.h"
#include "agent/metrics.h"
#include "agent/run.h"
#include "run/runner.h"
#include "run/selector.h"
#include "agent/server.h"
#include "agent/wire.h"
#include "agent/worker.h"
#include "base/buf.h"
#include "base/log.h"
#include "cri/collection.h"
#include "k8s/cache.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/enrich.h"
#include "k8s/watch.h"
#include "oci/metadata.h"

#define ERRC(x)	  GADGET__AGENT__V1__ERROR_CODE__ERROR_##x
#define END(x)	  GADGET__AGENT__V1__RUN_END_REASON__RUN_END_##x
#define ISTATE(x) GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_##x
#define RESP(x)	  GADGET__AGENT__V1__RESPONSE__PAYLOAD_##x
#define REQ(x)	  GADGET__AGENT__V1__REQUEST__PAYLOAD_##x
#define N_WORKERS 2
#define MSG_LEN	  1024
/* Instance ConfigMaps held from the watch; more are ignored (and logged). */
#define MAX_CONFIGMAPS 4096

typedef Gadget__Agent__V1__Response pb_response;
typedef Gadget__Agent__V1__ErrorCode pb_errcode;

/* ------------------------------------------------------------ types */

enum dsrc_kind {
	SRC_SIGNAL = 1,
	SRC_RETRY,
	SRC_JOBS,
	SRC_INSTANCES,
	SRC_SERVER,
	SRC_HEALTH,
	SRC_COLL,
	SRC_RUNS,
};

struct dsrc {
	enum dsrc_kind kind;
	void *obj;
};

enum djob_purpose {
	JOB_INFO = 1,  /* GetGadgetInfo: resolve */
	JOB_RUN,       /* RunGadget: resolve */
	JOB_CREATE,    /* CreateInstance: resolve, to validate */
	JOB_CM_CREATE, /* CreateInstance: POST the ConfigMap */
	JOB_CM_DELETE, /* DeleteInstance: DELETE the ConfigMap */
};

struct djob {
	struct agent_worker_job job; /* first */
	struct agent_daemon *d;
	enum djob_purpose purpose;
	uint64_t sid, rid;
	char *image;
	Gadget__Agent__V1__GadgetSpec *spec;	/* GetGadgetInfo (image, params), RunGadget */
	Gadget__Agent__V1__InstanceSpec *ispec; /* CreateInstance */
	char *inst_id;				/* DeleteInstance */
	/* Kubernetes */
	char *path;
	json_t *body;
	json_t *reply;
	/* results */
	int rc;
	enum agent_image_error ikind;
	char err[AGENT_IMAGE_ERRLEN];
	struct agent_image *img;
};

struct agent_daemon {
	const struct agent_config *cfg;
	char *node, *version, *state_dir, *unix_path;
	int64_t started_ms;
	int ep;
	struct dsrc sig_src, retry_src, jobs_src, server_src, health_src, coll_src, runs_src,
		insts_src;
	int sig_fd, retry_fd;
	bool stopping;
	struct agent_server *srv;
	struct agent_health *health;
	struct agent_image_opts img_opts;
	struct agent_metrics *metrics;

	char *host_root; /* "" for "/" */
	struct agent_containers *containers;

	/* Kubernetes */
	struct k8s_config *kcfg;
	struct k8s_client *kc;
	struct k8s_cache *pods;
	struct k8s_enrich *kenrich;
	/* started by the first run with endpoint fields: cluster-wide services and nodes */
	struct k8s_cache *services, *nodes;
	struct k8s_enrich *kenrich_l4;
	_Atomic uint64_t pods_last_event_ms;

	/* workers */
	struct agent_worker_pool *pool;

	/* runs and instances */
	struct agent_run_table *runs;
	struct agent_instances *insts;
	size_t pending_runs; /* RunGadget resolving its image */
};

/* ------------------------------------------------------------ small helpers */

static int ep_add(struct agent_daemon *d, int fd, struct dsrc *src, enum dsrc_kind kind, void *obj)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

	src->kind = kind;
	src->obj = obj;
	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static char *path_join(const char *root, const char *path)
{
	char *p;

	if (asprintf(&p, "%s%s", root, path) < 0)
		return NULL;
	return p;
}

static pb_errcode image_errcode(enum agent_image_error k)
{
	return k == AGENT_IMAGE_NOT_FOUND ? ERRC(NOT_FOUND) : ERRC(IMAGE);
}

/* ------------------------------------------------------------ workers */

static void job_free(struct djob *j)
{
	if (!j)
		return;
	free(j->image);
	agent_run_spec_free(j->spec);
	agent_instance_spec_free(j->ispec);
	free(j->inst_id);
	free(j->path);
	json_decref(j->body);
	json_decref(j->reply);
	agent_image_free(j->img);
	free(j);
}

static void job_work(struct agent_worker_job *w)
{
	struct djob *j = (struct djob *)w;
	struct agent_daemon *d = j->d;

	switch (j->purpose) {
	case JOB_INFO:
	case JOB_RUN:
	case JOB_CREATE:
		j->rc = agent_image_resolve(&d->img_opts, j->image, &j->img, &j->ikind, j->err,
					    sizeof(j->err));
		break;
	case JOB_CM_CREATE:
		j->rc = k8s_client_post(d->kc, j->path, j->body, &j->reply, j->err, sizeof(j->err));
		break;
	case JOB_CM_DELETE:
		j->rc = k8s_client_request(d->kc, "DELETE", j->path, j->body, NULL, &j->reply,
					   j->err, sizeof(j->err));
		break;
	}
}

static void job_submit(struct agent_daemon *d, struct djob *j)
{
	agent_worker_pool_submit(d->pool, &j->job);
}

static void job_done(struct agent_worker_job *w);
static void job_drop(struct agent_worker_job *w);

static const struct agent_worker_job_ops job_ops = {
	.work = job_work,
	.done = job_done,
	.drop = job_drop,
};

static struct djob *job_new(struct agent_daemon *d, enum djob_purpose purpose, uint64_t sid,
			    uint64_t rid, const char *image)
{
	struct djob *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->job.ops = &job_ops;
	j->d = d;
	j->purpose = purpose;
	j->sid = sid;
	j->rid = rid;
	if (image && !(j->image = strdup(image))) {
		free(j);
		return NULL;
	}
	return j;
}

/* ------------------------------------------------------------ runs */

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

	return ep_add(d, fd, &d->coll_src, SRC_COLL, NULL);
}

/* A runtime that answers now also starts the instances that waited for one. */
static void coll_try(struct agent_daemon *d)
{
	if (agent_containers_try(d->containers) <= 0)
		return;
	agent_clock_timer_set(d->retry_fd, 0, 0);
	if (d->insts)
		agent_instances_retry(d->insts);
}

/* ------------------------------------------------------------ requests */

static void send_resp(struct agent_session *s, uint64_t id, pb_response *resp)
{
	resp->id = id;
	agent_session_send(s, resp);
}

static void req_agent_info(struct agent_daemon *d, struct agent_session *s, uint64_t id)
{
	Gadget__Agent__V1__AgentInfo ai = GADGET__AGENT__V1__AGENT_INFO__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct cri_collection *coll = agent_containers_collection(d->containers);
	const char *names[CRI_COLLECTION_MAX_RUNTIMES];
	struct utsname u;

	uname(&u);
	ai.agent_version = d->version;
	ai.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	ai.protocol_minor = AGENT_WIRE_PROTOCOL_MINOR;
	ai.node = d->node;
	ai.kernel_release = u.release;
	ai.arch = u.machine;
	ai.n_runtimes =
		coll ? cri_collection_runtimes(coll, names, CRI_COLLECTION_MAX_RUNTIMES) : 0;
	ai.runtimes = (char **)names;
	ai.started_unix_ms = d->started_ms;
	ai.runs = (uint32_t)agent_run_table_streaming(d->runs);
	ai.instances = (uint32_t)agent_instances_count(d->insts, true);
	ai.containers = coll ? (uint32_t)cri_collection_count(coll) : 0;
	ai.max_message_bytes = AGENT_WIRE_MAX_MESSAGE;
	ai.max_queue_bytes = AGENT_WIRE_MAX_QUEUE;
	resp.payload_case = RESP(AGENT_INFO);
	resp.agent_info = &ai;
	send_resp(s, id, &resp);
}

static bool req_image_ok(struct agent_daemon *d, struct agent_session *s, uint64_t id,
			 const char *image)
{
	char err[512];
	int rc;

	if (!image || !image[0]) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "no gadget image given");
		return false;
	}
	rc = agent_image_check_allowed(&d->img_opts, image, err, sizeof(err));
	if (rc < 0) {
		agent_session_send_error(s, id, ERRC(IMAGE), "%s", err);
		return false;
	}
	return true;
}

static void req_gadget_info(struct agent_daemon *d, struct agent_session *s, uint64_t id,
			    const Gadget__Agent__V1__GetGadgetInfo *gi)
{
	Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	struct djob *j;

	if (!req_image_ok(d, s, id, gi->image))
		return;
	/* what a run is prepared from: the image and the params */
	spec.image = gi->image;
	spec.params = gi->params;
	spec.n_params = gi->n_params;
	j = job_new(d, JOB_INFO, agent_session_id(s), id, gi->image);
	if (!j || !(j->spec = agent_run_spec_dup(&spec))) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(d, j);
}

static void done_gadget_info(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	struct agent_run_opts ro = {.spec = j->spec};
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_gadget_info info;
	struct agent_image *img;
	pb_errcode code;
	char msg[MSG_LEN];
	struct agent_run *r;

	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, image_errcode(j->ikind), "%s", j->err);
		return;
	}
	if (agent_run_new(d->runs, &ro, &r) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	img = j->img;
	j->img = NULL;
	if (agent_run_prepare(r, img, (const Gadget__Agent__V1__KeyValue *const *)j->spec->params,
			      j->spec->n_params, &code, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, j->rid, code, "%s", msg);
	} else if (agent_run_gadget_info(r, &info) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
	} else {
		resp.payload_case = RESP(GADGET_INFO);
		resp.gadget_info = &info.gi;
		send_resp(s, j->rid, &resp);
		agent_gadget_info_done(&info);
	}
	agent_run_free(r);
}

static void req_run(struct agent_daemon *d, struct agent_session *s, uint64_t id,
		    const Gadget__Agent__V1__RunGadget *rg)
{
	struct djob *j;

	if (!rg->spec) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "RunGadget without a spec");
		return;
	}
	if (!req_image_ok(d, s, id, rg->spec->image))
		return;
	if (d->pending_runs + agent_run_table_clients(d->runs) >= AGENT_DAEMON_MAX_RUNS) {
		agent_session_send_error(s, id, ERRC(RESOURCE_EXHAUSTED),
					 "this agent runs at most %d gadgets for clients at once",
					 AGENT_DAEMON_MAX_RUNS);
		return;
	}
	j = job_new(d, JOB_RUN, agent_session_id(s), id, rg->spec->image);
	if (!j || !(j->spec = agent_run_spec_dup(rg->spec))) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	/* counted from now, so that many runs starting at once cannot pass the bound */
	d->pending_runs++;
	job_submit(d, j);
}

static void done_run(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	struct agent_run_opts ro = {0};
	Gadget__Agent__V1__GadgetSpec *spec;
	struct agent_image *img;
	pb_errcode code;
	char msg[MSG_LEN];
	struct agent_run *r;

	d->pending_runs--;
	if (!s)
		return;
	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, image_errcode(j->ikind), "%s", j->err);
		return;
	}
	ro.spec_take = spec = j->spec;
	j->spec = NULL;
	if (agent_run_new(d->runs, &ro, &r) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	if (agent_run_subscribe(r, s, j->rid) < 0) {
		agent_run_free(r);
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	img = j->img;
	j->img = NULL;
	if (agent_run_start(r, img, (const Gadget__Agent__V1__KeyValue *const *)spec->params,
			    spec->n_params, spec->timeout_ms, &code, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, j->rid, code, "%s", msg);
		agent_run_free(r);
		return;
	}
	base_log_info("agent: run %llu: %s for %s (%s)", (unsigned long long)agent_run_id(r),
		      agent_run_image_ref(r),
		      agent_session_client(s)[0] ? agent_session_client(s) : "a client",
		      agent_session_peer(s));
	if (agent_run_done(r))
		agent_run_end(r, END(DONE), NULL);
}

static void req_stop(struct agent_daemon *d, struct agent_session *s, uint64_t id,
		     const Gadget__Agent__V1__StopRun *sr)
{
	if (agent_run_table_stop(d->runs, s, sr->run_id) == -ENOENT)
		agent_session_send_error(s, id, ERRC(NOT_FOUND), "no run %llu on this connection",
					 (unsigned long long)sr->run_id);
}

static void send_instance(struct agent_daemon *d, struct agent_session *s, uint64_t id,
			  pb_response *resp, Gadget__Agent__V1__Instance *out, const char *inst_id,
			  Gadget__Agent__V1__InstanceSpec *spec, int64_t created_ms)
{
	gadget__agent__v1__instance__init(out);
	out->id = (char *)inst_id;
	spec->created_unix_ms = created_ms;
	out->spec = spec;
	out->state = ISTATE(PENDING);
	out->node = d->node;
	resp->payload_case = RESP(INSTANCE);
	resp->instance = out;
	send_resp(s, id, resp);
}

static void req_create(struct agent_daemon *d, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__CreateInstance *ci)
{
	char err[512];
	struct djob *j;

	if (!ci->spec) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "CreateInstance without a spec");
		return;
	}
	if (agent_instance_spec_check(ci->spec, err, sizeof(err)) < 0) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "%s", err);
		return;
	}
	if (!req_image_ok(d, s, id, ci->spec->gadget->image))
		return;
	if (!d->kc && agent_instances_exists(d->insts, ci->spec->name)) {
		agent_session_send_error(s, id, ERRC(ALREADY_EXISTS), "instance %s already exists",
					 ci->spec->name);
		return;
	}
	j = job_new(d, JOB_CREATE, agent_session_id(s), id, ci->spec->gadget->image);
	if (!j || agent_instance_spec_dup(ci->spec, &j->ispec) < 0) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(d, j);
}

/*
 * The spec passed validation: store it.  A file is written now; a ConfigMap
 * is POSTed by a worker, with this job (true).
 */
static bool create_store(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	Gadget__Agent__V1__InstanceSpec *spec = j->ispec;
	char id[AGENT_INSTANCES_ID_SIZE], msg[MSG_LEN];
	int64_t created_ms;
	pb_errcode code;

	if (!d->kc) {
		Gadget__Agent__V1__Instance out;
		pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;

		if (agent_instances_create_file(d->insts, spec, id, &created_ms, &code, msg,
						sizeof(msg)) < 0)
			agent_session_send_error(s, j->rid, code, "%s", msg);
		else
			send_instance(d, s, j->rid, &resp, &out, id, spec, created_ms);
		return false;
	}
	if (agent_instances_cm_create(d->insts, spec, &j->path, &j->body) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return false;
	}
	j->purpose = JOB_CM_CREATE;
	agent_image_free(j->img);
	j->img = NULL;
	j->err[0] = '\0';
	j->rc = 0;
	return true;
}

static bool done_create(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	Gadget__Agent__V1__InstanceSpec *spec = j->ispec;
	struct agent_run_opts ro = {.spec = spec->gadget};
	struct agent_image *img;
	pb_errcode code;
	char msg[MSG_LEN];
	struct agent_run *r;
	int rc;

	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, image_errcode(j->ikind), "%s", j->err);
		return false;
	}
	/* validate as a run would; containers are checked when it runs */
	if (agent_run_new(d->runs, &ro, &r) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return false;
	}
	img = j->img;
	j->img = NULL;
	rc = agent_run_prepare(r, img,
			       (const Gadget__Agent__V1__KeyValue *const *)spec->gadget->params,
			       spec->gadget->n_params, &code, msg, sizeof(msg));
	agent_run_free(r);
	if (rc < 0) {
		agent_session_send_error(s, j->rid, code, "%s", msg);
		return false;
	}
	return create_store(d, j, s);
}

static void done_cm_create(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	Gadget__Agent__V1__InstanceSpec *spec = j->ispec;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__Instance out;
	int64_t created_ms;
	const char *uid;

	if (j->rc == -EEXIST) {
		agent_session_send_error(s, j->rid, ERRC(ALREADY_EXISTS),
					 "instance %s already exists", spec->name);
		return;
	}
	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, ERRC(UNAVAILABLE),
					 "creating the ConfigMap of instance %s: %s", spec->name,
					 j->err);
		return;
	}
	agent_instances_cm_created(j->reply, &uid, &created_ms);
	base_log_info("agent: instance %s (%s) created", spec->name, uid ? uid : "?");
	send_instance(d, s, j->rid, &resp, &out, uid ? uid : "", spec, created_ms);
}

static void req_list_instances(struct agent_daemon *d, struct agent_session *s, uint64_t id)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_instances_list l;

	if (agent_instances_list_init(d->insts, &l) < 0) {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	resp.payload_case = RESP(INSTANCES);
	resp.instances = &l.il;
	send_resp(s, id, &resp);
	agent_instances_list_done(&l);
}

static void req_attach(struct agent_daemon *d, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__AttachInstance *ai)
{
	struct agent_run *r;
	pb_errcode code;
	char msg[MSG_LEN];

	if (agent_instances_attachable(d->insts, ai->instance, &r, &code, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, id, code, "%s", msg);
		return;
	}
	if (agent_run_table_attaches(d->runs) >= AGENT_DAEMON_MAX_ATTACHES) {
		agent_session_send_error(s, id, ERRC(RESOURCE_EXHAUSTED),
					 "this agent serves at most %d attaches",
					 AGENT_DAEMON_MAX_ATTACHES);
		return;
	}
	/* RunStarted now when it runs, when it starts otherwise */
	if (agent_run_attach(r, s, id, ai->replay_records, ai->no_replay) < 0)
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
}

static void req_delete(struct agent_daemon *d, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__DeleteInstance *di)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__InstanceDeleted del = GADGET__AGENT__V1__INSTANCE_DELETED__INIT;
	char msg[MSG_LEN], *iid;
	struct djob *j;
	int rc;

	if (!d->kc) {
		rc = agent_instances_delete_file(d->insts, di->instance, &iid, msg, sizeof(msg));
		if (rc == -ENOENT) {
			agent_session_send_error(s, id, ERRC(NOT_FOUND), "no instance '%s'",
						 di->instance);
		} else if (rc < 0) {
			agent_session_send_error(s, id, ERRC(INTERNAL), "%s", msg);
		} else {
			del.id = iid;
			resp.payload_case = RESP(INSTANCE_DELETED);
			resp.instance_deleted = &del;
			send_resp(s, id, &resp);
			free(iid);
		}
		return;
	}
	j = job_new(d, JOB_CM_DELETE, agent_session_id(s), id, NULL);
	rc = j ? agent_instances_cm_delete(d->insts, di->instance, &j->path, &j->body, &j->inst_id)
	       : -ENOMEM;
	if (rc < 0) {
		job_free(j);
		if (rc == -ENOENT)
			agent_session_send_error(s, id, ERRC(NOT_FOUND), "no instance '%s'",
						 di->instance);
		else
			agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(d, j);
}

static void done_cm_delete(struct agent_daemon *d, struct djob *j, struct agent_session *s)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__InstanceDeleted del = GADGET__AGENT__V1__INSTANCE_DELETED__INIT;

	if (j->rc == -ENOENT || j->rc == -EBUSY) {
		agent_session_send_error(s, j->rid, ERRC(NOT_FOUND), "no instance %s: %s",
					 j->inst_id, j->err);
		return;
	}
	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, ERRC(UNAVAILABLE),
					 "deleting the ConfigMap of instance %s: %s", j->inst_id,
					 j->err);
		return;
	}
	base_log_info("agent: instance %s: ConfigMap deleted", j->inst_id);
	del.id = j->inst_id;
	resp.payload_case = RESP(INSTANCE_DELETED);
	resp.instance_deleted = &del;
	send_resp(s, j->rid, &resp);
}

static void req_containers(struct agent_daemon *d, struct agent_session *s, uint64_t id,
			   const Gadget__Agent__V1__ListContainers *lc)
{
	struct cri_collection *coll = agent_containers_collection(d->containers);
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_containers_list l;
	struct run_selector sel;
	char msg[MSG_LEN];

	if (!coll) {
		char tried[512];

		agent_containers_tried(d->containers, tried, sizeof(tried));
		agent_session_send_error(s, id, ERRC(UNAVAILABLE),
					 "no container runtime answers (tried %s)", tried);
		return;
	}
	if (agent_run_selector_parse(lc->selector, &sel, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, id, ERRC(INVALID_PARAM), "%s", msg);
		return;
	}
	if (agent_containers_list_init(&l, coll, &sel, d->node) == 0) {
		resp.payload_case = RESP(CONTAINERS);
		resp.containers = &l.cl;
		send_resp(s, id, &resp);
	} else {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
	}
	agent_containers_list_done(&l);
	run_selector_done(&sel);
}

static void on_request(void *ctx, struct agent_session *s, const Gadget__Agent__V1__Request *req)
{
	struct agent_daemon *d = ctx;

	if (d->stopping) {
		agent_session_send_error(s, req->id, ERRC(UNAVAILABLE), "the agent is stopping");
		return;
	}
	switch (req->payload_case) {
	case REQ(GET_AGENT_INFO):
		req_agent_info(d, s, req->id);
		break;
	case REQ(GET_GADGET_INFO):
		req_gadget_info(d, s, req->id, req->get_gadget_info);
		break;
	case REQ(RUN_GADGET):
		req_run(d, s, req->id, req->run_gadget);
		break;
	case REQ(STOP_RUN):
		req_stop(d, s, req->id, req->stop_run);
		break;
	case REQ(CREATE_INSTANCE):
		req_create(d, s, req->id, req->create_instance);
		break;
	case REQ(LIST_INSTANCES):
		req_list_instances(d, s, req->id);
		break;
	case REQ(ATTACH_INSTANCE):
		req_attach(d, s, req->id, req->attach_instance);
		break;
	case REQ(DELETE_INSTANCE):
		req_delete(d, s, req->id, req->delete_instance);
		break;
	case REQ(LIST_CONTAINERS):
		req_containers(d, s, req->id, req->list_containers);
		break;
	default:
		agent_session_send_error(s, req->id, ERRC(UNIMPLEMENTED),
					 "this agent does not know the request");
	}
}

/* The session is gone: its runs stop, its attaches detach. */
static void on_closed(void *ctx, struct agent_session *s)
{
	struct agent_daemon *d = ctx;

	/* sessions close when the server is freed, after the runs */
	if (d->runs)
		agent_run_table_drop_session(d->runs, s);
}

static void job_done(struct agent_worker_job *w)
{
	struct djob *j = (struct djob *)w;
	struct agent_daemon *d = j->d;
	struct agent_session *s = j->sid ? agent_server_session(d->srv, j->sid) : NULL;
	bool resubmit = false;

	switch (j->purpose) {
	case JOB_INFO:
		if (s)
			done_gadget_info(d, j, s);
		break;
	case JOB_RUN:
		done_run(d, j, s);
		break;
	case JOB_CREATE:
		if (s)
			resubmit = done_create(d, j, s);
		break;
	case JOB_CM_CREATE:
		if (s)
			done_cm_create(d, j, s);
		break;
	case JOB_CM_DELETE:
		if (s)
			done_cm_delete(d, j, s);
		break;
	}
	if (resubmit && !d->stopping)
		job_submit(d, j);
	else
		job_free(j);
}

static void job_drop(struct agent_worker_job *w)
{
	job_free((struct djob *)w);
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

static void pods_touch(void *userdata)
{
	struct agent_daemon *d = userdata;

	atomic_store(&d->pods_last_event_ms, agent_clock_mono_ms());
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
	struct agent_containers_opts co = {0};
	struct agent_run_table_opts ro = {0};
	struct agent_instances_opts io = {0};
	struct agent_server_opts so = {0};
	struct agent_health_ops ho = {.metrics = on_metrics, .ready = on_ready};
	struct agent_daemon *d;
	sigset_t mask;
	int rc;

	err[0] = '\0';
	d = calloc(1, sizeof(*d));
	if (!d) {
		k8s_config_free(opts->k8s);
		return -ENOMEM;
	}
	d->cfg = opts->cfg;
	d->kcfg = opts->k8s;
	d->started_ms = agent_clock_unix_ms();
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
	d->img_opts.store_dir = d->cfg->store_dir;
	d->img_opts.insecure_registries = (const char *const *)d->cfg->insecure_registries;
	d->img_opts.n_insecure_registries = d->cfg->n_insecure_registries;
	d->img_opts.allowed = (const char *const *)d->cfg->allowed_gadgets;
	d->img_opts.n_allowed = d->cfg->n_allowed_gadgets;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->ep < 0 || d->sig_fd < 0 || d->retry_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto fail;
	}
	rc = agent_worker_pool_new(&d->pool);
	if (rc < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = ep_add(d, d->sig_fd, &d->sig_src, SRC_SIGNAL, NULL)) < 0 ||
	    (rc = ep_add(d, d->retry_fd, &d->retry_src, SRC_RETRY, NULL)) < 0 ||
	    (rc = ep_add(d, agent_worker_pool_fd(d->pool), &d->jobs_src, SRC_JOBS, NULL)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto fail;
	}
	rc = agent_worker_pool_start(d->pool, N_WORKERS);
	if (rc < 0) {
		snprintf(err, errlen, "worker threads: %s", strerror(-rc));
		goto fail;
	}

	co.runtimes = d->cfg->runtimes;
	co.n_runtimes = d->cfg->n_runtimes;
	co.host_root = d->host_root;
	co.timeout_ms = AGENT_DAEMON_CRI_TIMEOUT_MS;
	co.retry_ms = AGENT_DAEMON_RUNTIME_RETRY_MS;
	co.watch = coll_watch;
	co.ctx = d;
	rc = agent_containers_new(&co, &d->containers);
	if (rc < 0)
		goto fail;
	coll_try(d);
	if (!agent_containers_collection(d->containers))
		agent_clock_timer_set(d->retry_fd, AGENT_DAEMON_RUNTIME_RETRY_MS,
				      AGENT_DAEMON_RUNTIME_RETRY_MS);

	if (d->cfg->listen_unix[0]) {
		d->unix_path = path_join(d->host_root, d->cfg->listen_unix);
		if (!d->unix_path) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	so.tcp_address = d->cfg->listen_address;
	so.unix_path = d->unix_path;
	so.max_queue_records = d->cfg->queue_max_records;
	so.node = d->node;
	so.version = d->version;
	so.ops.request = on_request;
	so.ops.closed = on_closed;
	so.ops.ctx = d;
	rc = agent_server_new(&so, &d->srv, err, errlen);
	if (rc < 0)
		goto fail;
	rc = ep_add(d, agent_server_fd(d->srv), &d->server_src, SRC_SERVER, NULL);
	if (rc < 0)
		goto fail;
	ho.ctx = d;
	rc = agent_health_new(d->cfg->health_address, &ho, &d->health, err, errlen);
	if (rc < 0)
		goto fail;
	rc = ep_add(d, agent_health_fd(d->health), &d->health_src, SRC_HEALTH, NULL);
	if (rc < 0)
		goto fail;

	if (d->kcfg) {
		rc = k8s_setup(d, err, errlen);
		if (rc < 0)
			goto fail;
	}
	ro.node = d->node;
	ro.pool = d->pool;
	ro.metrics = d->metrics;
	ro.containers = d->containers;
	ro.k8s = d->kenrich;
	ro.k8s_l4 = d->kc ? k8s_enrich_l4 : NULL;
	ro.ctx = d;
	ro.drain_ms = AGENT_DAEMON_DRAIN_MS;
	if ((rc = agent_run_table_new(&ro, &d->runs)) < 0 ||
	    (rc = ep_add(d, agent_run_table_fd(d->runs), &d->runs_src, SRC_RUNS, NULL)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto fail;
	}
	io.node = d->node;
	io.state_dir = d->state_dir;
	io.kc = d->kc;
	io.gadget_namespace = d->cfg->gadget_namespace;
	io.instance_label = d->cfg->instance_label;
	io.max_instances = AGENT_DAEMON_MAX_INSTANCES;
	io.runs = d->runs;
	io.pool = d->pool;
	io.img_opts = &d->img_opts;
	rc = agent_instances_new(&io, &d->insts, err, errlen);
	if (rc < 0)
		goto fail;
	rc = ep_add(d, agent_instances_fd(d->insts), &d->insts_src, SRC_INSTANCES, NULL);
	if (rc < 0)
		goto fail;
	if (d->kc)
		base_log_info("agent: Kubernetes API %s (%s); node %s; instances in namespace %s",
			      k8s_config_server(d->kcfg), k8s_config_source(d->kcfg), d->node,
			      d->cfg->gadget_namespace);
	else
		base_log_info("agent: no Kubernetes API; node %s; instances in %s/instances",
			      d->node, d->state_dir);
	base_log_info("agent: control API on %s%s%s, health on %s", d->cfg->listen_address,
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
	/* 1. no new clients */
	agent_server_stop_listening(d->srv);
	/* 2. and 3. every stream ends with RunEnded, every gadget is detached */
	agent_run_table_end_all(d->runs, END(SHUTDOWN));
	/* the clients get a moment to take their last messages */
	deadline = agent_clock_mono_ms() + AGENT_DAEMON_SHUTDOWN_FLUSH_MS;
	agent_server_flush(d->srv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, agent_server_fd(d->srv), &ev) < 0) {
		if (ep >= 0)
			close(ep);
		return;
	}
	while (agent_server_pending(d->srv) && agent_clock_mono_ms() < deadline) {
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

	if (d->kcfg)
		agent_instances_process(
			d->insts); /* nothing yet, most likely; the watch will say */
	while (!d->stopping) {
		struct epoll_event evs[32];
		int n, i;

		n = epoll_wait(d->ep, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (i = 0; i < n && !d->stopping; i++) {
			struct dsrc *src = evs[i].data.ptr;

			switch (src->kind) {
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
				agent_clock_drain(d->retry_fd);
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
	d->pool = agent_worker_pool_free(d->pool);
	d->kenrich = k8s_enrich_free(d->kenrich);
	d->kenrich_l4 = k8s_enrich_free(d->kenrich_l4);
	d->services = k8s_cache_free(d->services);
	d->nodes = k8s_cache_free(d->nodes);
	d->pods = k8s_cache_free(d->pods);
	d->kc = k8s_client_free(d->kc);
	d->kcfg = k8s_config_free(d->kcfg);
	d->containers = agent_containers_free(d->containers);
	d->metrics = agent_metrics_free(d->metrics);
	if (d->ep >= 0)
		close(d->ep);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->retry_fd >= 0)
		close(d->retry_fd);
	free(d->host_root);
	free(d->unix_path);
	free(d->node);
	free(d->version);
	free(d->state_dir);
	free(d);
	return NULL;
}
