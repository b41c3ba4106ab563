/* SPDX-License-Identifier: Apache-2.0 */
/*
 * REST client for the Kubernetes API server, over libcurl and jansson.
 *
 * Requests carry JSON both ways.  TLS is always verified (against the
 * configured CA, else the system's) unless the kubeconfig says
 * insecure-skip-tls-verify; a client certificate and key, and the CA, are
 * handed to libcurl from memory; a bearer token is sent when configured.
 * After a 401 the credentials are refreshed (k8s_config_refresh(): the
 * token file re-read, the exec plugin run again) and the request retried
 * once when that gave new ones.  Requests go through the cluster's
 * proxy-url, else the proxy libcurl finds in $https_proxy and friends, and
 * carry the impersonation headers (Impersonate-User, -Group, -Uid) of --as.
 *
 * A failed request returns -errno and, when err is not NULL, one line such
 * as "GET /api/v1/pods: 401 Unauthorized" or "GET /api/v1/namespaces/x/pods/y:
 * 404 Not Found: pods \"y\" not found".  The server's metav1 Status body is
 * mapped as:
 *
 *   400 -EINVAL  401 -EACCES  403 -EPERM  404 -ENOENT  405 -EOPNOTSUPP
 *   409 -EEXIST (reason AlreadyExists) or -EBUSY (Conflict)  410 -ESTALE
 *   413 -E2BIG  415 -EPROTONOSUPPORT  422 -EINVAL  429 -EAGAIN  500 -EIO
 *   503 -EAGAIN  504 -ETIMEDOUT  other 4xx -EPROTO  other 5xx -EIO
 *
 * Credentials: -ENOKEY when an exec plugin could not give any (the
 * message is the plugin's, without the request).
 *
 * Transport errors: -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET
 * (connection cut, nothing or a partial reply), -EKEYREJECTED (TLS
 * handshake or certificate verification failed), -E2BIG (body over
 * K8S_CLIENT_MAX_BODY), -EBADMSG (a 2xx body that is not a JSON object),
 * -ECANCELED (a stream cancelled by its caller).
 *
 * Thread safety: a client may be used from any number of threads at once
 * (each request has its own curl easy handle; connections, TLS sessions and
 * DNS are shared under a lock).
 */
#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct k8s_config;
struct k8s_client;

/* Largest response body read by a request (a list page included). */
#define K8S_CLIENT_MAX_BODY (64u << 20)
/* Largest error body kept from a failed request or stream. */
#define K8S_CLIENT_MAX_ERROR_BODY (64u << 10)
/* Largest request path, selectors and continue token included. */
#define K8S_CLIENT_MAX_URL 8192
/* Items per page of a list when the caller does not say. */
#define K8S_CLIENT_DEFAULT_LIMIT 500
/* Most pages followed by one list. */
#define K8S_CLIENT_MAX_PAGES 100000

#define K8S_CLIENT_ERRLEN 1024

struct k8s_client_opts {
	long connect_timeout_ms; /* 0 for 10 s */
	long timeout_ms;	 /* whole request, streams excepted; 0 for 60 s, < 0 none */
	const char *user_agent;	 /* NULL for "ig/<version>" */
};

/*
 * Returns a new client in *ret (free with k8s_client_free()).  cfg is
 * borrowed and must outlive the client.  -ENOMEM, -EINVAL (bad server URL),
 * -ELIBACC or -ELIBBAD when libcurl, loaded on first use, cannot be:
 * base_curl_load() (base/curl.h) then has the message for the user.
 */
int k8s_client_new(struct k8s_config *cfg, const struct k8s_client_opts *opts,
		   struct k8s_client **ret);
struct k8s_client *k8s_client_free(struct k8s_client *c);
struct k8s_config *k8s_client_config(const struct k8s_client *c);

/*
 * One request.  path is absolute ("/api/v1/namespaces/x/pods") and may carry
 * a query.  body is sent as JSON with content_type (NULL for
 * "application/json"), or nothing when NULL.  On success the reply object is
 * returned in *ret when ret is not NULL (json_decref() it); a 2xx with an
 * empty body gives NULL.  Returns the HTTP status (200..299) or -errno.
 */
int k8s_client_request(struct k8s_client *c, const char *method, const char *path,
		       const json_t *body, const char *content_type, json_t **ret, char *err,
		       size_t errlen);
int k8s_client_get(struct k8s_client *c, const char *path, json_t **ret, char *err, size_t errlen);
int k8s_client_post(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		    char *err, size_t errlen);
int k8s_client_put(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		   char *err, size_t errlen);
/* A JSON merge patch (application/merge-patch+json). */
int k8s_client_patch(struct k8s_client *c, const char *path, const json_t *body, json_t **ret,
		     char *err, size_t errlen);
int k8s_client_delete(struct k8s_client *c, const char *path, json_t **ret, char *err,
		      size_t errlen);

/*
 * Called once per item of a list, in order; the item is borrowed for the
 * call.  A negative return stops the list and is returned by it.
 */
typedef int (*k8s_client_item_fn)(void *userdata, json_t *item);

struct k8s_client_list_opts {
	const char *field_selector; /* "spec.nodeName=n1" or NULL */
	const char *label_selector; /* "app=web,tier!=db" or NULL */
	unsigned int limit;	    /* items per page; 0 for K8S_CLIENT_DEFAULT_LIMIT */
};

/*
 * Lists a collection page by page (limit + continue), handing each item to
 * fn; only one page is held in memory at a time.  On success *ret_rv, when
 * not NULL, receives the list's resourceVersion (free()).  -ESTALE when the
 * continue token expired mid-way (items already handed out belong to an
 * abandoned list: start again).
 */
int k8s_client_list(struct k8s_client *c, const char *path, const struct k8s_client_list_opts *opts,
		    k8s_client_item_fn fn, void *userdata, char **ret_rv, char *err, size_t errlen);

/* Receives the bytes of a stream as they arrive; a negative return aborts it. */
typedef int (*k8s_client_data_fn)(void *userdata, const char *data, size_t len);

struct k8s_client_stream_opts {
	k8s_client_data_fn on_data;
	void *userdata;
	/* Polled at least every 250 ms: when it becomes true the stream ends. */
	const atomic_bool *cancel;
	/* A stream silent for this long is cut (-ETIMEDOUT); 0 for none. */
	unsigned int idle_timeout_s;
	/* Called from the stream's thread at least every 250 ms; may be NULL. */
	void (*on_poll)(void *userdata);
};

/*
 * GETs path and streams the 2xx body to opts->on_data until the server ends
 * it (returns 0), the callback fails (its error), the stream is cancelled
 * (-ECANCELED) or the connection breaks (-ECONNRESET and friends).  A
 * non-2xx reply is read whole (bounded) and mapped like a request's.
 */
int k8s_client_stream(struct k8s_client *c, const char *path,
		      const struct k8s_client_stream_opts *opts, char *err, size_t errlen);

/*
 * Maps a metav1 Status object (or an HTTP status when st is NULL) to -errno
 * as the table above says.  Thread-safe, pure.
 */
int k8s_client_status_errno(long http_code, const json_t *st);

/*
 * Appends "?" or "&" and key=value, the value URL-escaped, to a path held in
 * a buffer of K8S_CLIENT_MAX_URL.  -E2BIG when it does not fit.
 */
int k8s_client_add_query(char *path, size_t size, const char *key, const char *value);

#endif /* K8S_CLIENT_H */
