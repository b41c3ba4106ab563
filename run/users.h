/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User and group names for the uid/gid fields of records.
 *
 * getpwuid() per record would mean NSS lookups (and possibly network
 * traffic) on the hot path, so the names come from /etc/passwd and
 * /etc/group, read once on first use and searched in memory.  Files larger
 * than RUN_USERS_MAX_FILE or entries past RUN_USERS_MAX_ENTRIES are
 * ignored rather than loaded.
 */
#ifndef RUN_USERS_H
#define RUN_USERS_H

#include <stdint.h>

#define RUN_USERS_MAX_FILE    (4u << 20)
#define RUN_USERS_MAX_ENTRIES 65536

struct run_users;

/*
 * Returns a new table that will read passwd and group (NULL: the /etc files)
 * when first asked; free with run_users_free().  -ENOMEM.
 */
int run_users_new(const char *passwd, const char *group, struct run_users **ret);
struct run_users *run_users_free(struct run_users *u);

/* Borrowed name of uid / gid, or NULL when unknown or the file is unreadable. */
const char *run_users_user(struct run_users *u, uint32_t uid);
const char *run_users_group(struct run_users *u, uint32_t gid);

#endif /* RUN_USERS_H */
