// SPDX-License-Identifier: Apache-2.0
/*
 * Whole small files read into memory, and whole buffers written; see file.h.
 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* First buffer when fstat() gives no size, as procfs files do. */
#define FILE_FIRST_CHUNK 4096

static void file_free(char *buf, size_t len, unsigned int flags)
{
	if (buf && (flags & BASE_FILE_SECRET))
		explicit_bzero(buf, len);
	free(buf);
}

/* realloc() that leaves no copy of a secret behind in the old block. */
static char *file_grow(char *buf, size_t len, size_t cap, unsigned int flags)
{
	char *p;

	if (!(flags & BASE_FILE_SECRET))
		return realloc(buf, cap);
	p = malloc(cap);
	if (p) {
		memcpy(p, buf, len);
		file_free(buf, len, flags);
	}
	return p;
}

static int file_read_fd(int fd, size_t max, unsigned int flags, char **ret, size_t *ret_len)
{
	size_t cap, len = 0;
	struct stat st;
	char *buf;
	int fl;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2; /* no file that large fits in memory anyway */
	/* opened non-blocking only so that a FIFO could not hold up open() */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	/* One spare byte for the terminator, and to see that a file grew. */
	cap = (st.st_size > 0 ? (size_t)st.st_size : FILE_FIRST_CHUNK) + 1;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *p;

			if (len == max) {
				char c;

				/* at the maximum: only the end of the file may follow */
				n = read(fd, &c, 1);
				if (n < 0 && errno == EINTR)
					continue;
				if (n == 0)
					break;
				n = n < 0 ? -errno : -EFBIG;
				file_free(buf, len, flags);
				return (int)n;
			}
			/* double the room, up to the maximum */
			cap = cap - 1 > max / 2 ? max + 1 : (cap - 1) * 2 + 1;
			p = file_grow(buf, len, cap, flags);
			if (!p) {
				file_free(buf, len, flags);
				return -ENOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			file_free(buf, len, flags);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

int base_file_read_at(int dirfd, const char *path, size_t max, unsigned int flags, char **ret,
		      size_t *ret_len)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd, r;

	if (flags & BASE_FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	fd = openat(dirfd, path, oflags);
	if (fd < 0)
		return -errno;
	r = file_read_fd(fd, max, flags, ret, ret_len);
	close(fd);
	return r;
}

int base_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return base_file_read_at(AT_FDCWD, path, max, 0, ret, ret_len);
}

int base_file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
