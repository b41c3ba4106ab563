// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the regex guard of -F filters (run/regex.c).
 *
 * A pattern comes from the command line, or from any cluster user through
 * the agent, and a subject from a traced process (a path, a command line):
 * whatever both hold, compiling ends in a regex or a one-line error, and a
 * match ends within the limits (libFuzzer's -timeout catches one that does
 * not) without touching memory it does not own.  The input is:
 *
 *   bytes up to the first NUL   the pattern (at most a little over the limit)
 *   the rest                    the subject, copied into an exactly-sized
 *                               buffer so that a read past it is caught
 */
#include "run/regex.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t plen = nul ? (size_t)(nul - data) : size, slen;
	struct run_regex *re = NULL;
	char err[256], *pattern, *subject;

	if (plen > RUN_REGEX_MAX_PATTERN + 8)
		return 0;
	pattern = malloc(plen ? plen : 1);
	if (!pattern)
		return 0;
	memcpy(pattern, data, plen);
	err[0] = '\0';
	if (run_regex_new(pattern, plen, &re, err, sizeof(err)) < 0) {
		/* an error is one line, and says something */
		if (!err[0] || strchr(err, '\n'))
			abort();
		free(pattern);
		return 0;
	}
	slen = nul ? size - plen - 1 : 0;
	subject = malloc(slen ? slen : 1);
	if (subject) {
		if (slen)
			memcpy(subject, nul + 1, slen);
		run_regex_match(re, subject, slen);
		free(subject);
	}
	run_regex_free(re);
	free(pattern);
	return 0;
}
