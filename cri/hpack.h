/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HPACK (RFC 7541), the header compression of HTTP/2, as far as a client of
 * a container runtime needs it.
 *
 * The decoder is complete: static table, dynamic table with size updates,
 * integer and string literals, Huffman-coded strings.  It is fed one whole
 * header block at a time (HEADERS plus its CONTINUATION frames) and hands
 * each field to a callback; everything it reads is bounded, so a hostile
 * peer gets -EBADMSG (a COMPRESSION_ERROR to the connection) or -E2BIG.
 *
 * The encoder is the smallest one the RFC allows: fields are sent as
 * literals without indexing and without Huffman coding (static-table names
 * and exact static entries are used), so it keeps no state and the peer's
 * table size never matters.
 */
#ifndef CRI_HPACK_H
#define CRI_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* SETTINGS_HEADER_TABLE_SIZE every HTTP/2 endpoint starts with. */
#define HPACK_DEFAULT_TABLE_SIZE 4096u
/* Largest dynamic table a decoder can be made with. */
#define HPACK_MAX_TABLE_SIZE (64u << 10)
/*
 * Largest decoded header list of one block, counted as RFC 9113's
 * SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 per field).
 */
#define HPACK_MAX_HEADER_LIST (64u << 10)
/* Entries of the static table (RFC 7541 Appendix A). */
#define HPACK_STATIC_ENTRIES 61u

struct hpack_decoder;

/*
 * Called once per decoded field, in order.  name and value are
 * NUL-terminated for convenience but may hold NUL bytes: trust the lengths.
 * Both are borrowed for the duration of the call.  A negative return stops
 * decoding and is passed back by hpack_decoder_block().
 */
typedef int (*hpack_field_fn)(void *ctx, const char *name, size_t name_len, const char *value,
			      size_t value_len);

/*
 * A decoder whose dynamic table may grow to max_table_size bytes (the
 * SETTINGS_HEADER_TABLE_SIZE we advertised, HPACK_DEFAULT_TABLE_SIZE unless
 * we sent another one).  Free with hpack_decoder_free().
 */
int hpack_decoder_new(size_t max_table_size, struct hpack_decoder **ret);
struct hpack_decoder *hpack_decoder_free(struct hpack_decoder *d);

/*
 * Decodes one complete header block.  0 when every field was delivered;
 * -EBADMSG on malformed input (the dynamic table is then out of step with
 * the peer's, so the connection must end), -E2BIG when the list exceeds
 * HPACK_MAX_HEADER_LIST, -ENOMEM, or a callback's negative return.
 */
int hpack_decoder_block(struct hpack_decoder *d, const uint8_t *block, size_t len,
			hpack_field_fn fn, void *ctx);

/* Current size of the dynamic table (RFC 7541 section 4.1) and its entries. */
size_t hpack_decoder_table_size(const struct hpack_decoder *d);
size_t hpack_decoder_table_len(const struct hpack_decoder *d);
/*
 * Entry index (1-based across the static table and then the dynamic one,
 * as the wire counts).  -ENOENT past the end.  Strings are borrowed.
 */
int hpack_decoder_entry(const struct hpack_decoder *d, size_t index, const char **ret_name,
			size_t *ret_name_len, const char **ret_value, size_t *ret_value_len);

/*
 * Decodes a Huffman-coded string (RFC 7541 section 5.2, Appendix B) and
 * appends it to out.  -EBADMSG on an EOS symbol, padding over 7 bits or
 * padding that is not the EOS prefix; -E2BIG past out's maximum.
 */
int hpack_huffman_decode(const uint8_t *in, size_t len, struct base_buf *out);

/*
 * Appends one field to a header block being built in out (see above for the
 * forms used).  -EINVAL for names or values over HPACK_MAX_HEADER_LIST,
 * -E2BIG past out's maximum.
 */
int hpack_encode_field(struct base_buf *out, const char *name, const char *value);

#endif /* CRI_HPACK_H */
