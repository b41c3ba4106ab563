// SPDX-License-Identifier: Apache-2.0
/*
 * exec_loop: the fork+exec load generator of the benchmark.
 *
 * It pins itself (and so its children) to one CPU and runs PROGRAM TOKEN-N
 * (N counting up) in a loop, waiting for each child, for a fixed time or
 * count.  PROGRAM is /bin/true by default, which ignores its arguments: they
 * only exist so that the harness can count the exec events in a tracer's
 * output.  The "-N" suffix keeps exec_loop's own exec event, whose arguments
 * hold TOKEN, out of that count.  It prints one line of key=value pairs, the
 * same as open_loop:
 *
 *   count=N failed=N elapsed_ns=N ns_per_call=F rate=F cpu_ns=N cpu_ns=N
 *
 * fork() rather than vfork()/posix_spawn() on purpose: it is what shells do,
 * and it is the workload exec tracers are usually judged against.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

/* The child's argument, TOKEN-N; the harness's tokens are ~12 bytes. */
#define EXEC_LOOP_ARG_MAX 128

struct exec_loop_opts {
	const char *program;
	const char *token;
	long duration_ms;
	long count;
	int cpu;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: exec_loop -k TOKEN (-t MS | -c COUNT) [-x PROGRAM] [-C CPU]\n"
		   "  runs PROGRAM TOKEN-N (default /bin/true) in a fork+exec+wait loop\n"
		   "  -t MS     run for MS milliseconds\n"
		   "  -c COUNT  stop after COUNT executions\n"
		   "  -C CPU    pin to CPU (default 0, -1: do not pin)\n");
}

static int parse_args(int argc, char **argv, struct exec_loop_opts *o)
{
	long cpu = 0;
	int c;

	o->program = "/bin/true";
	while ((c = getopt(argc, argv, "k:t:c:x:C:h")) != -1) {
		switch (c) {
		case 'k':
			o->token = optarg;
			break;
		case 'x':
			o->program = optarg;
			break;
		case 't':
			if (parse_long(optarg, 1, 3600 * 1000L, &o->duration_ms))
				return -EINVAL;
			break;
		case 'c':
			if (parse_long(optarg, 1, LONG_MAX, &o->count))
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
	if (!o->token || strlen(o->token) > EXEC_LOOP_ARG_MAX - 24 ||
	    (!o->duration_ms && !o->count))
		return -EINVAL;
	return 0;
}

/* Returns 0 when the child ran PROGRAM and it exited 0. */
static int run_once(const struct exec_loop_opts *o, uint64_t n)
{
	char arg[EXEC_LOOP_ARG_MAX];
	char *const argv[] = {(char *)o->program, arg, NULL};
	int status, len;
	pid_t pid;

	len = snprintf(arg, sizeof(arg), "%s-%llu", o->token, (unsigned long long)n);
	if (len < 0 || (size_t)len >= sizeof(arg))
		return -ENAMETOOLONG;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(o->program, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

int main(int argc, char **argv)
{
	struct exec_loop_opts o = {0};
	uint64_t start, end, cpu0, count = 0, failed = 0, limit, deadline;
	int err;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	err = pin_cpu(o.cpu);
	if (err) {
		fprintf(stderr, "exec_loop: cannot pin to CPU %d: %s\n", o.cpu, strerror(-err));
		return 1;
	}

	limit = o.count ? (uint64_t)o.count : UINT64_MAX;
	cpu0 = cpu_used_ns();
	start = now_ns();
	deadline = o.duration_ms ? start + (uint64_t)o.duration_ms * 1000000ull : UINT64_MAX;
	end = start;
	while (count < limit && end < deadline) {
		err = run_once(&o, count);
		if (err == -EAGAIN || err == -ENOMEM || err == -ENAMETOOLONG) {
			fprintf(stderr, "exec_loop: %s\n", strerror(-err));
			break;
		}
		if (err)
			failed++;
		count++;
		end = now_ns();
	}
	end = now_ns();

	printf("count=%llu failed=%llu elapsed_ns=%llu ns_per_call=%.1f rate=%.0f cpu_ns=%llu\n",
	       (unsigned long long)count, (unsigned long long)failed,
	       (unsigned long long)(end - start),
	       count ? (double)(end - start) / (double)count : 0.0,
	       end > start ? (double)count * 1e9 / (double)(end - start) : 0.0,
	       (unsigned long long)(cpu_used_ns() - cpu0));
	return failed == count && count ? 1 : 0;
}
