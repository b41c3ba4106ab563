// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the cgroup memory limit reader (base/cgroup.c), against cgroup
 * trees written in a temporary directory the way the kernel lays them out:
 * v1 with and without memory.stat's hierarchical limit, v1 seen from inside
 * a container (the path of /proc/self/cgroup missing under the mount), v2
 * on a v2-only host and on a hybrid one, ancestors with smaller limits,
 * "max" and v1's "unlimited", and the files that are not there.  The last
 * test reads this machine's own cgroup.
 */
#include "base/cgroup.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/test_base_cgroup.XXXXXX";
static char root[256], self[256];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX + 64], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Each test gets a fresh tree: a new subdirectory becomes the root. */
static void fresh(const char *name)
{
	snprintf(root, sizeof(root), "%s/%s/sys", dir, name);
	snprintf(self, sizeof(self), "%s/%s/self-cgroup", dir, name);
}

static void putf(const char *name, const char *rel, const char *text)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", name, rel);
	put(p, text);
}

static void test_v1_limit(void **state)
{
	uint64_t v = 0;

	fresh("v1");
	putf("v1", "self-cgroup", "12:pids:/a\n4:cpu,memory:/kubepods/pod1/c1\n0::/\n");
	putf("v1", "sys/memory/kubepods/pod1/c1/memory.limit_in_bytes", "268435456\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), 0);
	assert_int_equal(v, 268435456);
}

static void test_v1_hierarchical_wins(void **state)
{
	uint64_t v = 0;

	fresh("v1h");
	putf("v1h", "self-cgroup", "4:memory:/a/b\n");
	putf("v1h", "sys/memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
	putf("v1h", "sys/memory/a/b/memory.stat",
	     "cache 0\nhierarchical_memory_limit 134217728\nhierarchical_memsw_limit 1\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), 0);
	assert_int_equal(v, 134217728);
}

static void test_v1_unlimited(void **state)
{
	uint64_t v = 7;

	fresh("v1u");
	putf("v1u", "self-cgroup", "4:memory:/\n");
	putf("v1u", "sys/memory/memory.limit_in_bytes", "9223372036854771712\n");
	putf("v1u", "sys/memory/memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), -ENOENT);
	assert_int_equal(v, 7);
}

/* In a container the host's path is not under the container's mount: its root is the cgroup. */
static void test_v1_container_view(void **state)
{
	uint64_t v = 0;

	fresh("v1c");
	putf("v1c", "self-cgroup", "4:memory:/kubepods/burstable/pod9/abc\n");
	putf("v1c", "sys/memory/memory.limit_in_bytes", "67108864\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), 0);
	assert_int_equal(v, 67108864);
}

static void test_v2_smallest_ancestor(void **state)
{
	uint64_t v = 0;

	fresh("v2");
	putf("v2", "self-cgroup", "0::/kubepods.slice/pod.slice/cri-x.scope\n");
	putf("v2", "sys/cgroup.controllers", "cpu memory pids\n");
	putf("v2", "sys/kubepods.slice/memory.max", "1073741824\n");
	putf("v2", "sys/kubepods.slice/pod.slice/memory.max", "201326592\n");
	putf("v2", "sys/kubepods.slice/pod.slice/cri-x.scope/memory.max", "max\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), 0);
	assert_int_equal(v, 201326592);
}

static void test_v2_max_everywhere(void **state)
{
	uint64_t v = 0;

	fresh("v2m");
	putf("v2m", "self-cgroup", "0::/user.slice/s.scope\n");
	putf("v2m", "sys/cgroup.controllers", "memory\n");
	putf("v2m", "sys/user.slice/memory.max", "max\n");
	putf("v2m", "sys/user.slice/s.scope/memory.max", "max\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), -ENOENT);
}

/* A hybrid host: the unified tree under root/unified, memory on v1 elsewhere. */
static void test_v2_hybrid_without_memory(void **state)
{
	uint64_t v = 0;

	fresh("hy");
	putf("hy", "self-cgroup", "0::/x\n");
	putf("hy", "sys/unified/x/cgroup.procs", "");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), -ENOENT);
	putf("hy", "sys/unified/x/memory.max", "33554432\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), 0);
	assert_int_equal(v, 33554432);
}

static void test_garbage(void **state)
{
	uint64_t v = 0;

	fresh("bad");
	putf("bad", "self-cgroup", "4:memory:/a\n");
	putf("bad", "sys/memory/a/memory.limit_in_bytes", "lots\n");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), -EINVAL);
	fresh("none");
	putf("none", "self-cgroup", "");
	assert_int_equal(base_cgroup_memory_limit(root, self, &v), -ENOENT);
	assert_int_equal(base_cgroup_memory_limit(root, "/nonexistent/cgroup", &v), -ENOENT);
}

/* This machine: a limit or none, never an error. */
static void test_this_machine(void **state)
{
	uint64_t v = 0;
	int r = base_cgroup_memory_limit(NULL, NULL, &v);

	assert_true(r == 0 || r == -ENOENT);
	if (r == 0)
		assert_true(v > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_limit),
		cmocka_unit_test(test_v1_hierarchical_wins),
		cmocka_unit_test(test_v1_unlimited),
		cmocka_unit_test(test_v1_container_view),
		cmocka_unit_test(test_v2_smallest_ancestor),
		cmocka_unit_test(test_v2_max_everywhere),
		cmocka_unit_test(test_v2_hybrid_without_memory),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_this_machine),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
