// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the libcurl loader (base/curl.c).
 *
 * The test binary does not link libcurl: every call below goes through the
 * table base_curl_load() fills, so these tests show that the library loads,
 * that the varargs calls pass their arguments through, and that a whole
 * transfer with a write callback works as it would against a linked
 * libcurl.  The transfer reads a file of the test data over file://, which
 * keeps it free of any server.
 */
#include "base/curl.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define LOAD_THREADS 4

static void *load_thread(void *arg)
{
	int *ret = arg;

	*ret = base_curl_load(NULL, 0);
	return NULL;
}

/* First, so that the threads race for the first load. */
static void test_load_threads(void **state)
{
	pthread_t th[LOAD_THREADS];
	int ret[LOAD_THREADS];

	for (int i = 0; i < LOAD_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, load_thread, &ret[i]), 0);
	for (int i = 0; i < LOAD_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(ret[i], 0);
	}
}

static void test_load_again(void **state)
{
	char err[BASE_CURL_ERRLEN] = "untouched";

	assert_int_equal(base_curl_load(err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
	assert_int_equal(base_curl_load(NULL, 0), 0);
}

static void test_version(void **state)
{
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);

	assert_non_null(vi);
	assert_non_null(vi->version);
	/* the library loaded is the one whose headers the build used */
	assert_int_equal(vi->version_num >> 16, LIBCURL_VERSION_MAJOR);
	assert_true(vi->features & CURL_VERSION_SSL);
}

static void test_url(void **state)
{
	CURLU *u = curl_url();
	char *s = NULL;

	assert_non_null(u);
	assert_int_equal(curl_url_set(u, CURLUPART_URL, "https://reg.example:5000/v2/", 0),
			 CURLUE_OK);
	assert_int_equal(curl_url_set(u, CURLUPART_URL, "../x?y=1", 0), CURLUE_OK);
	assert_int_equal(curl_url_get(u, CURLUPART_URL, &s, 0), CURLUE_OK);
	assert_string_equal(s, "https://reg.example:5000/x?y=1");
	curl_free(s);
	assert_int_equal(curl_url_get(u, CURLUPART_PORT, &s, 0), CURLUE_OK);
	assert_string_equal(s, "5000");
	curl_free(s);
	assert_int_not_equal(curl_url_set(u, CURLUPART_URL, "https://[::1", 0), CURLUE_OK);
	curl_url_cleanup(u);

	s = curl_easy_escape(NULL, "a b/c", 0);
	assert_string_equal(s, "a%20b%2Fc");
	curl_free(s);
}

struct sink {
	char buf[256];
	size_t len;
};

static size_t sink_write(char *p, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;

	if (s->len + size * n >= sizeof(s->buf))
		return 0;
	memcpy(s->buf + s->len, p, size * n);
	s->len += size * n;
	s->buf[s->len] = '\0';
	return size * n;
}

static void test_transfer(void **state)
{
	struct sink sink = {0};
	CURL *h = curl_easy_init();
	char path[256], url[sizeof(path) + 16];
	FILE *f;
	long code = -1;

	assert_non_null(h);
	snprintf(path, sizeof(path), "%s/curl-%d.txt", P_tmpdir, (int)getpid());
	snprintf(url, sizeof(url), "file://%s", path);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("through the table\n", f);
	fclose(f);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink), CURLE_OK);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(sink.buf, "through the table\n");
	assert_int_equal(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
	assert_int_equal(code, 0);

	/* a missing file: the error comes back through the table too */
	unlink(path);
	sink.len = 0;
	curl_easy_reset(h);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink), CURLE_OK);
	assert_int_equal(curl_easy_perform(h), CURLE_FILE_COULDNT_READ_FILE);
	assert_int_equal(sink.len, 0);
	assert_non_null(strstr(curl_easy_strerror(CURLE_FILE_COULDNT_READ_FILE), "file"));
	curl_easy_cleanup(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_threads), cmocka_unit_test(test_load_again),
		cmocka_unit_test(test_version),	     cmocka_unit_test(test_url),
		cmocka_unit_test(test_transfer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
