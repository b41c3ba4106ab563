// SPDX-License-Identifier: Apache-2.0
/*
 * Loads libcrypto on first use; see crypto.h for why and how callers use it.
 *
 * Opened RTLD_LOCAL and kept loaded for the life of the process, as a
 * linked library would be (OpenSSL registers exit handlers of its own).
 * OpenSSL 3 initializes itself on first use, thread-safely, so nothing is
 * called here beyond looking the functions up.
 */
#include "base/crypto.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* The soname the build found (see the Makefile); OpenSSL 3's is 3. */
#ifndef BASE_CRYPTO_SONAME
#define BASE_CRYPTO_SONAME "libcrypto.so.3"
#endif
/* The Debian package that ships it, for the message. */
#ifndef BASE_CRYPTO_PACKAGE
#define BASE_CRYPTO_PACKAGE "libssl3"
#endif

struct base_crypto_fns base_crypto_fns;

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_err;
static char crypto_msg[BASE_CRYPTO_ERRLEN];

static void crypto_load_once(void)
{
	void *h = dlopen(BASE_CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		const char *why = dlerror();

		base_log_debug("crypto: cannot load %s: %s", BASE_CRYPTO_SONAME, why);
		/* A file that is there but does not load is not "not found". */
		if (why && !strstr(why, "No such file"))
			snprintf(crypto_msg, sizeof(crypto_msg),
				 "%s cannot be loaded (%s): reinstall %s", BASE_CRYPTO_SONAME, why,
				 BASE_CRYPTO_PACKAGE);
		else
			snprintf(crypto_msg, sizeof(crypto_msg), "%s not found: install %s",
				 BASE_CRYPTO_SONAME, BASE_CRYPTO_PACKAGE);
		crypto_err = -ELIBACC;
		return;
	}
	/* Member types, not the names: these are macros for the table by now. */
#define CRYPTO_SYM(f)                                                                              \
	base_crypto_fns.p_##f = (__typeof__(base_crypto_fns.p_##f))dlsym(h, #f);                   \
	if (!base_crypto_fns.p_##f) {                                                              \
		snprintf(crypto_msg, sizeof(crypto_msg), "%s has no %s: install a newer %s",       \
			 BASE_CRYPTO_SONAME, #f, BASE_CRYPTO_PACKAGE);                             \
		goto fail;                                                                         \
	}
	BASE_CRYPTO_FUNCS(CRYPTO_SYM)
#undef CRYPTO_SYM
	return;
fail:
	base_log_debug("crypto: %s", crypto_msg);
	crypto_err = -ELIBBAD;
	memset(&base_crypto_fns, 0, sizeof(base_crypto_fns));
	dlclose(h);
}

int base_crypto_load(char *err, size_t len)
{
	pthread_once(&crypto_once, crypto_load_once);
	if (crypto_err < 0 && err && len)
		snprintf(err, len, "%s", crypto_msg);
	return crypto_err;
}

void base_crypto_last_error(char *buf, size_t len)
{
	unsigned long e, first = 0;
	char tmp[256];
	char *reason;

	if (!len)
		return;
	buf[0] = '\0';
	if (crypto_err < 0 || !base_crypto_fns.p_ERR_get_error)
		return;
	/* the first error queued is the root cause, the others its callers' */
	while ((e = ERR_get_error()) != 0)
		if (!first)
			first = e;
	if (!first)
		return;
	ERR_error_string_n(first, tmp, sizeof(tmp));
	/* "error:1E08010C:DECODER routines::unsupported" -> "unsupported" */
	reason = strrchr(tmp, ':');
	snprintf(buf, len, "%s", reason && reason[1] ? reason + 1 : tmp);
}
