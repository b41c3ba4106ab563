// SPDX-License-Identifier: Apache-2.0
/* A tracer whose only program uses the hook tracepoint/syscalls/sys_enter_foo. */
#include "hook_tracer.h"

HOOK_TRACER("tracepoint/syscalls/sys_enter_foo", ig_hook_badtp)
