// SPDX-License-Identifier: Apache-2.0
/*
 * List+watch caches.  See cache.h.
 *
 * Objects are built outside the lock (owner resolution may do a GET) into
 * one allocation: the struct, its arrays and a pool of strings.  The
 * primary index (namespace/name) holds the reference; the secondary ones
 * (uid, IP, container id) borrow it, and every entry's key points into the
 * object it maps to, so removing an object's entries before dropping it is
 * all the bookkeeping needed.  Only the cache thread changes the indexes;
 * readers take the read lock and a reference.
 */
#include "k8s/cache.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/time.h"
#include "k8s/client.h"

#define CACHE_MAP_MIN	 64
#define CACHE_MAX_KEY	 512
#define CACHE_ERRLEN	 512
#define CACHE_MAX_LABELS 1024

struct cache_entry {
	const char *key; /* points into obj */
	struct k8s_cache_obj *obj;
	struct cache_entry *next;
};

struct cache_map {
	struct cache_entry **b;
	size_t nb;
	size_t n;
};

enum cache_change_type {
	CACHE_ADD,
	CACHE_UPDATE,
	CACHE_DELETE,
};

struct cache_change {
	enum cache_change_type type;
	struct k8s_cache_obj *old; /* a reference, or NULL */
	struct k8s_cache_obj *obj; /* a reference */
};

struct k8s_cache {
	struct k8s_client *client;
	enum k8s_cache_kind kind;
	unsigned int ttl_ms;
	bool resolve_owners;
	struct k8s_cache_handlers h;
	struct k8s_watch *watch;
	pthread_t thread;
	bool thread_started;

	pthread_rwlock_t lock;
	struct cache_map by_key;
	struct cache_map by_uid;
	struct cache_map by_ip;
	struct cache_map by_cid;
	size_t n_deleted;

	/* cache thread only */
	struct cache_map staging;
	struct cache_map owners;

	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	bool synced;
	int last_err;
	char last_msg[CACHE_ERRLEN];
};

/* The pieces of an object being built, as offsets into one string pool. */
struct cache_draft {
	enum k8s_cache_kind kind;
	struct base_buf pool;
	size_t ns, name, uid, rv, labels, node, owner_kind, owner_name, key;
	size_t ips[K8S_CACHE_MAX_IPS];
	size_t n_ips;
	size_t cnames[K8S_CACHE_MAX_CONTAINERS];
	size_t cids[K8S_CACHE_MAX_CONTAINERS];
	size_t n_containers;
	bool host_network;
};

/* --- hash maps ------------------------------------------------------------ */

static uint64_t cache_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static struct cache_entry **cache_map_slot(const struct cache_map *m, const char *key)
{
	struct cache_entry **pp = &m->b[cache_hash(key) & (m->nb - 1)];

	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

static struct k8s_cache_obj *cache_map_get(const struct cache_map *m, const char *key)
{
	if (!m->nb || !key || !*key)
		return NULL;
	struct cache_entry *e = *cache_map_slot(m, key);

	return e ? e->obj : NULL;
}

static int cache_map_grow(struct cache_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : CACHE_MAP_MIN;
	struct cache_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct cache_entry *e = m->b[i], *next;

		for (; e; e = next) {
			size_t j = cache_hash(e->key) & (nb - 1);

			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* Maps key to obj; returns the object it replaced, or NULL. */
static int cache_map_set(struct cache_map *m, const char *key, struct k8s_cache_obj *obj,
			 struct k8s_cache_obj **ret_old)
{
	struct cache_entry **pp, *e;

	if (ret_old)
		*ret_old = NULL;
	if (m->n >= m->nb) {
		int r = cache_map_grow(m);

		if (r < 0 && !m->nb)
			return r; /* a full table still works, only slower */
	}
	pp = cache_map_slot(m, key);
	if (*pp) {
		if (ret_old)
			*ret_old = (*pp)->obj;
		(*pp)->key = key;
		(*pp)->obj = obj;
		return 0;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = key;
	e->obj = obj;
	e->next = NULL;
	*pp = e;
	m->n++;
	return 0;
}

/* Removes key when it maps to obj (any object when obj is NULL). */
static struct k8s_cache_obj *cache_map_del(struct cache_map *m, const char *key,
					   const struct k8s_cache_obj *obj)
{
	struct cache_entry **pp, *e;
	struct k8s_cache_obj *o;

	if (!m->nb || !key || !*key)
		return NULL;
	pp = cache_map_slot(m, key);
	e = *pp;
	if (!e || (obj && e->obj != obj))
		return NULL;
	o = e->obj;
	*pp = e->next;
	free(e);
	m->n--;
	return o;
}

/* Frees the table; with unref, drops the objects' references too. */
static void cache_map_done(struct cache_map *m, bool unref)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct cache_entry *e = m->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (unref)
				k8s_cache_obj_unref(e->obj);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

#define cache_map_foreach(m, e)                                                                    \
	for (size_t _i = 0; _i < (m)->nb; _i++)                                                    \
		for (struct cache_entry *e = (m)->b[_i]; e; e = e->next)

/* --- objects -------------------------------------------------------------- */

struct k8s_cache_obj *k8s_cache_obj_ref(struct k8s_cache_obj *o)
{
	if (o)
		atomic_fetch_add(&o->refs, 1);
	return o;
}

struct k8s_cache_obj *k8s_cache_obj_unref(struct k8s_cache_obj *o)
{
	if (o && atomic_fetch_sub(&o->refs, 1) == 1)
		free(o);
	return NULL;
}

bool k8s_cache_obj_deleted(const struct k8s_cache_obj *o)
{
	return atomic_load(&o->deleted_at_ms) != 0;
}

static int draft_put(struct cache_draft *d, const char *s, size_t *off)
{
	*off = d->pool.len;
	return base_buf_append(&d->pool, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static struct k8s_cache_obj *draft_finish(struct cache_draft *d)
{
	size_t head = sizeof(struct k8s_cache_obj) + d->n_ips * sizeof(char *) +
		      d->n_containers * sizeof(struct k8s_cache_container);
	struct k8s_cache_obj *o;
	struct k8s_cache_container *cs;
	const char **ips;
	char *mem, *pool;

	mem = calloc(1, head + d->pool.len);
	if (!mem)
		return NULL;
	o = (struct k8s_cache_obj *)mem;
	ips = (const char **)(mem + sizeof(*o));
	cs = (struct k8s_cache_container *)(mem + sizeof(*o) + d->n_ips * sizeof(char *));
	pool = mem + head;
	memcpy(pool, d->pool.data, d->pool.len);
	o->kind = d->kind;
	o->namespace = pool + d->ns;
	o->name = pool + d->name;
	o->uid = pool + d->uid;
	o->resource_version = pool + d->rv;
	o->labels = pool + d->labels;
	o->node = pool + d->node;
	o->owner_kind = pool + d->owner_kind;
	o->owner_name = pool + d->owner_name;
	o->key = pool + d->key;
	for (size_t i = 0; i < d->n_ips; i++)
		ips[i] = pool + d->ips[i];
	o->ips = ips;
	o->n_ips = d->n_ips;
	for (size_t i = 0; i < d->n_containers; i++) {
		cs[i].name = pool + d->cnames[i];
		cs[i].id = pool + d->cids[i];
	}
	o->containers = cs;
	o->n_containers = d->n_containers;
	o->host_network = d->host_network;
	atomic_init(&o->refs, 1);
	atomic_init(&o->deleted_at_ms, 0);
	return o;
}

static int cache_label_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k2=v2" sorted by key; labels past the maximum are left out whole. */
static int draft_labels(struct cache_draft *d, json_t *labels)
{
	struct base_buf b = BASE_BUF_INIT(K8S_CACHE_MAX_LABELS);
	const char *keys[CACHE_MAX_LABELS];
	size_t n = 0;
	const char *k;
	json_t *v;
	int r;

	if (json_is_object(labels)) {
		json_object_foreach(labels, k, v)
		{
			if (n < CACHE_MAX_LABELS && json_is_string(v))
				keys[n++] = k;
		}
	}
	qsort(keys, n, sizeof(keys[0]), cache_label_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t before = b.len;

		r = base_buf_printf(&b, "%s%s=%s", b.len ? "," : "", keys[i],
				    json_string_value(json_object_get(labels, keys[i])));
		if (r == -E2BIG) {
			if (b.data)
				b.data[before] = '\0';
			b.len = before;
			break;
		}
		if (r < 0) {
			base_buf_done(&b);
			return r;
		}
	}
	r = draft_put(d, b.data ? b.data : "", &d->labels);
	base_buf_done(&b);
	return r;
}

static const char *cache_jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int draft_ip(struct cache_draft *d, const char *ip)
{
	if (!ip || !*ip || !strcmp(ip, "None") || d->n_ips >= K8S_CACHE_MAX_IPS)
		return 0;
	for (size_t i = 0; i < d->n_ips; i++)
		if (!strcmp(d->pool.data + d->ips[i], ip))
			return 0;
	return draft_put(d, ip, &d->ips[d->n_ips++]);
}

static int draft_containers(struct cache_draft *d, json_t *statuses)
{
	size_t i;
	json_t *cs;
	int r;

	json_array_foreach(statuses, i, cs)
	{
		const char *name = cache_jstr(cs, "name"), *id = cache_jstr(cs, "containerID");
		const char *sep;

		if (!name || d->n_containers >= K8S_CACHE_MAX_CONTAINERS)
			continue;
		/* "containerd://<id>": enrichment looks containers up by the bare id */
		if (id && (sep = strstr(id, "://")))
			id = sep + 3;
		r = draft_put(d, name, &d->cnames[d->n_containers]);
		if (r == 0)
			r = draft_put(d, id, &d->cids[d->n_containers]);
		if (r < 0)
			return r;
		d->n_containers++;
	}
	return 0;
}

static bool cache_name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

/* The controller among ownerReferences, else the first one. */
static json_t *cache_controller_ref(json_t *meta)
{
	json_t *refs = json_object_get(meta, "ownerReferences"), *ref, *first = NULL;
	size_t i;

	json_array_foreach(refs, i, ref)
	{
		if (!json_is_object(ref) || !cache_jstr(ref, "kind") || !cache_jstr(ref, "name"))
			continue;
		if (json_is_true(json_object_get(ref, "controller")))
			return ref;
		if (!first)
			first = ref;
	}
	return first;
}

/*
 * A ReplicaSet's Deployment, a Job's CronJob: fetched once, remembered in
 * c->owners (a memo object carrying only key and owner).  Falls back to the
 * direct owner when the GET fails.
 */
static void cache_resolve_owner(struct k8s_cache *c, const char *ns, const char **kind,
				const char **name, char *kbuf, char *nbuf, size_t bufsize)
{
	const char *plural, *api;
	struct k8s_cache_obj *memo;
	struct cache_draft d = {.pool = BASE_BUF_INIT(4096)};
	char key[CACHE_MAX_KEY], path[CACHE_MAX_KEY + 64];
	json_t *reply = NULL, *ref;
	const char *rkind = *kind, *rname = *name;
	int r;

	if (!strcmp(*kind, "ReplicaSet")) {
		plural = "replicasets";
		api = "apps/v1";
	} else if (!strcmp(*kind, "Job")) {
		plural = "jobs";
		api = "batch/v1";
	} else {
		return;
	}
	if (!cache_name_ok(ns) || !cache_name_ok(*name))
		return;
	snprintf(key, sizeof(key), "%s/%s/%s", *kind, ns, *name);
	memo = cache_map_get(&c->owners, key);
	if (memo) {
		*kind = memo->owner_kind;
		*name = memo->owner_name;
		return;
	}
	snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/%s/%s", api, ns, plural, *name);
	r = k8s_client_get(c->client, path, &reply, NULL, 0);
	if (r < 0 && r != -ENOENT) {
		base_log_debug("k8s: owner %s: %s", path, strerror(-r));
		return; /* not remembered: try again with the next event */
	}
	ref = r >= 0 ? cache_controller_ref(json_object_get(reply, "metadata")) : NULL;
	if (ref) {
		rkind = cache_jstr(ref, "kind");
		rname = cache_jstr(ref, "name");
	}
	snprintf(kbuf, bufsize, "%s", rkind);
	snprintf(nbuf, bufsize, "%s", rname);
	*kind = kbuf;
	*name = nbuf;
	json_decref(reply);

	if (c->owners.n >= K8S_CACHE_MAX_OWNERS)
		cache_map_done(&c->owners, true);
	r = draft_put(&d, key, &d.key);
	if (!r)
		r = draft_put(&d, kbuf, &d.owner_kind);
	if (!r)
		r = draft_put(&d, nbuf, &d.owner_name);
	if (!r) {
		d.ns = d.name = d.uid = d.rv = d.labels = d.node = d.key + strlen(key);
		memo = draft_finish(&d);
		if (memo && cache_map_set(&c->owners, memo->key, memo, NULL) < 0)
			k8s_cache_obj_unref(memo);
	}
	base_buf_done(&d.pool);
}

/*
 * Builds the compact object for a JSON one.  Returns 0 with NULL for an
 * object without a name (skipped), -E2BIG when its strings do not fit.
 */
static int cache_build(struct k8s_cache *c, json_t *j, struct k8s_cache_obj **ret)
{
	struct cache_draft d = {.kind = c->kind, .pool = BASE_BUF_INIT(K8S_CACHE_MAX_OBJ_BYTES)};
	json_t *meta = json_object_get(j, "metadata"), *spec = json_object_get(j, "spec");
	json_t *status = json_object_get(j, "status"), *ref, *arr, *it;
	const char *ns = cache_jstr(meta, "namespace"), *name = cache_jstr(meta, "name");
	const char *okind = "", *oname = "";
	char kbuf[256], nbuf[256], key[CACHE_MAX_KEY];
	size_t i;
	int r;

	*ret = NULL;
	if (!name || !*name || strlen(name) > 253 || (ns && strlen(ns) > 253))
		return 0;
	if (!ns)
		ns = "";
	snprintf(key, sizeof(key), "%s%s%s", ns, *ns ? "/" : "", name);

	ref = cache_controller_ref(meta);
	if (ref) {
		okind = cache_jstr(ref, "kind");
		oname = cache_jstr(ref, "name");
		if (c->resolve_owners && c->kind == K8S_CACHE_POD)
			cache_resolve_owner(c, ns, &okind, &oname, kbuf, nbuf, sizeof(kbuf));
	}
	r = draft_put(&d, ns, &d.ns);
	if (!r)
		r = draft_put(&d, name, &d.name);
	if (!r)
		r = draft_put(&d, key, &d.key);
	if (!r)
		r = draft_put(&d, cache_jstr(meta, "uid"), &d.uid);
	if (!r)
		r = draft_put(&d, cache_jstr(meta, "resourceVersion"), &d.rv);
	if (!r)
		r = draft_labels(&d, json_object_get(meta, "labels"));
	if (!r)
		r = draft_put(&d, okind, &d.owner_kind);
	if (!r)
		r = draft_put(&d, oname, &d.owner_name);
	if (!r)
		r = draft_put(&d, c->kind == K8S_CACHE_POD ? cache_jstr(spec, "nodeName") : NULL,
			      &d.node);
	if (r < 0)
		goto out;

	switch (c->kind) {
	case K8S_CACHE_POD:
		d.host_network = json_is_true(json_object_get(spec, "hostNetwork"));
		json_array_foreach(json_object_get(status, "podIPs"), i, it)
		{
			r = draft_ip(&d, cache_jstr(it, "ip"));
			if (r < 0)
				goto out;
		}
		r = draft_ip(&d, cache_jstr(status, "podIP"));
		if (!r)
			r = draft_containers(&d, json_object_get(status, "initContainerStatuses"));
		if (!r)
			r = draft_containers(&d, json_object_get(status, "containerStatuses"));
		if (!r)
			r = draft_containers(&d,
					     json_object_get(status, "ephemeralContainerStatuses"));
		break;
	case K8S_CACHE_SERVICE:
		arr = json_object_get(spec, "clusterIPs");
		json_array_foreach(arr, i, it)
		{
			r = draft_ip(&d, json_string_value(it));
			if (r < 0)
				goto out;
		}
		r = draft_ip(&d, cache_jstr(spec, "clusterIP"));
		break;
	case K8S_CACHE_NODE:
		json_array_foreach(json_object_get(status, "addresses"), i, it)
		{
			const char *type = cache_jstr(it, "type");

			if (type && (!strcmp(type, "InternalIP") || !strcmp(type, "ExternalIP"))) {
				r = draft_ip(&d, cache_jstr(it, "address"));
				if (r < 0)
					goto out;
			}
		}
		break;
	default:
		break;
	}
	if (r < 0)
		goto out;
	*ret = draft_finish(&d);
	if (!*ret)
		r = -ENOMEM;
out:
	if (r == -E2BIG) {
		base_log_debug("k8s: %s: object over %u bytes, skipped", key,
			       K8S_CACHE_MAX_OBJ_BYTES);
		r = 0;
	}
	base_buf_done(&d.pool);
	return r;
}

/* --- the store (write lock held) ----------------------------------------- */

static bool cache_ip_indexed(const struct k8s_cache_obj *o)
{
	return !(o->kind == K8S_CACHE_POD && o->host_network);
}

static void cache_unindex_secondary(struct k8s_cache *c, const struct k8s_cache_obj *o)
{
	cache_map_del(&c->by_uid, o->uid, o);
	for (size_t i = 0; i < o->n_ips; i++)
		cache_map_del(&c->by_ip, o->ips[i], o);
	for (size_t i = 0; i < o->n_containers; i++)
		cache_map_del(&c->by_cid, o->containers[i].id, o);
}

/* Out of memory in a secondary index only costs that lookup; the store stays right. */
static void cache_index_secondary(struct k8s_cache *c, struct k8s_cache_obj *o)
{
	if (*o->uid)
		cache_map_set(&c->by_uid, o->uid, o, NULL);
	if (cache_ip_indexed(o))
		for (size_t i = 0; i < o->n_ips; i++)
			cache_map_set(&c->by_ip, o->ips[i], o, NULL);
	for (size_t i = 0; i < o->n_containers; i++)
		if (*o->containers[i].id)
			cache_map_set(&c->by_cid, o->containers[i].id, o, NULL);
}

/*
 * Puts o (its reference moves to the store) in place of the object with
 * the same key; returns that one (its reference moves to the caller).
 */
static int cache_replace(struct k8s_cache *c, struct k8s_cache_obj *o,
			 struct k8s_cache_obj **ret_old)
{
	struct k8s_cache_obj *old = cache_map_get(&c->by_key, o->key);
	int r;

	if (old)
		cache_unindex_secondary(c, old);
	r = cache_map_set(&c->by_key, o->key, o, NULL);
	if (r < 0) {
		if (old)
			cache_index_secondary(c, old);
		return r;
	}
	cache_index_secondary(c, o);
	if (old && k8s_cache_obj_deleted(old))
		c->n_deleted--;
	if (k8s_cache_obj_deleted(o))
		c->n_deleted++;
	*ret_old = old;
	return 0;
}

static void cache_call(struct k8s_cache *c, const struct cache_change *ch)
{
	switch (ch->type) {
	case CACHE_ADD:
		if (c->h.on_add)
			c->h.on_add(c->h.userdata, ch->obj);
		break;
	case CACHE_UPDATE:
		if (c->h.on_update)
			c->h.on_update(c->h.userdata, ch->old, ch->obj);
		break;
	case CACHE_DELETE:
		if (c->h.on_delete)
			c->h.on_delete(c->h.userdata, ch->obj);
		break;
	}
}

/* --- watch handlers (cache thread) ---------------------------------------- */

static int cache_on_event(void *userdata, enum k8s_watch_type type, json_t *j)
{
	struct k8s_cache *c = userdata;
	struct cache_change ch = {0};
	struct k8s_cache_obj *o, *old = NULL;
	int r;

	r = cache_build(c, j, &o);
	if (r < 0 || !o)
		return r;
	if (type == K8S_WATCH_DELETED)
		atomic_store(&o->deleted_at_ms, base_time_mono_ms());
	pthread_rwlock_wrlock(&c->lock);
	r = cache_replace(c, o, &old);
	pthread_rwlock_unlock(&c->lock);
	if (r < 0) {
		k8s_cache_obj_unref(o);
		return r;
	}
	ch.obj = o;
	if (type == K8S_WATCH_DELETED) {
		ch.type = CACHE_DELETE;
	} else if (old && !k8s_cache_obj_deleted(old)) {
		ch.type = CACHE_UPDATE;
		ch.old = old;
	} else {
		ch.type = CACHE_ADD;
	}
	/* only this thread removes objects from the store: o stays valid */
	cache_call(c, &ch);
	k8s_cache_obj_unref(old);
	return 0;
}

static int cache_list_begin(void *userdata)
{
	struct k8s_cache *c = userdata;

	cache_map_done(&c->staging, true);
	return 0;
}

static int cache_list_item(void *userdata, json_t *item)
{
	struct k8s_cache *c = userdata;
	struct k8s_cache_obj *o, *old = NULL;
	int r;

	r = cache_build(c, item, &o);
	if (r < 0 || !o)
		return r;
	r = cache_map_set(&c->staging, o->key, o, &old);
	if (r < 0) {
		k8s_cache_obj_unref(o);
		return r;
	}
	k8s_cache_obj_unref(old);
	return 0;
}

static void cache_set_synced(struct k8s_cache *c)
{
	pthread_mutex_lock(&c->sync_lock);
	c->synced = true;
	c->last_err = 0;
	c->last_msg[0] = '\0';
	pthread_cond_broadcast(&c->sync_cond);
	pthread_mutex_unlock(&c->sync_lock);
}

/* Replaces the store with the staged list and reports the differences. */
static int cache_list_end(void *userdata, const char *rv, int err)
{
	struct k8s_cache *c = userdata;
	struct cache_change *changes = NULL;
	size_t n = 0, cap = c->by_key.n + c->staging.n;
	uint64_t now = base_time_mono_ms();

	if (err < 0) {
		cache_map_done(&c->staging, true);
		return 0;
	}
	changes = calloc(cap ? cap : 1, sizeof(*changes));
	if (!changes) {
		cache_map_done(&c->staging, true);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&c->lock);
	/* gone while we were not watching */
	cache_map_foreach(&c->by_key, e)
	{
		if (k8s_cache_obj_deleted(e->obj) || cache_map_get(&c->staging, e->key))
			continue;
		atomic_store(&e->obj->deleted_at_ms, now);
		c->n_deleted++;
		changes[n++] = (struct cache_change){CACHE_DELETE, NULL, k8s_cache_obj_ref(e->obj)};
	}
	cache_map_foreach(&c->staging, e)
	{
		struct k8s_cache_obj *old = cache_map_get(&c->by_key, e->key);
		struct k8s_cache_obj *o = e->obj;

		if (old && !k8s_cache_obj_deleted(old) &&
		    !strcmp(old->resource_version, o->resource_version) &&
		    !strcmp(old->uid, o->uid))
			continue;
		k8s_cache_obj_ref(o);
		if (cache_replace(c, o, &old) < 0) {
			k8s_cache_obj_unref(o);
			continue;
		}
		if (old && !k8s_cache_obj_deleted(old))
			changes[n++] =
				(struct cache_change){CACHE_UPDATE, old, k8s_cache_obj_ref(o)};
		else {
			k8s_cache_obj_unref(old);
			changes[n++] = (struct cache_change){CACHE_ADD, NULL, k8s_cache_obj_ref(o)};
		}
	}
	pthread_rwlock_unlock(&c->lock);
	cache_map_done(&c->staging, true);
	cache_set_synced(c);
	for (size_t i = 0; i < n; i++) {
		cache_call(c, &changes[i]);
		k8s_cache_obj_unref(changes[i].old);
		k8s_cache_obj_unref(changes[i].obj);
	}
	free(changes);
	base_log_debug("k8s: cache synced at resourceVersion %s, %zu changes", rv, n);
	return 0;
}

/* Drops deleted objects older than the TTL. */
static void cache_tick(void *userdata)
{
	struct k8s_cache *c = userdata;
	struct k8s_cache_obj **gone;
	size_t n = 0, cap;
	uint64_t now = base_time_mono_ms();

	if (!c->n_deleted) /* only this thread writes it */
		return;
	cap = c->n_deleted;
	gone = calloc(cap, sizeof(*gone));
	if (!gone)
		return;
	pthread_rwlock_wrlock(&c->lock);
	cache_map_foreach(&c->by_key, e)
	{
		uint64_t at = atomic_load(&e->obj->deleted_at_ms);

		if (at && now - at >= c->ttl_ms && n < cap)
			gone[n++] = e->obj;
	}
	for (size_t i = 0; i < n; i++) {
		cache_unindex_secondary(c, gone[i]);
		cache_map_del(&c->by_key, gone[i]->key, gone[i]);
		c->n_deleted--;
	}
	pthread_rwlock_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		k8s_cache_obj_unref(gone[i]);
	free(gone);
}

static void cache_on_error(void *userdata, int err, const char *msg)
{
	struct k8s_cache *c = userdata;

	pthread_mutex_lock(&c->sync_lock);
	c->last_err = err;
	snprintf(c->last_msg, sizeof(c->last_msg), "%s", msg);
	pthread_cond_broadcast(&c->sync_cond);
	pthread_mutex_unlock(&c->sync_lock);
}

static void *cache_thread(void *arg)
{
	struct k8s_cache *c = arg;

	k8s_watch_run(c->watch);
	return NULL;
}

/* --- public --------------------------------------------------------------- */

enum k8s_cache_kind k8s_cache_kind_from_path(const char *path)
{
	const char *last = strrchr(path, '/');
	size_t n;

	last = last ? last + 1 : path;
	n = strcspn(last, "?");
	if (n == 4 && !strncmp(last, "pods", n))
		return K8S_CACHE_POD;
	if (n == 8 && !strncmp(last, "services", n))
		return K8S_CACHE_SERVICE;
	if (n == 10 && !strncmp(last, "namespaces", n))
		return K8S_CACHE_NAMESPACE;
	if (n == 5 && !strncmp(last, "nodes", n))
		return K8S_CACHE_NODE;
	return K8S_CACHE_OTHER;
}

int k8s_cache_new(const struct k8s_cache_opts *opts, struct k8s_cache **ret)
{
	struct k8s_watch_opts wo = {0};
	struct k8s_cache *c;
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (!opts || !opts->client || !opts->path)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->client = opts->client;
	c->kind = k8s_cache_kind_from_path(opts->path);
	c->ttl_ms = opts->deleted_ttl_ms ? opts->deleted_ttl_ms : K8S_CACHE_DELETED_TTL_MS;
	c->resolve_owners = opts->resolve_owners;
	c->h = opts->handlers;
	pthread_rwlock_init(&c->lock, NULL);
	pthread_mutex_init(&c->sync_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->sync_cond, &ca);
	pthread_condattr_destroy(&ca);

	wo.client = opts->client;
	wo.path = opts->path;
	wo.field_selector = opts->field_selector;
	wo.label_selector = opts->label_selector;
	wo.page_limit = opts->page_limit;
	wo.timeout_s = opts->watch_timeout_s;
	wo.backoff_initial_ms = opts->backoff_initial_ms;
	wo.backoff_max_ms = opts->backoff_max_ms;
	wo.handlers = (struct k8s_watch_handlers){
		.list_begin = cache_list_begin,
		.list_item = cache_list_item,
		.list_end = cache_list_end,
		.event = cache_on_event,
		.tick = cache_tick,
		.error = cache_on_error,
		.userdata = c,
	};
	r = k8s_watch_new(&wo, &c->watch);
	if (r < 0) {
		k8s_cache_free(c);
		return r;
	}
	/* the program's signals are for its own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&c->thread, NULL, cache_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		k8s_cache_free(c);
		return r;
	}
	c->thread_started = true;
	*ret = c;
	return 0;
}

struct k8s_cache *k8s_cache_free(struct k8s_cache *c)
{
	if (!c)
		return NULL;
	if (c->thread_started) {
		k8s_watch_stop(c->watch);
		pthread_join(c->thread, NULL);
	}
	k8s_watch_free(c->watch);
	cache_map_done(&c->by_uid, false);
	cache_map_done(&c->by_ip, false);
	cache_map_done(&c->by_cid, false);
	cache_map_done(&c->by_key, true);
	cache_map_done(&c->staging, true);
	cache_map_done(&c->owners, true);
	pthread_rwlock_destroy(&c->lock);
	pthread_cond_destroy(&c->sync_cond);
	pthread_mutex_destroy(&c->sync_lock);
	free(c);
	return NULL;
}

bool k8s_cache_synced(struct k8s_cache *c)
{
	bool s;

	pthread_mutex_lock(&c->sync_lock);
	s = c->synced;
	pthread_mutex_unlock(&c->sync_lock);
	return s;
}

static bool cache_err_final(int err)
{
	return err == -EACCES || err == -EPERM || err == -ENOENT || err == -EINVAL ||
	       err == -EKEYREJECTED;
}

int k8s_cache_wait_synced(struct k8s_cache *c, unsigned int timeout_ms, char *err, size_t errlen)
{
	struct timespec end;
	int r = 0;

	base_time_mono_deadline(timeout_ms, &end);
	pthread_mutex_lock(&c->sync_lock);
	while (!c->synced && !cache_err_final(c->last_err)) {
		if (pthread_cond_timedwait(&c->sync_cond, &c->sync_lock, &end) == ETIMEDOUT)
			break;
	}
	if (!c->synced) {
		r = c->last_err ? c->last_err : -ETIMEDOUT;
		if (err && errlen)
			snprintf(err, errlen, "%s",
				 c->last_msg[0] ? c->last_msg : "timed out waiting for the list");
	}
	pthread_mutex_unlock(&c->sync_lock);
	return r;
}

static struct k8s_cache_obj *cache_lookup(struct k8s_cache *c, const struct cache_map *m,
					  const char *key)
{
	struct k8s_cache_obj *o;

	pthread_rwlock_rdlock(&c->lock);
	o = k8s_cache_obj_ref(cache_map_get(m, key));
	pthread_rwlock_unlock(&c->lock);
	return o;
}

struct k8s_cache_obj *k8s_cache_get(struct k8s_cache *c, const char *ns, const char *name)
{
	char key[CACHE_MAX_KEY];
	int n;

	if (!name)
		return NULL;
	n = snprintf(key, sizeof(key), "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	return cache_lookup(c, &c->by_key, key);
}

struct k8s_cache_obj *k8s_cache_get_by_uid(struct k8s_cache *c, const char *uid)
{
	return cache_lookup(c, &c->by_uid, uid);
}

struct k8s_cache_obj *k8s_cache_get_by_ip(struct k8s_cache *c, const char *ip)
{
	return cache_lookup(c, &c->by_ip, ip);
}

struct k8s_cache_obj *k8s_cache_get_by_container_id(struct k8s_cache *c, const char *id)
{
	const char *sep;

	if (id && (sep = strstr(id, "://")))
		id = sep + 3;
	return cache_lookup(c, &c->by_cid, id);
}

int k8s_cache_foreach(struct k8s_cache *c, int (*fn)(void *userdata, const struct k8s_cache_obj *o),
		      void *userdata)
{
	int r = 0;

	pthread_rwlock_rdlock(&c->lock);
	cache_map_foreach(&c->by_key, e)
	{
		r = fn(userdata, e->obj);
		if (r)
			goto out;
	}
out:
	pthread_rwlock_unlock(&c->lock);
	return r;
}

size_t k8s_cache_count(struct k8s_cache *c)
{
	size_t n;

	pthread_rwlock_rdlock(&c->lock);
	n = c->by_key.n;
	pthread_rwlock_unlock(&c->lock);
	return n;
}

enum k8s_cache_kind k8s_cache_get_kind(const struct k8s_cache *c)
{
	return c->kind;
}

void k8s_cache_get_stats(struct k8s_cache *c, struct k8s_watch_stats *ret)
{
	k8s_watch_get_stats(c->watch, ret);
}
