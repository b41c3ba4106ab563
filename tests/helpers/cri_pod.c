// SPDX-License-Identifier: Apache-2.0
/*
 * cri_pod: a tiny crictl for the integration tests.  It drives a real
 * container runtime through our own CRI client, so the tests create pods and
 * containers the way the kubelet would (sandbox first, host network unless
 * --pod-network, the io.kubernetes.* labels the kubelet sets) without
 * needing crictl.  With --pod-network the runtime makes the pod a network
 * namespace of its own and wires it with its CNI configuration.
 *
 *   cri_pod --socket S version
 *   cri_pod --socket S run-pod NAME NAMESPACE [--uid U] [--label k=v]... [--pod-network]
 *   cri_pod --socket S create NAME POD_ID IMAGE [--label k=v]... -- CMD...
 *   cri_pod --socket S start|stop|rm|pid ID
 *   cri_pod --socket S stop-pod|rm-pod ID
 *   cri_pod --socket S find-mntns MNTNS
 *
 * Ids are printed on stdout; errors on stderr with exit code 1.  find-mntns
 * builds a container collection on the socket and prints what its O(1)
 * lookup answers for that mount namespace id, so the tests can check the
 * lookup that `ig run` enrichment relies on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/client.h"
#include "cri/collection.h"

#define CRI_POD_MAX_LABELS 32
#define CRI_POD_MAX_ARGS   64

struct labels {
	Runtime__V1__PodSandboxConfig__LabelsEntry e[CRI_POD_MAX_LABELS];
	Runtime__V1__PodSandboxConfig__LabelsEntry *p[CRI_POD_MAX_LABELS];
	size_t n;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: cri_pod --socket S version\n"
		"       cri_pod --socket S run-pod NAME NAMESPACE [--uid U] [--label k=v]... "
		"[--pod-network]\n"
		"       cri_pod --socket S create NAME POD_ID IMAGE [--label k=v]... -- CMD...\n"
		"       cri_pod --socket S start|stop|rm|pid ID\n"
		"       cri_pod --socket S stop-pod|rm-pod ID\n"
		"       cri_pod --socket S find-mntns MNTNS\n");
	return 2;
}

/*
 * Map entries of every CRI map<string,string> share one layout, so one array
 * type serves sandbox and container labels alike.
 */
static int label_add(struct labels *l, const char *key, const char *value)
{
	Runtime__V1__PodSandboxConfig__LabelsEntry init =
		RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;

	if (l->n >= CRI_POD_MAX_LABELS)
		return -E2BIG;
	l->e[l->n] = init;
	l->e[l->n].key = (char *)key;
	l->e[l->n].value = (char *)value;
	l->p[l->n] = &l->e[l->n];
	l->n++;
	return 0;
}

static int label_arg(struct labels *l, char *kv)
{
	char *eq = strchr(kv, '=');

	if (!eq || eq == kv)
		return -EINVAL;
	*eq = '\0';
	return label_add(l, kv, eq + 1);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "cri_pod: %s: %s\n", what, strerror(-err));
	return 1;
}

/* The sandbox config of a pod: host network unless it has its own (pod_net). */
static void sandbox_config(Runtime__V1__PodSandboxConfig *cfg, Runtime__V1__PodSandboxMetadata *md,
			   Runtime__V1__LinuxPodSandboxConfig *lx,
			   Runtime__V1__LinuxSandboxSecurityContext *sc,
			   Runtime__V1__NamespaceOption *ns, struct labels *l, bool pod_net)
{
	ns->network =
		pod_net ? RUNTIME__V1__NAMESPACE_MODE__POD : RUNTIME__V1__NAMESPACE_MODE__NODE;
	ns->pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	sc->namespace_options = ns;
	lx->security_context = sc;
	cfg->metadata = md;
	cfg->linux_config = lx;
	cfg->n_labels = l->n;
	cfg->labels = l->p;
}

static int cmd_run_pod(struct cri_client *c, int argc, char **argv)
{
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxSandboxSecurityContext sc =
		RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	struct labels l = {.n = 0};
	const char *uid = NULL;
	bool pod_net = false;
	char uidbuf[64];
	char *id = NULL;
	int i, err;

	if (argc < 3)
		return usage();
	md.name = argv[1];
	md.namespace_ = argv[2];
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--uid") && i + 1 < argc)
			uid = argv[++i];
		else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
			if (label_arg(&l, argv[++i]) < 0)
				return usage();
		} else if (!strcmp(argv[i], "--pod-network"))
			pod_net = true;
		else
			return usage();
	}
	if (!uid) {
		snprintf(uidbuf, sizeof(uidbuf), "uid-%s-%s", argv[2], argv[1]);
		uid = uidbuf;
	}
	md.uid = (char *)uid;
	if (label_add(&l, "io.kubernetes.pod.name", argv[1]) < 0 ||
	    label_add(&l, "io.kubernetes.pod.namespace", argv[2]) < 0 ||
	    label_add(&l, "io.kubernetes.pod.uid", uid) < 0)
		return fail("labels", -E2BIG);
	sandbox_config(&cfg, &md, &lx, &sc, &ns, &l, pod_net);
	err = cri_client_run_pod_sandbox(c, &cfg, &id);
	if (err)
		return fail("RunPodSandbox", err);
	printf("%s\n", id);
	free(id);
	return 0;
}

static int cmd_create(struct cri_client *c, int argc, char **argv)
{
	Runtime__V1__PodSandboxConfig scfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata smd = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxSandboxSecurityContext sc =
		RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PodSandboxStatusResponse *st = NULL;
	struct labels sl = {.n = 0}, cl = {.n = 0};
	char *cmd[CRI_POD_MAX_ARGS];
	bool pod_net;
	size_t ncmd = 0, k;
	char *id = NULL;
	int i, err;

	if (argc < 4)
		return usage();
	for (i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			for (i++; i < argc && ncmd < CRI_POD_MAX_ARGS; i++)
				cmd[ncmd++] = argv[i];
			break;
		} else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
			if (label_arg(&cl, argv[++i]) < 0)
				return usage();
		} else {
			return usage();
		}
	}
	/* CreateContainer wants the sandbox's config again: rebuild it from its status. */
	err = cri_client_pod_sandbox_status(c, argv[2], false, &st);
	if (err)
		return fail("PodSandboxStatus", err);
	if (st->status && st->status->metadata) {
		smd.name = st->status->metadata->name;
		smd.namespace_ = st->status->metadata->namespace_;
		smd.uid = st->status->metadata->uid;
	}
	for (k = 0; st->status && k < st->status->n_labels; k++)
		label_add(&sl, st->status->labels[k]->key, st->status->labels[k]->value);
	pod_net = st->status && st->status->linux_status && st->status->linux_status->namespaces &&
		  st->status->linux_status->namespaces->options &&
		  st->status->linux_status->namespaces->options->network ==
			  RUNTIME__V1__NAMESPACE_MODE__POD;
	sandbox_config(&scfg, &smd, &lx, &sc, &ns, &sl, pod_net);

	md.name = argv[1];
	img.image = argv[3];
	cfg.metadata = &md;
	cfg.image = &img;
	cfg.n_command = ncmd;
	cfg.command = cmd;
	if (label_add(&cl, "io.kubernetes.container.name", argv[1]) < 0 ||
	    (smd.name && label_add(&cl, "io.kubernetes.pod.name", smd.name) < 0) ||
	    (smd.namespace_ && label_add(&cl, "io.kubernetes.pod.namespace", smd.namespace_) < 0) ||
	    (smd.uid && label_add(&cl, "io.kubernetes.pod.uid", smd.uid) < 0)) {
		runtime__v1__pod_sandbox_status_response__free_unpacked(st, NULL);
		return fail("labels", -E2BIG);
	}
	cfg.n_labels = cl.n;
	cfg.labels = (Runtime__V1__ContainerConfig__LabelsEntry **)cl.p;
	err = cri_client_create_container(c, argv[2], &cfg, &scfg, &id);
	runtime__v1__pod_sandbox_status_response__free_unpacked(st, NULL);
	if (err)
		return fail("CreateContainer", err);
	printf("%s\n", id);
	free(id);
	return 0;
}

static int cmd_pid(struct cri_client *c, const char *id)
{
	Runtime__V1__ContainerStatusResponse *r = NULL;
	uint32_t pid = 0;
	int err;

	err = cri_client_container_status(c, id, true, &r);
	if (err)
		return fail("ContainerStatus", err);
	err = cri_client_status_pid(r, &pid);
	runtime__v1__container_status_response__free_unpacked(r, NULL);
	if (err)
		return fail("pid", err);
	printf("%u\n", pid);
	return 0;
}

static int cmd_version(struct cri_client *c)
{
	Runtime__V1__VersionResponse *v = NULL;
	int err;

	err = cri_client_version(c, &v);
	if (err)
		return fail("Version", err);
	printf("%s %s %s\n", v->runtime_name, v->runtime_version, v->runtime_api_version);
	runtime__v1__version_response__free_unpacked(v, NULL);
	return 0;
}

static void count_added(void *userdata, enum cri_collection_event ev,
			const struct cri_container *ct)
{
	(void)ct;
	if (ev == CRI_COLLECTION_ADDED)
		(*(size_t *)userdata)++;
}

/* Prints "<id> <pod name> <replayed> <count>" for the container in mntns. */
static int cmd_find_mntns(const char *socket, const char *arg)
{
	struct cri_collection_runtime rt = {.name = "containerd", .socket_path = socket};
	struct cri_collection_opts o = {.runtimes = &rt, .n_runtimes = 1};
	const struct cri_container *ct;
	struct cri_collection *coll = NULL;
	unsigned long long mntns;
	size_t replayed = 0;
	char *end;
	int err;

	errno = 0;
	mntns = strtoull(arg, &end, 10);
	if (errno || end == arg || *end)
		return usage();
	err = cri_collection_new(&o, &coll);
	if (err)
		return fail("collection", err);
	err = cri_collection_subscribe(coll, count_added, &replayed);
	if (err < 0) {
		cri_collection_free(coll);
		return fail("subscribe", err);
	}
	ct = cri_collection_find_by_mntns(coll, mntns);
	if (ct && cri_collection_find_by_id(coll, ct->id) != ct)
		ct = NULL;
	if (ct)
		printf("%s %s %zu %zu\n", ct->id, ct->pod_name, replayed,
		       cri_collection_count(coll));
	cri_collection_free(coll);
	return ct ? 0 : fail("find-mntns", -ESRCH);
}

static int run(struct cri_client *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	int err;

	if (!strcmp(cmd, "version"))
		return cmd_version(c);
	if (!strcmp(cmd, "run-pod"))
		return cmd_run_pod(c, argc, argv);
	if (!strcmp(cmd, "create"))
		return cmd_create(c, argc, argv);
	if (argc != 2)
		return usage();
	if (!strcmp(cmd, "pid"))
		return cmd_pid(c, argv[1]);
	if (!strcmp(cmd, "start"))
		err = cri_client_start_container(c, argv[1]);
	else if (!strcmp(cmd, "stop"))
		err = cri_client_stop_container(c, argv[1], 0);
	else if (!strcmp(cmd, "rm"))
		err = cri_client_remove_container(c, argv[1]);
	else if (!strcmp(cmd, "stop-pod"))
		err = cri_client_stop_pod_sandbox(c, argv[1]);
	else if (!strcmp(cmd, "rm-pod"))
		err = cri_client_remove_pod_sandbox(c, argv[1]);
	else
		return usage();
	return err ? fail(cmd, err) : 0;
}

int main(int argc, char **argv)
{
	struct cri_client *c = NULL;
	int err, rc;

	if (argc < 4 || strcmp(argv[1], "--socket"))
		return usage();
	if (!strcmp(argv[3], "find-mntns"))
		return argc == 5 ? cmd_find_mntns(argv[2], argv[4]) : usage();
	/* Creating a sandbox can take a while on a loaded machine. */
	err = cri_client_new(argv[2], 60000, &c);
	if (err)
		return fail("client", err);
	rc = run(c, argc - 3, argv + 3);
	cri_client_free(c);
	return rc;
}
