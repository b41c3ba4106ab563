// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the watch stream decoder (k8s/watch.c).
 *
 * A recorded stream (tests/data/k8s/watch_stream.json: events whose strings
 * hold braces, brackets, escaped quotes and backslashes, a bookmark, an
 * ERROR 410, blank lines between events) is fed split in two at every
 * possible offset, and one byte at a time: the same events must come out
 * every time, in order, each exactly once.  Then what must be refused:
 * oversized events, bytes that are not JSON objects, malformed JSON,
 * events without a type, an object or a resourceVersion; an error sticks
 * until a reset, and a partial event is what a reset throws away.
 */
#include "k8s/watch.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_EVENTS 16

struct seen {
	size_t n;
	char ev[MAX_EVENTS][128];
	int fail_at; /* 1-based event whose handler fails, 0 for none */
};

static int collect(void *userdata, enum k8s_watch_type type, json_t *obj)
{
	struct seen *s = userdata;
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));

	if (s->n >= MAX_EVENTS)
		return -ENOSPC;
	if (type == K8S_WATCH_ERROR)
		snprintf(s->ev[s->n], sizeof(s->ev[0]), "ERROR %lld",
			 (long long)json_integer_value(json_object_get(obj, "code")));
	else
		snprintf(s->ev[s->n], sizeof(s->ev[0]), "%s %s %s", k8s_watch_type_name(type),
			 name ? name : "-", rv ? rv : "-");
	s->n++;
	if (s->fail_at && (int)s->n == s->fail_at)
		return -ECANCELED;
	return 0;
}

static const char *const expected[] = {
	"ADDED web-1 101", "MODIFIED web-1 102", "BOOKMARK - 150", "DELETED web-1 151", "ERROR 410",
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static char *read_stream(size_t *len)
{
	FILE *f = fopen(TEST_DATA_DIR "/k8s/watch_stream.json", "rbe");
	char *buf;

	assert_non_null(f);
	buf = malloc(1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void check_all(const struct seen *s)
{
	assert_int_equal(s->n, N_EXPECTED);
	for (size_t i = 0; i < N_EXPECTED; i++)
		assert_string_equal(s->ev[i], expected[i]);
}

static void test_split_everywhere(void **state)
{
	size_t len;
	char *data = read_stream(&len);

	for (size_t cut = 0; cut <= len; cut++) {
		struct k8s_watch_decoder *d = NULL;
		struct seen s = {0};

		assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
		assert_int_equal(k8s_watch_decoder_feed(d, data, cut), 0);
		assert_int_equal(k8s_watch_decoder_feed(d, data + cut, len - cut), 0);
		check_all(&s);
		assert_int_equal(k8s_watch_decoder_pending(d), 0);
		k8s_watch_decoder_free(d);
	}
	free(data);
}

static void test_byte_at_a_time(void **state)
{
	struct k8s_watch_decoder *d = NULL;
	struct seen s = {0};
	size_t len;
	char *data = read_stream(&len);

	assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(k8s_watch_decoder_feed(d, data + i, 1), 0);
	check_all(&s);
	k8s_watch_decoder_free(d);
	free(data);
}

/* A cut stream: the events before the cut come out, the partial one never does. */
static void test_partial_then_reset(void **state)
{
	struct k8s_watch_decoder *d = NULL;
	struct seen s = {0};
	size_t len, first_end;
	char *data = read_stream(&len);

	first_end = strchr(data, '\n') - data + 1;
	assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
	/* the first event and half of the second */
	assert_int_equal(k8s_watch_decoder_feed(d, data, first_end + 40), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(k8s_watch_decoder_pending(d), 40);
	k8s_watch_decoder_reset(d);
	assert_int_equal(k8s_watch_decoder_pending(d), 0);
	/* a new stream replays from the second event */
	assert_int_equal(k8s_watch_decoder_feed(d, data + first_end, len - first_end), 0);
	check_all(&s);
	k8s_watch_decoder_free(d);
	free(data);
}

static void test_oversized_event(void **state)
{
	struct k8s_watch_decoder *d = NULL;
	struct seen s = {0};
	size_t len;
	char *data = read_stream(&len);

	/* the first event is ~290 bytes, the second ~190 */
	assert_int_equal(k8s_watch_decoder_new(200, collect, &s, &d), 0);
	assert_int_equal(k8s_watch_decoder_feed(d, data, len), -E2BIG);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(k8s_watch_decoder_errmsg(d), "over 200 bytes"));
	/* sticky until reset */
	assert_int_equal(k8s_watch_decoder_feed(d, "\n", 1), -E2BIG);
	k8s_watch_decoder_reset(d);
	assert_string_equal(k8s_watch_decoder_errmsg(d), "");
	{
		const char *small = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
				    "\"resourceVersion\":\"7\"}}}\n";

		assert_int_equal(k8s_watch_decoder_feed(d, small, strlen(small)), 0);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.ev[0], "ADDED a 7");
	}
	k8s_watch_decoder_free(d);
	free(data);
}

static void expect_bad(const char *input, int err, const char *msg)
{
	struct k8s_watch_decoder *d = NULL;
	struct seen s = {0};

	assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
	assert_int_equal(k8s_watch_decoder_feed(d, input, strlen(input)), err);
	assert_int_equal(s.n, 0);
	if (msg && !strstr(k8s_watch_decoder_errmsg(d), msg))
		fail_msg("\"%s\" not in \"%s\"", msg, k8s_watch_decoder_errmsg(d));
	k8s_watch_decoder_free(d);
}

static void test_garbage(void **state)
{
	expect_bad("HTTP/1.1 200 OK\r\n", -EBADMSG, "unexpected byte 0x48");
	expect_bad("[{\"type\":\"ADDED\"}]", -EBADMSG, "unexpected byte 0x5b");
	expect_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"},}}",
		   -EBADMSG, "malformed watch event");
	expect_bad("{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", -EBADMSG,
		   "malformed");
	expect_bad("{\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}", -EBADMSG,
		   "without a known type");
	expect_bad("{\"type\":\"RENAMED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
		   -EBADMSG, "without a known type");
	expect_bad("{\"type\":\"ADDED\",\"object\":[]}", -EBADMSG, "without an object");
	expect_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}", -EBADMSG,
		   "without a resourceVersion");
	expect_bad("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":5}}}",
		   -EBADMSG, "without a resourceVersion");
	/* a closing brace too many, after a good event: the good one is kept */
	{
		struct k8s_watch_decoder *d = NULL;
		struct seen s = {0};
		const char *in = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{"
				 "\"resourceVersion\":\"9\"}}}}";

		assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
		assert_int_equal(k8s_watch_decoder_feed(d, in, strlen(in)), -EBADMSG);
		assert_int_equal(s.n, 1);
		k8s_watch_decoder_free(d);
	}
}

static void test_handler_error_stops(void **state)
{
	struct k8s_watch_decoder *d = NULL;
	struct seen s = {.fail_at = 2};
	size_t len;
	char *data = read_stream(&len);

	assert_int_equal(k8s_watch_decoder_new(0, collect, &s, &d), 0);
	assert_int_equal(k8s_watch_decoder_feed(d, data, len), -ECANCELED);
	assert_int_equal(s.n, 2);
	assert_int_equal(k8s_watch_decoder_feed(d, data, len), -ECANCELED);
	assert_int_equal(s.n, 2);
	k8s_watch_decoder_free(d);
	free(data);
}

static void test_rv_cmp(void **state)
{
	assert_true(k8s_watch_rv_cmp("9", "10") < 0);
	assert_true(k8s_watch_rv_cmp("10", "9") > 0);
	assert_int_equal(k8s_watch_rv_cmp("123", "123"), 0);
	assert_true(k8s_watch_rv_cmp("18446744073709551615", "1") > 0);
	/* opaque or missing ones are never taken as old */
	assert_true(k8s_watch_rv_cmp("abc", "5") > 0);
	assert_true(k8s_watch_rv_cmp("5", "") > 0);
	assert_true(k8s_watch_rv_cmp(NULL, "5") > 0);
	assert_true(k8s_watch_rv_cmp("99999999999999999999", "5") > 0);
}

static void test_new_checks_args(void **state)
{
	struct k8s_watch_decoder *d = NULL;
	struct k8s_watch *w = NULL;
	struct k8s_watch_opts o = {0};

	assert_int_equal(k8s_watch_decoder_new(0, NULL, NULL, &d), -EINVAL);
	assert_null(d);
	assert_int_equal(k8s_watch_new(&o, &w), -EINVAL);
	assert_null(w);
	assert_null(k8s_watch_decoder_free(NULL));
	assert_null(k8s_watch_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_partial_then_reset),
		cmocka_unit_test(test_oversized_event),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_handler_error_stops),
		cmocka_unit_test(test_rv_cmp),
		cmocka_unit_test(test_new_checks_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
