// SPDX-License-Identifier: Apache-2.0
/*
 * Image reference parser.  See ref.h for the grammar and the rules.
 *
 * The string is split from the right, the way the grammar is unambiguous:
 * everything after the first '@' is the digest, a ':' after the last '/' of
 * what remains starts the tag, and the first '/'-separated component of the
 * name is a registry only if it looks like a host.  Each piece is then
 * checked against its own production with small hand-written matchers, so
 * nothing here depends on a regex engine and every loop is bounded by the
 * input length, which is itself bounded by OCI_REF_MAX_LEN.
 */
#include "oci/ref.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "oci/digest.h"

static bool ref_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ref_is_alnum_any(char c)
{
	return ref_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ref_is_lower_alnum(char c)
{
	return ref_is_digit(c) || (c >= 'a' && c <= 'z');
}

static bool ref_is_hex(char c)
{
	return ref_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* port-number := [0-9]+ (at most 5 digits: the port is 16 bits) */
static bool ref_valid_port(const char *s, size_t n)
{
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ref_is_digit(s[i]))
			return false;
	return true;
}

/*
 * host [":" port], host being a DNS name of components
 * [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? joined by '.', or "[" IPv6 "]".
 */
static bool ref_valid_registry(const char *s, size_t n)
{
	size_t i = 0, host_end;
	const char *colon;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!ref_is_hex(*p) && *p != ':' && *p != '.')
				return false;
		host_end = close - s + 1;
		if (host_end == n)
			return true;
		return s[host_end] == ':' && ref_valid_port(s + host_end + 1, n - host_end - 1);
	}
	colon = memchr(s, ':', n);
	host_end = colon ? (size_t)(colon - s) : n;
	if (colon && !ref_valid_port(colon + 1, n - host_end - 1))
		return false;
	while (i < host_end) {
		size_t start = i;

		while (i < host_end && (ref_is_alnum_any(s[i]) || s[i] == '-'))
			i++;
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		if (i < host_end) {
			if (s[i] != '.' || i + 1 == host_end)
				return false;
			i++;
		}
	}
	return host_end > 0;
}

/*
 * path-component := [a-z0-9]+ (separator [a-z0-9]+)*
 * separator      := "." | "_" | "__" | "-"+
 * path           := path-component ("/" path-component)*
 */
static bool ref_valid_repository(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	while (i < n) {
		if (!ref_is_lower_alnum(s[i]))
			return false; /* a component starts with an alphanumeric */
		while (i < n && s[i] != '/') {
			size_t sep_start;

			while (i < n && ref_is_lower_alnum(s[i]))
				i++;
			if (i == n || s[i] == '/')
				break;
			sep_start = i;
			while (i < n && (s[i] == '.' || s[i] == '_' || s[i] == '-'))
				i++;
			if (i == n || !ref_is_lower_alnum(s[i]))
				return false;
			if (s[sep_start] == '-') {
				for (size_t j = sep_start; j < i; j++)
					if (s[j] != '-')
						return false;
			} else if (!(i - sep_start == 1 ||
				     (i - sep_start == 2 && s[sep_start] == '_' &&
				      s[sep_start + 1] == '_'))) {
				return false;
			}
		}
		if (i < n) {
			i++; /* the '/' */
			if (i == n)
				return false;
		}
	}
	return true;
}

/* tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool ref_valid_tag(const char *s, size_t n)
{
	if (n == 0 || n > OCI_REF_TAG_MAX_LEN || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ref_is_alnum_any(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* A first path component that names a host rather than a repository. */
static bool ref_is_registry_part(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n > 0 && s[0] == '[') ||
	       (n == strlen("localhost") && !memcmp(s, "localhost", n));
}

struct oci_ref *oci_ref_free(struct oci_ref *r)
{
	if (!r)
		return NULL;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	free(r);
	return NULL;
}

int oci_ref_parse(const char *s, struct oci_ref **ret)
{
	const char *at, *slash, *colon, *name_end;
	const char *repo = s;
	struct oci_ref *r;
	size_t len;

	if (!s)
		return -EINVAL;
	len = strnlen(s, OCI_REF_MAX_LEN + 1);
	if (len == 0 || len > OCI_REF_MAX_LEN)
		return -EINVAL;

	at = strchr(s, '@');
	name_end = at ? at : s + len;
	if (at && oci_digest_check(at + 1) < 0)
		return -EINVAL;

	/* A ':' after the last '/' starts the tag; one before it is a port. */
	colon = NULL;
	for (const char *p = name_end; p > s; p--) {
		if (p[-1] == '/')
			break;
		if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	}
	if (colon) {
		if (!ref_valid_tag(colon + 1, name_end - colon - 1))
			return -EINVAL;
		name_end = colon;
	}
	if (name_end - s > OCI_REF_NAME_MAX_LEN)
		return -EINVAL;

	slash = memchr(s, '/', name_end - s);
	if (slash && ref_is_registry_part(s, slash - s)) {
		if (!ref_valid_registry(s, slash - s))
			return -EINVAL;
		repo = slash + 1;
	}
	if (!ref_valid_repository(repo, name_end - repo))
		return -EINVAL;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (repo != s && !(r->registry = strndup(s, repo - 1 - s)))
		goto nomem;
	if (!(r->repository = strndup(repo, name_end - repo)))
		goto nomem;
	if (colon)
		r->tag = strndup(colon + 1, (at ? at : s + len) - colon - 1);
	else if (!at)
		r->tag = strdup(OCI_REF_DEFAULT_TAG);
	if ((colon || !at) && !r->tag)
		goto nomem;
	if (at && !(r->digest = strdup(at + 1)))
		goto nomem;
	*ret = r;
	return 0;
nomem:
	oci_ref_free(r);
	return -ENOMEM;
}

static int ref_format(const struct oci_ref *r, bool full, char **ret)
{
	struct base_buf b = BASE_BUF_INIT(OCI_REF_MAX_LEN + 1);
	int err = 0;

	if (!r || !r->repository)
		return -EINVAL;
	if (r->registry) {
		err = base_buf_puts(&b, r->registry);
		if (!err)
			err = base_buf_putc(&b, '/');
	}
	if (!err)
		err = base_buf_puts(&b, r->repository);
	if (!err && full && r->tag)
		err = base_buf_printf(&b, ":%s", r->tag);
	if (!err && full && r->digest)
		err = base_buf_printf(&b, "@%s", r->digest);
	if (err) {
		base_buf_done(&b);
		return err;
	}
	*ret = base_buf_take(&b);
	return 0;
}

int oci_ref_format(const struct oci_ref *r, char **ret)
{
	return ref_format(r, true, ret);
}

int oci_ref_format_name(const struct oci_ref *r, char **ret)
{
	return ref_format(r, false, ret);
}
