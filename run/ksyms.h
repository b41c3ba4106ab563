/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel symbols from /proc/kallsyms, to name the frames of a kernel stack.
 *
 * The table is read once, on the first stack that needs it (a few
 * megabytes of text, some 100k lines), kept sorted by address, and looked
 * up by binary search: the symbol with the largest address not above the
 * frame's, as bcc's ksyms__map_addr() and Inspektor Gadget do.  With
 * kptr_restrict hiding addresses every symbol reads as 0 and nothing is
 * named ("[unknown]").
 */
#ifndef RUN_KSYMS_H
#define RUN_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct run_ksyms;

/* Bytes of /proc/kallsyms read at most, and symbols kept. */
#define RUN_KSYMS_MAX_BYTES   (64u << 20)
#define RUN_KSYMS_MAX_SYMBOLS (4u << 20)

/* Reads /proc/kallsyms (or another file of that format); free with run_ksyms_free(). */
int run_ksyms_load(const char *path, struct run_ksyms **ret);
/* The same from text in memory. */
int run_ksyms_parse(const char *text, size_t len, struct run_ksyms **ret);
struct run_ksyms *run_ksyms_free(struct run_ksyms *k);

/* The name of the function holding addr, or NULL; borrowed from the table. */
const char *run_ksyms_lookup(const struct run_ksyms *k, uint64_t addr);
size_t run_ksyms_count(const struct run_ksyms *k);

#endif /* RUN_KSYMS_H */
