/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the ig command line tool: the command table, error
 * reporting and small parsers for durations and sizes.
 *
 * ig follows bpftool's grammar ("ig <command> [args]"), with one help text per
 * command.  Programs decide how to report: every error is printed once, here,
 * as "ig: error: <reason>".
 */
#ifndef CLI_IG_H
#define CLI_IG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "base/opt.h"	/* the option tables of every command */
#include "base/parse.h" /* durations, sizes, counts on the command line */
#include "run/flags.h"	/* the run flags, whose ids ig's own follow */

struct oci_key_set;
struct oci_store;

#define IG_EXIT_OK    0
#define IG_EXIT_ERROR 1
#define IG_EXIT_USAGE 2

/* ids of ig's own option rows, after the run flags' (run/flags.h) */
enum ig_opt_id {
	IG_OPT_AUTHFILE = RUN_FLAG_CLIENT_FIRST,
	IG_OPT_INSECURE_REGISTRIES,
	IG_OPT_TLS_CA_FILE,
	IG_OPT_TLS_VERIFY,
	IG_OPT_RUNTIMES,
	IG_OPT_CONTAINERD_SOCKET,
	IG_OPT_CRIO_SOCKET,
	IG_OPT_HELP,
	IG_OPT_COMMAND_FIRST, /* a command's own rows start here */
};

struct ig_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

void ig_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A command's command line, read with the tree's option matcher (base/opt.h):
 * every row of the tables goes to fn (0, or a negative errno after fn printed
 * why), plain words to words (room for max_words), everything after "--" is
 * words.  An unknown option, a bad value or too many words is printed as one
 * error naming 'ig CMD --help' (cmd: "image push", "login").  0 or -EINVAL.
 */
struct ig_opts {
	const char *cmd;
	const struct base_opt_table *tables;
	size_t n_tables;
	int (*fn)(void *ctx, const struct base_opt *o, const char *value);
	void *ctx;
	const char **words;
	size_t max_words;
	size_t n_words; /* out */
};
int ig_parse_opts(struct ig_opts *p, int argc, char **argv);
/* The table of the options every command has: -h/--help (id IG_OPT_HELP). */
extern const struct base_opt ig_help_opt[1];
void ig_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Mounts tracefs and bpffs where they are missing; warns, never fails. */
void ig_ensure_kernel_fs(void);

int ig_cmd_run(int argc, char **argv);

/* ig daemon (daemon.c): the host's gadget service, and where clients find it */
#define IG_DAEMON_SOCKET  "/var/run/ig/ig.socket"
#define IG_DAEMON_ADDRESS "unix://" IG_DAEMON_SOCKET
#define IG_DAEMON_CONFIG  "/etc/ig/daemon.yaml"
int ig_cmd_daemon(int argc, char **argv);
/*
 * ig --remote ADDR CMD ... (remote.c): run, attach, list, delete, show and
 * image list/pull against the daemon at addr ("unix:///path"); given says
 * whether the user named it (messages then repeat it).  argv[0] is CMD.
 */
int ig_remote_cmd(const char *addr, bool given, int argc, char **argv);
int ig_cmd_version(int argc, char **argv);
/* The command table, for completion (main.c). */
const struct ig_cmd *ig_commands(size_t *n);

/* complete.c: ig completion bash|zsh, and the ig __complete the scripts call */
struct base_complete;
int ig_cmd_completion(int argc, char **argv);
int ig_cmd_complete(int argc, char **argv);
/*
 * Completion of one command's words (argv[0] the command, then the words
 * before the cursor; the word being completed is c->word): run.c, image.c.
 */
void ig_run_complete(struct base_complete *c, int argc, char **argv, const char *prev);
void ig_image_complete(struct base_complete *c, int argc, char **argv);
/* containers.c */
int ig_cmd_list_containers(int argc, char **argv);
int ig_cmd_image(int argc, char **argv);  /* image.c: build list remove tag inspect ... */
int ig_cmd_login(int argc, char **argv);  /* registry.c */
int ig_cmd_logout(int argc, char **argv); /* registry.c */

/*
 * The local image store: the --store flag's value when not NULL, else
 * $IG_OCI_STORE, else OCI_STORE_DEFAULT_DIR.  Borrowed.  (image.c)
 */
const char *ig_store_dir(const char *flag);

/* Registry options shared by ig image pull/push, ig login and ig run (registry.c). */
struct ig_registry_flags {
	const char *authfile;		 /* --authfile; NULL for oci_auth_file(NULL) */
	const char *insecure_registries; /* --insecure-registries a,b: plain HTTP to these */
	const char *ca_file;		 /* --tls-ca-file PEM */
	bool tls_skip_verify;		 /* --tls-verify=false */
};

/* The registry flags as an option table, and storing one of its rows (1; 0: not its row). */
extern const struct base_opt ig_registry_opts[];
extern const size_t ig_registry_opts_len;
int ig_registry_set(struct ig_registry_flags *f, const struct base_opt *o, const char *v);
/*
 * If argv[*i] is one of the registry flags ("--authfile X", "--authfile=X",
 * ...), stores it, leaves *i on the last argument it used (its value, when
 * separate) and returns 1; returns 0 when it is not one, -EINVAL (after
 * printing the error) for a missing or bad value.
 */
int ig_registry_flag(struct ig_registry_flags *f, int argc, char **argv, int *i);
/* Help lines for those flags, to append to a command's usage. */
void ig_registry_help(FILE *out);
/*
 * Pulls ref (a full reference with a registry) into the store, with
 * progress on stderr when it is a terminal and credentials from the
 * authfile.  Prints its own error; returns 0 or -errno.
 */
int ig_registry_pull(struct oci_store *s, const char *ref, const struct ig_registry_flags *f);
/*
 * Checks that image digest, found in s under ref, is signed by one of keys
 * (oci/signature.h): in s, then, when network is true and ref names a
 * registry, in the registry.  -errno with the reason in err.
 */
int ig_registry_verify(struct oci_store *s, const char *ref, const char *digest,
		       const struct oci_key_set *keys, const struct ig_registry_flags *f,
		       bool network, char *err, size_t errlen);
/* Container runtime flags shared by ig list-containers and ig run (runtimes.c). */
#define IG_RUNTIMES_CONTAINERD_SOCKET "/run/containerd/containerd.sock"
#define IG_RUNTIMES_CRIO_SOCKET	      "/run/crio/crio.sock"

struct cri_collection;

struct ig_runtimes_flags {
	const char *runtimes;	       /* --runtimes a,b; NULL: containerd,cri-o */
	const char *containerd_socket; /* NULL: IG_RUNTIMES_CONTAINERD_SOCKET */
	const char *crio_socket;       /* NULL: IG_RUNTIMES_CRIO_SOCKET */
};

/* Like the registry flags, for --runtimes, --containerd-socketpath, --crio-socketpath. */
extern const struct base_opt ig_runtimes_opts[];
extern const size_t ig_runtimes_opts_len;
/* 1 when o is a row of ig_runtimes_opts (stored), 0 when not, -EINVAL with err. */
int ig_runtimes_set(struct ig_runtimes_flags *f, const struct base_opt *o, const char *v, char *err,
		    size_t errlen);
int ig_runtimes_flag(struct ig_runtimes_flags *f, int argc, char **argv, int *i);
void ig_runtimes_help(FILE *out);
/* Validates --runtimes; prints the error; -EINVAL. */
int ig_runtimes_check(const struct ig_runtimes_flags *f);
/*
 * The container collection of the runtimes the flags name, each call bounded
 * by timeout_ms.  When none answers, prints an error naming the sockets tried
 * (only at debug level when quiet) and returns -errno.
 */
int ig_runtimes_collection_new(const struct ig_runtimes_flags *f, int timeout_ms, bool quiet,
			       struct cri_collection **ret);

/*
 * ig run --kubeconfig (kube.c): the Kubernetes API caches behind the
 * k8s.podLabels, k8s.owner.* and endpoint columns.  Prints its own error;
 * -errno when the configuration is bad or the server cannot be reached.
 */
struct ig_kube;
struct k8s_enrich;
int ig_kube_start(const char *kubeconfig, const char *context, bool endpoints,
		  struct ig_kube **ret);
struct k8s_enrich *ig_kube_enrich(const struct ig_kube *k);
struct ig_kube *ig_kube_free(struct ig_kube *k);

/* ig image push / ig image pull, with argv[0] the verb (registry.c). */
int ig_cmd_image_push(int argc, char **argv);
int ig_cmd_image_pull(int argc, char **argv);
/* ig image sign / ig image verify, with argv[0] the verb (sign.c). */
int ig_cmd_image_sign(int argc, char **argv);
int ig_cmd_image_verify(int argc, char **argv);

#endif /* CLI_IG_H */
