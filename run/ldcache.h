/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /etc/ld.so.cache: where the dynamic loader of a root filesystem finds a
 * library by its soname.
 *
 * A gadget's uprobe names a library the way people do ("uprobe/libc:malloc"),
 * and what "libc" is depends on the root the traced processes run in: the
 * host's or a container's image.  Like the loader (and Inspektor Gadget,
 * which reads the cache of each container), this module reads that root's
 * cache and lists the files whose soname starts with "<name>.so".
 *
 * The file is foreign (a container image writes it), so everything is
 * bounded: its size, the entries looked at, the results, and every offset
 * is checked against the bytes there are.  Both layouts glibc writes are
 * read: the new one ("glibc-ld.so.cache1.1"), alone or after the old one
 * ("ld.so-1.7.0"), and the old one alone.
 */
#ifndef RUN_LDCACHE_H
#define RUN_LDCACHE_H

#include <stddef.h>

/* A cache larger than this is not read (real ones are below 200 KiB). */
#define RUN_LDCACHE_MAX_BYTES (16u << 20)
/* Files listed for one name at most (one per architecture, in practice). */
#define RUN_LDCACHE_MAX_RESULTS 16
/* Longest path kept; a longer one is skipped. */
#define RUN_LDCACHE_MAX_PATH 4096

/*
 * Calls fn for each entry of the cache in buf whose key starts with
 * "<name>.so", with the path it maps to (NUL-terminated, valid during the
 * call), at most RUN_LDCACHE_MAX_RESULTS times; a non-zero return from fn
 * stops the walk.  Returns the number of calls, or -EINVAL when buf is not a
 * cache glibc writes.
 */
int run_ldcache_lookup(const void *buf, size_t len, const char *name,
		       int (*fn)(void *ctx, const char *path), void *ctx);

#endif /* RUN_LDCACHE_H */
