// SPDX-License-Identifier: Apache-2.0
/*
 * Signatures of stored images.  See signature.h.
 *
 * One check serves every place a signature manifest comes from: the
 * manifest's signatures are tried in order, each payload fetched (from the
 * store or the registry, bounded by its descriptor), its signature checked
 * against the keys, and only then the payload read for the digest it
 * names.  When nothing verifies, the most telling reason wins: a valid
 * signature for another image says more than "not signed by these keys",
 * which says more than an unreadable or malformed manifest.
 */
#include "oci/signature.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "oci/cosign.h"
#include "oci/key.h"
#include "oci/registry.h"
#include "oci/store.h"

/* Blobs of one signature manifest copied into the store, at most. */
#define SIG_MAX_BLOBS (OCI_COSIGN_MAX_SIGNATURES * 4)

/* Where the blobs a signature manifest names are read from. */
struct sig_src {
	struct oci_store *store;  /* when reg is NULL */
	struct oci_registry *reg; /* else */
	const char *ref;	  /* the repository, for reg */
};

static int sig_get(const struct sig_src *src, const char *digest, uint64_t size, char **ret,
		   char *why, size_t whylen)
{
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (src->reg) {
		r = oci_registry_get_blob(src->reg, src->ref, digest, size, ret);
		if (r < 0)
			snprintf(why, whylen, "%s", oci_registry_errmsg(src->reg));
		return r;
	}
	r = oci_store_get_blob(src->store, digest, size, &buf, &len);
	if (r == 0 && len != size) {
		free(buf);
		r = -EBADMSG;
	}
	if (r < 0) {
		snprintf(why, whylen, "%s",
			 r == -EBADMSG			   ? "its size or digest is wrong"
			 : oci_store_errmsg(src->store)[0] ? oci_store_errmsg(src->store)
							   : strerror(-r));
		return r;
	}
	*ret = buf;
	return 0;
}

/* The most telling reason seen so far for no signature verifying. */
struct sig_outcome {
	int rank; /* 0: nothing seen */
	int r;
	char why[OCI_SIGNATURE_ERRLEN];
	size_t n_manifests; /* signature manifests looked at */
};

enum {
	SIG_RANK_MALFORMED = 1,
	SIG_RANK_UNREADABLE,
	SIG_RANK_NOT_BY_KEYS,
	SIG_RANK_OTHER_IMAGE,
};

static void sig_note(struct sig_outcome *o, int rank, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sig_note(struct sig_outcome *o, int rank, int r, const char *fmt, ...)
{
	va_list ap;

	if (rank <= o->rank)
		return;
	o->rank = rank;
	o->r = r;
	va_start(ap, fmt);
	base_err_setv(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
}

/*
 * Checks the signatures of one signature manifest: 0 and the key's index
 * when one verifies for digest, -EKEYREJECTED (o says why) when none does,
 * -ENOMEM.
 */
static int sig_check(const char *man, size_t len, const struct sig_src *src,
		     const struct oci_key_set *keys, const char *digest, size_t *ret_key,
		     struct sig_outcome *o)
{
	struct oci_cosign_sigs sigs = {0};
	size_t nk = oci_key_set_count(keys);
	char why[512];
	int r;

	o->n_manifests++;
	r = oci_cosign_manifest_parse(man, len, &sigs, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		sig_note(o, SIG_RANK_MALFORMED, -EKEYREJECTED, "%s", why);
		return -EKEYREJECTED;
	}
	r = -EKEYREJECTED;
	for (size_t i = 0; i < sigs.n; i++) {
		const struct oci_cosign_sig *sg = &sigs.v[i];
		char *payload = NULL;
		int k;

		if (sig_get(src, sg->payload_digest, sg->payload_size, &payload, why, sizeof(why)) <
		    0) {
			sig_note(o, SIG_RANK_UNREADABLE, -EKEYREJECTED,
				 "the payload of its signature cannot be read: %s", why);
			continue;
		}
		k = oci_key_set_verify(keys, sg->signature, sg->signature_len, payload,
				       sg->payload_size);
		if (k == -ENOMEM) {
			free(payload);
			r = k;
			break;
		}
		if (k < 0) {
			free(payload);
			if (nk == 1)
				sig_note(o, SIG_RANK_NOT_BY_KEYS, -EKEYREJECTED,
					 "it is not signed by the public key (%s)",
					 oci_key_set_describe(keys, 0));
			else
				sig_note(o, SIG_RANK_NOT_BY_KEYS, -EKEYREJECTED,
					 "it is not signed by any of the %zu public keys", nk);
			continue;
		}
		/* only now that it is known to be signed is the payload read */
		if (oci_cosign_payload_check(payload, sg->payload_size, digest, why, sizeof(why)) <
		    0) {
			free(payload);
			sig_note(o, SIG_RANK_OTHER_IMAGE, -EKEYREJECTED,
				 "public key %d signed a payload that does not match: %s", k + 1,
				 why);
			continue;
		}
		free(payload);
		if (ret_key)
			*ret_key = (size_t)k;
		r = 0;
		break;
	}
	oci_cosign_sigs_done(&sigs);
	return r;
}

int oci_signature_ref(const char *name, const char *digest, char **ret)
{
	char tag[OCI_COSIGN_TAG_SIZE];

	if (oci_cosign_sig_tag(digest, tag) < 0)
		return -EINVAL;
	return asprintf(ret, "%s:%s", name, tag) < 0 ? -ENOMEM : 0;
}

/* ---- the store ---- */

static int sig_walk_last(void *userdata, const char *media_type, const char *digest, uint64_t size)
{
	/* children first, the signature manifest itself last */
	snprintf(userdata, OCI_DIGEST_SIZE, "%s", digest);
	return 0;
}

/*
 * The signature manifest the store keeps under ref: 1 and a new buffer,
 * 0 when there is none, -errno when it is there and cannot be read.
 */
static int sig_local_manifest(struct oci_store *s, const char *ref, char **ret, size_t *ret_len,
			      char *why, size_t whylen)
{
	char md[OCI_DIGEST_SIZE] = "";
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = oci_store_has_ref(s, ref);
	if (r <= 0) {
		if (r < 0)
			snprintf(why, whylen, "%s", oci_store_errmsg(s));
		return r;
	}
	r = oci_store_walk(s, ref, sig_walk_last, md);
	if (r == 0)
		r = oci_store_get_blob(s, md, OCI_COSIGN_MAX_MANIFEST, &buf, &len);
	if (r < 0) {
		snprintf(why, whylen, "%s", oci_store_errmsg(s));
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 1;
}

/* ---- the registry ---- */

/* Called for each signature manifest found: 1 stops the search, 0 goes on. */
typedef int (*sig_each_fn)(void *ctx, const char *man, size_t len, const char *man_digest);

/*
 * Offers fn the signature manifests of digest in the registry: the tag
 * scheme's, then the referrers' (from the API, else its fallback tag).
 * Returns fn's 1, 0 when all were offered, -errno for a registry that does
 * not answer.
 */
static int sig_remote_each(struct oci_registry *reg, const char *name, const char *digest,
			   sig_each_fn fn, void *ctx, char *why, size_t whylen)
{
	struct oci_cosign_referrer refs[OCI_COSIGN_MAX_REFERRERS];
	char tag[OCI_COSIGN_TAG_SIZE], md[OCI_DIGEST_SIZE], *ref = NULL, *buf = NULL;
	size_t len = 0;
	int r, n;

	/* the tag scheme */
	r = oci_cosign_sig_tag(digest, tag);
	if (r == 0 && asprintf(&ref, "%s:%s", name, tag) < 0)
		return -ENOMEM;
	if (r == 0)
		r = oci_registry_get_manifest(reg, ref, OCI_COSIGN_MAX_MANIFEST, &buf, &len, md);
	free(ref);
	ref = NULL;
	if (r == 0) {
		r = fn(ctx, buf, len, md);
		free(buf);
		if (r != 0)
			return r;
	} else if (r != -ENOENT) {
		snprintf(why, whylen, "%s", oci_registry_errmsg(reg));
		return r;
	}
	/* OCI 1.1 referrers: the API, else the fallback tag's index */
	if (asprintf(&ref, "%s@%s", name, digest) < 0)
		return -ENOMEM;
	buf = NULL;
	r = oci_registry_get_referrers(reg, ref, digest, OCI_COSIGN_ARTIFACT_TYPE,
				       OCI_COSIGN_MAX_INDEX, &buf, &len);
	free(ref);
	ref = NULL;
	if (r == -EOPNOTSUPP) {
		r = oci_cosign_referrers_tag(digest, tag);
		if (r == 0 && asprintf(&ref, "%s:%s", name, tag) < 0)
			return -ENOMEM;
		if (r == 0)
			r = oci_registry_get_manifest(reg, ref, OCI_COSIGN_MAX_INDEX, &buf, &len,
						      md);
		free(ref);
		ref = NULL;
	}
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(why, whylen, "%s", oci_registry_errmsg(reg));
		return r;
	}
	n = oci_cosign_referrers_parse(buf, len, refs, OCI_COSIGN_MAX_REFERRERS, NULL, 0);
	free(buf);
	for (int i = 0; i < n; i++) {
		if (asprintf(&ref, "%s@%s", name, refs[i].digest) < 0)
			return -ENOMEM;
		buf = NULL;
		r = oci_registry_get_manifest(reg, ref, OCI_COSIGN_MAX_MANIFEST, &buf, &len, md);
		free(ref);
		if (r == -ENOENT || r == -EBADMSG || r == -EFBIG)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s", oci_registry_errmsg(reg));
			return r;
		}
		r = fn(ctx, buf, len, md);
		free(buf);
		if (r != 0)
			return r;
	}
	return 0;
}

struct sig_blob {
	char digest[OCI_DIGEST_SIZE];
	char *buf;
	size_t len;
};

static int sig_add_blob(struct oci_registry *reg, const char *ref, json_t *desc,
			struct sig_blob *blobs, size_t *n)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");

	if (!d || !oci_digest_is_sha256(d) || !json_is_integer(size) ||
	    json_integer_value(size) < 0 || json_integer_value(size) > OCI_COSIGN_MAX_PAYLOAD)
		return -EINVAL;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(blobs[i].digest, d))
			return 0;
	if (*n == SIG_MAX_BLOBS)
		return -E2BIG;
	snprintf(blobs[*n].digest, OCI_DIGEST_SIZE, "%s", d);
	blobs[*n].len = (size_t)json_integer_value(size);
	if (oci_registry_get_blob(reg, ref, d, blobs[*n].len, &blobs[*n].buf) < 0)
		return -EIO;
	(*n)++;
	return 0;
}

/*
 * Copies a signature manifest fetched from the registry, and every blob it
 * names, into the store under the signature reference of digest.
 */
static int sig_store(struct oci_store *s, struct oci_registry *reg, const char *name,
		     const char *digest, const char *man, size_t len, const char *man_digest,
		     char *why, size_t whylen)
{
	struct sig_blob blobs[SIG_MAX_BLOBS];
	json_t *doc, *layers, *l;
	char *ref = NULL, *sref = NULL;
	size_t n = 0, i;
	int r;

	doc = json_loadb(man, len, JSON_REJECT_DUPLICATES, NULL);
	layers = json_object_get(doc, "layers");
	if (!json_is_array(layers)) {
		json_decref(doc);
		return -EINVAL;
	}
	r = asprintf(&ref, "%s@%s", name, digest) < 0 ? -ENOMEM : 0;
	if (r == 0)
		r = sig_add_blob(reg, ref, json_object_get(doc, "config"), blobs, &n);
	json_array_foreach(layers, i, l)
	{
		if (r == 0)
			r = sig_add_blob(reg, ref, l, blobs, &n);
	}
	json_decref(doc);
	if (r == 0)
		r = oci_signature_ref(name, digest, &sref);
	if (r == 0)
		r = oci_store_lock(s);
	if (r == 0) {
		for (i = 0; r == 0 && i < n; i++)
			r = oci_store_put_blob(s, blobs[i].buf, blobs[i].len, blobs[i].digest,
					       NULL);
		if (r == 0)
			r = oci_store_put_blob(s, man, len, man_digest, NULL);
		if (r == 0)
			r = oci_store_tag(s, sref, man_digest);
		if (r < 0)
			snprintf(why, whylen, "cannot store the signature: %s",
				 oci_store_errmsg(s));
		oci_store_unlock(s);
	} else if (r != -ENOMEM) {
		snprintf(why, whylen, "cannot copy the signature from %s: %s", name,
			 r == -EIO ? oci_registry_errmsg(reg) : "a blob it names is unusable");
	}
	for (i = 0; i < n; i++)
		free(blobs[i].buf);
	free(ref);
	free(sref);
	return r;
}

/* ---- verify ---- */

struct sig_verify {
	struct oci_store *s;
	struct oci_registry *reg;
	const char *name, *digest;
	const struct oci_key_set *keys;
	char *ref; /* name@digest, for blobs */
	size_t key;
	struct sig_outcome o;
	int store_err;
	char store_why[OCI_SIGNATURE_ERRLEN];
};

static int sig_verify_remote(void *ctx, const char *man, size_t len, const char *man_digest)
{
	struct sig_verify *v = ctx;
	struct sig_src src = {.reg = v->reg, .ref = v->ref};
	int r = sig_check(man, len, &src, v->keys, v->digest, &v->key, &v->o);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	/* verified: kept, so that the next check needs no network */
	v->store_err = sig_store(v->s, v->reg, v->name, v->digest, man, len, man_digest,
				 v->store_why, sizeof(v->store_why));
	return 1;
}

int oci_signature_verify(struct oci_store *s, struct oci_registry *reg, const char *name,
			 const char *digest, const struct oci_key_set *keys, size_t *ret_key,
			 char *err, size_t errlen)
{
	struct sig_verify v = {.s = s, .reg = reg, .name = name, .digest = digest, .keys = keys};
	struct sig_src local = {.store = s};
	char *ref = NULL, *man = NULL, why[OCI_SIGNATURE_ERRLEN] = "";
	size_t len = 0;
	int r;

	base_err_set(err, errlen, "%s", "");
	if (!oci_key_set_count(keys))
		return base_err_fail(err, errlen, -EINVAL, "no public key to verify it with");
	r = oci_signature_ref(name, digest, &ref);
	if (r < 0)
		return base_err_fail(err, errlen, r, "cannot name the signature of %s", digest);
	r = sig_local_manifest(s, ref, &man, &len, why, sizeof(why));
	free(ref);
	if (r > 0) {
		r = sig_check(man, len, &local, keys, digest, &v.key, &v.o);
		free(man);
		if (r == 0)
			goto ok;
		if (r == -ENOMEM)
			return r;
	} else if (r < 0) {
		sig_note(&v.o, SIG_RANK_MALFORMED, -EKEYREJECTED,
			 "the signature in the store cannot be read: %s", why);
	}
	if (reg) {
		if (asprintf(&v.ref, "%s@%s", name, digest) < 0)
			return -ENOMEM;
		r = sig_remote_each(reg, name, digest, sig_verify_remote, &v, why, sizeof(why));
		free(v.ref);
		if (r == 1) {
			if (v.store_err < 0)
				base_log_debug("signature of %s@%s verified but not kept: %s", name,
					       digest, v.store_why);
			goto ok;
		}
		if (r < 0 && !v.o.rank)
			return base_err_fail(err, errlen, r, "cannot look for its signature: %s",
					     why);
	}
	if (!v.o.n_manifests)
		return base_err_fail(err, errlen, -ENOENT,
				     "no signature found (looked in the "
				     "local store%s)",
				     reg ? " and in its registry" : "");
	return base_err_fail(err, errlen, v.o.r ? v.o.r : -EKEYREJECTED, "%s", v.o.why);
ok:
	if (ret_key)
		*ret_key = v.key;
	return 0;
}

/* ---- fetch ---- */

struct sig_fetch {
	struct oci_store *s;
	struct oci_registry *reg;
	const char *name, *digest;
	int r;
	char why[OCI_SIGNATURE_ERRLEN];
};

static int sig_fetch_one(void *ctx, const char *man, size_t len, const char *man_digest)
{
	struct sig_fetch *f = ctx;
	struct oci_cosign_sigs sigs = {0};

	/* only what looks like a signature is kept; what it is worth is checked later */
	if (oci_cosign_manifest_parse(man, len, &sigs, NULL, 0) < 0)
		return 0;
	oci_cosign_sigs_done(&sigs);
	f->r = sig_store(f->s, f->reg, f->name, f->digest, man, len, man_digest, f->why,
			 sizeof(f->why));
	return f->r < 0 ? 0 : 1;
}

int oci_signature_fetch(struct oci_store *s, struct oci_registry *reg, const char *name,
			const char *digest, char *err, size_t errlen)
{
	struct sig_fetch f = {.s = s, .reg = reg, .name = name, .digest = digest};
	char why[OCI_SIGNATURE_ERRLEN] = "";
	int r;

	base_err_set(err, errlen, "%s", "");
	r = sig_remote_each(reg, name, digest, sig_fetch_one, &f, why, sizeof(why));
	if (r < 0)
		return base_err_fail(err, errlen, r, "%s", why);
	if (r == 0 && f.r < 0)
		return base_err_fail(err, errlen, f.r, "%s", f.why);
	return r;
}

/* ---- sign ---- */

int oci_signature_sign(struct oci_store *s, const char *name, const char *digest,
		       const struct oci_key *key, char **ret_ref, char *err, size_t errlen)
{
	char *payload = NULL, *old = NULL, *man = NULL, *cfg = NULL, *ref = NULL;
	char pd[OCI_DIGEST_SIZE], md[OCI_DIGEST_SIZE], why[OCI_SIGNATURE_ERRLEN];
	size_t plen = 0, old_len = 0, man_len = 0, cfg_len = 0, n_drop = 0;
	size_t drop[OCI_COSIGN_MAX_SIGNATURES];
	struct oci_cosign_sigs sigs = {0};
	struct sig_src local = {.store = s};
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int r;

	base_err_set(err, errlen, "%s", "");
	r = oci_store_has_blob(s, digest);
	if (r <= 0)
		return base_err_fail(err, errlen, r < 0 ? r : -ENOENT,
				     "image %s is not in the store %s", digest, oci_store_dir(s));
	r = oci_signature_ref(name, digest, &ref);
	if (r == 0)
		r = oci_cosign_payload_new(name, digest, &payload, &plen);
	if (r == 0)
		r = oci_key_sign(key, payload, plen, &sig, &sig_len);
	if (r < 0) {
		base_err_set(err, errlen, "cannot sign %s: %s", digest, strerror(-r));
		goto out;
	}
	r = oci_store_lock(s);
	if (r < 0) {
		base_err_set(err, errlen, "%s", oci_store_errmsg(s));
		goto out;
	}
	/* earlier signatures are kept, except one made with this same key */
	r = sig_local_manifest(s, ref, &old, &old_len, why, sizeof(why));
	if (r > 0 && oci_cosign_manifest_parse(old, old_len, &sigs, NULL, 0) == 0) {
		for (size_t i = 0; i < sigs.n; i++) {
			char *p = NULL;

			if (sig_get(&local, sigs.v[i].payload_digest, sigs.v[i].payload_size, &p,
				    why, sizeof(why)) < 0)
				continue;
			if (oci_key_verify(key, sigs.v[i].signature, sigs.v[i].signature_len, p,
					   sigs.v[i].payload_size) == 0)
				drop[n_drop++] = sigs.v[i].layer;
			free(p);
		}
		/* a full manifest makes room: the oldest signature goes */
		if (!n_drop && sigs.n == OCI_COSIGN_MAX_SIGNATURES)
			drop[n_drop++] = sigs.v[0].layer;
	} else if (r > 0) {
		/* not a signature manifest: replaced */
		free(old);
		old = NULL;
	}
	r = oci_store_put_blob(s, payload, plen, NULL, pd);
	if (r == 0)
		r = oci_cosign_manifest_new(old, old ? old_len : 0, drop, n_drop, pd, plen, sig,
					    sig_len, &man, &man_len, &cfg, &cfg_len);
	if (r == 0)
		r = oci_store_put_blob(s, cfg, cfg_len, NULL, NULL);
	if (r == 0)
		r = oci_store_put_blob(s, man, man_len, NULL, md);
	if (r == 0)
		r = oci_store_tag(s, ref, md);
	if (r < 0)
		base_err_set(err, errlen, "cannot store the signature: %s",
			     oci_store_errmsg(s)[0] ? oci_store_errmsg(s) : strerror(-r));
	oci_store_unlock(s);
	if (r == 0 && ret_ref) {
		*ret_ref = ref;
		ref = NULL;
	}
out:
	oci_cosign_sigs_done(&sigs);
	free(payload);
	free(old);
	free(man);
	free(cfg);
	free(sig);
	free(ref);
	return r;
}
