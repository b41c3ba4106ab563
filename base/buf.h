/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer with a hard maximum.
 *
 * Everything that accumulates foreign or unbounded data (formatted records,
 * HTTP bodies, YAML documents) goes through a struct base_buf so that a
 * misbehaving peer turns into -E2BIG instead of unbounded memory use.
 * The contents are always NUL-terminated (the terminator is not counted in
 * len), so a buffer of text can be handed to C string functions as is.
 */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct base_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means BASE_BUF_DEFAULT_MAX */
};

#define BASE_BUF_DEFAULT_MAX (64u << 20)

#define BASE_BUF_INIT(maximum)                                                                     \
	{                                                                                          \
		.data = NULL, .len = 0, .cap = 0, .max = (maximum)                                 \
	}

/* Makes room for extra more bytes; -E2BIG past the maximum, -ENOMEM. */
int base_buf_reserve(struct base_buf *b, size_t extra);
int base_buf_append(struct base_buf *b, const void *p, size_t n);
int base_buf_puts(struct base_buf *b, const char *s);
int base_buf_putc(struct base_buf *b, char c);
int base_buf_printf(struct base_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int base_buf_vprintf(struct base_buf *b, const char *fmt, va_list ap);
/* Appends the decimal form of v; the hot path of every formatter. */
int base_buf_put_u64(struct base_buf *b, uint64_t v);
int base_buf_put_i64(struct base_buf *b, int64_t v);
void base_buf_reset(struct base_buf *b);
/* Frees the storage; the struct can be reused afterwards. */
void base_buf_done(struct base_buf *b);
/* Hands the storage to the caller (free() it); the buffer is left empty. */
char *base_buf_take(struct base_buf *b);

#endif /* BASE_BUF_H */
