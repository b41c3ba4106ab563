/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubectl gadget deploy --node-selector: which nodes run an agent.
 *
 * Inspektor Gadget takes a label selector in kubectl's syntax ("a=b",
 * "a!=b", "a in (x,y)", "a notin (x)", "a", "!a", comma-separated, all must
 * hold) and turns it into the DaemonSet's required node affinity, one
 * matchExpressions term: = and in become In, != and notin NotIn, a bare key
 * Exists, !key DoesNotExist.  The text is user input: bounded, one-line
 * errors.
 */
#ifndef CLI_KG_NODESEL_H
#define CLI_KG_NODESEL_H

#include <jansson.h>
#include <stddef.h>

/* Longest --node-selector, and most requirements and values in one. */
#define KG_NODESEL_MAX_TEXT   4096
#define KG_NODESEL_MAX_ITEMS  64
#define KG_NODESEL_MAX_VALUES 64

/*
 * Parses text into a new JSON node affinity in *ret ({"nodeAffinity":
 * {"requiredDuringSchedulingIgnoredDuringExecution": ...}}, json_decref() it).
 * -EINVAL or -E2BIG with a one-line reason in err, -ENOMEM.
 */
int kg_nodesel_affinity(const char *text, json_t **ret, char *err, size_t errlen);

#endif /* CLI_KG_NODESEL_H */
