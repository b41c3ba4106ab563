// SPDX-License-Identifier: Apache-2.0
/*
 * open_loop: the openat+close load generator of the benchmark.
 *
 * It pins itself to one CPU and opens, then closes, files that the harness
 * created beforehand in a directory of its own (DIR/PREFIX00000 ...), cycling
 * through them, so every traced path carries a token the harness can count
 * in a tracer's output.  It runs for a fixed time or a fixed count, either as
 * fast as it can or paced to a target rate in 1 ms batches (sleeping to an
 * absolute deadline, so a slow batch is caught up by the next ones rather than
 * lowering the rate).  It prints one line of key=value pairs:
 *
 *   count=N failed=N elapsed_ns=N ns_per_call=F rate=F cpu_ns=N
 *
 * Files are opened with O_RDONLY and must exist: a failing openat takes a
 * shorter kernel path and would flatter every tracer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define OPEN_LOOP_MAX_FILES 100000
#define OPEN_LOOP_PATH_MAX  256
/* Reading the clock costs ~20 ns; check the deadline once per batch of calls. */
#define OPEN_LOOP_CLOCK_EVERY 16

struct open_loop_opts {
	const char *dir;
	const char *prefix;
	long files;
	long duration_ms;
	long count;
	long rate;
	int cpu;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: open_loop -d DIR -p PREFIX -n FILES (-t MS | -c COUNT) [-r RATE] [-C CPU]\n"
		"  opens and closes DIR/PREFIX%%05d for i in [0, FILES) in a loop\n"
		"  -t MS     run for MS milliseconds\n"
		"  -c COUNT  stop after COUNT calls\n"
		"  -r RATE   pace to RATE calls per second (default: as fast as possible)\n"
		"  -C CPU    pin to CPU (default 0, -1: do not pin)\n");
}

static int parse_args(int argc, char **argv, struct open_loop_opts *o)
{
	long cpu = 0;
	int c;

	while ((c = getopt(argc, argv, "d:p:n:t:c:r:C:h")) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'p':
			o->prefix = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 1, OPEN_LOOP_MAX_FILES, &o->files))
				return -EINVAL;
			break;
		case 't':
			if (parse_long(optarg, 1, 3600 * 1000L, &o->duration_ms))
				return -EINVAL;
			break;
		case 'c':
			if (parse_long(optarg, 1, LONG_MAX, &o->count))
				return -EINVAL;
			break;
		case 'r':
			if (parse_long(optarg, 0, 100000000L, &o->rate))
				return -EINVAL;
			break;
		case 'C':
			if (parse_long(optarg, -1, CPU_SETSIZE - 1, &cpu))
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	o->cpu = (int)cpu;
	if (!o->dir || !o->prefix || !o->files || (!o->duration_ms && !o->count))
		return -EINVAL;
	return 0;
}

/* Builds the path table once so that formatting stays out of the timed loop. */
static char *build_paths(const struct open_loop_opts *o)
{
	char *paths;
	long i;

	paths = calloc((size_t)o->files, OPEN_LOOP_PATH_MAX);
	if (!paths)
		return NULL;
	for (i = 0; i < o->files; i++) {
		int n = snprintf(paths + i * OPEN_LOOP_PATH_MAX, OPEN_LOOP_PATH_MAX, "%s/%s%05ld",
				 o->dir, o->prefix, i);

		if (n < 0 || n >= OPEN_LOOP_PATH_MAX) {
			free(paths);
			return NULL;
		}
	}
	return paths;
}

static int open_close(const char *path)
{
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / 1000000000ull),
		.tv_nsec = (long)(deadline_ns % 1000000000ull),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct open_loop_opts o = {0};
	uint64_t start, end, now, cpu0, count = 0, failed = 0;
	uint64_t limit, deadline, next_tick, tick_ns = 1000000;
	long idx = 0;
	char *paths;
	int err;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	err = pin_cpu(o.cpu);
	if (err) {
		fprintf(stderr, "open_loop: cannot pin to CPU %d: %s\n", o.cpu, strerror(-err));
		return 1;
	}
	paths = build_paths(&o);
	if (!paths) {
		fprintf(stderr, "open_loop: path too long or out of memory\n");
		return 1;
	}

	limit = o.count ? (uint64_t)o.count : UINT64_MAX;
	cpu0 = cpu_used_ns();
	start = now_ns();
	deadline = o.duration_ms ? start + (uint64_t)o.duration_ms * 1000000ull : UINT64_MAX;
	now = start;
	next_tick = start;

	while (count < limit && now < deadline) {
		/* Calls owed so far at the target rate; unpaced runs owe "all". */
		uint64_t owed = limit;

		if (o.rate) {
			owed = (now - start) / 1000 * (uint64_t)o.rate / 1000000ull + 1;
			if (owed > limit)
				owed = limit;
		}
		while (count < owed) {
			if (open_close(paths + idx * OPEN_LOOP_PATH_MAX))
				failed++;
			count++;
			if (++idx == o.files)
				idx = 0;
			if (count % OPEN_LOOP_CLOCK_EVERY == 0) {
				now = now_ns();
				if (now >= deadline)
					break;
			}
		}
		now = now_ns();
		if (o.rate && count < limit && now < deadline) {
			next_tick += tick_ns;
			if (next_tick > now)
				sleep_until(next_tick < deadline ? next_tick : deadline);
			else
				next_tick = now;
			now = now_ns();
		}
	}
	end = now_ns();

	printf("count=%llu failed=%llu elapsed_ns=%llu ns_per_call=%.1f rate=%.0f cpu_ns=%llu\n",
	       (unsigned long long)count, (unsigned long long)failed,
	       (unsigned long long)(end - start),
	       count ? (double)(end - start) / (double)count : 0.0,
	       end > start ? (double)count * 1e9 / (double)(end - start) : 0.0,
	       (unsigned long long)(cpu_used_ns() - cpu0));
	free(paths);
	return failed == count && count ? 1 : 0;
}
