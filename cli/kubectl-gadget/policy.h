/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image policy `kubectl gadget deploy` writes into the agents' config
 * (oci.verifyImage, oci.publicKeys, oci.allowedGadgets,
 * oci.disallowPulling), from Inspektor Gadget's deploy flags:
 *
 *   --verify-gadgets[=false]    check signatures (default true)
 *   --gadgets-public-keys KEYS  PEM public keys joined by commas, or files
 *   --allowed-gadgets LIST      image patterns, comma-separated, repeatable
 *   --disallow-gadgets-pulling  the agents never pull
 *
 * It is set at deploy time so that cluster users, who can create instances
 * and run gadgets, cannot turn it off.  Keys and patterns are checked here,
 * before anything is applied, so a typo fails the deploy rather than every
 * agent.  Files named in --gadgets-public-keys are read here: the agents get
 * the PEM text.
 */
#ifndef CLI_KG_POLICY_H
#define CLI_KG_POLICY_H

#include <jansson.h>
#include <stdbool.h>

/* Patterns --allowed-gadgets takes in all. */
#define KG_POLICY_MAX_ALLOWED 256

struct kg_policy {
	bool verify;	    /* --verify-gadgets; default true */
	bool verify_set;    /* given on the command line */
	const char *keys;   /* --gadgets-public-keys, NULL: none */
	json_t *allowed;    /* --allowed-gadgets, a JSON array once given */
	bool disallow_pull; /* --disallow-gadgets-pulling */
	bool disallow_set;
};

void kg_policy_init(struct kg_policy *p);
void kg_policy_done(struct kg_policy *p);

/* Takes the value of --allowed-gadgets (a comma-separated list); -EINVAL after an error. */
int kg_policy_add_allowed(struct kg_policy *p, const char *list);

/*
 * Writes the policy into the config.yaml of the ConfigMap gadget-config
 * among objs (the manifests as JSON), and marks the DaemonSet's pods with
 * its checksum so that a changed policy restarts the agents.  Keys not
 * given keep what the manifests say.  Warns when no image will be verified.
 * Prints its own error; -errno.
 */
int kg_policy_apply(const struct kg_policy *p, json_t *objs);

#endif /* CLI_KG_POLICY_H */
