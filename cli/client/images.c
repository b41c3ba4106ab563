// SPDX-License-Identifier: Apache-2.0
/*
 * image list / image pull on the agents' image stores (ListImages,
 * PullImage of docs/api.md): `ig --remote ADDR image list|pull`, what the
 * daemon will run.  With several agents (a cluster) every one is asked and
 * the answers come one agent after the other.
 */
#include "cli/client/client.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client/agents.h"
#include "oci/digest.h"
#include "oci/ref.h"

/* A pull may take a while over a slow registry. */
#define IMAGES_PULL_TIMEOUT_MS 300000
#define IMAGES_LIST_TIMEOUT_MS 30000
/* Digest characters shown in the table, as ig image list does. */
#define IMAGES_SHORT_DIGEST 12

enum images_opt_id { I_OUTPUT = 1, I_HELP };

static const struct base_opt images_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, I_OUTPUT, "FORMAT", "list: columns (default) or json", 0},
	{"help", 'h', BASE_OPT_SWITCH, I_HELP, NULL, "show this help", 0},
};

static void images_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = images_opts, .n = 2};

	printf("Usage: %1$s image list [-o json]\n"
	       "       %1$s image pull IMAGE\n\n"
	       "The image store of the %2$s: 'list' shows the gadget images it holds\n"
	       "(REPOSITORY TAG DIGEST CREATED SIZE), 'pull' fetches IMAGE (host[:port]/name:tag)\n"
	       "into it from its registry, with the %2$s's registry settings.\n\nOptions:\n",
	       f->cmd, f->cluster ? "agents" : "daemon");
	base_opt_help(stdout, &t, 1);
}

static void human_size(uint64_t v, char *buf, size_t len)
{
	if (v >= (1u << 20))
		snprintf(buf, len, "%.1f MiB", (double)v / (1u << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
}

static void print_images(const Gadget__Agent__V1__ImageList *il, bool json)
{
	json_t *arr = json ? json_array() : NULL;
	size_t i;

	if (!json)
		printf("%-40s %-16s %-12s %-24s %s\n", "REPOSITORY", "TAG", "DIGEST", "CREATED",
		       "SIZE");
	for (i = 0; i < il->n_images; i++) {
		const Gadget__Agent__V1__Image *im = il->images[i];
		struct oci_ref *ref = NULL;
		char *repo = NULL, size[32];
		const char *hex;

		if (oci_ref_parse(im->reference, &ref) < 0 || oci_ref_format_name(ref, &repo) < 0) {
			oci_ref_free(ref);
			continue;
		}
		if (json) {
			json_array_append_new(arr,
					      json_pack("{s:s,s:s,s:s?,s:s,s:s?,s:I}", "reference",
							im->reference, "repository", repo, "tag",
							ref->tag, "digest", im->digest, "created",
							*im->created ? im->created : NULL, "size",
							(json_int_t)im->size));
		} else {
			hex = oci_digest_is_sha256(im->digest) ? oci_digest_hex(im->digest)
							       : im->digest;
			human_size(im->size, size, sizeof(size));
			printf("%-40s %-16s %-12.*s %-24s %s\n", repo,
			       ref->tag ? ref->tag : "<none>", IMAGES_SHORT_DIGEST, hex,
			       *im->created ? im->created : "-", size);
		}
		free(repo);
		oci_ref_free(ref);
	}
	if (json) {
		char *s = json_dumps(arr, JSON_INDENT(2));

		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(arr);
	}
}

/* One request to every connected agent, one after the other. */
static int ask_each(struct client_agents *as, Gadget__Agent__V1__Request *req, int timeout_ms,
		    bool json, const char *image)
{
	int ret = CLIENT_EXIT_OK;
	size_t i;

	for (i = 0; i < as->n; i++) {
		struct client_agent *a = &as->v[i];
		Gadget__Agent__V1__Response *m = NULL;
		int r;

		if (!client_agent_connected(a))
			continue;
		r = client_agent_call(a, req, timeout_ms, &m);
		if (r < 0) {
			if (!a->error)
				client_agent_fail(a, r, "no answer: %s", strerror(-r));
			client_agent_report(a);
			ret = CLIENT_EXIT_ERROR;
			continue;
		}
		if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_IMAGES) {
			if (as->n > 1)
				printf("%s%s:\n", i ? "\n" : "", a->node);
			print_images(m->images, json);
		} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_IMAGE_PULLED) {
			if (as->n > 1)
				printf("%s: ", a->node);
			printf("Pulled %s\ndigest: %s\n", m->image_pulled->image,
			       m->image_pulled->digest);
		} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
			if (m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED)
				client_agent_fail(a, -EOPNOTSUPP,
						  "this agent (%s) is too old for image requests",
						  a->agent_version ? a->agent_version : "?");
			else if (image)
				client_agent_fail(a, -EIO, "pulling %s: %s", image,
						  client_agent_error_text(m->error));
			else
				client_agent_fail(a, -EIO, "%s", client_agent_error_text(m->error));
			client_agent_report(a);
			ret = CLIENT_EXIT_ERROR;
		}
		agent_wire_response_free(m);
	}
	return ret;
}

int client_cmd_image(const struct client_front *f, int argc, char **argv)
{
	Gadget__Agent__V1__ListImages li = GADGET__AGENT__V1__LIST_IMAGES__INIT;
	Gadget__Agent__V1__PullImage pi = GADGET__AGENT__V1__PULL_IMAGE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct base_opt_table t = {.opts = images_opts, .n = 2};
	const char *verb = argv[0], *image = NULL;
	struct client_agents as = {0};
	bool json = false, pull = !strcmp(verb, "pull");
	int k, ret;

	if (strcmp(verb, "list") && !pull) {
		client_error("'%s image %s' is not available with a daemon (list and pull are)",
			     f->cmd, verb);
		return CLIENT_EXIT_USAGE;
	}
	for (k = 1; k < argc; k++) {
		const struct base_opt *o = NULL;
		const char *v = NULL;
		char err[CLIENT_ERRLEN];
		int r = base_opt_next(&t, 1, argc, argv, &k, &o, &v, err, sizeof(err));

		if (r < 0) {
			client_error("%s", err);
			return CLIENT_EXIT_USAGE;
		}
		if (r == BASE_OPT_UNKNOWN || r == BASE_OPT_END) {
			client_error("unknown option '%s' (see '%s image %s --help')", argv[k],
				     f->cmd, verb);
			return CLIENT_EXIT_USAGE;
		}
		if (r == BASE_OPT_WORD) {
			if (!pull || image) {
				client_error("unexpected argument '%s' (see '%s image %s --help')",
					     argv[k], f->cmd, verb);
				return CLIENT_EXIT_USAGE;
			}
			image = argv[k];
			continue;
		}
		if (o->id == I_HELP) {
			images_help(f);
			return CLIENT_EXIT_OK;
		}
		if (strcmp(v, "json") && strcmp(v, "columns")) {
			client_error("invalid output format '%s' (columns or json)", v);
			return CLIENT_EXIT_USAGE;
		}
		json = !strcmp(v, "json");
	}
	if (pull && !image) {
		client_error("which image? usage: %s image pull IMAGE", f->cmd);
		return CLIENT_EXIT_USAGE;
	}
	if (f->connect(f->ctx, NULL, 0, false, &as) < 0)
		return CLIENT_EXIT_ERROR;
	if (pull) {
		pi.image = (char *)image;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_PULL_IMAGE;
		req.pull_image = &pi;
	} else {
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_IMAGES;
		req.list_images = &li;
	}
	ret = ask_each(&as, &req, pull ? IMAGES_PULL_TIMEOUT_MS : IMAGES_LIST_TIMEOUT_MS, json,
		       image);
	client_agents_done(&as);
	return ret;
}
