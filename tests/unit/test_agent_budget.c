// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the agent's memory budgets (agent/budget.c) and the buffers
 * charged to them: a control API reader receiving a message larger than
 * what the budget has left (refused with -EDQUOT, and everything given back
 * when the reader goes), writers whose queues share one budget (a record
 * batch past it is refused like one past the queue's own bound, and
 * flushing gives the memory back), and an instance's replay ring, which
 * forgets its oldest records to stay within the budget.
 */
#include "agent/budget.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/instance.h"
#include "agent/wire.h"

static void test_take_give(void **state)
{
	struct agent_budget *b = NULL;

	assert_int_equal(agent_budget_new("tcp", 1000, &b), 0);
	assert_string_equal(agent_budget_name(b), "tcp");
	assert_true(agent_budget_take(b, 600));
	assert_false(agent_budget_take(b, 401));
	assert_true(agent_budget_take(b, 400));
	assert_false(agent_budget_take(b, 1));
	assert_int_equal(agent_budget_used(b), 1000);
	assert_int_equal(agent_budget_refused(b), 2);
	agent_budget_give(b, 700);
	assert_int_equal(agent_budget_used(b), 300);
	assert_int_equal(agent_budget_peak(b), 1000);
	/* more given back than taken stops at zero */
	agent_budget_give(b, 5000);
	assert_int_equal(agent_budget_used(b), 0);
	/* a huge request does not wrap around */
	assert_false(agent_budget_take(b, SIZE_MAX));
	/* no budget: everything fits */
	assert_true(agent_budget_take(NULL, SIZE_MAX));
	agent_budget_give(NULL, 1);
	assert_null(agent_budget_free(b));
	assert_null(agent_budget_free(NULL));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* A peer announcing 1 MiB gets no more than the budget has; the rest is -EDQUOT. */
static void test_reader_over_budget(void **state)
{
	struct agent_budget *b = NULL;
	struct agent_wire_reader *r = NULL;
	size_t chunk = 64 << 10, taken, sent = 0;
	uint8_t *buf = calloc(1, chunk);
	int rc = 0;

	assert_non_null(buf);
	assert_int_equal(agent_budget_new("tcp", 300 << 10, &b), 0);
	assert_int_equal(agent_wire_reader_new(2 << 20, &r), 0);
	assert_int_equal(agent_wire_reader_set_budget(r, b), 0);
	put_be32(buf, 1 << 20);
	while (sent < (1 << 20)) {
		rc = agent_wire_reader_feed(r, buf, chunk, &taken);
		sent += taken;
		if (rc < 0)
			break;
		memset(buf, 'x', 4);
	}
	assert_int_equal(rc, -EDQUOT);
	assert_true(agent_budget_used(b) <= 300 << 10);
	assert_true(agent_budget_used(b) > 0);
	assert_true(agent_budget_refused(b) >= 1);
	/* once bytes arrived, the budget can no longer be changed */
	assert_int_equal(agent_wire_reader_set_budget(r, NULL), -EBUSY);
	agent_wire_reader_free(r);
	assert_int_equal(agent_budget_used(b), 0);

	/* a message that fits is read whole, and its memory goes back after */
	assert_int_equal(agent_wire_reader_new(2 << 20, &r), 0);
	assert_int_equal(agent_wire_reader_set_budget(r, b), 0);
	put_be32(buf, 200 << 10);
	for (sent = 0; sent < 4 + (200 << 10);) {
		size_t n = 4 + (200 << 10) - sent < chunk ? 4 + (200 << 10) - sent : chunk;

		assert_int_equal(agent_wire_reader_feed(r, buf, n, &taken), 0);
		sent += taken;
		memset(buf, 'y', 4);
	}
	{
		const uint8_t *msg;
		size_t len;

		assert_int_equal(agent_wire_reader_next(r, &msg, &len), 1);
		assert_int_equal(len, 200 << 10);
	}
	agent_wire_reader_free(r);
	assert_int_equal(agent_budget_used(b), 0);
	agent_budget_free(b);
	free(buf);
}

/* Writers that share a budget: past it, a droppable batch is refused; a flush gives back. */
static void test_writers_share_a_budget(void **state)
{
	Gadget__Agent__V1__Response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	struct agent_wire_writer *w1 = NULL, *w2 = NULL;
	struct agent_budget *b = NULL;
	ProtobufCBinaryData rec;
	ProtobufCBinaryData *recs = &rec;
	char *body = malloc(100 << 10);
	int sv[2], i, rc = 0, n1 = 0;

	assert_non_null(body);
	memset(body, 'r', 100 << 10);
	rec.data = (uint8_t *)body;
	rec.len = 100 << 10;
	rb.records = &rec;
	rb.n_records = 1;
	(void)recs;
	resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS;
	resp.records = &rb;
	assert_int_equal(agent_budget_new("tcp", 1 << 20, &b), 0);
	assert_int_equal(agent_wire_writer_new(8 << 20, &w1), 0);
	assert_int_equal(agent_wire_writer_new(8 << 20, &w2), 0);
	assert_int_equal(agent_wire_writer_set_budget(w1, b), 0);
	assert_int_equal(agent_wire_writer_set_budget(w2, b), 0);
	/* the first writer takes what there is, well under its own 8 MiB bound */
	for (i = 0; i < 40; i++) {
		rc = agent_wire_writer_queue(w1, &resp.base, AGENT_WIRE_DROPPABLE);
		if (rc < 0)
			break;
		n1++;
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_true(n1 >= 4 && n1 <= 10);
	assert_true(agent_budget_used(b) <= 1 << 20);
	/* the second has no room left either */
	assert_int_equal(agent_wire_writer_queue(w2, &resp.base, AGENT_WIRE_DROPPABLE), -ENOBUFS);
	assert_int_equal(agent_wire_writer_set_budget(w1, NULL), -EBUSY);
	/* the first's client reads everything: its memory goes back */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	{
		int sz = 4 << 20;

		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	assert_int_equal(agent_wire_writer_flush(w1, sv[0]), 0);
	assert_int_equal(agent_budget_used(b), 0);
	assert_int_equal(agent_wire_writer_queue(w2, &resp.base, AGENT_WIRE_DROPPABLE), 0);
	close(sv[0]);
	close(sv[1]);
	agent_wire_writer_free(w1);
	agent_wire_writer_free(w2);
	assert_int_equal(agent_budget_used(b), 0);
	agent_budget_free(b);
	free(body);
}

static void test_ring_forgets_oldest(void **state)
{
	struct agent_instance_ring *r = NULL;
	struct agent_budget *b = NULL;
	char rec[1000];
	uint64_t seq;
	const char *json;
	size_t ds, len, i;

	memset(rec, 'j', sizeof(rec));
	assert_int_equal(agent_budget_new("replay", 10000, &b), 0);
	assert_int_equal(agent_instance_ring_new(1000, &r), 0);
	agent_instance_ring_set_budget(r, b);
	for (i = 0; i < 100; i++)
		assert_int_equal(agent_instance_ring_push(r, i, 0, rec, sizeof(rec)), 0);
	/* a ring of 1000 records keeps what 10000 bytes hold: the newest */
	assert_true(agent_instance_ring_count(r) >= 5 && agent_instance_ring_count(r) <= 10);
	assert_true(agent_budget_used(b) <= 10000);
	agent_instance_ring_get(r, agent_instance_ring_count(r) - 1, &seq, &ds, &json, &len);
	assert_int_equal(seq, 99);
	agent_instance_ring_get(r, 0, &seq, &ds, &json, &len);
	assert_int_equal(seq, 100 - agent_instance_ring_count(r));
	/* a record larger than the whole budget is not kept, and forgets the rest */
	{
		char *big = malloc(20000);

		assert_non_null(big);
		memset(big, 'b', 20000);
		assert_int_equal(agent_instance_ring_push(r, 100, 0, big, 20000), -ENOBUFS);
		free(big);
	}
	assert_true(agent_budget_used(b) <= 10000);
	assert_int_equal(agent_instance_ring_push(r, 101, 0, rec, sizeof(rec)), 0);
	agent_instance_ring_free(r);
	assert_int_equal(agent_budget_used(b), 0);
	agent_budget_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_give),
		cmocka_unit_test(test_reader_over_budget),
		cmocka_unit_test(test_writers_share_a_budget),
		cmocka_unit_test(test_ring_forgets_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
