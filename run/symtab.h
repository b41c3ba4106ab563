/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The function symbols of one ELF file, to name the addresses of a user
 * stack.
 *
 * A user stack frame is an address in some file mapped by the process
 * (/proc/PID/maps gives the file and the file offset of the mapping); the
 * table turns that file offset into the virtual address the file's symbols
 * use (through its PT_LOAD segments) and finds the function containing it,
 * from .symtab when the file has one, else from .dynsym (what a stripped
 * library keeps).  The file's GNU build id is kept too: it names the file
 * independently of where it lives ("buildid +offset" in Inspektor Gadget's
 * output).
 *
 * The file is foreign (a container image may hold anything): its size, the
 * symbols kept and their names are bounded, and libelf reads it through
 * the descriptor given, never a path.
 */
#ifndef RUN_SYMTAB_H
#define RUN_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

struct run_symtab;

/* Files larger than this are not read; symbols kept per file at most. */
#define RUN_SYMTAB_MAX_FILE    (1ull << 30)
#define RUN_SYMTAB_MAX_SYMBOLS (1u << 20)
/* Longest symbol name kept (C++ names can be long); longer ones are cut. */
#define RUN_SYMTAB_MAX_NAME 512
/* A build id is at most this many bytes (GNU ld writes 20). */
#define RUN_SYMTAB_MAX_BUILD_ID 64

/*
 * Reads the table of the ELF file open on fd (the descriptor stays the
 * caller's).  Returns 0 and a new table in *ret (free with
 * run_symtab_free()), -ENOEXEC for a file that is not ELF, -EFBIG, -ENOMEM.
 * A file without symbols gives an empty table (lookups fail), not an error.
 */
int run_symtab_load(int fd, struct run_symtab **ret);
/* The same from memory (tests, fuzzing); buf must outlive the call only. */
int run_symtab_load_mem(const void *buf, size_t len, struct run_symtab **ret);
struct run_symtab *run_symtab_free(struct run_symtab *t);

/*
 * The function holding the byte at file offset off, or NULL; borrowed
 * from the table.  A symbol without a size covers up to the next one.
 */
const char *run_symtab_lookup(const struct run_symtab *t, uint64_t off);

/* The build id in hex ("91f01b4a..."), or "" when the file has none. */
const char *run_symtab_build_id(const struct run_symtab *t);

/* Symbols kept (both tables merged), and bytes the table holds. */
size_t run_symtab_count(const struct run_symtab *t);
size_t run_symtab_bytes(const struct run_symtab *t);

#endif /* RUN_SYMTAB_H */
