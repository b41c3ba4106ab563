// SPDX-License-Identifier: Apache-2.0
/*
 * Bounded PCRE2 regular expressions for -F filters.  See regex.h.
 *
 * Compiling goes through a general context whose allocator counts what the
 * compiler takes, so a pattern cannot make it allocate without bound
 * (PCRE2's own limits are on the pattern's length and nesting, not on its
 * memory).  Matching uses one match context per regex with PCRE2's three
 * limits set, and the JIT with a stack of its own when the JIT compiles the
 * pattern; the interpreter, which honours the same limits, otherwise.
 */
#include "run/regex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/err.h"

/* An allocator with a budget: each block carries its size in front. */
struct budget {
	size_t used;
	size_t max;
};

struct run_regex {
	/* first: the compiled code frees through it for as long as it lives */
	struct budget budget;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	bool jit;
	uint64_t limit_hits;
};

union block_head {
	size_t size;
	max_align_t align;
};

static void *budget_malloc(PCRE2_SIZE size, void *data)
{
	struct budget *b = data;
	union block_head *h;

	if (size > b->max - b->used)
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	b->used += size;
	return h + 1;
}

static void budget_free(void *p, void *data)
{
	struct budget *b = data;
	union block_head *h;

	if (!p)
		return;
	h = (union block_head *)p - 1;
	b->used -= h->size;
	free(h);
}

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int compile(struct run_regex *re, const char *pattern, size_t len, char *err, size_t errlen)
{
	pcre2_general_context *gctx;
	pcre2_compile_context *cctx = NULL;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE offset = 0;
	uint32_t backrefs = 0;
	size_t size = 0;
	int ecode = 0, r = 0;

	re->budget.max = RUN_REGEX_MAX_COMPILE_BYTES;
	gctx = pcre2_general_context_create(budget_malloc, budget_free, &re->budget);
	if (gctx)
		cctx = pcre2_compile_context_create(gctx);
	if (!cctx) {
		pcre2_general_context_free(gctx);
		return -ENOMEM;
	}
	pcre2_set_max_pattern_length(cctx, RUN_REGEX_MAX_PATTERN);
	pcre2_set_parens_nest_limit(cctx, RUN_REGEX_MAX_NESTING);
	/*
	 * UTF-8 as Go's regexp reads it, without PCRE2_UCP: "\d" and "\w" stay
	 * ASCII as in RE2.  \C (one code unit) could split a character.
	 */
	re->code = pcre2_compile((PCRE2_SPTR)pattern, len,
				 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C,
				 &ecode, &offset, cctx);
	if (!re->code) {
		if (ecode == PCRE2_ERROR_NOMEMORY || ecode == PCRE2_ERROR_HEAP_FAILED) {
			r = fail(err, errlen, -E2BIG, "too complex (over %u bytes to compile)",
				 RUN_REGEX_MAX_COMPILE_BYTES);
		} else {
			if (pcre2_get_error_message(ecode, msg, sizeof(msg)) < 0)
				snprintf((char *)msg, sizeof(msg), "error %d", ecode);
			r = fail(err, errlen,
				 ecode == PCRE2_ERROR_PATTERN_TOO_LARGE ||
						 ecode == PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP
					 ? -E2BIG
					 : -EINVAL,
				 "%s at offset %zu", (const char *)msg, (size_t)offset);
		}
		goto out;
	}
	pcre2_pattern_info(re->code, PCRE2_INFO_SIZE, &size);
	pcre2_pattern_info(re->code, PCRE2_INFO_BACKREFMAX, &backrefs);
	if (size > RUN_REGEX_MAX_CODE_BYTES) {
		r = fail(err, errlen, -E2BIG, "too complex (%zu bytes compiled, at most %u)", size,
			 RUN_REGEX_MAX_CODE_BYTES);
	} else if (backrefs) {
		/* RE2 (IG's engine) has none: they make matching exponential */
		r = fail(err, errlen, -EINVAL, "back-references are not supported");
	}
	if (r < 0) {
		pcre2_code_free(re->code);
		re->code = NULL;
	}
out:
	/* the code keeps the allocator and &re->budget, not the contexts */
	pcre2_compile_context_free(cctx);
	pcre2_general_context_free(gctx);
	return r;
}

int run_regex_new(const char *pattern, size_t len, struct run_regex **ret, char *err, size_t errlen)
{
	struct run_regex *re;
	int r;

	if (!pattern)
		return fail(err, errlen, -EINVAL, "no pattern");
	if (len > RUN_REGEX_MAX_PATTERN)
		return fail(err, errlen, -E2BIG, "longer than %d bytes", RUN_REGEX_MAX_PATTERN);
	re = calloc(1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	r = compile(re, pattern, len, err, errlen);
	if (r < 0) {
		free(re);
		return r;
	}
	/* the JIT compiler and the match data allocate through the code's allocator too */
	re->budget.max += RUN_REGEX_MAX_COMPILE_BYTES;
	re->mctx = pcre2_match_context_create(NULL);
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!re->mctx || !re->md) {
		run_regex_free(re);
		return -ENOMEM;
	}
	pcre2_set_match_limit(re->mctx, RUN_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, RUN_REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, RUN_REGEX_HEAP_LIMIT_KIB);
	/* the JIT is optional: without it (or executable memory) the interpreter runs */
	if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0) {
		re->jit_stack = pcre2_jit_stack_create(32u << 10, RUN_REGEX_JIT_STACK_BYTES, NULL);
		if (re->jit_stack) {
			pcre2_jit_stack_assign(re->mctx, NULL, re->jit_stack);
			re->jit = true;
		}
	}
	*ret = re;
	return 0;
}

struct run_regex *run_regex_free(struct run_regex *re)
{
	if (!re)
		return NULL;
	pcre2_match_data_free(re->md);
	pcre2_match_context_free(re->mctx);
	pcre2_jit_stack_free(re->jit_stack);
	pcre2_code_free(re->code);
	free(re);
	return NULL;
}

int run_regex_match(struct run_regex *re, const char *subject, size_t len)
{
	int r;

	r = pcre2_match(re->code, (PCRE2_SPTR)(subject ? subject : ""), subject ? len : 0, 0,
			re->jit ? 0 : PCRE2_NO_JIT, re->md, re->mctx);
	if (r >= 0)
		return 1;
	switch (r) {
	case PCRE2_ERROR_NOMATCH:
	case PCRE2_ERROR_PARTIAL:
		return 0;
	case PCRE2_ERROR_NOMEMORY:
		return -ENOMEM;
	default:
		/* the match, depth, heap or JIT stack limit: undecided, so no match */
		re->limit_hits++;
		return 0;
	}
}

uint64_t run_regex_limit_hits(const struct run_regex *re)
{
	return re->limit_hits;
}

bool run_regex_jit(const struct run_regex *re)
{
	return re->jit;
}
