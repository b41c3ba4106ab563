// SPDX-License-Identifier: Apache-2.0
/*
 * Command-line number parsers (see parse.h): a decimal number, possibly
 * fractional, followed by a unit from a short table, scaled to an integer.
 */
#include "base/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct parse_unit {
	const char *name;
	double scale;
};

/* Values at or past this are refused: near 2^64 anything is a typo, and a double loses digits. */
#define PARSE_MAX 9.0e15

static int parse_scaled(const char *s, const struct parse_unit *units, size_t n, double dflt,
			uint64_t *ret)
{
	char *end;
	double v;
	size_t i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || isnan(v) || v < 0)
		return -EINVAL;
	if (*end == '\0') {
		v *= dflt;
	} else {
		for (i = 0; i < n; i++)
			if (!strcmp(end, units[i].name))
				break;
		if (i == n)
			return -EINVAL;
		v *= units[i].scale;
	}
	if (v >= PARSE_MAX)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

int base_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct parse_unit units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1000, ret);
}

int base_parse_size(const char *s, uint64_t *ret)
{
	static const struct parse_unit units[] = {
		{"K", 1024},	  {"KiB", 1024},  {"k", 1024},	    {"M", 1 << 20},
		{"MiB", 1 << 20}, {"G", 1 << 30}, {"GiB", 1 << 30},
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1, ret);
}

int base_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}
