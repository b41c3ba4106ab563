/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML documents from outside, loaded with libyaml's document API and
 * walked with the checks every reader of them needs.
 *
 * The files read this way (config.yaml, instance.yaml, kubeconfig files,
 * build.yaml, the embedded manifests, gadget.yaml for display) are small,
 * so each document is loaded whole, after three bounds: the text's size,
 * aliases where a reader has no use for them (they let a few bytes expand
 * into a large tree; they are found by a scan of the event stream before
 * any tree is built), and, where the format has one document, a second
 * one.  Each reader then walks the tree against its own format and words
 * its own messages; what they share is here: null, booleans and numbers as
 * YAML spells them, lookups and iteration that check node types, repeated
 * keys, and "<name>:<line>: <reason>" messages kept on one line.
 *
 * base_yaml_to_json() turns a whole node into a JSON value, reading plain
 * scalars by the YAML 1.2 core schema, for the readers that hand YAML on as
 * JSON (manifests sent to the API server, `ig image inspect`).
 */
#ifndef BASE_YAML_H
#define BASE_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* Nesting base_yaml_to_json() follows before it gives up with -E2BIG. */
#define BASE_YAML_MAX_DEPTH 64

struct base_yaml_opts {
	const char *name;  /* the text in messages, a path or "config.yaml"; required */
	size_t max_bytes;  /* a longer text is -E2BIG */
	bool no_aliases;   /* an alias anywhere is -EINVAL */
	bool one_document; /* base_yaml_load(): a second document is -EINVAL */
};

/* One text being read; zero it before use, release it with base_yaml_done(). */
struct base_yaml {
	yaml_parser_t parser;
	yaml_document_t doc;
	const char *text; /* borrowed */
	size_t len;
	const char *name;
	char *err;
	size_t errlen;
	bool have_parser;
	bool have_doc;
};

/*
 * Loads the first document of len bytes of text, which y borrows until
 * base_yaml_done(); base_yaml_root() is then its root, NULL for a text with
 * no document (empty, or only comments).  Reasons go to err as
 * "<name>:<line>: ..." for this and every later call on y.  -E2BIG over
 * opts->max_bytes, -EINVAL for invalid YAML or what opts refuses, -ENOMEM;
 * there is no document after a failure, but call base_yaml_done() all the
 * same.
 */
int base_yaml_load(struct base_yaml *y, const void *text, size_t len,
		   const struct base_yaml_opts *opts, char *err, size_t errlen);
/*
 * For texts of several documents: base_yaml_open() checks the bounds and
 * base_yaml_next() loads the next document in place of the one before:
 * 1 with its root in base_yaml_root(), 0 at the end of the text, or
 * -errno.  one_document does not apply.
 */
int base_yaml_open(struct base_yaml *y, const void *text, size_t len,
		   const struct base_yaml_opts *opts, char *err, size_t errlen);
int base_yaml_next(struct base_yaml *y);
/* Frees the document and the parser; y can be loaded again. */
void base_yaml_done(struct base_yaml *y);

yaml_node_t *base_yaml_root(struct base_yaml *y);
/* The node of id, as the pairs and items of collections name them; NULL if none. */
yaml_node_t *base_yaml_node(struct base_yaml *y, int id);

/*
 * Writes "<name>:<line of n>: <reason>" ("<name>: <reason>" when n is NULL)
 * to the error buffer, control characters masked, and returns r.
 */
int base_yaml_fail(struct base_yaml *y, const yaml_node_t *n, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "a mapping", "a list" or "a scalar", for messages. */
const char *base_yaml_kind(const yaml_node_t *n);
/* Entries of a mapping or items of a list; 0 for a scalar. */
size_t base_yaml_len(const yaml_node_t *n);
/*
 * Pair i of mapping map: true with its key and value, false past the end
 * (or when map is not a mapping).  for (i = 0; base_yaml_pair(y, m, i, &k, &v); i++).
 */
bool base_yaml_pair(struct base_yaml *y, const yaml_node_t *map, size_t i, yaml_node_t **ret_key,
		    yaml_node_t **ret_value);
/* Item i of list seq, or NULL past the end (or when seq is not a list). */
yaml_node_t *base_yaml_item(struct base_yaml *y, const yaml_node_t *seq, size_t i);
/* The value under key in map (the first, if repeated), or NULL. */
yaml_node_t *base_yaml_get(struct base_yaml *y, const yaml_node_t *map, const char *key);
/* True when key i of map is a scalar that an earlier key of map already was. */
bool base_yaml_key_repeats(struct base_yaml *y, const yaml_node_t *map, size_t i);

/* The text of a scalar node, NUL-terminated; NULL for a mapping or a list. */
const char *base_yaml_text(const yaml_node_t *n);
/* A plain scalar that spells null: "", "~", "null", "Null", "NULL". */
bool base_yaml_is_null(const yaml_node_t *n);
/* The same for the text of a plain scalar, for readers of libyaml's events. */
bool base_yaml_plain_is_null(const char *s, size_t len);
/*
 * The text of scalar n: -EINVAL when n is not a scalar, -E2BIG when it is
 * longer than max bytes, -EILSEQ when it holds a NUL byte (which would cut a
 * C string short).  The text is borrowed from the document.
 */
int base_yaml_string(const yaml_node_t *n, size_t max, const char **ret);
/* true, True, TRUE, false, False, FALSE; -EINVAL for anything else. */
int base_yaml_bool(const yaml_node_t *n, bool *ret);
/* Decimal digits without a sign: -EINVAL, or -ERANGE above max. */
int base_yaml_uint(const yaml_node_t *n, uint64_t max, uint64_t *ret);

/*
 * What a plain scalar of this text is under the YAML 1.2 core schema:
 * JSON_NULL, JSON_TRUE, JSON_FALSE, JSON_INTEGER (decimal, 0x hex, 0o
 * octal), JSON_REAL, else JSON_STRING.  Writers quote a string that would
 * not read back as one.
 */
json_type base_yaml_plain_type(const char *s, size_t len);
/*
 * Converts n and everything below it into a new JSON value in *ret
 * (json_decref() it): plain scalars by base_yaml_plain_type(), quoted ones
 * as strings, mappings as objects in their order.  At most max_nodes nodes
 * are converted (an alias counts again each time it is met) and
 * BASE_YAML_MAX_DEPTH levels: -E2BIG past either.  -EINVAL for a key that
 * is not a scalar or is given twice, -ENOMEM.
 */
int base_yaml_to_json(struct base_yaml *y, const yaml_node_t *n, size_t max_nodes, json_t **ret);

#endif /* BASE_YAML_H */
