/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-line reasons in caller-provided buffers.
 *
 * Libraries return -errno and, where the code alone would leave the user
 * guessing, also write a reason for the user into a `char *err, size_t
 * errlen` pair the caller passes (or into a fixed array of their own
 * object).  These write it: truncated to fit, always NUL-terminated, and
 * nothing at all when the buffer is NULL or empty, so that callers that do
 * not want the reason can pass NULL, 0.
 */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#include <stdarg.h>
#include <stddef.h>

void base_err_set(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void base_err_setv(char *buf, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* base_err_set() that returns r, for `return base_err_fail(err, errlen, -EINVAL, ...);`. */
int base_err_fail(char *buf, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Replaces control characters (C0 and DEL) in s with '?': a reason that
 * quotes foreign text (a file's keys and values) then still ends its line
 * where the program puts the newline.
 */
void base_err_oneline(char *s);

#endif /* BASE_ERR_H */
