// SPDX-License-Identifier: Apache-2.0
/*
 * A program without any data source, and without maps or global data, so
 * that a copy with its BTF sections renamed still opens in libbpf: the test
 * uses it for both "defines no data source" and "has no BTF".
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_getppid")
int nods_getppid(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
