// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the watch stream decoder (k8s/watch.c).
 *
 * Watch streams come from the network.  The input is fed twice: whole, and
 * cut at a point taken from its first byte, then cut again and fed one
 * byte at a time; the decoder must hand out the same events every way,
 * never hold more than its maximum, and keep returning an error once it
 * has failed.  Any broken promise aborts so that the fuzzer records it.
 */
#include "k8s/watch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_EVENT 4096

struct fuzz_log {
	uint64_t hash;
	size_t n;
};

static int fuzz_event(void *userdata, enum k8s_watch_type type, json_t *obj)
{
	struct fuzz_log *l = userdata;
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (!json_is_object(obj) || (type != K8S_WATCH_ERROR && !rv))
		abort();
	l->hash = l->hash * 31 + (uint64_t)type + 1;
	for (; rv && *rv; rv++)
		l->hash = l->hash * 131 + (unsigned char)*rv;
	l->n++;
	return 0;
}

static int fuzz_feed(const uint8_t *data, size_t size, size_t cut, bool bytewise,
		     struct fuzz_log *l)
{
	struct k8s_watch_decoder *d = NULL;
	int r = 0;

	if (k8s_watch_decoder_new(FUZZ_MAX_EVENT, fuzz_event, l, &d) < 0)
		abort();
	if (bytewise) {
		for (size_t i = 0; i < size && r == 0; i++)
			r = k8s_watch_decoder_feed(d, (const char *)data + i, 1);
	} else {
		r = k8s_watch_decoder_feed(d, (const char *)data, cut);
		if (r == 0)
			r = k8s_watch_decoder_feed(d, (const char *)data + cut, size - cut);
	}
	if (k8s_watch_decoder_pending(d) > FUZZ_MAX_EVENT)
		abort();
	if (r < 0 && k8s_watch_decoder_feed(d, "{}", 2) != r)
		abort();
	k8s_watch_decoder_free(d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_log a = {0}, b = {0}, c = {0};
	size_t cut = size ? data[0] % (size + 1) : 0;
	int ra, rb, rc;

	ra = fuzz_feed(data, size, size, false, &a);
	rb = fuzz_feed(data, size, cut, false, &b);
	rc = size <= 65536 ? fuzz_feed(data, size, 0, true, &c) : ra;
	if (size <= 65536 && (ra != rc || a.n != c.n || a.hash != c.hash))
		abort();
	if (ra != rb || a.n != b.n || a.hash != b.hash)
		abort();
	return 0;
}
