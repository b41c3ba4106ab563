// SPDX-License-Identifier: Apache-2.0
/*
 * Shell completion from the option tables.  See complete.h.
 *
 * The scripts are small and ask the program for everything: what a
 * position means (a command, a gadget, a param, a flag's value) is the
 * program's knowledge, and asking it keeps the scripts from going stale.
 */
#include "base/complete.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

void base_complete_init(struct base_complete *c, const char *word)
{
	c->word = word ? word : "";
	c->out = (struct base_buf)BASE_BUF_INIT(BASE_COMPLETE_MAX_BYTES);
	c->n = 0;
	c->directive = BASE_COMPLETE_DEFAULT;
}

void base_complete_done(struct base_complete *c)
{
	base_buf_done(&c->out);
}

/* Already offered?  Lines are "candidate" or "candidate\tdesc". */
static bool offered(const struct base_complete *c, const char *cand, size_t len)
{
	const char *p = c->out.data, *end = p ? p + c->out.len : NULL;

	while (p && p < end) {
		size_t n = strcspn(p, "\t\n");

		if (n == len && !memcmp(p, cand, len))
			return true;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p)
			p++;
	}
	return false;
}

static void add_n(struct base_complete *c, const char *cand, size_t len, const char *desc)
{
	size_t wl = strlen(c->word), dl;

	if (!len || len < wl || strncmp(cand, c->word, wl) || c->n >= BASE_COMPLETE_MAX)
		return;
	/* a candidate is one line; a newline or a tab would break the protocol */
	for (size_t i = 0; i < len; i++)
		if (cand[i] == '\n' || cand[i] == '\t')
			return;
	if (offered(c, cand, len))
		return;
	if (base_buf_append(&c->out, cand, len) < 0)
		return;
	if (desc && *desc) {
		/* the first line of the help text, control characters out */
		dl = strcspn(desc, "\n");
		if (dl > 150)
			dl = 150;
		base_buf_putc(&c->out, '\t');
		for (size_t i = 0; i < dl; i++)
			base_buf_putc(&c->out, (unsigned char)desc[i] < 0x20 ? ' ' : desc[i]);
	}
	base_buf_putc(&c->out, '\n');
	c->n++;
}

void base_complete_add(struct base_complete *c, const char *candidate, const char *desc)
{
	if (candidate)
		add_n(c, candidate, strlen(candidate), desc);
}

void base_complete_add_list(struct base_complete *c, const char *list, const char *desc)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, " ,");

		add_n(c, p, n, desc);
		p += n;
		p += strspn(p, " ,");
	}
}

static bool row_in(const struct base_opt_table *t, const struct base_opt *o)
{
	return !t->tags || !o->tags || (t->tags & o->tags);
}

/* The help text of a row, or of the first row of its id (aliases have none). */
static const char *row_help(const struct base_opt_table *t, size_t nt, const struct base_opt *o)
{
	const struct base_opt *first;

	if (o->help)
		return o->help;
	first = base_opt_by_id(t, nt, o->id);
	return first ? first->help : NULL;
}

void base_complete_flags(struct base_complete *c, const struct base_opt_table *t, size_t nt)
{
	char name[128];

	for (size_t k = 0; k < nt; k++)
		for (size_t i = 0; i < t[k].n; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (!row_in(&t[k], o))
				continue;
			if (o->long_name) {
				snprintf(name, sizeof(name), "--%s", o->long_name);
				add_n(c, name, strlen(name), row_help(t, nt, o));
			}
			/* short ones only when asked for with a single dash */
			if (o->short_name && !strcmp(c->word, "-")) {
				snprintf(name, sizeof(name), "-%c", o->short_name);
				add_n(c, name, strlen(name), row_help(t, nt, o));
			}
		}
}

static const struct base_opt *find_row(const struct base_opt_table *t, size_t nt, const char *arg,
				       const char **ret_eq)
{
	*ret_eq = NULL;
	if (!arg || arg[0] != '-' || !arg[1])
		return NULL;
	for (size_t k = 0; k < nt; k++)
		for (size_t i = 0; i < t[k].n; i++) {
			const struct base_opt *o = &t[k].opts[i];

			if (!row_in(&t[k], o) || o->kind != BASE_OPT_VALUE)
				continue;
			if (arg[1] == '-' && o->long_name) {
				size_t n = strlen(o->long_name);

				if (!strncmp(arg + 2, o->long_name, n) &&
				    (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
					if (arg[2 + n] == '=')
						*ret_eq = arg + 3 + n;
					return o;
				}
			} else if (arg[1] != '-' && o->short_name == arg[1] && !arg[2]) {
				return o;
			}
		}
	return NULL;
}

const struct base_opt *base_complete_value_of(const struct base_opt_table *t, size_t nt,
					      const char *prev, const char *word,
					      const char **ret_value)
{
	const struct base_opt *o;
	const char *eq;

	o = find_row(t, nt, word, &eq);
	if (o && eq) {
		*ret_value = eq;
		return o;
	}
	o = find_row(t, nt, prev, &eq);
	if (o && !eq) {
		*ret_value = word;
		return o;
	}
	return NULL;
}

void base_complete_add_value(struct base_complete *c, const char *candidate)
{
	const char *eq = strchr(c->word, '=');
	char buf[512];

	if (c->word[0] == '-' && eq) {
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(eq + 1 - c->word), c->word, candidate);
		base_complete_add(c, buf, NULL);
		return;
	}
	base_complete_add(c, candidate, NULL);
}

int base_complete_print(const struct base_complete *c, FILE *out)
{
	if (c->out.len && fwrite(c->out.data, 1, c->out.len, out) != c->out.len)
		return -EIO;
	fprintf(out, ":%u\n", c->directive);
	return fflush(out) ? -EIO : 0;
}

/* A shell function name from the program's: "kubectl-gadget" -> "kubectl_gadget". */
static void fn_name(const char *prog, char *out, size_t size)
{
	const char *base = strrchr(prog, '/');
	size_t i;

	base = base ? base + 1 : prog;
	for (i = 0; base[i] && i + 1 < size; i++)
		out[i] = isalnum((unsigned char)base[i]) ? base[i] : '_';
	out[i] = '\0';
}

static const char bash_script[] =
	"# bash completion for @PROG@, generated by '@PROG@ completion bash'.\n"
	"#   source <(@PROG@ completion bash)      # in ~/.bashrc\n"
	"#   @PROG@ completion bash > /etc/bash_completion.d/@PROG@\n"
	"# The program itself says what each word may be: '@PROG@ __complete WORDS... WORD'\n"
	"# prints candidates, \"word<TAB>description\", and a last line \":DIRECTIVE\".\n"
	"\n"
	"# What the program offers for the words before the cursor ($1 the program)\n"
	"# and the word being completed (the last argument), as it prints it.\n"
	"__@FN@_ask() {\n"
	"\t\"$1\" __complete \"${@:2}\" 2>/dev/null\n"
	"}\n"
	"\n"
	"_@FN@_complete() {\n"
	"\tlocal cur words cword line d=0\n"
	"\tif declare -F _get_comp_words_by_ref >/dev/null 2>&1; then\n"
	"\t\t_get_comp_words_by_ref -n =: cur words cword\n"
	"\telse\n"
	"\t\tline=${COMP_LINE:0:COMP_POINT}\n"
	"\t\tread -ra words <<<\"$line\"\n"
	"\t\t[[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=(\"\")\n"
	"\t\tcword=$((${#words[@]} - 1))\n"
	"\t\tcur=${words[cword]}\n"
	"\tfi\n"
	"\tCOMPREPLY=()\n"
	"\twhile IFS= read -r line; do\n"
	"\t\tcase $line in\n"
	"\t\t:*) d=${line#:} ;;\n"
	"\t\t'') ;;\n"
	"\t\t*) COMPREPLY+=(\"${line%%$'\\t'*}\") ;;\n"
	"\t\tesac\n"
	"\tdone < <(__@FN@_ask \"${words[0]}\" \"${words[@]:1:cword-1}\" \"$cur\")\n"
	"\t# bash replaces only what follows the last '=' or ':' of the word\n"
	"\tif [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then\n"
	"\t\tCOMPREPLY=(\"${COMPREPLY[@]#\"${cur%=*}=\"}\")\n"
	"\tfi\n"
	"\tif [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then\n"
	"\t\tCOMPREPLY=(\"${COMPREPLY[@]#\"${cur%:*}:\"}\")\n"
	"\tfi\n"
	"\t((d & 2)) && compopt -o nospace 2>/dev/null\n"
	"\tif ((${#COMPREPLY[@]} == 0 && !(d & 5))); then\n"
	"\t\tcompopt -o default 2>/dev/null\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"\n"
	"complete -F _@FN@_complete @PROG@\n";

static const char zsh_script[] =
	"#compdef @PROG@\n"
	"# zsh completion for @PROG@, generated by '@PROG@ completion zsh'.\n"
	"#   source <(@PROG@ completion zsh)       # in ~/.zshrc, after compinit\n"
	"#   @PROG@ completion zsh > \"${fpath[1]}/_@PROG@\"\n"
	"# The program itself says what each word may be: '@PROG@ __complete WORDS... WORD'\n"
	"# prints candidates, \"word<TAB>description\", and a last line \":DIRECTIVE\".\n"
	"\n"
	"# What the program offers for the words before the cursor ($1 the program)\n"
	"# and the word being completed (the last argument), as it prints it.\n"
	"__@FN@_ask() {\n"
	"\t\"$1\" __complete \"${@[2,-1]}\" 2>/dev/null\n"
	"}\n"
	"\n"
	"_@FN@() {\n"
	"\tlocal -a cands disp\n"
	"\tlocal line d=0\n"
	"\tfor line in \"${(@f)$(__@FN@_ask \"${(@)words[1,CURRENT-1]}\" "
	"\"${words[CURRENT]}\")}\"; do\n"
	"\t\tcase $line in\n"
	"\t\t(:*) d=${line#:} ;;\n"
	"\t\t('') ;;\n"
	"\t\t(*)\n"
	"\t\t\tcands+=(\"${line%%$'\\t'*}\")\n"
	"\t\t\tif [[ $line == *$'\\t'* ]]; then\n"
	"\t\t\t\tdisp+=(\"${line%%$'\\t'*}  -- ${line#*$'\\t'}\")\n"
	"\t\t\telse\n"
	"\t\t\t\tdisp+=(\"$line\")\n"
	"\t\t\tfi\n"
	"\t\t\t;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif ((${#cands})); then\n"
	"\t\tif ((d & 2)); then\n"
	"\t\t\tcompadd -Q -S '' -l -d disp -a cands\n"
	"\t\telse\n"
	"\t\t\tcompadd -Q -l -d disp -a cands\n"
	"\t\tfi\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\t((d & 5)) || _files\n"
	"}\n"
	"\n"
	"if (($+functions[compdef])); then\n"
	"\tcompdef _@FN@ @PROG@\n"
	"fi\n";

/* Writes text with @PROG@ and @FN@ replaced. */
static void expand(FILE *out, const char *text, const char *prog, const char *fn)
{
	const char *p = text;

	while (*p) {
		const char *at = strchr(p, '@');

		if (!at) {
			fputs(p, out);
			break;
		}
		fwrite(p, 1, (size_t)(at - p), out);
		if (!strncmp(at, "@PROG@", 6)) {
			fputs(prog, out);
			p = at + 6;
		} else if (!strncmp(at, "@FN@", 4)) {
			fputs(fn, out);
			p = at + 4;
		} else {
			fputc('@', out);
			p = at + 1;
		}
	}
}

int base_complete_script(FILE *out, const char *shell, const char *prog)
{
	char fn[128];

	fn_name(prog, fn, sizeof(fn));
	if (!strcmp(shell, "bash"))
		expand(out, bash_script, prog, fn);
	else if (!strcmp(shell, "zsh"))
		expand(out, zsh_script, prog, fn);
	else
		return -EINVAL;
	return fflush(out) ? -EIO : 0;
}
