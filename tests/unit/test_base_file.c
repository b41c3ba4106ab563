// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the bounded whole-file reader (base/file.c): what it reads,
 * where it stops (a maximum, never a cut), what it refuses to open as a
 * file (directories, FIFOs, devices, links when asked) and that it leaves
 * its outputs and descriptors alone when it fails; and the writer of whole
 * buffers.
 */
#include "base/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/test_base_file.XXXXXX";

static const char *path_of(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = {"text", "empty", "big", "bin", "fifo", "link"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_of(names[i]));
	return rmdir(dir);
}

static void test_text(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	write_file("text", "hello\n", 6);
	assert_int_equal(base_file_read(path_of("text"), 100, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);

	/* binary data comes back whole, still terminated after the end */
	write_file("bin", "a\0b", 3);
	assert_int_equal(base_file_read(path_of("bin"), 3, &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 4);
	free(buf);

	write_file("empty", "", 0);
	assert_int_equal(base_file_read(path_of("empty"), 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
}

static void test_maximum(void **state)
{
	char *buf = (char *)"untouched";
	size_t len = 7;
	int fd;

	write_file("text", "0123456789", 10);
	assert_int_equal(base_file_read(path_of("text"), 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);
	buf = (char *)"untouched";
	len = 7;
	assert_int_equal(base_file_read(path_of("text"), 9, &buf, &len), -EFBIG);
	assert_string_equal(buf, "untouched");
	assert_int_equal(len, 7);

	/* refused on its size alone: nothing is read */
	fd = open(path_of("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0);
	close(fd);
	assert_int_equal(base_file_read(path_of("big"), 1 << 20, &buf, &len), -EFBIG);
}

/* procfs files say they are empty: the reader goes by what it reads. */
static void test_no_size(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;

	assert_int_equal(stat("/proc/self/maps", &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(base_file_read("/proc/self/maps", 1 << 20, &buf, &len), 0);
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	free(buf);
	assert_int_equal(base_file_read("/proc/self/maps", 16, &buf, &len), -EFBIG);
}

static void test_not_a_file(void **state)
{
	char *buf = (char *)"untouched";
	size_t len = 7;
	int before = open_fds();

	assert_int_equal(base_file_read(dir, 100, &buf, &len), -EISDIR);
	assert_int_equal(base_file_read("/dev/null", 100, &buf, &len), -EINVAL);
	assert_int_equal(base_file_read("/dev/zero", 100, &buf, &len), -EINVAL);
	/* a FIFO without a writer would block open() and read(): neither happens */
	assert_int_equal(mkfifo(path_of("fifo"), 0600), 0);
	assert_int_equal(base_file_read(path_of("fifo"), 100, &buf, &len), -EINVAL);
	assert_int_equal(base_file_read(path_of("none"), 100, &buf, &len), -ENOENT);
	assert_string_equal(buf, "untouched");
	assert_int_equal(len, 7);
	assert_int_equal(open_fds(), before);
}

static void test_at(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dfd >= 0);
	write_file("text", "at", 2);
	assert_int_equal(base_file_read_at(dfd, "text", 10, 0, &buf, &len), 0);
	assert_string_equal(buf, "at");
	free(buf);

	/* a link is followed unless the caller says not to */
	assert_int_equal(symlink("text", path_of("link")), 0);
	assert_int_equal(base_file_read_at(dfd, "link", 10, 0, &buf, &len), 0);
	assert_string_equal(buf, "at");
	free(buf);
	assert_int_equal(base_file_read_at(dfd, "link", 10, BASE_FILE_NOFOLLOW, &buf, &len),
			 -ELOOP);

	/* an absolute path ignores the directory */
	assert_int_equal(base_file_read_at(dfd, path_of("text"), 10, 0, &buf, &len), 0);
	free(buf);
	close(dfd);
}

static void test_secret(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	write_file("text", "user:password", 13);
	assert_int_equal(
		base_file_read_at(AT_FDCWD, path_of("text"), 13, BASE_FILE_SECRET, &buf, &len), 0);
	assert_string_equal(buf, "user:password");
	free(buf);
	assert_int_equal(base_file_read("/proc/self/maps", 1 << 20, &buf, &len), 0);
	free(buf);
	/* the copying growth path of secrets */
	assert_int_equal(base_file_read_at(AT_FDCWD, "/proc/self/maps", 1 << 20, BASE_FILE_SECRET,
					   &buf, &len),
			 0);
	assert_int_equal(strlen(buf), len);
	free(buf);
}

static void test_write_all(void **state)
{
	static char data[1 << 20];
	char *buf = NULL;
	size_t len = 0;
	int fd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	fd = open(path_of("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(base_file_write_all(fd, data, sizeof(data)), 0);
	assert_int_equal(base_file_write_all(fd, data, 0), 0);
	close(fd);
	assert_int_equal(base_file_read(path_of("big"), sizeof(data), &buf, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, len);
	free(buf);
	assert_int_equal(base_file_write_all(-1, data, 1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),	  cmocka_unit_test(test_maximum),
		cmocka_unit_test(test_no_size),	  cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_at),	  cmocka_unit_test(test_secret),
		cmocka_unit_test(test_write_all),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
