// SPDX-License-Identifier: Apache-2.0
/*
 * Finding the agents, connecting to them through pods/portforward and
 * driving their sessions; see agents.h.
 */
#include "cli/kubectl-gadget/agents.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/portforward.h"

/* ---- finding the agent pods ---- */

struct find_ctx {
	struct kg_agents *as;
	const char *const *nodes;
	size_t n_nodes;
	bool too_many;
};

static bool wanted(const struct find_ctx *f, const char *node)
{
	size_t i;

	if (!f->n_nodes)
		return true;
	for (i = 0; i < f->n_nodes; i++)
		if (!strcmp(f->nodes[i], node))
			return true;
	return false;
}

static void agent_free_fields(struct kg_agent *a)
{
	kg_agent_close(a);
	free(a->pod);
	free(a->node);
	free(a->phase);
	free(a->agent_version);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

static int find_item(void *userdata, json_t *pod)
{
	struct find_ctx *f = userdata;
	json_t *md = json_object_get(pod, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *node =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	bool running = phase && !strcmp(phase, "Running");
	struct kg_agent *a = NULL;
	size_t i;

	/* a pod on its way out (rolling update) is not the node's agent */
	if (!name || json_object_get(md, "deletionTimestamp"))
		return 0;
	if (!node || !*node)
		node = name;
	if (!wanted(f, node))
		return 0;
	for (i = 0; i < f->as->n; i++) {
		if (strcmp(f->as->v[i].node, node))
			continue;
		if (f->as->v[i].running || !running)
			return 0;
		a = &f->as->v[i];
		agent_free_fields(a);
		break;
	}
	if (!a) {
		if (f->as->n == KG_MAX_AGENTS) {
			f->too_many = true;
			return 0;
		}
		a = &f->as->v[f->as->n++];
	}
	a->fd = -1;
	a->pod = strdup(name);
	a->node = strdup(node);
	a->phase = strdup(phase ? phase : "Unknown");
	a->running = running;
	if (!a->pod || !a->node || !a->phase)
		return -ENOMEM;
	return 0;
}

static int cmp_agent(const void *x, const void *y)
{
	return strcmp(((const struct kg_agent *)x)->node, ((const struct kg_agent *)y)->node);
}

int kg_agents_find(struct kg_global *g, const char *const *nodes, size_t n_nodes,
		   struct kg_agents *ret)
{
	struct k8s_client_list_opts lo = {.label_selector = KG_AGENT_LABEL};
	struct kg_agents as = {0};
	struct find_ctx f = {.as = &as, .nodes = nodes, .n_nodes = n_nodes};
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "";
	size_t i, j;
	int r;

	if (kg_connect(g) < 0)
		return -ENOTCONN;
	as.v = calloc(KG_MAX_AGENTS, sizeof(*as.v));
	if (!as.v)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", g->gadget_namespace);
	r = k8s_client_list(g->client, path, &lo, find_item, &f, NULL, err, sizeof(err));
	if (r < 0) {
		if (r == -ENOMEM)
			kg_error("out of memory");
		else
			kg_api_error(g, r, err);
		kg_agents_done(&as);
		return r;
	}
	if (f.too_many)
		kg_warn("more than %d agents: only the first %d are used", KG_MAX_AGENTS,
			KG_MAX_AGENTS);
	for (i = 0; i < n_nodes; i++) {
		for (j = 0; j < as.n && strcmp(as.v[j].node, nodes[i]); j++)
			;
		if (j == as.n) {
			kg_error("no gadget agent on node '%s' (agent pods are labelled %s in "
				 "namespace %s)",
				 nodes[i], KG_AGENT_LABEL, g->gadget_namespace);
			kg_agents_done(&as);
			return -ENOENT;
		}
	}
	if (!as.n) {
		kg_error("no gadget agent found: no pod labelled %s in namespace %s (install the "
			 "agents with 'kubectl gadget deploy')",
			 KG_AGENT_LABEL, g->gadget_namespace);
		kg_agents_done(&as);
		return -ENOENT;
	}
	qsort(as.v, as.n, sizeof(*as.v), cmp_agent);
	*ret = as;
	return 0;
}

void kg_agents_done(struct kg_agents *as)
{
	size_t i;

	for (i = 0; as->v && i < as->n; i++)
		agent_free_fields(&as->v[i]);
	free(as->v);
	as->v = NULL;
	as->n = 0;
}

/* ---- failures ---- */

void kg_agent_close(struct kg_agent *a)
{
	/* the forward owns the fd */
	a->pf = k8s_portforward_free(a->pf);
	a->fd = -1;
	a->rd = agent_wire_reader_free(a->rd);
	a->wr = agent_wire_writer_free(a->wr);
}

void kg_agent_fail(struct kg_agent *a, int err, const char *fmt, ...)
{
	va_list ap;

	if (!a->error) {
		a->error = err < 0 ? err : -EIO;
		va_start(ap, fmt);
		base_err_setv(a->errmsg, sizeof(a->errmsg), fmt, ap);
		va_end(ap);
	}
	kg_agent_close(a);
}

void kg_agent_report(struct kg_agent *a)
{
	if (!a->error || a->reported)
		return;
	a->reported = true;
	fflush(stdout);
	fprintf(stderr, KG_NAME ": %s: %s\n", a->node, a->errmsg);
}

const char *kg_agent_error_text(const Gadget__Agent__V1__Error *e)
{
	if (!e)
		return "unknown error";
	if (e->message && *e->message)
		return e->message;
	return agent_wire_error_code_name(e->code);
}

/* ---- sending and receiving ---- */

/* Why the stream broke, from the forward when it knows better. */
static void fail_stream(struct kg_agent *a, int err, const char *what)
{
	const char *why = a->pf ? k8s_portforward_errmsg(a->pf) : NULL;

	/* the error channel: the API server could not reach the pod's port */
	if (why && *why)
		kg_agent_fail(a, err ? err : -ECONNREFUSED, "cannot reach the agent (pod %s): %s",
			      a->pod, why);
	else if (err)
		kg_agent_fail(a, err, "%s: %s", what, strerror(-err));
	else
		kg_agent_fail(a, -ECONNRESET, "%s", what);
}

static int flush_some(struct kg_agent *a)
{
	int r;

	if (!a->wr || !agent_wire_writer_pending(a->wr))
		return 0;
	r = agent_wire_writer_flush(a->wr, a->fd);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		fail_stream(a, r, "connection to the agent lost");
	return r;
}

int kg_agent_send(struct kg_agent *a, Gadget__Agent__V1__Request *req, uint64_t *ret_id)
{
	int r;

	if (!kg_agent_connected(a))
		return a->error ? a->error : -ENOTCONN;
	req->id = ++a->next_id;
	r = agent_wire_writer_queue(a->wr, &req->base, 0);
	if (r < 0) {
		kg_agent_fail(a, r, "cannot send %s: %s",
			      agent_wire_request_name(req->payload_case), strerror(-r));
		return r;
	}
	if (ret_id)
		*ret_id = req->id;
	return flush_some(a);
}

/*
 * Hands out the complete messages the reader holds.  Returns 0 when more
 * bytes are needed (or a lost the connection: look at it), 1 when the
 * handler returned > 0 to stop here (the rest stays queued), or the
 * handler's negative return.
 */
static int drain(struct kg_agent *a,
		 int (*fn)(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m), void *ud)
{
	const uint8_t *msg;
	size_t len;
	int r;

	while ((r = agent_wire_reader_next(a->rd, &msg, &len)) == 1) {
		Gadget__Agent__V1__Response *m = NULL;

		if (agent_wire_response_unpack(msg, len, &m) < 0) {
			kg_agent_fail(a, -EBADMSG, "the agent sent a malformed message");
			return 0;
		}
		r = fn(ud, a, m);
		agent_wire_response_free(m);
		if (r != 0 || !kg_agent_connected(a))
			return r;
	}
	if (r < 0)
		fail_stream(a, r, "malformed stream from the agent");
	return 0;
}

/*
 * Hands out what the reader holds, then reads what the fd has, until it
 * would block.  Returns as drain() does; a stream that ends fails a (the
 * agent never closes first).
 */
static int read_messages(struct kg_agent *a,
			 int (*fn)(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m),
			 void *ud)
{
	for (;;) {
		int n, r = drain(a, fn, ud);

		if (r != 0 || !kg_agent_connected(a))
			return r;
		n = agent_wire_reader_read(a->rd, a->fd);
		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			fail_stream(a, 0, "the agent closed the connection");
			return 0;
		}
		if (n < 0 && n != -ENOBUFS) {
			fail_stream(a, n,
				    n == -EMSGSIZE ? "message over the size limit"
						   : "connection to the agent lost");
			return 0;
		}
	}
}

struct call_ctx {
	uint64_t id;
	Gadget__Agent__V1__Response *answer;
};

/*
 * Keeps the answer to the call, which read_messages() frees after this
 * returns: a copy, by packing and unpacking (answers are small).  Returns 1
 * to stop there: what follows is for the caller's loop.
 */
static int call_handler(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m)
{
	struct call_ctx *c = ud;
	uint8_t *buf;
	size_t len;
	int r;

	if (m->id != c->id)
		return 0;
	len = gadget__agent__v1__response__get_packed_size(m);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	gadget__agent__v1__response__pack(m, buf);
	r = agent_wire_response_unpack(buf, len, &c->answer);
	free(buf);
	return r < 0 ? r : 1;
}

int kg_agent_call(struct kg_agent *a, Gadget__Agent__V1__Request *req, int timeout_ms,
		  Gadget__Agent__V1__Response **ret)
{
	int64_t deadline = kg_now_ms() + timeout_ms;
	struct call_ctx c = {0};
	int r;

	r = kg_agent_send(a, req, &c.id);
	if (r < 0)
		return r;
	/* the answer may be among the bytes already read */
	r = drain(a, call_handler, &c);
	if (r < 0)
		return r;
	while (!c.answer) {
		struct pollfd p = {.fd = a->fd, .events = POLLIN};
		int64_t left = deadline - kg_now_ms();

		if (!kg_agent_connected(a))
			return a->error ? a->error : -ECONNRESET;
		if (a->wr && agent_wire_writer_pending(a->wr))
			p.events |= POLLOUT;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if ((p.revents & POLLOUT) && flush_some(a) < 0)
			return a->error;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read_messages(a, call_handler, &c);
			if (r < 0)
				return r;
		}
	}
	*ret = c.answer;
	return 0;
}

/* ---- connecting ---- */

struct connect_ctx {
	struct kg_global *g;
	struct kg_agents *as;
	atomic_size_t next;
	struct k8s_config_creds creds;
	const char *ca;
	size_t ca_len;
	/* --as, --as-group, --as-uid: the same headers as the API requests carry */
	struct k8s_portforward_header hdrs[K8S_PORTFORWARD_MAX_HEADERS];
	size_t n_hdrs;
};

static void connect_one(struct connect_ctx *c, struct kg_agent *a)
{
	Gadget__Agent__V1__Hello hello = GADGET__AGENT__V1__HELLO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	char err[K8S_PORTFORWARD_MAX_ERRMSG + 64] = "";
	struct k8s_portforward_opts o = {
		.server = k8s_config_server(c->g->cfg),
		.ca_pem = c->ca,
		.ca_pem_len = c->ca_len,
		.token = c->creds.token,
		.client_cert_pem = c->creds.cert,
		.client_key_pem = c->creds.key,
		.insecure_skip_tls_verify = k8s_config_insecure(c->g->cfg),
		.headers = c->hdrs,
		.n_headers = c->n_hdrs,
		.proxy = k8s_config_proxy(c->g->cfg),
		.namespace_ = c->g->gadget_namespace,
		.pod = a->pod,
		.port = KG_AGENT_PORT,
		.connect_timeout_ms = KG_CONNECT_TIMEOUT_MS,
		.err = err,
		.err_size = sizeof(err),
	};
	int fd, r;

	if (!a->running) {
		kg_agent_fail(a, -EAGAIN, "agent pod %s is not running (%s)", a->pod, a->phase);
		return;
	}
	r = k8s_portforward_open(&o, &fd, &a->pf);
	if (r < 0) {
		kg_agent_fail(a, r, "cannot reach the agent (pod %s): %s", a->pod,
			      err[0] ? err : strerror(-r));
		return;
	}
	a->fd = fd;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    agent_wire_reader_new(0, &a->rd) < 0 || agent_wire_writer_new(0, &a->wr) < 0) {
		kg_agent_fail(a, -ENOMEM, "cannot set up the session: %s", strerror(errno));
		return;
	}
	hello.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	hello.protocol_minor = AGENT_WIRE_PROTOCOL_MINOR;
	hello.client = KG_NAME " " IG_VERSION;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO;
	req.hello = &hello;
	r = kg_agent_call(a, &req, KG_CONNECT_TIMEOUT_MS, &m);
	if (r == -ETIMEDOUT) {
		kg_agent_fail(a, r, "the agent (pod %s) did not answer within %d s", a->pod,
			      KG_CONNECT_TIMEOUT_MS / 1000);
		return;
	}
	if (r < 0) {
		/* kg_agent_call() failed the agent with the reason */
		if (!a->error)
			kg_agent_fail(a, r, "%s", strerror(-r));
		return;
	}
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_WELCOME) {
		a->agent_version = strdup(m->welcome->agent_version);
		base_log_debug("%s: agent %s (pod %s), protocol %u.%u", a->node,
			       m->welcome->agent_version, a->pod, m->welcome->protocol_major,
			       m->welcome->protocol_minor);
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		kg_agent_fail(a, -EPROTONOSUPPORT, "%s", kg_agent_error_text(m->error));
	} else {
		kg_agent_fail(a, -EPROTO, "the agent answered Hello with %s",
			      agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
}

static void *connect_worker(void *arg)
{
	struct connect_ctx *c = arg;
	size_t i;

	while ((i = atomic_fetch_add(&c->next, 1)) < c->as->n)
		connect_one(c, &c->as->v[i]);
	return NULL;
}

int kg_agents_connect(struct kg_global *g, struct kg_agents *as)
{
	struct connect_ctx c = {.g = g, .as = as};
	pthread_t th[KG_CONNECT_THREADS];
	size_t i, n_threads = as->n < KG_CONNECT_THREADS ? as->n : KG_CONNECT_THREADS;
	size_t started = 0, n_groups;
	const char *const *groups;
	char err[KG_ERRLEN] = "";
	int connected = 0, r;

	/* the plugin, if any, ran for the list of agents: this is its cached answer */
	r = k8s_config_creds(g->cfg, &c.creds, err, sizeof(err));
	if (r < 0) {
		for (i = 0; i < as->n; i++)
			kg_agent_fail(&as->v[i], r, "%s", err[0] ? err : strerror(-r));
		return 0;
	}
	c.ca = k8s_config_ca(g->cfg, &c.ca_len);
	if (k8s_config_as_user(g->cfg))
		c.hdrs[c.n_hdrs++] = (struct k8s_portforward_header){"Impersonate-User",
								     k8s_config_as_user(g->cfg)};
	groups = k8s_config_as_groups(g->cfg, &n_groups);
	for (i = 0; i < n_groups && c.n_hdrs + 1 < K8S_PORTFORWARD_MAX_HEADERS; i++)
		c.hdrs[c.n_hdrs++] =
			(struct k8s_portforward_header){"Impersonate-Group", groups[i]};
	if (k8s_config_as_uid(g->cfg))
		c.hdrs[c.n_hdrs++] = (struct k8s_portforward_header){"Impersonate-Uid",
								     k8s_config_as_uid(g->cfg)};
	for (i = 1; i < n_threads; i++) {
		if (pthread_create(&th[started], NULL, connect_worker, &c))
			break;
		started++;
	}
	/* this thread works too: with one agent no thread is started */
	connect_worker(&c);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	k8s_config_creds_done(&c.creds);
	for (i = 0; i < as->n; i++)
		connected += kg_agent_connected(&as->v[i]);
	return connected;
}

/* ---- the loop ---- */

int kg_agents_loop(struct kg_agents *as, const struct kg_loop *l)
{
	struct pollfd *p = calloc(as->n + 1, sizeof(*p));
	struct kg_agent **who = calloc(as->n + 1, sizeof(*who));
	int r = 0;

	if (!p || !who) {
		free(p);
		free(who);
		return -ENOMEM;
	}
	for (;;) {
		size_t n = 0, i;
		int timeout = -1;

		if (l->done && l->done(l->ud))
			break;
		for (i = 0; i < as->n; i++) {
			struct kg_agent *a = &as->v[i];

			if (kg_agent_connected(a) && agent_wire_reader_pending(a->rd)) {
				/* messages a call left behind, before waiting for more */
				r = drain(a, l->on_response, l->ud);
				if (r < 0)
					goto out;
				if (!kg_agent_connected(a) && l->on_closed)
					l->on_closed(l->ud, a);
			}
			if (!kg_agent_connected(a))
				continue;
			p[n].fd = a->fd;
			p[n].events = POLLIN;
			if (agent_wire_writer_pending(a->wr))
				p[n].events |= POLLOUT;
			p[n].revents = 0;
			who[n++] = a;
		}
		if (!n)
			break;
		if (l->sigfd >= 0) {
			p[n].fd = l->sigfd;
			p[n].events = POLLIN;
			p[n].revents = 0;
			who[n++] = NULL;
		}
		if (l->deadline_ms) {
			int64_t left = l->deadline_ms - kg_now_ms();

			if (left <= 0) {
				r = -ETIMEDOUT;
				break;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		if (l->tick && l->tick_ms > 0 && (timeout < 0 || timeout > l->tick_ms))
			timeout = l->tick_ms;
		r = poll(p, n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			break;
		}
		r = 0;
		for (i = 0; i < n && r >= 0; i++) {
			struct kg_agent *a = who[i];

			if (!p[i].revents)
				continue;
			if (!a) {
				struct signalfd_siginfo si;

				if (read(l->sigfd, &si, sizeof(si)) > 0)
					r = -EINTR;
				continue;
			}
			if (!kg_agent_connected(a))
				continue;
			if ((p[i].revents & POLLOUT) && flush_some(a) < 0) {
				if (l->on_closed)
					l->on_closed(l->ud, a);
				continue;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				int k = read_messages(a, l->on_response, l->ud);

				if (k < 0)
					r = k;
				else if (!kg_agent_connected(a) && l->on_closed)
					l->on_closed(l->ud, a);
			}
		}
		if (r >= 0 && l->tick)
			r = l->tick(l->ud);
		if (r < 0)
			break;
	}
out:
	free(p);
	free(who);
	return r < 0 ? r : 0;
}
