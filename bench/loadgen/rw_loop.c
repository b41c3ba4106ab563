// SPDX-License-Identifier: Apache-2.0
/*
 * rw_loop: the read/write load generator of the benchmark.
 *
 * It pins itself to one CPU and reads (pread) or writes (pwrite) a few bytes
 * at the start of one regular file the harness created beforehand, in a
 * loop, for a fixed time or a fixed count, either as fast as it can or paced
 * to a target rate in 1 ms batches (sleeping to an absolute deadline, as
 * open_loop does).  Every call is one syscall on one file, so a gadget that
 * sums reads and writes per file in a map (top_file) sees the whole load as
 * one entry, whose counters the harness can check against the calls made.
 * It prints one line of key=value pairs, as open_loop does:
 *
 *   count=N failed=N elapsed_ns=N ns_per_call=F rate=F cpu_ns=N bytes=N
 *
 * The file is opened once, before the clock starts; pread/pwrite at offset
 * 0 keep it the same size and in the page cache, so the calls cost the same
 * from the first to the last.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define RW_LOOP_MAX_BYTES 4096
/* Reading the clock costs ~20 ns; check the deadline once per batch of calls. */
#define RW_LOOP_CLOCK_EVERY 16

struct rw_loop_opts {
	const char *file;
	bool write;
	long bytes;
	long duration_ms;
	long count;
	long rate;
	int cpu;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rw_loop -f FILE [-w] [-s BYTES] (-t MS | -c COUNT) [-r RATE] [-C CPU]\n"
		"  reads (or, with -w, writes) BYTES bytes at offset 0 of FILE in a loop\n"
		"  -s BYTES  bytes per call (default 64, at most %d)\n"
		"  -t MS     run for MS milliseconds\n"
		"  -c COUNT  stop after COUNT calls\n"
		"  -r RATE   pace to RATE calls per second (default: as fast as possible)\n"
		"  -C CPU    pin to CPU (default 0, -1: do not pin)\n",
		RW_LOOP_MAX_BYTES);
}

static int parse_args(int argc, char **argv, struct rw_loop_opts *o)
{
	long cpu = 0;
	int c;

	o->bytes = 64;
	while ((c = getopt(argc, argv, "f:ws:t:c:r:C:h")) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'w':
			o->write = true;
			break;
		case 's':
			if (parse_long(optarg, 1, RW_LOOP_MAX_BYTES, &o->bytes))
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
	if (!o->file || (!o->duration_ms && !o->count))
		return -EINVAL;
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
	struct rw_loop_opts o = {0};
	uint64_t start, end, now, cpu0, count = 0, failed = 0, bytes = 0;
	uint64_t limit, deadline, next_tick, tick_ns = 1000000;
	char buf[RW_LOOP_MAX_BYTES];
	int fd, err;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	err = pin_cpu(o.cpu);
	if (err) {
		fprintf(stderr, "rw_loop: cannot pin to CPU %d: %s\n", o.cpu, strerror(-err));
		return 1;
	}
	fd = open(o.file, (o.write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "rw_loop: %s: %s\n", o.file, strerror(errno));
		return 1;
	}
	memset(buf, 'x', sizeof(buf));

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
			ssize_t n = o.write ? pwrite(fd, buf, (size_t)o.bytes, 0)
					    : pread(fd, buf, (size_t)o.bytes, 0);

			if (n < 0)
				failed++;
			else
				bytes += (uint64_t)n;
			count++;
			if (count % RW_LOOP_CLOCK_EVERY == 0) {
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

	printf("count=%llu failed=%llu elapsed_ns=%llu ns_per_call=%.1f rate=%.0f cpu_ns=%llu "
	       "bytes=%llu\n",
	       (unsigned long long)count, (unsigned long long)failed,
	       (unsigned long long)(end - start),
	       count ? (double)(end - start) / (double)count : 0.0,
	       end > start ? (double)count * 1e9 / (double)(end - start) : 0.0,
	       (unsigned long long)(cpu_used_ns() - cpu0), (unsigned long long)bytes);
	close(fd);
	return failed == count && count ? 1 : 0;
}
