/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Detached instances as the plugin writes them: ConfigMaps in the gadget
 * namespace, created and deleted with the user's own credentials
 * (docs/kubectl-gadget.md "Permissions").  The agents only read them: the
 * API server's RBAC decides who may create an instance, and an agent never
 * writes one for a client it cannot identify.
 */
#ifndef KG_INSTANCE_CM_H
#define KG_INSTANCE_CM_H

#include "agent/api.pb-c.h"

struct kg_global;

/* The label every agent selects instance ConfigMaps by (instanceConfigMapLabel's default). */
#define KG_INSTANCE_LABEL_KEY	"type"
#define KG_INSTANCE_LABEL_VALUE "gadget-instance"

/*
 * Checks spec as an agent would read it and creates its ConfigMap.  0 and
 * prints "gadget instance NAME created (id UID)"; otherwise prints the
 * reason (the API server's, for a refusal) and returns KG_EXIT_USAGE for a
 * spec that is not valid, KG_EXIT_ERROR for anything else.
 */
int kg_instance_cm_create(struct kg_global *g, const Gadget__Agent__V1__InstanceSpec *spec);

/*
 * Deletes the ConfigMap of the instance named, or with id (the ConfigMap's
 * uid), name_or_id, or whose id begins with it when only one does, on the
 * condition that it is still that one.  Only a ConfigMap that carries the
 * instance label is deleted; no agent is needed.  0, or prints the reason
 * (not found, a prefix of several ids) and returns KG_EXIT_ERROR.
 */
int kg_instance_cm_delete(struct kg_global *g, const char *name_or_id);

#endif /* KG_INSTANCE_CM_H */
