/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line options, matched the same way by every command of every
 * program: "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE", and
 * switches as "--name", "--name=true" or "--name=false" (the spellings
 * Inspektor Gadget's users type, which come from Go's pflag).
 *
 * A command describes its options as tables of rows; a program may hand
 * several tables to one parse (the run library's table of run flags, then a
 * client's own).  Rows with the same id are aliases: the first one is the
 * name --help shows, the others are listed beside it.  Nothing here prints:
 * errors come back as -EINVAL with a one-line reason, and the program
 * reports it once.
 */
#ifndef BASE_OPT_H
#define BASE_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Longest value any option takes; longer is an error, never a truncation. */
#define BASE_OPT_MAX_VALUE (64u << 10)

enum base_opt_kind {
	BASE_OPT_SWITCH, /* no separate value; "=true"/"=false" may follow */
	BASE_OPT_VALUE,	 /* takes a value */
};

struct base_opt {
	const char *long_name; /* without the dashes */
	char short_name;       /* 0: none */
	enum base_opt_kind kind;
	int id;		      /* > 0; equal ids are aliases */
	const char *arg_name; /* for --help: "DURATION" */
	const char *help;     /* NULL on an alias row */
	unsigned int tags;    /* 0: in every table view; else see base_opt_table.tags */
};

/* A table, optionally narrowed to the rows whose tags meet these. */
struct base_opt_table {
	const struct base_opt *opts;
	size_t n;
	unsigned int tags; /* 0: every row; else rows with tags 0 or sharing a bit */
};

enum base_opt_step {
	BASE_OPT_WORD = 0, /* argv[*i] is not an option: a plain word, or "-" */
	BASE_OPT_MATCHED,  /* a row of a table; see base_opt_next() */
	BASE_OPT_UNKNOWN,  /* looks like an option ("-x", "--name[=v]") that no table has */
	BASE_OPT_END,	   /* "--": what follows is plain words */
};

/*
 * Looks at argv[*i].  On BASE_OPT_MATCHED, *ret_opt is the row (the one
 * written, which may be an alias), *ret_value its value ("true" or "false"
 * for a switch) and *i is left on the last argument used.  -EINVAL with a
 * one-line reason in err for a missing value, a value given to a switch
 * that is not a boolean, a value longer than BASE_OPT_MAX_VALUE.
 */
int base_opt_next(const struct base_opt_table *t, size_t nt, int argc, char *const *argv, int *i,
		  const struct base_opt **ret_opt, const char **ret_value, char *err,
		  size_t errlen);

/* The row with this id (the first, not an alias); NULL when none. */
const struct base_opt *base_opt_by_id(const struct base_opt_table *t, size_t nt, int id);

/*
 * "--name" or "-x" as the user should write the row with this id, for
 * messages.  Points into a static buffer of the calling thread.
 */
const char *base_opt_spelling(const struct base_opt *o);

/*
 * The help lines of the tables' rows in order, aliases beside the first
 * row of their id:
 *   "  -p, --podname, --k8s-podname POD   only the pod named POD"
 */
void base_opt_help(FILE *out, const struct base_opt_table *t, size_t nt);

/* "true", "false", "1", "0", "yes", "no"; -EINVAL for anything else. */
int base_opt_parse_bool(const char *s, bool *ret);

#endif /* BASE_OPT_H */
