// SPDX-License-Identifier: Apache-2.0
/*
 * CRI client: packs requests with protobuf-c, sends them through the
 * transport with the client's deadline, and unpacks the replies.  The only
 * parsing of free-form data is the verbose "info" JSON that carries the PID.
 */
#include "cri/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cri/transport.h"

#define RUNTIME_SVC "/runtime.v1.RuntimeService/"
#define IMAGE_SVC   "/runtime.v1.ImageService/"

struct cri_client {
	struct cri_transport *t;
	int timeout_ms;
};

int cri_client_new(const char *socket_path, int timeout_ms, struct cri_client **ret)
{
	struct cri_client *c;
	int err;

	if (!ret || timeout_ms < 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = timeout_ms ? timeout_ms : CRI_DEFAULT_TIMEOUT_MS;
	err = cri_transport_new(socket_path, &c->t);
	if (err) {
		free(c);
		return err;
	}
	*ret = c;
	return 0;
}

struct cri_client *cri_client_free(struct cri_client *c)
{
	if (!c)
		return NULL;
	cri_transport_free(c->t);
	free(c);
	return NULL;
}

const char *cri_client_socket(const struct cri_client *c)
{
	return c ? cri_transport_path(c->t) : NULL;
}

int cri_client_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		      ProtobufCMessage **ret)
{
	ProtobufCMessage *m;

	if (!desc || !ret || (!buf && len))
		return -EINVAL;
	if (len > CRI_MAX_REPLY)
		return -E2BIG;
	/* protobuf-c reads nothing from buf when len is 0, but wants a pointer. */
	m = protobuf_c_message_unpack(desc, NULL, len, buf ? buf : (const uint8_t *)"");
	if (!m)
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* Packs req, calls method, unpacks the reply as reply_desc (NULL: discard). */
static int client_call(struct cri_client *c, const char *method, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret)
{
	uint8_t *out = NULL, *in = NULL;
	size_t out_len, in_len = 0;
	ProtobufCMessage *m = NULL;
	int err;

	if (!c)
		return -EINVAL;
	out_len = protobuf_c_message_get_packed_size(req);
	if (out_len) {
		out = malloc(out_len);
		if (!out)
			return -ENOMEM;
		protobuf_c_message_pack(req, out);
	}
	err = cri_transport_call(c->t, method, out, out_len, c->timeout_ms, &in, &in_len);
	free(out);
	if (err)
		return err;
	if (reply_desc) {
		err = cri_client_decode(reply_desc, in, in_len, &m);
		if (!err)
			*ret = m;
	}
	free(in);
	return err;
}

static int check_id(const char *id)
{
	if (!id || !*id)
		return -EINVAL;
	if (strnlen(id, CRI_MAX_ID + 1) > CRI_MAX_ID)
		return -ENAMETOOLONG;
	return 0;
}

int cri_client_version(struct cri_client *c, Runtime__V1__VersionResponse **ret)
{
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;

	if (!ret)
		return -EINVAL;
	req.version = (char *)"v1";
	return client_call(c, RUNTIME_SVC "Version", &req.base,
			   &runtime__v1__version_response__descriptor, (ProtobufCMessage **)ret);
}

int cri_client_list_containers(struct cri_client *c, const Runtime__V1__ContainerFilter *filter,
			       Runtime__V1__ListContainersResponse **ret)
{
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;

	if (!ret)
		return -EINVAL;
	req.filter = (Runtime__V1__ContainerFilter *)filter;
	return client_call(c, RUNTIME_SVC "ListContainers", &req.base,
			   &runtime__v1__list_containers_response__descriptor,
			   (ProtobufCMessage **)ret);
}

int cri_client_container_status(struct cri_client *c, const char *id, bool verbose,
				Runtime__V1__ContainerStatusResponse **ret)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	if (!ret)
		return -EINVAL;
	req.container_id = (char *)id;
	req.verbose = verbose;
	return client_call(c, RUNTIME_SVC "ContainerStatus", &req.base,
			   &runtime__v1__container_status_response__descriptor,
			   (ProtobufCMessage **)ret);
}

int cri_client_list_pod_sandbox(struct cri_client *c, const Runtime__V1__PodSandboxFilter *filter,
				Runtime__V1__ListPodSandboxResponse **ret)
{
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;

	if (!ret)
		return -EINVAL;
	req.filter = (Runtime__V1__PodSandboxFilter *)filter;
	return client_call(c, RUNTIME_SVC "ListPodSandbox", &req.base,
			   &runtime__v1__list_pod_sandbox_response__descriptor,
			   (ProtobufCMessage **)ret);
}

int cri_client_pod_sandbox_status(struct cri_client *c, const char *id, bool verbose,
				  Runtime__V1__PodSandboxStatusResponse **ret)
{
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	if (!ret)
		return -EINVAL;
	req.pod_sandbox_id = (char *)id;
	req.verbose = verbose;
	return client_call(c, RUNTIME_SVC "PodSandboxStatus", &req.base,
			   &runtime__v1__pod_sandbox_status_response__descriptor,
			   (ProtobufCMessage **)ret);
}

/* Takes the id string out of a reply so the reply can be freed. */
static int take_id(char **field, char **ret_id)
{
	if (!*field || !**field)
		return -EPROTO;
	*ret_id = *field;
	*field = NULL;
	return 0;
}

int cri_client_run_pod_sandbox(struct cri_client *c, const Runtime__V1__PodSandboxConfig *config,
			       char **ret_id)
{
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RunPodSandboxResponse *r = NULL;
	char *id = NULL;
	int err;

	if (!config || !ret_id)
		return -EINVAL;
	req.config = (Runtime__V1__PodSandboxConfig *)config;
	err = client_call(c, RUNTIME_SVC "RunPodSandbox", &req.base,
			  &runtime__v1__run_pod_sandbox_response__descriptor,
			  (ProtobufCMessage **)&r);
	if (err)
		return err;
	err = take_id(&r->pod_sandbox_id, &id);
	/* protobuf-c frees strings with its allocator (malloc by default). */
	runtime__v1__run_pod_sandbox_response__free_unpacked(r, NULL);
	if (!err)
		*ret_id = id;
	return err;
}

int cri_client_stop_pod_sandbox(struct cri_client *c, const char *id)
{
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	req.pod_sandbox_id = (char *)id;
	return client_call(c, RUNTIME_SVC "StopPodSandbox", &req.base, NULL, NULL);
}

int cri_client_remove_pod_sandbox(struct cri_client *c, const char *id)
{
	Runtime__V1__RemovePodSandboxRequest req = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	req.pod_sandbox_id = (char *)id;
	return client_call(c, RUNTIME_SVC "RemovePodSandbox", &req.base, NULL, NULL);
}

int cri_client_create_container(struct cri_client *c, const char *pod_id,
				const Runtime__V1__ContainerConfig *config,
				const Runtime__V1__PodSandboxConfig *sandbox_config, char **ret_id)
{
	Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__CreateContainerResponse *r = NULL;
	char *id = NULL;
	int err = check_id(pod_id);

	if (err)
		return err;
	if (!config || !ret_id)
		return -EINVAL;
	req.pod_sandbox_id = (char *)pod_id;
	req.config = (Runtime__V1__ContainerConfig *)config;
	req.sandbox_config = (Runtime__V1__PodSandboxConfig *)sandbox_config;
	err = client_call(c, RUNTIME_SVC "CreateContainer", &req.base,
			  &runtime__v1__create_container_response__descriptor,
			  (ProtobufCMessage **)&r);
	if (err)
		return err;
	err = take_id(&r->container_id, &id);
	runtime__v1__create_container_response__free_unpacked(r, NULL);
	if (!err)
		*ret_id = id;
	return err;
}

int cri_client_start_container(struct cri_client *c, const char *id)
{
	Runtime__V1__StartContainerRequest req = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	req.container_id = (char *)id;
	return client_call(c, RUNTIME_SVC "StartContainer", &req.base, NULL, NULL);
}

int cri_client_stop_container(struct cri_client *c, const char *id, int64_t timeout_s)
{
	Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	req.container_id = (char *)id;
	req.timeout = timeout_s;
	return client_call(c, RUNTIME_SVC "StopContainer", &req.base, NULL, NULL);
}

int cri_client_remove_container(struct cri_client *c, const char *id)
{
	Runtime__V1__RemoveContainerRequest req = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	int err = check_id(id);

	if (err)
		return err;
	req.container_id = (char *)id;
	return client_call(c, RUNTIME_SVC "RemoveContainer", &req.base, NULL, NULL);
}

int cri_client_image_status(struct cri_client *c, const char *image,
			    Runtime__V1__ImageStatusResponse **ret)
{
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;

	if (!image || !*image || !ret)
		return -EINVAL;
	spec.image = (char *)image;
	req.image = &spec;
	return client_call(c, IMAGE_SVC "ImageStatus", &req.base,
			   &runtime__v1__image_status_response__descriptor,
			   (ProtobufCMessage **)ret);
}

int cri_client_pull_image(struct cri_client *c, const char *image, char **ret_ref)
{
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageResponse *r = NULL;
	char *ref = NULL;
	int err;

	if (!image || !*image || !ret_ref)
		return -EINVAL;
	spec.image = (char *)image;
	req.image = &spec;
	err = client_call(c, IMAGE_SVC "PullImage", &req.base,
			  &runtime__v1__pull_image_response__descriptor, (ProtobufCMessage **)&r);
	if (err)
		return err;
	err = take_id(&r->image_ref, &ref);
	runtime__v1__pull_image_response__free_unpacked(r, NULL);
	if (!err)
		*ret_ref = ref;
	return err;
}

int cri_client_events_open(struct cri_client *c, struct cri_transport_stream **ret)
{
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	uint8_t buf[8];
	size_t n;

	if (!c || !ret)
		return -EINVAL;
	/* An empty message packs to zero bytes; buf is only a valid pointer. */
	n = protobuf_c_message_pack(&req.base, buf);
	return cri_transport_stream_open(c->t, RUNTIME_SVC "GetContainerEvents", buf, n, ret);
}

int cri_client_events_fd(const struct cri_transport_stream *s)
{
	return cri_transport_stream_fd(s);
}

int cri_client_events_next(struct cri_transport_stream *s,
			   Runtime__V1__ContainerEventResponse **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = cri_transport_stream_next(s, &buf, &len);
	if (r <= 0)
		return r;
	r = cri_client_decode(&runtime__v1__container_event_response__descriptor, buf, len,
			      (ProtobufCMessage **)ret);
	free(buf);
	return r < 0 ? r : 1;
}

struct cri_transport_stream *cri_client_events_close(struct cri_transport_stream *s)
{
	return cri_transport_stream_free(s);
}

int cri_client_info_pid(const char *json, size_t len, uint32_t *ret)
{
	json_error_t jerr;
	json_t *root, *pid;
	json_int_t v;
	int err = 0;

	if (!json || !ret)
		return -EINVAL;
	if (len > CRI_MAX_INFO_JSON)
		return -E2BIG;
	root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
	if (!root)
		return -EBADMSG;
	pid = json_is_object(root) ? json_object_get(root, "pid") : NULL;
	if (!pid) {
		err = -ENODATA;
	} else if (!json_is_integer(pid)) {
		err = -EBADMSG;
	} else {
		v = json_integer_value(pid);
		if (v < 0 || v > (json_int_t)CRI_MAX_PID)
			err = -ERANGE;
		else
			*ret = (uint32_t)v;
	}
	json_decref(root);
	return err;
}

int cri_client_status_pid(const Runtime__V1__ContainerStatusResponse *r, uint32_t *ret)
{
	size_t i;

	if (!r || !ret)
		return -EINVAL;
	for (i = 0; i < r->n_info; i++) {
		const Runtime__V1__ContainerStatusResponse__InfoEntry *e = r->info[i];

		if (e && e->key && !strcmp(e->key, "info") && e->value)
			return cri_client_info_pid(e->value, strlen(e->value), ret);
	}
	return -ENODATA;
}
