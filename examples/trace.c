// SPDX-License-Identifier: Apache-2.0
/*
 * trace: streams the records of a tracer gadget with libig.
 *
 *   trace [IMAGE [SECONDS [FILTER...]]]
 *   trace trace_open 10 proc.comm==cat
 *
 * Opens IMAGE (default trace_open; an image in the store, or an in-tree
 * gadget installed with the library), applies each FILTER (ig run's -F
 * grammar), runs it for SECONDS (default: until Ctrl-C) and prints one line
 * per record: a few fields read with the typed accessors, then the whole
 * record as JSON.  Build it with
 *
 *   cc trace.c $(pkg-config --cflags --libs ig) -o trace
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ig/ig.h>

static void on_log(enum ig_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "libig: %s: %s\n", level == IG_LOG_ERROR ? "error" : "warning", msg);
}

static void on_signal(int sig)
{
	/* nothing: the signal interrupts ig_gadget_next(), which returns -EINTR */
	(void)sig;
}

int main(int argc, char **argv)
{
	const char *image = argc > 1 ? argv[1] : "trace_open";
	unsigned long seconds = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	struct sigaction sa = {.sa_handler = on_signal};
	char err[1024] = "";
	struct ig_gadget_opts opts = {
		.sz = sizeof(opts),
		.errbuf = err,
		.errbuf_len = sizeof(err),
	};
	struct ig_gadget *g = NULL;
	struct ig_record *rec;
	int i, r;

	ig_set_log(on_log, IG_LOG_WARN, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	r = ig_gadget_open(image, &opts, &g);
	if (r < 0) {
		fprintf(stderr, "trace: cannot open %s: %s\n", image, err);
		return 1;
	}
	for (i = 3; i < argc; i++) {
		if (ig_gadget_add_filter(g, argv[i]) < 0) {
			fprintf(stderr, "trace: %s\n", ig_gadget_errmsg(g));
			ig_gadget_free(g);
			return 2;
		}
	}
	ig_gadget_set_timeout(g, seconds * 1000);
	if (ig_gadget_start(g) < 0) {
		fprintf(stderr, "trace: cannot start %s: %s\n", image, ig_gadget_errmsg(g));
		ig_gadget_free(g);
		return 1;
	}
	fprintf(stderr, "trace: %s (%s) is running\n", ig_gadget_name(g),
		ig_gadget_digest(g) ? ig_gadget_digest(g) : "an object file");

	for (;;) {
		const char *comm = "?", *json;
		uint64_t pid = 0;

		r = ig_gadget_next(g, -1, &rec);
		if (r == -EINTR) {
			/* Ctrl-C: what the kernel still holds comes out, then -ENODATA */
			ig_gadget_stop(g);
			continue;
		}
		if (r <= 0)
			break;
		ig_record_get_str(rec, "proc.comm", &comm, NULL);
		ig_record_get_uint(rec, "proc.pid", &pid);
		json = ig_record_json(rec, NULL);
		printf("%s %-16s %7" PRIu64 " %s\n", ig_record_ds(rec), comm, pid, json);
		fflush(stdout);
	}
	if (r < 0 && r != -ENODATA) {
		fprintf(stderr, "trace: %s\n", ig_gadget_errmsg(g));
		ig_gadget_free(g);
		return 1;
	}
	if (ig_gadget_lost(g))
		fprintf(stderr, "trace: %" PRIu64 " records lost\n", ig_gadget_lost(g));
	ig_gadget_free(g);
	return 0;
}
