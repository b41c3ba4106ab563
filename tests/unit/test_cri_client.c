// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the CRI client (cri/client.c) and its transport (cri/transport.c)
 * that need no container runtime:
 *
 *  - the wire format: requests packed by our api.proto must carry the CRI v1
 *    field numbers, and replies written byte by byte with those numbers must
 *    decode to the expected fields;
 *  - the PID in the verbose "info" JSON, good and bad;
 *  - what a caller sees from the transport when the socket is missing, is no
 *    socket, refuses connections, or never answers (real gRPC, real sockets).
 */
#include "cri/client.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cri/transport.h"

static void test_request_field_numbers(void **state)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	/* container_id = 1 (length-delimited), verbose = 2 (varint) */
	static const uint8_t want[] = {0x0a, 0x03, 'a', 'b', 'c', 0x10, 0x01};
	uint8_t buf[32];
	size_t n;

	(void)state;
	req.container_id = (char *)"abc";
	req.verbose = true;
	n = runtime__v1__container_status_request__pack(&req, buf);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_sandbox_request_host_network(void **state)
{
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxSandboxSecurityContext sc =
		RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	/*
	 * config = 1 { linux = 8 { security_context = 2 { namespace_options = 1
	 * { network = 1: NODE (2) } } } }
	 */
	static const uint8_t want[] = {0x0a, 0x08, 0x42, 0x06, 0x12, 0x04, 0x0a, 0x02, 0x08, 0x02};
	uint8_t buf[32];
	size_t n;

	(void)state;
	ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	sc.namespace_options = &ns;
	lx.security_context = &sc;
	cfg.linux_config = &lx;
	req.config = &cfg;
	n = runtime__v1__run_pod_sandbox_request__pack(&req, buf);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_decode_list_containers(void **state)
{
	/*
	 * ListContainersResponse { containers = 1 { id = 1 "c1",
	 * pod_sandbox_id = 2 "p1", metadata = 3 { name = 1 "web" },
	 * state = 6 RUNNING (1), labels = 8 { "a": "b" }, field 99 unknown } }
	 */
	static const uint8_t in[] = {
		0x0a, 0x1c, 0x0a, 0x02, 'c',  '1',  0x12, 0x02, 'p',  '1',
		0x1a, 0x05, 0x0a, 0x03, 'w',  'e',  'b',  0x30, 0x01, 0x42,
		0x06, 0x0a, 0x01, 'a',	0x12, 0x01, 'b',  0x98, 0x06, 0x07,
	};
	Runtime__V1__ListContainersResponse *r = NULL;
	const Runtime__V1__Container *c;

	(void)state;
	assert_int_equal(cri_client_decode(&runtime__v1__list_containers_response__descriptor, in,
					   sizeof(in), (ProtobufCMessage **)&r),
			 0);
	assert_int_equal(r->n_containers, 1);
	c = r->containers[0];
	assert_string_equal(c->id, "c1");
	assert_string_equal(c->pod_sandbox_id, "p1");
	assert_non_null(c->metadata);
	assert_string_equal(c->metadata->name, "web");
	assert_int_equal(c->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	assert_int_equal(c->n_labels, 1);
	assert_string_equal(c->labels[0]->key, "a");
	assert_string_equal(c->labels[0]->value, "b");
	runtime__v1__list_containers_response__free_unpacked(r, NULL);
}

static void test_decode_bad(void **state)
{
	static const uint8_t truncated[] = {0x0a, 0x10, 0x0a};
	static const uint8_t wrong_type[] = {0x0d, 0x01, 0x02, 0x03};
	ProtobufCMessage *m = NULL;

	(void)state;
	assert_int_equal(cri_client_decode(&runtime__v1__list_containers_response__descriptor,
					   truncated, sizeof(truncated), &m),
			 -EBADMSG);
	/* containers = 1 sent as a fixed32: not a message */
	assert_int_equal(cri_client_decode(&runtime__v1__list_containers_response__descriptor,
					   wrong_type, sizeof(wrong_type), &m),
			 -EBADMSG);
	assert_int_equal(cri_client_decode(&runtime__v1__list_containers_response__descriptor,
					   truncated, CRI_MAX_REPLY + 1, &m),
			 -E2BIG);
	assert_null(m);
}

static void test_info_pid(void **state)
{
	static const struct {
		const char *json;
		int err;
		uint32_t pid;
	} cases[] = {
		{"{\"sandboxID\":\"x\",\"pid\":4242,\"removing\":false}", 0, 4242},
		{"{\"pid\":0}", 0, 0},
		{"{\"pid\":4194304}", 0, 4194304},
		{"{\"pid\":4194305}", -ERANGE, 0},
		{"{\"pid\":-1}", -ERANGE, 0},
		{"{\"pid\":\"12\"}", -EBADMSG, 0},
		{"{\"pid\":1.5}", -EBADMSG, 0},
		{"{\"other\":1}", -ENODATA, 0},
		{"[1,2]", -ENODATA, 0},
		{"{\"pid\":", -EBADMSG, 0},
		{"", -EBADMSG, 0},
	};
	uint32_t pid;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid = 77;
		assert_int_equal(cri_client_info_pid(cases[i].json, strlen(cases[i].json), &pid),
				 cases[i].err);
		assert_int_equal(pid, cases[i].err ? 77 : cases[i].pid);
	}
	assert_int_equal(cri_client_info_pid("{}", CRI_MAX_INFO_JSON + 1, &pid), -E2BIG);
}

static void test_status_pid_from_reply(void **state)
{
	Runtime__V1__ContainerStatusResponse r = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	Runtime__V1__ContainerStatusResponse__InfoEntry e[2] = {
		RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT,
		RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT,
	};
	Runtime__V1__ContainerStatusResponse__InfoEntry *pe[2] = {&e[0], &e[1]};
	Runtime__V1__ContainerStatusResponse *back = NULL;
	uint8_t buf[256];
	uint32_t pid = 0;
	size_t n;

	(void)state;
	e[0].key = (char *)"runtimeSpec";
	e[0].value = (char *)"{\"pid\":1}";
	e[1].key = (char *)"info";
	e[1].value = (char *)"{\"pid\":31337,\"sandboxID\":\"abc\"}";
	r.n_info = 2;
	r.info = pe;
	n = runtime__v1__container_status_response__pack(&r, buf);
	assert_int_equal(cri_client_decode(&runtime__v1__container_status_response__descriptor, buf,
					   n, (ProtobufCMessage **)&back),
			 0);
	assert_int_equal(cri_client_status_pid(back, &pid), 0);
	assert_int_equal(pid, 31337);
	runtime__v1__container_status_response__free_unpacked(back, NULL);

	/* not verbose: no info map at all */
	r.n_info = 0;
	assert_int_equal(cri_client_status_pid(&r, &pid), -ENODATA);
}

static int version_on(const char *path, int timeout_ms)
{
	Runtime__V1__VersionResponse *v = NULL;
	struct cri_client *c = NULL;
	int err;

	err = cri_client_new(path, timeout_ms, &c);
	assert_int_equal(err, 0);
	err = cri_client_version(c, &v);
	assert_null(v);
	/* a second call goes through the reconnect path and must agree */
	assert_int_equal(cri_client_version(c, &v), err);
	cri_client_free(c);
	return err;
}

static int unix_listener(const char *path, bool do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_transport_errors(void **state)
{
	char dir[] = "/tmp/test_cri_client.XXXXXX";
	char path[128];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	assert_int_equal(version_on(path, 2000), -ENOENT);

	/* a regular file where the socket should be */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(version_on(path, 2000), -ENOTSOCK);
	unlink(path);

	/* bound but not listening: connect() is refused */
	snprintf(path, sizeof(path), "%s/refuse.sock", dir);
	fd = unix_listener(path, false);
	assert_int_equal(version_on(path, 2000), -ECONNREFUSED);
	close(fd);
	unlink(path);

	/* listening but never answering: the deadline ends the call */
	snprintf(path, sizeof(path), "%s/silent.sock", dir);
	fd = unix_listener(path, true);
	assert_int_equal(version_on(path, 300), -ETIMEDOUT);
	close(fd);
	unlink(path);

	rmdir(dir);
}

static void test_bad_arguments(void **state)
{
	struct cri_client *c = NULL;
	char longid[CRI_MAX_ID + 2];

	(void)state;
	assert_int_equal(cri_client_new(NULL, 0, &c), -EINVAL);
	assert_int_equal(cri_client_new("", 0, &c), -EINVAL);
	assert_int_equal(cri_client_new("/x", -1, &c), -EINVAL);
	assert_int_equal(cri_client_new("/nonexistent/cri.sock", 0, &c), 0);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(cri_client_start_container(c, longid), -ENAMETOOLONG);
	assert_int_equal(cri_client_start_container(c, ""), -EINVAL);
	assert_int_equal(cri_client_remove_container(c, NULL), -EINVAL);
	assert_null(cri_client_free(c));
	assert_null(cri_client_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_field_numbers),
		cmocka_unit_test(test_sandbox_request_host_network),
		cmocka_unit_test(test_decode_list_containers),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_info_pid),
		cmocka_unit_test(test_status_pid_from_reply),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
