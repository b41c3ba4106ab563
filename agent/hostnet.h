/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the control API may listen over TCP.
 *
 * A TCP listener on 127.0.0.1 is private only inside a pod's own network
 * namespace: there, nothing but the pod and the API server's port-forward
 * (with its RBAC) can reach it.  In the host's network namespace (a plain
 * host, or a pod with hostNetwork) every local user can connect to it, and
 * the control API runs eBPF programs as root: so the agent refuses to start
 * with such a listener, and the unix socket (root only) serves the host.
 *
 * The host's network namespace is the one of the host's pid 1, seen under
 * hostRoot (the DaemonSet mounts the host's /proc at /host/proc and shares
 * the host's pid namespace).  When that cannot be read, the agent cannot
 * tell, and acts as if it were in the host's.
 */
#ifndef AGENT_HOSTNET_H
#define AGENT_HOSTNET_H

#include <stdbool.h>
#include <stddef.h>

struct agent_config;

/*
 * Whether this process is in the host's network namespace: 1 yes, 0 no,
 * -errno when it cannot tell (the host's /proc/1/ns/net under host_root,
 * "" for "/", cannot be read).
 */
int agent_hostnet_in_host_netns(const char *host_root);

/*
 * Applies the rule above to c: a listen.address left at its default is
 * turned off (set to "") in the host's network namespace, and
 * *ret_turned_off says so; one the configuration gives there is an error:
 * -EPERM with a one-line reason naming listen.address in err.
 */
int agent_hostnet_check_listen(struct agent_config *c, bool *ret_turned_off, char *err,
			       size_t errlen);

#endif /* AGENT_HOSTNET_H */
