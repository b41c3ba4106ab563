// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the cgroup memory limit reader (base/cgroup.c),
 * which sizes the agent's memory budgets from files of the cgroup file
 * systems and /proc/self/cgroup.  In a container those come from whatever
 * the runtime mounted, so the reader must take any bytes.
 *
 * The input is split at NUL bytes into the text of /proc/self/cgroup, then
 * of memory.limit_in_bytes and memory.stat (v1) and memory.max (v2),
 * written into a temporary tree at the paths the first text names.  The
 * reader must answer 0 with a limit below v1's "unlimited", or -ENOENT,
 * -EINVAL, -ENAMETOOLONG or another -errno of reading: never crash, never
 * claim a limit of 0 from an empty file.
 */
#include "base/cgroup.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void put(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	fwrite(text, 1, len, f);
	fclose(f);
}

/* mkdir -p of dir, which is under root; gives up quietly on names the tree cannot hold */
static void mkdirs(char *dir)
{
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	mkdir(dir, 0755);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[4] = {"", "", "", ""};
	size_t lens[4] = {0}, n = 0, i, start = 0;
	char *buf, self[128], path[PATH_MAX], dir[PATH_MAX];
	uint64_t v = 0;
	int r;

	if (size > 8192)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && n < 4; i++)
		if (i == size || buf[i] == '\0') {
			parts[n] = buf + start;
			lens[n++] = i - start;
			start = i + 1;
		}
	snprintf(root, sizeof(root), "/tmp/fuzz_cgroup.XXXXXX");
	if (!mkdtemp(root)) {
		free(buf);
		return 0;
	}
	snprintf(self, sizeof(self), "%s/self", root);
	put(self, parts[0], lens[0]);
	/* the memory files where a v1 and a v2 hierarchy would have them for each line's path */
	for (const char *line = parts[0]; line && *line;) {
		const char *nl = strchr(line, '\n'), *c2;
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		char l[512];

		snprintf(l, sizeof(l), "%.*s", (int)(ll < sizeof(l) - 1 ? ll : sizeof(l) - 1),
			 line);
		c2 = strchr(l, ':') ? strchr(strchr(l, ':') + 1, ':') : NULL;
		if (c2 && !strstr(c2 + 1, "..") && strlen(c2 + 1) < 200) {
			snprintf(dir, sizeof(dir), "%s/memory%s", root, c2 + 1);
			mkdirs(dir);
			snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
			put(path, parts[1], lens[1]);
			snprintf(path, sizeof(path), "%s/memory.stat", dir);
			put(path, parts[2], lens[2]);
			snprintf(dir, sizeof(dir), "%s/unified%s", root, c2 + 1);
			mkdirs(dir);
			snprintf(path, sizeof(path), "%s/memory.max", dir);
			put(path, parts[3], lens[3]);
		}
		line = nl ? nl + 1 : NULL;
	}
	r = base_cgroup_memory_limit(root, self, &v);
	if (r > 0 || (r == 0 && v >= (1ull << 62)))
		abort();
	if (r == 0 && !v && !lens[1] && !lens[2] && !lens[3])
		abort();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(buf);
	return 0;
}
