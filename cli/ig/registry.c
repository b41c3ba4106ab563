// SPDX-License-Identifier: Apache-2.0
/*
 * ig image push / ig image pull / ig login / ig logout: the command line
 * over the registry client (oci/registry.c) and the credentials file
 * (oci/auth.c).
 *
 * The flags are the ones of Inspektor Gadget's ig, so scripts written for
 * it keep working: --authfile, --insecure-registries, --tls-verify=false,
 * plus --tls-ca-file for registries with a private CA.  ig run shares them
 * through ig_registry_flag() and ig_registry_pull().
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/curl.h"
#include "base/time.h"
#include "oci/auth.h"
#include "oci/ref.h"
#include "oci/registry.h"
#include "oci/signature.h"
#include "oci/store.h"

#define REG_ERRBUF 512
/* How often the progress line is redrawn. */
#define REG_PROGRESS_MS 200

/* ---- flags shared with ig run ---- */

const struct base_opt ig_registry_opts[] = {
	{"authfile", 0, BASE_OPT_VALUE, IG_OPT_AUTHFILE, "PATH",
	 "registry credentials (default $" OCI_AUTH_FILE_ENV " or " OCI_AUTH_DEFAULT_FILE ")", 0},
	{"insecure-registries", 0, BASE_OPT_VALUE, IG_OPT_INSECURE_REGISTRIES, "LIST",
	 "registries (host:port,...) reached over plain HTTP", 0},
	{"tls-ca-file", 0, BASE_OPT_VALUE, IG_OPT_TLS_CA_FILE, "PEM",
	 "also trust these CA certificates for registries", 0},
	{"tls-verify", 0, BASE_OPT_SWITCH, IG_OPT_TLS_VERIFY, NULL,
	 "check the registry's certificate (default; --tls-verify=false does not)", 0},
};

const size_t ig_registry_opts_len = sizeof(ig_registry_opts) / sizeof(ig_registry_opts[0]);

int ig_registry_set(struct ig_registry_flags *f, const struct base_opt *o, const char *v)
{
	switch (o->id) {
	case IG_OPT_AUTHFILE:
		f->authfile = v;
		return 1;
	case IG_OPT_INSECURE_REGISTRIES:
		f->insecure_registries = v;
		return 1;
	case IG_OPT_TLS_CA_FILE:
		f->ca_file = v;
		return 1;
	case IG_OPT_TLS_VERIFY:
		f->tls_skip_verify = strcmp(v, "true") != 0;
		return 1;
	}
	return 0;
}

int ig_registry_flag(struct ig_registry_flags *f, int argc, char **argv, int *i)
{
	struct base_opt_table t = {.opts = ig_registry_opts, .n = ig_registry_opts_len};
	const struct base_opt *o = NULL;
	const char *v = NULL;
	char err[256];
	int j = *i, r = base_opt_next(&t, 1, argc, argv, &j, &o, &v, err, sizeof(err));

	if (r < 0) {
		ig_error("%s", err);
		return r;
	}
	if (r != BASE_OPT_MATCHED)
		return 0;
	*i = j;
	return ig_registry_set(f, o, v);
}

void ig_registry_help(FILE *out)
{
	struct base_opt_table t = {.opts = ig_registry_opts, .n = ig_registry_opts_len};

	base_opt_help(out, &t, 1);
}

/* True if registry is one of the comma-separated list. */
static bool reg_is_insecure(const char *list, const char *registry)
{
	size_t len = strlen(registry);
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		if (n == len && !strncmp(p, registry, len))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* ---- progress ---- */

struct reg_progress {
	bool tty;
	bool shown; /* a line is on the screen and needs a newline */
	uint64_t last_ms;
	char what[32];
};

static void reg_human(uint64_t v, char *buf, size_t len)
{
	if (v >= (1u << 20))
		snprintf(buf, len, "%.1f MiB", (double)v / (1u << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
}

static void reg_progress_cb(void *userdata, const char *what, uint64_t done, uint64_t total)
{
	struct reg_progress *p = userdata;
	char d[32], t[32], name[32];
	uint64_t now = base_time_mono_ms();
	bool end = total && done >= total;

	if (!p->tty)
		return;
	/* "sha256:0123456789ab", like docker's short ids */
	snprintf(name, sizeof(name), "%.19s", what);
	if (!end && strcmp(name, p->what) == 0 && now - p->last_ms < REG_PROGRESS_MS)
		return;
	snprintf(p->what, sizeof(p->what), "%s", name);
	p->last_ms = now;
	reg_human(done, d, sizeof(d));
	if (total) {
		reg_human(total, t, sizeof(t));
		fprintf(stderr, "\r\033[K%s  %s / %s", name, d, t);
	} else {
		fprintf(stderr, "\r\033[K%s  %s", name, d);
	}
	p->shown = true;
	fflush(stderr);
}

static void reg_progress_end(struct reg_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

/* ---- client setup ---- */

struct reg_client {
	struct oci_registry *reg;
	struct reg_progress progress;
	char *user, *password;
};

static void reg_client_done(struct reg_client *c)
{
	reg_progress_end(&c->progress);
	c->reg = oci_registry_free(c->reg);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	c->user = c->password = NULL;
}

/*
 * Opens a client for registry with the flags; the credentials are user and
 * password when given, else the authfile's entry.
 */
static int reg_client_open(struct reg_client *c, const char *registry,
			   const struct ig_registry_flags *f, const char *user,
			   const char *password)
{
	struct oci_registry_opts opts = {0};
	char err[REG_ERRBUF];
	int r;

	*c = (struct reg_client){0};
	c->progress.tty = isatty(STDERR_FILENO);
	if (!user) {
		const char *path = oci_auth_file(f->authfile);

		r = oci_auth_get(path, registry, &c->user, &c->password, err, sizeof(err));
		if (r < 0) {
			ig_error("%s", err);
			return r;
		}
		user = c->user;
		password = c->password;
	}
	opts.registry = registry;
	opts.plain_http = reg_is_insecure(f->insecure_registries, registry);
	opts.tls_skip_verify = f->tls_skip_verify;
	opts.ca_file = f->ca_file;
	opts.username = user;
	opts.password = password;
	opts.progress = reg_progress_cb;
	opts.progress_userdata = &c->progress;
	r = oci_registry_new(&opts, &c->reg);
	if (r < 0) {
		char why[BASE_CURL_ERRLEN];

		/* libcurl is loaded on first use: say which library to install */
		if (base_curl_load(why, sizeof(why)) == 0)
			snprintf(why, sizeof(why), "%s", strerror(-r));
		ig_error("cannot set up a client for %s: %s", registry, why);
		reg_client_done(c);
		return r;
	}
	return 0;
}

/* Prints the client's error once, with what the user can do about it. */
static void reg_report(struct reg_client *c, int r, const char *prefix)
{
	const char *hint = "";

	if (r == -EKEYREJECTED)
		hint = " (use --tls-ca-file to trust its CA, or --tls-verify=false)";
	else if (r == -EPROTO && strstr(oci_registry_errmsg(c->reg), "plain HTTP"))
		hint = " (name it in --insecure-registries if it does)";
	ig_error("%s%s%s", prefix, oci_registry_errmsg(c->reg), hint);
}

/* Parses ref and checks that it names a registry. */
static int reg_parse_ref(const char *ref, struct oci_ref **ret)
{
	struct oci_ref *r = NULL;

	if (oci_ref_parse(ref, &r) < 0) {
		ig_error("invalid image reference '%s'", ref);
		return -EINVAL;
	}
	if (!r->registry) {
		ig_error("'%s' names no registry (use host[:port]/name[:tag])", ref);
		oci_ref_free(r);
		return -EINVAL;
	}
	*ret = r;
	return 0;
}

static void reg_signatures(struct reg_client *c, struct oci_store *s, const char *image,
			   const char *digest, bool push);

int ig_registry_pull(struct oci_store *s, const char *ref, const struct ig_registry_flags *f)
{
	char digest[OCI_DIGEST_SIZE];
	struct reg_client c;
	struct oci_ref *pr = NULL;
	int r;

	r = reg_parse_ref(ref, &pr);
	if (r < 0)
		return r;
	r = reg_client_open(&c, pr->registry, f, NULL, NULL);
	oci_ref_free(pr);
	if (r < 0)
		return r;
	r = oci_registry_pull(c.reg, s, ref, digest);
	reg_progress_end(&c.progress);
	if (r < 0)
		reg_report(&c, r, "");
	else
		reg_signatures(&c, s, ref, digest, false);
	reg_client_done(&c);
	return r;
}

int ig_registry_verify(struct oci_store *s, const char *ref, const char *digest,
		       const struct oci_key_set *keys, const struct ig_registry_flags *f,
		       bool network, char *err, size_t errlen)
{
	struct reg_client c = {0};
	struct oci_ref *pr = NULL;
	char *name = NULL;
	int r;

	r = oci_ref_parse(ref, &pr);
	if (r == 0)
		r = oci_ref_format_name(pr, &name);
	if (r < 0) {
		snprintf(err, errlen, "invalid image reference '%.200s'", ref);
		oci_ref_free(pr);
		return r;
	}
	/* without a client the store alone is looked at; a client that fails says so */
	if (network && pr->registry && reg_client_open(&c, pr->registry, f, NULL, NULL) < 0)
		c.reg = NULL;
	r = oci_signature_verify(s, c.reg, name, digest, keys, NULL, err, errlen);
	reg_client_done(&c);
	oci_ref_free(pr);
	free(name);
	return r;
}

/*
 * After a push or pull of image (top object digest): its signatures go
 * along.  Not finding any is not an error; failing to copy one is reported
 * as a warning, since the image itself arrived.
 */
static void reg_signatures(struct reg_client *c, struct oci_store *s, const char *image,
			   const char *digest, bool push)
{
	char err[OCI_SIGNATURE_ERRLEN], *name = NULL, *sig = NULL;
	struct oci_ref *pr = NULL;
	int r;

	if (oci_ref_parse(image, &pr) < 0 || oci_ref_format_name(pr, &name) < 0 ||
	    oci_signature_ref(name, digest, &sig) < 0)
		goto out;
	if (push) {
		if (oci_store_has_ref(s, sig) != 1)
			goto out;
		r = oci_registry_push(c->reg, s, sig, NULL, NULL);
		reg_progress_end(&c->progress);
		if (r < 0)
			ig_warn("the image was pushed, its signature was not: %s",
				oci_registry_errmsg(c->reg));
		else
			printf("Pushed signature %s\n", sig);
	} else {
		r = oci_signature_fetch(s, c->reg, name, digest, err, sizeof(err));
		if (r < 0)
			ig_warn("the image was pulled, its signature was not: %s", err);
		else if (r > 0)
			printf("Pulled signature %s\n", sig);
	}
out:
	oci_ref_free(pr);
	free(name);
	free(sig);
}

/* ---- ig image push / pull ---- */

enum reg_opt_id { REG_STORE = IG_OPT_COMMAND_FIRST, REG_USER, REG_PASS, REG_PASS_STDIN, REG_ALL };

static const struct base_opt reg_store_opt[] = {
	{"store", 0, BASE_OPT_VALUE, REG_STORE, "DIR",
	 "local image store (default $IG_OCI_STORE or " OCI_STORE_DEFAULT_DIR ")", 0},
};

static void reg_image_usage(FILE *out, const char *verb)
{
	if (!strcmp(verb, "push"))
		fprintf(out, "Usage: ig image push [options] IMAGE\n\n"
			     "Uploads IMAGE from the local store to the registry it names,\n"
			     "skipping blobs the registry already has.\n\n");
	else
		fprintf(out, "Usage: ig image pull [options] IMAGE\n\n"
			     "Downloads IMAGE (host[:port]/name:tag or name@sha256:...) into the\n"
			     "local store, verifying the digest of everything it fetches.\n\n");
	{
		struct base_opt_table t[3] = {
			{.opts = reg_store_opt, .n = 1},
			{.opts = ig_help_opt, .n = 1},
			{.opts = ig_registry_opts, .n = ig_registry_opts_len},
		};

		fprintf(out, "Options:\n");
		base_opt_help(out, t, 3);
	}
}

struct reg_args {
	struct ig_registry_flags *f;
	const char *store, *user, *pass;
	bool pass_stdin, all, help;
};

static int reg_opt(void *ctx, const struct base_opt *o, const char *v)
{
	struct reg_args *a = ctx;

	switch (o->id) {
	case REG_STORE:
		a->store = v;
		return 0;
	case REG_USER:
		a->user = v;
		return 0;
	case REG_PASS:
		a->pass = v;
		return 0;
	case REG_PASS_STDIN:
		a->pass_stdin = !strcmp(v, "true");
		return 0;
	case REG_ALL:
		a->all = !strcmp(v, "true");
		return 0;
	case IG_OPT_HELP:
		a->help = !strcmp(v, "true");
		return 0;
	}
	ig_registry_set(a->f, o, v);
	return 0;
}

/* Parses "VERB [options] IMAGE"; returns the exit code on error or help, else -1. */
static int reg_image_args(int argc, char **argv, struct ig_registry_flags *f, const char **store,
			  const char **image)
{
	const char *verb = argv[0], *words[2];
	struct base_opt_table t[3] = {
		{.opts = reg_store_opt, .n = 1},
		{.opts = ig_registry_opts, .n = ig_registry_opts_len},
		{.opts = ig_help_opt, .n = 1},
	};
	struct reg_args a = {.f = f};
	char cmd[32];
	struct ig_opts p = {.cmd = cmd,
			    .tables = t,
			    .n_tables = 3,
			    .fn = reg_opt,
			    .ctx = &a,
			    .words = words,
			    .max_words = 2};

	snprintf(cmd, sizeof(cmd), "image %s", verb);
	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (a.help) {
		reg_image_usage(stdout, verb);
		return IG_EXIT_OK;
	}
	*store = a.store;
	if (!p.n_words) {
		ig_error("ig image %s needs an image reference", verb);
		reg_image_usage(stderr, verb);
		return IG_EXIT_USAGE;
	}
	if (p.n_words > 1) {
		ig_error("ig image %s takes one image, got '%s' and '%s'", verb, words[0],
			 words[1]);
		return IG_EXIT_USAGE;
	}
	*image = words[0];
	return -1;
}

static int reg_open_store(const char *flag, struct oci_store **ret)
{
	const char *dir = ig_store_dir(flag);
	int r;

	r = oci_store_open(dir, ret);
	if (r < 0)
		ig_error("cannot open the image store %s: %s", dir, strerror(-r));
	return r;
}

/* ig image pull and ig image push: the same steps around one library call. */
static int reg_transfer(int argc, char **argv, bool push)
{
	struct ig_registry_flags f = {0};
	const char *store_flag = NULL, *image = NULL;
	char digest[OCI_DIGEST_SIZE];
	struct oci_store *s = NULL;
	struct oci_ref *pr = NULL;
	struct reg_client c;
	int r;

	r = reg_image_args(argc, argv, &f, &store_flag, &image);
	if (r >= 0)
		return r;
	if (reg_parse_ref(image, &pr) < 0)
		return IG_EXIT_USAGE;
	r = reg_open_store(store_flag, &s);
	if (r == 0)
		r = reg_client_open(&c, pr->registry, &f, NULL, NULL);
	if (r == 0) {
		r = push ? oci_registry_push(c.reg, s, image, NULL, digest)
			 : oci_registry_pull(c.reg, s, image, digest);
		reg_progress_end(&c.progress);
		if (r < 0)
			reg_report(&c, r, "");
		else
			printf("%s %s\ndigest: %s\n", push ? "Pushed" : "Pulled", image, digest);
		if (r == 0)
			reg_signatures(&c, s, image, digest, push);
		reg_client_done(&c);
	}
	oci_ref_free(pr);
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

int ig_cmd_image_pull(int argc, char **argv)
{
	return reg_transfer(argc, argv, false);
}

int ig_cmd_image_push(int argc, char **argv)
{
	return reg_transfer(argc, argv, true);
}

/* ---- ig login / logout ---- */

static const struct base_opt reg_login_opts[];

static void reg_login_usage(FILE *out)
{
	struct base_opt_table t[3] = {
		{.opts = reg_login_opts, .n = 3},
		{.opts = ig_help_opt, .n = 1},
		{.opts = ig_registry_opts, .n = ig_registry_opts_len},
	};

	fprintf(out, "Usage: ig login [options] REGISTRY\n\n"
		     "Checks a user name and password against REGISTRY (host[:port]) and\n"
		     "saves them in the credentials file (mode 0600), which podman, skopeo\n"
		     "and docker can share.\n\n"
		     "Options:\n");
	base_opt_help(out, t, 3);
}

/* Reads one line (at most max bytes) from f into a new string, without the newline. */
static int reg_read_line(FILE *f, size_t max, char **ret)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	n = getline(&line, &cap, f);
	if (n < 0) {
		free(line);
		return -ENODATA;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if ((size_t)n > max) {
		explicit_bzero(line, n);
		free(line);
		return -E2BIG;
	}
	*ret = line;
	return 0;
}

/* Asks on the terminal; echo off for secrets. */
static int reg_prompt(const char *prompt, bool secret, size_t max, char **ret)
{
	struct termios old, quiet;
	bool restore = false;
	int r;

	if (!isatty(STDIN_FILENO))
		return -ENOTTY;
	fputs(prompt, stderr);
	fflush(stderr);
	if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	r = reg_read_line(stdin, max, ret);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return r;
}

static const struct base_opt reg_login_opts[] = {
	{"username", 'u', BASE_OPT_VALUE, REG_USER, "USER",
	 "user name (asked for on a terminal when absent)", 0},
	{"password", 'p', BASE_OPT_VALUE, REG_PASS, "PASS",
	 "password (visible to other users: prefer --password-stdin)", 0},
	{"password-stdin", 0, BASE_OPT_SWITCH, REG_PASS_STDIN, NULL,
	 "read the password from standard input", 0},
};

int ig_cmd_login(int argc, char **argv)
{
	struct ig_registry_flags f = {0};
	const char *registry = NULL, *user_flag, *pass_flag, *words[1];
	char *user = NULL, *password = NULL, err[REG_ERRBUF];
	struct base_opt_table t[3] = {
		{.opts = reg_login_opts, .n = sizeof(reg_login_opts) / sizeof(reg_login_opts[0])},
		{.opts = ig_registry_opts, .n = ig_registry_opts_len},
		{.opts = ig_help_opt, .n = 1},
	};
	struct reg_args a = {.f = &f};
	struct ig_opts p = {.cmd = "login",
			    .tables = t,
			    .n_tables = 3,
			    .fn = reg_opt,
			    .ctx = &a,
			    .words = words,
			    .max_words = 1};
	bool pass_stdin;
	struct reg_client c;
	int r, ret = IG_EXIT_ERROR;

	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (a.help) {
		reg_login_usage(stdout);
		return IG_EXIT_OK;
	}
	if (p.n_words)
		registry = words[0];
	user_flag = a.user;
	pass_flag = a.pass;
	pass_stdin = a.pass_stdin;
	if (!registry) {
		ig_error("ig login needs a registry (host[:port])");
		reg_login_usage(stderr);
		return IG_EXIT_USAGE;
	}
	if (pass_flag && pass_stdin) {
		ig_error("--password and --password-stdin are mutually exclusive");
		return IG_EXIT_USAGE;
	}
	if (pass_stdin && !user_flag) {
		ig_error("--password-stdin needs --username");
		return IG_EXIT_USAGE;
	}
	if (user_flag) {
		user = strdup(user_flag);
		r = user ? 0 : -ENOMEM;
	} else {
		r = reg_prompt("Username: ", false, OCI_AUTH_MAX_USER, &user);
	}
	if (r == 0 && pass_flag) {
		password = strdup(pass_flag);
		r = password ? 0 : -ENOMEM;
	} else if (r == 0 && pass_stdin) {
		r = reg_read_line(stdin, OCI_AUTH_MAX_PASSWORD, &password);
	} else if (r == 0) {
		r = reg_prompt("Password: ", true, OCI_AUTH_MAX_PASSWORD, &password);
	}
	if (r == -ENOTTY) {
		ig_error("no terminal to ask for credentials: give --username and "
			 "--password-stdin");
		goto out;
	}
	if (r == -E2BIG) {
		ig_error("the user name or password is too long");
		goto out;
	}
	if (r < 0) {
		ig_error("cannot read the credentials: %s",
			 r == -ENODATA ? "no input" : strerror(-r));
		goto out;
	}
	if (!*user || !*password) {
		ig_error("the user name and password must not be empty");
		goto out;
	}
	if (reg_client_open(&c, registry, &f, user, password) < 0)
		goto out;
	r = oci_registry_ping(c.reg);
	if (r < 0) {
		char prefix[300];

		snprintf(prefix, sizeof(prefix), "login to %s failed: ", registry);
		reg_report(&c, r, prefix);
		reg_client_done(&c);
		goto out;
	}
	reg_client_done(&c);
	r = oci_auth_set(oci_auth_file(f.authfile), registry, user, password, err, sizeof(err));
	if (r < 0) {
		ig_error("%s", err);
		goto out;
	}
	printf("Login Succeeded\n");
	ret = IG_EXIT_OK;
out:
	if (password)
		explicit_bzero(password, strlen(password));
	free(password);
	free(user);
	return ret;
}

static const struct base_opt reg_logout_opts[] = {
	{"all", 'a', BASE_OPT_SWITCH, REG_ALL, NULL, "forget every registry", 0},
	{"authfile", 0, BASE_OPT_VALUE, IG_OPT_AUTHFILE, "PATH",
	 "registry credentials (default $" OCI_AUTH_FILE_ENV " or " OCI_AUTH_DEFAULT_FILE ")", 0},
};

int ig_cmd_logout(int argc, char **argv)
{
	struct ig_registry_flags f = {0};
	const char *registry = NULL, *authfile, *words[1];
	struct base_opt_table t[2] = {
		{.opts = reg_logout_opts, .n = 2},
		{.opts = ig_help_opt, .n = 1},
	};
	struct reg_args a = {.f = &f};
	struct ig_opts p = {.cmd = "logout",
			    .tables = t,
			    .n_tables = 2,
			    .fn = reg_opt,
			    .ctx = &a,
			    .words = words,
			    .max_words = 1};
	char err[REG_ERRBUF];
	bool all;
	int r;

	if (ig_parse_opts(&p, argc, argv) < 0)
		return IG_EXIT_USAGE;
	if (a.help) {
		printf("Usage: ig logout [options] REGISTRY | --all\n\n"
		       "Removes the credentials for REGISTRY (or for every registry)\n"
		       "from the credentials file.\n\nOptions:\n");
		base_opt_help(stdout, t, 2);
		return IG_EXIT_OK;
	}
	if (p.n_words)
		registry = words[0];
	authfile = f.authfile;
	all = a.all;
	if (!!registry == all) {
		ig_error("ig logout needs either a registry or --all");
		return IG_EXIT_USAGE;
	}
	r = oci_auth_remove(oci_auth_file(authfile), registry, err, sizeof(err));
	if (r < 0) {
		ig_error("%s", err);
		return IG_EXIT_ERROR;
	}
	if (r == 0 && registry) {
		ig_error("not logged in to %s", registry);
		return IG_EXIT_ERROR;
	}
	if (registry)
		printf("Removed login credentials for %s\n", registry);
	else
		printf("Removed login credentials for all registries\n");
	return IG_EXIT_OK;
}
