// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for kubeconfig parsing (k8s/config.c).
 *
 * Kubeconfig files are user input that may come from anywhere (a
 * downloaded cluster config).  Beyond not crashing or leaking: a parse
 * either succeeds with a usable configuration (an http(s) server, a
 * namespace, PEM lengths that match) or fails with a message; the input is
 * parsed once with its own current-context and once with a fixed context
 * name.  Any broken promise aborts so that the fuzzer records it.
 */
#include "k8s/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(struct k8s_config *c)
{
	const char *pem;
	char *tok = NULL;
	size_t len;

	if (strncmp(k8s_config_server(c), "http", 4))
		abort();
	if (!k8s_config_namespace(c) || !*k8s_config_namespace(c))
		abort();
	pem = k8s_config_ca(c, &len);
	if (!pem != !len && len)
		abort();
	if (!!k8s_config_client_cert(c, &len) != !!k8s_config_client_key(c, &len))
		abort();
	/* an exec plugin would run a program the input names: never here */
	if (k8s_config_exec_command(c)) {
		if (!*k8s_config_exec_command(c))
			abort();
		return;
	}
	if (k8s_config_token(c, &tok) < 0)
		abort();
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = {NULL, "x"};
	char err[512];

	for (size_t i = 0; i < 2; i++) {
		struct k8s_config *c = NULL;
		int r;

		err[0] = '\0';
		r = k8s_config_parse(data, size, "fuzz", contexts[i], &c, err, sizeof(err));
		if (r == 0) {
			if (!c)
				abort();
			fuzz_check(c);
			k8s_config_free(c);
		} else if (c || !err[0]) {
			abort();
		}
	}
	return 0;
}
