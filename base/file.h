/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole small files read into memory, with a maximum, and whole buffers
 * written out.
 *
 * Configuration, credentials, gadget.yaml, image layout files and gadget
 * ELFs are each read in one piece.  A file larger than its maximum is
 * refused (-EFBIG), never cut short, and only regular files are read: a
 * FIFO or a device put where a file is expected could block a reader
 * forever or feed it without end, so the file is opened without waiting
 * for a writer and checked with fstat() before anything is read.  The size
 * fstat() gives is only a hint (procfs files report 0; a file may grow
 * while it is read): reading goes on to the end, bounded by the maximum.
 */
#ifndef BASE_FILE_H
#define BASE_FILE_H

#include <stddef.h>

/* Refuses a symbolic link as the last component of the path (-ELOOP). */
#define BASE_FILE_NOFOLLOW (1u << 0)
/* The content is a secret: buffers that held it are wiped before they are freed. */
#define BASE_FILE_SECRET (1u << 1)

/*
 * Reads the file at path, relative to the directory dirfd when path is
 * relative (AT_FDCWD for the working directory), opened with O_CLOEXEC.
 * Returns 0 and a new buffer in *ret (free() it) holding *ret_len bytes,
 * followed by a NUL that is not counted, for text users.
 *
 * -EISDIR for a directory, -EINVAL for anything else that is not a regular
 * file (FIFO, socket, device), -EFBIG when the file holds more than max
 * bytes, -ENOMEM, or the -errno of open() and read() (-ENOENT, -EACCES,
 * -ELOOP, ...).  ret and ret_len are untouched on failure.
 */
int base_file_read_at(int dirfd, const char *path, size_t max, unsigned int flags, char **ret,
		      size_t *ret_len);
/* base_file_read_at(AT_FDCWD, path, max, 0, ret, ret_len). */
int base_file_read(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Writes all len bytes of buf to fd, going on after short writes and
 * EINTR; 0 or the -errno of write().  For descriptors in blocking mode.
 */
int base_file_write_all(int fd, const void *buf, size_t len);

#endif /* BASE_FILE_H */
