// SPDX-License-Identifier: Apache-2.0
/*
 * Writing untrusted text into an output format.  See escape.h.
 *
 * The JSON writer is on the hot path of every record, so it looks each byte
 * up in a class table and copies runs of plain ASCII in one go.
 */
#include "run/escape.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

enum {
	C_PLAIN = 0, /* copied as is */
	C_ESC,	     /* control character, quote or backslash */
	C_HIGH,	     /* start of a UTF-8 sequence, or garbage */
};

static const uint8_t json_class[256] = {
	[0x00 ... 0x1f] = C_ESC,
	['"'] = C_ESC,
	['\\'] = C_ESC,
	[0x80 ... 0xff] = C_HIGH,
};

static const char hex_digits[] = "0123456789abcdef";

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* A byte of w is 0 (the classic "has zero byte" test). */
static inline uint64_t has_zero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* A byte of w is below 0x20, '"', '\\' or above 0x7f. */
static inline bool needs_look(uint64_t w)
{
	return ((w | ((w | HIGHS) - 0x20 * ONES)) & HIGHS) != HIGHS || has_zero(w ^ ('"' * ONES)) ||
	       has_zero(w ^ ('\\' * ONES)) || (w & HIGHS);
}

size_t run_escape_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */

		if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */

		if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* U+0085, U+2028, U+2029 and U+FEFF: line breaks or a BOM to a YAML 1.1 reader. */
static bool yaml_special_cp(const unsigned char *s, size_t len)
{
	if (len == 2)
		return s[0] == 0xc2 && s[1] == 0x85;
	if (len == 3)
		return (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) ||
		       (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf);
	return false;
}

static char *put_u(char *o, unsigned int cp)
{
	o[0] = '\\';
	o[1] = 'u';
	o[2] = hex_digits[(cp >> 12) & 0xf];
	o[3] = hex_digits[(cp >> 8) & 0xf];
	o[4] = hex_digits[(cp >> 4) & 0xf];
	o[5] = hex_digits[cp & 0xf];
	return o + 6;
}

static int quote(struct base_buf *b, const char *str, size_t n, size_t keep, bool yaml)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	char *o;
	int r;

	if (n > (SIZE_MAX - keep) / 6 - 1)
		return -E2BIG;
	r = base_buf_reserve(b, RUN_ESCAPE_JSON_MAX(n) + keep);
	if (r < 0)
		return r;
	o = b->data + b->len;
	*o++ = '"';
	while (i < n) {
		size_t start = i, len;
		unsigned char c;

		/* Eight bytes at a time while none needs a second look. */
		while (n - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (needs_look(w))
				break;
			i += 8;
		}
		while (i < n && json_class[s[i]] == C_PLAIN)
			i++;
		if (i > start) {
			memcpy(o, s + start, i - start);
			o += i - start;
		}
		if (i == n)
			break;
		c = s[i];
		if (json_class[c] == C_ESC) {
			*o++ = '\\';
			switch (c) {
			case '"':
			case '\\':
				*o++ = (char)c;
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\t':
				*o++ = 't';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\b':
				*o++ = 'b';
				break;
			case '\f':
				*o++ = 'f';
				break;
			default:
				o = put_u(o - 1, c);
				break;
			}
			i++;
			continue;
		}
		len = run_escape_utf8_len(s + i, n - i);
		if (!len) {
			o = put_u(o, 0xfffd);
			i++;
		} else if (yaml && yaml_special_cp(s + i, len)) {
			unsigned int cp = len == 2 ? 0x85
						   : (unsigned int)(s[i] & 0x0f) << 12 |
							     (unsigned int)(s[i + 1] & 0x3f) << 6 |
							     (s[i + 2] & 0x3f);
			o = put_u(o, cp);
			i += len;
		} else {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		}
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

int run_escape_json(struct base_buf *b, const char *s, size_t n, size_t keep)
{
	return quote(b, s, n, keep, false);
}

static bool yaml_reserved(const char *s, size_t n)
{
	static const char *const words[] = {"true", "false", "yes", "no",   "on",
					    "off",  "y",     "n",   "null", "~"};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && !strncasecmp(s, words[i], n))
			return true;
	return false;
}

bool run_escape_yaml_plain(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i;

	if (!n || yaml_reserved(str, n))
		return false;
	/* Indicators, and anything a reader might take for a number. */
	if (strchr("-?:,[]{}#&*!|>'\"%@`.+0123456789 ", s[0]))
		return false;
	if (s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	for (i = 0; i < n;) {
		size_t len;

		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if ((s[i] == ':' && i + 1 < n && s[i + 1] == ' ') ||
		    (s[i] == '#' && s[i - 1] == ' '))
			return false;
		len = run_escape_utf8_len(s + i, n - i);
		if (!len || yaml_special_cp(s + i, len))
			return false;
		i += len;
	}
	return true;
}

int run_escape_yaml(struct base_buf *b, const char *s, size_t n)
{
	if (run_escape_yaml_plain(s, n))
		return base_buf_append(b, s, n);
	return quote(b, s, n, 0, true);
}

size_t run_escape_width(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, w = 0;

	while (i < n) {
		size_t len = s[i] < 0x80 ? 1 : run_escape_utf8_len(s + i, n - i);

		i += len ? len : 1;
		w++;
	}
	return w;
}

static const char ellipsis[] = "\xe2\x80\xa6"; /* … */

int run_escape_cell(struct base_buf *b, const char *str, size_t n, size_t width, bool right,
		    bool pad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t w = run_escape_width(str, n);
	size_t keep = w, fill = 0, i = 0, k;
	char *o;
	int r;

	if (width && w > width)
		keep = width - 1;
	else if (width && pad)
		fill = width - w;
	/* A kept code point never grows ('?' replaces one or more bytes). */
	r = base_buf_reserve(b, n + 3 + fill);
	if (r < 0)
		return r;
	o = b->data + b->len;
	if (right) {
		memset(o, ' ', fill);
		o += fill;
	}
	for (k = 0; k < keep; k++) {
		size_t len = s[i] < 0x80 ? 1 : run_escape_utf8_len(s + i, n - i);

		if (!len || s[i] < 0x20 || s[i] == 0x7f ||
		    (len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			/* C0, DEL, C1 controls (ESC and CSI) and garbage */
			*o++ = '?';
			i += len ? len : 1;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	if (keep < w) {
		memcpy(o, ellipsis, 3);
		o += 3;
	}
	if (!right) {
		memset(o, ' ', fill);
		o += fill;
	}
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}
