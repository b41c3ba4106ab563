// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the pieces under the record pipeline: the human forms of special
 * values (run/render.c), the writers that make untrusted text safe for
 * JSON, YAML and a terminal (run/escape.c), and the user/group name table
 * (run/users.c).
 */
#include "run/escape.h"
#include "run/render.h"
#include "run/users.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct base_buf buf = BASE_BUF_INIT(0);

/* Runs an appending renderer on an empty buffer and returns the text. */
#define R(call)                                                                                    \
	({                                                                                         \
		base_buf_reset(&buf);                                                              \
		assert_int_equal((call), 0);                                                       \
		buf.data ? buf.data : "";                                                          \
	})

static void test_errno(void **state)
{
	(void)state;
	assert_string_equal(R(run_render_errno(&buf, 0)), "");
	assert_string_equal(R(run_render_errno(&buf, 2)), "ENOENT");
	assert_string_equal(R(run_render_errno(&buf, (uint32_t)-13)), "EACCES");
	assert_string_equal(R(run_render_errno(&buf, 133)), "EHWPOISON");
	assert_string_equal(R(run_render_errno(&buf, 512)), "ERESTARTSYS");
	assert_string_equal(R(run_render_errno(&buf, 4000)), "4000");
	assert_string_equal(R(run_render_errno(&buf, (uint32_t)-4000)), "-4000");
	assert_string_equal(R(run_render_errno(&buf, UINT64_C(1) << 40)), "1099511627776");
	assert_null(run_render_errno_name(0));
	assert_string_equal(run_render_errno_name(EAGAIN), "EAGAIN");
}

static void test_signal_syscall(void **state)
{
	(void)state;
	assert_string_equal(R(run_render_signal(&buf, 9)), "SIGKILL");
	assert_string_equal(R(run_render_signal(&buf, 15)), "SIGTERM");
	assert_string_equal(R(run_render_signal(&buf, 31)), "SIGSYS");
	assert_string_equal(R(run_render_signal(&buf, 32)), "SIGRTMIN");
	assert_string_equal(R(run_render_signal(&buf, 34)), "SIGRTMIN+2");
	assert_string_equal(R(run_render_signal(&buf, 0)), "0");
	assert_string_equal(R(run_render_signal(&buf, 99)), "99");
#if defined(__x86_64__)
	assert_string_equal(R(run_render_syscall(&buf, 0)), "read");
	assert_string_equal(R(run_render_syscall(&buf, 59)), "execve");
	assert_string_equal(R(run_render_syscall(&buf, 257)), "openat");
	assert_string_equal(R(run_render_syscall(&buf, 435)), "clone3");
	assert_string_equal(R(run_render_syscall(&buf, 400)), "syscall_400");
#endif
	assert_string_equal(R(run_render_syscall(&buf, 100000)), "syscall_100000");
}

static void test_file_flags_mode(void **state)
{
	(void)state;
	assert_string_equal(R(run_render_file_flags(&buf, 0)), "O_RDONLY");
	assert_string_equal(R(run_render_file_flags(&buf, O_WRONLY | O_CREAT | O_TRUNC)),
			    "O_WRONLY|O_CREAT|O_TRUNC");
	assert_string_equal(R(run_render_file_flags(&buf, O_RDONLY | O_CLOEXEC | O_DIRECTORY)),
			    "O_RDONLY|O_DIRECTORY|O_CLOEXEC");
	assert_string_equal(R(run_render_file_flags(&buf, O_RDWR | O_SYNC)), "O_RDWR|O_SYNC");
	assert_string_equal(R(run_render_file_flags(&buf, O_RDWR | O_DSYNC)), "O_RDWR|O_DSYNC");
	assert_string_equal(R(run_render_file_flags(&buf, O_TMPFILE | O_RDWR)), "O_RDWR|O_TMPFILE");
#if defined(__x86_64__)
	/* O_LARGEFILE is 0 in 64-bit user space, but the kernel sets its bit */
	assert_string_equal(R(run_render_file_flags(&buf, 0100000)), "O_RDONLY|O_LARGEFILE");
#endif
	assert_string_equal(R(run_render_file_flags(&buf, 0x80000000u | 1)), "O_WRONLY|0x80000000");

	assert_string_equal(R(run_render_file_mode(&buf, 0644)), "-rw-r--r--");
	assert_string_equal(R(run_render_file_mode(&buf, S_IFDIR | 01777)), "drwxrwxrwt");
	assert_string_equal(R(run_render_file_mode(&buf, S_IFREG | 04755)), "-rwsr-xr-x");
	assert_string_equal(R(run_render_file_mode(&buf, 02640)), "-rw-r-S---");
	assert_string_equal(R(run_render_file_mode(&buf, S_IFLNK | 0777)), "lrwxrwxrwx");
	assert_string_equal(R(run_render_file_mode(&buf, S_IFSOCK | 0600)), "srw-------");
	assert_string_equal(R(run_render_file_mode(&buf, 01000)), "---------T");
}

static void test_bytes_duration(void **state)
{
	(void)state;
	assert_string_equal(R(run_render_bytes(&buf, 0)), "0 B");
	assert_string_equal(R(run_render_bytes(&buf, 1023)), "1023 B");
	assert_string_equal(R(run_render_bytes(&buf, 1536)), "1.5 KiB");
	assert_string_equal(R(run_render_bytes(&buf, 3 << 20)), "3.0 MiB");
	assert_string_equal(R(run_render_bytes(&buf, UINT64_MAX)), "16.0 EiB");

	assert_string_equal(R(run_render_duration(&buf, 0)), "0s");
	assert_string_equal(R(run_render_duration(&buf, 999)), "999ns");
	assert_string_equal(R(run_render_duration(&buf, 1500)), "1.5\xc2\xb5s");
	assert_string_equal(R(run_render_duration(&buf, 1500000)), "1.5ms");
	assert_string_equal(R(run_render_duration(&buf, 1234567)), "1.234567ms");
	assert_string_equal(R(run_render_duration(&buf, 2000000000)), "2s");
	assert_string_equal(R(run_render_duration(&buf, 62500000000)), "1m2.5s");
	assert_string_equal(R(run_render_duration(&buf, 3600000000000)), "1h0m0s");
	assert_string_equal(R(run_render_duration(&buf, -1500000)), "-1.5ms");
	assert_string_equal(R(run_render_duration(&buf, INT64_MIN)), "-2562047h47m16.854775808s");
}

static void test_log2_hist(void **state)
{
	uint64_t slots[27] = {0};
	uint64_t big[64] = {0};

	(void)state;
	/* empty: only the header */
	assert_string_equal(R(run_render_log2_hist(&buf, slots, 27, "usecs")),
			    "usecs          : count    distribution\n");

	/* from the first non-empty slot to the last, the empty ones between kept */
	slots[5] = 3;
	slots[6] = 40;
	slots[8] = 1;
	assert_string_equal(
		R(run_render_log2_hist(&buf, slots, 27, "usecs")),
		"usecs          : count    distribution\n"
		"   16 -> 32    : 3        |***                                     |\n"
		"   32 -> 64    : 40       |****************************************|\n"
		"   64 -> 128   : 0        |                                        |\n"
		"  128 -> 256   : 1        |*                                       |\n");

	/* slot 0 is [0, 1), slot 1 [1, 2); a label wider than the numbers widens the columns */
	memset(slots, 0, sizeof(slots));
	slots[0] = 7;
	slots[1] = 2;
	assert_string_equal(R(run_render_log2_hist(&buf, slots, 2, "ns")),
			    "ns       : count    distribution\n"
			    " 0 -> 1  : 7        |****************************************|\n"
			    " 1 -> 2  : 2        |***********                             |\n");

	/* the last slot of 64 ends at 2^63; only the n slots given are read */
	big[63] = UINT64_MAX;
	assert_string_equal(R(run_render_log2_hist(&buf, big, 64, "x")),
			    "                  x                        : count    distribution\n"
			    "4611686018427387904 -> 9223372036854775808 : 18446744073709551615 "
			    "|****************************************|\n");
	assert_string_equal(R(run_render_log2_hist(&buf, big, 63, "x")),
			    "x      : count    distribution\n");
}

static void test_ip_proto(void **state)
{
	uint8_t a[16] = {192, 168, 1, 20};
	uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

	(void)state;
	assert_string_equal(R(run_render_ip(&buf, a, 4)), "192.168.1.20");
	assert_string_equal(R(run_render_ip(&buf, b, 6)), "2001:db8::1");
	assert_string_equal(R(run_render_ip(&buf, b, 0)), "");
	assert_string_equal(run_render_proto_name(6), "TCP");
	assert_string_equal(run_render_proto_name(17), "UDP");
	assert_null(run_render_proto_name(200));
}

static void test_timestamp(void **state)
{
	struct run_render_time_cache c;

	(void)state;
	run_render_time_cache_init(&c);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_string_equal(R(run_render_timestamp(&buf, INT64_C(1700000000123456789), &c)),
			    "2023-11-14T22:13:20.123456789Z");
	/* the same second comes from the cache */
	assert_string_equal(R(run_render_timestamp(&buf, INT64_C(1700000000000000001), &c)),
			    "2023-11-14T22:13:20.000000001Z");
	assert_string_equal(R(run_render_timestamp(&buf, 0, &c)), "1970-01-01T00:00:00.000000000Z");

	run_render_time_cache_init(&c);
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	assert_string_equal(R(run_render_timestamp(&buf, INT64_C(1700000000123456789), &c)),
			    "2023-11-14T23:13:20.123456789+01:00");
	run_render_time_cache_init(&c);
	setenv("TZ", "<-0330>3:30", 1);
	tzset();
	assert_string_equal(R(run_render_timestamp(&buf, INT64_C(1700000000000000000), &c)),
			    "2023-11-14T18:43:20.000000000-03:30");
	setenv("TZ", "UTC", 1);
	tzset();
}

static const char *json(const char *s, size_t n)
{
	base_buf_reset(&buf);
	assert_int_equal(run_escape_json(&buf, s, n, 0), 0);
	return buf.data;
}

static void test_escape_json(void **state)
{
	(void)state;
	assert_string_equal(json("", 0), "\"\"");
	assert_string_equal(json("plain text/ok", 13), "\"plain text/ok\"");
	assert_string_equal(json("q\"b\\", 4), "\"q\\\"b\\\\\"");
	assert_string_equal(json("\n\t\r\b\f\x01\x1f", 7), "\"\\n\\t\\r\\b\\f\\u0001\\u001f\"");
	assert_string_equal(json("a\0b", 3), "\"a\\u0000b\"");
	/* valid UTF-8 passes, each bad byte becomes U+FFFD */
	assert_string_equal(json("\xc3\xa9\xf0\x9f\x98\x80", 6), "\"\xc3\xa9\xf0\x9f\x98\x80\"");
	assert_string_equal(json("\xc3", 1), "\"\\ufffd\"");
	assert_string_equal(json("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");		   /* overlong */
	assert_string_equal(json("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	assert_string_equal(json("\xf4\x90\x80\x80", 4),
			    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");	/* > U+10FFFF */
	assert_string_equal(json("\xe2\x82", 2), "\"\\ufffd\\ufffd\""); /* cut short */
}

/* Every special byte at every position of a string, against a slow reference. */
static void test_escape_json_positions(void **state)
{
	static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x7f, ' ', '~', 0};
	char in[21], want[64];
	size_t pos, k;

	(void)state;
	for (k = 0; k < sizeof(specials); k++) {
		for (pos = 0; pos < sizeof(in); pos++) {
			const char *esc;
			char one[8];

			memset(in, 'a', sizeof(in));
			in[pos] = specials[k];
			switch (specials[k]) {
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case 0x01:
			case 0x1f:
			case 0:
				snprintf(one, sizeof(one), "\\u%04x", (unsigned char)specials[k]);
				esc = one;
				break;
			default:
				one[0] = specials[k];
				one[1] = '\0';
				esc = one;
				break;
			}
			snprintf(want, sizeof(want), "\"%.*s%s%.*s\"", (int)pos, in, esc,
				 (int)(sizeof(in) - pos - 1), in + pos + 1);
			assert_string_equal(json(in, sizeof(in)), want);
		}
	}
	/* a multi-byte character across an 8-byte boundary */
	assert_string_equal(json("abcdefg\xe2\x82\xacxyz", 13), "\"abcdefg\xe2\x82\xacxyz\"");
	assert_string_equal(json("abcdefg\xe2\x82", 9), "\"abcdefg\\ufffd\\ufffd\"");
}

static const char *yaml(const char *s)
{
	base_buf_reset(&buf);
	assert_int_equal(run_escape_yaml(&buf, s, strlen(s)), 0);
	return buf.data;
}

static void test_escape_yaml(void **state)
{
	(void)state;
	assert_string_equal(yaml("cat"), "cat");
	assert_string_equal(yaml("/usr/bin/cat -n"), "/usr/bin/cat -n");
	assert_string_equal(yaml("caf\xc3\xa9"), "caf\xc3\xa9");
	assert_string_equal(yaml(""), "\"\"");
	assert_string_equal(yaml("true"), "\"true\"");
	assert_string_equal(yaml("No"), "\"No\"");
	assert_string_equal(yaml("null"), "\"null\"");
	assert_string_equal(yaml("~"), "\"~\"");
	assert_string_equal(yaml("123"), "\"123\"");
	assert_string_equal(yaml("-1"), "\"-1\"");
	assert_string_equal(yaml(".5"), "\".5\"");
	assert_string_equal(yaml("a: b"), "\"a: b\"");
	assert_string_equal(yaml("a #b"), "\"a #b\"");
	assert_string_equal(yaml("a#b"), "a#b");
	assert_string_equal(yaml("key:"), "\"key:\"");
	assert_string_equal(yaml(" lead"), "\" lead\"");
	assert_string_equal(yaml("trail "), "\"trail \"");
	assert_string_equal(yaml("*alias"), "\"*alias\"");
	assert_string_equal(yaml("- item"), "\"- item\"");
	assert_string_equal(yaml("{x}"), "\"{x}\"");
	assert_string_equal(yaml("two\nlines"), "\"two\\nlines\"");
	assert_string_equal(yaml("quote\"d"), "quote\"d");
	assert_string_equal(yaml("'q'"), "\"'q'\"");
	assert_string_equal(yaml("bad\xff"), "\"bad\\ufffd\"");
	/* line separators of YAML 1.1 are escaped */
	assert_string_equal(yaml("a\xe2\x80\xa8z"), "\"a\\u2028z\"");
	assert_string_equal(yaml("a\xc2\x85z"), "\"a\\u0085z\"");
}

static const char *cell(const char *s, size_t width, bool right, bool pad)
{
	base_buf_reset(&buf);
	assert_int_equal(run_escape_cell(&buf, s, strlen(s), width, right, pad), 0);
	return buf.data;
}

static void test_escape_cell(void **state)
{
	(void)state;
	assert_string_equal(cell("abc", 6, false, true), "abc   ");
	assert_string_equal(cell("abc", 6, true, true), "   abc");
	assert_string_equal(cell("abc", 6, false, false), "abc");
	assert_string_equal(cell("abcdef", 6, false, true), "abcdef");
	assert_string_equal(cell("abcdefg", 6, false, true), "abcde\xe2\x80\xa6");
	assert_string_equal(cell("abcdefg", 1, false, true), "\xe2\x80\xa6");
	assert_string_equal(cell("abcdefg", 0, false, true), "abcdefg");
	/* widths count code points, not bytes */
	assert_string_equal(cell("\xc3\xa9t\xc3\xa9", 4, false, true), "\xc3\xa9t\xc3\xa9 ");
	assert_string_equal(cell("\xc3\xa9t\xc3\xa9s!", 4, false, true),
			    "\xc3\xa9t\xc3\xa9\xe2\x80\xa6");
	/* nothing that moves the cursor or rings the bell */
	assert_string_equal(cell("\x1b[31mred\x07", 0, false, false), "?[31mred?");
	assert_string_equal(cell("\xc2\x9b"
				 "2J",
				 0, false, false),
			    "?2J"); /* C1 CSI */
	assert_string_equal(cell("\x7f\xff", 0, false, false), "??");
	assert_int_equal(run_escape_width("\xe2\x82\xac"
					  "x\xff",
					  5),
			 3);
	assert_int_equal(run_escape_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(run_escape_utf8_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test_agent_users_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_users(void **state)
{
	char *pw = write_tmp("root:x:0:0:root:/root:/bin/bash\n"
			     "# a comment:x:5:\n"
			     "alice:x:1000:1000::/home/alice:/bin/sh\n"
			     "broken line\n"
			     "bad:x:notanumber:1::/:/bin/sh\n"
			     "alias:x:1000:1000::/:/bin/sh\n"
			     "big:x:4294967295:1::/:/bin/sh\n"
			     "huge:x:4294967296:1::/:/bin/sh\n"
			     "last:x:7:7::/:/bin/sh");
	char *gr = write_tmp("wheel:x:10:alice\nstaff:x:50:\n");
	struct run_users *u = NULL;

	(void)state;
	assert_int_equal(run_users_new(pw, gr, &u), 0);
	assert_string_equal(run_users_user(u, 0), "root");
	/* the first of two entries with one uid wins, like getpwuid() */
	assert_string_equal(run_users_user(u, 1000), "alice");
	assert_string_equal(run_users_user(u, 4294967295u), "big");
	assert_string_equal(run_users_user(u, 7), "last");
	assert_null(run_users_user(u, 5));
	assert_null(run_users_user(u, 1));
	assert_string_equal(run_users_group(u, 10), "wheel");
	assert_string_equal(run_users_group(u, 50), "staff");
	assert_null(run_users_group(u, 0));
	/* read once: later changes to the file are not seen */
	unlink(pw);
	assert_string_equal(run_users_user(u, 0), "root");
	run_users_free(u);

	/* missing files: no names, no errors */
	assert_int_equal(run_users_new("/nonexistent/passwd", "/nonexistent/group", &u), 0);
	assert_null(run_users_user(u, 0));
	assert_null(run_users_group(u, 0));
	assert_null(run_users_free(u));
	assert_null(run_users_user(NULL, 0));
	unlink(gr);
	free(pw);
	free(gr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_signal_syscall),
		cmocka_unit_test(test_file_flags_mode),
		cmocka_unit_test(test_bytes_duration),
		cmocka_unit_test(test_log2_hist),
		cmocka_unit_test(test_ip_proto),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_escape_json),
		cmocka_unit_test(test_escape_json_positions),
		cmocka_unit_test(test_escape_yaml),
		cmocka_unit_test(test_escape_cell),
		cmocka_unit_test(test_users),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	base_buf_done(&buf);
	return r;
}
