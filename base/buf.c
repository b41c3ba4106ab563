// SPDX-License-Identifier: Apache-2.0
/*
 * Bounded growable buffer.  See buf.h.
 */
#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int base_buf_reserve(struct base_buf *b, size_t extra)
{
	size_t max = b->max ? b->max : BASE_BUF_DEFAULT_MAX;
	size_t need, cap;
	char *p;

	if (extra > max || b->len > max - extra)
		return -E2BIG;
	need = b->len + extra + 1; /* room for the terminator */
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > max + 1)
		cap = max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int base_buf_append(struct base_buf *b, const void *p, size_t n)
{
	int r = base_buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int base_buf_puts(struct base_buf *b, const char *s)
{
	return base_buf_append(b, s, strlen(s));
}

int base_buf_putc(struct base_buf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return base_buf_append(b, &c, 1);
}

int base_buf_vprintf(struct base_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	r = base_buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int base_buf_printf(struct base_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = base_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int base_buf_put_u64(struct base_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return base_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int base_buf_put_i64(struct base_buf *b, int64_t v)
{
	int r;

	if (v >= 0)
		return base_buf_put_u64(b, (uint64_t)v);
	r = base_buf_putc(b, '-');
	if (r < 0)
		return r;
	/* -(v + 1) + 1 avoids overflow on INT64_MIN */
	return base_buf_put_u64(b, (uint64_t)(-(v + 1)) + 1);
}

void base_buf_reset(struct base_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void base_buf_done(struct base_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *base_buf_take(struct base_buf *b)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
