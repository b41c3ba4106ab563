/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socket enricher: a BPF object built into ig (bpf/progs/
 * socket_enricher.bpf.c) that keeps Inspektor Gadget's gadget_sockets map
 * (<gadget/sockets-map.h>) filled with the process owning each TCP and UDP
 * socket, keyed by network namespace, family, protocol and local port.
 * Gadgets that declare gadget_sockets get this map instead of their own
 * (bpf_gadget_map_reuse()), so their packet programs find the pid, tid,
 * comm, uid, gid, mount namespace and parent of a packet's socket.
 *
 * The hooks, and what they cannot see, are described in the BPF source.
 * The map's values are the fixed part of struct gadget_socket_value (88
 * bytes); the optional cwd and exepath members are not filled, which
 * gadgets detect with bpf_core_field_exists(), as with Inspektor Gadget's
 * default configuration.
 *
 * One enricher serves every run of a process: bpf_socket_enricher_get()
 * loads it on first use and counts users; the last bpf_socket_enricher_put()
 * unloads it.  Thread-safe.
 */
#ifndef BPF_SOCKET_ENRICHER_H
#define BPF_SOCKET_ENRICHER_H

#include <stddef.h>
#include <stdint.h>

/* Entries of the map, as in Inspektor Gadget. */
#define BPF_SOCKET_ENRICHER_MAX_SOCKETS 16384
/* Bytes of a value: offsetof(struct gadget_socket_value, optional_fields_start). */
#define BPF_SOCKET_ENRICHER_VALUE_SIZE 88
/* How often closed sockets are looked for, and how long they stay after. */
#define BPF_SOCKET_ENRICHER_SWEEP_MS 2000
#define BPF_SOCKET_ENRICHER_GRACE_MS 5000

struct bpf_socket_enricher;

/*
 * The process's enricher, loaded and attached on first use (the sockets
 * that exist already are entered before it returns).  -errno with a
 * one-line reason in err, e.g. which hook the kernel lacks.
 */
int bpf_socket_enricher_get(struct bpf_socket_enricher **ret, char *err, size_t err_len);
/* One user less; NULL is fine.  Returns NULL. */
struct bpf_socket_enricher *bpf_socket_enricher_put(struct bpf_socket_enricher *e);

/* The gadget_sockets map (borrowed). */
int bpf_socket_enricher_map_fd(const struct bpf_socket_enricher *e);

/*
 * Forgets closed sockets once their grace period has passed.  Cheap to call
 * often: it does something only every BPF_SOCKET_ENRICHER_SWEEP_MS.
 */
int bpf_socket_enricher_tick(struct bpf_socket_enricher *e);
/* The same, now. */
int bpf_socket_enricher_sweep(struct bpf_socket_enricher *e);

#endif /* BPF_SOCKET_ENRICHER_H */
