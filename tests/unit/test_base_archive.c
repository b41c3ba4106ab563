// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the libarchive loader (base/archive.c).
 *
 * Nothing here names libarchive's symbols directly, so the test binary does
 * not link it (--as-needed drops it) and every call goes through the table
 * base_archive_load() fills: a tarball written and read back through it,
 * and a file that is no tarball refused with libarchive's own message.
 */
#include "base/archive.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

static void test_load(void **state)
{
	char err[BASE_ARCHIVE_ERRLEN] = "untouched";

	assert_int_equal(base_archive_load(err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
	assert_int_equal(base_archive_load(NULL, 0), 0);
}

static void put(struct archive *a, const char *name, const char *data)
{
	struct archive_entry *e = archive_entry_new();

	assert_non_null(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(data));
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

static void get(struct archive *a, const char *name, const char *data)
{
	struct archive_entry *e;
	char buf[64];
	la_ssize_t n;

	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(e), name);
	assert_int_equal(archive_entry_filetype(e), AE_IFREG);
	assert_null(archive_entry_hardlink(e));
	n = archive_read_data(a, buf, sizeof(buf) - 1);
	assert_int_equal(n, (la_ssize_t)strlen(data));
	buf[n] = '\0';
	assert_string_equal(buf, data);
}

static void test_round_trip(void **state)
{
	int fd = memfd_create("tar", MFD_CLOEXEC);
	struct archive *a;
	struct archive_entry *e;

	assert_true(fd >= 0);
	assert_int_equal(base_archive_load(NULL, 0), 0);
	a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	put(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	put(a, "index.json", "{}");
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	a = archive_read_new();
	assert_non_null(a);
	assert_int_equal(archive_read_support_filter_all(a), ARCHIVE_OK);
	assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open_fd(a, fd, 10240), ARCHIVE_OK);
	get(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	get(a, "index.json", "{}");
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_EOF);
	archive_read_free(a);
	close(fd);
}

static void test_not_a_tarball(void **state)
{
	int fd = memfd_create("junk", MFD_CLOEXEC);
	char junk[4096];
	struct archive *a;
	struct archive_entry *e;

	assert_true(fd >= 0);
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(base_archive_load(NULL, 0), 0);
	a = archive_read_new();
	assert_non_null(a);
	assert_int_equal(archive_read_support_filter_all(a), ARCHIVE_OK);
	assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
	if (archive_read_open_fd(a, fd, 10240) == ARCHIVE_OK)
		assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_FATAL);
	assert_non_null(strstr(archive_error_string(a), "Unrecognized archive format"));
	archive_read_free(a);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_not_a_tarball),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
