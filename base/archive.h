/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libarchive, loaded with dlopen() on first use rather than linked.
 *
 * Only image export and import read or write tarballs, yet libarchive and
 * the compression and XML libraries it brings would be mapped at every
 * start of ig.  Code that uses libarchive includes this header instead of
 * <archive.h> and <archive_entry.h>, calls base_archive_load() before its
 * first archive call, and then calls libarchive as usual: each function it
 * names becomes a call through a pointer of that function's own declared
 * type, so arguments are still checked against libarchive's prototypes.
 */
#ifndef BASE_ARCHIVE_H
#define BASE_ARCHIVE_H

#include <stddef.h>

#include <archive.h>
#include <archive_entry.h>

/* Every libarchive function the tree calls; add a name here to call another. */
#define BASE_ARCHIVE_FUNCS(X)                                                                      \
	X(archive_entry_filetype)                                                                  \
	X(archive_entry_free)                                                                      \
	X(archive_entry_hardlink)                                                                  \
	X(archive_entry_new)                                                                       \
	X(archive_entry_pathname)                                                                  \
	X(archive_entry_set_filetype)                                                              \
	X(archive_entry_set_gid)                                                                   \
	X(archive_entry_set_mtime)                                                                 \
	X(archive_entry_set_pathname)                                                              \
	X(archive_entry_set_perm)                                                                  \
	X(archive_entry_set_size)                                                                  \
	X(archive_entry_set_uid)                                                                   \
	X(archive_error_string)                                                                    \
	X(archive_read_data)                                                                       \
	X(archive_read_free)                                                                       \
	X(archive_read_new)                                                                        \
	X(archive_read_next_header)                                                                \
	X(archive_read_open_fd)                                                                    \
	X(archive_read_support_filter_all)                                                         \
	X(archive_read_support_format_tar)                                                         \
	X(archive_write_close)                                                                     \
	X(archive_write_data)                                                                      \
	X(archive_write_free)                                                                      \
	X(archive_write_header)                                                                    \
	X(archive_write_new)                                                                       \
	X(archive_write_open_fd)                                                                   \
	X(archive_write_set_format_pax_restricted)

/* Filled once by base_archive_load(); use the libarchive names, not this table. */
struct base_archive_fns {
#define BASE_ARCHIVE_PTR(f) __typeof__(f) *p_##f;
	BASE_ARCHIVE_FUNCS(BASE_ARCHIVE_PTR)
#undef BASE_ARCHIVE_PTR
};
extern struct base_archive_fns base_archive_fns;

/* Longest message base_archive_load() writes. */
#define BASE_ARCHIVE_ERRLEN 256

/*
 * Loads libarchive the first time it is called in the process, from any
 * thread; later calls return the first result.  0 on success; -ELIBACC when
 * the library cannot be loaded, -ELIBBAD when it lacks a function named
 * above.  On failure the message for the user ("libarchive.so.13 not found:
 * install libarchive13") goes to err when err is not NULL.
 */
int base_archive_load(char *err, size_t len);

/* From here on the libarchive names call through the table. */
#define archive_entry_filetype		base_archive_fns.p_archive_entry_filetype
#define archive_entry_free		base_archive_fns.p_archive_entry_free
#define archive_entry_hardlink		base_archive_fns.p_archive_entry_hardlink
#define archive_entry_new		base_archive_fns.p_archive_entry_new
#define archive_entry_pathname		base_archive_fns.p_archive_entry_pathname
#define archive_entry_set_filetype	base_archive_fns.p_archive_entry_set_filetype
#define archive_entry_set_gid		base_archive_fns.p_archive_entry_set_gid
#define archive_entry_set_mtime		base_archive_fns.p_archive_entry_set_mtime
#define archive_entry_set_pathname	base_archive_fns.p_archive_entry_set_pathname
#define archive_entry_set_perm		base_archive_fns.p_archive_entry_set_perm
#define archive_entry_set_size		base_archive_fns.p_archive_entry_set_size
#define archive_entry_set_uid		base_archive_fns.p_archive_entry_set_uid
#define archive_error_string		base_archive_fns.p_archive_error_string
#define archive_read_data		base_archive_fns.p_archive_read_data
#define archive_read_free		base_archive_fns.p_archive_read_free
#define archive_read_new		base_archive_fns.p_archive_read_new
#define archive_read_next_header	base_archive_fns.p_archive_read_next_header
#define archive_read_open_fd		base_archive_fns.p_archive_read_open_fd
#define archive_read_support_filter_all base_archive_fns.p_archive_read_support_filter_all
#define archive_read_support_format_tar base_archive_fns.p_archive_read_support_format_tar
#define archive_write_close		base_archive_fns.p_archive_write_close
#define archive_write_data		base_archive_fns.p_archive_write_data
#define archive_write_free		base_archive_fns.p_archive_write_free
#define archive_write_header		base_archive_fns.p_archive_write_header
#define archive_write_new		base_archive_fns.p_archive_write_new
#define archive_write_open_fd		base_archive_fns.p_archive_write_open_fd
#define archive_write_set_format_pax_restricted                                                    \
	base_archive_fns.p_archive_write_set_format_pax_restricted

#endif /* BASE_ARCHIVE_H */
