// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the DNS message decoder (run/dns.c), which reads
 * packets anyone on a network can send.
 *
 * Promises checked: it returns 0, -EBADMSG or -EINVAL and nothing else;
 * -EINVAL only for fewer than 12 bytes; the name is NUL-terminated within
 * its buffer and, decoded, never longer than RFC 1035 allows; no more
 * answers or addresses than the bounds; malformed set exactly on -EBADMSG.
 * ASan sees every byte read, through an exact-size copy.
 */
#include "run/dns.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_dns_msg m;
	uint8_t *copy;
	int r;

	if (size > 1 << 16)
		return 0;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = run_dns_parse(copy, size, &m);
	if (r != 0 && r != -EBADMSG && r != -EINVAL)
		abort();
	if ((r == -EINVAL) != (size < 12))
		abort();
	if (memchr(m.name, '\0', sizeof(m.name)) == NULL)
		abort();
	if (m.n_answers > RUN_DNS_MAX_ANSWERS || m.n_addrs > RUN_DNS_MAX_ADDRS ||
	    m.n_addrs > m.n_answers)
		abort();
	if (m.malformed != (r == -EBADMSG))
		abort();
	if (m.has_question && !m.name[0])
		abort();
	free(copy);
	return 0;
}
