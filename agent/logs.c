// SPDX-License-Identifier: Apache-2.0
/*
 * An instance's records as JSON lines on stdout or in rotated files (see
 * logs.h).
 */
#include "agent/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "run/escape.h"

struct agent_logs {
	enum agent_logs_channel channel;
	int out_fd;    /* stdout, or the current file */
	int dir_fd;    /* AGENT_LOGS_FILE */
	char name[96]; /* "<instance>.log" */
	uint64_t size; /* of the current file */
	uint64_t max_size;
	uint32_t max_backups;
	struct base_buf prefix; /* '","node":...,"instance":...' the fixed middle of a line */
	char *gadget;		/* escaped, with quotes */
	struct base_buf pending;
	uint64_t lost;
	time_t ts_sec; /* the second ts_text is of */
	char ts_text[32];
};

int agent_logs_channel_parse(const char *s, enum agent_logs_channel *ret)
{
	if (!s || !*s || !strcmp(s, "none"))
		*ret = AGENT_LOGS_NONE;
	else if (!strcmp(s, "stdout"))
		*ret = AGENT_LOGS_STDOUT;
	else if (!strcmp(s, "file"))
		*ret = AGENT_LOGS_FILE;
	else
		return -EINVAL;
	return 0;
}

/* mkdir -p of an absolute path, each component created 0750 when missing. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf) || path[0] != '/')
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

static int open_file(struct agent_logs *l)
{
	struct stat st;
	int fd = openat(l->dir_fd, l->name,
			O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	l->out_fd = fd;
	l->size = (uint64_t)st.st_size;
	return 0;
}

/* name.log -> name.log.1 -> ... -> name.log.<max_backups>, the oldest dropped. */
static int rotate(struct agent_logs *l)
{
	char from[128], to[128];
	uint32_t i;

	if (l->out_fd >= 0)
		close(l->out_fd);
	l->out_fd = -1;
	if (l->max_backups == 0) {
		unlinkat(l->dir_fd, l->name, 0);
		return open_file(l);
	}
	snprintf(to, sizeof(to), "%s.%u", l->name, l->max_backups);
	unlinkat(l->dir_fd, to, 0);
	for (i = l->max_backups; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", l->name, i - 1);
		snprintf(to, sizeof(to), "%s.%u", l->name, i);
		renameat(l->dir_fd, from, l->dir_fd, to);
	}
	snprintf(to, sizeof(to), "%s.1", l->name);
	renameat(l->dir_fd, l->name, l->dir_fd, to);
	return open_file(l);
}

int agent_logs_new(const struct agent_logs_opts *o, struct agent_logs **ret, char *err,
		   size_t errlen)
{
	struct agent_logs *l;
	int r = -ENOMEM;

	if (err && errlen)
		err[0] = '\0';
	if (o->channel == AGENT_LOGS_NONE || !o->instance || !*o->instance ||
	    strchr(o->instance, '/') || strlen(o->instance) > 80)
		return base_err_fail(err, errlen, -EINVAL,
				     "logs: no channel or a bad instance name");
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->channel = o->channel;
	l->out_fd = -1;
	l->dir_fd = -1;
	l->max_size = (uint64_t)(o->max_size_mb ? o->max_size_mb : 100) << 20;
	l->max_backups = o->max_backups;
	l->pending.max = AGENT_LOGS_MAX_PENDING * 2;
	l->ts_sec = -1;
	snprintf(l->name, sizeof(l->name), "%s.log", o->instance);
	{
		struct base_buf g = BASE_BUF_INIT(0);

		if (run_escape_json(&g, o->gadget ? o->gadget : "",
				    strlen(o->gadget ? o->gadget : ""), 0) < 0) {
			base_buf_done(&g);
			goto fail;
		}
		l->gadget = base_buf_take(&g);
		if (!l->gadget)
			goto fail;
	}
	if ((o->node && (base_buf_puts(&l->prefix, ",\"node\":") < 0 ||
			 run_escape_json(&l->prefix, o->node, strlen(o->node), 0) < 0)) ||
	    base_buf_puts(&l->prefix, ",\"instance\":") < 0 ||
	    run_escape_json(&l->prefix, o->instance, strlen(o->instance), 0) < 0 ||
	    (o->instance_id && *o->instance_id &&
	     (base_buf_puts(&l->prefix, ",\"instanceID\":") < 0 ||
	      run_escape_json(&l->prefix, o->instance_id, strlen(o->instance_id), 0) < 0)))
		goto fail;
	if (o->channel == AGENT_LOGS_STDOUT) {
		int fl = fcntl(o->stdout_fd, F_GETFL);

		/*
		 * The agent writes nothing else there; a log collector that
		 * falls behind costs lines (counted), never the event loop.
		 */
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(o->stdout_fd, F_SETFL, fl | O_NONBLOCK);
		l->out_fd = o->stdout_fd;
	} else {
		r = o->dir ? make_dirs(o->dir) : -EINVAL;
		if (r < 0) {
			base_err_set(err, errlen, "logs: cannot create %s: %s",
				     o->dir ? o->dir : "?", strerror(-r));
			goto fail;
		}
		l->dir_fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		r = l->dir_fd < 0 ? -errno : open_file(l);
		if (r < 0) {
			base_err_set(err, errlen, "logs: cannot open %s/%s: %s", o->dir, l->name,
				     strerror(-r));
			goto fail;
		}
	}
	*ret = l;
	return 0;
fail:
	if (err && errlen && !err[0])
		base_err_set(err, errlen, "logs: %s", strerror(-r));
	l->channel = AGENT_LOGS_NONE;
	agent_logs_free(l);
	return r;
}

/*
 * "2026-12-07T10:00:00.123456789Z", the time the line is logged: on every
 * record, so the seconds are formatted once a second and the nanoseconds by
 * hand.
 */
static int put_timestamp(struct agent_logs *l)
{
	char frac[12]; /* .NNNNNNNNNZ" */
	struct timespec ts;
	struct tm tm;
	long ns;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != l->ts_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(l->ts_text, sizeof(l->ts_text), "%Y-%m-%dT%H:%M:%S", &tm);
		l->ts_sec = ts.tv_sec;
	}
	frac[0] = '.';
	ns = ts.tv_nsec;
	for (int i = 9; i >= 1; i--, ns /= 10)
		frac[i] = (char)('0' + ns % 10);
	frac[10] = 'Z';
	frac[11] = '"';
	r = base_buf_putc(&l->pending, '"');
	if (r >= 0)
		r = base_buf_puts(&l->pending, l->ts_text);
	if (r >= 0)
		r = base_buf_append(&l->pending, frac, sizeof(frac));
	return r;
}

int agent_logs_record(struct agent_logs *l, const char *ds, uint64_t seq, const char *json,
		      size_t len)
{
	size_t start = l->pending.len;
	int r;

	if (l->pending.len + len > AGENT_LOGS_MAX_PENDING) {
		r = agent_logs_flush(l);
		if (r < 0)
			return r;
		start = 0;
	}
	r = base_buf_puts(&l->pending, "{\"type\":\"gadget-data\",\"seq\":");
	if (r >= 0)
		r = base_buf_put_u64(&l->pending, seq);
	if (r >= 0)
		r = base_buf_puts(&l->pending, ",\"gadget\":");
	if (r >= 0)
		r = base_buf_puts(&l->pending, l->gadget);
	if (r >= 0)
		r = base_buf_puts(&l->pending, ",\"datasource\":");
	if (r >= 0)
		r = run_escape_json(&l->pending, ds, strlen(ds), 0);
	if (r >= 0)
		r = base_buf_append(&l->pending, l->prefix.data ? l->prefix.data : "",
				    l->prefix.len);
	if (r >= 0)
		r = base_buf_puts(&l->pending, ",\"timestamp\":");
	if (r >= 0)
		r = put_timestamp(l);
	if (r >= 0)
		r = base_buf_puts(&l->pending, ",\"data\":");
	if (r >= 0)
		r = base_buf_append(&l->pending, json, len);
	if (r >= 0)
		r = base_buf_puts(&l->pending, "}\n");
	if (r < 0) {
		l->pending.len = start;
		l->lost++;
	}
	return r;
}

int agent_logs_flush(struct agent_logs *l)
{
	const char *p;
	size_t left;
	int r = 0;

	if (!l || !l->pending.len)
		return 0;
	if (l->channel == AGENT_LOGS_FILE &&
	    (l->out_fd < 0 || l->size + l->pending.len > l->max_size) && (r = rotate(l)) < 0) {
		l->lost++;
		base_buf_reset(&l->pending);
		return r;
	}
	p = l->pending.data;
	left = l->pending.len;
	while (left) {
		ssize_t n = write(l->out_fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* a full pipe or disk: what is left is lost, counted by its lines */
			for (size_t i = 0; i < left; i++)
				l->lost += p[i] == '\n';
			r = n < 0 ? -errno : -EIO;
			break;
		}
		p += n;
		left -= (size_t)n;
		l->size += (uint64_t)n;
	}
	base_buf_reset(&l->pending);
	return r;
}

uint64_t agent_logs_lost(const struct agent_logs *l)
{
	return l ? l->lost : 0;
}

struct agent_logs *agent_logs_free(struct agent_logs *l)
{
	if (!l)
		return NULL;
	agent_logs_flush(l);
	if (l->channel == AGENT_LOGS_FILE && l->out_fd >= 0)
		close(l->out_fd);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	base_buf_done(&l->pending);
	base_buf_done(&l->prefix);
	free(l->gadget);
	free(l);
	return NULL;
}
