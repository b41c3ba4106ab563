// SPDX-License-Identifier: Apache-2.0
/*
 * ig completion bash|zsh, and ig __complete, which the scripts call: the
 * commands, their flags from the tables they parse with, the gadgets ig
 * run would find and, once a gadget is named, its params (base/complete.h
 * has the protocol).
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/complete.h"

static const struct base_opt global_opts[] = {
	{"verbose", 'v', BASE_OPT_SWITCH, 1, NULL, "debug messages on stderr", 0},
	{"help", 'h', BASE_OPT_SWITCH, 2, NULL, "the help", 0},
	{"version", 0, BASE_OPT_SWITCH, 3, NULL, "the version", 0},
};

int ig_cmd_completion(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: ig completion bash|zsh\n\n"
		       "Prints the shell's completion script for ig: commands, flags, the gadgets\n"
		       "'ig run' would find (local and in-tree stores, built gadgets) and a "
		       "gadget's\n"
		       "params.\n\n"
		       "  source <(ig completion bash)      # bash, e.g. in ~/.bashrc\n"
		       "  source <(ig completion zsh)       # zsh, after compinit\n");
		return IG_EXIT_OK;
	}
	if (argc != 2 || base_complete_script(stdout, argv[1], "ig") < 0) {
		ig_error("usage: ig completion bash|zsh");
		return IG_EXIT_USAGE;
	}
	return IG_EXIT_OK;
}

/* argv: "__complete", the words before the cursor, the word being completed. */
int ig_cmd_complete(int argc, char **argv)
{
	struct base_opt_table gt = {.opts = global_opts, .n = 3};
	struct base_complete c;
	const char *word = argc > 1 ? argv[argc - 1] : "";
	const char *prev = argc > 2 ? argv[argc - 2] : "";
	const struct ig_cmd *cmds;
	size_t n_cmds, i;
	int first = 1;

	base_complete_init(&c, word);
	cmds = ig_commands(&n_cmds);
	/* the global flags come before the command */
	while (first < argc - 1 && argv[first][0] == '-')
		first++;
	if (first >= argc - 1) {
		if (word[0] == '-') {
			base_complete_flags(&c, &gt, 1);
		} else {
			for (i = 0; i < n_cmds; i++)
				base_complete_add(&c, cmds[i].name, cmds[i].summary);
			base_complete_add(&c, "help", "the help of a command");
		}
		c.directive = BASE_COMPLETE_NOFILE;
	} else if (!strcmp(argv[first], "run")) {
		/* the command's own words: "run ... WORD" without the word */
		ig_run_complete(&c, argc - 1 - first, argv + first, prev);
	} else if (!strcmp(argv[first], "help")) {
		if (first == argc - 2)
			for (i = 0; i < n_cmds; i++)
				base_complete_add(&c, cmds[i].name, cmds[i].summary);
		c.directive = BASE_COMPLETE_NOFILE;
	} else if (!strcmp(argv[first], "completion")) {
		if (first == argc - 2) {
			base_complete_add(&c, "bash", NULL);
			base_complete_add(&c, "zsh", NULL);
		}
		c.directive = BASE_COMPLETE_NOFILE;
	} else if (!strcmp(argv[first], "image")) {
		ig_image_complete(&c, argc - 1 - first, argv + first);
	} else if (word[0] == '-') {
		base_complete_add(&c, "--help", "the command's help");
		c.directive = BASE_COMPLETE_NOFILE;
	}
	base_complete_print(&c, stdout);
	base_complete_done(&c);
	return IG_EXIT_OK;
}
