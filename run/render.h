/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Human forms of the gadget API's special values.
 *
 * A gadget stores raw numbers (an errno, a signal, open(2) flags, a boot-time
 * timestamp) and the pipeline shows them the way a person reads them: ENOENT,
 * SIGKILL, O_RDONLY|O_CLOEXEC, 2024-05-01T10:00:00.000000001+02:00.  These are
 * pure functions that append text to a buffer; they know nothing of records.
 * Each returns 0 or a negative errno from the buffer (-E2BIG, -ENOMEM).
 */
#ifndef RUN_RENDER_H
#define RUN_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Name of errno e ("ENOENT") or NULL when unknown; 0 has no name. */
const char *run_render_errno_name(uint64_t e);
/* An errno as stored by a gadget: positive or negated, 0 renders as "". */
int run_render_errno(struct base_buf *b, uint64_t v);
int run_render_signal(struct base_buf *b, uint64_t sig);
int run_render_syscall(struct base_buf *b, uint64_t nr);
/* open(2) flags with the kernel's bit values: "O_WRONLY|O_CREAT|O_TRUNC". */
int run_render_file_flags(struct base_buf *b, uint64_t flags);
/* st_mode-like bits as ls -l shows them: "-rw-r--r--", "drwxrwxrwt". */
int run_render_file_mode(struct base_buf *b, uint64_t mode);
/* A size in bytes with binary units: "512 B", "1.5 KiB". */
int run_render_bytes(struct base_buf *b, uint64_t n);
/* Nanoseconds the way Go prints a time.Duration: "1.5ms", "2m3.5s". */
int run_render_duration(struct base_buf *b, int64_t ns);
/* IPv4 (version 4, first 4 bytes) or IPv6 (version 6) address; "" otherwise. */
int run_render_ip(struct base_buf *b, const uint8_t addr[16], unsigned int version);
/* IP protocol number: "TCP", "UDP", ... or NULL when unknown. */
const char *run_render_proto_name(uint64_t proto);

/* Most slots a log2 histogram has: slot 63 ends at 2^63, the last power of two in 64 bits. */
#define RUN_RENDER_HIST_MAX_SLOTS 64
/* Width of the bar of the largest count. */
#define RUN_RENDER_HIST_BAR 40

/*
 * A log2 histogram the way bcc's and Inspektor Gadget's tools draw one, for
 * the slots of the gadget API (gadget/bits.bpf.h): slot 0 counts values in
 * [0, 1), slot n values in [2^(n-1), 2^n).
 *
 *     usecs         : count    distribution
 *        16 -> 32   : 3        |***                                     |
 *        32 -> 64   : 40       |****************************************|
 *
 * The header names the values (unit, printed as given: "usecs"), then one
 * line per slot from the first non-empty one to the last, each with its
 * range [lo, hi), its count and a bar scaled to the largest count.  Only the
 * header when every slot is empty.  Slots past RUN_RENDER_HIST_MAX_SLOTS are
 * ignored.
 */
int run_render_log2_hist(struct base_buf *b, const uint64_t *slots, size_t n, const char *unit);

/*
 * Wall-clock timestamps.  Splitting a time into calendar fields costs far
 * more than the rest of a record, and consecutive records nearly always share
 * the second, so the text of the last second is kept here.
 */
struct run_render_time_cache {
	int64_t sec;   /* second the text below belongs to; INT64_MIN if none */
	char date[24]; /* "2024-05-01T10:00:00" */
	size_t date_len;
	char zone[8]; /* "Z" or "+02:00" */
	size_t zone_len;
};

void run_render_time_cache_init(struct run_render_time_cache *c);
/* realtime_ns since the epoch as RFC 3339 with nanoseconds in local time. */
int run_render_timestamp(struct base_buf *b, int64_t realtime_ns, struct run_render_time_cache *c);

#endif /* RUN_RENDER_H */
