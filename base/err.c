// SPDX-License-Identifier: Apache-2.0
/*
 * One-line reasons in caller-provided buffers; see err.h.
 */
#include "base/err.h"

#include <stdio.h>

void base_err_setv(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (!buf || !len)
		return;
	vsnprintf(buf, len, fmt, ap);
}

void base_err_set(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(buf, len, fmt, ap);
	va_end(ap);
}

int base_err_fail(char *buf, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(buf, len, fmt, ap);
	va_end(ap);
	return r;
}

void base_err_oneline(char *s)
{
	if (!s)
		return;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}
