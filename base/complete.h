/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shell completion, from the option tables the commands parse with
 * (base/opt.h): nothing is listed twice, so a flag added to a table
 * completes without anything else to do.
 *
 * The protocol is cobra's (Inspektor Gadget's and kubectl's): the shell
 * runs "PROG __complete ARGS... WORD", the arguments before the cursor and
 * the word being completed (possibly empty); the program prints one
 * candidate per line, "candidate<TAB>description" or just the candidate,
 * and last a line ":N" with a directive (BASE_COMPLETE_*: may the shell add
 * a space, complete file names when there is nothing).  kubectl's plugin
 * completion calls "kubectl_complete-PLUGIN ARGS... WORD" and reads the
 * same, so one implementation serves "kubectl gadget <TAB>" too.
 *
 * base_complete_script() writes the bash or zsh script that asks the
 * program; the program decides what each position means.
 */
#ifndef BASE_COMPLETE_H
#define BASE_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/opt.h"

/* cobra's ShellCompDirective bits */
#define BASE_COMPLETE_DEFAULT 0u	/* candidates, a space after one; files if none */
#define BASE_COMPLETE_ERROR   (1u << 0) /* nothing to offer, not even files */
#define BASE_COMPLETE_NOSPACE (1u << 1) /* the candidate is not the whole word yet */
#define BASE_COMPLETE_NOFILE  (1u << 2) /* no file names when there is nothing */

/* Most candidates printed for one word, and bytes of them. */
#define BASE_COMPLETE_MAX	4096
#define BASE_COMPLETE_MAX_BYTES (1u << 20)

struct base_complete {
	const char *word; /* being completed: candidates start with it */
	struct base_buf out;
	size_t n;
	unsigned int directive;
};

/* Starts completing word (borrowed). */
void base_complete_init(struct base_complete *c, const char *word);
void base_complete_done(struct base_complete *c);

/*
 * Offers candidate (with an optional one-line description) when it starts
 * with the word being completed and was not offered already.  Candidates
 * past the bounds are dropped.
 */
void base_complete_add(struct base_complete *c, const char *candidate, const char *desc);
/* Offers each word of a space- or comma-separated list. */
void base_complete_add_list(struct base_complete *c, const char *list, const char *desc);

/*
 * The long flags of the tables ("--name", descriptions from the help
 * text, aliases too), for a word that starts with '-'.  A switch is
 * offered as it is; a flag that takes a value with NOSPACE when the word
 * already holds "=" (so "--output=" goes on to the values).
 */
void base_complete_flags(struct base_complete *c, const struct base_opt_table *t, size_t nt);

/*
 * The row whose value is being typed: prev is "--output" or "-o" (the
 * value is the word), or the word itself is "--output=VALUE" (*ret_value
 * then points at VALUE, else at the word).  NULL when the word is not a
 * value.
 */
const struct base_opt *base_complete_value_of(const struct base_opt_table *t, size_t nt,
					      const char *prev, const char *word,
					      const char **ret_value);

/*
 * Like base_complete_add(), for a value of --name=VALUE: the candidate is
 * offered as "--name=candidate" when the word is written so.
 */
void base_complete_add_value(struct base_complete *c, const char *candidate);

/* Prints the candidates and the directive line, as the protocol wants them. */
int base_complete_print(const struct base_complete *c, FILE *out);

/*
 * The completion script of prog for shell ("bash" or "zsh"): it runs
 * "prog __complete ..." (the command the user typed, so a relative path
 * works too).  -EINVAL for another shell.
 */
int base_complete_script(FILE *out, const char *shell, const char *prog);

#endif /* BASE_COMPLETE_H */
