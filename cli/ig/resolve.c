// SPDX-License-Identifier: Apache-2.0
/*
 * Gadget lookup for ig run.  See resolve.h.
 */
#include "cli/ig/resolve.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Fills f from a directory holding program.bpf.o and, optionally, gadget.yaml. */
static int from_dir(const char *dir, const char *name, struct ig_gadget_files *f)
{
	char *elf = path_join(dir, "program.bpf.o");
	char *yaml = path_join(dir, "gadget.yaml");

	if (!elf || !yaml || !is_file(elf)) {
		free(elf);
		free(yaml);
		return -ENOENT;
	}
	if (!is_file(yaml)) {
		free(yaml);
		yaml = NULL;
	}
	f->name = strdup(name);
	f->elf_path = elf;
	f->yaml_path = yaml;
	return f->name ? 0 : -ENOMEM;
}

/* An object file given by path: gadget.yaml is looked for beside it. */
static int from_file(const char *path, struct ig_gadget_files *f)
{
	char *dir = dir_of(path);
	const char *base = strrchr(path, '/');
	char *yaml;

	if (!dir)
		return -ENOMEM;
	yaml = path_join(dir, "gadget.yaml");
	free(dir);
	if (yaml && !is_file(yaml)) {
		free(yaml);
		yaml = NULL;
	}
	f->name = strdup(base ? base + 1 : path);
	f->elf_path = strdup(path);
	f->yaml_path = yaml;
	if (!f->name || !f->elf_path)
		return -ENOMEM;
	return 0;
}

static char *exe_gadget_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *bindir, *p;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	bindir = dir_of(exe);
	if (!bindir)
		return NULL;
	if (asprintf(&p, "%s/../gadgets", bindir) < 0)
		p = NULL;
	free(bindir);
	return p;
}

int ig_resolve_gadget(const char *spec, struct ig_gadget_files *ret, char *err, size_t errlen)
{
	struct ig_gadget_files f = {0};
	char *dirs[4] = {0};
	const char *env = getenv("IG_GADGETS");
	size_t i, n = 0;
	int r = -ENOENT;

	if (strchr(spec, '/') || is_file(spec)) {
		if (is_dir(spec)) {
			r = from_dir(spec, spec, &f);
			if (r == -ENOENT)
				snprintf(err, errlen, "%s: no program.bpf.o in this directory",
					 spec);
		} else if (is_file(spec)) {
			r = from_file(spec, &f);
		} else {
			snprintf(err, errlen, "%s: %s", spec, strerror(errno));
			return -errno;
		}
		if (r < 0) {
			ig_gadget_files_done(&f);
			return r;
		}
		*ret = f;
		return 0;
	}

	if (env && *env)
		dirs[n++] = strdup(env);
	dirs[n] = exe_gadget_dir();
	if (dirs[n])
		n++;
	dirs[n++] = strdup("/usr/local/lib/ig/gadgets");
	dirs[n++] = strdup("/usr/lib/ig/gadgets");
	for (i = 0; i < n && r == -ENOENT; i++) {
		char *d;

		if (!dirs[i])
			continue;
		d = path_join(dirs[i], spec);
		if (d && is_dir(d))
			r = from_dir(d, spec, &f);
		free(d);
	}
	for (i = 0; i < n; i++)
		free(dirs[i]);
	if (r == -ENOENT)
		snprintf(err, errlen,
			 "gadget '%s' not found: not a file, and no built gadget of that name "
			 "(looked in $IG_GADGETS, the build tree and /usr/lib/ig/gadgets)",
			 spec);
	if (r < 0) {
		ig_gadget_files_done(&f);
		return r;
	}
	*ret = f;
	return 0;
}

void ig_gadget_files_done(struct ig_gadget_files *f)
{
	free(f->name);
	free(f->elf_path);
	free(f->yaml_path);
	f->name = f->elf_path = f->yaml_path = NULL;
}
