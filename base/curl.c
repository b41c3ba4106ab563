// SPDX-License-Identifier: Apache-2.0
/*
 * Loads libcurl on first use; see curl.h for why and how callers use it.
 *
 * The library is opened RTLD_LOCAL, so none of its symbols (nor those of
 * the TLS library it brings) can bind to anything else in the process, and
 * it stays loaded for the life of the process, as a linked library would:
 * curl_global_cleanup() is never called, because handles may outlive any
 * one user.
 */
#include "base/curl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* The soname the build found (see the Makefile); libcurl's has been 4 since 2006. */
#ifndef BASE_CURL_SONAME
#define BASE_CURL_SONAME "libcurl.so.4"
#endif
/* The Debian package that ships it, for the message. */
#ifndef BASE_CURL_PACKAGE
#define BASE_CURL_PACKAGE "libcurl4"
#endif

struct base_curl_fns base_curl_fns;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_err;
static char curl_msg[BASE_CURL_ERRLEN];

static void curl_load_once(void)
{
	void *h = dlopen(BASE_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	CURLcode rc;

	if (!h) {
		const char *why = dlerror();

		base_log_debug("curl: cannot load %s: %s", BASE_CURL_SONAME, why);
		/* A file that is there but does not load is not "not found". */
		if (why && !strstr(why, "No such file"))
			snprintf(curl_msg, sizeof(curl_msg),
				 "%s cannot be loaded (%s): reinstall %s", BASE_CURL_SONAME, why,
				 BASE_CURL_PACKAGE);
		else
			snprintf(curl_msg, sizeof(curl_msg), "%s not found: install %s",
				 BASE_CURL_SONAME, BASE_CURL_PACKAGE);
		curl_err = -ELIBACC;
		return;
	}
	/* Member types, not the names: these are macros for the table by now. */
#define CURL_SYM(f)                                                                                \
	base_curl_fns.p_##f = (__typeof__(base_curl_fns.p_##f))dlsym(h, #f);                       \
	if (!base_curl_fns.p_##f) {                                                                \
		snprintf(curl_msg, sizeof(curl_msg), "%s has no %s: install a newer %s",           \
			 BASE_CURL_SONAME, #f, BASE_CURL_PACKAGE);                                 \
		curl_err = -ELIBBAD;                                                               \
		goto fail;                                                                         \
	}
	BASE_CURL_FUNCS(CURL_SYM)
#undef CURL_SYM
	/*
	 * Once, before any thread makes a handle: curl_easy_init() would do it
	 * implicitly, but not safely when two threads make their first handle
	 * at the same time.
	 */
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(curl_msg, sizeof(curl_msg), "libcurl failed to initialize: %s",
			 curl_easy_strerror(rc));
		base_log_debug("curl: %s", curl_msg);
		/* kept loaded: the TLS library may have registered exit handlers */
		curl_err = -ENOMEM;
	}
	return;
fail:
	base_log_debug("curl: %s", curl_msg);
	memset(&base_curl_fns, 0, sizeof(base_curl_fns));
	dlclose(h);
}

int base_curl_load(char *err, size_t len)
{
	pthread_once(&curl_once, curl_load_once);
	if (curl_err < 0 && err && len)
		snprintf(err, len, "%s", curl_msg);
	return curl_err;
}
