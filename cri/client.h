/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRI client: the RuntimeService and ImageService calls ig makes, in terms of
 * the protobuf-c messages generated from cri/api.proto.
 *
 * Every call carries the client's deadline.  Replies are returned unpacked;
 * free them with protobuf_c_message_free_unpacked(&r->base, NULL) (or the
 * generated *__free_unpacked()).  Errors are -errno as in cri/transport.h: in
 * particular -ENOENT (no socket), -ECONNREFUSED (runtime not answering),
 * -ETIMEDOUT, -EOPNOTSUPP (method not implemented by this runtime), -ESRCH
 * (no such container or sandbox), -EBADMSG (reply that does not decode).
 * When the runtime restarts, the next call reconnects.
 */
#ifndef CRI_CLIENT_H
#define CRI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri/api.pb-c.h"

struct cri_transport_stream;

#define CRI_DEFAULT_TIMEOUT_MS 5000
/* Largest verbose "info" JSON value parsed. */
#define CRI_MAX_INFO_JSON (1u << 20)
/* Largest PID accepted (the kernel's PID_MAX_LIMIT). */
#define CRI_MAX_PID 4194304u
/* Longest container or sandbox id accepted in requests. */
#define CRI_MAX_ID 256

struct cri_client;

/*
 * A client for the runtime at socket_path; timeout_ms bounds every call
 * (0: CRI_DEFAULT_TIMEOUT_MS).  Nothing is connected until the first call.
 * Returns a new client; free with cri_client_free().
 */
int cri_client_new(const char *socket_path, int timeout_ms, struct cri_client **ret);
struct cri_client *cri_client_free(struct cri_client *c);
/* The socket path (borrowed). */
const char *cri_client_socket(const struct cri_client *c);

int cri_client_version(struct cri_client *c, Runtime__V1__VersionResponse **ret);
/* filter may be NULL for every container. */
int cri_client_list_containers(struct cri_client *c, const Runtime__V1__ContainerFilter *filter,
			       Runtime__V1__ListContainersResponse **ret);
int cri_client_container_status(struct cri_client *c, const char *id, bool verbose,
				Runtime__V1__ContainerStatusResponse **ret);
/* filter may be NULL for every sandbox. */
int cri_client_list_pod_sandbox(struct cri_client *c, const Runtime__V1__PodSandboxFilter *filter,
				Runtime__V1__ListPodSandboxResponse **ret);
int cri_client_pod_sandbox_status(struct cri_client *c, const char *id, bool verbose,
				  Runtime__V1__PodSandboxStatusResponse **ret);

/* Sandbox and container lifecycle (the test helper's needs).  *ret_id: free() it. */
int cri_client_run_pod_sandbox(struct cri_client *c, const Runtime__V1__PodSandboxConfig *config,
			       char **ret_id);
int cri_client_stop_pod_sandbox(struct cri_client *c, const char *id);
int cri_client_remove_pod_sandbox(struct cri_client *c, const char *id);
int cri_client_create_container(struct cri_client *c, const char *pod_id,
				const Runtime__V1__ContainerConfig *config,
				const Runtime__V1__PodSandboxConfig *sandbox_config, char **ret_id);
int cri_client_start_container(struct cri_client *c, const char *id);
/* timeout_s: grace period before the runtime kills it. */
int cri_client_stop_container(struct cri_client *c, const char *id, int64_t timeout_s);
int cri_client_remove_container(struct cri_client *c, const char *id);

/* ImageService.  *ret->image is NULL when the runtime does not have it. */
int cri_client_image_status(struct cri_client *c, const char *image,
			    Runtime__V1__ImageStatusResponse **ret);
int cri_client_pull_image(struct cri_client *c, const char *image, char **ret_ref);

/*
 * GetContainerEvents: opens the stream (containerd >= 1.7, CRI-O).  A runtime
 * without it ends the stream with -EOPNOTSUPP, reported by
 * cri_client_events_next(); poll cri_client_events_fd() for input.
 */
int cri_client_events_open(struct cri_client *c, struct cri_transport_stream **ret);
int cri_client_events_fd(const struct cri_transport_stream *s);
/* 1 and an event (free it), 0 when none is queued, -errno at the end. */
int cri_client_events_next(struct cri_transport_stream *s,
			   Runtime__V1__ContainerEventResponse **ret);
struct cri_transport_stream *cri_client_events_close(struct cri_transport_stream *s);

/*
 * The container's PID from a verbose ContainerStatus: the JSON under the
 * "info" key ({"pid": N, ...}, as containerd and CRI-O write it).  0 and *ret
 * = 0 when the container has no process; -ENODATA when the reply has no such
 * key or no "pid" in it; -EBADMSG for JSON that does not parse; -ERANGE for a
 * PID that is not in 0..CRI_MAX_PID; -E2BIG past CRI_MAX_INFO_JSON.
 */
int cri_client_info_pid(const char *json, size_t len, uint32_t *ret);
int cri_client_status_pid(const Runtime__V1__ContainerStatusResponse *r, uint32_t *ret);

/* Unpacks a reply: -EBADMSG if it does not decode, -E2BIG past CRI_MAX_REPLY. */
int cri_client_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		      ProtobufCMessage **ret);

#endif /* CRI_CLIENT_H */
