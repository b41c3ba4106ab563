/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML <-> JSON for the plugin: the manifests embedded from deploy/ are
 * YAML and the API server takes JSON (apply patches included), and
 * `-o yaml` writes records and lists as YAML.
 *
 * Reading follows the YAML 1.2 core schema for plain scalars (null, true,
 * false, integers, floats; everything else and every quoted scalar is a
 * string), which is what the manifests in deploy/ need; anchors and aliases
 * are resolved by libyaml.  Documents are bounded by KG_YAML_MAX_BYTES and
 * nesting by BASE_YAML_MAX_DEPTH.  Both ways are base/yaml.h and
 * base/yaml_emit.h, which ig uses too.
 */
#ifndef CLI_KG_YAML_H
#define CLI_KG_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

#define KG_YAML_MAX_BYTES (4u << 20)

/*
 * Parses every document of buf (empty ones are skipped) into a new JSON
 * array in *ret (json_decref() it).  -EINVAL with "name:line: reason" in
 * err, -E2BIG over the limits, -ENOMEM.
 */
int kg_yaml_load_all(const char *buf, size_t len, const char *name, json_t **ret, char *err,
		     size_t errlen);

#endif /* CLI_KG_YAML_H */
