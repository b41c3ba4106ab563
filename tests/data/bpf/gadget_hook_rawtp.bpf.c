// SPDX-License-Identifier: Apache-2.0
/* A tracer whose only program uses the hook raw_tracepoint/no_such_raw_tp. */
#include "hook_tracer.h"

HOOK_TRACER("raw_tracepoint/no_such_raw_tp", ig_hook_rawtp)
