/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Declarations a gadget makes to the userspace runtime.
 *
 * A gadget tells the runtime what it produces only through names: each macro
 * below expands to one or more zero-initialised global pointers whose symbol
 * names encode the data source (name, map, record type).  The runtime reads
 * them back from the ELF symbol table and the BTF; the variables themselves
 * are never used.  The record types are referenced through a typed pointer
 * so that clang keeps their BTF even when the program never names them.
 *
 * The names produced are part of the gadget ABI, shared with Inspektor
 * Gadget, and must not change:
 *
 *   GADGET_TRACER(n, m, t)      gadget_tracer_<n>___<m>___<t>
 *                               __gadget_tracer_type_<n> (const struct t *)
 *   GADGET_MAPITER(n, m)        gadget_mapiter_<n>___<m>
 *   GADGET_ITER(n, t, p...)     gadget_iter_<n>___<t>___<p1>[___<p2>[___<p3>]]
 *                               unusedevent_<n>___<t> (const struct t *)
 *   GADGET_SNAPSHOTTER(...)     same as GADGET_ITER (older spelling)
 *   GADGET_PARAM(v)             gadget_param_<v>
 *   GADGET_ITER_TARGET_MAP(p, m) gadget_mapelem_iter_target_<p>___<m>
 *   GADGET_SK_TARGET_MAP(p, m)  gadget_sk_prog_target_<p>___<m>
 *
 * Every macro ends its expansion with a semicolon, so it may be written with
 * or without one.
 */
#ifndef GADGET_MACROS_H
#define GADGET_MACROS_H

/* Expands a and b before pasting them. */
#define __gadget_paste_(a, b) a##b
#define __gadget_paste(a, b)  __gadget_paste_(a, b)

/* Number of variadic arguments, 1 to 3 (GADGET_ITER takes at most three programs). */
#define __gadget_nargs_(_1, _2, _3, n, ...) n
#define __gadget_nargs(...)		    __gadget_nargs_(__VA_ARGS__, 3, 2, 1, 0)

#define __gadget_iter_sym_1(n, t, p1)	      gadget_iter_##n##___##t##___##p1
#define __gadget_iter_sym_2(n, t, p1, p2)     gadget_iter_##n##___##t##___##p1##___##p2
#define __gadget_iter_sym_3(n, t, p1, p2, p3) gadget_iter_##n##___##t##___##p1##___##p2##___##p3

#define __gadget_iter(n, t, ...)                                                                   \
	const struct t *unusedevent_##n##___##t __attribute__((unused));                           \
	const void *__gadget_paste(__gadget_iter_sym_, __gadget_nargs(__VA_ARGS__))(               \
		n, t, __VA_ARGS__) __attribute__((unused));

/*
 * A stream of records of struct event_type sent through map_name, a ring
 * buffer declared with GADGET_TRACER_MAP() (gadget/buffer.h).
 */
#define GADGET_TRACER(name, map_name, event_type)                                                  \
	const void *gadget_tracer_##name##___##map_name##___##event_type __attribute__((unused));  \
	const struct event_type *__gadget_tracer_type_##name __attribute__((unused));

/*
 * A hash map the runtime reads periodically; each entry (key then value)
 * becomes one record of data source name.
 */
#define GADGET_MAPITER(name, map_name)                                                             \
	const void *gadget_mapiter_##name##___##map_name __attribute__((unused));

/*
 * Records of struct type written with bpf_seq_write() by one to three iter/
 * programs; the runtime runs them all for each snapshot and merges the output.
 */
#define GADGET_ITER(name, type, ...) __gadget_iter(name, type, __VA_ARGS__)

/* Older name of GADGET_ITER(), kept for existing gadgets. */
#define GADGET_SNAPSHOTTER(name, type, ...) __gadget_iter(name, type, __VA_ARGS__)

/*
 * Marks the const volatile global var as a parameter the user may set before
 * the gadget is loaded.  Its type and initial value come from BTF/.rodata.
 */
#define GADGET_PARAM(var) const void *gadget_param_##var __attribute__((unused));

/* An iter/bpf_map_elem program prog walks map map_name. */
#define GADGET_ITER_TARGET_MAP(prog, map_name)                                                     \
	const void *gadget_mapelem_iter_target_##prog##___##map_name __attribute__((unused));

/* An sk_skb/sk_msg program prog is attached to the sockmap map_name. */
#define GADGET_SK_TARGET_MAP(prog, map_name)                                                       \
	const void *gadget_sk_prog_target_##prog##___##map_name __attribute__((unused));

#endif /* GADGET_MACROS_H */
