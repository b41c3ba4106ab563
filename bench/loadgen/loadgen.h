/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the load generators share: clocks, the CPU-time reading the harness
 * uses to separate the load's own cost from other work, argument parsing and
 * CPU pinning.
 */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

/* CPU used by this process and its reaped children: lets the harness tell
 * the load's own CPU use from other work on the same CPU. */
static inline uint64_t cpu_used_ns(void)
{
	struct rusage self, children;

	if (getrusage(RUSAGE_SELF, &self) || getrusage(RUSAGE_CHILDREN, &children))
		return 0;
	return tv_ns(&self.ru_utime) + tv_ns(&self.ru_stime) + tv_ns(&children.ru_utime) +
	       tv_ns(&children.ru_stime);
}

static inline int parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static inline int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return 0;
}

#endif /* BENCH_LOADGEN_H */
