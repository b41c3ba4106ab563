// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's detached gadget instances.  See instances.h.
 *
 * An instance is found again by id when the resolution of its image
 * completes, and the completion is dropped unless it is the instance's
 * latest start (gen): the instance may have been deleted, replaced or
 * started anew meanwhile.
 *
 * The watch thread fills insts->stage during a list and swaps it in whole
 * at the list's end, so the loop never reconciles against half a list;
 * single events update insts->cur directly.  The loop reconciles a copy taken under
 * the lock, so the lock is never held while instances start or end.
 */
#include "agent/instances.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/instance.h"
#include "agent/run.h"
#include "agent/wire.h"
#include "agent/worker.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/time.h"

#define ERRC(x)	  GADGET__AGENT__V1__ERROR_CODE__ERROR_##x
#define END(x)	  GADGET__AGENT__V1__RUN_END_REASON__RUN_END_##x
#define ISTATE(x) GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_##x
#define MSG_LEN	  1024
/* Instance ConfigMaps held from the watch; more are ignored (and logged). */
#define MAX_CONFIGMAPS	  4096
#define INSTANCE_FILE_EXT ".yaml"

typedef Gadget__Agent__V1__ErrorCode pb_errcode;

struct inst {
	char *name;
	char *id;
	int64_t created_ms;
	char *yaml; /* the text it came from, to notice changes */
	Gadget__Agent__V1__InstanceSpec *spec;
	bool here;    /* parsed and for this node */
	bool invalid; /* did not parse (logged once) */
	Gadget__Agent__V1__InstanceState state;
	char *error;
	bool wants_runtime;    /* failed for lack of a runtime: retried when one answers */
	uint64_t gen;	       /* start attempts, to match completions */
	struct agent_run *run; /* when here */
	bool seen;
	struct inst *next;
};

/* An instance start: its image resolved in a worker. */
struct inst_job {
	struct agent_worker_job job; /* first */
	struct agent_instances *insts;
	const struct agent_image_opts *img_opts;
	char *image;
	char *inst_id;
	uint64_t gen;
	/* results */
	int rc;
	enum agent_image_error ikind;
	char err[AGENT_IMAGE_ERRLEN];
	struct agent_image *img;
};

struct cm_entry {
	char *name;
	char *uid;
	char *yaml; /* NULL: no instance.yaml key */
	int64_t created_ms;
};

struct cm_list {
	struct cm_entry *v;
	size_t n, cap;
};

struct agent_instances {
	struct agent_instances_opts o;
	int fd; /* the watch's news for the loop */
	struct inst *list;
	bool stopping;
	/* Kubernetes */
	struct k8s_watch *watch;
	pthread_t thread;
	bool thread_on;
	pthread_mutex_t lock;
	struct cm_list cur;   /* under lock */
	struct cm_list stage; /* the watch thread's list in progress */
	bool synced;	      /* under lock */
	char error[256];      /* under lock */
	_Atomic uint64_t last_event_ms;
	bool loaded; /* the loop reconciled a synced snapshot */
	bool overflow_warned;
};

static const struct agent_worker_job_ops inst_job_ops;

static void inst_fail(struct inst *in, bool wants_runtime, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static char *cstr(const char *s)
{
	return (char *)(s ? s : "");
}

/* "2024-05-01T10:00:00Z" -> ms since the epoch; 0 when unreadable. */
static int64_t parse_k8s_time(const char *s)
{
	struct tm tm = {0};
	const char *end;

	if (!s)
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static pb_errcode image_errcode(enum agent_image_error k)
{
	return k == AGENT_IMAGE_NOT_FOUND ? ERRC(NOT_FOUND) : ERRC(IMAGE);
}

static void job_free(struct inst_job *j)
{
	if (!j)
		return;
	free(j->image);
	free(j->inst_id);
	agent_image_free(j->img);
	free(j);
}

/* ------------------------------------------------------------ instances */

static struct inst *inst_find(struct agent_instances *insts, const char *id_or_name, bool here_only)
{
	struct inst *in;

	for (in = insts->list; in; in = in->next) {
		if (here_only && !in->here)
			continue;
		if ((in->id && !strcmp(in->id, id_or_name)) || !strcmp(in->name, id_or_name))
			return in;
	}
	return NULL;
}

static void inst_fail(struct inst *in, bool wants_runtime, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!in->error || strcmp(in->error, msg))
		base_log_warn("agent: instance %s: %s", in->name, msg);
	free(in->error);
	in->error = strdup(msg);
	in->state = ISTATE(FAILED);
	in->wants_runtime = wants_runtime;
}

static void inst_free(struct agent_instances *insts, struct inst *in,
		      Gadget__Agent__V1__RunEndReason reason)
{
	struct inst **pp;

	if (in->run) {
		agent_run_end(in->run, reason, NULL);
		agent_run_free(in->run);
	}
	for (pp = &insts->list; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	agent_instance_spec_free(in->spec);
	free(in->name);
	free(in->id);
	free(in->yaml);
	free(in->error);
	free(in);
}

/* Resolves the image of an instance in a worker; the run starts on completion. */
static void inst_start(struct agent_instances *insts, struct inst *in)
{
	struct inst_job *j;

	if (insts->stopping)
		return;
	if (in->run)
		agent_run_stop(in->run);
	in->state = ISTATE(PENDING);
	in->wants_runtime = false;
	in->gen++;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->image = strdup(in->spec->gadget->image)) || !(j->inst_id = strdup(in->id))) {
		job_free(j);
		inst_fail(in, false, "%s", strerror(ENOMEM));
		return;
	}
	j->job.ops = &inst_job_ops;
	j->insts = insts;
	j->img_opts = insts->o.img_opts;
	j->gen = in->gen;
	agent_worker_pool_submit(insts->o.pool, &j->job);
}

/* The image of an instance was resolved (or not): its run starts. */
static void inst_started(struct agent_instances *insts, struct inst_job *j)
{
	struct inst *in = inst_find(insts, j->inst_id, true);
	struct agent_image *img;
	pb_errcode code;
	char msg[MSG_LEN];

	if (!in || in->gen != j->gen || insts->stopping)
		return;
	if (j->rc < 0) {
		inst_fail(in, false, "%s", j->err);
		agent_run_refuse(in->run, image_errcode(j->ikind), "instance %s: %s", in->name,
				 j->err);
		return;
	}
	img = j->img;
	j->img = NULL;
	if (agent_run_start(in->run, img,
			    (const Gadget__Agent__V1__KeyValue *const *)in->spec->gadget->params,
			    in->spec->gadget->n_params, 0, &code, msg, sizeof(msg)) < 0) {
		agent_run_refuse(in->run, code, "instance %s: %s", in->name, msg);
		agent_run_end(in->run, END(ERROR), msg);
		inst_fail(in, code == ERRC(UNAVAILABLE), "%s", msg);
		return;
	}
	in->state = ISTATE(RUNNING);
	free(in->error);
	in->error = NULL;
	base_log_info("agent: instance %s (%s) runs %s", in->name, in->id,
		      agent_run_image_ref(in->run));
}

static void inst_job_work(struct agent_worker_job *w)
{
	struct inst_job *j = (struct inst_job *)w;

	j->rc = agent_image_resolve(j->img_opts, j->image, &j->img, &j->ikind, j->err,
				    sizeof(j->err));
}

static void inst_job_done(struct agent_worker_job *w)
{
	struct inst_job *j = (struct inst_job *)w;

	inst_started(j->insts, j);
	job_free(j);
}

static void inst_job_drop(struct agent_worker_job *w)
{
	job_free((struct inst_job *)w);
}

static const struct agent_worker_job_ops inst_job_ops = {
	.work = inst_job_work,
	.done = inst_job_done,
	.drop = inst_job_drop,
};

/* Its gadget failed, or made its last fetch. */
static void inst_run_ended(void *ctx, struct agent_run *r, Gadget__Agent__V1__RunEndReason reason,
			   const char *error)
{
	struct inst *in = ctx;

	switch (reason) {
	case END(ERROR):
		inst_fail(in, false, "%s", error);
		break;
	case END(DONE):
		/* an instance that has fetched enough stays listed, without a gadget */
		in->state = ISTATE(FAILED);
		free(in->error);
		in->error = strdup("done: mapFetchCount fetches made");
		break;
	default:
		break;
	}
}

/* What a spec that did not parse is listed as: its name, and nothing to run. */
static Gadget__Agent__V1__InstanceSpec *inst_placeholder(const char *name)
{
	Gadget__Agent__V1__InstanceSpec is = GADGET__AGENT__V1__INSTANCE_SPEC__INIT;
	Gadget__Agent__V1__GadgetSpec gs = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	Gadget__Agent__V1__InstanceSpec *ret = NULL;

	is.name = (char *)name;
	is.gadget = &gs;
	gs.image = "";
	return agent_instance_spec_dup(&is, &ret) < 0 ? NULL : ret;
}

/*
 * Takes a new instance: parsed spec (owned; NULL when it did not parse),
 * id, created time.  Runs it when it is for this node, unless bad says why
 * it cannot run: it is then listed as failed, with that reason, and the
 * others run as if it were not there.
 */
static struct inst *inst_add(struct agent_instances *insts, const char *name, const char *id,
			     int64_t created_ms, const char *yaml,
			     Gadget__Agent__V1__InstanceSpec *spec, const char *bad)
{
	struct inst *in = calloc(1, sizeof(*in));
	struct agent_run_opts ro = {0};

	if (!in) {
		agent_instance_spec_free(spec);
		return NULL;
	}
	if (!spec && bad)
		spec = inst_placeholder(name);
	in->name = strdup(name);
	in->id = strdup(id);
	in->yaml = yaml ? strdup(yaml) : NULL;
	in->created_ms = created_ms;
	in->spec = spec;
	in->state = ISTATE(PENDING);
	in->next = insts->list;
	insts->list = in;
	if (!in->name || !in->id || (yaml && !in->yaml)) {
		inst_free(insts, in, END(DELETED));
		return NULL;
	}
	if (!spec) {
		in->invalid = true;
		return in;
	}
	in->here = agent_instance_spec_for_node(spec, insts->o.node);
	if (!in->here)
		return in;
	if (bad) {
		inst_fail(in, false, "%s", bad);
		return in;
	}
	ro.spec = spec->gadget;
	ro.instance_name = in->name;
	ro.instance_id = in->id;
	ro.logs = spec->logs;
	ro.replay_records =
		spec->replay_records ? spec->replay_records : AGENT_WIRE_DEFAULT_REPLAY_RECORDS;
	ro.ops.ended = inst_run_ended;
	ro.ops.ctx = in;
	if (agent_run_new(insts->o.runs, &ro, &in->run) < 0) {
		in->here = false;
		inst_fail(in, false, "%s", strerror(ENOMEM));
		return in;
	}
	inst_start(insts, in);
	return in;
}

static size_t inst_count_here(const struct agent_instances *insts, bool running_only)
{
	const struct inst *in;
	size_t n = 0;

	for (in = insts->list; in; in = in->next)
		if (in->here && (!running_only || in->state == ISTATE(RUNNING)))
			n++;
	return n;
}

/* ---- ConfigMaps: the watch thread ---- */

static void cm_entry_done(struct cm_entry *e)
{
	free(e->name);
	free(e->uid);
	free(e->yaml);
}

static void cm_list_clear(struct cm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		cm_entry_done(&l->v[i]);
	l->n = 0;
}

static void cm_list_done(struct cm_list *l)
{
	cm_list_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

/* The fields of a ConfigMap the agent needs; -EINVAL without name or uid. */
static int cm_entry_from_json(json_t *obj, struct cm_entry *e)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const char *created = json_string_value(json_object_get(md, "creationTimestamp"));
	json_t *y = json_object_get(json_object_get(obj, "data"), "instance.yaml");

	memset(e, 0, sizeof(*e));
	if (!name || !uid)
		return -EINVAL;
	e->name = strdup(name);
	e->uid = strdup(uid);
	e->created_ms = parse_k8s_time(created);
	/* a key too large for a ConfigMap is treated as missing: the spec is skipped */
	if (json_is_string(y) && json_string_length(y) <= AGENT_INSTANCE_MAX_YAML) {
		e->yaml = strndup(json_string_value(y), json_string_length(y));
		if (!e->yaml) {
			cm_entry_done(e);
			return -ENOMEM;
		}
	}
	if (!e->name || !e->uid) {
		cm_entry_done(e);
		return -ENOMEM;
	}
	return 0;
}

static int cm_list_put(struct cm_list *l, struct cm_entry *e)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, e->name)) {
			cm_entry_done(&l->v[i]);
			l->v[i] = *e;
			return 0;
		}
	if (l->n == MAX_CONFIGMAPS)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct cm_entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

static void cm_list_remove(struct cm_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name)) {
			cm_entry_done(&l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
}

static void cm_signal(struct agent_instances *insts)
{
	uint64_t one = 1;

	atomic_store(&insts->last_event_ms, base_time_mono_ms());
	if (write(insts->fd, &one, sizeof(one)) < 0)
		base_log_debug("agent: configmap wakeup: %s", strerror(errno));
}

static int cm_list_begin(void *userdata)
{
	struct agent_instances *insts = userdata;

	cm_list_clear(&insts->stage);
	return 0;
}

static int cm_list_item(void *userdata, json_t *item)
{
	struct agent_instances *insts = userdata;
	struct cm_entry e;

	if (cm_entry_from_json(item, &e) < 0)
		return 0;
	if (cm_list_put(&insts->stage, &e) < 0)
		cm_entry_done(&e);
	return 0;
}

static int cm_list_end(void *userdata, const char *rv, int err)
{
	struct agent_instances *insts = userdata;
	struct cm_list tmp;

	if (err) {
		cm_list_clear(&insts->stage);
		return 0;
	}
	pthread_mutex_lock(&insts->lock);
	tmp = insts->cur;
	insts->cur = insts->stage;
	insts->stage = tmp;
	insts->synced = true;
	insts->error[0] = '\0';
	pthread_mutex_unlock(&insts->lock);
	cm_list_clear(&insts->stage);
	cm_signal(insts);
	return 0;
}

static int cm_event(void *userdata, enum k8s_watch_type type, json_t *obj)
{
	struct agent_instances *insts = userdata;
	struct cm_entry e;

	if (cm_entry_from_json(obj, &e) < 0)
		return 0;
	pthread_mutex_lock(&insts->lock);
	if (type == K8S_WATCH_DELETED) {
		cm_list_remove(&insts->cur, e.name);
		cm_entry_done(&e);
	} else if (cm_list_put(&insts->cur, &e) < 0) {
		cm_entry_done(&e);
	}
	pthread_mutex_unlock(&insts->lock);
	cm_signal(insts);
	return 0;
}

static void cm_error(void *userdata, int err, const char *msg)
{
	struct agent_instances *insts = userdata;

	pthread_mutex_lock(&insts->lock);
	snprintf(insts->error, sizeof(insts->error), "%s", msg ? msg : strerror(-err));
	pthread_mutex_unlock(&insts->lock);
	base_log_debug("agent: instance ConfigMaps: %s", msg ? msg : strerror(-err));
}

static void *cm_thread_main(void *arg)
{
	struct agent_instances *insts = arg;

	k8s_watch_run(insts->watch);
	return NULL;
}

/* ---- ConfigMaps: the loop's side ---- */

static void cm_reconcile(struct agent_instances *insts)
{
	struct cm_list snap = {0};
	struct inst *in, *next;
	bool synced;
	size_t i;

	base_time_timer_drain(insts->fd);
	pthread_mutex_lock(&insts->lock);
	synced = insts->synced;
	snap.v = calloc(insts->cur.n ? insts->cur.n : 1, sizeof(*snap.v));
	for (i = 0; snap.v && i < insts->cur.n; i++) {
		struct cm_entry *s = &insts->cur.v[i], *t = &snap.v[snap.n];

		t->name = strdup(s->name);
		t->uid = strdup(s->uid);
		t->yaml = s->yaml ? strdup(s->yaml) : NULL;
		t->created_ms = s->created_ms;
		snap.n++;
	}
	pthread_mutex_unlock(&insts->lock);
	if (!synced || !snap.v) {
		cm_list_done(&snap);
		return;
	}
	if (snap.n == MAX_CONFIGMAPS && !insts->overflow_warned) {
		base_log_warn("agent: more than %d instance ConfigMaps; the rest are ignored",
			      MAX_CONFIGMAPS);
		insts->overflow_warned = true;
	}
	for (in = insts->list; in; in = in->next)
		in->seen = false;
	for (i = 0; i < snap.n; i++) {
		struct cm_entry *e = &snap.v[i];
		Gadget__Agent__V1__InstanceSpec *spec = NULL;
		char err[512] = "";

		if (!e->name || !e->uid)
			continue;
		in = inst_find(insts, e->name, false);
		if (in && !strcmp(in->id, e->uid) &&
		    ((!in->yaml && !e->yaml) ||
		     (in->yaml && e->yaml && !strcmp(in->yaml, e->yaml)))) {
			in->seen = true;
			continue;
		}
		if (in) /* replaced or changed: the old one goes */
			inst_free(insts, in, END(DELETED));
		if (!e->yaml)
			snprintf(err, sizeof(err), "no instance.yaml key");
		else if (agent_instance_spec_parse(e->yaml, strlen(e->yaml), &spec, NULL, err,
						   sizeof(err)) == 0 &&
			 strcmp(spec->name, e->name)) {
			snprintf(err, sizeof(err),
				 "name '%.64s' in instance.yaml is not the "
				 "ConfigMap's name",
				 spec->name);
			spec = agent_instance_spec_free(spec);
		} else if (spec && agent_instance_spec_check(spec, err, sizeof(err)) < 0) {
			spec = agent_instance_spec_free(spec);
		}
		/*
		 * A spec that is not valid (err says why) is listed as failed,
		 * alone, and logged then: the others run.
		 */
		if (spec && agent_run_check_filters(spec->gadget->filters, spec->gadget->n_filters,
						    err, sizeof(err)) == 0) {
			err[0] = '\0';
			if (inst_count_here(insts, false) >= insts->o.max_instances &&
			    agent_instance_spec_for_node(spec, insts->o.node)) {
				base_log_warn("agent: instance ConfigMap %s skipped: this agent "
					      "runs at most %d instances",
					      e->name, (int)insts->o.max_instances);
				spec = agent_instance_spec_free(spec);
			}
		}
		in = inst_add(insts, e->name, e->uid, e->created_ms, e->yaml, spec,
			      err[0] ? err : NULL);
		if (in)
			in->seen = true;
	}
	for (in = insts->list; in; in = next) {
		next = in->next;
		if (!in->seen) {
			if (in->here)
				base_log_info("agent: instance %s (%s) deleted", in->name, in->id);
			inst_free(insts, in, END(DELETED));
		}
	}
	insts->loaded = true;
	cm_list_done(&snap);
}

/* ---- instance files (a plain host) ---- */

static char *inst_file_path(const struct agent_instances *insts, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/instances/%s" INSTANCE_FILE_EXT, insts->o.state_dir, name) < 0)
		return NULL;
	return p;
}

static int random_id(char out[33])
{
	uint8_t b[16];
	size_t i;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* Writes the instance file atomically; -EEXIST when excl and it exists. */
static int inst_file_write(struct agent_instances *insts,
			   const Gadget__Agent__V1__InstanceSpec *spec, const char *id,
			   int64_t created_ms, bool excl)
{
	struct agent_instance_extra ex = {.id = (char *)id, .created_unix_ms = created_ms};
	struct base_buf text = BASE_BUF_INIT(AGENT_INSTANCE_MAX_YAML);
	char *path = inst_file_path(insts, spec->name), *tmp = NULL, *dir = NULL;
	int fd = -1, rc;

	if (!path || asprintf(&tmp, "%s.tmp", path) < 0 ||
	    asprintf(&dir, "%s/instances", insts->o.state_dir) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(insts->o.state_dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	if (excl && access(path, F_OK) == 0) {
		rc = -EEXIST;
		goto out;
	}
	rc = agent_instance_spec_format(spec, &ex, &text);
	if (rc < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	base_buf_done(&text);
	free(path);
	free(tmp);
	free(dir);
	return rc;
}

static void inst_files_load(struct agent_instances *insts)
{
	char *dirpath = NULL;
	struct dirent *de;
	DIR *dir;

	if (asprintf(&dirpath, "%s/instances", insts->o.state_dir) < 0)
		return;
	dir = opendir(dirpath);
	if (!dir) {
		if (errno != ENOENT)
			base_log_warn("agent: instances in %s: %s", dirpath, strerror(errno));
		free(dirpath);
		return;
	}
	while ((de = readdir(dir))) {
		struct agent_instance_extra ex = {0};
		Gadget__Agent__V1__InstanceSpec *spec = NULL;
		size_t nlen = strlen(de->d_name), ext = strlen(INSTANCE_FILE_EXT);
		char name[AGENT_INSTANCE_MAX_NAME + 1], err[512] = "", *path = NULL, *text = NULL;
		char id[33];
		struct stat st = {0};
		size_t got = 0;
		int rc;

		if (nlen <= ext || strcmp(de->d_name + nlen - ext, INSTANCE_FILE_EXT))
			continue;
		if (nlen - ext > AGENT_INSTANCE_MAX_NAME)
			continue;
		memcpy(name, de->d_name, nlen - ext);
		name[nlen - ext] = '\0';
		if (asprintf(&path, "%s/%s", dirpath, de->d_name) < 0)
			break;
		rc = base_file_read(path, AGENT_INSTANCE_MAX_YAML, &text, &got);
		if (rc == 0 && stat(path, &st) < 0)
			st.st_mtime = 0;
		if (rc < 0)
			snprintf(err, sizeof(err), "cannot read it: %s", strerror(-rc));
		else if (agent_instance_spec_parse(text, got, &spec, &ex, err, sizeof(err)) == 0 &&
			 strcmp(spec->name, name)) {
			snprintf(err, sizeof(err), "its name is '%.64s'", spec->name);
			spec = agent_instance_spec_free(spec);
		} else if (spec && agent_instance_spec_check(spec, err, sizeof(err)) < 0) {
			spec = agent_instance_spec_free(spec);
		} else if (spec &&
			   agent_run_check_filters(spec->gadget->filters, spec->gadget->n_filters,
						   err, sizeof(err)) < 0) {
			/* it runs no more, but stays listed as failed */
			base_log_warn("agent: instance file %s: %s", path, err);
			if (!ex.id && random_id(id) == 0)
				ex.id = strdup(id);
			if (ex.id)
				inst_add(insts, name, ex.id, ex.created_unix_ms, NULL, spec, err);
			else
				agent_instance_spec_free(spec);
			spec = NULL;
			err[0] = '\0';
		}
		if (!spec && err[0]) {
			base_log_warn("agent: instance file %s skipped: %s", path, err);
		} else if (spec) {
			if (!ex.id && random_id(id) == 0) {
				ex.id = strdup(id);
				ex.created_unix_ms = (int64_t)st.st_mtime * 1000;
				if (ex.id)
					inst_file_write(insts, spec, ex.id, ex.created_unix_ms,
							false);
			}
			if (ex.id)
				inst_add(insts, name, ex.id, ex.created_unix_ms, NULL, spec, NULL);
			else
				agent_instance_spec_free(spec);
		}
		free(ex.id);
		free(text);
		free(path);
	}
	closedir(dir);
	free(dirpath);
}

/* ------------------------------------------------------------ the set */

int agent_instances_new(const struct agent_instances_opts *opts, struct agent_instances **ret,
			char *err, size_t errlen)
{
	struct agent_instances *insts = calloc(1, sizeof(*insts));
	struct k8s_watch_opts wo = {0};
	char path[256];
	int rc;

	if (!insts)
		return -ENOMEM;
	insts->o = *opts;
	pthread_mutex_init(&insts->lock, NULL);
	insts->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (insts->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto fail;
	}
	if (!opts->kc) {
		inst_files_load(insts);
		*ret = insts;
		return 0;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", opts->gadget_namespace);
	wo.client = opts->kc;
	wo.path = path;
	wo.label_selector = opts->instance_label;
	wo.handlers.list_begin = cm_list_begin;
	wo.handlers.list_item = cm_list_item;
	wo.handlers.list_end = cm_list_end;
	wo.handlers.event = cm_event;
	wo.handlers.error = cm_error;
	wo.handlers.userdata = insts;
	rc = k8s_watch_new(&wo, &insts->watch);
	if (rc < 0) {
		snprintf(err, errlen, "instance ConfigMap watch: %s", strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&insts->thread, NULL, cm_thread_main, insts);
	if (rc < 0) {
		snprintf(err, errlen, "instance ConfigMap watch: %s", strerror(-rc));
		goto fail;
	}
	insts->thread_on = true;
	*ret = insts;
	return 0;
fail:
	agent_instances_free(insts);
	return rc;
}

struct agent_instances *agent_instances_free(struct agent_instances *insts)
{
	if (!insts)
		return NULL;
	insts->stopping = true;
	while (insts->list)
		inst_free(insts, insts->list, END(SHUTDOWN));
	if (insts->thread_on) {
		k8s_watch_stop(insts->watch);
		pthread_join(insts->thread, NULL);
	}
	insts->watch = k8s_watch_free(insts->watch);
	cm_list_done(&insts->cur);
	cm_list_done(&insts->stage);
	if (insts->fd >= 0)
		close(insts->fd);
	pthread_mutex_destroy(&insts->lock);
	free(insts);
	return NULL;
}

int agent_instances_fd(const struct agent_instances *insts)
{
	return insts->fd;
}

void agent_instances_process(struct agent_instances *insts)
{
	cm_reconcile(insts);
}

void agent_instances_shutdown(struct agent_instances *insts)
{
	insts->stopping = true;
}

void agent_instances_retry(struct agent_instances *insts)
{
	struct inst *in;

	for (in = insts->list; in; in = in->next)
		if (in->here && in->state == ISTATE(FAILED) && in->wants_runtime)
			inst_start(insts, in);
}

bool agent_instances_ready(struct agent_instances *insts, char *why, size_t len)
{
	if (!insts->o.kc || insts->loaded)
		return true;
	pthread_mutex_lock(&insts->lock);
	snprintf(why, len, "the instance ConfigMaps are not loaded yet%s%s",
		 insts->error[0] ? ": " : "", insts->error);
	pthread_mutex_unlock(&insts->lock);
	return false;
}

void agent_instances_watch_stats(struct agent_instances *insts, struct k8s_watch_stats *ret_stats,
				 bool *ret_synced, uint64_t *ret_last_ms)
{
	memset(ret_stats, 0, sizeof(*ret_stats));
	if (insts->watch)
		k8s_watch_get_stats(insts->watch, ret_stats);
	pthread_mutex_lock(&insts->lock);
	*ret_synced = insts->synced;
	pthread_mutex_unlock(&insts->lock);
	*ret_last_ms = atomic_load(&insts->last_event_ms);
}

size_t agent_instances_count(const struct agent_instances *insts, bool running_only)
{
	return inst_count_here(insts, running_only);
}

/* ------------------------------------------------------------ requests */

bool agent_instances_exists(const struct agent_instances *insts, const char *id_or_name)
{
	return inst_find((struct agent_instances *)insts, id_or_name, false) != NULL;
}

int agent_instances_list_init(struct agent_instances *insts, struct agent_instances_list *ret)
{
	size_t n = inst_count_here(insts, false), i = 0;
	struct inst *in;

	memset(ret, 0, sizeof(*ret));
	gadget__agent__v1__instance_list__init(&ret->il);
	ret->v = calloc(n ? n : 1, sizeof(*ret->v));
	ret->pv = calloc(n ? n : 1, sizeof(*ret->pv));
	if (!ret->v || !ret->pv) {
		agent_instances_list_done(ret);
		return -ENOMEM;
	}
	for (in = insts->list; in && i < n; in = in->next) {
		Gadget__Agent__V1__Instance *v = &ret->v[i];

		if (!in->here)
			continue;
		gadget__agent__v1__instance__init(v);
		ret->pv[i] = v;
		v->id = in->id;
		in->spec->created_unix_ms = in->created_ms;
		v->spec = in->spec;
		v->state = in->state;
		v->error = cstr(in->error);
		v->node = (char *)insts->o.node;
		v->records = in->run ? agent_run_records(in->run) : 0;
		v->clients = in->run ? (uint32_t)agent_run_subscribers(in->run) : 0;
		if (in->run)
			agent_run_metrics_stats(in->run, &v->metrics_series, &v->metrics_dropped);
		i++;
	}
	ret->il.instances = ret->pv;
	ret->il.n_instances = i;
	return 0;
}

void agent_instances_list_done(struct agent_instances_list *l)
{
	free(l->v);
	free(l->pv);
	l->v = NULL;
	l->pv = NULL;
}

int agent_instances_attachable(struct agent_instances *insts, const char *id_or_name,
			       struct agent_run **ret, pb_errcode *code, char *msg, size_t len)
{
	struct inst *in = id_or_name[0] ? inst_find(insts, id_or_name, true) : NULL;

	if (!in) {
		*code = ERRC(NOT_FOUND);
		snprintf(msg, len, "no instance '%s' on node %s", id_or_name, insts->o.node);
		return -ENOENT;
	}
	if (in->state == ISTATE(FAILED)) {
		*code = ERRC(UNAVAILABLE);
		snprintf(msg, len, "instance %s failed: %s", in->name, cstr(in->error));
		return -EIO;
	}
	*ret = in->run;
	return 0;
}

int agent_instances_create_file(struct agent_instances *insts,
				const Gadget__Agent__V1__InstanceSpec *spec,
				char ret_id[AGENT_INSTANCES_ID_SIZE], int64_t *ret_created_ms,
				pb_errcode *code, char *msg, size_t len)
{
	int64_t now = base_time_unix_ms();
	Gadget__Agent__V1__InstanceSpec *copy = NULL;
	char id[AGENT_INSTANCES_ID_SIZE];
	int rc;

	if (random_id(id) < 0 || agent_instance_spec_dup(spec, &copy) < 0) {
		*code = ERRC(INTERNAL);
		snprintf(msg, len, "%s", strerror(EIO));
		return -EIO;
	}
	rc = inst_file_write(insts, spec, id, now, true);
	if (rc < 0) {
		agent_instance_spec_free(copy);
		if (rc == -EEXIST) {
			*code = ERRC(ALREADY_EXISTS);
			snprintf(msg, len, "instance %s already exists", spec->name);
		} else {
			*code = ERRC(INTERNAL);
			snprintf(msg, len, "cannot write the instance file under %s: %s",
				 insts->o.state_dir, strerror(-rc));
		}
		return rc;
	}
	inst_add(insts, spec->name, id, now, NULL, copy, NULL);
	base_log_info("agent: instance %s (%s) created", spec->name, id);
	memcpy(ret_id, id, sizeof(id));
	*ret_created_ms = now;
	return 0;
}

int agent_instances_delete_file(struct agent_instances *insts, const char *id_or_name,
				char **ret_id, char *msg, size_t len)
{
	struct inst *in = id_or_name[0] ? inst_find(insts, id_or_name, false) : NULL;
	char *path, *iid;
	int e;

	if (!in)
		return -ENOENT;
	path = inst_file_path(insts, in->name);
	iid = strdup(in->id);
	if (!path || !iid || (unlink(path) < 0 && errno != ENOENT)) {
		e = errno;
		snprintf(msg, len, "cannot remove %s: %s", path ? path : in->name, strerror(e));
		free(path);
		free(iid);
		return e ? -e : -EIO;
	}
	base_log_info("agent: instance %s (%s) deleted", in->name, in->id);
	inst_free(insts, in, END(DELETED));
	free(path);
	*ret_id = iid;
	return 0;
}
