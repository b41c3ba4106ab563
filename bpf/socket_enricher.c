// SPDX-License-Identifier: Apache-2.0
/*
 * Loading the socket enricher.  See socket_enricher.h.
 *
 * The BPF object is compiled by the build (build/gen/bpf/) and linked in
 * with .incbin, so ig needs no file at run time.
 */
#include "bpf/socket_enricher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "base/log.h"
#include "base/time.h"
#include "bpf/diag.h"
#include "bpf/hook.h"

#ifndef BPF_SOCKET_ENRICHER_OBJ
#define BPF_SOCKET_ENRICHER_OBJ "build/gen/bpf/socket_enricher.bpf.o"
#endif

__asm__(".section .rodata\n"
	".balign 8\n"
	".global bpf_socket_enricher_elf\n"
	"bpf_socket_enricher_elf:\n"
	".incbin \"" BPF_SOCKET_ENRICHER_OBJ "\"\n"
	".global bpf_socket_enricher_elf_end\n"
	"bpf_socket_enricher_elf_end:\n"
	".previous\n");

extern const char bpf_socket_enricher_elf[];
extern const char bpf_socket_enricher_elf_end[];

#define ENRICHER_MAX_LINKS 16

struct bpf_socket_enricher {
	unsigned int users;
	struct bpf_object *obj;
	struct bpf_link *links[ENRICHER_MAX_LINKS];
	size_t n_links;
	int map_fd;
	int sweep_fd;
	uint64_t last_sweep_ms;
};

static pthread_mutex_t enricher_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bpf_socket_enricher *enricher;

static void enricher_free(struct bpf_socket_enricher *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_links; i++)
		bpf_link__destroy(e->links[i]);
	bpf_object__close(e->obj);
	free(e);
}

/* Reads an iterator to its end; what it writes is only a keep-alive. */
static int drain_iter(struct bpf_link *link)
{
	char buf[4096];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

/* Writes se_grace_ns, found through the object's BTF, into its .rodata. */
static int set_grace(struct bpf_object *obj)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf_var_secinfo *vsi;
	const struct btf_type *sec;
	size_t size = 0;
	uint64_t grace = (uint64_t)BPF_SOCKET_ENRICHER_GRACE_MS * 1000000;
	const void *init;
	int id, err;

	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -ENOENT;
	init = m ? bpf_map__initial_value(m, &size) : NULL;
	if (id <= 0 || !init)
		return -ENOENT;
	sec = btf__type_by_id(btf, (uint32_t)id);
	vsi = btf_var_secinfos(sec);
	for (uint16_t i = 0; i < btf_vlen(sec); i++, vsi++) {
		const struct btf_type *v = btf__type_by_id(btf, vsi->type);
		void *copy;

		if (!v || strcmp(btf__name_by_offset(btf, v->name_off), "se_grace_ns") ||
		    vsi->size != sizeof(grace) || vsi->offset + sizeof(grace) > size)
			continue;
		copy = malloc(size);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, init, size);
		memcpy((char *)copy + vsi->offset, &grace, sizeof(grace));
		err = bpf_map__set_initial_value(m, copy, size);
		free(copy);
		return err;
	}
	return -ENOENT;
}

static int enricher_load(struct bpf_socket_enricher **ret, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "socket_enricher");
	struct bpf_socket_enricher *e = calloc(1, sizeof(*e));
	struct bpf_program *p;
	struct bpf_map *m;
	struct bpf_diag d;
	int rc;

	if (!e)
		return -ENOMEM;
	e->map_fd = e->sweep_fd = -1;
	e->obj = bpf_object__open_mem(bpf_socket_enricher_elf,
				      bpf_socket_enricher_elf_end - bpf_socket_enricher_elf, &oo);
	if (!e->obj) {
		rc = errno ? -errno : -EINVAL;
		snprintf(err, err_len, "socket enricher: cannot open: %s", strerror(-rc));
		goto fail;
	}
	rc = set_grace(e->obj);
	if (rc) {
		snprintf(err, err_len, "socket enricher: cannot configure: %s", strerror(-rc));
		goto fail;
	}
	bpf_diag_capture(&d);
	rc = bpf_object__load(e->obj);
	bpf_diag_capture(NULL);
	if (rc) {
		p = d.prog[0] ? bpf_object__find_program_by_name(e->obj, d.prog) : NULL;
		bpf_hook_explain_load(p, rc, &d, err, err_len);
		goto fail;
	}
	bpf_object__for_each_program(p, e->obj)
	{
		const char *sec = bpf_program__section_name(p);
		struct bpf_link *link = NULL;
		char why[256];

		if (!strcmp(sec, "syscall")) {
			e->sweep_fd = bpf_program__fd(p);
			continue;
		}
		if (!strncmp(sec, "iter/", 5)) {
			link = bpf_program__attach_iter(p, NULL);
			if (!link) {
				rc = errno ? -errno : -EINVAL;
				snprintf(err, err_len, "socket enricher: cannot attach %s: %s", sec,
					 strerror(-rc));
				goto fail;
			}
			rc = drain_iter(link);
			bpf_link__destroy(link);
			if (rc) {
				snprintf(err, err_len,
					 "socket enricher: cannot list existing sockets: %s",
					 strerror(-rc));
				goto fail;
			}
			continue;
		}
		if (e->n_links >= ENRICHER_MAX_LINKS) {
			rc = -E2BIG;
			goto fail;
		}
		rc = bpf_hook_attach(p, &link, why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "socket enricher: %s", why);
			goto fail;
		}
		if (link)
			e->links[e->n_links++] = link;
	}
	m = bpf_object__find_map_by_name(e->obj, "gadget_sockets");
	e->map_fd = m ? bpf_map__fd(m) : -1;
	if (e->map_fd < 0 || e->sweep_fd < 0) {
		rc = -ENOENT;
		snprintf(err, err_len, "socket enricher: malformed object");
		goto fail;
	}
	e->last_sweep_ms = base_time_mono_ms();
	*ret = e;
	return 0;
fail:
	enricher_free(e);
	return rc;
}

int bpf_socket_enricher_get(struct bpf_socket_enricher **ret, char *err, size_t err_len)
{
	int rc = 0;

	if (!ret)
		return -EINVAL;
	pthread_mutex_lock(&enricher_lock);
	if (!enricher)
		rc = enricher_load(&enricher, err, err_len);
	if (!rc) {
		enricher->users++;
		*ret = enricher;
	}
	pthread_mutex_unlock(&enricher_lock);
	return rc;
}

struct bpf_socket_enricher *bpf_socket_enricher_put(struct bpf_socket_enricher *e)
{
	if (!e)
		return NULL;
	pthread_mutex_lock(&enricher_lock);
	if (e == enricher && --e->users == 0) {
		enricher_free(e);
		enricher = NULL;
	}
	pthread_mutex_unlock(&enricher_lock);
	return NULL;
}

int bpf_socket_enricher_map_fd(const struct bpf_socket_enricher *e)
{
	return e ? e->map_fd : -1;
}

int bpf_socket_enricher_sweep(struct bpf_socket_enricher *e)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (!e)
		return -EINVAL;
	if (bpf_prog_test_run_opts(e->sweep_fd, &o) < 0)
		return -errno;
	return 0;
}

int bpf_socket_enricher_tick(struct bpf_socket_enricher *e)
{
	uint64_t now = base_time_mono_ms();
	bool due;

	if (!e)
		return -EINVAL;
	pthread_mutex_lock(&enricher_lock);
	due = now - e->last_sweep_ms >= BPF_SOCKET_ENRICHER_SWEEP_MS;
	if (due)
		e->last_sweep_ms = now;
	pthread_mutex_unlock(&enricher_lock);
	return due ? bpf_socket_enricher_sweep(e) : 0;
}
