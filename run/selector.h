/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container selectors: which containers a gadget run is about, from the
 * flags of ig run (-c/--containername, --k8s-namespace, --k8s-podname,
 * --k8s-containername, --k8s-selector) and the same fields of an agent
 * request.  Every criterion given must hold; an empty selector matches every
 * container (and the caller then filters nothing).
 *
 * Values mean what Inspektor Gadget's mean: a comma-separated list ("-c
 * web,db": either), where "!name" excludes ("-n '!kube-system'"); a label
 * "k=v" needs the label with that value, "k=!v" with another value, "!k=v"
 * not with that value.
 *
 * The run's mount namespace filter is filled with the namespaces of the
 * containers a selector matches, so matching happens once per container
 * start, never per event.
 */
#ifndef RUN_SELECTOR_H
#define RUN_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct cri_container;

/* Pod labels one selector may require ("k=v" pairs). */
#define RUN_SELECTOR_MAX_LABELS 32
/* Longest --k8s-selector text. */
#define RUN_SELECTOR_MAX_TEXT 4096

struct run_selector_label {
	const char *key;
	const char *value;
};

struct run_selector {
	/* Borrowed; NULL or "" means any. */
	const char *container_name; /* runtime.containerName */
	const char *k8s_namespace;
	const char *k8s_podname;
	const char *k8s_containername;
	/* Set by run_selector_set_labels(); point into labels_text. */
	struct run_selector_label labels[RUN_SELECTOR_MAX_LABELS];
	size_t n_labels;
	char *labels_text;
};

/*
 * Parses "k=v,k2=v2" (pod labels that must all be present with these
 * values).  -EINVAL for an empty key, a pair without '=' or a repeated key,
 * -E2BIG past RUN_SELECTOR_MAX_LABELS or RUN_SELECTOR_MAX_TEXT, with a
 * one-line reason in errbuf; the selector is unchanged on failure.
 */
int run_selector_set_labels(struct run_selector *s, const char *text, char *errbuf,
			    size_t errbuf_len);
/* Frees what run_selector_set_labels() allocated; the struct can be reused. */
void run_selector_done(struct run_selector *s);

/* True when no criterion is set. */
bool run_selector_empty(const struct run_selector *s);
bool run_selector_match(const struct run_selector *s, const struct cri_container *c);

#endif /* RUN_SELECTOR_H */
