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

#include "agent/config.h"
#include "base/log.h"
#include "oci/allow.h"
#include "oci/auth.h"
#include "oci/key.h"
#include "oci/ref.h"
#include "oci/registry.h"
#include "oci/signature.h"
#include "oci/store.h"

int agent_image_opts_init(struct agent_image_opts *o, const struct agent_config *cfg, char *err,
			  size_t errlen)
{
	struct oci_key_set *ks = NULL;
	char why[OCI_KEY_ERRLEN];
	int r;

	*o = (struct agent_image_opts){
		.store_dir = cfg->store_dir,
		.insecure_registries = (const char *const *)cfg->insecure_registries,
		.n_insecure_registries = cfg->n_insecure_registries,
		.allowed = (const char *const *)cfg->allowed_gadgets,
		.n_allowed = cfg->n_allowed_gadgets,
		.disallow_pulling = cfg->disallow_pulling,
	};
	if (cfg->verify_image && cfg->n_public_keys) {
		r = oci_key_set_new(&ks);
		for (size_t i = 0; r == 0 && i < cfg->n_public_keys; i++) {
			r = oci_key_set_add(ks, cfg->public_keys[i], why, sizeof(why));
			if (r < 0 && r != -ENOMEM)
				snprintf(err, errlen, "oci.publicKeys[%zu]: %s", i, why);
		}
		if (r < 0) {
			oci_key_set_free(ks);
			return r;
		}
		o->keys = ks;
		base_log_info("agent: gadget images must be signed by one of %zu public key(s)",
			      oci_key_set_count(ks));
	} else if (cfg->n_public_keys) {
		base_log_warn("agent: gadget image signatures are not verified (oci.verifyImage is "
			      "false)");
	} else {
		base_log_warn(
			"agent: gadget image signatures are not verified (no oci.publicKeys)");
	}
	if (cfg->n_allowed_gadgets)
		base_log_info("agent: %zu allowed gadget pattern(s) (oci.allowedGadgets)",
			      cfg->n_allowed_gadgets);
	if (cfg->disallow_pulling)
		base_log_info("agent: pulling gadget images is disabled (oci.disallowPulling)");
	return 0;
}

void agent_image_opts_done(struct agent_image_opts *o)
{
	oci_key_set_free((struct oci_key_set *)o->keys);
	o->keys = NULL;
}

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

int agent_image_check_allowed(const struct agent_image_opts *o, const char *image, char *err,
			      size_t errlen)
{
	char *canonical = NULL;
	int r;

	err[0] = '\0';
	r = img_canonical(image, &canonical, NULL);
	if (r < 0) {
		snprintf(err, errlen, "'%.256s' is not a valid image reference", image);
		return r == -ENOMEM ? r : -EINVAL;
	}
	/* a digest pattern of its repository is decided once the tag is resolved */
	r = oci_allow_match(o->allowed, o->n_allowed, canonical, NULL);
	if (r == OCI_ALLOW_NO)
		snprintf(err, errlen,
			 "image %.256s is not allowed on this node (not in oci.allowedGadgets)",
			 canonical);
	free(canonical);
	return r < 0 ? r : r == OCI_ALLOW_NO ? -EACCES : 0;
}

static bool img_is_insecure(const struct agent_image_opts *o, const char *registry)
{
	size_t i;

	for (i = 0; i < o->n_insecure_registries; i++)
		if (!strcmp(o->insecure_registries[i], registry))
			return true;
	return false;
}

/* A client for ref's registry, with the credentials saved for it. */
static int img_registry(const struct agent_image_opts *o, const struct oci_ref *ref,
			struct oci_registry **ret, char *err, size_t errlen)
{
	struct oci_registry_opts ro = {0};
	char *user = NULL, *password = NULL;
	int r;

	r = oci_auth_get(oci_auth_file(o->authfile), ref->registry, &user, &password, err, errlen);
	if (r < 0)
		return r;
	ro.registry = ref->registry;
	ro.plain_http = img_is_insecure(o, ref->registry);
	ro.username = user;
	ro.password = password;
	ro.connect_timeout_ms = AGENT_IMAGE_CONNECT_MS;
	ro.stall_timeout_ms = AGENT_IMAGE_STALL_MS;
	ro.deadline_ms = (long)o->pull_timeout_ms;
	r = oci_registry_new(&ro, ret);
	if (r < 0)
		snprintf(err, errlen, "%s", strerror(-r));
	free(user);
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	return r;
}

static int img_pull(const struct agent_image_opts *o, struct oci_store *s,
		    const struct oci_ref *ref, const char *canonical, char *err, size_t errlen)
{
	struct oci_registry *reg = NULL;
	char digest[OCI_DIGEST_SIZE];
	char rerr[512];
	int r;

	r = img_registry(o, ref, &reg, rerr, sizeof(rerr));
	if (r < 0) {
		snprintf(err, errlen, "pulling %s: %s", canonical, rerr);
		return r;
	}
	r = oci_registry_pull(reg, s, canonical, digest);
	if (r < 0)
		snprintf(err, errlen, "pulling %s: %s%s", canonical, oci_registry_errmsg(reg),
			 r == -EPROTO && !img_is_insecure(o, ref->registry)
				 ? " (name the registry in oci.insecureRegistries if it "
				   "speaks plain HTTP)"
				 : "");
	else
		base_log_debug("agent: pulled %s: %s", canonical, digest);
	oci_registry_free(reg);
	return r;
}

/*
 * Checks the signature of the image found (digest, its top object): in the
 * store, then in its registry when the node may reach it.
 */
static int img_verify(const struct agent_image_opts *o, struct oci_store *s,
		      const struct oci_ref *ref, const char *canonical, const char *digest,
		      char *err, size_t errlen)
{
	struct oci_registry *reg = NULL;
	char why[OCI_SIGNATURE_ERRLEN];
	char *name = NULL;
	int r;

	r = oci_ref_format_name(ref, &name);
	if (r < 0)
		return r;
	if (ref->registry && !o->disallow_pulling &&
	    img_registry(o, ref, &reg, why, sizeof(why)) < 0)
		base_log_debug("agent: no registry client for %s: %s", canonical, why);
	r = oci_signature_verify(s, reg, name, digest, o->keys, NULL, why, sizeof(why));
	if (r < 0)
		snprintf(err, errlen, "image %s (%s) failed signature verification: %s%s",
			 canonical, digest, why,
			 r == -ENOENT && o->disallow_pulling && ref->registry
				 ? " (pulling is disabled on this node)"
				 : "");
	oci_registry_free(reg);
	free(name);
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
	if (o->pull == AGENT_IMAGE_PULL_ALWAYS && ref->registry && o->disallow_pulling) {
		snprintf(err, errlen,
			 "image %s: pulling is disabled on this node (oci.disallowPulling)",
			 canonical);
		*ret_kind = AGENT_IMAGE_NOT_ALLOWED;
		r = -EACCES;
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
		if (o->disallow_pulling) {
			snprintf(err, errlen,
				 "image %s is not in the store %s and pulling is disabled on this "
				 "node (oci.disallowPulling)",
				 canonical, o->store_dir);
			*ret_kind = AGENT_IMAGE_NOT_FOUND;
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
	/* a digest pattern allows the image the tag resolved to, or nothing */
	if (oci_allow_match(o->allowed, o->n_allowed, canonical, g->image_digest) !=
	    OCI_ALLOW_YES) {
		snprintf(err, errlen,
			 "image %s (%s) is not allowed on this node (not in oci.allowedGadgets)",
			 canonical, g->image_digest);
		*ret_kind = AGENT_IMAGE_NOT_ALLOWED;
		r = -EACCES;
		goto out;
	}
	if (o->keys) {
		r = img_verify(o, s, ref, canonical, g->image_digest, err, errlen);
		if (r < 0) {
			*ret_kind = AGENT_IMAGE_UNVERIFIED;
			goto out;
		}
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
