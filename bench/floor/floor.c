// SPDX-License-Identifier: Apache-2.0
/*
 * Consumer of the streaming floor (floor.bpf.c): loads it, prints "ready"
 * once the tracepoint is attached, then drains the ring every 10 ms without
 * ever being woken, counting records.  On SIGINT or SIGTERM it drains once
 * more and prints "records: N" and "lost: M" (records that found the ring
 * full), which bench/run.py reads.
 *
 *   floor [OBJECT]     OBJECT defaults to floor.bpf.o beside this program
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define FLOOR_POLL_NS (10 * 1000 * 1000)

static volatile sig_atomic_t stop;
static unsigned long long n_records;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	n_records++;
	return 0;
}

static int default_object(char *path, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", path, size - 1);
	char *slash;

	if (n < 0)
		return -errno;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) + sizeof("/floor.bpf.o") > size)
		return -ENAMETOOLONG;
	memcpy(slash, "/floor.bpf.o", sizeof("/floor.bpf.o"));
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec tick = {.tv_nsec = FLOOR_POLL_NS};
	struct sigaction sa = {.sa_handler = on_signal};
	char path[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	struct ring_buffer *rb = NULL;
	struct bpf_map *bss;
	unsigned long long lost = 0;
	int err, zero = 0;

	if (argc > 2) {
		fprintf(stderr, "usage: floor [OBJECT]\n");
		return 2;
	}
	if (argc == 2) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else if ((err = default_object(path, sizeof(path))) < 0) {
		fprintf(stderr, "floor: cannot find floor.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "floor: load %s: %s\n", path, strerror(-err));
		goto out;
	}
	prog = bpf_object__find_program_by_name(obj, "floor_openat");
	link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		err = -errno;
		fprintf(stderr, "floor: attach: %s\n", strerror(errno));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "records")), on_record,
			      NULL, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "floor: ring buffer: %s\n", strerror(errno));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		ring_buffer__consume(rb);
		nanosleep(&tick, NULL);
	}
	ring_buffer__consume(rb);
	bss = bpf_object__find_map_by_name(obj, ".bss");
	if (bss)
		bpf_map_lookup_elem(bpf_map__fd(bss), &zero, &lost);
	printf("records: %llu\nlost: %llu\n", n_records, lost);
	err = 0;
out:
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return err ? 1 : 0;
}
