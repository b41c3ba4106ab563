// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the control API codec (agent/wire.c).
 *
 * The agent reads these bytes from any client that reaches its socket, and
 * clients read them from agents, so the whole path is fuzzed: the input is a
 * stream, fed to the reader in pieces whose sizes come from the first byte,
 * and every message it yields is decoded as a Request and as a Response.
 * Promises checked beyond not crashing: no message is longer than the
 * reader's maximum, the reader never holds more than its bound, and a
 * decoded message packs, frames and reads back to the same bytes.  A broken
 * promise aborts so that the fuzzer records the input.
 */
#include "agent/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that lengths over the maximum are easy to reach. */
#define FUZZ_MAX_MESSAGE (1u << 16)

static void fuzz_repack(const ProtobufCMessage *m)
{
	struct base_buf framed = BASE_BUF_INIT(0);
	struct agent_wire_reader *r = NULL;
	const uint8_t *msg;
	uint8_t *packed;
	size_t n, len, taken;

	n = protobuf_c_message_get_packed_size(m);
	packed = malloc(n + 1);
	if (!packed)
		return;
	if (protobuf_c_message_pack(m, packed) != n)
		abort();
	if (agent_wire_frame(m, &framed) != 0 || framed.len != n + AGENT_WIRE_HEADER_BYTES)
		abort();
	if (memcmp(framed.data + AGENT_WIRE_HEADER_BYTES, packed, n))
		abort();
	if (agent_wire_reader_new(0, &r) == 0) {
		if (agent_wire_reader_feed(r, framed.data, framed.len, &taken) != 0 ||
		    taken != framed.len)
			abort();
		if (agent_wire_reader_next(r, &msg, &len) != 1 || len != n ||
		    memcmp(msg, packed, n))
			abort();
		if (agent_wire_reader_next(r, &msg, &len) != 0)
			abort();
		agent_wire_reader_free(r);
	}
	base_buf_done(&framed);
	free(packed);
}

static void fuzz_message(const uint8_t *msg, size_t len)
{
	Gadget__Agent__V1__Request *rq = NULL;
	Gadget__Agent__V1__Response *rs = NULL;

	if (len > FUZZ_MAX_MESSAGE)
		abort();
	if (agent_wire_request_unpack(msg, len, &rq) == 0) {
		agent_wire_request_name(rq->payload_case);
		fuzz_repack(&rq->base);
		agent_wire_request_free(rq);
	}
	if (agent_wire_response_unpack(msg, len, &rs) == 0) {
		agent_wire_response_name(rs->payload_case);
		if (rs->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR && rs->error)
			agent_wire_error_code_name(rs->error->code);
		fuzz_repack(&rs->base);
		agent_wire_response_free(rs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_wire_reader *r = NULL;
	size_t piece, chunk, off, taken, len, got;
	const uint8_t *msg;
	int ret = 0;

	if (size < 1)
		return 0;
	piece = 1 + data[0];
	data++;
	size--;
	if (agent_wire_reader_new(FUZZ_MAX_MESSAGE, &r) != 0)
		return 0;
	for (off = 0; off < size && ret >= 0;) {
		chunk = size - off < piece ? size - off : piece;
		ret = agent_wire_reader_feed(r, data + off, chunk, &taken);
		if (taken > chunk)
			abort();
		off += taken;
		if (agent_wire_reader_pending(r) > AGENT_WIRE_READ_CHUNK + FUZZ_MAX_MESSAGE)
			abort();
		got = 0;
		while (ret >= 0 && (ret = agent_wire_reader_next(r, &msg, &len)) == 1) {
			fuzz_message(msg, len);
			got++;
		}
		/* feed takes nothing only when a message is waiting */
		if (ret == 0 && !taken && !got)
			abort();
	}
	agent_wire_reader_free(r);
	return 0;
}
