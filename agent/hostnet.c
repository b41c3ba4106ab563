// SPDX-License-Identifier: Apache-2.0
/*
 * Where the control API may listen over TCP.  See hostnet.h.
 *
 * Two processes share a network namespace when their /proc/<pid>/ns/net
 * links name the same nsfs inode (same device and inode number): stat(2)
 * follows the link to it.  Reading another process's namespace links needs
 * ptrace read access to it, which the agent has (CAP_SYS_PTRACE).
 */
#include "agent/hostnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config.h"

/*
 * Since Linux 6.18 the initial namespaces have fixed inode numbers below
 * those the kernel hands out to the others (uapi linux/nsfs.h, enum
 * init_ns_ino); each type got its number in turn, counting down, and the
 * network namespace's came before the mount namespace's.
 */
#define NS_NET_INIT_INO	 0xEFFFFFF9u
#define NS_MNT_INIT_INO	 0xEFFFFFF8u
#define NS_DYNAMIC_FIRST 0xF0000000u

int agent_hostnet_in_host_netns(const char *host_root)
{
	struct stat self, host, mnt;
	char path[4096];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/proc/1/ns/net", host_root) >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (stat(path, &host) == 0)
		return self.st_dev == host.st_dev && self.st_ino == host.st_ino;
	r = -errno;
	/*
	 * Without the host's pid 1 (no ptrace access to it, or no host /proc):
	 * the initial network namespace is still known by its inode number on
	 * kernels that fix it, and they are known by the mount namespace's.
	 */
	if (self.st_ino == NS_NET_INIT_INO)
		return 1;
	if (stat("/proc/self/ns/mnt", &mnt) == 0 && mnt.st_ino == NS_MNT_INIT_INO &&
	    self.st_ino >= NS_DYNAMIC_FIRST)
		return 0;
	return r;
}

int agent_hostnet_check_listen(struct agent_config *c, bool *ret_turned_off, char *err,
			       size_t errlen)
{
	const char *root = strcmp(c->host_root, "/") ? c->host_root : "";
	char why[160] = "";
	char *off;
	int r;

	err[0] = '\0';
	*ret_turned_off = false;
	if (!c->listen_address[0])
		return 0;
	r = agent_hostnet_in_host_netns(root);
	if (r == 0)
		return 0;
	if (r < 0)
		snprintf(why, sizeof(why), " (or cannot tell: %s/proc/1/ns/net: %s)", root,
			 strerror(-r));
	if (c->listen_address_given) {
		snprintf(err, errlen,
			 "listen.address: %s is in the host's network namespace%s, where every "
			 "local user could reach the control API: run the agent in a pod, or set "
			 "listen.address to \"\" and use the unix socket",
			 c->listen_address, why);
		return -EPERM;
	}
	off = strdup("");
	if (!off)
		return -ENOMEM;
	free(c->listen_address);
	c->listen_address = off;
	*ret_turned_off = true;
	return 0;
}
