/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry credentials and authentication challenges.
 *
 * The credentials file has the format Docker, podman and skopeo share, so
 * one file can serve them all:
 *
 *   {"auths": {"localhost:5000": {"auth": "<base64 of user:password>"}}}
 *
 * Other keys, and other entries' fields, are preserved when the file is
 * rewritten.  It is written atomically (temporary file, fsync, rename) with
 * mode 0600, since it holds passwords, and its directory is created with
 * mode 0700 when missing.  Registry keys are matched after stripping a
 * scheme and a trailing path ("https://host/v1/" -> "host").
 *
 * WWW-Authenticate (RFC 7235 section 4.1, as registries send it):
 *
 *   Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"
 *   Basic realm="Registry Realm"
 *
 * Only the first challenge of a header is used; parameter values may be
 * quoted strings with backslash escapes or tokens.
 */
#ifndef OCI_AUTH_H
#define OCI_AUTH_H

#include <stddef.h>

#define OCI_AUTH_DEFAULT_FILE "/var/lib/ig/config.json"
/* Environment variable naming the file, as podman and skopeo use it. */
#define OCI_AUTH_FILE_ENV "REGISTRY_AUTH_FILE"
/* Largest credentials file read. */
#define OCI_AUTH_MAX_FILE     (1u << 20)
#define OCI_AUTH_MAX_USER     256
#define OCI_AUTH_MAX_PASSWORD 4096

/*
 * The credentials file to use: path when not NULL, else $REGISTRY_AUTH_FILE,
 * else OCI_AUTH_DEFAULT_FILE.  Borrowed.
 */
const char *oci_auth_file(const char *path);

/*
 * Looks up registry in the file at path.  Returns 1 and new strings in
 * *ret_user and *ret_password (free()) when found, 0 when the file or the
 * entry is absent (or has no "auth", as when a credential helper keeps
 * it), -EINVAL when the file is not valid JSON or the entry is malformed,
 * -EFBIG past OCI_AUTH_MAX_FILE; the message for the user is in err.  The
 * calls below leave a file they cannot parse untouched.
 */
int oci_auth_get(const char *path, const char *registry, char **ret_user, char **ret_password,
		 char *err, size_t errlen);
/*
 * Adds or replaces the entry for registry (an existing key that names the
 * same registry, such as "https://host/v1/", is updated in place).  -EINVAL
 * for an empty user name or one with ':', or a password longer than
 * OCI_AUTH_MAX_PASSWORD.
 */
int oci_auth_set(const char *path, const char *registry, const char *user, const char *password,
		 char *err, size_t errlen);
/*
 * Removes the entry for registry (every entry when registry is NULL).
 * Returns 1 if something was removed, 0 if there was nothing to remove.
 */
int oci_auth_remove(const char *path, const char *registry, char *err, size_t errlen);

/*
 * base64 of "user:password", the form the file's "auth" field and HTTP Basic
 * authentication carry, as a new string in *ret (free()).
 */
int oci_auth_encode_basic(const char *user, const char *password, char **ret);

enum oci_auth_scheme {
	OCI_AUTH_SCHEME_UNKNOWN = 0,
	OCI_AUTH_SCHEME_BASIC,
	OCI_AUTH_SCHEME_BEARER,
};

struct oci_auth_challenge {
	enum oci_auth_scheme scheme;
	char *realm;   /* NULL when absent */
	char *service; /* NULL when absent */
	char *scope;   /* NULL when absent */
};

/*
 * Parses a WWW-Authenticate header value of len bytes (no terminator
 * needed).  -EFBIG past OCI_REGISTRY_MAX_CHALLENGE bytes, -EINVAL when it
 * is malformed (a Bearer challenge without a realm included), and
 * -EOPNOTSUPP for a scheme other than Basic and Bearer (ret->scheme is set
 * to UNKNOWN then and the caller can name it).  *ret is zeroed on failure.
 * Free the strings with oci_auth_challenge_done(), which also takes a
 * zeroed or already freed challenge.
 */
int oci_auth_parse_challenge(const char *header, size_t len, struct oci_auth_challenge *ret);
void oci_auth_challenge_done(struct oci_auth_challenge *c);

#endif /* OCI_AUTH_H */
