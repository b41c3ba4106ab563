// SPDX-License-Identifier: Apache-2.0
/*
 * The process-wide logging sink.  See log.h.
 */
#include "base/log.h"

#include <stdio.h>

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
