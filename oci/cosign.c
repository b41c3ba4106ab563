// SPDX-License-Identifier: Apache-2.0
/*
 * cosign's signature formats.  See cosign.h.
 *
 * Documents are written with jansson in insertion order and compact, which
 * is what Go's encoding/json gives for cosign's structs: the same payload
 * bytes for the same image, whichever tool signs.  Documents read are
 * parsed with duplicate keys refused, so that no two readers can see two
 * different payloads in one signed text.
 */
#include "oci/cosign.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/err.h"
#include "oci/store.h"

/* What cosign's empty config image records for every layer appended. */
#define COSIGN_ZERO_TIME "0001-01-01T00:00:00Z"

static int cosign_tag(const char *digest, const char *suffix, char out[OCI_COSIGN_TAG_SIZE])
{
	if (!oci_digest_is_sha256(digest))
		return -EINVAL;
	snprintf(out, OCI_COSIGN_TAG_SIZE, "sha256-%s%s", oci_digest_hex(digest), suffix);
	return 0;
}

int oci_cosign_sig_tag(const char *digest, char out[OCI_COSIGN_TAG_SIZE])
{
	return cosign_tag(digest, ".sig", out);
}

int oci_cosign_referrers_tag(const char *digest, char out[OCI_COSIGN_TAG_SIZE])
{
	return cosign_tag(digest, "", out);
}

static int cosign_dump(json_t *doc, char **ret, size_t *ret_len)
{
	char *s;

	if (!doc)
		return -ENOMEM;
	s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!s)
		return -ENOMEM;
	*ret = s;
	*ret_len = strlen(s);
	return 0;
}

int oci_cosign_payload_new(const char *identity, const char *digest, char **ret, size_t *ret_len)
{
	if (!identity || !*identity || !oci_digest_is_sha256(digest))
		return -EINVAL;
	return cosign_dump(json_pack("{s:{s:{s:s},s:{s:s},s:s},s:n}", "critical", "identity",
				     "docker-reference", identity, "image",
				     "docker-manifest-digest", digest, "type",
				     OCI_COSIGN_PAYLOAD_TYPE, "optional"),
			   ret, ret_len);
}

/* Parses a JSON object of at most max bytes, duplicate keys refused. */
static int cosign_load(const void *buf, size_t len, size_t max, const char *what, json_t **ret,
		       char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc;

	if (len > max)
		return base_err_fail(err, errlen, -EFBIG, "%s larger than %zu bytes", what, max);
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return base_err_fail(err, errlen, -EINVAL, "%s is not valid JSON: %.100s", what,
				     jerr.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return base_err_fail(err, errlen, -EINVAL, "%s is not a JSON object", what);
	}
	*ret = doc;
	return 0;
}

int oci_cosign_payload_check(const void *payload, size_t len, const char *digest, char *err,
			     size_t errlen)
{
	json_t *doc = NULL, *critical;
	const char *type, *signed_digest;
	int r;

	r = cosign_load(payload, len, OCI_COSIGN_MAX_PAYLOAD, "the signed payload", &doc, err,
			errlen);
	if (r < 0)
		return r;
	critical = json_object_get(doc, "critical");
	type = json_string_value(json_object_get(critical, "type"));
	signed_digest = json_string_value(
		json_object_get(json_object_get(critical, "image"), "docker-manifest-digest"));
	if (!json_is_object(critical))
		r = base_err_fail(err, errlen, -EINVAL,
				  "the signed payload has no \"critical\" "
				  "section");
	else if (!type || strcmp(type, OCI_COSIGN_PAYLOAD_TYPE))
		r = base_err_fail(err, errlen, -EINVAL,
				  "the signed payload is not a cosign container image signature");
	else if (!signed_digest || !oci_digest_is_sha256(signed_digest))
		r = base_err_fail(err, errlen, -EINVAL, "the signed payload names no image digest");
	else if (strcmp(signed_digest, digest))
		r = base_err_fail(err, errlen, -EBADMSG,
				  "the signature is for another image (%s), not %s", signed_digest,
				  digest);
	json_decref(doc);
	return r;
}

void oci_cosign_sigs_done(struct oci_cosign_sigs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].signature);
	memset(s, 0, sizeof(*s));
}

/* A descriptor's digest and size; -EINVAL when it has no usable ones. */
static int cosign_desc(json_t *o, char digest[OCI_DIGEST_SIZE], uint64_t *size)
{
	const char *d = json_string_value(json_object_get(o, "digest"));
	json_t *sz = json_object_get(o, "size");

	if (!d || !oci_digest_is_sha256(d) || !json_is_integer(sz) || json_integer_value(sz) < 0)
		return -EINVAL;
	snprintf(digest, OCI_DIGEST_SIZE, "%s", d);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}

int oci_cosign_manifest_parse(const void *buf, size_t len, struct oci_cosign_sigs *ret, char *err,
			      size_t errlen)
{
	struct oci_cosign_sigs s = {0};
	json_t *doc = NULL, *layers, *l;
	const char *mt;
	size_t i;
	int r;

	r = cosign_load(buf, len, OCI_COSIGN_MAX_MANIFEST, "the signature manifest", &doc, err,
			errlen);
	if (r < 0)
		return r;
	mt = json_string_value(json_object_get(doc, "mediaType"));
	layers = json_object_get(doc, "layers");
	if ((mt && strcmp(mt, OCI_MEDIA_TYPE_MANIFEST) &&
	     strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json")) ||
	    !json_is_array(layers)) {
		r = base_err_fail(err, errlen, -EINVAL,
				  "the signature manifest is not an image manifest");
		goto out;
	}
	s.n_layers = json_array_size(layers);
	json_array_foreach(layers, i, l)
	{
		struct oci_cosign_sig *sig = &s.v[s.n];
		const char *b64;
		char *dec = NULL;
		size_t dlen = 0;

		if (s.n == OCI_COSIGN_MAX_SIGNATURES)
			break;
		mt = json_string_value(json_object_get(l, "mediaType"));
		if (!mt || strcmp(mt, OCI_COSIGN_MEDIA_TYPE_PAYLOAD))
			continue;
		b64 = json_string_value(json_object_get(json_object_get(l, "annotations"),
							OCI_COSIGN_ANNOTATION_SIGNATURE));
		if (!b64)
			continue;
		if (cosign_desc(l, sig->payload_digest, &sig->payload_size) < 0) {
			r = base_err_fail(err, errlen, -EINVAL,
					  "signature %zu has no valid digest or size", i + 1);
			goto out;
		}
		if (sig->payload_size > OCI_COSIGN_MAX_PAYLOAD) {
			r = base_err_fail(err, errlen, -EINVAL,
					  "signature %zu signs a payload of %llu bytes (at most "
					  "%u)",
					  i + 1, (unsigned long long)sig->payload_size,
					  OCI_COSIGN_MAX_PAYLOAD);
			goto out;
		}
		if (strlen(b64) > (OCI_COSIGN_MAX_SIGNATURE + 2) / 3 * 4 ||
		    base_b64_decode(b64, strlen(b64), 0, &dec, &dlen, NULL, 0) < 0 || !dlen) {
			free(dec);
			r = base_err_fail(err, errlen, -EINVAL,
					  "signature %zu is not base64 of at most %d bytes", i + 1,
					  OCI_COSIGN_MAX_SIGNATURE);
			goto out;
		}
		sig->signature = (unsigned char *)dec;
		sig->signature_len = dlen;
		sig->layer = i;
		s.n++;
	}
	if (!s.n) {
		r = base_err_fail(err, errlen, -EINVAL,
				  "the signature manifest holds no cosign signature");
		goto out;
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
out:
	oci_cosign_sigs_done(&s);
	json_decref(doc);
	return r;
}

static json_t *cosign_descriptor(const char *media_type, const char *digest, uint64_t size)
{
	return json_pack("{s:s,s:I,s:s}", "mediaType", media_type, "size", (json_int_t)size,
			 "digest", digest);
}

static bool cosign_dropped(size_t i, const size_t *drop, size_t n_drop)
{
	for (size_t k = 0; k < n_drop; k++)
		if (drop[k] == i)
			return true;
	return false;
}

int oci_cosign_manifest_new(const void *old, size_t old_len, const size_t *drop, size_t n_drop,
			    const char *payload_digest, uint64_t payload_size,
			    const unsigned char *sig, size_t sig_len, char **ret_manifest,
			    size_t *ret_manifest_len, char **ret_config, size_t *ret_config_len)
{
	json_t *old_doc = NULL, *layers = NULL, *diff_ids = NULL, *history = NULL, *cfg = NULL;
	json_t *layer, *l, *man = NULL;
	char cfg_digest[OCI_DIGEST_SIZE], *b64 = NULL, *cfg_text = NULL;
	size_t cfg_len = 0, i;
	int r = -ENOMEM;

	if (!oci_digest_is_sha256(payload_digest) || !sig_len || sig_len > OCI_COSIGN_MAX_SIGNATURE)
		return -EINVAL;
	if (old) {
		r = cosign_load(old, old_len, OCI_COSIGN_MAX_MANIFEST, "the signature manifest",
				&old_doc, NULL, 0);
		if (r < 0)
			return r;
		r = -ENOMEM;
	}
	layers = json_array();
	diff_ids = json_array();
	history = json_array();
	if (!layers || !diff_ids || !history)
		goto out;
	json_array_foreach(json_object_get(old_doc, "layers"), i, l)
	{
		char d[OCI_DIGEST_SIZE];
		uint64_t sz;

		if (cosign_dropped(i, drop, n_drop))
			continue;
		if (cosign_desc(l, d, &sz) < 0) {
			r = -EINVAL;
			goto out;
		}
		if (json_array_append(layers, l) < 0 ||
		    json_array_append_new(diff_ids, json_string(d)) < 0 ||
		    json_array_append_new(history,
					  json_pack("{s:s}", "created", COSIGN_ZERO_TIME)) < 0)
			goto out;
	}
	if (base_b64_encode(sig, sig_len, &b64) < 0)
		goto out;
	layer = cosign_descriptor(OCI_COSIGN_MEDIA_TYPE_PAYLOAD, payload_digest, payload_size);
	if (!layer ||
	    json_object_set_new(layer, "annotations",
				json_pack("{s:s}", OCI_COSIGN_ANNOTATION_SIGNATURE, b64)) < 0 ||
	    json_array_append_new(layers, layer) < 0 ||
	    json_array_append_new(diff_ids, json_string(payload_digest)) < 0 ||
	    json_array_append_new(history, json_pack("{s:s}", "created", COSIGN_ZERO_TIME)) < 0)
		goto out;
	/* the config of go-containerregistry's empty image with these layers */
	cfg = json_pack("{s:s,s:s,s:O,s:s,s:{s:s,s:O},s:{}}", "architecture", "", "created",
			COSIGN_ZERO_TIME, "history", history, "os", "", "rootfs", "type", "layers",
			"diff_ids", diff_ids, "config");
	if (!cfg)
		goto out;
	r = cosign_dump(cfg, &cfg_text, &cfg_len);
	if (r < 0)
		goto out;
	r = oci_digest_buf(cfg_text, cfg_len, cfg_digest);
	if (r < 0)
		goto out;
	man = json_pack("{s:i,s:s,s:o,s:O}", "schemaVersion", 2, "mediaType",
			OCI_MEDIA_TYPE_MANIFEST, "config",
			cosign_descriptor(OCI_MEDIA_TYPE_IMAGE_CONFIG, cfg_digest, cfg_len),
			"layers", layers);
	r = cosign_dump(man, ret_manifest, ret_manifest_len);
	if (r == 0) {
		*ret_config = cfg_text;
		*ret_config_len = cfg_len;
		cfg_text = NULL;
	}
out:
	free(b64);
	free(cfg_text);
	json_decref(layers);
	json_decref(diff_ids);
	json_decref(history);
	json_decref(old_doc);
	return r;
}

int oci_cosign_referrers_parse(const void *buf, size_t len, struct oci_cosign_referrer *ret,
			       size_t max, char *err, size_t errlen)
{
	json_t *doc = NULL, *arr, *m;
	size_t i, n = 0;
	int r;

	if (max > OCI_COSIGN_MAX_REFERRERS)
		max = OCI_COSIGN_MAX_REFERRERS;
	r = cosign_load(buf, len, OCI_COSIGN_MAX_INDEX, "the referrers index", &doc, err, errlen);
	if (r < 0)
		return r;
	arr = json_object_get(doc, "manifests");
	if (!json_is_array(arr)) {
		json_decref(doc);
		return base_err_fail(err, errlen, -EINVAL,
				     "the referrers index has no manifests array");
	}
	json_array_foreach(arr, i, m)
	{
		const char *at = json_string_value(json_object_get(m, "artifactType"));

		if (n == max)
			break;
		if (!at || strcmp(at, OCI_COSIGN_ARTIFACT_TYPE))
			continue;
		if (cosign_desc(m, ret[n].digest, &ret[n].size) < 0 ||
		    ret[n].size > OCI_COSIGN_MAX_MANIFEST)
			continue;
		n++;
	}
	json_decref(doc);
	return (int)n;
}
