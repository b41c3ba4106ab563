// SPDX-License-Identifier: Apache-2.0
/*
 * The help of a gadget (see help.h).
 */
#include "run/help.h"

#include <stdbool.h>
#include <string.h>

#include "bpf/gadget.h"

/* Field names wider than this do not widen the column further. */
#define HELP_MAX_NAME_WIDTH 40
/* Left column of the params. */
#define HELP_PARAM_COLUMN 32

const char *run_help_param_type(int type)
{
	switch (type) {
	case BPF_GADGET_PARAM_BOOL:
		return "bool";
	case BPF_GADGET_PARAM_INT:
		return "int";
	case BPF_GADGET_PARAM_UINT:
		return "uint";
	case BPF_GADGET_PARAM_STRING:
		return "string";
	case BPF_GADGET_PARAM_ENUM:
		return "enum";
	}
	return "value";
}

const char *run_help_ds_type(enum run_runner_ds_type t)
{
	switch (t) {
	case RUN_RUNNER_DS_TRACER:
		return "tracer";
	case RUN_RUNNER_DS_MAPITER:
		return "map iterator";
	case RUN_RUNNER_DS_ITER:
		return "snapshot";
	}
	return "data source";
}

static void print_param(FILE *out, const struct run_runner_param_info *p)
{
	const char *d = p->description ? p->description : "";
	const char *dflt = p->default_value && *p->default_value ? p->default_value : "\"\"";
	char lhs[128];
	size_t k;

	if (p->alias)
		snprintf(lhs, sizeof(lhs), "-%s, --%s %s", p->alias, p->key,
			 run_help_param_type(p->type));
	else
		snprintf(lhs, sizeof(lhs), "--%s %s", p->key, run_help_param_type(p->type));
	if (strlen(lhs) + 2 >= HELP_PARAM_COLUMN)
		fprintf(out, "  %s\n  %-*s %s%s", lhs, HELP_PARAM_COLUMN - 2, "", d, *d ? " " : "");
	else
		fprintf(out, "  %-*s %s%s", HELP_PARAM_COLUMN - 2, lhs, d, *d ? " " : "");
	for (k = 0; k < p->n_values; k++)
		fprintf(out, "%s%s", k ? ", " : "(one of: ", p->values[k]);
	fprintf(out, "%s(default: %s)\n", p->n_values ? ") " : "", dflt);
}

static void print_fields(FILE *out, const struct run_runner_ds_info *ds)
{
	size_t i, w = 0, tw = 0;

	for (i = 0; i < ds->n_fields; i++) {
		size_t n = strlen(ds->fields[i].name), t = strlen(ds->fields[i].type);

		w = n > w ? n : w;
		tw = t > tw ? t : tw;
	}
	w = w > HELP_MAX_NAME_WIDTH ? HELP_MAX_NAME_WIDTH : w;
	for (i = 0; i < ds->n_fields; i++) {
		const struct run_runner_field *f = &ds->fields[i];
		const char *d = f->description ? f->description : "";
		const char *shown = f->visible_columns && f->visible_json ? ""
				    : f->visible_json			  ? "[json only]"
				    : f->visible_columns		  ? "[columns only]"
									  : "[hidden]";

		if (*d || *shown)
			fprintf(out, "  %-*s  %-*s  %s%s%s\n", (int)w, f->name, (int)tw, f->type, d,
				*d && *shown ? " " : "", shown);
		else
			fprintf(out, "  %-*s  %s\n", (int)w, f->name, f->type);
	}
}

void run_help_gadget(FILE *out, const struct run_help_gadget *g)
{
	size_t i;

	fprintf(out, "\nGadget %s", g->name);
	if (g->description && *g->description)
		fprintf(out, ": %s", g->description);
	fputc('\n', out);
	if (g->image && *g->image) {
		fprintf(out, "Image %s", g->image);
		if (g->digest && *g->digest)
			fprintf(out, " (%s)", g->digest);
		if (g->origin && *g->origin)
			fprintf(out, " from %s", g->origin);
		fputc('\n', out);
	}
	fprintf(out, "\nParams of %s:\n", g->name);
	if (!g->n_params)
		fprintf(out, "  (none)\n");
	for (i = 0; i < g->n_params; i++)
		print_param(out, g->params[i]);
	for (i = 0; i < g->n_ds; i++) {
		fprintf(out, "\nFields of data source '%s' (%s):\n", g->ds[i]->name,
			run_help_ds_type(g->ds[i]->type));
		print_fields(out, g->ds[i]);
	}
}
