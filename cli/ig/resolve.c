// SPDX-License-Identifier: Apache-2.0
/*
 * Gadget lookup for ig run.  See resolve.h.
 *
 * A failed lookup names every place it tried, since "not found" alone leaves
 * the user guessing which store or directory ig looked at.  A store that
 * holds the reference but cannot produce a gadget from it (a corrupt blob,
 * no manifest for this architecture) stops the lookup with that reason
 * instead of falling through to the next place, which would hide the
 * problem or run something else than what the user named.
 */
#include "cli/ig/resolve.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "cli/ig/ig.h"
#include "oci/allow.h"
#include "oci/ref.h"
#include "oci/signature.h"
#include "oci/store.h"

#define N_SHORT_NAME_STORES 5
#define N_GADGET_DIRS	    4

static bool is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int ig_pull_policy_parse(const char *s, enum ig_pull_policy *ret)
{
	if (!strcmp(s, "missing"))
		*ret = IG_PULL_MISSING;
	else if (!strcmp(s, "always"))
		*ret = IG_PULL_ALWAYS;
	else if (!strcmp(s, "never"))
		*ret = IG_PULL_NEVER;
	else
		return -EINVAL;
	return 0;
}

char *ig_resolve_exe_path(const char *rel)
{
	char exe[PATH_MAX], *bindir, *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	bindir = dir_of(exe);
	if (!bindir)
		return NULL;
	p = path_join(bindir, rel);
	free(bindir);
	return p;
}

/*
 * The path with symlinks and ".." resolved, for messages, also when only
 * its parent exists ("build/bin/../oci-store" -> "build/oci-store"); a new
 * string.
 */
static char *pretty_path(const char *p)
{
	char real[PATH_MAX], *dir, *out = NULL;
	const char *base = strrchr(p, '/');

	if (realpath(p, real))
		return strdup(real);
	dir = dir_of(p);
	if (dir && base && base[1] && realpath(dir, real) &&
	    asprintf(&out, "%s/%s", strcmp(real, "/") ? real : "", base + 1) < 0)
		out = NULL;
	free(dir);
	return out ? out : strdup(p);
}

/* ---- paths ---- */

/* Fills f from a directory holding program.bpf.o and, optionally, gadget.yaml. */
static int from_dir(const char *dir, const char *name, struct ig_gadget_files *f)
{
	char *elf = path_join(dir, "program.bpf.o");
	char *yaml = path_join(dir, "gadget.yaml");

	if (!elf || !yaml || !is_file(elf)) {
		free(elf);
		free(yaml);
		return -ENOENT;
	}
	if (!is_file(yaml)) {
		free(yaml);
		yaml = NULL;
	}
	f->name = strdup(name);
	f->elf_path = elf;
	f->yaml_path = yaml;
	return f->name ? 0 : -ENOMEM;
}

/* An object file given by path: gadget.yaml is looked for beside it. */
static int from_file(const char *path, struct ig_gadget_files *f)
{
	char *dir = dir_of(path);
	const char *base = strrchr(path, '/');
	char *yaml;

	if (!dir)
		return -ENOMEM;
	yaml = path_join(dir, "gadget.yaml");
	free(dir);
	if (yaml && !is_file(yaml)) {
		free(yaml);
		yaml = NULL;
	}
	f->name = strdup(base ? base + 1 : path);
	f->elf_path = strdup(path);
	f->yaml_path = yaml;
	if (!f->name || !f->elf_path)
		return -ENOMEM;
	return 0;
}

/*
 * What the user wrote is a path rather than a reference when it says so
 * ("/x", "./x", "../x"), when it names an existing file, or when it has a
 * slash and exists ("build/gadgets/trace_open").
 */
static bool is_path_spec(const char *spec)
{
	if (spec[0] == '/' || !strncmp(spec, "./", 2) || !strncmp(spec, "../", 3) ||
	    !strcmp(spec, ".") || !strcmp(spec, ".."))
		return true;
	if (is_file(spec))
		return true;
	return strchr(spec, '/') && access(spec, F_OK) == 0;
}

static int from_path(const char *spec, struct ig_gadget_files *f, char *err, size_t errlen)
{
	struct stat st;
	int r;

	if (stat(spec, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", spec, strerror(-r));
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		r = from_dir(spec, spec, f);
		if (r == -ENOENT)
			snprintf(err, errlen, "%s: no program.bpf.o in this directory", spec);
		return r;
	}
	return from_file(spec, f);
}

/* ---- stores ---- */

static bool store_exists(const char *dir)
{
	char *p = path_join(dir, "oci-layout");
	bool ok = p && is_file(p);

	free(p);
	return ok;
}

/* The last path component of the repository: "org/trace_open" -> "trace_open". */
static char *image_short_name(const struct oci_ref *ref)
{
	const char *slash = strrchr(ref->repository, '/');

	return strdup(slash ? slash + 1 : ref->repository);
}

/*
 * Looks canonical up in s: 1 and f filled when found, 0 when the store
 * does not have it, -errno with err set when it has it but cannot give a
 * gadget for this machine.
 */
/* The patterns, for messages: "a, b". */
static void allowed_list(const struct ig_resolve_opts *o, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->n_allowed && off + 1 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", o->allowed[i]);
}

/* The policy's word on the image found: its digest against the patterns, its signature. */
static int check_policy(struct oci_store *s, const char *canonical, const char *digest,
			const struct ig_resolve_opts *o, char *err, size_t errlen)
{
	static const struct ig_registry_flags no_flags;
	char why[OCI_SIGNATURE_ERRLEN], list[512];
	int r;

	if (oci_allow_match(o->allowed, o->n_allowed, canonical, digest) != OCI_ALLOW_YES) {
		allowed_list(o, list, sizeof(list));
		snprintf(err, errlen, "%s (%s) is not part of allowed gadgets: %s", canonical,
			 digest, list);
		return -EACCES;
	}
	if (!o->keys)
		return 0;
	r = ig_registry_verify(s, canonical, digest, o->keys, o->registry ? o->registry : &no_flags,
			       !o->disallow_pulling && o->pull != IG_PULL_NEVER, why, sizeof(why));
	if (r < 0)
		snprintf(err, errlen, "image %s (%s) failed signature verification: %s", canonical,
			 digest, why);
	return r;
}

static int from_store(struct oci_store *s, const struct oci_ref *ref, const char *canonical,
		      const struct ig_resolve_opts *o, struct ig_gadget_files *f, char *err,
		      size_t errlen)
{
	struct oci_store_gadget *g = NULL;
	int r;

	r = oci_store_resolve(s, canonical, NULL, &g);
	if (r < 0) {
		snprintf(err, errlen, "%s (in the image store %s)", oci_store_errmsg(s),
			 oci_store_dir(s));
		if (r == -ENOENT && oci_store_has_ref(s, canonical) != 1) {
			err[0] = '\0';
			return 0;
		}
		return r;
	}
	/* what the reference points at now is what is checked and run */
	r = check_policy(s, canonical, g->image_digest, o, err, errlen);
	if (r < 0) {
		oci_store_gadget_free(g);
		return r;
	}
	f->image = g;
	f->name = image_short_name(ref);
	f->ref = strdup(canonical);
	f->store_dir = pretty_path(oci_store_dir(s));
	if (!f->name || !f->ref || !f->store_dir)
		return -ENOMEM;
	base_log_debug("gadget %s: image %s in %s", f->name, g->image_digest, f->store_dir);
	return 1;
}

/* Same for a store given by directory, which may not exist. */
static int from_store_dir(const char *dir, const struct oci_ref *ref, const char *canonical,
			  const struct ig_resolve_opts *o, struct ig_gadget_files *f, char *err,
			  size_t errlen)
{
	struct oci_store *s = NULL;
	int r;

	if (!store_exists(dir))
		return 0;
	r = oci_store_open(dir, &s);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the image store %s: %s", dir, strerror(-r));
		return r;
	}
	r = from_store(s, ref, canonical, o, f, err, errlen);
	oci_store_free(s);
	return r;
}

/* A reference with a registry: the local store, and the registry when allowed. */
static int from_registry(const struct oci_ref *ref, const char *canonical,
			 const struct ig_resolve_opts *o, struct ig_gadget_files *f, char *err,
			 size_t errlen)
{
	static const struct ig_registry_flags no_flags;
	const char *dir = ig_store_dir(o->store_dir);
	struct oci_store *s = NULL;
	int r;

	if (o->pull == IG_PULL_NEVER && !store_exists(dir)) {
		snprintf(err, errlen,
			 "image %s is not in the image store %s (there is no store there) and "
			 "--pull=never forbids pulling it",
			 canonical, dir);
		return -ENOENT;
	}
	r = oci_store_open(dir, &s);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the image store %s: %s", dir, strerror(-r));
		return r;
	}
	if (o->pull == IG_PULL_ALWAYS && o->disallow_pulling) {
		snprintf(err, errlen, "--pull=always and --disallow-pulling contradict each other");
		r = -EINVAL;
		goto out;
	}
	if (o->pull == IG_PULL_ALWAYS) {
		r = ig_registry_pull(s, canonical, o->registry ? o->registry : &no_flags);
		if (r < 0) {
			err[0] = '\0';
			goto out;
		}
	}
	r = from_store(s, ref, canonical, o, f, err, errlen);
	if (r == 0 && o->pull == IG_PULL_MISSING && o->disallow_pulling) {
		snprintf(err, errlen,
			 "image %s is not in the image store %s and pulling is disabled "
			 "(--disallow-pulling)",
			 canonical, dir);
		r = -ENOENT;
		goto out;
	}
	if (r == 0 && o->pull == IG_PULL_MISSING) {
		r = ig_registry_pull(s, canonical, o->registry ? o->registry : &no_flags);
		if (r < 0) {
			err[0] = '\0';
			goto out;
		}
		r = from_store(s, ref, canonical, o, f, err, errlen);
	}
	if (r == 0) {
		if (o->pull == IG_PULL_NEVER)
			snprintf(err, errlen,
				 "image %s is not in the image store %s and --pull=never forbids "
				 "pulling it",
				 canonical, dir);
		else
			snprintf(err, errlen,
				 "image %s is not in the image store %s after the pull", canonical,
				 dir);
		r = -ENOENT;
	}
out:
	oci_store_free(s);
	return r < 0 ? r : 0;
}

/* Appends "what (note)" or "what" to the list of what was tried. */
static void tried_add(struct base_buf *b, const char *what, const char *note)
{
	char *p = pretty_path(what);

	base_buf_printf(b, "%s%s%s%s%s", b->len && b->data[b->len - 1] != ' ' ? ", " : "",
			p ? p : what, note ? " (" : "", note ? note : "", note ? ")" : "");
	free(p);
}

/*
 * The store of in-tree gadgets beside the binary: <build>/oci-store for
 * <build>/bin/ig, also for the sanitizer build's <build>/san/bin/ig.
 */
static char *in_tree_store(void)
{
	char *p = ig_resolve_exe_path("../oci-store");

	if (p && !store_exists(p)) {
		char *alt = ig_resolve_exe_path("../../oci-store");

		if (alt && store_exists(alt)) {
			free(p);
			return alt;
		}
		free(alt);
	}
	return p;
}

/* A name without a registry: the stores, then the directories of built gadgets. */
static int from_short_name(const char *spec, const struct oci_ref *ref, const char *canonical,
			   const struct ig_resolve_opts *o, struct ig_gadget_files *f, char *err,
			   size_t errlen)
{
	struct base_buf tried = BASE_BUF_INIT(IG_RESOLVE_ERRLEN);
	char *stores[N_SHORT_NAME_STORES] = {0}, *dirs[N_GADGET_DIRS] = {0};
	const char *env = getenv("IG_GADGETS");
	bool bare = !strpbrk(spec, ":@/");
	size_t i, n_dirs = 0;
	int r = 0;

	if (o->pull == IG_PULL_ALWAYS) {
		snprintf(err, errlen,
			 "--pull=always needs a reference with a registry "
			 "(\"host[:port]/%s\"), not the short name %s",
			 spec, spec);
		return -EINVAL;
	}
	if (ref) {
		stores[0] = strdup(ig_store_dir(o->store_dir));
		stores[1] = in_tree_store();
		/* make install: PREFIX/bin/ig and PREFIX/lib/ig/oci-store, wherever PREFIX is */
		stores[2] = ig_resolve_exe_path("../lib/ig/oci-store");
		stores[3] = strdup("/usr/local/lib/ig/oci-store");
		stores[4] = strdup("/usr/lib/ig/oci-store");
		base_buf_printf(&tried, "tried the image %s in the stores ", canonical);
	}
	for (i = 0; i < N_SHORT_NAME_STORES && r == 0; i++) {
		if (!stores[i])
			continue;
		tried_add(&tried, stores[i], store_exists(stores[i]) ? NULL : "no store there");
		r = from_store_dir(stores[i], ref, canonical, o, f, err, errlen);
	}
	/* built gadget directories are not images: nothing there can be checked */
	if (r != 0 || !bare || o->keys || o->n_allowed)
		goto out;

	if (env && *env)
		dirs[n_dirs++] = strdup(env);
	dirs[n_dirs] = ig_resolve_exe_path("../gadgets");
	if (dirs[n_dirs])
		n_dirs++;
	dirs[n_dirs++] = strdup("/usr/local/lib/ig/gadgets");
	dirs[n_dirs++] = strdup("/usr/lib/ig/gadgets");
	base_buf_printf(&tried, "%sthe built gadget directories ",
			tried.len ? "; then " : "tried ");
	for (i = 0; i < n_dirs && r == 0; i++) {
		char *d;

		if (!dirs[i])
			continue;
		d = path_join(dirs[i], spec);
		if (d && is_dir(d)) {
			r = from_dir(d, spec, f);
			r = r == -ENOENT ? 0 : r < 0 ? r : 1;
		}
		if (d)
			tried_add(&tried, d, is_dir(d) ? NULL : "absent");
		free(d);
	}
out:
	if (r == 0) {
		snprintf(err, errlen, "gadget '%s' not found: %s", spec,
			 tried.data ? tried.data : "");
		r = -ENOENT;
	}
	for (i = 0; i < N_SHORT_NAME_STORES; i++)
		free(stores[i]);
	for (i = 0; i < n_dirs; i++)
		free(dirs[i]);
	base_buf_done(&tried);
	return r < 0 ? r : 0;
}

int ig_resolve_gadget(const char *spec, const struct ig_resolve_opts *opts,
		      struct ig_gadget_files *ret, char *err, size_t errlen)
{
	static const struct ig_resolve_opts defaults;
	const struct ig_resolve_opts *o = opts ? opts : &defaults;
	struct ig_gadget_files f = {0};
	struct oci_ref *ref = NULL;
	char *canonical = NULL;
	int r;

	err[0] = '\0';
	if (is_path_spec(spec)) {
		if (o->keys || o->n_allowed) {
			snprintf(err, errlen,
				 "%s is a path, not an image: with %s only images run%s", spec,
				 o->keys ? "--public-keys" : "--allowed-gadgets",
				 o->keys ? " (--verify-image=false runs it unchecked)" : "");
			r = -EACCES;
			goto out;
		}
		r = from_path(spec, &f, err, errlen);
		goto out;
	}
	r = oci_ref_parse(spec, &ref);
	if (r == 0)
		r = oci_ref_format(ref, &canonical);
	/* refused by name before any store or registry is touched */
	if (r == 0 && oci_allow_match(o->allowed, o->n_allowed, canonical, NULL) == OCI_ALLOW_NO) {
		char list[512];

		allowed_list(o, list, sizeof(list));
		snprintf(err, errlen, "%s is not part of allowed gadgets: %s", canonical, list);
		r = -EACCES;
		goto out;
	}
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		if (strchr(spec, '/')) {
			snprintf(err, errlen, "%s: no such file, and not a valid image reference",
				 spec);
			r = -ENOENT;
			goto out;
		}
		/* Not a reference ("Trace_Open"): only the directories remain. */
		r = from_short_name(spec, NULL, spec, o, &f, err, errlen);
		goto out;
	}
	if (ref->registry)
		r = from_registry(ref, canonical, o, &f, err, errlen);
	else
		r = from_short_name(spec, ref, canonical, o, &f, err, errlen);
out:
	oci_ref_free(ref);
	free(canonical);
	if (r < 0) {
		if (r == -ENOMEM && !err[0])
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		ig_gadget_files_done(&f);
		return r;
	}
	*ret = f;
	return 0;
}

void ig_gadget_files_done(struct ig_gadget_files *f)
{
	free(f->name);
	free(f->elf_path);
	free(f->yaml_path);
	free(f->ref);
	free(f->store_dir);
	oci_store_gadget_free(f->image);
	f->name = f->elf_path = f->yaml_path = f->ref = f->store_dir = NULL;
	f->image = NULL;
}

/* The images of one store: "name" for name:latest, and every "name:tag". */
static void names_of_store(const char *dir, ig_resolve_name_fn fn, void *ctx)
{
	struct oci_store_image *images = NULL;
	struct oci_store *s = NULL;
	size_t n = 0;

	if (!dir || !store_exists(dir) || oci_store_open(dir, &s) < 0)
		return;
	if (oci_store_list(s, &images, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *ref = images[i].ref;
			size_t len = strlen(ref);

			if (len > 7 && !strcmp(ref + len - 7, ":latest")) {
				char *bare = strndup(ref, len - 7);

				if (bare)
					fn(ctx, bare);
				free(bare);
			}
			fn(ctx, ref);
		}
		oci_store_images_free(images, n);
	}
	oci_store_free(s);
}

void ig_resolve_names(const char *store_dir, ig_resolve_name_fn fn, void *ctx)
{
	char *dirs[4] = {0}, *stores[4] = {0};
	const char *env = getenv("IG_GADGETS");
	size_t i;

	stores[0] = strdup(ig_store_dir(store_dir));
	stores[1] = in_tree_store();
	stores[2] = strdup("/usr/local/lib/ig/oci-store");
	stores[3] = strdup("/usr/lib/ig/oci-store");
	for (i = 0; i < 4; i++)
		names_of_store(stores[i], fn, ctx);
	dirs[0] = env && *env ? strdup(env) : NULL;
	dirs[1] = ig_resolve_exe_path("../gadgets");
	dirs[2] = strdup("/usr/local/lib/ig/gadgets");
	dirs[3] = strdup("/usr/lib/ig/gadgets");
	for (i = 0; i < 4; i++) {
		DIR *d = dirs[i] ? opendir(dirs[i]) : NULL;
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char *prog;

			if (e->d_name[0] == '.')
				continue;
			prog = path_join(dirs[i], e->d_name);
			if (prog) {
				char *obj = path_join(prog, "program.bpf.o");

				if (obj && access(obj, R_OK) == 0)
					fn(ctx, e->d_name);
				free(obj);
			}
			free(prog);
		}
		if (d)
			closedir(d);
	}
	for (i = 0; i < 4; i++) {
		free(stores[i]);
		free(dirs[i]);
	}
}
