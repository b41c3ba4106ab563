// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what a CRI runtime sends us: the first byte picks
 * the parser, the rest is its input.
 *
 *   0: the verbose "info" JSON that carries the PID (cri_client_info_pid)
 *   1: a ContainerStatusResponse, then the container built from it
 *   2: a PodSandboxStatusResponse, then a container built with it
 *   3: a ListContainersResponse
 *
 * Beyond not crashing: an accepted PID is within CRI_MAX_PID, and a container
 * that is built has every string set.  A broken promise aborts.
 */
#include "cri/client.h"
#include "cri/collection.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_container(const struct cri_container *c)
{
	if (!c->id || !*c->id || !c->name || !c->pod_name || !c->pod_namespace || !c->pod_uid ||
	    !c->image_name || !c->image_digest || !c->runtime || c->pid > CRI_MAX_PID)
		abort();
	if (c->n_pod_labels > CRI_COLLECTION_MAX_LABELS || c->n_labels > CRI_COLLECTION_MAX_LABELS)
		abort();
}

static void fuzz_status(const uint8_t *data, size_t size)
{
	Runtime__V1__ContainerStatusResponse *st = NULL;
	struct cri_container *c = NULL;
	uint32_t pid = 0;

	if (cri_client_decode(&runtime__v1__container_status_response__descriptor, data, size,
			      (ProtobufCMessage **)&st))
		return;
	if (cri_client_status_pid(st, &pid) == 0 && pid > CRI_MAX_PID)
		abort();
	if (cri_collection_container_new(st, NULL, "fuzz", 0, &c) == 0) {
		check_container(c);
		cri_collection_container_free(c);
	}
	runtime__v1__container_status_response__free_unpacked(st, NULL);
}

static void fuzz_sandbox(const uint8_t *data, size_t size)
{
	Runtime__V1__ContainerStatusResponse st = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	Runtime__V1__ContainerStatus s = RUNTIME__V1__CONTAINER_STATUS__INIT;
	Runtime__V1__PodSandboxStatusResponse *sb = NULL;
	struct cri_container *c = NULL;

	if (cri_client_decode(&runtime__v1__pod_sandbox_status_response__descriptor, data, size,
			      (ProtobufCMessage **)&sb))
		return;
	s.id = (char *)"fuzz";
	st.status = &s;
	if (cri_collection_container_new(&st, sb, "fuzz", 1, &c) == 0) {
		check_container(c);
		cri_collection_container_free(c);
	}
	runtime__v1__pod_sandbox_status_response__free_unpacked(sb, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Runtime__V1__ListContainersResponse *l = NULL;
	uint32_t pid = 0;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		if (cri_client_info_pid((const char *)data + 1, size - 1, &pid) == 0 &&
		    pid > CRI_MAX_PID)
			abort();
		break;
	case 1:
		fuzz_status(data + 1, size - 1);
		break;
	case 2:
		fuzz_sandbox(data + 1, size - 1);
		break;
	default:
		if (!cri_client_decode(&runtime__v1__list_containers_response__descriptor, data + 1,
				       size - 1, (ProtobufCMessage **)&l))
			runtime__v1__list_containers_response__free_unpacked(l, NULL);
		break;
	}
	return 0;
}
