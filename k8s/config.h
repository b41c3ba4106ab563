/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a Kubernetes API server is and how to authenticate to it.
 *
 * Two sources, as kubectl and client-go read them:
 *
 *  - kubeconfig files (YAML): clusters (server, certificate-authority or
 *    certificate-authority-data, insecure-skip-tls-verify, proxy-url, the
 *    client.authentication.k8s.io/exec extension), users (token, tokenFile,
 *    client-certificate(-data), client-key(-data), exec credential plugins
 *    (k8s/exec.h), as, as-groups, as-uid), contexts (cluster, user,
 *    namespace) and current-context.  An explicit path is
 *    read alone; otherwise $KUBECONFIG, a colon-separated list, is merged the
 *    way kubectl merges it: files that do not exist are skipped, and the
 *    first file to set a value wins (a named cluster, user or context is
 *    taken whole from the first file that defines it; current-context from
 *    the first file that sets it).  Without $KUBECONFIG, $HOME/.kube/config.
 *    Relative paths inside a file are relative to that file's directory.
 *
 *  - in-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 *    with the service account's token, ca.crt and namespace from
 *    /var/run/secrets/kubernetes.io/serviceaccount/ (under opts.root).  Used
 *    when asked for, or when no kubeconfig file exists and the variables are
 *    set.
 *
 *  - kubectl's global flags over either (struct k8s_config_opts): --cluster,
 *    --user, --server, --token, --certificate-authority,
 *    --client-certificate, --client-key, --insecure-skip-tls-verify, --as,
 *    --as-group, --as-uid, with client-go's precedence.  --server alone,
 *    without any kubeconfig, is a configuration of its own.
 *
 * Tokens read from a file (in-cluster, tokenFile) are rotated by the
 * kubelet; k8s_config_creds() re-reads the file when its mtime or size
 * changed, checking at most every token_recheck_s seconds.  An exec plugin
 * runs on the first k8s_config_creds(), and again once its answer's
 * expirationTimestamp has passed.  After a 401, k8s_config_refresh() checks
 * the file, or runs the plugin, at once.
 *
 * Everything read is bounded (the K8S_CONFIG_MAX_* limits).  auth-provider
 * plugins (gcp, azure, oidc), which kubectl itself dropped for exec
 * plugins, are refused (-EOPNOTSUPP).
 *
 * Thread safety: loading is reentrant (it reads the environment, so do not
 * setenv() concurrently); a loaded object is immutable except for the
 * credentials, which k8s_config_creds() guards with its own mutex (one
 * plugin runs at a time), so all getters may be called from any thread.
 */
#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Largest kubeconfig file read. */
#define K8S_CONFIG_MAX_BYTES (4u << 20)
/* Most files merged from $KUBECONFIG. */
#define K8S_CONFIG_MAX_FILES 16
/* Most clusters, users or contexts per file. */
#define K8S_CONFIG_MAX_ENTRIES 1024
/* Largest token, CA, certificate or key file (or decoded -data field). */
#define K8S_CONFIG_MAX_PEM_BYTES   (1u << 20)
#define K8S_CONFIG_MAX_TOKEN_BYTES (64u << 10)
/* Most groups impersonated (--as-group, as-groups). */
#define K8S_CONFIG_MAX_GROUPS 64
/* Default interval between checks of a token file. */
#define K8S_CONFIG_TOKEN_RECHECK_S 60

#define K8S_CONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s_config;

struct k8s_config_opts {
	/* A kubeconfig file, read alone; NULL for $KUBECONFIG or ~/.kube/config. */
	const char *kubeconfig;
	/* Context to use instead of current-context. */
	const char *context;
	/* Use the in-cluster configuration even if a kubeconfig exists. */
	bool in_cluster;
	/* Prefix for the service account files (tests); NULL for "/". */
	const char *root;
	/* Seconds between checks of a token file; 0 for the default. */
	unsigned int token_recheck_s;
	/* How long an exec plugin may run; 0 for K8S_EXEC_DEFAULT_TIMEOUT_MS. */
	unsigned int exec_timeout_ms;

	/* kubectl's global flags; NULL (false, 0) where not given. */
	const char *cluster;	      /* --cluster: this cluster instead of the context's */
	const char *user;	      /* --user: this user instead of the context's */
	const char *server;	      /* --server: replaces the cluster's server */
	const char *token;	      /* --token: replaces the user's token, tokenFile and exec */
	const char *ca_file;	      /* --certificate-authority: replaces the cluster's CA */
	const char *client_cert_file; /* --client-certificate */
	const char *client_key_file;  /* --client-key */
	bool insecure;		      /* --insecure-skip-tls-verify: also drops the CA */
	const char *as_user;	      /* --as */
	const char *const *as_groups; /* --as-group, repeatable */
	size_t n_as_groups;
	const char *as_uid; /* --as-uid */
};

/*
 * Loads and resolves the configuration.  Returns 0 and a new object in *ret
 * (free with k8s_config_free()); on failure *ret is untouched and err (when
 * not NULL) receives one line naming the file and the key or line at fault:
 * -ENOENT (no configuration, missing file, unknown context/cluster/user),
 * -EINVAL (bad YAML or structure, bad base64, conflicting settings),
 * -E2BIG (over a limit), -EOPNOTSUPP (auth-provider plugins), -ENOMEM.
 * An exec plugin is not run here: the first k8s_config_creds() runs it.
 */
int k8s_config_load(const struct k8s_config_opts *opts, struct k8s_config **ret, char *err,
		    size_t errlen);
/* Same from a kubeconfig held in memory; name is used in messages. */
int k8s_config_parse(const void *buf, size_t len, const char *name, const char *context,
		     struct k8s_config **ret, char *err, size_t errlen);
struct k8s_config *k8s_config_free(struct k8s_config *c);

/* "https://host:port" without a trailing slash; borrowed. */
const char *k8s_config_server(const struct k8s_config *c);
/* Names of the context, cluster and user chosen; NULL in-cluster. */
const char *k8s_config_context(const struct k8s_config *c);
const char *k8s_config_cluster(const struct k8s_config *c);
const char *k8s_config_user(const struct k8s_config *c);
/* The context's namespace, the service account's, or "default". */
const char *k8s_config_namespace(const struct k8s_config *c);
/* The file(s) the settings came from, or "in-cluster". */
const char *k8s_config_source(const struct k8s_config *c);
bool k8s_config_in_cluster(const struct k8s_config *c);
bool k8s_config_insecure(const struct k8s_config *c);
/* PEM data, or NULL with *len 0 when not configured; borrowed. */
const char *k8s_config_ca(const struct k8s_config *c, size_t *len);
const char *k8s_config_client_cert(const struct k8s_config *c, size_t *len);
const char *k8s_config_client_key(const struct k8s_config *c, size_t *len);

/* cluster.proxy-url, or NULL ($HTTPS_PROXY and friends then apply). */
const char *k8s_config_proxy(const struct k8s_config *c);
/* Impersonation (--as, --as-group, --as-uid, or the user's as*): NULL, 0 when none. */
const char *k8s_config_as_user(const struct k8s_config *c);
const char *const *k8s_config_as_groups(const struct k8s_config *c, size_t *n);
const char *k8s_config_as_uid(const struct k8s_config *c);
/* The exec plugin's command, or NULL when the user has none. */
const char *k8s_config_exec_command(const struct k8s_config *c);

/* Credentials for one request: copies, wiped by k8s_config_creds_done(). */
struct k8s_config_creds {
	char *token; /* bearer token, or NULL */
	char *cert;  /* client certificate and key (PEM), or NULL */
	size_t cert_len;
	char *key;
	size_t key_len;
};

/*
 * The credentials to send now: the token (re-read from its file when that
 * changed), or what the exec plugin answered (run first when it has not
 * been, or its answer expired), and the client certificate.  0, or -ENOKEY
 * (the plugin failed) / -ENOMEM with one line in err; *ret is then empty.
 */
int k8s_config_creds(struct k8s_config *c, struct k8s_config_creds *ret, char *err, size_t errlen);
void k8s_config_creds_done(struct k8s_config_creds *cr);
/*
 * After a 401 answered to a request sent with used (its token): re-reads
 * the token file, or runs the exec plugin again unless another thread
 * already did since.  True when the credentials are now different, so that
 * the request is worth one more try.
 */
bool k8s_config_refresh(struct k8s_config *c, const struct k8s_config_creds *used);

/*
 * The bearer token alone (k8s_config_creds() without the certificate):
 * 0 with a copy in *ret (free()), or with NULL when none is configured; on
 * failure to re-read a file that has gone, the last token read is returned.
 * -ENOKEY when an exec plugin fails.
 */
int k8s_config_token(struct k8s_config *c, char **ret);
/* Makes the next k8s_config_creds() check the file, or run the plugin, at once. */
void k8s_config_token_invalidate(struct k8s_config *c);

#endif /* K8S_CONFIG_H */
