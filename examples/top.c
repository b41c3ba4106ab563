// SPDX-License-Identifier: Apache-2.0
/*
 * top: reads a map iterator gadget with libig, fetch after fetch.
 *
 *   top [IMAGE [FETCHES [SORT]]]
 *   top top_file 3 -wbytes_raw
 *
 * Opens IMAGE (default top_file), reads its map every second FETCHES times
 * (default 3), sorted by SORT (ig run's --sort grammar, default
 * -wbytes_raw) and at most 20 rows, and prints each fetch as a table of the
 * gadget's own fields, found through its field info, then every row's
 * values with the typed accessors.  Build it with
 *
 *   cc top.c $(pkg-config --cflags --libs ig) -o top
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ig/ig.h>

/* Prints one field of rec as its type allows. */
static void print_field(struct ig_record *rec, const struct ig_field_info *f)
{
	const char *s;
	uint64_t u;
	int64_t i;

	if (ig_record_get_str(rec, f->name, &s, NULL) == 0)
		printf(" %s=%s", f->name, s);
	else if (ig_record_get_uint(rec, f->name, &u) == 0)
		printf(" %s=%" PRIu64, f->name, u);
	else if (ig_record_get_int(rec, f->name, &i) == 0)
		printf(" %s=%" PRId64, f->name, i);
}

int main(int argc, char **argv)
{
	const char *image = argc > 1 ? argv[1] : "top_file";
	unsigned long fetches = argc > 2 ? strtoul(argv[2], NULL, 10) : 3;
	const char *sort = argc > 3 ? argv[3] : "-wbytes_raw";
	char err[1024] = "";
	struct ig_gadget_opts opts = {
		.sz = sizeof(opts),
		.errbuf = err,
		.errbuf_len = sizeof(err),
	};
	const struct ig_ds_info *ds;
	struct ig_gadget *g = NULL;
	struct ig_record *rec;
	uint64_t fetch = 0;
	size_t k;
	int r;

	r = ig_gadget_open(image, &opts, &g);
	if (r < 0) {
		fprintf(stderr, "top: cannot open %s: %s\n", image, err);
		return 1;
	}
	if (ig_gadget_set_fetch(g, 1000, (uint32_t)fetches) < 0 ||
	    ig_gadget_set_sort(g, sort, 20) < 0 || ig_gadget_prepare(g) < 0) {
		fprintf(stderr, "top: %s\n", ig_gadget_errmsg(g));
		ig_gadget_free(g);
		return 2;
	}
	ds = ig_gadget_ds(g, 0);
	if (!ds || ds->type != IG_DS_MAPITER) {
		fprintf(stderr, "top: %s is not a map iterator gadget\n", image);
		ig_gadget_free(g);
		return 2;
	}
	printf("%s: data source %s, fields:", ig_gadget_name(g), ds->name);
	for (k = 0; k < ds->n_fields; k++) {
		const struct ig_field_info *f = ig_gadget_field(g, 0, k);

		if (f->visible_columns)
			printf(" %s(%s)", f->name, f->type);
	}
	printf("\n");
	if (ig_gadget_start(g) < 0) {
		fprintf(stderr, "top: cannot start %s: %s\n", image, ig_gadget_errmsg(g));
		ig_gadget_free(g);
		return 1;
	}
	while ((r = ig_gadget_next(g, -1, &rec)) > 0) {
		if (ig_record_fetch(rec) != fetch) {
			fetch = ig_record_fetch(rec);
			printf("--- fetch %" PRIu64 "\n", fetch);
		}
		printf("%s", ig_record_ds(rec));
		for (k = 0; k < ds->n_fields; k++) {
			const struct ig_field_info *f = ig_gadget_field(g, 0, k);

			if (f->visible_columns)
				print_field(rec, f);
		}
		printf("\n");
		fflush(stdout);
	}
	if (r != -ENODATA) {
		fprintf(stderr, "top: %s\n", ig_gadget_errmsg(g));
		ig_gadget_free(g);
		return 1;
	}
	ig_gadget_free(g);
	return 0;
}
