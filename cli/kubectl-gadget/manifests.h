/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifests of deploy/, built into the plugin so that `kubectl gadget
 * deploy` needs nothing but the binary.
 *
 * manifests.c pulls each file in with the assembler's .incbin when it is
 * compiled (the Makefile makes manifests.o depend on the YAML files of deploy/, so an
 * edited manifest rebuilds the plugin).  They are kept in file-name order,
 * the order `kubectl apply -f deploy/` would use and the one deploy
 * applies them in.
 */
#ifndef CLI_KG_MANIFESTS_H
#define CLI_KG_MANIFESTS_H

#include <stddef.h>

struct kg_manifest {
	const char *name; /* "deploy/30-daemonset.yaml" */
	const char *data; /* the file's bytes, NUL-terminated */
	size_t len;
};

/* Most files embedded. */
#define KG_MANIFESTS_MAX 16

/* Copies the embedded files, in order, into out; returns how many (<= max). */
size_t kg_manifests(struct kg_manifest *out, size_t max);

#endif /* CLI_KG_MANIFESTS_H */
