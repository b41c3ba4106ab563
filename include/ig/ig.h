/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libig: run eBPF gadgets from your own program (docs/library.md).
 *
 * Include this header and link with `pkg-config --cflags --libs ig`.  It
 * declares the library's version and its log callback, and includes the
 * gadget (<ig/gadget.h>) and record (<ig/record.h>) APIs.
 *
 * Conventions, as in libbpf: objects are opaque and made by
 * ig_<object>_open()/_new(), freed by ig_<object>_free() (NULL-safe, returns
 * NULL); functions return 0 (or a count) on success and a negative errno on
 * failure; options are structs whose first member `sz` is the struct's size,
 * so that later versions can add members; the library never prints: what it
 * has to say goes to the callback ig_set_log() installs.
 *
 * Symbols are versioned (LIBIG_0.1); a program built against this header
 * runs with every later libig.so.0.
 */
#ifndef IG_IG_H
#define IG_IG_H

#ifdef __cplusplus
extern "C" {
#endif

#define IG_VERSION_MAJOR 0
#define IG_VERSION_MINOR 1
#define IG_VERSION_PATCH 0

/* The version of the library in use ("0.1.0", a build may add "+g<commit>"). */
const char *ig_version(void);

enum ig_log_level {
	IG_LOG_ERROR = 0,
	IG_LOG_WARN,
	IG_LOG_INFO,
	IG_LOG_DEBUG,
};

/*
 * One message: a line without its newline, valid during the call.  May be
 * called from any thread that calls into the library.
 */
typedef void (*ig_log_fn)(enum ig_log_level level, const char *msg, void *ctx);

/*
 * Sends the library's messages of `level` and more important ones to fn;
 * fn NULL (the default) discards them all.  Process-wide; it also takes
 * libbpf's messages (as IG_LOG_DEBUG, or IG_LOG_WARN for its warnings), so a
 * program using libbpf directly should not set libbpf_set_print() as well.
 */
void ig_set_log(ig_log_fn fn, enum ig_log_level level, void *ctx);

#ifdef __cplusplus
}
#endif

#include <ig/gadget.h>
#include <ig/record.h>

#endif /* IG_IG_H */
