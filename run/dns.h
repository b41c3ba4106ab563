/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages in records: the decoding Inspektor Gadget's trace_dns does in
 * its WASM module, done here in C for any data source shaped like it.
 *
 * A data source is a DNS one when it is named "dns" and has the fields
 * dns_off (where the DNS message starts) and data_len (the bytes there are),
 * and the bytes themselves either in a byte array field "data" (ig's own
 * trace_dns, which copies the message) or after the record, named by the
 * ebpf.rest.name annotation (Inspektor Gadget's, which appends the whole
 * packet with bpf_perf_event_output()).  It gets the columns Inspektor
 * Gadget's module adds: id, qr, qr_raw, qtype, qtype_raw, name, rcode,
 * rcode_raw, num_answers, addresses, tc, ra, rd; and malformed, true when
 * the message could not be read to its end.
 *
 * The parser trusts nothing: names are followed through at most
 * RUN_DNS_MAX_JUMPS compression pointers and must fit the 255 bytes RFC 1035
 * allows, every read is checked against the message length, and at most
 * RUN_DNS_MAX_ANSWERS answers are looked at.
 */
#ifndef RUN_DNS_H
#define RUN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_layout;
struct oci_metadata_ds;
struct run_pipeline;

/* RFC 1035 3.1: a name is at most 255 bytes on the wire. */
#define RUN_DNS_MAX_WIRE_NAME 255
/* Its text: every byte may become a 4-byte \DDD escape, plus dots and NUL. */
#define RUN_DNS_MAX_NAME    (RUN_DNS_MAX_WIRE_NAME * 4 + 2)
#define RUN_DNS_MAX_JUMPS   64
#define RUN_DNS_MAX_ANSWERS 64
#define RUN_DNS_MAX_ADDRS   16
#define RUN_DNS_ADDR_LEN    46 /* INET6_ADDRSTRLEN */

struct run_dns_msg {
	uint16_t id;
	bool qr; /* a response */
	uint8_t opcode;
	bool aa, tc, rd, ra;
	uint8_t rcode;
	uint16_t qdcount, ancount;
	bool has_question; /* name and qtype are the first question's */
	uint16_t qtype;
	char name[RUN_DNS_MAX_NAME]; /* dotted, with the final dot: "example.com." */
	uint16_t n_answers;	     /* answers read */
	size_t n_addrs;		     /* A and AAAA answers, as text */
	char addrs[RUN_DNS_MAX_ADDRS][RUN_DNS_ADDR_LEN];
	bool malformed;
};

/*
 * Decodes the DNS message msg (len bytes).  0 when it was read to the end
 * of the answers; -EBADMSG when it is malformed past the header (what could
 * be read is in *ret and ret->malformed is set); -EINVAL when not even the
 * 12-byte header is there.
 */
int run_dns_parse(const void *msg, size_t len, struct run_dns_msg *ret);

/* "A", "AAAA", ... or NULL for a type without a name. */
const char *run_dns_type_name(uint16_t qtype);
/* "Success", "NameError", ... or NULL. */
const char *run_dns_rcode_name(uint8_t rcode);

struct run_dns;

/*
 * Adds the DNS columns to p (before run_pipeline_prepare()) when data
 * source name with layout l and annotations md (may be NULL) is a DNS one.
 * Returns a new object that must outlive p (free with run_dns_free()),
 * -ENOENT when the data source is not a DNS one, -ENOMEM.
 */
int run_dns_new(struct run_pipeline *p, const char *name, const struct bpf_layout *l,
		const struct oci_metadata_ds *md, struct run_dns **ret);
struct run_dns *run_dns_free(struct run_dns *d);

#endif /* RUN_DNS_H */
