/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding a gadget from what the user typed: a path to an eBPF object, a
 * directory holding program.bpf.o, or the short name of a built gadget.
 */
#ifndef CLI_IG_RESOLVE_H
#define CLI_IG_RESOLVE_H

#include <stddef.h>

struct ig_gadget_files {
	char *name;	 /* short name for messages: "trace_open" */
	char *elf_path;	 /* the eBPF object */
	char *yaml_path; /* gadget.yaml beside it, or NULL when there is none */
};

/*
 * Resolves spec.  Short names are looked up in $IG_GADGETS, then in
 * ../gadgets relative to the ig binary (the build tree), then in
 * /usr/local/lib/ig/gadgets and /usr/lib/ig/gadgets.  -ENOENT with a reason
 * in err when nothing matches.
 */
int ig_resolve_gadget(const char *spec, struct ig_gadget_files *ret, char *err, size_t errlen);
void ig_gadget_files_done(struct ig_gadget_files *f);

#endif /* CLI_IG_RESOLVE_H */
