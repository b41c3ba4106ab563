// SPDX-License-Identifier: Apache-2.0
/*
 * The container collection: CRI lists turned into a set of containers with
 * namespace ids, kept current by re-listing on events, on inotify signals
 * from containerd's task directory and on a timer.  See collection.h for
 * what is listed and when.
 *
 * Containers live in one allocation each (struct coll_entry), linked into a
 * list (stable order for foreach) and two chained hash tables (by id, by
 * mount namespace id) so enrichment lookups are O(1).
 */
#include "cri/collection.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/log.h"
#include "cri/client.h"
#include "base/file.h"

#define COLL_TAG_POLL	 1
#define COLL_TAG_SOON	 2
#define COLL_TAG_INOTIFY 3
#define COLL_TAG_STREAM	 16
/* After a signal from the task directory, look once more a little later:
 * containerd deletes the task before it marks the container exited. */
#define COLL_FOLLOWUP_MS      200
#define COLL_TASK_SUBDIR      "/io.containerd.runtime.v2.task"
#define COLL_TASK_NS	      "k8s.io"
#define COLL_INOTIFY_BUF      (64 * (sizeof(struct inotify_event) + NAME_MAX + 1))
#define COLL_MAX_PIDFILE      32
#define COLL_INITIAL_BUCKETS  64
#define COLL_CGROUP2_MAGIC    0x63677270
#define COLL_K8S_LABEL_PREFIX "io.kubernetes."

struct coll_entry {
	struct cri_container c; /* first: container_free() gets back here */
	struct coll_entry *id_next, *mnt_next;
	struct coll_entry *prev, *next;
	int rt;
	bool seen;
};

struct coll_runtime {
	char *name;
	char *socket;
	char *task_dir; /* <host_root><state>/io.containerd.runtime.v2.task; NULL if not containerd
			 */
	struct cri_client *client;
	struct cri_transport_stream *events;
	bool events_unsupported;
	bool up;
	int wd_task, wd_ns;
};

struct coll_sub {
	cri_collection_fn fn;
	void *userdata;
};

struct cri_collection {
	struct coll_runtime rt[CRI_COLLECTION_MAX_RUNTIMES];
	size_t n_rt;
	char *host_root;
	unsigned int poll_ms;
	int ep, tfd_poll, tfd_soon, ifd;
	struct coll_entry **by_id, **by_mnt;
	size_t nbuckets, count;
	struct coll_entry *head, *tail;
	struct coll_sub subs[CRI_COLLECTION_MAX_SUBSCRIBERS];
	bool dirty;
};

/* ---- containers ---------------------------------------------------------- */

static struct coll_entry *entry_of(const struct cri_container *c)
{
	return (struct coll_entry *)c;
}

static void labels_free(const struct cri_label *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((char *)l[i].key);
		free((char *)l[i].value);
	}
	free((void *)l);
}

struct cri_container *cri_collection_container_free(struct cri_container *c)
{
	if (!c)
		return NULL;
	free((char *)c->id);
	free((char *)c->name);
	free((char *)c->pod_id);
	free((char *)c->pod_name);
	free((char *)c->pod_namespace);
	free((char *)c->pod_uid);
	free((char *)c->runtime);
	free((char *)c->image_name);
	free((char *)c->image_digest);
	labels_free(c->pod_labels, c->n_pod_labels);
	labels_free(c->labels, c->n_labels);
	free(entry_of(c));
	return NULL;
}

/* Map entries of every CRI map<string,string> share this layout. */
typedef Runtime__V1__ContainerStatus__LabelsEntry coll_kv;

static const char *kv_get(coll_kv *const *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kv[i] && kv[i]->key && !strcmp(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

static int labels_dup(coll_kv *const *kv, size_t n, bool skip_k8s, const struct cri_label **ret,
		      size_t *ret_n)
{
	struct cri_label *l;
	size_t i, k = 0;

	*ret = NULL;
	*ret_n = 0;
	if (n > CRI_COLLECTION_MAX_LABELS)
		return -E2BIG;
	if (!n)
		return 0;
	l = calloc(n, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!kv[i] || !kv[i]->key)
			continue;
		if (skip_k8s &&
		    !strncmp(kv[i]->key, COLL_K8S_LABEL_PREFIX, strlen(COLL_K8S_LABEL_PREFIX)))
			continue;
		l[k].key = strdup(kv[i]->key);
		l[k].value = strdup(kv[i]->value ? kv[i]->value : "");
		k++;
		if (!l[k - 1].key || !l[k - 1].value) {
			labels_free(l, k);
			return -ENOMEM;
		}
	}
	*ret = l;
	*ret_n = k;
	return 0;
}

static char *dup_or_empty(const char *a, const char *b)
{
	return strdup(a && *a ? a : (b ? b : ""));
}

const char *cri_collection_image_digest(const char *image_ref)
{
	const char *at;

	if (!image_ref)
		return "";
	at = strchr(image_ref, '@');
	if (at)
		return at + 1;
	if (!strncmp(image_ref, "sha256:", 7))
		return image_ref;
	return "";
}

int cri_collection_container_new(const Runtime__V1__ContainerStatusResponse *status,
				 const Runtime__V1__PodSandboxStatusResponse *sandbox,
				 const char *runtime, uint32_t pid_override,
				 struct cri_container **ret)
{
	const Runtime__V1__ContainerStatus *st;
	const Runtime__V1__PodSandboxStatus *sb = NULL;
	const Runtime__V1__PodSandboxMetadata *pmd = NULL;
	struct coll_entry *e;
	struct cri_container *c;
	coll_kv *const *cl;
	size_t ncl;
	uint32_t pid = 0;
	int err;

	if (!status || !ret)
		return -EINVAL;
	st = status->status;
	if (!st || !st->id || !*st->id)
		return -ENODATA;
	if (sandbox && sandbox->status) {
		sb = sandbox->status;
		pmd = sb->metadata;
	}
	cl = (coll_kv *const *)st->labels;
	ncl = st->n_labels;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	c = &e->c;
	c->id = strdup(st->id);
	c->name = dup_or_empty(st->metadata ? st->metadata->name : NULL,
			       kv_get(cl, ncl, "io.kubernetes.container.name"));
	c->pod_id = strdup(sb && sb->id ? sb->id : "");
	c->pod_name =
		dup_or_empty(pmd ? pmd->name : NULL, kv_get(cl, ncl, "io.kubernetes.pod.name"));
	c->pod_namespace = dup_or_empty(pmd ? pmd->namespace_ : NULL,
					kv_get(cl, ncl, "io.kubernetes.pod.namespace"));
	c->pod_uid = dup_or_empty(pmd ? pmd->uid : NULL, kv_get(cl, ncl, "io.kubernetes.pod.uid"));
	c->runtime = strdup(runtime ? runtime : "");
	c->image_name = dup_or_empty(st->image ? st->image->image : NULL, st->image_ref);
	c->image_digest = strdup(cri_collection_image_digest(st->image_ref));
	if (!c->id || !c->name || !c->pod_id || !c->pod_name || !c->pod_namespace || !c->pod_uid ||
	    !c->runtime || !c->image_name || !c->image_digest) {
		cri_collection_container_free(c);
		return -ENOMEM;
	}
	err = labels_dup(cl, ncl, false, &c->labels, &c->n_labels);
	if (!err && sb)
		err = labels_dup((coll_kv *const *)sb->labels, sb->n_labels, true, &c->pod_labels,
				 &c->n_pod_labels);
	if (err) {
		cri_collection_container_free(c);
		return err;
	}
	if (pid_override)
		pid = pid_override;
	else if (cri_client_status_pid(status, &pid) < 0)
		pid = 0;
	c->pid = pid;
	c->started_at = st->started_at;
	c->running = st->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	c->host_network =
		sb && sb->linux_status && sb->linux_status->namespaces &&
		sb->linux_status->namespaces->options &&
		sb->linux_status->namespaces->options->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
	*ret = c;
	return 0;
}

int cri_collection_cgroup_path(const char *text, size_t len, char **ret)
{
	const char *p = text, *end = text + len, *nl;
	char *s;

	if (!text || !ret)
		return -EINVAL;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl - p >= 4 && !memcmp(p, "0::/", 4)) {
			s = strndup(p + 3, (size_t)(nl - p - 3));
			if (!s)
				return -ENOMEM;
			*ret = s;
			return 0;
		}
		p = nl + 1;
	}
	return -ENODATA;
}

/* ---- hash tables --------------------------------------------------------- */

static size_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return (size_t)h;
}

static size_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (size_t)v;
}

static void hash_link(struct cri_collection *c, struct coll_entry *e)
{
	size_t i = hash_str(e->c.id) & (c->nbuckets - 1);
	size_t m = hash_u64(e->c.mntns) & (c->nbuckets - 1);

	e->id_next = c->by_id[i];
	c->by_id[i] = e;
	e->mnt_next = c->by_mnt[m];
	c->by_mnt[m] = e;
}

static int hash_grow(struct cri_collection *c)
{
	struct coll_entry **id, **mnt, *e;
	size_t n = c->nbuckets ? c->nbuckets * 2 : COLL_INITIAL_BUCKETS;

	id = calloc(n, sizeof(*id));
	mnt = calloc(n, sizeof(*mnt));
	if (!id || !mnt) {
		free(id);
		free(mnt);
		return -ENOMEM;
	}
	free(c->by_id);
	free(c->by_mnt);
	c->by_id = id;
	c->by_mnt = mnt;
	c->nbuckets = n;
	for (e = c->head; e; e = e->next)
		hash_link(c, e);
	return 0;
}

static void hash_unlink(struct cri_collection *c, struct coll_entry *e)
{
	struct coll_entry **pp;

	for (pp = &c->by_id[hash_str(e->c.id) & (c->nbuckets - 1)]; *pp; pp = &(*pp)->id_next)
		if (*pp == e) {
			*pp = e->id_next;
			break;
		}
	for (pp = &c->by_mnt[hash_u64(e->c.mntns) & (c->nbuckets - 1)]; *pp; pp = &(*pp)->mnt_next)
		if (*pp == e) {
			*pp = e->mnt_next;
			break;
		}
}

const struct cri_container *cri_collection_find_by_id(const struct cri_collection *c,
						      const char *id)
{
	struct coll_entry *e;

	if (!c || !id || !c->nbuckets)
		return NULL;
	for (e = c->by_id[hash_str(id) & (c->nbuckets - 1)]; e; e = e->id_next)
		if (!strcmp(e->c.id, id))
			return &e->c;
	return NULL;
}

const struct cri_container *cri_collection_find_by_mntns(const struct cri_collection *c,
							 uint64_t mntns)
{
	struct coll_entry *e;

	if (!c || !c->nbuckets)
		return NULL;
	for (e = c->by_mnt[hash_u64(mntns) & (c->nbuckets - 1)]; e; e = e->mnt_next)
		if (e->c.mntns == mntns)
			return &e->c;
	return NULL;
}

static void notify(struct cri_collection *c, enum cri_collection_event ev,
		   const struct cri_container *ct)
{
	size_t i;

	for (i = 0; i < CRI_COLLECTION_MAX_SUBSCRIBERS; i++)
		if (c->subs[i].fn)
			c->subs[i].fn(c->subs[i].userdata, ev, ct);
}

static int coll_insert(struct cri_collection *c, struct coll_entry *e)
{
	int err;

	if (c->count + 1 > c->nbuckets) {
		err = hash_grow(c);
		if (err)
			return err;
	}
	e->prev = c->tail;
	e->next = NULL;
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	hash_link(c, e);
	c->count++;
	notify(c, CRI_COLLECTION_ADDED, &e->c);
	return 0;
}

static void coll_remove(struct cri_collection *c, struct coll_entry *e, bool tell)
{
	hash_unlink(c, e);
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->count--;
	if (tell)
		notify(c, CRI_COLLECTION_REMOVED, &e->c);
	cri_collection_container_free(&e->c);
}

/* ---- the host side: /proc, cgroups, containerd's task dir ---------------- */

/* <host_root>/proc/<pid>/<what> */
static int proc_path(const struct cri_collection *c, char *buf, size_t n, uint32_t pid,
		     const char *what)
{
	int r = snprintf(buf, n, "%s/proc/%u/%s", c->host_root, pid, what);

	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static int ns_inode(const struct cri_collection *c, uint32_t pid, const char *ns, uint64_t *ret)
{
	char path[PATH_MAX];
	struct stat st;
	int err;

	char what[16];

	snprintf(what, sizeof(what), "ns/%s", ns);
	err = proc_path(c, path, sizeof(path), pid, what);
	if (err)
		return err;
	if (stat(path, &st) < 0)
		return -errno;
	*ret = st.st_ino;
	return 0;
}

static uint64_t cgroup_id(const struct cri_collection *c, uint32_t pid)
{
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char path[PATH_MAX], *text, *cg = NULL;
	struct statfs sfs;
	struct stat st;
	uint64_t id = 0;
	size_t len, i;
	int n;

	if (proc_path(c, path, sizeof(path), pid, "cgroup") ||
	    base_file_read(path, CRI_COLLECTION_MAX_CGROUP_FILE, &text, &len))
		return 0;
	if (cri_collection_cgroup_path(text, len, &cg)) {
		free(text);
		return 0;
	}
	free(text);
	/* cgroup v2 alone, or the unified hierarchy of a hybrid v1 host */
	for (i = 0; i < 2 && !id; i++) {
		n = snprintf(path, sizeof(path), "%s%s", c->host_root, roots[i]);
		if (n < 0 || (size_t)n >= sizeof(path) || statfs(path, &sfs) < 0 ||
		    sfs.f_type != COLL_CGROUP2_MAGIC)
			continue;
		if (strlen(path) + strlen(cg) >= sizeof(path))
			break;
		memcpy(path + strlen(path), cg, strlen(cg) + 1);
		if (stat(path, &st) == 0)
			id = st.st_ino;
	}
	free(cg);
	return id;
}

/* init.pid that runc writes into the shim's directory after `runc create`. */
static uint32_t task_init_pid(const struct coll_runtime *r, const char *id)
{
	char path[PATH_MAX], *buf = NULL;
	unsigned long v;
	size_t len;
	char *end;
	int n;

	if (!r->task_dir || strchr(id, '/'))
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s/%s/init.pid", r->task_dir, COLL_TASK_NS, id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	if (base_file_read(path, COLL_MAX_PIDFILE, &buf, &len))
		return 0;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || !len || end == buf || v == 0 || v > CRI_MAX_PID)
		v = 0;
	free(buf);
	return (uint32_t)v;
}

static void watch_task_dir(struct cri_collection *c, struct coll_runtime *r)
{
	char path[PATH_MAX];
	int n;

	if (!r->task_dir || c->ifd < 0 || r->wd_ns >= 0)
		return;
	if (r->wd_task < 0)
		r->wd_task = inotify_add_watch(c->ifd, r->task_dir, IN_CREATE | IN_ONLYDIR);
	n = snprintf(path, sizeof(path), "%s/%s", r->task_dir, COLL_TASK_NS);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	r->wd_ns =
		inotify_add_watch(c->ifd, path, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_ONLYDIR);
	if (r->wd_ns >= 0)
		base_log_debug("cri: watching %s for new containers", path);
}

static void watch_container_dir(struct cri_collection *c, struct coll_runtime *r, const char *name)
{
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s/%s", r->task_dir, COLL_TASK_NS, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	/* the watch goes away by itself when the directory is deleted */
	if (inotify_add_watch(c->ifd, path, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		base_log_debug("cri: inotify %s: %s", path, strerror(errno));
}

static void inotify_drain(struct cri_collection *c)
{
	char buf[COLL_INOTIFY_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	size_t i, off;

	for (;;) {
		n = read(c->ifd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (off = 0; off + sizeof(*ev) <= (size_t)n; off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			for (i = 0; i < c->n_rt; i++) {
				struct coll_runtime *r = &c->rt[i];

				if (ev->wd == r->wd_task && ev->len &&
				    !strcmp(ev->name, COLL_TASK_NS)) {
					watch_task_dir(c, r);
					break;
				}
				if (ev->wd == r->wd_ns) {
					if (ev->mask & IN_IGNORED)
						r->wd_ns = -1;
					else if ((ev->mask & IN_CREATE) && ev->len)
						watch_container_dir(c, r, ev->name);
					else if (ev->mask & (IN_DELETE | IN_MOVED_TO))
						c->dirty = true;
					break;
				}
				if (ev->wd == r->wd_task)
					break;
			}
			/* a container directory: only init.pid matters */
			if (i == c->n_rt && ev->len && !strcmp(ev->name, "init.pid"))
				c->dirty = true;
		}
	}
}

/* ---- syncing with the runtimes ------------------------------------------- */

static void add_container(struct cri_collection *c, int ri, const Runtime__V1__Container *ct)
{
	struct coll_runtime *r = &c->rt[ri];
	Runtime__V1__ContainerStatusResponse *st = NULL;
	Runtime__V1__PodSandboxStatusResponse *sb = NULL;
	struct cri_container *cc = NULL;
	uint32_t pid = 0;
	int err;

	err = cri_client_container_status(r->client, ct->id, true, &st);
	if (err) {
		base_log_debug("cri: ContainerStatus %s: %s", ct->id, strerror(-err));
		return;
	}
	if (cri_client_status_pid(st, &pid) < 0)
		pid = 0;
	if (!pid && ct->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED)
		pid = task_init_pid(r, ct->id);
	if (!pid)
		goto out;
	if (ct->pod_sandbox_id && *ct->pod_sandbox_id) {
		err = cri_client_pod_sandbox_status(r->client, ct->pod_sandbox_id, false, &sb);
		if (err)
			base_log_debug("cri: PodSandboxStatus %s: %s", ct->pod_sandbox_id,
				       strerror(-err));
	}
	err = cri_collection_container_new(st, sb, r->name, pid, &cc);
	if (err) {
		base_log_debug("cri: container %s: %s", ct->id, strerror(-err));
		goto out;
	}
	if (!*cc->pod_id && ct->pod_sandbox_id) {
		free((char *)cc->pod_id);
		cc->pod_id = strdup(ct->pod_sandbox_id);
		if (!cc->pod_id) {
			cri_collection_container_free(cc);
			goto out;
		}
	}
	/* A process that is gone already (or a PID reused) is no container. */
	if (ns_inode(c, pid, "mnt", &cc->mntns) || ns_inode(c, pid, "net", &cc->netns)) {
		base_log_debug("cri: container %s: pid %u is gone", ct->id, pid);
		cri_collection_container_free(cc);
		goto out;
	}
	cc->cgroup_id = cgroup_id(c, pid);
	entry_of(cc)->rt = ri;
	entry_of(cc)->seen = true;
	if (coll_insert(c, entry_of(cc)))
		cri_collection_container_free(cc);
out:
	if (sb)
		runtime__v1__pod_sandbox_status_response__free_unpacked(sb, NULL);
	runtime__v1__container_status_response__free_unpacked(st, NULL);
}

/* A known container in CRI's list: still the same process? now started? */
static bool still_there(struct cri_collection *c, struct coll_entry *e,
			const Runtime__V1__Container *ct)
{
	Runtime__V1__ContainerStatusResponse *st = NULL;
	uint64_t mnt;

	if (ns_inode(c, e->c.pid, "mnt", &mnt) || mnt != e->c.mntns)
		return false;
	if (!e->c.running && ct->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
		e->c.running = true;
		if (!cri_client_container_status(c->rt[e->rt].client, e->c.id, false, &st)) {
			if (st->status)
				e->c.started_at = st->status->started_at;
			runtime__v1__container_status_response__free_unpacked(st, NULL);
		}
	}
	return true;
}

static int sync_runtime(struct cri_collection *c, int ri)
{
	struct coll_runtime *r = &c->rt[ri];
	Runtime__V1__ListContainersResponse *lst = NULL;
	struct coll_entry *e, *next;
	size_t i;
	int err;

	err = cri_client_list_containers(r->client, NULL, &lst);
	if (err) {
		if (r->up)
			base_log_debug("cri: %s (%s) not answering: %s", r->name, r->socket,
				       strerror(-err));
		r->up = false;
		return err;
	}
	if (!r->up)
		base_log_debug("cri: %s (%s) answers", r->name, r->socket);
	r->up = true;
	if (lst->n_containers > CRI_COLLECTION_MAX_CONTAINERS) {
		runtime__v1__list_containers_response__free_unpacked(lst, NULL);
		return -E2BIG;
	}
	for (e = c->head; e; e = e->next)
		if (e->rt == ri)
			e->seen = false;
	for (i = 0; i < lst->n_containers; i++) {
		const Runtime__V1__Container *ct = lst->containers[i];
		const struct cri_container *known;

		if (!ct || !ct->id || !*ct->id)
			continue;
		if (ct->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING &&
		    ct->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED)
			continue;
		known = cri_collection_find_by_id(c, ct->id);
		if (known) {
			e = entry_of(known);
			if (e->rt == ri && still_there(c, e, ct))
				e->seen = true;
			continue;
		}
		add_container(c, ri, ct);
	}
	runtime__v1__list_containers_response__free_unpacked(lst, NULL);
	for (e = c->head; e; e = next) {
		next = e->next;
		if (e->rt == ri && !e->seen)
			coll_remove(c, e, true);
	}
	return 0;
}

static void events_close(struct cri_collection *c, struct coll_runtime *r)
{
	if (!r->events)
		return;
	epoll_ctl(c->ep, EPOLL_CTL_DEL, cri_client_events_fd(r->events), NULL);
	r->events = cri_client_events_close(r->events);
}

static void events_open(struct cri_collection *c, int ri)
{
	struct coll_runtime *r = &c->rt[ri];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = COLL_TAG_STREAM + (uint64_t)ri};

	if (r->events || r->events_unsupported || !r->up)
		return;
	if (cri_client_events_open(r->client, &r->events))
		return;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, cri_client_events_fd(r->events), &ev) < 0)
		r->events = cri_client_events_close(r->events);
}

static void events_drain(struct cri_collection *c, int ri)
{
	struct coll_runtime *r = &c->rt[ri];
	Runtime__V1__ContainerEventResponse *ev;
	int n;

	while (r->events && (n = cri_client_events_next(r->events, &ev)) != 0) {
		if (n < 0) {
			if (n == -EOPNOTSUPP) {
				base_log_debug("cri: %s has no GetContainerEvents: polling",
					       r->name);
				r->events_unsupported = true;
			} else {
				base_log_debug("cri: %s event stream ended: %s", r->name,
					       strerror(-n));
			}
			events_close(c, r);
			/* runtime restarted or changed: look now, reopen on the next tick */
			c->dirty = true;
			return;
		}
		c->dirty = true;
		runtime__v1__container_event_response__free_unpacked(ev, NULL);
	}
}

int cri_collection_sync(struct cri_collection *c)
{
	size_t i, n_up = 0;
	int err, first = 0;

	if (!c)
		return -EINVAL;
	c->dirty = false;
	for (i = 0; i < c->n_rt; i++) {
		watch_task_dir(c, &c->rt[i]);
		err = sync_runtime(c, (int)i);
		if (err && !first)
			first = err;
		if (!err)
			n_up++;
		events_open(c, (int)i);
	}
	return n_up ? 0 : first;
}

static void timer_drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		base_log_debug("cri: timerfd read: %s", strerror(errno));
}

static void arm_soon(struct cri_collection *c)
{
	struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = COLL_FOLLOWUP_MS * 1000000L}};

	timerfd_settime(c->tfd_soon, 0, &its, NULL);
}

int cri_collection_process(struct cri_collection *c)
{
	struct epoll_event evs[8];
	bool from_fs = false;
	int n, i;

	if (!c)
		return -EINVAL;
	n = epoll_wait(c->ep, evs, 8, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;

		if (tag == COLL_TAG_POLL || tag == COLL_TAG_SOON) {
			timer_drain(tag == COLL_TAG_POLL ? c->tfd_poll : c->tfd_soon);
			c->dirty = true;
		} else if (tag == COLL_TAG_INOTIFY) {
			inotify_drain(c);
			from_fs = c->dirty;
		} else if (tag >= COLL_TAG_STREAM && tag < COLL_TAG_STREAM + c->n_rt) {
			events_drain(c, (int)(tag - COLL_TAG_STREAM));
		}
	}
	if (from_fs)
		arm_soon(c);
	/* a runtime that is down is not an error for the loop: it is retried */
	if (c->dirty)
		cri_collection_sync(c);
	return 0;
}

/* ---- setup --------------------------------------------------------------- */

static int add_fd(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static char *task_dir_for(const char *host_root, const struct cri_collection_runtime *o)
{
	const char *state = o->state_dir;
	char *dir = NULL, *slash, *out;
	size_t n;

	if (!state) {
		dir = strdup(o->socket_path);
		if (!dir)
			return NULL;
		slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			free(dir);
			return NULL;
		}
		*slash = '\0';
		state = dir;
	}
	n = strlen(host_root) + strlen(state) + sizeof(COLL_TASK_SUBDIR);
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s%s", host_root, state, COLL_TASK_SUBDIR);
	free(dir);
	return out;
}

static int runtime_init(struct cri_collection *c, struct coll_runtime *r,
			const struct cri_collection_runtime *o, int timeout_ms)
{
	Runtime__V1__VersionResponse *v = NULL;
	int err;

	r->wd_task = r->wd_ns = -1;
	if (!o->name || !o->socket_path)
		return -EINVAL;
	r->name = strdup(o->name);
	r->socket = strdup(o->socket_path);
	if (!r->name || !r->socket)
		return -ENOMEM;
	if (strstr(o->name, "containerd")) {
		r->task_dir = task_dir_for(c->host_root, o);
		if (!r->task_dir)
			base_log_debug("cri: no task directory for %s", o->socket_path);
	}
	err = cri_client_new(o->socket_path, timeout_ms, &r->client);
	if (err)
		return err;
	/* a runtime that does not answer yet stays, down: every sync asks it again */
	err = cri_client_version(r->client, &v);
	if (err) {
		base_log_debug("cri: %s at %s does not answer yet: %s", o->name, o->socket_path,
			       strerror(-err));
		return err;
	}
	base_log_debug("cri: %s at %s: %s %s (CRI %s)", o->name, o->socket_path, v->runtime_name,
		       v->runtime_version, v->runtime_api_version);
	runtime__v1__version_response__free_unpacked(v, NULL);
	r->up = true;
	return 0;
}

static void runtime_done(struct cri_collection *c, struct coll_runtime *r)
{
	events_close(c, r);
	r->client = cri_client_free(r->client);
	free(r->name);
	free(r->socket);
	free(r->task_dir);
	memset(r, 0, sizeof(*r));
}

int cri_collection_new(const struct cri_collection_opts *opts, struct cri_collection **ret)
{
	struct itimerspec its;
	struct cri_collection *c;
	int err = 0, first = 0;
	size_t i, n_up = 0;

	if (!opts || !ret || !opts->n_runtimes || opts->n_runtimes > CRI_COLLECTION_MAX_RUNTIMES)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ep = c->tfd_poll = c->tfd_soon = c->ifd = -1;
	c->host_root = strdup(opts->host_root ? opts->host_root : "");
	c->poll_ms =
		opts->poll_interval_ms ? opts->poll_interval_ms : CRI_COLLECTION_DEFAULT_POLL_MS;
	if (!c->host_root) {
		err = -ENOMEM;
		goto fail;
	}
	/* strip a trailing '/' so paths join as "<root>/proc" */
	if (*c->host_root && c->host_root[strlen(c->host_root) - 1] == '/')
		c->host_root[strlen(c->host_root) - 1] = '\0';
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->tfd_poll = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	c->tfd_soon = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->ep < 0 || c->tfd_poll < 0 || c->tfd_soon < 0) {
		err = -errno;
		goto fail;
	}
	/* without inotify (limits reached) we still poll */
	c->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (c->ifd < 0)
		base_log_debug("cri: inotify: %s", strerror(errno));
	for (i = 0; i < opts->n_runtimes; i++) {
		struct coll_runtime *r = &c->rt[c->n_rt];

		err = runtime_init(c, r, &opts->runtimes[i], opts->timeout_ms);
		if (err && !r->client) {
			runtime_done(c, r);
			goto fail;
		}
		/* "no socket" says the least: keep looking for a better reason */
		if (err && (!first || first == -ENOENT))
			first = err;
		if (!err)
			n_up++;
		c->n_rt++;
	}
	if (!n_up) {
		err = first ? first : -ENOENT;
		goto fail;
	}
	err = hash_grow(c);
	if (err)
		goto fail;
	its.it_interval.tv_sec = c->poll_ms / 1000;
	its.it_interval.tv_nsec = (long)(c->poll_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(c->tfd_poll, 0, &its, NULL) < 0) {
		err = -errno;
		goto fail;
	}
	err = add_fd(c->ep, c->tfd_poll, COLL_TAG_POLL);
	if (!err)
		err = add_fd(c->ep, c->tfd_soon, COLL_TAG_SOON);
	if (!err && c->ifd >= 0)
		err = add_fd(c->ep, c->ifd, COLL_TAG_INOTIFY);
	if (err)
		goto fail;
	err = cri_collection_sync(c);
	if (err)
		goto fail;
	*ret = c;
	return 0;
fail:
	cri_collection_free(c);
	return err;
}

struct cri_collection *cri_collection_free(struct cri_collection *c)
{
	size_t i;

	if (!c)
		return NULL;
	while (c->head)
		coll_remove(c, c->head, false);
	for (i = 0; i < c->n_rt; i++)
		runtime_done(c, &c->rt[i]);
	free(c->by_id);
	free(c->by_mnt);
	if (c->ifd >= 0)
		close(c->ifd);
	if (c->tfd_poll >= 0)
		close(c->tfd_poll);
	if (c->tfd_soon >= 0)
		close(c->tfd_soon);
	if (c->ep >= 0)
		close(c->ep);
	free(c->host_root);
	free(c);
	return NULL;
}

int cri_collection_fd(const struct cri_collection *c)
{
	return c ? c->ep : -EINVAL;
}

int cri_collection_subscribe(struct cri_collection *c, cri_collection_fn fn, void *userdata)
{
	struct coll_entry *e;
	int i;

	if (!c || !fn)
		return -EINVAL;
	for (i = 0; i < CRI_COLLECTION_MAX_SUBSCRIBERS; i++)
		if (!c->subs[i].fn)
			break;
	if (i == CRI_COLLECTION_MAX_SUBSCRIBERS)
		return -ENOSPC;
	c->subs[i].fn = fn;
	c->subs[i].userdata = userdata;
	for (e = c->head; e; e = e->next)
		fn(userdata, CRI_COLLECTION_ADDED, &e->c);
	return i;
}

void cri_collection_unsubscribe(struct cri_collection *c, int id)
{
	if (c && id >= 0 && id < CRI_COLLECTION_MAX_SUBSCRIBERS)
		c->subs[id].fn = NULL;
}

void cri_collection_foreach(const struct cri_collection *c, cri_collection_foreach_fn fn,
			    void *userdata)
{
	struct coll_entry *e;

	if (!c || !fn)
		return;
	for (e = c->head; e; e = e->next)
		if (fn(userdata, &e->c))
			return;
}

size_t cri_collection_count(const struct cri_collection *c)
{
	return c ? c->count : 0;
}

size_t cri_collection_runtimes(const struct cri_collection *c, const char **names, size_t max)
{
	size_t i, n = 0;

	if (!c)
		return 0;
	for (i = 0; i < c->n_rt; i++) {
		if (!c->rt[i].up)
			continue;
		if (n < max)
			names[n] = c->rt[i].name;
		n++;
	}
	return n;
}
