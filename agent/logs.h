/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An instance's records as JSON lines, for the node's log pipeline: on the
 * agent's standard output (read by the node's log collector like any
 * container's) or in a file of their own with size-based rotation, as
 * Inspektor Gadget's logs operator writes them.  One line per record:
 *
 *   {"type":"gadget-data","seq":12,"gadget":"trace_exec","datasource":"exec",
 *    "node":"node-1","instance":"audit","instanceID":"3f2a...",
 *    "timestamp":"2026-12-07T10:00:00.123456789Z","data":{...the record...}}
 *
 * The record is the same JSON `ig run -o json` prints (with the enrichment
 * fields: k8s.namespace, k8s.podName, ...).  Lines are gathered and written
 * whole, one write(2) per flush, so that a line is never split by another
 * writer of the same stream.  Files are <dir>/<instance>.log, rotated to
 * .log.1, .log.2, ... past max_size_mb, keeping max_backups of them; the
 * directory is opened without following symlinks and files are created
 * with O_NOFOLLOW, so nothing outside it is ever written.
 */
#ifndef AGENT_LOGS_H
#define AGENT_LOGS_H

#include <stddef.h>
#include <stdint.h>

/* Bytes gathered before a flush is forced. */
#define AGENT_LOGS_MAX_PENDING (1u << 20)

enum agent_logs_channel {
	AGENT_LOGS_NONE = 0,
	AGENT_LOGS_STDOUT,
	AGENT_LOGS_FILE,
};

struct agent_logs_opts {
	enum agent_logs_channel channel;
	const char *dir;	 /* AGENT_LOGS_FILE: created (0750) when missing */
	const char *gadget;	 /* the gadget's name */
	const char *node;	 /* may be NULL */
	const char *instance;	 /* the file's name too; a DNS label */
	const char *instance_id; /* may be NULL */
	uint32_t max_size_mb;
	uint32_t max_backups;
	int stdout_fd; /* AGENT_LOGS_STDOUT: where; STDOUT_FILENO normally */
};

struct agent_logs;

/* "none", "stdout", "file" (or "" for none); -EINVAL otherwise. */
int agent_logs_channel_parse(const char *s, enum agent_logs_channel *ret);

/*
 * Returns a new sink in *ret (free with agent_logs_free()); opens (and
 * creates) the file now, so that a directory that cannot be written is an
 * error at the instance's start.  -errno with a one-line reason in err.
 */
int agent_logs_new(const struct agent_logs_opts *opts, struct agent_logs **ret, char *err,
		   size_t errlen);
/* Writes what is gathered, then frees; NULL-safe. */
struct agent_logs *agent_logs_free(struct agent_logs *l);

/*
 * One record (json, exactly a line of `ig run -o json`, no newline) of data
 * source ds with sequence number seq.  Gathered; written by the next flush
 * (or now, past AGENT_LOGS_MAX_PENDING).  0 or -errno (the line is then lost
 * and counted).
 */
int agent_logs_record(struct agent_logs *l, const char *ds, uint64_t seq, const char *json,
		      size_t len);
/* Writes what is gathered (rotating first when due).  0 or -errno. */
int agent_logs_flush(struct agent_logs *l);

/* Lines that could not be written. */
uint64_t agent_logs_lost(const struct agent_logs *l);

#endif /* AGENT_LOGS_H */
