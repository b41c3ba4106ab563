// SPDX-License-Identifier: Apache-2.0
/* A tracer whose only program uses the hook fentry/no_such_function_xyz. */
#include "hook_tracer.h"

HOOK_TRACER("fentry/no_such_function_xyz", ig_hook_fentrynx)
