// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the parts of the container collection (cri/collection.c) that
 * need no runtime: turning CRI replies (packed here, then decoded as they
 * would arrive) into a container with pod names, pod labels and the
 * host-network flag; the cgroup v2 path from /proc/<pid>/cgroup text; image
 * digests; and the errors of cri_collection_new() when no runtime is there.
 * The collection against a real containerd is covered by
 * tests/integration/test_containers.py.
 */
#include "cri/collection.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri/client.h"

typedef Runtime__V1__ContainerStatus__LabelsEntry kv_t;

#define KV(k, v)                                                                                   \
	{                                                                                          \
		PROTOBUF_C_MESSAGE_INIT(&runtime__v1__container_status__labels_entry__descriptor), \
			(char *)(k), (char *)(v)                                                   \
	}

/* Packs msg and decodes it back as desc, like a reply off the wire. */
static ProtobufCMessage *roundtrip(const ProtobufCMessage *msg,
				   const ProtobufCMessageDescriptor *desc)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(n ? n : 1);
	ProtobufCMessage *out = NULL;

	assert_non_null(buf);
	protobuf_c_message_pack(msg, buf);
	assert_int_equal(cri_client_decode(desc, buf, n, &out), 0);
	free(buf);
	return out;
}

static Runtime__V1__ContainerStatusResponse *make_status(kv_t **labels, size_t n_labels,
							 const char *info)
{
	Runtime__V1__ContainerStatusResponse r = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ContainerStatusResponse__InfoEntry ie =
		RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__ContainerStatusResponse__InfoEntry *pie = &ie;

	st.id = (char *)"0123456789abcdef";
	md.name = (char *)"web";
	st.metadata = &md;
	st.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	st.started_at = 1700000000123456789LL;
	img.image = (char *)"docker.io/library/nginx:1.25";
	st.image = &img;
	st.image_ref = (char *)"docker.io/library/nginx@sha256:feed";
	st.n_labels = n_labels;
	st.labels = labels;
	r.status = &st;
	if (info) {
		ie.key = (char *)"info";
		ie.value = (char *)info;
		r.n_info = 1;
		r.info = &pie;
	}
	return (Runtime__V1__ContainerStatusResponse *)roundtrip(
		&r.base, &runtime__v1__container_status_response__descriptor);
}

static Runtime__V1__PodSandboxStatusResponse *make_sandbox(Runtime__V1__NamespaceMode net)
{
	Runtime__V1__PodSandboxStatusResponse r = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
	Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxStatus lx = RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT;
	Runtime__V1__Namespace ns = RUNTIME__V1__NAMESPACE__INIT;
	Runtime__V1__NamespaceOption opt = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	kv_t l[3] = {KV("app", "shop"), KV("io.kubernetes.pod.name", "cart-1"),
		     KV("tier", "front")};
	kv_t *pl[3] = {&l[0], &l[1], &l[2]};

	st.id = (char *)"sandbox-1";
	md.name = (char *)"cart-1";
	md.namespace_ = (char *)"shop";
	md.uid = (char *)"uid-1";
	st.metadata = &md;
	opt.network = net;
	ns.options = &opt;
	lx.namespaces = &ns;
	st.linux_status = &lx;
	st.n_labels = 3;
	st.labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **)pl;
	r.status = &st;
	return (Runtime__V1__PodSandboxStatusResponse *)roundtrip(
		&r.base, &runtime__v1__pod_sandbox_status_response__descriptor);
}

static const char *label(const struct cri_label *l, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].value;
	return NULL;
}

static void test_container_from_replies(void **state)
{
	kv_t l[1] = {KV("io.kubernetes.container.name", "web")};
	kv_t *pl[1] = {&l[0]};
	Runtime__V1__ContainerStatusResponse *st = make_status(pl, 1, "{\"pid\":1234}");
	Runtime__V1__PodSandboxStatusResponse *sb = make_sandbox(RUNTIME__V1__NAMESPACE_MODE__NODE);
	struct cri_container *c = NULL;

	(void)state;
	assert_int_equal(cri_collection_container_new(st, sb, "containerd", 0, &c), 0);
	assert_string_equal(c->id, "0123456789abcdef");
	assert_string_equal(c->name, "web");
	assert_string_equal(c->pod_id, "sandbox-1");
	assert_string_equal(c->pod_name, "cart-1");
	assert_string_equal(c->pod_namespace, "shop");
	assert_string_equal(c->pod_uid, "uid-1");
	assert_string_equal(c->runtime, "containerd");
	assert_string_equal(c->image_name, "docker.io/library/nginx:1.25");
	assert_string_equal(c->image_digest, "sha256:feed");
	assert_int_equal(c->pid, 1234);
	assert_true(c->running);
	assert_true(c->host_network);
	assert_int_equal(c->started_at, 1700000000123456789LL);
	/* pod labels without the kubelet's io.kubernetes.* ones */
	assert_int_equal(c->n_pod_labels, 2);
	assert_string_equal(label(c->pod_labels, c->n_pod_labels, "app"), "shop");
	assert_string_equal(label(c->pod_labels, c->n_pod_labels, "tier"), "front");
	assert_null(label(c->pod_labels, c->n_pod_labels, "io.kubernetes.pod.name"));
	/* container labels as they are */
	assert_string_equal(label(c->labels, c->n_labels, "io.kubernetes.container.name"), "web");
	assert_null(cri_collection_container_free(c));

	/* an explicit PID (from init.pid) wins over the reply's */
	assert_int_equal(cri_collection_container_new(st, sb, "containerd", 99, &c), 0);
	assert_int_equal(c->pid, 99);
	cri_collection_container_free(c);

	runtime__v1__pod_sandbox_status_response__free_unpacked(sb, NULL);
	sb = make_sandbox(RUNTIME__V1__NAMESPACE_MODE__POD);
	assert_int_equal(cri_collection_container_new(st, sb, "containerd", 0, &c), 0);
	assert_false(c->host_network);
	cri_collection_container_free(c);

	runtime__v1__pod_sandbox_status_response__free_unpacked(sb, NULL);
	runtime__v1__container_status_response__free_unpacked(st, NULL);
}

static void test_container_without_sandbox(void **state)
{
	kv_t l[3] = {KV("io.kubernetes.pod.name", "p"), KV("io.kubernetes.pod.namespace", "ns"),
		     KV("io.kubernetes.pod.uid", "u")};
	kv_t *pl[3] = {&l[0], &l[1], &l[2]};
	Runtime__V1__ContainerStatusResponse *st = make_status(pl, 3, NULL);
	struct cri_container *c = NULL;

	(void)state;
	/* the names fall back on the labels the kubelet sets; no info: no PID */
	assert_int_equal(cri_collection_container_new(st, NULL, "cri-o", 0, &c), 0);
	assert_string_equal(c->pod_name, "p");
	assert_string_equal(c->pod_namespace, "ns");
	assert_string_equal(c->pod_uid, "u");
	assert_string_equal(c->pod_id, "");
	assert_int_equal(c->pid, 0);
	assert_false(c->host_network);
	assert_int_equal(c->n_pod_labels, 0);
	cri_collection_container_free(c);
	runtime__v1__container_status_response__free_unpacked(st, NULL);
}

static void test_container_bad_replies(void **state)
{
	Runtime__V1__ContainerStatusResponse empty = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	Runtime__V1__ContainerStatusResponse *st;
	kv_t *many[CRI_COLLECTION_MAX_LABELS + 1];
	kv_t one = KV("k", "v");
	struct cri_container *c = NULL;
	size_t i;

	(void)state;
	/* no status at all: nothing to name */
	assert_int_equal(cri_collection_container_new(&empty, NULL, "x", 0, &c), -ENODATA);
	for (i = 0; i <= CRI_COLLECTION_MAX_LABELS; i++)
		many[i] = &one;
	st = make_status(many, CRI_COLLECTION_MAX_LABELS + 1, NULL);
	assert_int_equal(cri_collection_container_new(st, NULL, "x", 0, &c), -E2BIG);
	assert_null(c);
	runtime__v1__container_status_response__free_unpacked(st, NULL);
	assert_null(cri_collection_container_free(NULL));
}

static void test_cgroup_path(void **state)
{
	static const char hybrid[] = "9:name=systemd:/k8s.io/abc\n4:memory:/k8s.io/abc\n"
				     "0::/k8s.io/abc\n";
	static const char v2[] = "0::/system.slice/containerd.service";
	static const char v1[] = "4:memory:/k8s.io/abc\n1:cpu:/k8s.io/abc\n";
	static const char bogus[] = "0::relative\n0:\n";
	char *p = NULL;

	(void)state;
	assert_int_equal(cri_collection_cgroup_path(hybrid, strlen(hybrid), &p), 0);
	assert_string_equal(p, "/k8s.io/abc");
	free(p);
	assert_int_equal(cri_collection_cgroup_path(v2, strlen(v2), &p), 0);
	assert_string_equal(p, "/system.slice/containerd.service");
	free(p);
	assert_int_equal(cri_collection_cgroup_path(v1, strlen(v1), &p), -ENODATA);
	assert_int_equal(cri_collection_cgroup_path(bogus, strlen(bogus), &p), -ENODATA);
	/* only the given length is read */
	assert_int_equal(cri_collection_cgroup_path(hybrid, 10, &p), -ENODATA);
}

static void test_image_digest(void **state)
{
	(void)state;
	assert_string_equal(cri_collection_image_digest("a/b@sha256:00ff"), "sha256:00ff");
	assert_string_equal(cri_collection_image_digest("sha256:00ff"), "sha256:00ff");
	assert_string_equal(cri_collection_image_digest("a/b:latest"), "");
	assert_string_equal(cri_collection_image_digest(NULL), "");
}

static void test_new_errors(void **state)
{
	struct cri_collection_runtime rt[2] = {
		{.name = "containerd", .socket_path = "/nonexistent/containerd.sock"},
		{.name = "cri-o", .socket_path = "/nonexistent/crio.sock"},
	};
	struct cri_collection_opts o = {.runtimes = rt, .n_runtimes = 2};
	struct cri_collection *c = NULL;

	(void)state;
	assert_int_equal(cri_collection_new(&o, &c), -ENOENT);
	assert_null(c);
	o.n_runtimes = 0;
	assert_int_equal(cri_collection_new(&o, &c), -EINVAL);
	o.n_runtimes = CRI_COLLECTION_MAX_RUNTIMES + 1;
	assert_int_equal(cri_collection_new(&o, &c), -EINVAL);
	assert_null(cri_collection_free(NULL));
	assert_null(cri_collection_find_by_mntns(NULL, 1));
	assert_int_equal(cri_collection_count(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_from_replies),
		cmocka_unit_test(test_container_without_sandbox),
		cmocka_unit_test(test_container_bad_replies),
		cmocka_unit_test(test_cgroup_path),
		cmocka_unit_test(test_image_digest),
		cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
