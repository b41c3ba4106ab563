// SPDX-License-Identifier: Apache-2.0
/*
 * Registry credentials file and WWW-Authenticate challenges.  See auth.h.
 *
 * The file is shared with other tools (podman, skopeo, docker), so it is
 * edited, never regenerated: the JSON tree is read, one entry changed and
 * the whole tree written back, keeping keys and fields we do not know.  A
 * file we cannot parse is left alone rather than replaced by our view of it.
 */
#include "oci/auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "oci/registry.h"

/* Longest "auth" value: base64 of user ":" password. */
#define AUTH_MAX_B64 (((OCI_AUTH_MAX_USER + 1 + OCI_AUTH_MAX_PASSWORD) + 2) / 3 * 4)
/* Longest registry key compared (host, port, and a path we strip). */
#define AUTH_MAX_KEY 512

static int auth_fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int auth_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	if (err && errlen)
		base_log_debug("oci auth: %s", err);
	return r;
}

const char *oci_auth_file(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	env = getenv(OCI_AUTH_FILE_ENV);
	if (env && *env)
		return env;
	return OCI_AUTH_DEFAULT_FILE;
}

/* ---- HTTP Basic ---- */

int oci_auth_encode_basic(const char *user, const char *password, char **ret)
{
	size_t ulen = strlen(user), plen = strlen(password);
	char *plain, *b64;
	int r;

	plain = malloc(ulen + 1 + plen + 1);
	if (!plain)
		return -ENOMEM;
	memcpy(plain, user, ulen);
	plain[ulen] = ':';
	memcpy(plain + ulen + 1, password, plen + 1);
	r = base_b64_encode(plain, ulen + 1 + plen, &b64);
	explicit_bzero(plain, ulen + 1 + plen);
	free(plain);
	if (r < 0)
		return r;
	*ret = b64;
	return 0;
}

/* ---- the file ---- */

/*
 * "https://host:5000/v1/" -> "host:5000"; Docker Hub's several names are
 * one registry.
 */
static void auth_normalize(const char *key, char *out, size_t outlen)
{
	const char *p = key;
	size_t n;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	n = strcspn(p, "/");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!strcmp(out, "index.docker.io") || !strcmp(out, "registry-1.docker.io"))
		snprintf(out, outlen, "docker.io");
}

static bool auth_key_matches(const char *key, const char *registry)
{
	char a[AUTH_MAX_KEY], b[AUTH_MAX_KEY];

	auth_normalize(key, a, sizeof(a));
	auth_normalize(registry, b, sizeof(b));
	return !strcmp(a, b);
}

/*
 * Reads and parses the file: 0 and the tree (an object with an "auths"
 * object), -ENOENT when absent, else an error with the message in err.
 */
static int auth_load(const char *path, json_t **ret, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *auths;
	size_t len = 0;
	char *buf;
	int r;

	r = base_file_read_at(AT_FDCWD, path, OCI_AUTH_MAX_FILE, BASE_FILE_SECRET, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r == -EISDIR || r == -EINVAL)
		return auth_fail(err, errlen, -EINVAL, "%s is not a regular file", path);
	if (r == -EFBIG)
		return auth_fail(err, errlen, r, "%s is larger than %u bytes", path,
				 OCI_AUTH_MAX_FILE);
	if (r < 0)
		return auth_fail(err, errlen, r, "cannot read %s: %s", path, strerror(-r));
	/* An empty file is how some tools create it: the same as no entries. */
	if (len == 0) {
		free(buf);
		root = json_pack("{s:{}}", "auths");
		if (!root)
			return -ENOMEM;
		*ret = root;
		return 0;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(buf, len);
	free(buf);
	if (!root)
		return auth_fail(err, errlen, -EINVAL, "%s: invalid JSON at line %d: %s", path,
				 jerr.line, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return auth_fail(err, errlen, -EINVAL, "%s: not a JSON object", path);
	}
	auths = json_object_get(root, "auths");
	if (!auths) {
		if (json_object_set_new(root, "auths", json_object()) < 0) {
			json_decref(root);
			return -ENOMEM;
		}
	} else if (!json_is_object(auths)) {
		json_decref(root);
		return auth_fail(err, errlen, -EINVAL, "%s: \"auths\" is not an object", path);
	}
	*ret = root;
	return 0;
}

static int auth_mkdir_p(const char *path)
{
	char dir[PATH_MAX];
	size_t len;
	char *slash;

	len = strlen(path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Writes the tree to path: temporary file (0600), fsync, rename, fsync of the directory. */
static int auth_save(const char *path, json_t *root, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *out;
	char *slash;
	int fd, dfd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
		return auth_fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	r = auth_mkdir_p(path);
	if (r < 0)
		return auth_fail(err, errlen, r, "cannot create the directory of %s: %s", path,
				 strerror(-r));
	out = json_dumps(root, JSON_INDENT(4));
	if (!out)
		return -ENOMEM;
	/* mkostemp creates the file with mode 0600: no moment where others can read it. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		explicit_bzero(out, strlen(out));
		free(out);
		return auth_fail(err, errlen, r, "cannot write %s: %s", path, strerror(-r));
	}
	r = base_file_write_all(fd, out, strlen(out));
	if (r == 0)
		r = base_file_write_all(fd, "\n", 1);
	if (r == 0 && fchmod(fd, 0600) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	explicit_bzero(out, strlen(out));
	free(out);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return auth_fail(err, errlen, r, "cannot write %s: %s", path, strerror(-r));
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* The key of auths matching registry, or NULL. */
static const char *auth_find(json_t *auths, const char *registry)
{
	const char *key;
	json_t *v;

	/* An exact key wins over one that only normalizes to the same host. */
	if (json_object_get(auths, registry))
		return json_object_iter_key(json_object_iter_at(auths, registry));
	json_object_foreach(auths, key, v)
	{
		if (auth_key_matches(key, registry))
			return key;
	}
	return NULL;
}

static int auth_dup_bounded(const char *s, size_t len, size_t max, char **ret)
{
	if (len > max || memchr(s, '\0', len))
		return -EINVAL;
	*ret = strndup(s, len);
	return *ret ? 0 : -ENOMEM;
}

int oci_auth_get(const char *path, const char *registry, char **ret_user, char **ret_password,
		 char *err, size_t errlen)
{
	char *decoded = NULL, *user = NULL, *password = NULL, *colon;
	json_t *root = NULL, *entry, *auth;
	char why[64];
	const char *key;
	size_t len = 0;
	int r;

	r = auth_load(path, &root, err, errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	key = auth_find(json_object_get(root, "auths"), registry);
	if (!key) {
		json_decref(root);
		return 0;
	}
	entry = json_object_get(json_object_get(root, "auths"), key);
	auth = json_object_get(entry, "auth");
	if (!json_is_object(entry) || (auth && !json_is_string(auth))) {
		r = auth_fail(err, errlen, -EINVAL, "%s: the entry for %s is malformed", path, key);
		goto out;
	}
	if (!auth || json_string_length(auth) == 0) {
		/* Kept by a credential helper elsewhere: nothing for us here. */
		r = 0;
		goto out;
	}
	if (json_string_length(auth) > AUTH_MAX_B64) {
		r = auth_fail(err, errlen, -EINVAL, "%s: the credentials for %s are too long", path,
			      key);
		goto out;
	}
	r = base_b64_decode(json_string_value(auth), json_string_length(auth), 0, &decoded, &len,
			    why, sizeof(why));
	if (r == -EINVAL)
		base_log_debug("oci auth: %s: the credentials for %s: %s", path, key, why);
	colon = r == 0 ? memchr(decoded, ':', len) : NULL;
	if (r == -ENOMEM)
		goto out;
	if (r < 0 || !colon) {
		r = auth_fail(err, errlen, -EINVAL,
			      "%s: the credentials for %s are not base64 of user:password", path,
			      key);
		goto out;
	}
	r = auth_dup_bounded(decoded, colon - decoded, OCI_AUTH_MAX_USER, &user);
	if (r == 0)
		r = auth_dup_bounded(colon + 1, len - (colon + 1 - decoded), OCI_AUTH_MAX_PASSWORD,
				     &password);
	if (r == -EINVAL)
		auth_fail(err, errlen, r, "%s: the credentials for %s are malformed", path, key);
	if (r < 0)
		goto out;
	*ret_user = user;
	*ret_password = password;
	user = password = NULL;
	r = 1;
out:
	if (decoded) {
		explicit_bzero(decoded, len);
		free(decoded);
	}
	free(user);
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	json_decref(root);
	return r;
}

static bool auth_valid_registry(const char *registry)
{
	size_t len = strlen(registry);

	if (len == 0 || len >= AUTH_MAX_KEY)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)registry[i]))
			return false;
	return true;
}

int oci_auth_set(const char *path, const char *registry, const char *user, const char *password,
		 char *err, size_t errlen)
{
	json_t *root = NULL, *auths, *entry;
	char *b64 = NULL;
	size_t ulen, plen;
	const char *key;
	int r;

	if (!registry || !auth_valid_registry(registry))
		return auth_fail(err, errlen, -EINVAL, "invalid registry name");
	ulen = strlen(user);
	plen = strlen(password);
	if (ulen == 0 || ulen > OCI_AUTH_MAX_USER || strchr(user, ':'))
		return auth_fail(err, errlen, -EINVAL,
				 "the user name must be 1 to %u characters without ':'",
				 OCI_AUTH_MAX_USER);
	if (plen > OCI_AUTH_MAX_PASSWORD)
		return auth_fail(err, errlen, -EINVAL, "the password is longer than %u bytes",
				 OCI_AUTH_MAX_PASSWORD);
	r = auth_load(path, &root, err, errlen);
	if (r == -ENOENT) {
		root = json_pack("{s:{}}", "auths");
		r = root ? 0 : -ENOMEM;
	}
	if (r < 0)
		return r;
	r = oci_auth_encode_basic(user, password, &b64);
	if (r < 0)
		goto out;
	auths = json_object_get(root, "auths");
	key = auth_find(auths, registry);
	entry = key ? json_object_get(auths, key) : NULL;
	if (entry && json_is_object(entry)) {
		/* Keep the entry's other fields; fields that also carry a password go. */
		json_object_del(entry, "username");
		json_object_del(entry, "password");
		json_object_del(entry, "identitytoken");
		r = json_object_set_new(entry, "auth", json_string(b64));
	} else {
		r = json_object_set_new(auths, key ? key : registry,
					json_pack("{s:s}", "auth", b64));
	}
	if (r < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = auth_save(path, root, err, errlen);
out:
	if (b64) {
		explicit_bzero(b64, strlen(b64));
		free(b64);
	}
	json_decref(root);
	return r;
}

int oci_auth_remove(const char *path, const char *registry, char *err, size_t errlen)
{
	json_t *root = NULL, *auths;
	const char *key;
	int removed = 0, r;

	r = auth_load(path, &root, err, errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	auths = json_object_get(root, "auths");
	if (!registry) {
		removed = json_object_size(auths) > 0;
		json_object_clear(auths);
	} else {
		/* Every spelling of the registry goes ("host" and "https://host/v1/"). */
		while ((key = auth_find(auths, registry))) {
			json_object_del(auths, key);
			removed = 1;
		}
	}
	if (removed)
		r = auth_save(path, root, err, errlen);
	json_decref(root);
	return r < 0 ? r : removed;
}

/* ---- WWW-Authenticate ---- */

/* RFC 7230 section 3.2.6 tchar. */
static bool auth_is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct auth_lex {
	const char *p, *end;
};

static void auth_skip_ows(struct auth_lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
		l->p++;
}

/* A token; returns its length (0 if none). */
static size_t auth_token(struct auth_lex *l, const char **start)
{
	*start = l->p;
	while (l->p < l->end && auth_is_tchar(*l->p))
		l->p++;
	return l->p - *start;
}

/*
 * A token68 (RFC 7235 section 2.1): token characters plus "/" and trailing
 * "=".  Only skipped over, since no scheme we speak uses one.
 */
static size_t auth_token68(struct auth_lex *l)
{
	const char *start = l->p;

	while (l->p < l->end && (isalnum((unsigned char)*l->p) || strchr("-._~+/", *l->p)))
		l->p++;
	while (l->p < l->end && *l->p == '=')
		l->p++;
	return l->p - start;
}

/* A quoted-string (the opening quote at l->p) into a new unescaped string. */
static int auth_quoted(struct auth_lex *l, char **ret)
{
	const char *p = l->p + 1;
	size_t o = 0;
	char *out;

	out = malloc(l->end - l->p);
	if (!out)
		return -ENOMEM;
	while (p < l->end && *p != '"') {
		char c = *p;

		if (c == '\\') {
			if (++p >= l->end)
				break;
			c = *p;
		}
		/* qdtext and quoted-pair allow HTAB, SP, VCHAR and obs-text only. */
		if ((unsigned char)c < 0x20 && c != '\t') {
			free(out);
			return -EINVAL;
		}
		if (c == 0x7f) {
			free(out);
			return -EINVAL;
		}
		out[o++] = c;
		p++;
	}
	if (p >= l->end) {
		free(out);
		return -EINVAL;
	}
	out[o] = '\0';
	l->p = p + 1;
	*ret = out;
	return 0;
}

static char **auth_param_slot(struct oci_auth_challenge *c, const char *name, size_t len)
{
	if (len == 5 && !strncasecmp(name, "realm", 5))
		return &c->realm;
	if (len == 7 && !strncasecmp(name, "service", 7))
		return &c->service;
	if (len == 5 && !strncasecmp(name, "scope", 5))
		return &c->scope;
	return NULL;
}

/*
 * True if what follows is another auth-param ("name ="), false if it is
 * the next challenge ("Scheme ...") or the end.
 */
static bool auth_next_is_param(const struct auth_lex *l)
{
	struct auth_lex peek = *l;
	const char *start;

	if (auth_token(&peek, &start) == 0)
		return false;
	auth_skip_ows(&peek);
	return peek.p < peek.end && *peek.p == '=';
}

static int auth_parse_params(struct auth_lex *l, struct oci_auth_challenge *c)
{
	for (;;) {
		const char *name;
		char *value = NULL, **slot;
		size_t nlen;
		int r;

		auth_skip_ows(l);
		if (l->p >= l->end)
			return 0;
		nlen = auth_token(l, &name);
		if (nlen == 0)
			return -EINVAL;
		auth_skip_ows(l);
		if (l->p >= l->end || *l->p != '=')
			return -EINVAL;
		l->p++;
		auth_skip_ows(l);
		if (l->p < l->end && *l->p == '"') {
			r = auth_quoted(l, &value);
			if (r < 0)
				return r;
		} else {
			const char *v;
			size_t vlen = auth_token(l, &v);

			if (vlen == 0)
				return -EINVAL;
			value = strndup(v, vlen);
			if (!value)
				return -ENOMEM;
		}
		slot = auth_param_slot(c, name, nlen);
		if (slot && *slot) {
			/* RFC 7235: each parameter name only once per challenge. */
			free(value);
			return -EINVAL;
		}
		if (slot)
			*slot = value;
		else
			free(value);
		auth_skip_ows(l);
		if (l->p >= l->end)
			return 0;
		if (*l->p != ',')
			return -EINVAL;
		/* Empty list elements ("a=b, ,c=d") are allowed by the list rule. */
		while (l->p < l->end && (*l->p == ',' || *l->p == ' ' || *l->p == '\t'))
			l->p++;
		if (l->p >= l->end || !auth_next_is_param(l))
			return 0; /* the next challenge starts here: not ours */
	}
}

void oci_auth_challenge_done(struct oci_auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (struct oci_auth_challenge){0};
}

int oci_auth_parse_challenge(const char *header, size_t len, struct oci_auth_challenge *ret)
{
	struct oci_auth_challenge c = {0};
	struct auth_lex l;
	const char *scheme;
	size_t slen;
	int r;

	*ret = (struct oci_auth_challenge){0};
	if (!header)
		return -EINVAL;
	if (len > OCI_REGISTRY_MAX_CHALLENGE)
		return -EFBIG;
	l = (struct auth_lex){.p = header, .end = header + len};
	/* Leading empty list elements are allowed too. */
	while (l.p < l.end && (*l.p == ',' || *l.p == ' ' || *l.p == '\t'))
		l.p++;
	slen = auth_token(&l, &scheme);
	if (slen == 0)
		return -EINVAL;
	if (slen == 5 && !strncasecmp(scheme, "Basic", 5))
		c.scheme = OCI_AUTH_SCHEME_BASIC;
	else if (slen == 6 && !strncasecmp(scheme, "Bearer", 6))
		c.scheme = OCI_AUTH_SCHEME_BEARER;
	if (c.scheme == OCI_AUTH_SCHEME_UNKNOWN)
		return -EOPNOTSUPP;
	if (l.p < l.end && *l.p != ' ' && *l.p != '\t' && *l.p != ',')
		return -EINVAL;
	auth_skip_ows(&l);
	if (l.p < l.end && *l.p == ',') {
		/*
		 * "Bearer ,realm=..." is an empty list element before the
		 * parameters; "Basic, Bearer realm=..." ends a challenge that
		 * has none.  What follows the commas tells them apart.
		 */
		struct auth_lex peek = l;

		while (peek.p < peek.end && (*peek.p == ',' || *peek.p == ' ' || *peek.p == '\t'))
			peek.p++;
		if (auth_next_is_param(&peek)) {
			l = peek;
			r = auth_parse_params(&l, &c);
			if (r < 0) {
				oci_auth_challenge_done(&c);
				return r;
			}
		}
	} else if (l.p < l.end && auth_next_is_param(&l)) {
		r = auth_parse_params(&l, &c);
		if (r < 0) {
			oci_auth_challenge_done(&c);
			return r;
		}
	} else if (l.p < l.end) {
		/* "Scheme token68": legal, but neither Basic nor Bearer challenges use it. */
		if (auth_token68(&l) == 0)
			return -EINVAL;
		auth_skip_ows(&l);
		if (l.p < l.end && *l.p != ',')
			return -EINVAL;
	}
	if (c.scheme == OCI_AUTH_SCHEME_BEARER && (!c.realm || !*c.realm)) {
		oci_auth_challenge_done(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}
