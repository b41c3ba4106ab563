// SPDX-License-Identifier: Apache-2.0
/*
 * Record types for tests/unit/test_bpf_layout.c: nested and anonymous
 * members, enums, bitfields, strings, integer arrays and the gadget API
 * typedefs, declared here by hand so this object does not depend on the
 * gadget headers.  The test declares the same struct with host types and
 * compares offsets with offsetof().
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

typedef __u64 gadget_mntns_id;
typedef __u64 gadget_timestamp;
typedef __u32 gadget_errno;
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;
typedef __u32 gadget_pid;
typedef char gadget_comm;
/* A typedef of a gadget typedef keeps its meaning. */
typedef gadget_uid owner_uid;

union gadget_ip_addr_t {
	__u8 v6[16];
	__u32 v4;
};

struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port;
	__u16 proto_raw;
	__u8 version;
};

struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_process {
	gadget_comm comm[16];
	gadget_pid pid;
	struct gadget_creds creds;
	gadget_mntns_id mntns_id;
};

enum lt_op {
	LT_OP_READ = 1,
	LT_OP_WRITE = 2,
	LT_OP_MAX = 0x7fffffff,
};

enum lt_sign {
	LT_SIGN_NEG = -1,
	LT_SIGN_POS = 5,
};

struct lt_event {
	gadget_timestamp timestamp;
	struct gadget_process proc;
	owner_uid owner;
	gadget_errno error_raw;
	enum lt_op op;
	enum lt_sign sign;
	union {
		__u32 flags;
		__u8 flag_bytes[4];
	};
	struct {
		__u16 inner_a;
		__u16 inner_b;
	};
	__u32 bf_a : 3, bf_b : 5, bf_c : 24;
	bool ok;
	char name[16];
	__u16 ports[4];
	struct gadget_l4endpoint_t dst;
	__s8 small;
	__s64 big_neg;
	union {
		__u32 a;
		__u64 b;
	} named_union;
	struct {
		int x;
	} pairs[2];
	void *ptr;
	char tail[0];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} lt_events SEC(".maps");

const void *gadget_tracer_lt___lt_events___lt_event __attribute__((unused));
const struct lt_event *__gadget_tracer_type_lt __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
