// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what a credential plugin prints (k8s/exec.c).
 *
 * The plugin is a program someone else wrote and its stdout is read as an
 * ExecCredential: whatever it prints ends in credentials or a one-line
 * reason, never in a crash, a leak or a token that could split an HTTP
 * header.  The first byte picks the apiVersion expected; the rest is the
 * output.  The RFC 3339 reader of expirationTimestamp gets the same bytes.
 */
#include "k8s/exec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_exec_credential c = {0};
	const char *av;
	char err[512], *text;
	int64_t t;

	if (!size)
		return 0;
	av = data[0] & 1 ? K8S_EXEC_API_V1 : K8S_EXEC_API_V1BETA1;
	err[0] = '\0';
	if (k8s_exec_parse((const char *)data + 1, size - 1, av, &c, err, sizeof(err)) == 0) {
		if (!c.token && !c.cert)
			abort();
		if (!c.cert != !c.key)
			abort();
		if (c.token && (!*c.token || strpbrk(c.token, "\r\n")))
			abort();
		k8s_exec_credential_done(&c);
	} else if (!err[0] || strchr(err, '\n')) {
		abort();
	}
	text = malloc(size);
	if (text) {
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		k8s_exec_parse_time(text, &t);
		free(text);
	}
	return 0;
}
