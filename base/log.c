// SPDX-License-Identifier: Apache-2.0
/*
 * The process-wide logging sink.  See log.h.
 */
#include "base/log.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum base_log_level log_threshold = BASE_LOG_WARN;
static base_log_fn log_fn;

void base_log_set_fn(base_log_fn fn)
{
	log_fn = fn;
}

void base_log_set_level(enum base_log_level level)
{
	log_threshold = level;
}

enum base_log_level base_log_get_level(void)
{
	return log_threshold;
}

void base_log(enum base_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	if (log_fn) {
		log_fn(level, fmt, ap);
	} else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void base_log_timestamped(enum base_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[BASE_LOG_LINE];
	struct timespec ts;
	struct tm tm;
	size_t off;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + off, sizeof(line) - off, ".%03ldZ %s ", ts.tv_nsec / 1000000,
		     names[level <= BASE_LOG_DEBUG ? level : BASE_LOG_DEBUG]);
	if (n > 0)
		off += (size_t)n;
	n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	off = n < 0				    ? off
	      : off + (size_t)n >= sizeof(line) - 1 ? sizeof(line) - 2
						    : off + (size_t)n;
	line[off++] = '\n';
	if (write(STDERR_FILENO, line, off) < 0)
		return;
}
