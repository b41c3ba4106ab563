// SPDX-License-Identifier: Apache-2.0
/*
 * Gadget images for the agent.  See image.h.
 *
 * Unlike ig, the agent never looks beside its binary or in directories of
 * built gadgets: what a node runs comes from its one configured store, so
 * an operator knows (and oci.allowedGadgets controls) exactly what can run.
 */
#include "agent/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "oci/auth.h"
#include "oci/ref.h"
#include "oci/registry.h"
#include "oci/store.h"

struct agent_image *agent_image_free(struct agent_image *img)
{
	if (!img)
		return NULL;
	free(img->ref);
	free(img->name);
	free(img->program);
	free(img->config);
	free(img);
	return NULL;
}

/* Canonical form of s in *ret (free()); the parsed reference in *ret_ref when asked. */
static int img_canonical(const char *s, char **ret, struct oci_ref **ret_ref)
{
	struct oci_ref *ref = NULL;
	int r;

	r = oci_ref_parse(s, &ref);
	if (r < 0)
		return r;
	r = oci_ref_format(ref, ret);
	if (r < 0 || !ret_ref)
		oci_ref_free(ref);
	else
		*ret_ref = ref;
	return r;
}

static bool img_pattern_match(const char *pattern, const char *canonical)
{
	size_t n = strlen(pattern);
	char *c = NULL;
	bool ok;

	if (n && pattern[n - 1] == '*')
		return !strncmp(pattern, canonical, n - 1);
	if (img_canonical(pattern, &c, NULL) < 0)
		return !strcmp(pattern, canonical);
	ok = !strcmp(c, canonical);
	free(c);
	return ok;
}

int agent_image_check_allowed(const struct agent_image_opts *o, const char *image, char *err,
			      size_t errlen)
{
	char *canonical = NULL;
	size_t i;
	int r;

	err[0] = '\0';
	r = img_canonical(image, &canonical, NULL);
	if (r < 0) {
		snprintf(err, errlen, "'%.256s' is not a valid image reference", image);
		return r == -ENOMEM ? r : -EINVAL;
	}
	r = o->n_allowed ? -EACCES : 0;
	for (i = 0; i < o->n_allowed && r; i++)
		if (img_pattern_match(o->allowed[i], canonical))
			r = 0;
	if (r)
		snprintf(err, errlen,
			 "image %.256s is not allowed on this node (not in oci.allowedGadgets)",
			 canonical);
	free(canonical);
	return r;
}

static bool img_is_insecure(const struct agent_image_opts *o, const char *registry)
{
	size_t i;

	for (i = 0; i < o->n_insecure_registries; i++)
		if (!strcmp(o->insecure_registries[i], registry))
			return true;
	return false;
}

static int img_pull(const struct agent_image_opts *o, struct oci_store *s,
		    const struct oci_ref *ref, const char *canonical, char *err, size_t errlen)
{
	struct oci_registry_opts ro = {0};
	struct oci_registry *reg = NULL;
	char *user = NULL, *password = NULL;
	char digest[OCI_DIGEST_SIZE];
	char aerr[256];
	int r;

	r = oci_auth_get(oci_auth_file(o->authfile), ref->registry, &user, &password, aerr,
			 sizeof(aerr));
	if (r < 0) {
		snprintf(err, errlen, "pulling %s: %s", canonical, aerr);
		return r;
	}
	ro.registry = ref->registry;
	ro.plain_http = img_is_insecure(o, ref->registry);
	ro.username = user;
	ro.password = password;
	ro.connect_timeout_ms = AGENT_IMAGE_CONNECT_MS;
	ro.stall_timeout_ms = AGENT_IMAGE_STALL_MS;
	r = oci_registry_new(&ro, &reg);
	if (r == 0) {
		r = oci_registry_pull(reg, s, canonical, digest);
		if (r < 0)
			snprintf(err, errlen, "pulling %s: %s%s", canonical,
				 oci_registry_errmsg(reg),
				 r == -EPROTO && !ro.plain_http
					 ? " (name the registry in oci.insecureRegistries if it "
					   "speaks plain HTTP)"
					 : "");
		else
			base_log_debug("agent: pulled %s: %s", canonical, digest);
	} else {
		snprintf(err, errlen, "pulling %s: %s", canonical, strerror(-r));
	}
	oci_registry_free(reg);
	free(user);
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	return r;
}

static int img_take(struct oci_store_gadget *g, const struct oci_ref *ref, const char *canonical,
		    struct agent_image **ret)
{
	struct agent_image *img = calloc(1, sizeof(*img));
	const char *slash = strrchr(ref->repository, '/');

	if (!img)
		return -ENOMEM;
	img->ref = strdup(canonical);
	img->name = strdup(slash ? slash + 1 : ref->repository);
	if (!img->ref || !img->name) {
		agent_image_free(img);
		return -ENOMEM;
	}
	memcpy(img->digest, g->manifest_digest, sizeof(img->digest));
	img->program = g->program;
	img->program_len = g->program_len;
	img->config = g->config;
	img->config_len = g->config_len;
	g->program = NULL;
	g->config = NULL;
	*ret = img;
	return 0;
}

/* A short name the store lacks, in the fallback stores: 0 with *ret, -ENOENT, or -errno. */
static int img_from_fallbacks(const struct agent_image_opts *o, const char *canonical,
			      struct oci_store_gadget **ret)
{
	char layout[4096];
	size_t i;
	int r;

	for (i = 0; i < o->n_fallback_stores; i++) {
		struct oci_store *s = NULL;

		snprintf(layout, sizeof(layout), "%s/oci-layout", o->fallback_stores[i]);
		if (access(layout, F_OK) < 0 || oci_store_open(o->fallback_stores[i], &s) < 0)
			continue;
		r = oci_store_resolve(s, canonical, NULL, ret);
		oci_store_free(s);
		if (r != -ENOENT) {
			if (r == 0)
				base_log_debug("agent: %s from %s", canonical,
					       o->fallback_stores[i]);
			return r;
		}
	}
	return -ENOENT;
}

int agent_image_resolve(const struct agent_image_opts *o, const char *image,
			struct agent_image **ret, enum agent_image_error *ret_kind, char *err,
			size_t errlen)
{
	struct oci_store_gadget *g = NULL;
	struct oci_store *s = NULL;
	struct oci_ref *ref = NULL;
	char *canonical = NULL;
	bool pulled = false;
	int r;

	*ret_kind = AGENT_IMAGE_OK;
	err[0] = '\0';
	r = agent_image_check_allowed(o, image, err, errlen);
	if (r < 0) {
		*ret_kind = r == -EACCES ? AGENT_IMAGE_NOT_ALLOWED : AGENT_IMAGE_BAD_REF;
		return r;
	}
	r = img_canonical(image, &canonical, &ref);
	if (r < 0)
		goto fail_kind;
	r = oci_store_open(o->store_dir, &s);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the image store %s: %s", o->store_dir,
			 strerror(-r));
		*ret_kind = AGENT_IMAGE_FAILED;
		goto out;
	}
	if (o->pull == AGENT_IMAGE_PULL_ALWAYS && ref->registry) {
		r = img_pull(o, s, ref, canonical, err, errlen);
		if (r < 0) {
			*ret_kind = r == -ENOENT ? AGENT_IMAGE_NOT_FOUND : AGENT_IMAGE_FAILED;
			goto out;
		}
		pulled = true;
	}
	for (;;) {
		r = oci_store_resolve(s, canonical, NULL, &g);
		if (r == 0)
			break;
		if (r != -ENOENT || oci_store_has_ref(s, canonical) == 1) {
			snprintf(err, errlen, "image %s in the store %s: %s", canonical,
				 o->store_dir, oci_store_errmsg(s));
			*ret_kind = AGENT_IMAGE_FAILED;
			goto out;
		}
		if (!ref->registry && (r = img_from_fallbacks(o, canonical, &g)) != -ENOENT) {
			if (r == 0)
				break;
			snprintf(err, errlen, "image %s in an installed store: %s", canonical,
				 strerror(-r));
			*ret_kind = AGENT_IMAGE_FAILED;
			goto out;
		}
		if (!ref->registry) {
			snprintf(err, errlen,
				 "gadget image %s not found in the store %s%s (a short name is "
				 "looked up locally only; give host[:port]/name:tag to pull it)",
				 canonical, o->store_dir,
				 o->n_fallback_stores ? " nor in the installed gadgets" : "");
			*ret_kind = AGENT_IMAGE_NOT_FOUND;
			r = -ENOENT;
			goto out;
		}
		if (o->pull == AGENT_IMAGE_PULL_NEVER) {
			snprintf(err, errlen,
				 "image %s is not in the store %s and the pull policy is never",
				 canonical, o->store_dir);
			*ret_kind = AGENT_IMAGE_NOT_FOUND;
			r = -ENOENT;
			goto out;
		}
		if (pulled) {
			snprintf(err, errlen, "image %s is not in the store %s after the pull",
				 canonical, o->store_dir);
			*ret_kind = AGENT_IMAGE_FAILED;
			r = -ENOENT;
			goto out;
		}
		r = img_pull(o, s, ref, canonical, err, errlen);
		if (r < 0) {
			*ret_kind = r == -ENOENT ? AGENT_IMAGE_NOT_FOUND : AGENT_IMAGE_FAILED;
			goto out;
		}
		pulled = true;
	}
	r = img_take(g, ref, canonical, ret);
	if (r == 0)
		(*ret)->pulled = pulled;
	goto out;
fail_kind:
	*ret_kind = r == -ENOMEM ? AGENT_IMAGE_FAILED : AGENT_IMAGE_BAD_REF;
	if (!err[0])
		snprintf(err, errlen, "'%.256s' is not a valid image reference", image);
out:
	oci_store_gadget_free(g);
	oci_store_free(s);
	oci_ref_free(ref);
	free(canonical);
	if (r == -ENOMEM && !err[0])
		snprintf(err, errlen, "%s", strerror(ENOMEM));
	return r;
}
