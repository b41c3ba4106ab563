/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printing the records agents send (kubectl gadget run/attach, ig --remote
 * run/attach): the one place that knows how a record travels, so that a
 * new encoding on the wire changes only this file.
 *
 * Every record arrives as a JSON object, exactly a line of `ig run -o json`
 * (docs/api.md "Records").  json output passes it through as one line;
 * jsonpretty and yaml re-indent it; columns output renders the fields the
 * gadget describes in GadgetInfo (header: the upper-cased short names,
 * width and alignment per field) by looking each dotted name up in the
 * record.  The columns are chosen here from --fields, with the grammar of
 * ig run ("a,b" exactly these, "+a,-b" change the default set, a struct's
 * name for all its fields, a unique last component for a field), so an
 * unknown field is a usage error before anything runs.
 *
 * Records come from remote agents: each is bounded by the wire limit
 * (AGENT_WIRE_MAX_MESSAGE), a raw newline in one never splits an output
 * line, and table cells go through run_escape_cell() so no control
 * character reaches the terminal.
 */
#ifndef CLI_CLIENT_PRINTER_H
#define CLI_CLIENT_PRINTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/api.pb-c.h"
#include "run/pipeline.h" /* enum run_output */

struct client_printer;

/*
 * Returns a new printer writing to out (borrowed); free with client_printer_free().
 * no_header: columns output without the header lines.
 */
int client_printer_new(enum run_output o, bool no_header, FILE *out, struct client_printer **ret);
struct client_printer *client_printer_free(struct client_printer *p);

/*
 * Checks fields (--fields, NULL for the default set) against every data
 * source of info and, for columns output, chooses the columns.  The first
 * call decides; later ones (other nodes' RunStarted) are ignored.  -EINVAL
 * with a one-line reason in err.
 */
int client_printer_set_info(struct client_printer *p, const Gadget__Agent__V1__GadgetInfo *info,
			    const char *fields, char *err, size_t errlen);
bool client_printer_has_info(const struct client_printer *p);

/*
 * What GadgetSpec.fields should be so the records hold what is printed:
 * for columns output of a one-data-source gadget, the chosen columns by
 * full name ("a,b,c"); otherwise fields as given.  A new string (free()),
 * or NULL for the default set; after client_printer_set_info().
 */
char *client_printer_spec_fields(const struct client_printer *p, const char *fields);

/*
 * Prints one record of data source ds (fetch: its map fetch number, 0 for
 * tracers; columns output starts a new table at each new fetch).  0, or
 * -EPIPE / -errno when the output is gone.
 */
int client_printer_record(struct client_printer *p, const char *ds, uint64_t fetch,
			  const uint8_t *rec, size_t len);
/*
 * The gadget runs (a node said RunStarted): a columns table of a tracer
 * shows its header now, as ig run does, so a quiet run shows it is working.
 * After client_printer_set_info(); later calls do nothing.  0 or -errno.
 */
int client_printer_begin(struct client_printer *p);
/* Writes what stdio holds; -EPIPE when the reader went away. */
int client_printer_flush(struct client_printer *p);

#endif /* CLI_CLIENT_PRINTER_H */
