/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The regular expressions of -F filters ("field~regex", "field!~regex"),
 * bounded.
 *
 * Inspektor Gadget's filters use Go's regexp package (RE2 syntax), so its
 * users write "\d", "\w", "\s", non-greedy "*?" and Perl classes.  PCRE2
 * (Debian's libpcre2, with its JIT) reads that syntax the same way: ASCII
 * "\d" and "\w" (no PCRE2_UCP), UTF-8 patterns and subjects, "a{,3}" a
 * literal as in RE2.  What RE2 refuses because it would cost exponential
 * time, back-references, is refused here too; the rest of PCRE2's extras
 * (lookaround, atomic groups) are accepted but run under the same limits.
 *
 * A backtracking engine can take exponential time ("(a+)+$" against a long
 * run of a's), so every cost is bounded, whatever the pattern:
 *  - compiling: the pattern's length, its parenthesis nesting, the memory the
 *    compiler may take and the size of the compiled code;
 *  - matching: PCRE2's match limit (backtracking steps), depth limit and
 *    heap limit, and the JIT's stack.  A subject that hits a limit is
 *    counted and treated as not matching (run_regex_limit_hits()): the cost
 *    of one record is bounded, and a filter never stops a run.
 *
 * A compiled regex is immutable but holds its match data: match it from one
 * thread at a time (each pipeline has its own).
 */
#ifndef RUN_REGEX_H
#define RUN_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest pattern accepted, in bytes. */
#define RUN_REGEX_MAX_PATTERN 1024
/* Deepest nesting of parentheses. */
#define RUN_REGEX_MAX_NESTING 32
/* Memory the compiler may allocate for one pattern, and the compiled code's size. */
#define RUN_REGEX_MAX_COMPILE_BYTES (1u << 20)
#define RUN_REGEX_MAX_CODE_BYTES    (64u << 10)
/*
 * Per subject: backtracking steps (PCRE2's match limit), nested
 * backtracking points (depth limit), heap for them (KiB) and the JIT's
 * stack.  A pathological pattern costs at most a few milliseconds a record.
 */
#define RUN_REGEX_MATCH_LIMIT	  100000
#define RUN_REGEX_DEPTH_LIMIT	  2000
#define RUN_REGEX_HEAP_LIMIT_KIB  1024
#define RUN_REGEX_JIT_STACK_BYTES (256u << 10)

struct run_regex;

/*
 * Compiles pattern (len bytes; no NUL needed).  Returns 0 and a new regex in
 * *ret (free with run_regex_free()); -EINVAL with a one-line reason in err
 * ("missing closing parenthesis at offset 3", "back-references are not
 * supported"), -E2BIG over a limit (with a reason), -ENOMEM.
 */
int run_regex_new(const char *pattern, size_t len, struct run_regex **ret, char *err,
		  size_t errlen);
struct run_regex *run_regex_free(struct run_regex *re);

/*
 * 1 when the regex matches somewhere in subject (len bytes, any bytes:
 * invalid UTF-8 only never matches a multi-byte character), 0 when it does
 * not or when a limit stopped the attempt (counted), -ENOMEM.
 */
int run_regex_match(struct run_regex *re, const char *subject, size_t len);

/* How many subjects a limit stopped, since the regex was compiled. */
uint64_t run_regex_limit_hits(const struct run_regex *re);

/* True when the regex runs on PCRE2's JIT (it falls back to the interpreter). */
bool run_regex_jit(const struct run_regex *re);

#endif /* RUN_REGEX_H */
