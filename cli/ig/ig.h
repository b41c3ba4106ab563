/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the ig command line tool: the command table, error
 * reporting and small parsers for durations and sizes.
 *
 * ig follows bpftool's grammar ("ig <command> [args]"), with one help text per
 * command.  Programs decide how to report: every error is printed once, here,
 * as "ig: error: <reason>".
 */
#ifndef CLI_IG_H
#define CLI_IG_H

#include <stdbool.h>
#include <stdint.h>

#define IG_EXIT_OK    0
#define IG_EXIT_ERROR 1
#define IG_EXIT_USAGE 2

struct ig_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

void ig_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ig_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "10" (seconds), "1.5s", "500ms", "2m", "1h" -> milliseconds; -EINVAL. */
int ig_parse_duration_ms(const char *s, uint64_t *ret);
/* "4096", "64K", "4M", "4MiB", "1G" -> bytes; -EINVAL / -ERANGE. */
int ig_parse_size(const char *s, uint64_t *ret);
/* Decimal unsigned within max; -EINVAL / -ERANGE. */
int ig_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* Mounts tracefs and bpffs where they are missing; warns, never fails. */
void ig_ensure_kernel_fs(void);

int ig_cmd_run(int argc, char **argv);
int ig_cmd_version(int argc, char **argv);

#endif /* CLI_IG_H */
