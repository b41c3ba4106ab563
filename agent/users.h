/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User and group names for the uid/gid fields of records.
 *
 * getpwuid() per record would mean NSS lookups (and possibly network
 * traffic) on the hot path, so the names come from /etc/passwd and
 * /etc/group, read once on first use and searched in memory.  Files larger
 * than AGENT_USERS_MAX_FILE or entries past AGENT_USERS_MAX_ENTRIES are
 * ignored rather than loaded.
 */
#ifndef AGENT_USERS_H
#define AGENT_USERS_H

#include <stdint.h>

#define AGENT_USERS_MAX_FILE	(4u << 20)
#define AGENT_USERS_MAX_ENTRIES 65536

struct agent_users;

/*
 * Returns a new table that will read passwd and group (NULL: the /etc files)
 * when first asked; free with agent_users_free().  -ENOMEM.
 */
int agent_users_new(const char *passwd, const char *group, struct agent_users **ret);
struct agent_users *agent_users_free(struct agent_users *u);

/* Borrowed name of uid / gid, or NULL when unknown or the file is unreadable. */
const char *agent_users_user(struct agent_users *u, uint32_t uid);
const char *agent_users_group(struct agent_users *u, uint32_t gid);

#endif /* AGENT_USERS_H */
