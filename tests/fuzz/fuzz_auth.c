// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what oci/auth.c reads from outside: registries'
 * WWW-Authenticate headers and the credentials file that other tools write.
 *
 * The first byte picks the parser.  A challenge must be parsed without
 * reading past its length, and an accepted one must keep its promises (a
 * known scheme, a Bearer realm, strings without control characters that
 * could split a request line).  The credentials file is read through a
 * memfd; whatever it returns must be bounded and free of NUL surprises.
 * Any broken promise aborts so that the fuzzer records the input.
 */
#include "oci/auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oci/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_value(const char *v)
{
	if (!v)
		return;
	if (strlen(v) > OCI_REGISTRY_MAX_CHALLENGE)
		abort();
	for (const char *p = v; *p; p++)
		if (*p == '\r' || *p == '\n')
			abort();
}

static void fuzz_challenge(const uint8_t *data, size_t size)
{
	struct oci_auth_challenge c;
	char *copy;
	int r;

	/* An exact-size copy lets ASan see any read past the length. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return;
	memcpy(copy, data, size);
	r = oci_auth_parse_challenge(copy, size, &c);
	if (r == 0) {
		if (c.scheme != OCI_AUTH_SCHEME_BASIC && c.scheme != OCI_AUTH_SCHEME_BEARER)
			abort();
		if (c.scheme == OCI_AUTH_SCHEME_BEARER && (!c.realm || !*c.realm))
			abort();
		fuzz_check_value(c.realm);
		fuzz_check_value(c.service);
		fuzz_check_value(c.scope);
	} else {
		if (r != -EINVAL && r != -EOPNOTSUPP && r != -EFBIG && r != -ENOMEM)
			abort();
		if (c.realm || c.service || c.scope)
			abort();
	}
	oci_auth_challenge_done(&c);
	free(copy);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
	static const char *const registries[] = {"localhost:5000", "docker.io", "a.io"};
	char path[64], err[256];
	int fd;

	fd = memfd_create("fuzz-auth", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < sizeof(registries) / sizeof(registries[0]); i++) {
		char *u = NULL, *p = NULL;
		int r = oci_auth_get(path, registries[i], &u, &p, err, sizeof(err));

		if (r == 1) {
			if (!u || !p || strlen(u) > OCI_AUTH_MAX_USER ||
			    strlen(p) > OCI_AUTH_MAX_PASSWORD || strchr(u, ':'))
				abort();
		} else if (u || p || (r != 0 && r != -EINVAL && r != -EFBIG && r != -ENOMEM)) {
			abort();
		}
		free(u);
		free(p);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > OCI_AUTH_MAX_FILE)
		return 0;
	if (data[0] & 1)
		fuzz_file(data + 1, size - 1);
	else
		fuzz_challenge(data + 1, size - 1);
	return 0;
}
