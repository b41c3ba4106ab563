// SPDX-License-Identifier: Apache-2.0
/*
 * The files of deploy/, embedded at build time; see manifests.h.
 *
 * .incbin paths are relative to the directory the compiler runs in, the top
 * of the tree, as every build rule of the Makefile does.  A NUL follows each
 * file so the bytes can be handed to text parsers as they are.  A new file
 * in deploy/ must be added to the list below (and tests/integration/
 * test_kubectl_gadget.py checks that every file there is embedded).
 */
#include "cli/kubectl-gadget/manifests.h"

#define KG_EMBED(sym, path)                                                                        \
	__asm__(".pushsection .rodata\n"                                                           \
		".balign 8\n"                                                                      \
		"kg_manifest_" #sym "_start:\n"                                                    \
		".incbin \"" path "\"\n"                                                           \
		"kg_manifest_" #sym "_end:\n"                                                      \
		".byte 0\n"                                                                        \
		".popsection\n");                                                                  \
	extern const char kg_manifest_##sym##_start[] __asm__("kg_manifest_" #sym "_start");       \
	extern const char kg_manifest_##sym##_end[] __asm__("kg_manifest_" #sym "_end")

KG_EMBED(namespace, "deploy/00-namespace.yaml");
KG_EMBED(rbac, "deploy/10-rbac.yaml");
KG_EMBED(configmap, "deploy/20-configmap.yaml");
KG_EMBED(daemonset, "deploy/30-daemonset.yaml");

#define KG_MANIFEST(sym, path)                                                                     \
	{                                                                                          \
		.name = path, .data = kg_manifest_##sym##_start,                                   \
		.len = (size_t)(kg_manifest_##sym##_end - kg_manifest_##sym##_start)               \
	}

size_t kg_manifests(struct kg_manifest *out, size_t max)
{
	/* the lengths are differences of two symbols: not constants C accepts statically */
	const struct kg_manifest all[] = {
		KG_MANIFEST(namespace, "deploy/00-namespace.yaml"),
		KG_MANIFEST(rbac, "deploy/10-rbac.yaml"),
		KG_MANIFEST(configmap, "deploy/20-configmap.yaml"),
		KG_MANIFEST(daemonset, "deploy/30-daemonset.yaml"),
	};
	size_t i, n = sizeof(all) / sizeof(all[0]);

	for (i = 0; i < n && i < max; i++)
		out[i] = all[i];
	return n < max ? n : max;
}
