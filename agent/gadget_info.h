/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GadgetInfo, the record layout a client needs before the records: the
 * gadget's data sources with their fields and annotations, and its params
 * (docs/api.md "GetGadgetInfo").  The agent answers GetGadgetInfo with it
 * and sends it again inside RunStarted.
 *
 * The message is built from a prepared runner and borrows every string
 * from it and from the image and its metadata: pack or send it before any
 * of those go, then release it with agent_gadget_info_done().
 */
#ifndef AGENT_GADGET_INFO_H
#define AGENT_GADGET_INFO_H

#include <stddef.h>

#include "agent/api.pb-c.h"

struct agent_image;
struct oci_metadata;
struct run_runner;

struct agent_gadget_info {
	Gadget__Agent__V1__GadgetInfo gi; /* the message */
	void *allocs[8];		  /* its arrays */
	size_t n_allocs;
};

/*
 * Builds the GadgetInfo of the prepared runner rn, for image (as the client
 * named it), img and md (may be NULL).  0, or -ENOMEM with nothing to
 * release.
 */
int agent_gadget_info_init(struct agent_gadget_info *o, const struct run_runner *rn,
			   const char *image, const struct agent_image *img,
			   const struct oci_metadata *md);
void agent_gadget_info_done(struct agent_gadget_info *o);

#endif /* AGENT_GADGET_INFO_H */
