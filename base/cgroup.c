// SPDX-License-Identifier: Apache-2.0
/*
 * The memory limit of this process's cgroup.  See cgroup.h.
 *
 * Files of the cgroup file systems are small and read whole (base/file.h,
 * which also refuses anything but a regular file).  cgroup v1 writes "no
 * limit" as a huge page-aligned number (LONG_MAX rounded down to a page),
 * v2 as "max"; both are taken as no limit.
 */
#include "base/cgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

#define CG_MAX_FILE (64u << 10)
/* v1's "unlimited" is LONG_MAX rounded down to the page size: anything this large is none. */
#define CG_NO_LIMIT (1ull << 62)
/* Ancestors walked in v2: a path deeper than this is cut at this many levels. */
#define CG_MAX_DEPTH 64

/* The first line of a file as an unsigned number; -ENOENT for "max" or no limit. */
static int cg_read_u64(const char *path, uint64_t *ret)
{
	char *buf = NULL, *end;
	size_t len;
	uint64_t v;
	int r;

	r = base_file_read(path, CG_MAX_FILE, &buf, &len);
	if (r < 0)
		return r;
	if (!strncmp(buf, "max", 3)) {
		free(buf);
		return -ENOENT;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	r = (errno || end == buf || (*end && *end != '\n')) ? -EINVAL : 0;
	free(buf);
	if (r < 0)
		return r;
	if (v >= CG_NO_LIMIT)
		return -ENOENT;
	*ret = v;
	return 0;
}

/* v1: memory.stat's hierarchical_memory_limit, else memory.limit_in_bytes. */
static int cg_v1_dir(const char *dir, uint64_t *ret)
{
	char path[PATH_MAX], *buf = NULL, *p;
	size_t len;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/memory.stat", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	r = base_file_read(path, CG_MAX_FILE, &buf, &len);
	if (r == 0) {
		for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			uint64_t v;

			if (sscanf(p, "hierarchical_memory_limit %" SCNu64, &v) == 1) {
				free(buf);
				if (v >= CG_NO_LIMIT)
					return -ENOENT;
				*ret = v;
				return 0;
			}
		}
		free(buf);
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	return cg_read_u64(path, ret);
}

/* v2: the smallest memory.max of dir and its ancestors up to top. */
static int cg_v2_dir(const char *top, const char *rel, uint64_t *ret)
{
	char path[PATH_MAX], cur[PATH_MAX];
	bool any = false, exists = false;
	uint64_t best = UINT64_MAX;
	int depth = 0;

	if ((size_t)snprintf(cur, sizeof(cur), "%s", rel) >= sizeof(cur))
		return -ENAMETOOLONG;
	for (;;) {
		uint64_t v;
		char *slash;
		int r;

		if ((size_t)snprintf(path, sizeof(path), "%s%s/memory.max", top, cur) >=
		    sizeof(path))
			return -ENAMETOOLONG;
		r = cg_read_u64(path, &v);
		if (r == 0) {
			any = exists = true;
			if (v < best)
				best = v;
		} else if (r == -ENOENT && access(path, F_OK) == 0) {
			exists = true; /* "max" */
		}
		slash = strrchr(cur, '/');
		if (!slash || ++depth >= CG_MAX_DEPTH)
			break;
		*slash = '\0';
	}
	if (!any)
		return exists ? -ENOENT : -ENODEV;
	*ret = best;
	return 0;
}

int base_cgroup_memory_limit(const char *root, const char *proc_self_cgroup, uint64_t *ret)
{
	char *buf = NULL, *line, *save = NULL, *v1 = NULL, *v2 = NULL;
	char dir[PATH_MAX], top[PATH_MAX];
	uint64_t v = 0;
	size_t len;
	int r;

	if (!root)
		root = "/sys/fs/cgroup";
	r = base_file_read(proc_self_cgroup ? proc_self_cgroup : "/proc/self/cgroup", CG_MAX_FILE,
			   &buf, &len);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *ctl;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		ctl = c1 + 1;
		if (!strcmp(line, "0") && !*ctl) {
			v2 = c2 + 1;
			continue;
		}
		for (char *t = ctl; t && *t;) {
			char *comma = strchr(t, ',');
			size_t n = comma ? (size_t)(comma - t) : strlen(t);

			if (n == 6 && !strncmp(t, "memory", 6))
				v1 = c2 + 1;
			t = comma ? comma + 1 : NULL;
		}
	}
	r = -ENOENT;
	if (v1) {
		/* the cgroup as named, then the container's own view, where it is the root */
		if ((size_t)snprintf(dir, sizeof(dir), "%s/memory%s", root, v1) < sizeof(dir) &&
		    access(dir, F_OK) == 0)
			r = cg_v1_dir(dir, &v);
		else if ((size_t)snprintf(dir, sizeof(dir), "%s/memory", root) < sizeof(dir))
			r = cg_v1_dir(dir, &v);
	} else if (v2) {
		/* a v2-only host mounts the unified tree at root, a hybrid one at root/unified */
		snprintf(top, sizeof(top), "%s/cgroup.controllers", root);
		if (access(top, F_OK) == 0)
			snprintf(top, sizeof(top), "%s", root);
		else
			snprintf(top, sizeof(top), "%s/unified", root);
		if (!strcmp(v2, "/"))
			v2 = "";
		r = cg_v2_dir(top, v2, &v);
		if (r == -ENODEV && *v2)
			r = cg_v2_dir(top, "", &v);
		if (r == -ENODEV)
			r = -ENOENT;
	}
	free(buf);
	if (r == 0)
		*ret = v;
	return r;
}
