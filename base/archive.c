// SPDX-License-Identifier: Apache-2.0
/*
 * Loads libarchive on first use; see archive.h for why and how callers use
 * it.  Opened RTLD_LOCAL and kept loaded for the life of the process, as a
 * linked library would be.
 */
#include "base/archive.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* The soname the build found (see the Makefile); this one is libarchive 3's. */
#ifndef BASE_ARCHIVE_SONAME
#define BASE_ARCHIVE_SONAME "libarchive.so.13"
#endif
/* The Debian package that ships it, for the message. */
#ifndef BASE_ARCHIVE_PACKAGE
#define BASE_ARCHIVE_PACKAGE "libarchive13"
#endif

struct base_archive_fns base_archive_fns;

static pthread_once_t archive_once = PTHREAD_ONCE_INIT;
static int archive_err;
static char archive_msg[BASE_ARCHIVE_ERRLEN];

static void archive_load_once(void)
{
	void *h = dlopen(BASE_ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		const char *why = dlerror();

		base_log_debug("archive: cannot load %s: %s", BASE_ARCHIVE_SONAME, why);
		/* A file that is there but does not load is not "not found". */
		if (why && !strstr(why, "No such file"))
			snprintf(archive_msg, sizeof(archive_msg),
				 "%s cannot be loaded (%s): reinstall %s", BASE_ARCHIVE_SONAME, why,
				 BASE_ARCHIVE_PACKAGE);
		else
			snprintf(archive_msg, sizeof(archive_msg), "%s not found: install %s",
				 BASE_ARCHIVE_SONAME, BASE_ARCHIVE_PACKAGE);
		archive_err = -ELIBACC;
		return;
	}
	/* Member types, not the names: these are macros for the table by now. */
#define ARCHIVE_SYM(f)                                                                             \
	base_archive_fns.p_##f = (__typeof__(base_archive_fns.p_##f))dlsym(h, #f);                 \
	if (!base_archive_fns.p_##f) {                                                             \
		snprintf(archive_msg, sizeof(archive_msg), "%s has no %s: install a newer %s",     \
			 BASE_ARCHIVE_SONAME, #f, BASE_ARCHIVE_PACKAGE);                           \
		goto fail;                                                                         \
	}
	BASE_ARCHIVE_FUNCS(ARCHIVE_SYM)
#undef ARCHIVE_SYM
	return;
fail:
	base_log_debug("archive: %s", archive_msg);
	archive_err = -ELIBBAD;
	memset(&base_archive_fns, 0, sizeof(base_archive_fns));
	dlclose(h);
}

int base_archive_load(char *err, size_t len)
{
	pthread_once(&archive_once, archive_load_once);
	if (archive_err < 0 && err && len)
		snprintf(err, len, "%s", archive_msg);
	return archive_err;
}
