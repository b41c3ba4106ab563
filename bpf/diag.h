/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What libbpf said, kept for error messages.
 *
 * libbpf reports the reason for most failures only through its print
 * callback ("prog 'x': BPF program load failed: ...").  We install one
 * callback for the process that sends everything to the debug log sink, and
 * while a gadget operation runs on a thread it also records the last warning
 * and the first program or map libbpf complained about, so the runtime can
 * turn them into one line for the user.  The verifier's own log is read
 * from the buffer the runtime gives libbpf, with bpf_diag_verifier_line().
 *
 * A program that wants libbpf's output raises the base_log level to debug;
 * installing another libbpf print callback would take the reasons away from
 * the runtime's error messages.
 */
#ifndef BPF_DIAG_H
#define BPF_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#define BPF_DIAG_MAX_LINE 256
#define BPF_DIAG_MAX_NAME 64

struct bpf_diag {
	char first_warn[BPF_DIAG_MAX_LINE];  /* first line of the first warning */
	char last_warn[BPF_DIAG_MAX_LINE];   /* first line of the last warning */
	char prog[BPF_DIAG_MAX_NAME];	     /* first program named in a warning */
	char prog_reason[BPF_DIAG_MAX_LINE]; /* what was said about it */
	char map[BPF_DIAG_MAX_NAME];	     /* first map named in a warning */
	char map_reason[BPF_DIAG_MAX_LINE];
	char verifier[BPF_DIAG_MAX_LINE]; /* the verifier's error line, if a log was printed */
};

/* Installs the libbpf print callback (once per process; thread safe). */
void bpf_diag_init(void);
/*
 * libbpf's warnings at the log's warn level instead of debug (a library
 * whose user asked for them); captured the same either way.
 */
void bpf_diag_warnings_to_log(bool on);

/*
 * Starts recording this thread's libbpf warnings into d (cleared first);
 * NULL stops.  Calls do not nest.
 */
void bpf_diag_capture(struct bpf_diag *d);

/*
 * The line of a verifier log that says why it rejected the program: the last
 * line that is not an instruction dump, register state or statistics.
 * Writes "" when there is none.  Exposed for tests.
 */
void bpf_diag_verifier_line(const char *log, char *buf, size_t len);

#endif /* BPF_DIAG_H */
