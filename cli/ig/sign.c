// SPDX-License-Identifier: Apache-2.0
/*
 * ig image sign and ig image verify: cosign-format signatures of the images
 * in the local store, so that users need no other tool to sign what their
 * clusters verify.
 *
 *   ig image sign REF --key key.pem          adds a signature (tag scheme)
 *   ig image verify REF --public-keys KEYS   checks it (store, then registry)
 *
 * The signature is kept in the store as REF's repository tagged
 * sha256-<hex>.sig; `ig image push REF` pushes it with the image.  The work
 * is oci/signature.c's; this file reads the command line and reports once.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/key.h"
#include "oci/ref.h"
#include "oci/signature.h"
#include "oci/store.h"

enum sign_opt_id {
	S_STORE = IG_OPT_COMMAND_FIRST,
	S_KEY,
	S_PUBLIC_KEYS,
	S_HELP,
};

static const struct base_opt sign_opts[] = {
	{"key", 0, BASE_OPT_VALUE, S_KEY, "FILE",
	 "the private key, unencrypted PEM (openssl genpkey -algorithm EC -pkeyopt "
	 "ec_paramgen_curve:P-256)",
	 1},
	{"public-keys", 0, BASE_OPT_VALUE, S_PUBLIC_KEYS, "KEYS",
	 "PEM public keys joined by commas (\"$(cat a.pub),$(cat b.pub)\"), or files", 2},
	{"store", 0, BASE_OPT_VALUE, S_STORE, "DIR",
	 "local image store (default: $IG_OCI_STORE, else " OCI_STORE_DEFAULT_DIR ")", 0},
	{"help", 'h', BASE_OPT_SWITCH, S_HELP, NULL, "show this help", 0},
};

#define SIGN_TAG   1u
#define VERIFY_TAG 2u

struct sign_args {
	const char *store;
	const char *key;
	const char *public_keys;
	const char *image;
	bool help;
	struct ig_registry_flags reg;
};

static void sign_usage(FILE *out, bool verify)
{
	struct base_opt_table t[2] = {
		{.opts = sign_opts,
		 .n = sizeof(sign_opts) / sizeof(sign_opts[0]),
		 .tags = verify ? VERIFY_TAG : SIGN_TAG},
		{.opts = ig_registry_opts, .n = ig_registry_opts_len},
	};

	if (verify)
		fprintf(out,
			"Usage: ig image verify IMAGE --public-keys KEYS [options]\n\n"
			"Checks that IMAGE, in the local store, is signed by one of KEYS, in\n"
			"cosign's formats: its signature is looked for in the store, then, for\n"
			"an image with a registry, in the registry (tag sha256-<hex>.sig, OCI 1.1\n"
			"referrers).  A signature found there that verifies is kept in the "
			"store.\n\n"
			"Options:\n");
	else
		fprintf(out, "Usage: ig image sign IMAGE --key FILE [options]\n\n"
			     "Signs IMAGE, in the local store, as cosign does: the signature is\n"
			     "stored as the image's repository tagged sha256-<hex>.sig, which\n"
			     "'ig image push IMAGE' pushes along with the image.  Signing again\n"
			     "with the same key replaces its signature; other keys' signatures\n"
			     "are kept.\n\nOptions:\n");
	base_opt_help(out, t, verify ? 2 : 1);
}

/* argv[0] is the verb; -1 to go on, else the exit code. */
static int sign_parse(int argc, char **argv, bool verify, struct sign_args *a)
{
	struct base_opt_table t[2] = {
		{.opts = sign_opts,
		 .n = sizeof(sign_opts) / sizeof(sign_opts[0]),
		 .tags = verify ? VERIFY_TAG : SIGN_TAG},
		{.opts = ig_registry_opts, .n = ig_registry_opts_len},
	};
	char err[256];

	for (int i = 1; i < argc; i++) {
		const struct base_opt *o = NULL;
		const char *v = NULL;
		int r = base_opt_next(t, verify ? 2 : 1, argc, argv, &i, &o, &v, err, sizeof(err));

		if (r < 0) {
			ig_error("%s", err);
			return IG_EXIT_USAGE;
		}
		if (r == BASE_OPT_WORD && !a->image) {
			a->image = argv[i];
			continue;
		}
		if (r != BASE_OPT_MATCHED) {
			ig_error("unexpected argument '%s' (see 'ig image %s --help')", argv[i],
				 argv[0]);
			return IG_EXIT_USAGE;
		}
		if (ig_registry_set(&a->reg, o, v))
			continue;
		switch (o->id) {
		case S_STORE:
			a->store = v;
			break;
		case S_KEY:
			a->key = v;
			break;
		case S_PUBLIC_KEYS:
			a->public_keys = v;
			break;
		case S_HELP:
			sign_usage(stdout, verify);
			return IG_EXIT_OK;
		}
	}
	if (!a->image || (verify ? !a->public_keys : !a->key)) {
		ig_error("ig image %s needs an image and %s (see 'ig image %s --help')", argv[0],
			 verify ? "--public-keys" : "--key", argv[0]);
		return IG_EXIT_USAGE;
	}
	return -1;
}

static int sign_last(void *userdata, const char *media_type, const char *digest, uint64_t size)
{
	snprintf(userdata, OCI_DIGEST_SIZE, "%s", digest);
	return 0;
}

/* The store, the image's canonical reference and name, and its top digest. */
static int sign_open(const struct sign_args *a, struct oci_store **s, char **canonical, char **name,
		     char digest[OCI_DIGEST_SIZE])
{
	const char *dir = ig_store_dir(a->store);
	struct oci_ref *ref = NULL;
	int r;

	r = oci_ref_parse(a->image, &ref);
	if (r == 0)
		r = oci_ref_format(ref, canonical);
	if (r == 0)
		r = oci_ref_format_name(ref, name);
	oci_ref_free(ref);
	if (r < 0) {
		ig_error("invalid image reference '%s'", a->image);
		return r;
	}
	r = oci_store_open(dir, s);
	if (r < 0) {
		ig_error("cannot open the image store %s: %s", dir, strerror(-r));
		return r;
	}
	r = oci_store_walk(*s, *canonical, sign_last, digest);
	if (r < 0)
		ig_error("%s: %s", dir, oci_store_errmsg(*s));
	return r;
}

int ig_cmd_image_sign(int argc, char **argv)
{
	struct sign_args a = {0};
	char digest[OCI_DIGEST_SIZE], err[OCI_SIGNATURE_ERRLEN];
	char *canonical = NULL, *name = NULL, *sig = NULL;
	struct oci_store *s = NULL;
	struct oci_key *k = NULL;
	int r;

	r = sign_parse(argc, argv, false, &a);
	if (r >= 0)
		return r;
	r = oci_key_load_private(a.key, &k, err, sizeof(err));
	if (r < 0) {
		ig_error("%s", err);
		return IG_EXIT_USAGE;
	}
	r = sign_open(&a, &s, &canonical, &name, digest);
	if (r == 0) {
		r = oci_signature_sign(s, name, digest, k, &sig, err, sizeof(err));
		if (r < 0)
			ig_error("signing %s: %s", canonical, err);
		else
			printf("Signed %s (%s) with %s\nsignature: %s\n", canonical, digest,
			       oci_key_describe(k), sig);
	}
	free(sig);
	free(name);
	free(canonical);
	oci_store_free(s);
	oci_key_free(k);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

int ig_cmd_image_verify(int argc, char **argv)
{
	struct sign_args a = {0};
	char digest[OCI_DIGEST_SIZE], err[OCI_SIGNATURE_ERRLEN];
	char *canonical = NULL, *name = NULL;
	struct oci_key_set *ks = NULL;
	struct oci_store *s = NULL;
	int r;

	r = sign_parse(argc, argv, true, &a);
	if (r >= 0)
		return r;
	r = oci_key_set_new(&ks);
	if (r == 0)
		r = oci_key_set_add(ks, a.public_keys, err, sizeof(err));
	if (r < 0) {
		ig_error("--public-keys: %s", r == -ENOMEM ? strerror(ENOMEM) : err);
		oci_key_set_free(ks);
		return IG_EXIT_USAGE;
	}
	r = sign_open(&a, &s, &canonical, &name, digest);
	if (r == 0) {
		r = ig_registry_verify(s, canonical, digest, ks, &a.reg, true, err, sizeof(err));
		if (r < 0)
			ig_error("image %s (%s) failed signature verification: %s", canonical,
				 digest, err);
		else
			printf("Verified %s (%s)\n", canonical, digest);
	}
	free(name);
	free(canonical);
	oci_store_free(s);
	oci_key_set_free(ks);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}
