/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for the numbers people type on command lines: durations, sizes
 * and bounded unsigned integers.  ig and kubectl-gadget take the same
 * spellings through these, so "--timeout 1.5s" means one thing everywhere.
 *
 * Signs are refused ("-1", "+5"): no flag takes a negative value, and a
 * leading '-' is more likely a misplaced option.
 */
#ifndef BASE_PARSE_H
#define BASE_PARSE_H

#include <stdint.h>

/* "10" (seconds), "1.5s", "500ms", "2m", "1h" -> milliseconds; -EINVAL, -ERANGE. */
int base_parse_duration_ms(const char *s, uint64_t *ret);
/* "4096", "64K", "64KiB", "4M", "4MiB", "1G", "1GiB" -> bytes; -EINVAL, -ERANGE. */
int base_parse_size(const char *s, uint64_t *ret);
/* Decimal, at most max; -EINVAL, -ERANGE. */
int base_parse_uint(const char *s, uint64_t max, uint64_t *ret);

#endif /* BASE_PARSE_H */
