/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Detached gadget instances: the instance.yaml document that persists an
 * InstanceSpec (in a ConfigMap, or a file on a plain host), the checks a
 * spec must pass, and the replay buffer of an instance's last records.
 *
 * instance.yaml is the format docs/agent.md "Detached gadget instances"
 * defines, with the optional keys of docs/api.md "Persistence".  Reading it
 * ignores keys it does not know (a newer agent may have written them) but
 * refuses a known key of the wrong type, naming it.
 *
 * Specs are handled as protobuf-c messages (Gadget__Agent__V1__InstanceSpec)
 * so that what travels on the wire and what is stored are one type; the
 * functions here return self-contained copies, freed with
 * agent_instance_spec_free().
 */
#ifndef AGENT_INSTANCE_H
#define AGENT_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"
#include "base/buf.h"

/* Largest instance.yaml read (a ConfigMap holds at most 1 MiB). */
#define AGENT_INSTANCE_MAX_YAML (1u << 20)
/* Entries of params, filters, nodes, tags and selector labels. */
#define AGENT_INSTANCE_MAX_LIST 256
/* Longest instance name: a DNS-1123 label. */
#define AGENT_INSTANCE_MAX_NAME 63
/* Bounds of an instance's logs settings: a file's size and the rotated files kept. */
#define AGENT_INSTANCE_MAX_LOG_MB      1024
#define AGENT_INSTANCE_MAX_LOG_BACKUPS 100

/* A DNS-1123 label: [a-z0-9-], at most 63, no '-' at either end. */
bool agent_instance_name_valid(const char *name);

/*
 * Parses instance.yaml.  Returns 0 and a new spec in *ret, or -EINVAL
 * (bad YAML, a known key of the wrong type, no name or image), -E2BIG
 * (over a limit), -ENOMEM, with "instance.yaml:<line>: <why>" in err.
 * When extra is not NULL, the top-level keys "id" and "createdUnixMs"
 * (only in files of a plain host) are returned through it.
 */
struct agent_instance_extra {
	char *id; /* free() */
	int64_t created_unix_ms;
};
int agent_instance_spec_parse(const char *text, size_t len, Gadget__Agent__V1__InstanceSpec **ret,
			      struct agent_instance_extra *extra, char *err, size_t errlen);

/*
 * Writes spec as instance.yaml to out (appending).  With extra, the "id"
 * and "createdUnixMs" keys too.  -ENOMEM, -E2BIG.
 */
int agent_instance_spec_format(const Gadget__Agent__V1__InstanceSpec *spec,
			       const struct agent_instance_extra *extra, struct base_buf *out);

/* A self-contained copy of spec (which may be part of a larger message). */
int agent_instance_spec_dup(const Gadget__Agent__V1__InstanceSpec *spec,
			    Gadget__Agent__V1__InstanceSpec **ret);
Gadget__Agent__V1__InstanceSpec *agent_instance_spec_free(Gadget__Agent__V1__InstanceSpec *spec);

/*
 * What CreateInstance checks before anything else: a valid name,
 * gadget.image set, timeout_ms 0, replay_records within
 * AGENT_WIRE_MAX_REPLAY_RECORDS, lists within bounds.  -EINVAL with the
 * reason in err.
 */
int agent_instance_spec_check(const Gadget__Agent__V1__InstanceSpec *spec, char *err,
			      size_t errlen);

/* Whether the spec runs on node: nodes empty or naming it. */
bool agent_instance_spec_for_node(const Gadget__Agent__V1__InstanceSpec *spec, const char *node);

/* ------------------------------------------------------------ replay */

/*
 * The last `capacity` records of an instance with their sequence numbers.
 * Records are pushed in sequence order; slots are reused, so a steady
 * stream of records of similar size allocates nothing.
 */
struct agent_instance_ring;
struct agent_budget;

int agent_instance_ring_new(size_t capacity, struct agent_instance_ring **ret);
struct agent_instance_ring *agent_instance_ring_free(struct agent_instance_ring *r);
/*
 * Charges the kept records to budget b (agent/budget.h; NULL: none) from
 * now on; what the ring held is forgotten.  Past the budget, a push forgets
 * the oldest records to make room, and keeps nothing when even an empty
 * ring has none (-ENOBUFS).
 */
void agent_instance_ring_set_budget(struct agent_instance_ring *r, struct agent_budget *b);
/* Keeps a copy of json (a record of data source ds); the oldest goes when full.  -ENOMEM. */
int agent_instance_ring_push(struct agent_instance_ring *r, uint64_t seq, size_t ds,
			     const char *json, size_t len);
size_t agent_instance_ring_count(const struct agent_instance_ring *r);
/* The i-th kept record, oldest first (borrowed until the next push). */
void agent_instance_ring_get(const struct agent_instance_ring *r, size_t i, uint64_t *ret_seq,
			     size_t *ret_ds, const char **ret_json, size_t *ret_len);
void agent_instance_ring_clear(struct agent_instance_ring *r);

#endif /* AGENT_INSTANCE_H */
