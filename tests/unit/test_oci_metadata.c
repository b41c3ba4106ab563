// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the gadget.yaml parser (oci/metadata.c).
 *
 * The golden file tests/data/oci/full.yaml covers every part of the model
 * with all the scalar styles a gadget author may use; the rest feeds small
 * documents that are wrong in one way each and checks the exact message a
 * user would read, line number included.
 */
#include "oci/metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"

#define FULL_YAML TEST_DATA_DIR "/oci/full.yaml"
#define BAD_YAML  TEST_DATA_DIR "/oci/bad_fields.yaml"

/* Never a valid object: shows that *ret is left alone on failure. */
#define SENTINEL ((struct oci_metadata *)0x5a5a5a5a)

static int parse_str(const char *s, struct oci_metadata **m, char *err, size_t errlen)
{
	return oci_metadata_parse(s, strlen(s), m, err, errlen);
}

static void expect_error(const char *yaml, int want, const char *msg)
{
	struct oci_metadata *m = SENTINEL;
	char err[512];
	int r;

	r = parse_str(yaml, &m, err, sizeof(err));
	if (r != want)
		print_error("yaml: %s\nerr: %s\n", yaml, err);
	assert_int_equal(r, want);
	assert_string_equal(err, msg);
	assert_ptr_equal(m, SENTINEL);
}

static struct oci_metadata *parse_ok(const char *yaml)
{
	struct oci_metadata *m = NULL;
	char err[512] = "";
	int r;

	r = parse_str(yaml, &m, err, sizeof(err));
	if (r)
		print_error("yaml: %s\nerr: %s\n", yaml, err);
	assert_int_equal(r, 0);
	assert_non_null(m);
	return m;
}

static void assert_annotation(const struct oci_metadata_annotation *a, const char *key,
			      const char *value)
{
	assert_string_equal(a->key, key);
	assert_string_equal(a->value, value);
}

static void test_full_golden(void **state)
{
	const struct oci_metadata_field *f;
	const struct oci_metadata_ds *ds;
	const struct oci_metadata_param *p;
	struct oci_metadata *m = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(oci_metadata_load(FULL_YAML, &m, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(m->name, "trace chmod");
	assert_string_equal(m->description, "follow chmod(2) calls");
	assert_string_equal(m->homepage_url, "https://example.org/");
	assert_string_equal(m->documentation_url, "https://example.org/docs/trace_chmod");
	assert_string_equal(m->source_url, "https://example.org/src/trace_chmod");

	assert_int_equal(m->n_datasources, 2);
	ds = &m->datasources[0];
	assert_string_equal(ds->name, "chmod");
	assert_int_equal(ds->n_annotations, 3);
	assert_annotation(&ds->annotations[0], "cli.clear-screen-before", "true");
	assert_annotation(&ds->annotations[1], "description", "Calls to chmod");
	assert_annotation(&ds->annotations[2], "unknown.flag", "false");

	assert_int_equal(ds->n_fields, 6);
	f = &ds->fields[0];
	assert_string_equal(f->name, "mode_raw");
	assert_int_equal(f->n_annotations, 1);
	assert_annotation(&f->annotations[0], "columns.hidden", "true");
	f = &ds->fields[1];
	assert_string_equal(f->name, "mode");
	assert_int_equal(f->n_annotations, 3);
	assert_annotation(&f->annotations[0], "description", "New file mode in octal");
	assert_annotation(&f->annotations[1], "columns.width", "10");
	assert_annotation(&f->annotations[2], "columns.alignment", "right");
	f = &ds->fields[2];
	assert_string_equal(f->name, "path");
	assert_int_equal(f->n_annotations, 3);
	assert_annotation(&f->annotations[0], "description", "Path as given");
	assert_annotation(&f->annotations[1], "columns.width", "48");
	assert_annotation(&f->annotations[2], "columns.minwidth", "16");
	/* "ret:" with nothing after it, and "annotations:" with nothing */
	assert_string_equal(ds->fields[3].name, "ret");
	assert_int_equal(ds->fields[3].n_annotations, 0);
	assert_null(ds->fields[3].annotations);
	assert_string_equal(ds->fields[4].name, "flags");
	assert_int_equal(ds->fields[4].n_annotations, 0);
	f = &ds->fields[5];
	assert_string_equal(f->name, "weight");
	assert_int_equal(f->n_annotations, 3);
	assert_annotation(&f->annotations[0], "columns.precision", "2.50");
	assert_annotation(&f->annotations[1], "empty.quoted", "");
	assert_annotation(&f->annotations[2], "null.value", "");

	ds = &m->datasources[1];
	assert_string_equal(ds->name, "stats");
	assert_int_equal(ds->n_annotations, 0);
	assert_int_equal(ds->n_fields, 0);

	/* params.ebpf only: the wasm section is ignored */
	assert_int_equal(m->n_params, 3);
	p = &m->params[0];
	assert_string_equal(p->name, "targ_uid");
	assert_string_equal(p->key, "uid");
	assert_string_equal(p->default_value, "0");
	assert_string_equal(p->description, "Only show calls from this user id");
	p = &m->params[1];
	assert_string_equal(p->name, "targ_failed");
	assert_string_equal(p->key, "failed");
	assert_string_equal(p->default_value, "false");
	assert_string_equal(p->description, "Show only failed calls\n");
	p = &m->params[2];
	assert_string_equal(p->name, "targ_bare");
	assert_null(p->key);
	assert_null(p->default_value);
	assert_null(p->description);

	assert_null(oci_metadata_free(m));
}

static void test_lookups(void **state)
{
	const struct oci_metadata_ds *ds;
	const struct oci_metadata_param *p;
	const struct oci_metadata_field *f;
	struct oci_metadata *m = NULL;

	(void)state;
	assert_int_equal(oci_metadata_load(FULL_YAML, &m, NULL, 0), 0);

	ds = oci_metadata_find_ds(m, "chmod");
	assert_ptr_equal(ds, &m->datasources[0]);
	assert_ptr_equal(oci_metadata_find_ds(m, "stats"), &m->datasources[1]);
	assert_null(oci_metadata_find_ds(m, "open"));
	assert_null(oci_metadata_find_ds(m, "CHMOD"));
	assert_null(oci_metadata_find_ds(NULL, "chmod"));
	assert_null(oci_metadata_find_ds(m, NULL));

	assert_string_equal(oci_metadata_ds_annotation(ds, "description"), "Calls to chmod");
	assert_string_equal(oci_metadata_ds_annotation(ds, "cli.clear-screen-before"), "true");
	assert_null(oci_metadata_ds_annotation(ds, "columns.width"));
	assert_null(oci_metadata_ds_annotation(NULL, "description"));
	assert_null(oci_metadata_ds_annotation(ds, NULL));

	f = oci_metadata_find_field(ds, "path");
	assert_ptr_equal(f, &ds->fields[2]);
	assert_null(oci_metadata_find_field(ds, "nope"));
	assert_null(oci_metadata_find_field(NULL, "path"));

	assert_string_equal(oci_metadata_field_annotation(ds, "mode", "columns.width"), "10");
	assert_string_equal(oci_metadata_field_annotation(ds, "path", "columns.minwidth"), "16");
	assert_string_equal(oci_metadata_field_annotation(ds, "weight", "empty.quoted"), "");
	assert_null(oci_metadata_field_annotation(ds, "mode", "columns.minwidth"));
	assert_null(oci_metadata_field_annotation(ds, "ret", "description"));
	assert_null(oci_metadata_field_annotation(ds, "nope", "description"));
	assert_null(oci_metadata_field_annotation(NULL, "mode", "description"));
	/* a datasource's own annotations are not a field's */
	assert_null(oci_metadata_field_annotation(ds, "chmod", "description"));

	p = oci_metadata_find_param(m, "targ_failed");
	assert_ptr_equal(p, &m->params[1]);
	assert_string_equal(p->key, "failed");
	assert_null(oci_metadata_find_param(m, "failed"));	  /* the key is not the name */
	assert_null(oci_metadata_find_param(m, "ignored_param")); /* params.wasm */
	assert_null(oci_metadata_find_param(NULL, "targ_failed"));

	oci_metadata_free(m);
}

static void assert_empty(struct oci_metadata *m)
{
	assert_null(m->name);
	assert_null(m->description);
	assert_null(m->homepage_url);
	assert_null(m->documentation_url);
	assert_null(m->source_url);
	assert_int_equal(m->n_datasources, 0);
	assert_null(m->datasources);
	assert_int_equal(m->n_params, 0);
	assert_null(m->params);
	oci_metadata_free(m);
}

static void test_empty_document(void **state)
{
	static const char *const empties[] = {
		"", "\n\n", "# only a comment\n", "---\n", "~\n", "null", "---\n...\n",
	};
	struct oci_metadata *m = NULL;
	char err[64];

	(void)state;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++)
		assert_empty(parse_ok(empties[i]));
	assert_int_equal(oci_metadata_parse(NULL, 0, &m, err, sizeof(err)), 0);
	assert_empty(m);
}

static void test_null_values(void **state)
{
	struct oci_metadata *m;

	(void)state;
	m = parse_ok("name: n\ndatasources:\n  open:\n    fields:\n");
	assert_int_equal(m->n_datasources, 1);
	assert_string_equal(m->datasources[0].name, "open");
	assert_int_equal(m->datasources[0].n_fields, 0);
	assert_null(m->datasources[0].fields);
	oci_metadata_free(m);

	m = parse_ok("name:\ndescription: ~\ndatasources:\nparams:\n");
	assert_empty(m);

	m = parse_ok("params:\n  ebpf:\n    p:\n      key: ~\n      defaultValue: \"\"\n");
	assert_int_equal(m->n_params, 1);
	assert_null(m->params[0].key);
	assert_string_equal(m->params[0].default_value, "");
	oci_metadata_free(m);
}

static void test_scalars_as_text(void **state)
{
	struct oci_metadata *m;
	const struct oci_metadata_ds *ds;

	(void)state;
	m = parse_ok("name: !!str 123\n"
		     "datasources:\n"
		     "  d:\n"
		     "    annotations:\n"
		     "      int: 42\n"
		     "      neg: -7\n"
		     "      hex: 0x1F\n"
		     "      bool: yes\n"
		     "      float: 1e3\n"
		     "      single: 'it''s'\n"
		     "      double: \"tab\\there\"\n"
		     "      utf8: µs\n"
		     "      tagged: !custom value\n");
	assert_string_equal(m->name, "123");
	ds = oci_metadata_find_ds(m, "d");
	assert_non_null(ds);
	assert_string_equal(oci_metadata_ds_annotation(ds, "int"), "42");
	assert_string_equal(oci_metadata_ds_annotation(ds, "neg"), "-7");
	assert_string_equal(oci_metadata_ds_annotation(ds, "hex"), "0x1F");
	assert_string_equal(oci_metadata_ds_annotation(ds, "bool"), "yes");
	assert_string_equal(oci_metadata_ds_annotation(ds, "float"), "1e3");
	assert_string_equal(oci_metadata_ds_annotation(ds, "single"), "it's");
	assert_string_equal(oci_metadata_ds_annotation(ds, "double"), "tab\there");
	assert_string_equal(oci_metadata_ds_annotation(ds, "utf8"), "µs");
	assert_string_equal(oci_metadata_ds_annotation(ds, "tagged"), "value");
	oci_metadata_free(m);
}

static void test_unknown_keys_ignored(void **state)
{
	struct oci_metadata *m;

	(void)state;
	/* Even unknown keys whose values look like known structure. */
	m = parse_ok("operator: {ebpf: {emitstats: true}}\n"
		     "datasources:\n"
		     "  d:\n"
		     "    extra: &anchor [1, [2, [3]], {x: y}]\n"
		     "    fields:\n"
		     "      f:\n"
		     "        other: {annotations: 5}\n"
		     "        annotations: {a: b}\n"
		     "params:\n"
		     "  custom: [1, 2]\n"
		     "  ebpf:\n"
		     "    p:\n"
		     "      patch: {k: [v, v]}\n"
		     "      dup: 1\n"
		     "      other: {dup: 1, dup: 2}\n"
		     "programs:\n"
		     "  - {k: v, k: w}\n");
	assert_int_equal(m->n_datasources, 1);
	assert_int_equal(m->datasources[0].n_fields, 1);
	assert_string_equal(oci_metadata_field_annotation(&m->datasources[0], "f", "a"), "b");
	assert_int_equal(m->n_params, 1);
	assert_null(m->params[0].key);
	oci_metadata_free(m);
}

/*
 * Inspektor Gadget reads gadget.yaml without case in its keys (its own
 * profile_blockio says dataSources), gives params a one-letter alias and
 * the run's params defaults in paramDefaults.
 */
static void test_ig_keys(void **state)
{
	const struct oci_metadata_param *p;
	struct oci_metadata *m;

	(void)state;
	m = parse_ok("dataSources:\n"
		     "  blockio:\n"
		     "    Annotations: {metrics.print: \"true\"}\n"
		     "params:\n"
		     "  ebpf:\n"
		     "    kill_only:\n"
		     "      key: kill-only\n"
		     "      alias: k\n"
		     "      defaultValue: \"false\"\n"
		     "    target_signal:\n"
		     "      DefaultValue: \"\"\n"
		     "paramDefaults:\n"
		     "  operator.oci.ebpf.map-fetch-interval: \"0\"\n");
	assert_int_equal(m->n_datasources, 1);
	assert_string_equal(
		oci_metadata_ds_annotation(oci_metadata_find_ds(m, "blockio"), "metrics.print"),
		"true");
	p = oci_metadata_find_param(m, "kill_only");
	assert_string_equal(p->alias, "k");
	assert_string_equal(p->key, "kill-only");
	p = oci_metadata_find_param(m, "target_signal");
	assert_string_equal(p->default_value, "");
	assert_null(p->alias);
	assert_string_equal(oci_metadata_param_default(m, "operator.oci.ebpf.map-fetch-interval"),
			    "0");
	assert_null(oci_metadata_param_default(m, "other"));
	oci_metadata_free(m);

	/* one key whatever its case: twice is a duplicate */
	expect_error("datasources: {}\ndataSources: {}\n", -EINVAL,
		     "gadget.yaml:2: duplicate key 'dataSources'");
	expect_error("paramDefaults: {a: 1, a: 2}\n", -EINVAL,
		     "gadget.yaml:1: duplicate param default 'a'");
}

static void test_malformed_yaml(void **state)
{
	(void)state;
	expect_error("name: a\ndescription: b: c\n", -EINVAL,
		     "gadget.yaml:2: malformed YAML: mapping values are not allowed in this "
		     "context");
	expect_error("name: a\nx: [1, 2\nparams: {}\n", -EINVAL,
		     "gadget.yaml:3: malformed YAML: did not find expected ',' or ']'");
	expect_error("name: \"unterminated\n", -EINVAL,
		     "gadget.yaml:2: malformed YAML: found unexpected end of stream");
	expect_error("\tname: a\n", -EINVAL,
		     "gadget.yaml:1: malformed YAML: found character that cannot start any token");
	/* The reader reports offsets, not lines: the line is counted for it. */
	expect_error("name: a\n\nx: \xff\n", -EINVAL,
		     "gadget.yaml:3: malformed YAML: invalid leading UTF-8 octet");
	expect_error("name: a\nx: \"\x01\"\n", -EINVAL,
		     "gadget.yaml:2: malformed YAML: control characters are not allowed");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", -EINVAL,
		     "gadget.yaml:1: top level must be a mapping, not a sequence");
	expect_error("just text\n", -EINVAL,
		     "gadget.yaml:1: top level must be a mapping, not a scalar");
	expect_error("name: [a, b]\n", -EINVAL, "gadget.yaml:1: 'name' must be a scalar");
	expect_error("name: n\ndescription:\n  k: v\n", -EINVAL,
		     "gadget.yaml:3: 'description' must be a scalar");
	expect_error("name: n\n\ndatasources:\n  - open\n", -EINVAL,
		     "gadget.yaml:4: 'datasources' must be a mapping");
	expect_error("datasources: \"\"\n", -EINVAL,
		     "gadget.yaml:1: 'datasources' must be a mapping");
	expect_error("datasources:\n  open: 5\n", -EINVAL,
		     "gadget.yaml:2: datasource 'open' must be a mapping");
	expect_error("datasources:\n  open:\n    annotations: [a]\n", -EINVAL,
		     "gadget.yaml:3: 'annotations' of datasource 'open' must be a mapping");
	expect_error("datasources:\n  open:\n    annotations:\n      a: [1]\n", -EINVAL,
		     "gadget.yaml:4: annotation 'a' of datasource 'open' must be a scalar");
	expect_error("datasources:\n  open:\n    fields:\n      - fname\n", -EINVAL,
		     "gadget.yaml:4: 'fields' of datasource 'open' must be a mapping");
	expect_error("datasources:\n  open:\n    fields:\n      fname: text\n", -EINVAL,
		     "gadget.yaml:4: field 'fname' in datasource 'open' must be a mapping");
	expect_error("datasources:\n  open:\n    fields:\n      fname:\n        annotations: 3\n",
		     -EINVAL,
		     "gadget.yaml:5: 'annotations' of field 'fname' in datasource 'open' must be a "
		     "mapping");
	expect_error("datasources:\n"
		     "  open:\n"
		     "    fields:\n"
		     "      fname:\n"
		     "        annotations:\n"
		     "          columns.width:\n"
		     "            value: 3\n",
		     -EINVAL,
		     "gadget.yaml:7: annotation 'columns.width' of field 'fname' in datasource "
		     "'open' must be a scalar");
	expect_error("params: true\n", -EINVAL, "gadget.yaml:1: 'params' must be a mapping");
	expect_error("params:\n  ebpf: [x]\n", -EINVAL,
		     "gadget.yaml:2: 'params.ebpf' must be a mapping");
	expect_error("params:\n  ebpf:\n    targ: 1\n", -EINVAL,
		     "gadget.yaml:3: param 'targ' must be a mapping");
	expect_error("params:\n  ebpf:\n    targ:\n      key: {a: b}\n", -EINVAL,
		     "gadget.yaml:4: 'key' of param 'targ' must be a scalar");
	expect_error("params:\n  ebpf:\n    targ:\n      defaultValue: [1]\n", -EINVAL,
		     "gadget.yaml:4: 'defaultValue' of param 'targ' must be a scalar");
	expect_error("datasources:\n  ? [a, b]\n  : x\n", -EINVAL,
		     "gadget.yaml:2: keys must be scalars, not a sequence");
	expect_error("? {a: b}\n: x\n", -EINVAL,
		     "gadget.yaml:1: keys must be scalars, not a mapping");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("name: a\nname: b\n", -EINVAL, "gadget.yaml:2: duplicate key 'name'");
	expect_error("name:\nname: b\n", -EINVAL, "gadget.yaml:2: duplicate key 'name'");
	expect_error("datasources: {}\ndatasources: {}\n", -EINVAL,
		     "gadget.yaml:2: duplicate key 'datasources'");
	expect_error("datasources:\n  a: {}\n  b: {}\n  a: {}\n", -EINVAL,
		     "gadget.yaml:4: duplicate datasource 'a'");
	expect_error("datasources:\n  a:\n    fields: {}\n    fields: {}\n", -EINVAL,
		     "gadget.yaml:4: duplicate key 'fields'");
	expect_error("datasources:\n  a:\n    fields:\n      f: ~\n      f: ~\n", -EINVAL,
		     "gadget.yaml:5: duplicate field 'f'");
	expect_error("datasources:\n  a:\n    annotations: {x: 1, y: 2, x: 3}\n", -EINVAL,
		     "gadget.yaml:3: duplicate annotation 'x'");
	expect_error("params:\n  ebpf:\n    p: {}\n    p: {}\n", -EINVAL,
		     "gadget.yaml:4: duplicate param 'p'");
	expect_error("params:\n  ebpf:\n    p:\n      key: a\n      key: b\n", -EINVAL,
		     "gadget.yaml:5: duplicate key 'key'");
}

static void test_alias_bomb(void **state)
{
	(void)state;
	expect_error("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		     "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
		     -EINVAL, "gadget.yaml:2: aliases are not supported");
	expect_error("x: &n trace\nname: *n\n", -EINVAL,
		     "gadget.yaml:2: aliases are not supported");
	expect_error("datasources:\n  d:\n    fields: &f {a: ~}\n  e:\n    fields: *f\n", -EINVAL,
		     "gadget.yaml:5: aliases are not supported");
}

/* "x: [[[...]]]": the top-level mapping plus levels sequences. */
static char *nested(unsigned int levels)
{
	struct base_buf b = BASE_BUF_INIT(0);

	assert_int_equal(base_buf_puts(&b, "name: deep\nx: "), 0);
	for (unsigned int i = 0; i < levels; i++)
		assert_int_equal(base_buf_putc(&b, '['), 0);
	for (unsigned int i = 0; i < levels; i++)
		assert_int_equal(base_buf_putc(&b, ']'), 0);
	assert_int_equal(base_buf_putc(&b, '\n'), 0);
	return base_buf_take(&b);
}

static void test_too_deep(void **state)
{
	char *s;

	(void)state;
	s = nested(OCI_METADATA_MAX_DEPTH - 1);
	oci_metadata_free(parse_ok(s));
	free(s);

	s = nested(OCI_METADATA_MAX_DEPTH);
	expect_error(s, -E2BIG, "gadget.yaml:2: nesting deeper than 16 levels");
	free(s);

	s = nested(100000);
	expect_error(s, -E2BIG, "gadget.yaml:2: nesting deeper than 16 levels");
	free(s);
}

static void test_too_big(void **state)
{
	struct oci_metadata *m = SENTINEL;
	size_t len = OCI_METADATA_MAX_BYTES + 1;
	char err[128];
	char *s;

	(void)state;
	s = malloc(len);
	assert_non_null(s);
	memset(s, '\n', len);
	memcpy(s, "name: x", 7);
	assert_int_equal(oci_metadata_parse(s, len, &m, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "gadget.yaml: larger than 1048576 bytes");
	assert_ptr_equal(m, SENTINEL);

	/* The limit itself is fine. */
	m = NULL;
	assert_int_equal(oci_metadata_parse(s, len - 1, &m, err, sizeof(err)), 0);
	assert_string_equal(m->name, "x");
	oci_metadata_free(m);
	free(s);
}

static void test_too_many_entries(void **state)
{
	struct base_buf b = BASE_BUF_INIT(0);
	struct oci_metadata *m;
	char want[128];

	(void)state;
	assert_int_equal(base_buf_puts(&b, "datasources:\n  d:\n    annotations:\n"), 0);
	/* one datasource + MAX - 1 annotations: exactly the limit */
	for (unsigned int i = 0; i < OCI_METADATA_MAX_ENTRIES - 1; i++)
		assert_int_equal(base_buf_printf(&b, "      a%u: v\n", i), 0);
	m = parse_ok(b.data);
	assert_int_equal(m->datasources[0].n_annotations, OCI_METADATA_MAX_ENTRIES - 1);
	assert_string_equal(oci_metadata_ds_annotation(&m->datasources[0], "a4094"), "v");
	oci_metadata_free(m);

	assert_int_equal(base_buf_puts(&b, "      one_more: v\n"), 0);
	snprintf(want, sizeof(want),
		 "gadget.yaml:%d: more than 4096 datasources, fields, params and annotations",
		 3 + OCI_METADATA_MAX_ENTRIES);
	expect_error(b.data, -E2BIG, want);
	base_buf_done(&b);
}

static void test_long_scalar(void **state)
{
	struct base_buf b = BASE_BUF_INIT(0);
	struct oci_metadata *m;

	(void)state;
	assert_int_equal(base_buf_puts(&b, "description: x\nname: "), 0);
	for (unsigned int i = 0; i < OCI_METADATA_MAX_SCALAR; i++)
		assert_int_equal(base_buf_putc(&b, 'n'), 0);
	m = parse_ok(b.data);
	assert_int_equal(strlen(m->name), OCI_METADATA_MAX_SCALAR);
	oci_metadata_free(m);

	assert_int_equal(base_buf_putc(&b, 'n'), 0);
	expect_error(b.data, -E2BIG, "gadget.yaml:2: value longer than 8192 bytes");
	base_buf_done(&b);

	/* A long value under an unknown key is never kept, so it does not count. */
	assert_int_equal(base_buf_puts(&b, "future: "), 0);
	for (unsigned int i = 0; i < 2 * OCI_METADATA_MAX_SCALAR; i++)
		assert_int_equal(base_buf_putc(&b, 'f'), 0);
	oci_metadata_free(parse_ok(b.data));
	base_buf_done(&b);
}

static void test_other_errors(void **state)
{
	struct oci_metadata *m = SENTINEL;
	char err[8];

	(void)state;
	expect_error("name: a\n---\nname: b\n", -EINVAL,
		     "gadget.yaml:2: more than one YAML document");
	expect_error("name: \"a\\0b\"\n", -EINVAL, "gadget.yaml:1: value contains a NUL byte");
	/* names from the document cannot break the message over lines */
	expect_error("datasources:\n  \"a\\nb\": 5\n", -EINVAL,
		     "gadget.yaml:2: datasource 'a?b' must be a mapping");

	/* the message is cut to the caller's buffer, and err is optional */
	assert_int_equal(parse_str("- x\n", &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "gadget.");
	assert_int_equal(parse_str("- x\n", &m, err, 1), -EINVAL);
	assert_string_equal(err, "");
	assert_int_equal(parse_str("- x\n", &m, NULL, 0), -EINVAL);
	assert_ptr_equal(m, SENTINEL);
}

static void test_load_errors(void **state)
{
	char err[PATH_MAX + 128], path[] = "/tmp/test_oci_metadata.XXXXXX", want[PATH_MAX + 128];
	struct oci_metadata *m = SENTINEL;
	int fd;

	(void)state;
	assert_int_equal(oci_metadata_load("/nonexistent/gadget.yaml", &m, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/gadget.yaml: No such file or directory");
	assert_int_equal(oci_metadata_load(TEST_DATA_DIR, &m, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", TEST_DATA_DIR);
	assert_string_equal(err, want);

	/* structure errors name the file instead of "gadget.yaml" */
	assert_int_equal(oci_metadata_load(BAD_YAML, &m, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:10: 'fields' of datasource 'exec' must be a mapping",
		 BAD_YAML);
	assert_string_equal(err, want);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, OCI_METADATA_MAX_BYTES + 1), 0);
	close(fd);
	assert_int_equal(oci_metadata_load(path, &m, err, sizeof(err)), -E2BIG);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	assert_string_equal(err, want);
	unlink(path);

	/* a device, which could feed the reader without end, is not read at all */
	assert_int_equal(oci_metadata_load("/dev/zero", &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/dev/zero: Invalid argument");
	assert_ptr_equal(m, SENTINEL);
}

/* A FIFO where gadget.yaml should be is refused, without waiting for a writer. */
static void test_load_fifo(void **state)
{
	char dir[] = "/tmp/test_oci_metadata.XXXXXX", path[64], err[256];
	struct oci_metadata *m = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gadget.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(oci_metadata_load(path, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	unlink(path);
	rmdir(dir);
}

static void test_free_null(void **state)
{
	(void)state;
	assert_null(oci_metadata_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_golden),	cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_empty_document),	cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_scalars_as_text), cmocka_unit_test(test_unknown_keys_ignored),
		cmocka_unit_test(test_ig_keys),		cmocka_unit_test(test_malformed_yaml),
		cmocka_unit_test(test_wrong_types),	cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_alias_bomb),	cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_too_big),		cmocka_unit_test(test_too_many_entries),
		cmocka_unit_test(test_long_scalar),	cmocka_unit_test(test_other_errors),
		cmocka_unit_test(test_load_errors),	cmocka_unit_test(test_load_fifo),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
