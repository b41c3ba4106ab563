/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys that sign gadget images: the public keys a verifier trusts and the
 * private key `ig image sign` signs with, over OpenSSL's libcrypto (loaded
 * on first use, base/crypto.h).
 *
 * The algorithms are those cosign and sigstore use with a key pair, as they
 * use them, so that signatures made by either side verify on the other:
 *
 *   ECDSA (P-256, P-384, P-521)  SHA-256, ASN.1 DER signature
 *   RSA (2048 bits or more)      SHA-256, PKCS #1 v1.5
 *   Ed25519                      the message itself (no pre-hash)
 *
 * Public keys are PEM "PUBLIC KEY" blocks (SubjectPublicKeyInfo), what
 * `openssl pkey -pubout` and `cosign generate-key-pair` write.  Inspektor
 * Gadget's --public-keys takes several of them as one string, separated by
 * commas ("$(cat a.pub),$(cat b.pub)"); oci_key_set_add() takes that form,
 * and also the path of a file holding one or more PEM blocks.  Private keys
 * are unencrypted PEM (PKCS #8 "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE
 * KEY"); cosign's own encrypted format is not read.
 *
 * A key that is not one of the above is refused when it is added, with the
 * reason, so a typo in a deployment shows at start and never as "not signed"
 * at run time.
 */
#ifndef OCI_KEY_H
#define OCI_KEY_H

#include <stddef.h>

/* Public keys one set holds. */
#define OCI_KEY_MAX_KEYS 64
/* Longest text oci_key_set_add() takes, and longest key file read. */
#define OCI_KEY_MAX_TEXT (256u << 10)
/* Longest signature produced or checked (RSA 16384 bits). */
#define OCI_KEY_MAX_SIGNATURE 2048
/* Smallest RSA key accepted. */
#define OCI_KEY_MIN_RSA_BITS 2048
/* Longest message a failure leaves. */
#define OCI_KEY_ERRLEN 512

struct oci_key_set;
struct oci_key;

/* Returns a new empty set in *ret; free with oci_key_set_free(). */
int oci_key_set_new(struct oci_key_set **ret);
struct oci_key_set *oci_key_set_free(struct oci_key_set *ks);

/*
 * Adds the keys of text: PEM public keys, one or more, separated by commas
 * or whitespace, or (an item without "-----BEGIN") the path of a file
 * holding some.  -EINVAL with the reason in err for anything else (naming
 * the item: "key 2: not a PEM public key"), -E2BIG past OCI_KEY_MAX_KEYS or
 * OCI_KEY_MAX_TEXT, -ELIBACC/-ELIBBAD when libcrypto cannot be loaded (err
 * says what to install).  Nothing is added on failure.
 */
int oci_key_set_add(struct oci_key_set *ks, const char *text, char *err, size_t errlen);
size_t oci_key_set_count(const struct oci_key_set *ks);
/* "ECDSA P-256"-like description of key i, for messages; borrowed. */
const char *oci_key_set_describe(const struct oci_key_set *ks, size_t i);

/*
 * Checks sig over data with each key: the index of the first key that
 * verifies it, or -EKEYREJECTED when none does.  The set is not changed, so
 * threads may share it.
 */
int oci_key_set_verify(const struct oci_key_set *ks, const void *sig, size_t sig_len,
		       const void *data, size_t len);

/*
 * Loads the private key in the PEM file at path.  -EINVAL (with err) when
 * it is not an unencrypted private key of the algorithms above, -ENOENT
 * and the like when it cannot be read.  Free with oci_key_free().
 */
int oci_key_load_private(const char *path, struct oci_key **ret, char *err, size_t errlen);
struct oci_key *oci_key_free(struct oci_key *k);
const char *oci_key_describe(const struct oci_key *k);
/* Signs data: a new buffer in *ret_sig (free()) of *ret_len bytes. */
int oci_key_sign(const struct oci_key *k, const void *data, size_t len, unsigned char **ret_sig,
		 size_t *ret_len);
/* 0 when sig over data verifies with the public half of k, -EKEYREJECTED if not. */
int oci_key_verify(const struct oci_key *k, const void *sig, size_t sig_len, const void *data,
		   size_t len);

#endif /* OCI_KEY_H */
