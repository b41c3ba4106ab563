/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The help of a gadget: its params and the fields of its data sources, as
 * `ig run GADGET --help` and `kubectl gadget run GADGET --help` print them.
 * One printer for every client: ig describes the gadget it opened, kubectl
 * gadget the one an agent described in GadgetInfo, in the same words.
 */
#ifndef RUN_HELP_H
#define RUN_HELP_H

#include <stddef.h>
#include <stdio.h>

#include "run/runner.h"

struct run_help_gadget {
	const char *name;
	const char *description; /* may be NULL */
	const char *image;	 /* the reference run; may be NULL */
	const char *digest;	 /* may be NULL */
	const char *origin;	 /* "the store DIR", "node-1"; may be NULL */
	const struct run_runner_param_info *const *params;
	size_t n_params;
	const struct run_runner_ds_info *const *ds;
	size_t n_ds;
};

/* The word --help shows for a param type (enum bpf_gadget_param_type). */
const char *run_help_param_type(int type);
/* "tracer", "map iterator", "snapshot". */
const char *run_help_ds_type(enum run_runner_ds_type t);

/*
 * Prints:
 *   Gadget NAME: DESCRIPTION
 *   Image REF (DIGEST) from ORIGIN
 *
 *   Params:
 *     --key TYPE      description (one of: a, b) (default: x)
 *
 *   Fields of data source 'NAME' (tracer):
 *     name  type  description [json only]
 */
void run_help_gadget(FILE *out, const struct run_help_gadget *g);

#endif /* RUN_HELP_H */
