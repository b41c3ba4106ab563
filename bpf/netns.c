// SPDX-License-Identifier: Apache-2.0
/*
 * Stepping the calling thread into a network namespace and back.  See netns.h.
 */
#include "bpf/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

int bpf_netns_enter(const char *path, int *ret_back)
{
	int back, fd, err = 0;

	if (!path || !ret_back)
		return -EINVAL;
	back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		close(back);
		return err;
	}
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	if (err) {
		close(back);
		return err;
	}
	*ret_back = back;
	return 0;
}

int bpf_netns_leave(int back)
{
	int err = 0;

	if (back < 0)
		return -EINVAL;
	if (setns(back, CLONE_NEWNET) < 0)
		err = -errno;
	close(back);
	return err;
}

int bpf_netns_id(const char *path, uint64_t *ret)
{
	struct stat st;

	if (!path || !ret)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return -errno;
	*ret = st.st_ino;
	return 0;
}
