// SPDX-License-Identifier: Apache-2.0
/*
 * libig's process-wide parts (include/ig/ig.h): its version, and where its
 * messages go.
 *
 * The tree's modules log through base/log.h, whose default sink is stderr
 * (right for the tools), and libbpf prints its warnings to stderr unless
 * told otherwise.  A library must not: until the program installs a
 * callback, libig points both at nothing, the first time the program opens
 * a gadget (libig_log_init()).
 */
#include "libig/ig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <ig/ig.h>

#include "base/log.h"
#include "bpf/diag.h"

/* Longest message handed to the callback; longer ones are cut. */
#define LOG_LINE 2048

static ig_log_fn log_fn;
static void *log_ctx;
static bool log_set;

const char *ig_version(void)
{
	return IG_VERSION;
}

static void deliver(enum ig_log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE];
	size_t n;

	if (!log_fn)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_fn(level, line, log_ctx);
}

static void base_sink(enum base_log_level level, const char *fmt, va_list ap)
{
	static const enum ig_log_level map[] = {
		[BASE_LOG_ERROR] = IG_LOG_ERROR,
		[BASE_LOG_WARN] = IG_LOG_WARN,
		[BASE_LOG_INFO] = IG_LOG_INFO,
		[BASE_LOG_DEBUG] = IG_LOG_DEBUG,
	};

	deliver(level <= BASE_LOG_DEBUG ? map[level] : IG_LOG_DEBUG, fmt, ap);
}

void ig_set_log(ig_log_fn fn, enum ig_log_level level, void *ctx)
{
	static const enum base_log_level map[] = {
		[IG_LOG_ERROR] = BASE_LOG_ERROR,
		[IG_LOG_WARN] = BASE_LOG_WARN,
		[IG_LOG_INFO] = BASE_LOG_INFO,
		[IG_LOG_DEBUG] = BASE_LOG_DEBUG,
	};

	log_fn = fn;
	log_ctx = ctx;
	log_set = true;
	base_log_set_fn(base_sink);
	base_log_set_level((unsigned int)level <= IG_LOG_DEBUG ? map[level] : BASE_LOG_DEBUG);
	bpf_diag_init();
	bpf_diag_warnings_to_log(true);
}

void libig_log_init(void)
{
	if (log_set)
		return;
	ig_set_log(NULL, IG_LOG_ERROR, NULL);
}
