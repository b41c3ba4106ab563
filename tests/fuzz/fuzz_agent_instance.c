// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for instance.yaml and config.yaml, the two YAML
 * documents the agent reads from others: instance specs come from
 * ConfigMaps anyone with access to the gadget namespace can write, the
 * config from a ConfigMap too.
 *
 * Every input either parses or fails with a one-line message.  A spec that
 * parses is written back and must read back to the same protobuf bytes, so
 * the writer's quoting is exercised on whatever the parser accepted.
 */
#include "agent/config.h"
#include "agent/instance.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const uint8_t *data, size_t size)
{
	struct agent_config c;
	char err[512];

	if (agent_config_init(&c) < 0)
		return;
	err[0] = '\0';
	if (agent_config_parse(&c, (const char *)data, size, "config.yaml", err, sizeof(err)) < 0 &&
	    (!err[0] || strchr(err, '\n')))
		__builtin_trap();
	agent_config_validate(&c, err, sizeof(err));
	agent_config_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Gadget__Agent__V1__InstanceSpec *s = NULL, *back = NULL;
	struct agent_instance_extra ex = {0};
	struct base_buf out = BASE_BUF_INIT(AGENT_INSTANCE_MAX_YAML * 4);
	uint8_t *a = NULL, *b = NULL;
	size_t la, lb;
	char err[512];
	int r;

	check_config(data, size);
	r = agent_instance_spec_parse((const char *)data, size, &s, &ex, err, sizeof(err));
	if (r < 0) {
		if (!err[0] || strchr(err, '\n') || s || ex.id)
			__builtin_trap();
		return 0;
	}
	agent_instance_spec_check(s, err, sizeof(err));
	if (agent_instance_spec_format(s, &ex, &out) == 0) {
		if (agent_instance_spec_parse(out.data, out.len, &back, NULL, err, sizeof(err)) < 0)
			__builtin_trap();
		la = protobuf_c_message_get_packed_size(&s->base);
		lb = protobuf_c_message_get_packed_size(&back->base);
		a = malloc(la + 1);
		b = malloc(lb + 1);
		if (a && b) {
			protobuf_c_message_pack(&s->base, a);
			protobuf_c_message_pack(&back->base, b);
			if (la != lb || memcmp(a, b, la))
				__builtin_trap();
		}
	}
	free(a);
	free(b);
	free(ex.id);
	base_buf_done(&out);
	agent_instance_spec_free(back);
	agent_instance_spec_free(s);
	return 0;
}
