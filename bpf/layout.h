/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record layouts discovered from BTF.
 *
 * A gadget describes the records it emits only through BTF: the struct named
 * by GADGET_TRACER(), the key and value of a GADGET_MAPITER() map, the type of
 * a GADGET_ITER().  This module walks such a type and flattens it into a list
 * of fields with byte offsets, kinds and the "special" meaning carried by the
 * gadget API typedefs (gadget_mntns_id, gadget_errno, ...), so that the
 * pipeline can filter, format and enrich records without knowing any gadget.
 *
 * Nested structs become STRUCT fields followed by their members (pre-order),
 * with dotted full names ("proc.creds.uid").  Anonymous struct/union members
 * are flattened into their parent.  Arrays of char (or __u8/__s8) are strings.
 */
#ifndef BPF_LAYOUT_H
#define BPF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;

/* Hard limits on what a gadget may describe; a larger type is -E2BIG. */
#define BPF_LAYOUT_MAX_FIELDS	 512
#define BPF_LAYOUT_MAX_DEPTH	 8
#define BPF_LAYOUT_MAX_ENUM_VALS 1024
#define BPF_LAYOUT_MAX_NAME	 128
#define BPF_LAYOUT_MAX_RECORD	 (1u << 20)

enum bpf_layout_kind {
	BPF_LAYOUT_STRUCT = 0, /* container: members follow it; no value of its own */
	BPF_LAYOUT_INT,	       /* signed integer of size 1, 2, 4 or 8 */
	BPF_LAYOUT_UINT,       /* unsigned integer of size 1, 2, 4 or 8 */
	BPF_LAYOUT_BOOL,
	BPF_LAYOUT_ENUM,   /* integer with names, see enum_vals */
	BPF_LAYOUT_STRING, /* char array: text up to the first NUL or size bytes */
	BPF_LAYOUT_ARRAY,  /* array of integers: elem_kind, elem_size, count */
	BPF_LAYOUT_BYTES,  /* anything else (unions, arrays of structs): opaque bytes */
};

/* Meaning carried by the gadget API typedefs and structs (gadget/types.h). */
enum bpf_layout_special {
	BPF_LAYOUT_SPECIAL_NONE = 0,
	BPF_LAYOUT_SPECIAL_MNTNS_ID,   /* gadget_mntns_id */
	BPF_LAYOUT_SPECIAL_NETNS_ID,   /* gadget_netns_id */
	BPF_LAYOUT_SPECIAL_TIMESTAMP,  /* gadget_timestamp: ns since boot (bpf_ktime_get_boot_ns) */
	BPF_LAYOUT_SPECIAL_ERRNO,      /* gadget_errno */
	BPF_LAYOUT_SPECIAL_UID,	       /* gadget_uid */
	BPF_LAYOUT_SPECIAL_GID,	       /* gadget_gid */
	BPF_LAYOUT_SPECIAL_SIGNAL,     /* gadget_signal */
	BPF_LAYOUT_SPECIAL_SYSCALL,    /* gadget_syscall */
	BPF_LAYOUT_SPECIAL_FILE_MODE,  /* gadget_file_mode */
	BPF_LAYOUT_SPECIAL_FILE_FLAGS, /* gadget_file_flags */
	BPF_LAYOUT_SPECIAL_PID,	       /* gadget_pid */
	BPF_LAYOUT_SPECIAL_PPID,       /* gadget_ppid */
	BPF_LAYOUT_SPECIAL_TID,	       /* gadget_tid */
	BPF_LAYOUT_SPECIAL_PTID,       /* gadget_ptid */
	BPF_LAYOUT_SPECIAL_COMM,       /* gadget_comm[] */
	BPF_LAYOUT_SPECIAL_PCOMM,      /* gadget_pcomm[] */
	BPF_LAYOUT_SPECIAL_BYTES,      /* gadget_bytes: a size in bytes */
	BPF_LAYOUT_SPECIAL_DURATION,   /* gadget_duration: nanoseconds */
	BPF_LAYOUT_SPECIAL_KERNEL_STACK, /* gadget_kernel_stack */
	BPF_LAYOUT_SPECIAL_IP_ADDR,	 /* union gadget_ip_addr_t (BYTES, 16 bytes) */
	BPF_LAYOUT_SPECIAL_L3ENDPOINT,	 /* struct gadget_l3endpoint_t (STRUCT) */
	BPF_LAYOUT_SPECIAL_L4ENDPOINT,	 /* struct gadget_l4endpoint_t (STRUCT) */
	BPF_LAYOUT_SPECIAL_PROCESS,	 /* struct gadget_process (STRUCT) */
	BPF_LAYOUT_SPECIAL_USER_STACK,	 /* struct gadget_user_stack (STRUCT) */
	BPF_LAYOUT_SPECIAL_COUNT_,
};

struct bpf_layout_enum_val {
	char *name;
	int64_t value;
};

struct bpf_layout_field {
	char *name;	 /* member name: "uid" */
	char *full_name; /* dotted path from the record: "proc.creds.uid" */
	char *type_name; /* outermost BTF type name as written: "gadget_uid", "__u32", "enum op" */
	int parent;	 /* index of the enclosing STRUCT field, -1 at the top level */
	unsigned int depth;
	enum bpf_layout_kind kind;
	enum bpf_layout_special special;
	uint32_t offset;    /* bytes from the start of the record */
	uint32_t size;	    /* bytes; for bitfields the storage unit that holds them */
	uint8_t bit_offset; /* bitfields only: bits from offset (little endian) */
	uint8_t bit_size;   /* 0 unless a bitfield */
	/* BPF_LAYOUT_ARRAY */
	enum bpf_layout_kind elem_kind;
	uint32_t elem_size;
	uint32_t count;
	/* BPF_LAYOUT_ENUM */
	bool enum_signed;
	size_t n_enum_vals;
	struct bpf_layout_enum_val *enum_vals;
};

struct bpf_layout {
	char *name;    /* the type's name: "event" */
	uint32_t size; /* record size in bytes */
	size_t n_fields;
	struct bpf_layout_field *fields; /* pre-order: a STRUCT before its members */
};

/*
 * Builds the layout of BTF type type_id (a struct, union or typedef of one).
 * Returns 0 and a new layout in *ret (free with bpf_layout_free()), or
 * -EINVAL (not a struct), -E2BIG (over a limit above), -ENOMEM.
 */
int bpf_layout_from_btf(const struct btf *btf, uint32_t type_id, struct bpf_layout **ret);

/*
 * Layout of a map iterator record: the key's fields at offset 0 followed by
 * the value's at offset value_offset (key size rounded up to 8).
 */
int bpf_layout_from_btf_kv(const struct btf *btf, uint32_t key_id, uint32_t value_id,
			   uint32_t *ret_value_offset, struct bpf_layout **ret);

struct bpf_layout *bpf_layout_free(struct bpf_layout *l);

/*
 * Checks a layout that did not come from bpf_layout_from_btf() (one an agent
 * sent): within the limits above, every field inside the record, integers
 * of 1, 2, 4 or 8 bytes (bitfields inside their unit), arrays inside their
 * field, parents before their members, names set.  0, or -EINVAL with a
 * one-line reason in err.
 */
int bpf_layout_check(const struct bpf_layout *l, char *err, size_t errlen);

/* Borrowed pointer to the field with that full name, or NULL. */
const struct bpf_layout_field *bpf_layout_find(const struct bpf_layout *l, const char *full_name);

const char *bpf_layout_special_name(enum bpf_layout_special s);

/*
 * Reads an integer-like field (INT, UINT, BOOL, ENUM, including bitfields)
 * from a record of at least l->size bytes.
 */
uint64_t bpf_layout_read_u64(const struct bpf_layout_field *f, const void *record);
int64_t bpf_layout_read_i64(const struct bpf_layout_field *f, const void *record);

#endif /* BPF_LAYOUT_H */
