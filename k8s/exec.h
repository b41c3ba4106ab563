/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client-go credential plugins: the "exec" section of a kubeconfig user,
 * which is how EKS (aws eks get-token), GKE (gke-gcloud-auth-plugin) and AKS
 * (kubelogin) hand out credentials.
 *
 * The plugin is a program run without a shell (posix_spawn, PATH searched
 * for a bare name) with the kubeconfig's args and env added to ours, and
 * KUBERNETES_EXEC_INFO holding an ExecCredential object (its spec: whether
 * it may talk to the user, and with provideClusterInfo the cluster).  It
 * prints an ExecCredential of the same apiVersion
 * (client.authentication.k8s.io/v1 or v1beta1) on stdout:
 *
 *   {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
 *    "status": {"token": "...", "expirationTimestamp": "2025-01-01T00:00:00Z"}}
 *
 * or clientCertificateData and clientKeyData (PEM) instead of the token.
 *
 * Everything about the child is bounded: its stdout (K8S_EXEC_MAX_OUTPUT),
 * what is kept of its stderr, and its run time (a plugin that hangs is
 * killed).  stdin is the terminal only when the plugin may be interactive
 * and stdin is one; stderr is captured (its last line goes into the error)
 * unless it is interactive, so that its prompts reach the user.
 *
 * Errors are one line, naming the plugin and who configured it:
 *   exec plugin 'aws' of user "eks" (/root/.kube/config): exited with status 255: <its last line>
 *   exec plugin 'gke-gcloud-auth-plugin' of user ... not found: <installHint, one line>
 *   exec plugin 'x' of user ...: no answer within 30 s (killed)
 *   exec plugin 'x' of user ...: output is not an ExecCredential: <why>
 * and the code is -ENOKEY (no credentials were obtained) or -ENOMEM.
 */
#ifndef K8S_EXEC_H
#define K8S_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of stdout read from a plugin; a longer answer is an error. */
#define K8S_EXEC_MAX_OUTPUT (1u << 20)
/* Bytes of its stderr kept for the error message (the last ones). */
#define K8S_EXEC_MAX_STDERR (4u << 10)
/* Most args and env entries of an exec section. */
#define K8S_EXEC_MAX_ARGS 256
#define K8S_EXEC_MAX_ENV  256
/* How long a plugin may run when the caller does not say. */
#define K8S_EXEC_DEFAULT_TIMEOUT_MS 60000

#define K8S_EXEC_API_V1	     "client.authentication.k8s.io/v1"
#define K8S_EXEC_API_V1BETA1 "client.authentication.k8s.io/v1beta1"

enum k8s_exec_interactive {
	K8S_EXEC_INTERACTIVE_IF_AVAILABLE = 0, /* "IfAvailable", the default */
	K8S_EXEC_INTERACTIVE_NEVER,	       /* "Never" */
	K8S_EXEC_INTERACTIVE_ALWAYS,	       /* "Always": fails without a terminal */
};

struct k8s_exec_env {
	char *name;
	char *value;
};

/* A user's exec section, as the kubeconfig gives it. */
struct k8s_exec_plugin {
	char *api_version;
	char *command; /* a bare name (PATH), or a path made absolute by the loader */
	char **args;
	size_t n_args;
	struct k8s_exec_env *env;
	size_t n_env;
	char *install_hint; /* NULL when none */
	bool provide_cluster_info;
	enum k8s_exec_interactive interactive;
	char *owner; /* "user \"eks\" (/root/.kube/config)", for messages */
};

/* What the plugin is told of the cluster with provideClusterInfo. */
struct k8s_exec_cluster {
	const char *server;
	const char *ca; /* PEM, or NULL */
	size_t ca_len;
	bool insecure;
	const char *proxy_url;	     /* or NULL */
	const char *config_json;     /* the cluster's exec extension as JSON, or NULL */
	const char *tls_server_name; /* or NULL */
};

/* What the plugin answered.  Any of the strings may be NULL. */
struct k8s_exec_credential {
	char *token;
	char *cert; /* PEM */
	size_t cert_len;
	char *key; /* PEM */
	size_t key_len;
	bool expires; /* expirationTimestamp was given */
	int64_t expires_unix;
};

/* Deep-copies p into *ret; -ENOMEM. */
int k8s_exec_plugin_dup(const struct k8s_exec_plugin *p, struct k8s_exec_plugin *ret);
void k8s_exec_plugin_done(struct k8s_exec_plugin *p);

/*
 * Runs the plugin and reads its answer into *ret (release with
 * k8s_exec_credential_done()).  cluster may be NULL (no cluster info is
 * passed then).  timeout_ms 0 means K8S_EXEC_DEFAULT_TIMEOUT_MS.  -ENOKEY
 * or -ENOMEM with one line in err, as described above.
 */
int k8s_exec_run(const struct k8s_exec_plugin *p, const struct k8s_exec_cluster *cluster,
		 unsigned int timeout_ms, struct k8s_exec_credential *ret, char *err,
		 size_t errlen);

/*
 * Parses a plugin's stdout (len bytes) as an ExecCredential of apiVersion
 * api_version.  -EINVAL with the reason in err (without the plugin's name),
 * -E2BIG over K8S_EXEC_MAX_OUTPUT, -ENOMEM.  Exposed for tests and fuzzing.
 */
int k8s_exec_parse(const char *out, size_t len, const char *api_version,
		   struct k8s_exec_credential *ret, char *err, size_t errlen);
void k8s_exec_credential_done(struct k8s_exec_credential *c);

/* "2024-05-01T10:00:00Z", "...:00.5+02:00" -> seconds since the epoch; -EINVAL. */
int k8s_exec_parse_time(const char *s, int64_t *ret);

#endif /* K8S_EXEC_H */
