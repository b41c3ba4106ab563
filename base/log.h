/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging sink shared by every module.
 *
 * Libraries never print: they report details at debug level through this
 * sink, and the program that links them decides where that goes (stderr,
 * JSON, nowhere).  The default sink drops everything below the threshold set
 * with base_log_set_level() and writes the rest to stderr.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdarg.h>

enum base_log_level {
	BASE_LOG_ERROR = 0,
	BASE_LOG_WARN,
	BASE_LOG_INFO,
	BASE_LOG_DEBUG,
};

typedef void (*base_log_fn)(enum base_log_level level, const char *fmt, va_list ap);

/* Installs fn as the sink; NULL restores the default stderr sink. */
void base_log_set_fn(base_log_fn fn);
/*
 * The daemons' sink: one line per message on stderr, "<UTC time
 * 2026-01-02T03:04:05.678Z> <level> <message>", written with one write() so
 * that the lines of several threads never interleave; a message past
 * BASE_LOG_LINE bytes is cut.
 */
#define BASE_LOG_LINE 2048
void base_log_timestamped(enum base_log_level level, const char *fmt, va_list ap);
void base_log_set_level(enum base_log_level level);
enum base_log_level base_log_get_level(void);

void base_log(enum base_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define base_log_error(...) base_log(BASE_LOG_ERROR, __VA_ARGS__)
#define base_log_warn(...)  base_log(BASE_LOG_WARN, __VA_ARGS__)
#define base_log_info(...)  base_log(BASE_LOG_INFO, __VA_ARGS__)
#define base_log_debug(...) base_log(BASE_LOG_DEBUG, __VA_ARGS__)

#endif /* BASE_LOG_H */
