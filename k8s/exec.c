// SPDX-License-Identifier: Apache-2.0
/*
 * client-go credential plugins.  See exec.h.
 *
 * The child is started with posix_spawn (never a shell), its stdout and
 * stderr on pipes read under one deadline with poll(); past the deadline,
 * or past the output bound, it is killed and reaped.  Its signal mask and
 * dispositions are reset, since kubectl-gadget blocks SIGINT for its
 * signalfd and ignores SIGPIPE, which a child must not inherit.
 */
#include "k8s/exec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

extern char **environ;

#define EXEC_INFO_ENV "KUBERNETES_EXEC_INFO"
/* Longest token accepted from a plugin. */
#define EXEC_MAX_TOKEN (64u << 10)
/* How much of the plugin's last stderr line goes into a message. */
#define EXEC_MAX_MESSAGE_LINE 300

static void free_str(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void k8s_exec_credential_done(struct k8s_exec_credential *c)
{
	if (!c)
		return;
	free_str(&c->token);
	if (c->key) {
		explicit_bzero(c->key, c->key_len);
		free(c->key);
	}
	free(c->cert);
	memset(c, 0, sizeof(*c));
}

void k8s_exec_plugin_done(struct k8s_exec_plugin *p)
{
	size_t i;

	if (!p)
		return;
	free(p->api_version);
	free(p->command);
	for (i = 0; i < p->n_args; i++)
		free(p->args[i]);
	free(p->args);
	for (i = 0; i < p->n_env; i++) {
		free(p->env[i].name);
		free_str(&p->env[i].value);
	}
	free(p->env);
	free(p->install_hint);
	free(p->owner);
	memset(p, 0, sizeof(*p));
}

static int dup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int k8s_exec_plugin_dup(const struct k8s_exec_plugin *p, struct k8s_exec_plugin *ret)
{
	struct k8s_exec_plugin c = {
		.provide_cluster_info = p->provide_cluster_info,
		.interactive = p->interactive,
	};
	size_t i;

	if (dup_or_null(p->api_version, &c.api_version) < 0 ||
	    dup_or_null(p->command, &c.command) < 0 ||
	    dup_or_null(p->install_hint, &c.install_hint) < 0 ||
	    dup_or_null(p->owner, &c.owner) < 0)
		goto nomem;
	if (p->n_args) {
		c.args = calloc(p->n_args, sizeof(*c.args));
		if (!c.args)
			goto nomem;
		for (; c.n_args < p->n_args; c.n_args++)
			if (dup_or_null(p->args[c.n_args], &c.args[c.n_args]) < 0)
				goto nomem;
	}
	if (p->n_env) {
		c.env = calloc(p->n_env, sizeof(*c.env));
		if (!c.env)
			goto nomem;
		for (i = 0; i < p->n_env; i++, c.n_env++)
			if (dup_or_null(p->env[i].name, &c.env[i].name) < 0 ||
			    dup_or_null(p->env[i].value, &c.env[i].value) < 0) {
				c.n_env++;
				goto nomem;
			}
	}
	*ret = c;
	return 0;
nomem:
	k8s_exec_plugin_done(&c);
	return -ENOMEM;
}

/* ---- the answer ---- */

static int parse_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

int k8s_exec_parse_time(const char *s, int64_t *ret)
{
	struct tm tm = {0};
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	time_t t;

	if (!s || parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) ||
	    *p++ != '-' || parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't') ||
	    (p++, parse_digits(&p, 2, &h)) || *p++ != ':' || parse_digits(&p, 2, &mi) ||
	    *p++ != ':' || parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ret = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int take_string(json_t *o, const char *key, size_t max, char **ret, size_t *ret_len,
		       char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, errlen, "status.%s is not a string", key);
	n = json_string_length(v);
	if (n > max)
		return bad(err, errlen, "status.%s is longer than %zu bytes", key, max);
	if (!n)
		return 0;
	*ret = malloc(n + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, json_string_value(v), n + 1);
	if (strlen(*ret) != n) {
		free(*ret);
		*ret = NULL;
		return bad(err, errlen, "status.%s holds a NUL byte", key);
	}
	if (ret_len)
		*ret_len = n;
	return 0;
}

static int exec_parse(const char *out, size_t len, const char *api_version,
		      struct k8s_exec_credential *ret, char *err, size_t errlen)
{
	struct k8s_exec_credential c = {0};
	json_error_t jerr;
	json_t *root, *st, *exp;
	const char *av, *kind;
	int r = 0;

	if (len > K8S_EXEC_MAX_OUTPUT) {
		base_err_set(err, errlen, "more than %u bytes of output", K8S_EXEC_MAX_OUTPUT);
		return -E2BIG;
	}
	if (!len)
		return bad(err, errlen, "no output");
	root = json_loadb(out, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return bad(err, errlen, "output is not an ExecCredential: %s (line %d column %d)",
			   jerr.text, jerr.line, jerr.column);
	if (!json_is_object(root)) {
		r = bad(err, errlen, "output is not an ExecCredential: not a JSON object");
		goto out;
	}
	av = json_string_value(json_object_get(root, "apiVersion"));
	kind = json_string_value(json_object_get(root, "kind"));
	if (!kind || strcmp(kind, "ExecCredential")) {
		r = bad(err, errlen, "output is not an ExecCredential: kind is \"%.64s\"",
			kind ? kind : "");
		goto out;
	}
	if (!av || strcmp(av, api_version)) {
		r = bad(err, errlen,
			"it is configured for apiVersion %s but answered with \"%.64s\"",
			api_version, av ? av : "");
		goto out;
	}
	st = json_object_get(root, "status");
	if (!json_is_object(st)) {
		r = bad(err, errlen, "its ExecCredential has no status");
		goto out;
	}
	r = take_string(st, "token", EXEC_MAX_TOKEN, &c.token, NULL, err, errlen);
	if (!r)
		r = take_string(st, "clientCertificateData", K8S_EXEC_MAX_OUTPUT, &c.cert,
				&c.cert_len, err, errlen);
	if (!r)
		r = take_string(st, "clientKeyData", K8S_EXEC_MAX_OUTPUT, &c.key, &c.key_len, err,
				errlen);
	if (r < 0)
		goto out;
	if (!c.cert != !c.key) {
		r = bad(err, errlen, "its ExecCredential has %s without %s",
			c.cert ? "clientCertificateData" : "clientKeyData",
			c.cert ? "clientKeyData" : "clientCertificateData");
		goto out;
	}
	if (!c.token && !c.cert) {
		r = bad(err, errlen, "its ExecCredential has neither a token nor a certificate");
		goto out;
	}
	if (c.token && strpbrk(c.token, "\r\n")) {
		r = bad(err, errlen, "its token holds a line break");
		goto out;
	}
	exp = json_object_get(st, "expirationTimestamp");
	if (exp && !json_is_null(exp)) {
		if (!json_is_string(exp) ||
		    k8s_exec_parse_time(json_string_value(exp), &c.expires_unix) < 0) {
			r = bad(err, errlen, "status.expirationTimestamp is not an RFC 3339 time");
			goto out;
		}
		c.expires = true;
	}
out:
	json_decref(root);
	if (r < 0) {
		k8s_exec_credential_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

/* The parser's reasons quote the plugin's bytes: keep them on one line. */
int k8s_exec_parse(const char *out, size_t len, const char *api_version,
		   struct k8s_exec_credential *ret, char *err, size_t errlen)
{
	int r = exec_parse(out, len, api_version, ret, err, errlen);

	for (size_t i = 0; r < 0 && err && i < errlen && err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = ' ';
	return r;
}

/* ---- running it ---- */

/* The ExecCredential request in KUBERNETES_EXEC_INFO. */
static char *exec_info(const struct k8s_exec_plugin *p, const struct k8s_exec_cluster *cl,
		       bool interactive)
{
	json_t *root, *spec, *c;
	char *text = NULL, *ca = NULL;

	root = json_pack("{s:s, s:s, s:{s:b}}", "kind", "ExecCredential", "apiVersion",
			 p->api_version, "spec", "interactive", interactive);
	if (!root)
		return NULL;
	spec = json_object_get(root, "spec");
	if (p->provide_cluster_info && cl) {
		c = json_pack("{s:s}", "server", cl->server ? cl->server : "");
		if (!c)
			goto out;
		json_object_set_new(spec, "cluster", c);
		if (cl->ca && base_b64_encode(cl->ca, cl->ca_len, &ca) == 0)
			json_object_set_new(c, "certificate-authority-data", json_string(ca));
		if (cl->insecure)
			json_object_set_new(c, "insecure-skip-tls-verify", json_true());
		if (cl->proxy_url)
			json_object_set_new(c, "proxy-url", json_string(cl->proxy_url));
		if (cl->tls_server_name)
			json_object_set_new(c, "tls-server-name", json_string(cl->tls_server_name));
		if (cl->config_json) {
			json_t *cfg = json_loads(cl->config_json, 0, NULL);

			if (cfg)
				json_object_set_new(c, "config", cfg);
		}
	}
	text = json_dumps(root, JSON_COMPACT);
out:
	free(ca);
	json_decref(root);
	return text;
}

static bool env_overridden(const struct k8s_exec_plugin *p, const char *entry)
{
	size_t n = strcspn(entry, "=");

	if (n == strlen(EXEC_INFO_ENV) && !strncmp(entry, EXEC_INFO_ENV, n))
		return true;
	for (size_t i = 0; i < p->n_env; i++)
		if (strlen(p->env[i].name) == n && !strncmp(p->env[i].name, entry, n))
			return true;
	return false;
}

/*
 * Our environment, the plugin's entries over it, and the request.  The
 * first *ret_ours entries are environ's own; the others are allocated.
 */
static char **make_env(const struct k8s_exec_plugin *p, const char *info, size_t *ret_ours)
{
	size_t n = 0, k = 0, i;
	char **envp;

	while (environ && environ[n])
		n++;
	envp = calloc(n + p->n_env + 2, sizeof(*envp));
	if (!envp)
		return NULL;
	for (i = 0; i < n; i++)
		if (!env_overridden(p, environ[i]))
			envp[k++] = environ[i];
	*ret_ours = k;
	for (i = 0; i < p->n_env; i++, k++)
		if (asprintf(&envp[k], "%s=%s", p->env[i].name, p->env[i].value) < 0)
			goto fail;
	if (asprintf(&envp[k], EXEC_INFO_ENV "=%s", info) < 0)
		goto fail;
	return envp;
fail:
	envp[k] = NULL;
	for (i = *ret_ours; i < k; i++)
		free_str(&envp[i]);
	free(envp);
	return NULL;
}

static void free_env(char **envp, size_t n_ours)
{
	if (!envp)
		return;
	for (size_t i = n_ours; envp[i]; i++)
		free_str(&envp[i]);
	free(envp);
}

/* One line of text from the end of what the plugin wrote on stderr. */
static void last_line(const struct base_buf *b, char *out, size_t size)
{
	size_t end = b->len, start, n, i, o = 0;

	while (end && isspace((unsigned char)b->data[end - 1]))
		end--;
	start = end;
	while (start && b->data[start - 1] != '\n')
		start--;
	n = end - start;
	if (n > EXEC_MAX_MESSAGE_LINE)
		n = EXEC_MAX_MESSAGE_LINE;
	for (i = 0; i < n && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)b->data[start + i];

		out[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	out[o] = '\0';
}

/* The install hint on one line. */
static void one_line(const char *s, char *out, size_t size)
{
	size_t o = 0;
	bool space = false;

	for (; s && *s && o + 1 < size; s++) {
		if (isspace((unsigned char)*s) || (unsigned char)*s < 0x20) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < size)
			out[o++] = ' ';
		space = false;
		out[o++] = *s;
	}
	out[o] = '\0';
}

struct child {
	pid_t pid;
	int out_fd, err_fd;
	struct base_buf out, err;
	bool too_much;
};

static void kill_child(struct child *ch)
{
	if (ch->pid <= 0)
		return;
	kill(ch->pid, SIGKILL);
	while (waitpid(ch->pid, NULL, 0) < 0 && errno == EINTR)
		;
	ch->pid = -1;
}

static int read_into(int *fd, struct base_buf *b, size_t max, bool keep_tail, bool *too_much)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	if (b->len + (size_t)n > max) {
		if (!keep_tail) {
			*too_much = true;
			return -E2BIG;
		}
		/* stderr: keep the end, which holds the reason */
		if ((size_t)n >= max) {
			base_buf_reset(b);
		} else {
			size_t drop = b->len + (size_t)n - max;

			memmove(b->data, b->data + drop, b->len - drop);
			b->len -= drop;
		}
	}
	return base_buf_append(b, chunk, (size_t)n);
}

/*
 * Reads both pipes and waits for the child until the deadline.  Returns the
 * wait status (>= 0), -ETIMEDOUT, -E2BIG or -errno.
 */
static int collect(struct child *ch, uint64_t deadline)
{
	int status, r;

	for (;;) {
		struct pollfd pf[2];
		nfds_t n = 0;
		uint64_t now = base_time_mono_ms();
		pid_t w;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (ch->out_fd >= 0)
			pf[n++] = (struct pollfd){.fd = ch->out_fd, .events = POLLIN};
		if (ch->err_fd >= 0)
			pf[n++] = (struct pollfd){.fd = ch->err_fd, .events = POLLIN};
		if (!n) {
			/* both pipes closed: wait for the exit, still under the deadline */
			w = waitpid(ch->pid, &status, WNOHANG);
			if (w == ch->pid) {
				ch->pid = -1;
				return status;
			}
			if (w < 0 && errno != EINTR)
				return -errno;
			poll(NULL, 0, 10);
			continue;
		}
		r = poll(pf, n, (int)(deadline - now < 200 ? deadline - now : 200));
		if (r < 0 && errno != EINTR)
			return -errno;
		for (nfds_t i = 0; r > 0 && i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == ch->out_fd)
				r = read_into(&ch->out_fd, &ch->out, K8S_EXEC_MAX_OUTPUT, false,
					      &ch->too_much);
			else
				r = read_into(&ch->err_fd, &ch->err, K8S_EXEC_MAX_STDERR, true,
					      &ch->too_much);
			if (r < 0)
				return r;
			r = 1;
		}
	}
}

static int spawn(const struct k8s_exec_plugin *p, char **envp, bool interactive, struct child *ch)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	sigset_t none, defaults;
	char **argv;
	int r;

	argv = calloc(p->n_args + 2, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	argv[0] = p->command;
	for (size_t i = 0; i < p->n_args; i++)
		argv[i + 1] = p->args[i];
	if (pipe2(out, O_CLOEXEC) < 0 || (!interactive && pipe2(errp, O_CLOEXEC) < 0)) {
		r = -errno;
		goto out_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (!interactive)
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (!interactive)
		posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = strchr(p->command, '/') ? posix_spawn(&ch->pid, p->command, &fa, &attr, argv, envp)
				    : posix_spawnp(&ch->pid, p->command, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	r = -r;
	if (r == 0) {
		ch->out_fd = out[0];
		ch->err_fd = errp[0];
		out[0] = errp[0] = -1;
	}
out_pipes:
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	free(argv);
	return r;
}

/* An executable name in one of $PATH's directories? */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH"), *p = path;
	char buf[4096];

	while (p && *p) {
		size_t n = strcspn(p, ":");

		if (n &&
		    (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

int k8s_exec_run(const struct k8s_exec_plugin *p, const struct k8s_exec_cluster *cluster,
		 unsigned int timeout_ms, struct k8s_exec_credential *ret, char *err, size_t errlen)
{
	struct child ch = {.pid = -1,
			   .out_fd = -1,
			   .err_fd = -1,
			   .out = BASE_BUF_INIT(K8S_EXEC_MAX_OUTPUT + 4096),
			   .err = BASE_BUF_INIT(K8S_EXEC_MAX_STDERR + 4096)};
	const char *who = p->owner ? p->owner : "the kubeconfig";
	bool interactive = false;
	char why[512] = "", line[EXEC_MAX_MESSAGE_LINE + 1], hint[512] = "";
	char **envp = NULL, *info = NULL;
	size_t n_ours = 0;
	uint64_t t0 = base_time_mono_ms();
	int r, status;

	if (!timeout_ms)
		timeout_ms = K8S_EXEC_DEFAULT_TIMEOUT_MS;
	if (p->interactive != K8S_EXEC_INTERACTIVE_NEVER)
		interactive = isatty(STDIN_FILENO) == 1;
	if (p->interactive == K8S_EXEC_INTERACTIVE_ALWAYS && !interactive) {
		base_err_set(err, errlen,
			     "exec plugin '%s' of %s: its interactiveMode is Always, and stdin is "
			     "not a terminal",
			     p->command, who);
		return -ENOKEY;
	}
	info = exec_info(p, cluster, interactive);
	envp = info ? make_env(p, info, &n_ours) : NULL;
	if (!envp) {
		free(info);
		return -ENOMEM;
	}
	base_log_debug("k8s: running exec plugin '%s' of %s", p->command, who);
	r = spawn(p, envp, interactive, &ch);
	if (r == -ENOENT) {
	not_found:
		one_line(p->install_hint, hint, sizeof(hint));
		base_err_set(err, errlen, "exec plugin '%s' of %s not found%s%s", p->command, who,
			     hint[0] ? ": " : " (is it installed and on PATH?)", hint);
		r = -ENOKEY;
		goto out;
	}
	if (r < 0) {
		base_err_set(err, errlen, "exec plugin '%s' of %s: cannot run it: %s", p->command,
			     who, strerror(-r));
		r = r == -ENOMEM ? r : -ENOKEY;
		goto out;
	}
	status = collect(&ch, t0 + timeout_ms);
	if (status < 0) {
		kill_child(&ch);
		if (status == -ETIMEDOUT)
			base_err_set(err, errlen,
				     "exec plugin '%s' of %s: no answer within %u s (killed)",
				     p->command, who, (timeout_ms + 999) / 1000);
		else if (status == -E2BIG)
			base_err_set(
				err, errlen,
				"exec plugin '%s' of %s: more than %u bytes of output (killed)",
				p->command, who, K8S_EXEC_MAX_OUTPUT);
		else
			base_err_set(err, errlen, "exec plugin '%s' of %s: %s", p->command, who,
				     strerror(-status));
		r = status == -ENOMEM ? -ENOMEM : -ENOKEY;
		goto out;
	}
	last_line(&ch.err, line, sizeof(line));
	/*
	 * POSIX lets posix_spawn() report a failed exec as a child exiting
	 * with 127 (so it goes under valgrind, or where vfork is not used)
	 */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !ch.out.len && !ch.err.len &&
	    access(p->command, X_OK) < 0 && (strchr(p->command, '/') || !on_path(p->command)))
		goto not_found;
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status))) {
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
		base_err_set(err, errlen, "exec plugin '%s' of %s: %s%s%s", p->command, who, why,
			     line[0] ? ": " : "", line);
		r = -ENOKEY;
		goto out;
	}
	r = k8s_exec_parse(ch.out.data ? ch.out.data : "", ch.out.len, p->api_version, ret, why,
			   sizeof(why));
	if (r < 0) {
		base_err_set(err, errlen, "exec plugin '%s' of %s: %s", p->command, who, why);
		r = r == -ENOMEM ? r : -ENOKEY;
		goto out;
	}
	base_log_debug("k8s: exec plugin '%s' answered in %llu ms%s", p->command,
		       (unsigned long long)(base_time_mono_ms() - t0),
		       ret->expires ? " (with an expiry)" : "");
	r = 0;
out:
	kill_child(&ch);
	if (ch.out_fd >= 0)
		close(ch.out_fd);
	if (ch.err_fd >= 0)
		close(ch.err_fd);
	if (ch.out.data)
		explicit_bzero(ch.out.data, ch.out.len);
	base_buf_done(&ch.out);
	base_buf_done(&ch.err);
	free_env(envp, n_ours);
	free_str(&info);
	return r;
}
