/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL's libcrypto, loaded with dlopen() on first use rather than linked.
 *
 * Only image signatures (oci/key.c) need public-key cryptography, and most
 * runs of ig verify nothing; linking libcrypto would map and relocate its
 * 4.5 MB for every start (digests come from nettle, which is small).  Code
 * that uses libcrypto includes this header instead of the OpenSSL headers
 * it would name, calls base_crypto_load() before its first call, and then
 * calls OpenSSL as usual: each function listed below becomes a call through
 * a pointer of that function's own declared type, so arguments are still
 * checked against OpenSSL's prototypes.
 *
 * Only functions of OpenSSL 3's stable API are named, by their real names
 * (EVP_PKEY_get_base_id, not the EVP_PKEY_base_id macro).
 */
#ifndef BASE_CRYPTO_H
#define BASE_CRYPTO_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* Every libcrypto function the tree calls; add a name here to call another. */
#define BASE_CRYPTO_FUNCS(X)                                                                       \
	X(BIO_free)                                                                                \
	X(BIO_new_mem_buf)                                                                         \
	X(ERR_clear_error)                                                                         \
	X(ERR_error_string_n)                                                                      \
	X(ERR_get_error)                                                                           \
	X(EVP_DigestSign)                                                                          \
	X(EVP_DigestSignInit)                                                                      \
	X(EVP_DigestVerify)                                                                        \
	X(EVP_DigestVerifyInit)                                                                    \
	X(EVP_MD_CTX_free)                                                                         \
	X(EVP_MD_CTX_new)                                                                          \
	X(EVP_PKEY_free)                                                                           \
	X(EVP_PKEY_get_base_id)                                                                    \
	X(EVP_PKEY_get_bits)                                                                       \
	X(EVP_PKEY_get_group_name)                                                                 \
	X(EVP_sha256)                                                                              \
	X(PEM_read_bio_PUBKEY)                                                                     \
	X(PEM_read_bio_PrivateKey)

/* Filled once by base_crypto_load(); use the OpenSSL names, not this table. */
struct base_crypto_fns {
#define BASE_CRYPTO_PTR(f) __typeof__(f) *p_##f;
	BASE_CRYPTO_FUNCS(BASE_CRYPTO_PTR)
#undef BASE_CRYPTO_PTR
};
extern struct base_crypto_fns base_crypto_fns;

/* Longest message base_crypto_load() writes. */
#define BASE_CRYPTO_ERRLEN 256

/*
 * Loads libcrypto the first time it is called in the process, from any
 * thread; later calls return the first result.  0 on success; -ELIBACC when
 * the library cannot be loaded, -ELIBBAD when it lacks a function named
 * above.  On failure the message for the user ("libcrypto.so.3 not found:
 * install libssl3") goes to err when err is not NULL.
 */
int base_crypto_load(char *err, size_t len);

/*
 * OpenSSL's reason for the last failure of this thread, for messages
 * ("unsupported", "bad decrypt"), into buf; the thread's error queue is
 * cleared.  "" when there is none.
 */
void base_crypto_last_error(char *buf, size_t len);

/* From here on the OpenSSL names call through the table. */
#define BIO_free		base_crypto_fns.p_BIO_free
#define BIO_new_mem_buf		base_crypto_fns.p_BIO_new_mem_buf
#define ERR_clear_error		base_crypto_fns.p_ERR_clear_error
#define ERR_error_string_n	base_crypto_fns.p_ERR_error_string_n
#define ERR_get_error		base_crypto_fns.p_ERR_get_error
#define EVP_DigestSign		base_crypto_fns.p_EVP_DigestSign
#define EVP_DigestSignInit	base_crypto_fns.p_EVP_DigestSignInit
#define EVP_DigestVerify	base_crypto_fns.p_EVP_DigestVerify
#define EVP_DigestVerifyInit	base_crypto_fns.p_EVP_DigestVerifyInit
#define EVP_MD_CTX_free		base_crypto_fns.p_EVP_MD_CTX_free
#define EVP_MD_CTX_new		base_crypto_fns.p_EVP_MD_CTX_new
#define EVP_PKEY_free		base_crypto_fns.p_EVP_PKEY_free
#define EVP_PKEY_get_base_id	base_crypto_fns.p_EVP_PKEY_get_base_id
#define EVP_PKEY_get_bits	base_crypto_fns.p_EVP_PKEY_get_bits
#define EVP_PKEY_get_group_name base_crypto_fns.p_EVP_PKEY_get_group_name
#define EVP_sha256		base_crypto_fns.p_EVP_sha256
#define PEM_read_bio_PUBKEY	base_crypto_fns.p_PEM_read_bio_PUBKEY
#define PEM_read_bio_PrivateKey base_crypto_fns.p_PEM_read_bio_PrivateKey

#endif /* BASE_CRYPTO_H */
