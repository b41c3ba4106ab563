// SPDX-License-Identifier: Apache-2.0
/* A tracer whose only program uses the hook kprobe/do_sys_openat2. */
#include "hook_tracer.h"

HOOK_TRACER("kprobe/do_sys_openat2", ig_hook_kprobe)
