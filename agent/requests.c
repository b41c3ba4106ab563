// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's control API requests.  See requests.h.
 *
 * Each request has a req_*() handler; those that wait for a worker have a
 * done_*() that completes them, called from job_done() with the session if
 * it is still there.
 *
 * With a Kubernetes API, instances are ConfigMaps that users create and
 * delete with their own credentials, under the API server's RBAC
 * (kubectl gadget run --detach does): the agent cannot tell who is at the
 * other end of a port-forward, so it refuses CreateInstance and
 * DeleteInstance there, and its Role lets it only read ConfigMaps.
 */
#include "agent/requests.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "agent/containers.h"
#include "agent/gadget_info.h"
#include "agent/image.h"
#include "agent/instance.h"
#include "agent/instances.h"
#include "agent/run.h"
#include "agent/server.h"
#include "agent/wire.h"
#include "agent/worker.h"
#include "base/log.h"
#include "cri/collection.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "run/selector.h"

#define ERRC(x)	  GADGET__AGENT__V1__ERROR_CODE__ERROR_##x
#define END(x)	  GADGET__AGENT__V1__RUN_END_REASON__RUN_END_##x
#define ISTATE(x) GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_##x
#define RESP(x)	  GADGET__AGENT__V1__RESPONSE__PAYLOAD_##x
#define REQ(x)	  GADGET__AGENT__V1__REQUEST__PAYLOAD_##x
#define MSG_LEN	  1024

typedef Gadget__Agent__V1__Response pb_response;
typedef Gadget__Agent__V1__ErrorCode pb_errcode;

struct agent_requests {
	struct agent_requests_opts o;
	size_t pending_runs; /* RunGadget resolving its image */
	bool stopping;
};

enum req_purpose {
	JOB_INFO = 1, /* GetGadgetInfo: resolve */
	JOB_RUN,      /* RunGadget: resolve */
	JOB_CREATE,   /* CreateInstance: resolve, to validate */
	JOB_IMAGES,   /* ListImages: read the store */
	JOB_PULL,     /* PullImage: pull, then resolve */
};

struct req_job {
	struct agent_worker_job job; /* first */
	struct agent_requests *q;
	/* what the worker uses */
	const struct agent_image_opts *img_opts;
	enum req_purpose purpose;
	uint64_t sid, rid;
	char *image;
	Gadget__Agent__V1__GadgetSpec *spec;	/* GetGadgetInfo (image, params), RunGadget */
	Gadget__Agent__V1__InstanceSpec *ispec; /* CreateInstance */
	char *inst_id;				/* DeleteInstance */
	struct agent_run_sub_opts sub;		/* RunGadget: how the records go */
	/* results */
	int rc;
	enum agent_image_error ikind;
	char err[AGENT_IMAGE_ERRLEN];
	struct agent_image *img;
	struct oci_store_image *images; /* ListImages */
	size_t n_images;
};

/* Whether a client asked for the gadget's own record bytes (docs/api.md "Record encodings"). */
#define RAW(e) ((e) == GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW)

static pb_errcode image_errcode(enum agent_image_error k)
{
	return k == AGENT_IMAGE_NOT_FOUND ? ERRC(NOT_FOUND) : ERRC(IMAGE);
}

/* ------------------------------------------------------------ jobs */

static void job_free(struct req_job *j)
{
	if (!j)
		return;
	free(j->image);
	agent_run_spec_free(j->spec);
	agent_instance_spec_free(j->ispec);
	agent_image_free(j->img);
	oci_store_images_free(j->images, j->n_images);
	free(j);
}

/* The store's images, in a worker: reading it may wait for the disk. */
static int job_list_images(struct req_job *j)
{
	struct oci_store *s = NULL;
	int rc;

	rc = oci_store_open(j->img_opts->store_dir, &s);
	if (rc == 0)
		rc = oci_store_list(s, &j->images, &j->n_images);
	if (rc < 0)
		snprintf(j->err, sizeof(j->err), "the image store %s: %s", j->img_opts->store_dir,
			 s && oci_store_errmsg(s)[0] ? oci_store_errmsg(s) : strerror(-rc));
	oci_store_free(s);
	return rc;
}

static void job_work(struct agent_worker_job *w)
{
	struct req_job *j = (struct req_job *)w;

	switch (j->purpose) {
	case JOB_INFO:
	case JOB_RUN:
	case JOB_CREATE:
		j->rc = agent_image_resolve(j->img_opts, j->image, &j->img, &j->ikind, j->err,
					    sizeof(j->err));
		break;
	case JOB_IMAGES:
		j->rc = job_list_images(j);
		break;
	case JOB_PULL: {
		struct agent_image_opts o = *j->img_opts;

		o.pull = AGENT_IMAGE_PULL_ALWAYS;
		j->rc = agent_image_resolve(&o, j->image, &j->img, &j->ikind, j->err,
					    sizeof(j->err));
		break;
	}
	}
}

static void job_submit(struct agent_requests *q, struct req_job *j)
{
	agent_worker_pool_submit(q->o.pool, &j->job);
}

static void job_done(struct agent_worker_job *w);
static void job_drop(struct agent_worker_job *w);

static const struct agent_worker_job_ops job_ops = {
	.work = job_work,
	.done = job_done,
	.drop = job_drop,
};

static struct req_job *job_new(struct agent_requests *q, enum req_purpose purpose, uint64_t sid,
			       uint64_t rid, const char *image)
{
	struct req_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->job.ops = &job_ops;
	j->q = q;
	j->img_opts = q->o.img_opts;
	j->purpose = purpose;
	j->sid = sid;
	j->rid = rid;
	if (image && !(j->image = strdup(image))) {
		free(j);
		return NULL;
	}
	return j;
}

/* ------------------------------------------------------------ requests */

static void send_resp(struct agent_session *s, uint64_t id, pb_response *resp)
{
	resp->id = id;
	agent_session_send(s, resp);
}

static void req_agent_info(struct agent_requests *q, struct agent_session *s, uint64_t id)
{
	Gadget__Agent__V1__AgentInfo ai = GADGET__AGENT__V1__AGENT_INFO__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct cri_collection *coll = agent_containers_collection(q->o.containers);
	const char *names[CRI_COLLECTION_MAX_RUNTIMES];
	struct utsname u;

	uname(&u);
	ai.agent_version = (char *)q->o.version;
	ai.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	ai.protocol_minor = AGENT_WIRE_PROTOCOL_MINOR;
	ai.node = (char *)q->o.node;
	ai.kernel_release = u.release;
	ai.arch = u.machine;
	ai.n_runtimes =
		coll ? cri_collection_runtimes(coll, names, CRI_COLLECTION_MAX_RUNTIMES) : 0;
	ai.runtimes = (char **)names;
	ai.started_unix_ms = q->o.started_ms;
	ai.runs = (uint32_t)agent_run_table_streaming(q->o.runs);
	ai.instances = (uint32_t)agent_instances_count(q->o.insts, true);
	ai.containers = coll ? (uint32_t)cri_collection_count(coll) : 0;
	ai.max_message_bytes = AGENT_WIRE_MAX_MESSAGE;
	ai.max_queue_bytes = AGENT_WIRE_MAX_QUEUE;
	resp.payload_case = RESP(AGENT_INFO);
	resp.agent_info = &ai;
	send_resp(s, id, &resp);
}

static bool req_image_ok(struct agent_requests *q, struct agent_session *s, uint64_t id,
			 const char *image)
{
	char err[512];
	int rc;

	if (!image || !image[0]) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "no gadget image given");
		return false;
	}
	rc = agent_image_check_allowed(q->o.img_opts, image, err, sizeof(err));
	if (rc < 0) {
		agent_session_send_error(s, id, ERRC(IMAGE), "%s", err);
		return false;
	}
	return true;
}

/*
 * Filters are checked before anything else is done for a request: a bad one
 * is refused at once, before an image is read or pulled, and its regular
 * expression is compiled here only by the run library, which bounds it.
 */
static bool req_filters_ok(struct agent_session *s, uint64_t id, char *const *filters, size_t n)
{
	char msg[MSG_LEN];
	int rc = agent_run_check_filters(filters, n, msg, sizeof(msg));

	if (rc == -ENOMEM)
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
	else if (rc < 0)
		agent_session_send_error(s, id, ERRC(INVALID_PARAM), "%s", msg);
	return rc == 0;
}

static void req_gadget_info(struct agent_requests *q, struct agent_session *s, uint64_t id,
			    const Gadget__Agent__V1__GetGadgetInfo *gi)
{
	Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	struct req_job *j;

	if (!req_filters_ok(s, id, gi->filters, gi->n_filters) ||
	    !req_image_ok(q, s, id, gi->image))
		return;
	/* what a run is prepared from: the image, the params and the record options */
	spec.image = gi->image;
	spec.params = gi->params;
	spec.n_params = gi->n_params;
	spec.fields = gi->fields;
	spec.filters = gi->filters;
	spec.n_filters = gi->n_filters;
	spec.sort = gi->sort;
	spec.annotate = gi->annotate;
	spec.n_annotate = gi->n_annotate;
	spec.otel_metrics_name = gi->otel_metrics_name;
	spec.n_otel_metrics_name = gi->n_otel_metrics_name;
	j = job_new(q, JOB_INFO, agent_session_id(s), id, gi->image);
	if (!j || !(j->spec = agent_run_spec_dup(&spec))) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(q, j);
}

static void done_gadget_info(struct agent_requests *q, struct req_job *j, struct agent_session *s)
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
	if (agent_run_new(q->o.runs, &ro, &r) < 0) {
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

static void req_run(struct agent_requests *q, struct agent_session *s, uint64_t id,
		    const Gadget__Agent__V1__RunGadget *rg)
{
	struct req_job *j;

	if (!rg->spec) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "RunGadget without a spec");
		return;
	}
	if (!req_filters_ok(s, id, rg->spec->filters, rg->spec->n_filters) ||
	    !req_image_ok(q, s, id, rg->spec->image))
		return;
	if (q->pending_runs + agent_run_table_clients(q->o.runs) >= q->o.max_runs) {
		agent_session_send_error(s, id, ERRC(RESOURCE_EXHAUSTED),
					 "this agent runs at most %d gadgets for clients at once",
					 (int)q->o.max_runs);
		return;
	}
	j = job_new(q, JOB_RUN, agent_session_id(s), id, rg->spec->image);
	if (!j || !(j->spec = agent_run_spec_dup(rg->spec))) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	j->sub.raw = RAW(rg->encoding);
	j->sub.compress = rg->compress;
	j->sub.window = rg->window_bytes;
	/* counted from now, so that many runs starting at once cannot pass the bound */
	q->pending_runs++;
	job_submit(q, j);
}

static void done_run(struct agent_requests *q, struct req_job *j, struct agent_session *s)
{
	struct agent_run_opts ro = {0};
	Gadget__Agent__V1__GadgetSpec *spec;
	struct agent_image *img;
	pb_errcode code;
	char msg[MSG_LEN];
	struct agent_run *r;

	q->pending_runs--;
	if (!s)
		return;
	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, image_errcode(j->ikind), "%s", j->err);
		return;
	}
	ro.spec_take = spec = j->spec;
	j->spec = NULL;
	if (agent_run_new(q->o.runs, &ro, &r) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	if (agent_run_subscribe(r, s, j->rid, &j->sub) < 0) {
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

static void req_stop(struct agent_requests *q, struct agent_session *s, uint64_t id,
		     const Gadget__Agent__V1__StopRun *sr)
{
	if (agent_run_table_stop(q->o.runs, s, sr->run_id) == -ENOENT)
		agent_session_send_error(s, id, ERRC(NOT_FOUND), "no run %llu on this connection",
					 (unsigned long long)sr->run_id);
}

static void send_instance(struct agent_requests *q, struct agent_session *s, uint64_t id,
			  pb_response *resp, Gadget__Agent__V1__Instance *out, const char *inst_id,
			  Gadget__Agent__V1__InstanceSpec *spec, int64_t created_ms)
{
	gadget__agent__v1__instance__init(out);
	out->id = (char *)inst_id;
	spec->created_unix_ms = created_ms;
	out->spec = spec;
	out->state = ISTATE(PENDING);
	out->node = (char *)q->o.node;
	resp->payload_case = RESP(INSTANCE);
	resp->instance = out;
	send_resp(s, id, resp);
}

static void req_create(struct agent_requests *q, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__CreateInstance *ci)
{
	char err[512];
	struct req_job *j;

	if (q->o.kc) {
		agent_session_send_error(
			s, id, ERRC(PERMISSION_DENIED),
			"instances are ConfigMaps in this cluster: create them with "
			"your own credentials (kubectl gadget run --detach)");
		return;
	}
	if (!ci->spec) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "CreateInstance without a spec");
		return;
	}
	if (agent_instance_spec_check(ci->spec, err, sizeof(err)) < 0) {
		agent_session_send_error(s, id, ERRC(BAD_REQUEST), "%s", err);
		return;
	}
	if (!req_filters_ok(s, id, ci->spec->gadget->filters, ci->spec->gadget->n_filters) ||
	    !req_image_ok(q, s, id, ci->spec->gadget->image))
		return;
	if (agent_instances_exists(q->o.insts, ci->spec->name)) {
		agent_session_send_error(s, id, ERRC(ALREADY_EXISTS), "instance %s already exists",
					 ci->spec->name);
		return;
	}
	j = job_new(q, JOB_CREATE, agent_session_id(s), id, ci->spec->gadget->image);
	if (!j || agent_instance_spec_dup(ci->spec, &j->ispec) < 0) {
		job_free(j);
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(q, j);
}

/* The spec passed validation: its file is written, and it runs. */
static void create_store(struct agent_requests *q, struct req_job *j, struct agent_session *s)
{
	Gadget__Agent__V1__InstanceSpec *spec = j->ispec;
	Gadget__Agent__V1__Instance out;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	char id[AGENT_INSTANCES_ID_SIZE], msg[MSG_LEN];
	int64_t created_ms;
	pb_errcode code;

	if (agent_instances_create_file(q->o.insts, spec, id, &created_ms, &code, msg,
					sizeof(msg)) < 0)
		agent_session_send_error(s, j->rid, code, "%s", msg);
	else
		send_instance(q, s, j->rid, &resp, &out, id, spec, created_ms);
}

static void done_create(struct agent_requests *q, struct req_job *j, struct agent_session *s)
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
		return;
	}
	/* validate as a run would; containers are checked when it runs */
	if (agent_run_new(q->o.runs, &ro, &r) < 0) {
		agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	img = j->img;
	j->img = NULL;
	rc = agent_run_prepare(r, img,
			       (const Gadget__Agent__V1__KeyValue *const *)spec->gadget->params,
			       spec->gadget->n_params, &code, msg, sizeof(msg));
	agent_run_free(r);
	if (rc < 0) {
		agent_session_send_error(s, j->rid, code, "%s", msg);
		return;
	}
	create_store(q, j, s);
}

static void req_list_instances(struct agent_requests *q, struct agent_session *s, uint64_t id)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_instances_list l;

	if (agent_instances_list_init(q->o.insts, &l) < 0) {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	resp.payload_case = RESP(INSTANCES);
	resp.instances = &l.il;
	send_resp(s, id, &resp);
	agent_instances_list_done(&l);
}

static void req_attach(struct agent_requests *q, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__AttachInstance *ai)
{
	struct agent_run_sub_opts so = {
		.raw = RAW(ai->encoding),
		.compress = ai->compress,
		.window = ai->window_bytes,
	};
	struct agent_run *r;
	pb_errcode code;
	char msg[MSG_LEN];

	if (agent_instances_attachable(q->o.insts, ai->instance, &r, &code, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, id, code, "%s", msg);
		return;
	}
	if (agent_run_table_attaches(q->o.runs) >= q->o.max_attaches) {
		agent_session_send_error(s, id, ERRC(RESOURCE_EXHAUSTED),
					 "this agent serves at most %d attaches",
					 (int)q->o.max_attaches);
		return;
	}
	/* RunStarted now when it runs, when it starts otherwise */
	if (agent_run_attach(r, s, id, ai->replay_records, ai->no_replay, &so) < 0)
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
}

static void req_delete(struct agent_requests *q, struct agent_session *s, uint64_t id,
		       const Gadget__Agent__V1__DeleteInstance *di)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__InstanceDeleted del = GADGET__AGENT__V1__INSTANCE_DELETED__INIT;
	char msg[MSG_LEN], *iid;
	int rc;

	if (q->o.kc) {
		agent_session_send_error(
			s, id, ERRC(PERMISSION_DENIED),
			"instances are ConfigMaps in this cluster: delete them with "
			"your own credentials (kubectl gadget delete)");
		return;
	}
	rc = agent_instances_delete_file(q->o.insts, di->instance, &iid, msg, sizeof(msg));
	if (rc == -ENOENT) {
		agent_session_send_error(s, id, ERRC(NOT_FOUND), "no instance '%s'", di->instance);
	} else if (rc < 0) {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", msg);
	} else {
		del.id = iid;
		resp.payload_case = RESP(INSTANCE_DELETED);
		resp.instance_deleted = &del;
		send_resp(s, id, &resp);
		free(iid);
	}
}

static void req_containers(struct agent_requests *q, struct agent_session *s, uint64_t id,
			   const Gadget__Agent__V1__ListContainers *lc)
{
	struct cri_collection *coll = agent_containers_collection(q->o.containers);
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_containers_list l;
	struct run_selector sel;
	char msg[MSG_LEN];

	if (!coll) {
		char tried[512];

		agent_containers_tried(q->o.containers, tried, sizeof(tried));
		agent_session_send_error(s, id, ERRC(UNAVAILABLE),
					 "no container runtime answers (tried %s)", tried);
		return;
	}
	if (agent_run_selector_parse(lc->selector, &sel, msg, sizeof(msg)) < 0) {
		agent_session_send_error(s, id, ERRC(INVALID_PARAM), "%s", msg);
		return;
	}
	if (agent_containers_list_init(&l, coll, &sel, q->o.node) == 0) {
		resp.payload_case = RESP(CONTAINERS);
		resp.containers = &l.cl;
		send_resp(s, id, &resp);
	} else {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
	}
	agent_containers_list_done(&l);
	run_selector_done(&sel);
}

static void req_list_images(struct agent_requests *q, struct agent_session *s, uint64_t id)
{
	struct req_job *j = job_new(q, JOB_IMAGES, agent_session_id(s), id, NULL);

	if (!j) {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(q, j);
}

static void done_list_images(struct agent_requests *q, struct req_job *j, struct agent_session *s)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__ImageList il = GADGET__AGENT__V1__IMAGE_LIST__INIT;
	Gadget__Agent__V1__Image *v = NULL, **pv = NULL;
	size_t i;

	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, ERRC(IMAGE), "%s", j->err);
		return;
	}
	if (j->n_images) {
		v = calloc(j->n_images, sizeof(*v));
		pv = calloc(j->n_images, sizeof(*pv));
		if (!v || !pv) {
			free(v);
			free(pv);
			agent_session_send_error(s, j->rid, ERRC(INTERNAL), "%s", strerror(ENOMEM));
			return;
		}
	}
	for (i = 0; i < j->n_images; i++) {
		gadget__agent__v1__image__init(&v[i]);
		v[i].reference = j->images[i].ref;
		v[i].digest = j->images[i].digest;
		v[i].created = j->images[i].created ? j->images[i].created : "";
		v[i].size = j->images[i].size;
		pv[i] = &v[i];
	}
	il.images = pv;
	il.n_images = j->n_images;
	resp.payload_case = RESP(IMAGES);
	resp.images = &il;
	send_resp(s, j->rid, &resp);
	free(v);
	free(pv);
}

static void req_pull_image(struct agent_requests *q, struct agent_session *s, uint64_t id,
			   const Gadget__Agent__V1__PullImage *pi)
{
	struct req_job *j;

	struct oci_ref *ref = NULL;
	bool registry;

	if (!req_image_ok(q, s, id, pi->image))
		return;
	if (oci_ref_parse(pi->image, &ref) < 0) {
		agent_session_send_error(s, id, ERRC(IMAGE),
					 "'%.256s' is not a valid image reference", pi->image);
		return;
	}
	registry = ref->registry != NULL;
	oci_ref_free(ref);
	if (!registry) {
		agent_session_send_error(
			s, id, ERRC(BAD_REQUEST),
			"%.256s has no registry to pull from (a short name is an image "
			"of the store: give host[:port]/name:tag)",
			pi->image);
		return;
	}
	j = job_new(q, JOB_PULL, agent_session_id(s), id, pi->image);
	if (!j) {
		agent_session_send_error(s, id, ERRC(INTERNAL), "%s", strerror(ENOMEM));
		return;
	}
	job_submit(q, j);
}

static void done_pull_image(struct agent_requests *q, struct req_job *j, struct agent_session *s)
{
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__ImagePulled ip = GADGET__AGENT__V1__IMAGE_PULLED__INIT;

	if (j->rc < 0) {
		agent_session_send_error(s, j->rid, image_errcode(j->ikind), "%s", j->err);
		return;
	}
	if (!j->img->pulled) {
		agent_session_send_error(
			s, j->rid, ERRC(BAD_REQUEST),
			"%s has no registry to pull from (a short name is an image "
			"of the store: give host[:port]/name:tag)",
			j->img->ref);
		return;
	}
	base_log_info("agent: pulled %s (%s)", j->img->ref, j->img->digest);
	ip.image = j->img->ref;
	ip.digest = j->img->digest;
	resp.payload_case = RESP(IMAGE_PULLED);
	resp.image_pulled = &ip;
	send_resp(s, j->rid, &resp);
}

void agent_requests_handle(struct agent_requests *q, struct agent_session *s,
			   const Gadget__Agent__V1__Request *req)
{
	if (q->stopping) {
		agent_session_send_error(s, req->id, ERRC(UNAVAILABLE), "the agent is stopping");
		return;
	}
	switch (req->payload_case) {
	case REQ(GET_AGENT_INFO):
		req_agent_info(q, s, req->id);
		break;
	case REQ(GET_GADGET_INFO):
		req_gadget_info(q, s, req->id, req->get_gadget_info);
		break;
	case REQ(RUN_GADGET):
		req_run(q, s, req->id, req->run_gadget);
		break;
	case REQ(STOP_RUN):
		req_stop(q, s, req->id, req->stop_run);
		break;
	case REQ(CREATE_INSTANCE):
		req_create(q, s, req->id, req->create_instance);
		break;
	case REQ(LIST_INSTANCES):
		req_list_instances(q, s, req->id);
		break;
	case REQ(ATTACH_INSTANCE):
		req_attach(q, s, req->id, req->attach_instance);
		break;
	case REQ(DELETE_INSTANCE):
		req_delete(q, s, req->id, req->delete_instance);
		break;
	case REQ(LIST_CONTAINERS):
		req_containers(q, s, req->id, req->list_containers);
		break;
	case REQ(RECORDS_ACK):
		/* not answered: an ack of a run that just ended is no error */
		agent_run_table_ack(q->o.runs, s, req->records_ack->run_id,
				    req->records_ack->bytes);
		break;
	case REQ(LIST_IMAGES):
		req_list_images(q, s, req->id);
		break;
	case REQ(PULL_IMAGE):
		req_pull_image(q, s, req->id, req->pull_image);
		break;
	default:
		agent_session_send_error(s, req->id, ERRC(UNIMPLEMENTED),
					 "this agent does not know the request");
	}
}

static void job_done(struct agent_worker_job *w)
{
	struct req_job *j = (struct req_job *)w;
	struct agent_requests *q = j->q;
	struct agent_session *s = j->sid ? agent_server_session(q->o.srv, j->sid) : NULL;

	switch (j->purpose) {
	case JOB_INFO:
		if (s)
			done_gadget_info(q, j, s);
		break;
	case JOB_RUN:
		done_run(q, j, s);
		break;
	case JOB_CREATE:
		if (s)
			done_create(q, j, s);
		break;
	case JOB_IMAGES:
		if (s)
			done_list_images(q, j, s);
		break;
	case JOB_PULL:
		if (s)
			done_pull_image(q, j, s);
		break;
	}
	job_free(j);
}

static void job_drop(struct agent_worker_job *w)
{
	job_free((struct req_job *)w);
}

int agent_requests_new(const struct agent_requests_opts *opts, struct agent_requests **ret)
{
	struct agent_requests *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->o = *opts;
	*ret = q;
	return 0;
}

struct agent_requests *agent_requests_free(struct agent_requests *q)
{
	free(q);
	return NULL;
}

void agent_requests_shutdown(struct agent_requests *q)
{
	q->stopping = true;
}
