// SPDX-License-Identifier: Apache-2.0
/*
 * Signing keys over libcrypto.  See key.h.
 *
 * The text of a key list is cut into PEM blocks here rather than handed to
 * OpenSSL's PEM reader as a whole: the reader skips anything that is not a
 * PEM block, so "a.pub,b.pub" (two paths given where PEM text was meant) or
 * a private key pasted by mistake would pass as "no more keys".  Every
 * block is checked for its label, and the text between blocks may only be
 * separators.
 */
#include "oci/key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/err.h"
#include "base/file.h"

#define KEY_BEGIN "-----BEGIN "
#define KEY_END	  "-----END "
#define KEY_DASH  "-----"

enum key_alg {
	KEY_ECDSA,
	KEY_RSA,
	KEY_ED25519,
};

struct key_one {
	EVP_PKEY *pkey;
	enum key_alg alg;
	char desc[48];
};

struct oci_key_set {
	struct key_one keys[OCI_KEY_MAX_KEYS];
	size_t n;
};

struct oci_key {
	struct key_one k;
};

static int key_load_lib(char *err, size_t errlen)
{
	char why[BASE_CRYPTO_ERRLEN];
	int r = base_crypto_load(why, sizeof(why));

	if (r < 0)
		return base_err_fail(err, errlen, r, "cannot check signatures: %s", why);
	return 0;
}

/*
 * Takes pkey if it is of an algorithm cosign signs with; fills k.  -EINVAL
 * with the reason otherwise (pkey is then the caller's to free).
 */
static int key_classify(EVP_PKEY *pkey, struct key_one *k, char *why, size_t len)
{
	char group[64] = "";
	size_t glen = 0;
	int bits = EVP_PKEY_get_bits(pkey);

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
			group[0] = '\0';
		if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
			snprintf(k->desc, sizeof(k->desc), "ECDSA P-256");
		else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
			snprintf(k->desc, sizeof(k->desc), "ECDSA P-384");
		else if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
			snprintf(k->desc, sizeof(k->desc), "ECDSA P-521");
		else {
			snprintf(why, len,
				 "the elliptic curve %s is not one cosign uses "
				 "(P-256, P-384, P-521)",
				 group[0] ? group : "(unnamed)");
			return -EINVAL;
		}
		k->alg = KEY_ECDSA;
		break;
	case EVP_PKEY_RSA:
		if (bits < OCI_KEY_MIN_RSA_BITS) {
			snprintf(why, len, "an RSA key of %d bits is too weak (at least %d)", bits,
				 OCI_KEY_MIN_RSA_BITS);
			return -EINVAL;
		}
		snprintf(k->desc, sizeof(k->desc), "RSA %d", bits);
		k->alg = KEY_RSA;
		break;
	case EVP_PKEY_ED25519:
		snprintf(k->desc, sizeof(k->desc), "Ed25519");
		k->alg = KEY_ED25519;
		break;
	default:
		snprintf(why, len, "not an ECDSA, RSA or Ed25519 key");
		return -EINVAL;
	}
	k->pkey = pkey;
	return 0;
}

/* One PEM block of text: [*start, *end) and its label, or 0 when none is left. */
struct key_block {
	const char *start, *end;
	const char *label;
	size_t label_len;
};

/*
 * Finds the next block at or after p (text up to end).  Returns 1 with b
 * filled, 0 when only separators remain, -EINVAL (with why) for other text
 * or a block without its END line.
 */
static int key_next_block(const char *p, const char *end, const char *seps, struct key_block *b,
			  char *why, size_t whylen)
{
	const char *begin, *eol, *fin, *close;
	size_t blen = strlen(KEY_BEGIN);

	while (p < end && *p && strchr(seps, *p))
		p++;
	if (p == end)
		return 0;
	if ((size_t)(end - p) < blen || memcmp(p, KEY_BEGIN, blen)) {
		snprintf(why, whylen, "not a PEM public key (no \"-----BEGIN PUBLIC KEY-----\")");
		return -EINVAL;
	}
	begin = p;
	b->label = p + blen;
	eol = memchr(b->label, '\n', (size_t)(end - b->label));
	if (!eol)
		eol = end;
	close = b->label;
	while (close + strlen(KEY_DASH) <= eol && memcmp(close, KEY_DASH, strlen(KEY_DASH)))
		close++;
	if (close + strlen(KEY_DASH) > eol) {
		snprintf(why, whylen, "a PEM header line without its closing dashes");
		return -EINVAL;
	}
	b->label_len = (size_t)(close - b->label);
	/* the END line, with the same label */
	fin = eol;
	for (;;) {
		fin = memmem(fin, (size_t)(end - fin), KEY_END, strlen(KEY_END));
		if (!fin) {
			snprintf(why, whylen, "a PEM block without its END line");
			return -EINVAL;
		}
		if ((size_t)(end - fin) >= strlen(KEY_END) + b->label_len + strlen(KEY_DASH) &&
		    !memcmp(fin + strlen(KEY_END), b->label, b->label_len) &&
		    !memcmp(fin + strlen(KEY_END) + b->label_len, KEY_DASH, strlen(KEY_DASH)))
			break;
		fin += strlen(KEY_END);
	}
	b->start = begin;
	b->end = fin + strlen(KEY_END) + b->label_len + strlen(KEY_DASH);
	return 1;
}

static bool key_label_is(const struct key_block *b, const char *label)
{
	return b->label_len == strlen(label) && !memcmp(b->label, label, b->label_len);
}

/* Parses one PUBLIC KEY block into k. */
static int key_parse_public(const struct key_block *b, struct key_one *k, char *why, size_t len)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	int r;

	if (!key_label_is(b, "PUBLIC KEY")) {
		if (b->label_len >= strlen("PRIVATE KEY") &&
		    !memcmp(b->label + b->label_len - strlen("PRIVATE KEY"), "PRIVATE KEY",
			    strlen("PRIVATE KEY")))
			snprintf(why, len,
				 "a private key, where the public key belongs (openssl "
				 "pkey -in KEY -pubout gives it)");
		else
			snprintf(why, len, "a PEM \"%.*s\" block, not a \"PUBLIC KEY\"",
				 (int)(b->label_len < 40 ? b->label_len : 40), b->label);
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(b->start, (int)(b->end - b->start));
	if (!bio)
		return -ENOMEM;
	ERR_clear_error();
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey) {
		char ossl[128];

		base_crypto_last_error(ossl, sizeof(ossl));
		snprintf(why, len, "an unreadable public key%s%s", ossl[0] ? ": " : "", ossl);
		return -EINVAL;
	}
	r = key_classify(pkey, k, why, len);
	if (r < 0)
		EVP_PKEY_free(pkey);
	return r;
}

/* The PEM blocks of [p, end) into the set, after what it holds (not yet counted). */
static int key_parse_blocks(struct oci_key_set *ks, size_t *n, const char *p, const char *end,
			    const char *seps, const char *what, char *err, size_t errlen)
{
	size_t found = 0;
	char why[256];
	int r;

	for (;;) {
		struct key_block b;

		r = key_next_block(p, end, seps, &b, why, sizeof(why));
		if (r < 0)
			return base_err_fail(err, errlen, -EINVAL, "%s: %s", what, why);
		if (r == 0)
			break;
		if (ks->n + *n == OCI_KEY_MAX_KEYS)
			return base_err_fail(err, errlen, -E2BIG, "more than %d public keys",
					     OCI_KEY_MAX_KEYS);
		r = key_parse_public(&b, &ks->keys[ks->n + *n], why, sizeof(why));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return base_err_fail(err, errlen, -EINVAL, "%s: %s", what, why);
		(*n)++;
		found++;
		p = b.end;
	}
	if (!found)
		return base_err_fail(err, errlen, -EINVAL, "%s: no public key in it", what);
	return 0;
}

int oci_key_set_new(struct oci_key_set **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct oci_key_set *oci_key_set_free(struct oci_key_set *ks)
{
	if (!ks)
		return NULL;
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	free(ks);
	return NULL;
}

size_t oci_key_set_count(const struct oci_key_set *ks)
{
	return ks ? ks->n : 0;
}

const char *oci_key_set_describe(const struct oci_key_set *ks, size_t i)
{
	return i < ks->n ? ks->keys[i].desc : "";
}

int oci_key_set_add(struct oci_key_set *ks, const char *text, char *err, size_t errlen)
{
	size_t added = 0, item = 0, tlen;
	const char *p, *end;
	int r;

	if (err && errlen)
		err[0] = '\0';
	tlen = strlen(text);
	if (tlen > OCI_KEY_MAX_TEXT)
		return base_err_fail(err, errlen, -E2BIG,
				     "the public keys are longer than %u bytes", OCI_KEY_MAX_TEXT);
	r = key_load_lib(err, errlen);
	if (r < 0)
		return r;
	p = text;
	end = text + tlen;
	/*
	 * Items are separated by commas; a PEM item may itself hold several
	 * blocks.  Base64 has no commas, so a comma is never inside a block.
	 */
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *iend = comma ? comma : end, *s = p, *e = iend;
		char what[300];

		while (s < e && strchr(" \t\r\n", *s))
			s++;
		while (e > s && strchr(" \t\r\n", e[-1]))
			e--;
		p = comma ? comma + 1 : end;
		if (s == e)
			continue;
		item++;
		if (memmem(s, (size_t)(e - s), KEY_BEGIN, strlen(KEY_BEGIN))) {
			snprintf(what, sizeof(what), "public key %zu", item);
			r = key_parse_blocks(ks, &added, s, e, " \t\r\n", what, err, errlen);
		} else {
			char path[4096], *buf = NULL;
			size_t len = 0;

			if ((size_t)(e - s) >= sizeof(path)) {
				r = base_err_fail(
					err, errlen, -EINVAL,
					"public key %zu: neither PEM text nor a file name", item);
				goto fail;
			}
			memcpy(path, s, (size_t)(e - s));
			path[e - s] = '\0';
			r = base_file_read(path, OCI_KEY_MAX_TEXT, &buf, &len);
			if (r < 0) {
				r = base_err_fail(err, errlen, r == -ENOMEM ? r : -EINVAL,
						  "public key %zu: %s: %s", item, path,
						  r == -EFBIG	 ? "file too large"
						  : r == -EINVAL ? "not a regular file"
								 : strerror(-r));
				goto fail;
			}
			snprintf(what, sizeof(what), "public key file %.200s", path);
			r = key_parse_blocks(ks, &added, buf, buf + len, " \t\r\n,", what, err,
					     errlen);
			free(buf);
		}
		if (r < 0)
			goto fail;
	}
	if (!added)
		return base_err_fail(err, errlen, -EINVAL, "no public key given");
	ks->n += added;
	return 0;
fail:
	for (size_t i = 0; i < added; i++) {
		EVP_PKEY_free(ks->keys[ks->n + i].pkey);
		ks->keys[ks->n + i] = (struct key_one){0};
	}
	return r;
}

/* 0 when sig over data verifies with k, -EKEYREJECTED when not, -ENOMEM. */
static int key_verify_one(const struct key_one *k, const void *sig, size_t sig_len,
			  const void *data, size_t len)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (!sig_len || sig_len > OCI_KEY_MAX_SIGNATURE)
		return -EKEYREJECTED;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, k->alg == KEY_ED25519 ? NULL : EVP_sha256(), NULL,
				  k->pkey) == 1 &&
	     EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	/* a failed check leaves reasons in the queue: not for the next caller */
	ERR_clear_error();
	return ok ? 0 : -EKEYREJECTED;
}

int oci_key_set_verify(const struct oci_key_set *ks, const void *sig, size_t sig_len,
		       const void *data, size_t len)
{
	for (size_t i = 0; ks && i < ks->n; i++) {
		int r = key_verify_one(&ks->keys[i], sig, sig_len, data, len);

		if (r == 0)
			return (int)i;
		if (r != -EKEYREJECTED)
			return r;
	}
	return -EKEYREJECTED;
}

/* ---- private keys ---- */

int oci_key_load_private(const char *path, struct oci_key **ret, char *err, size_t errlen)
{
	struct oci_key *k = NULL;
	struct key_block b;
	EVP_PKEY *pkey;
	char *buf = NULL, why[256];
	size_t len = 0;
	BIO *bio;
	int r;

	if (err && errlen)
		err[0] = '\0';
	r = key_load_lib(err, errlen);
	if (r < 0)
		return r;
	r = base_file_read_at(AT_FDCWD, path, OCI_KEY_MAX_TEXT, BASE_FILE_SECRET, &buf, &len);
	if (r < 0)
		return base_err_fail(err, errlen, r, "%s: %s", path,
				     r == -EFBIG    ? "file too large"
				     : r == -EINVAL ? "not a regular file"
						    : strerror(-r));
	r = key_next_block(buf, buf + len, " \t\r\n", &b, why, sizeof(why));
	if (r == 0)
		snprintf(why, sizeof(why), "empty");
	if (r == 1 && key_label_is(&b, "ENCRYPTED SIGSTORE PRIVATE KEY"))
		snprintf(why, sizeof(why),
			 "cosign's encrypted key format is not read: sign with "
			 "an unencrypted PEM key (openssl genpkey)");
	else if (r == 1 && key_label_is(&b, "ENCRYPTED PRIVATE KEY"))
		snprintf(why, sizeof(why),
			 "an encrypted key: decrypt it first (openssl pkey -in KEY -out PLAIN)");
	else if (r == 1 && !key_label_is(&b, "PRIVATE KEY") &&
		 !key_label_is(&b, "EC PRIVATE KEY") && !key_label_is(&b, "RSA PRIVATE KEY"))
		snprintf(why, sizeof(why), "a PEM \"%.*s\" block, not a private key",
			 (int)(b.label_len < 40 ? b.label_len : 40), b.label);
	else if (r == 1)
		r = 2; /* a private key block: read it */
	if (r != 2) {
		explicit_bzero(buf, len);
		free(buf);
		return base_err_fail(err, errlen, -EINVAL, "%s: %s", path, why);
	}
	bio = BIO_new_mem_buf(b.start, (int)(b.end - b.start));
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	ERR_clear_error();
	/* an empty passphrase callback: an encrypted key fails instead of prompting */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (!pkey) {
		char ossl[128];

		base_crypto_last_error(ossl, sizeof(ossl));
		r = base_err_fail(err, errlen, -EINVAL, "%s: an unreadable private key%s%s", path,
				  ossl[0] ? ": " : "", ossl);
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		r = -ENOMEM;
		goto out;
	}
	r = key_classify(pkey, &k->k, why, sizeof(why));
	if (r < 0) {
		EVP_PKEY_free(pkey);
		free(k);
		r = base_err_fail(err, errlen, r, "%s: %s", path, why);
		goto out;
	}
	*ret = k;
	r = 0;
out:
	explicit_bzero(buf, len);
	free(buf);
	return r;
}

struct oci_key *oci_key_free(struct oci_key *k)
{
	if (!k)
		return NULL;
	EVP_PKEY_free(k->k.pkey);
	free(k);
	return NULL;
}

const char *oci_key_describe(const struct oci_key *k)
{
	return k->k.desc;
}

int oci_key_sign(const struct oci_key *k, const void *data, size_t len, unsigned char **ret_sig,
		 size_t *ret_len)
{
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	EVP_MD_CTX *ctx;
	int r = -EIO;

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, k->k.alg == KEY_ED25519 ? NULL : EVP_sha256(), NULL,
			       k->k.pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1 || !sig_len ||
	    sig_len > OCI_KEY_MAX_SIGNATURE)
		goto out;
	sig = malloc(sig_len);
	if (!sig) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1) {
		free(sig);
		goto out;
	}
	*ret_sig = sig;
	*ret_len = sig_len;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int oci_key_verify(const struct oci_key *k, const void *sig, size_t sig_len, const void *data,
		   size_t len)
{
	return key_verify_one(&k->k, sig, sig_len, data, len);
}
