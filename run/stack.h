/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stacks as people read them: the columns that name the frames of a
 * gadget's kernel and user stacks.
 *
 * A record holds only stack ids: the frames are in the gadget's stack maps
 * (ig_kstack and ig_ustack of <gadget/kernel_stack_map.h> and
 * <gadget/user_stack_map.h>).  For each field of the record that is a
 *
 *   gadget_kernel_stack F_raw   a column F (or the name its
 *                               ebpf.formatter.kstack annotation gives):
 *                               "do_sys_openat2; __x64_sys_openat; ..."
 *                               named from /proc/kallsyms
 *   struct gadget_user_stack F  the columns F.addresses
 *                               ("0x00007f...; 0x0000...; "), F.symbols
 *                               ("malloc; leaf; main; ") and F.buildid
 *                               ("<build id> +<offset>; ", with the param
 *                               collect_build_id), in JSON and YAML
 *
 * as Inspektor Gadget prints them.  User frames are named from the ELF
 * symbol tables of the files the process maps (its /proc/PID/maps, each file
 * opened through /proc/PID/map_files so that a container's or a deleted file
 * is the right one); a frame no symbol covers shows as its address.  The
 * process must still be there when its record is formatted, which the
 * runner's short drain interval makes the usual case.
 *
 * Everything is cached and bounded: kallsyms is read once, the maps of at
 * most RUN_STACK_MAX_PROCS processes and the symbol tables of at most
 * RUN_STACK_MAX_FILES files (RUN_STACK_MAX_SYMTAB_BYTES in all) are kept,
 * least recently used first out.
 */
#ifndef RUN_STACK_H
#define RUN_STACK_H

#include <stddef.h>

struct bpf_gadget;
struct bpf_layout;
struct oci_metadata_ds;
struct run_pipeline;
struct run_stack;

#define RUN_STACK_MAX_PROCS	   64
#define RUN_STACK_MAX_FILES	   64
#define RUN_STACK_MAX_SYMTAB_BYTES (256u << 20)
/* A process mapping more than this is symbolised from its first mappings only. */
#define RUN_STACK_MAX_MAPPINGS	 65536
#define RUN_STACK_MAX_MAPS_BYTES (16u << 20)
/* Frames a stack map holds (GADGET_*_MAX_STACK_DEPTH). */
#define RUN_STACK_MAX_DEPTH 127

/* The stacks of gadget g (borrowed: it must outlive the object). */
int run_stack_new(struct bpf_gadget *g, struct run_stack **ret);
struct run_stack *run_stack_free(struct run_stack *s);

/*
 * Adds the stack columns of layout l (see above) to p, each after its
 * field; md gives the kstack annotation.  Returns the number of columns
 * added, or -errno (-EINVAL with a one-line reason in err for a stack field
 * the gadget cannot give: a gadget_kernel_stack without <gadget/kernel_stack_map.h>).
 */
int run_stack_add_columns(struct run_stack *s, struct run_pipeline *p, const struct bpf_layout *l,
			  const struct oci_metadata_ds *md, char *err, size_t errlen);

#endif /* RUN_STACK_H */
