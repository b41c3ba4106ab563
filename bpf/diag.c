// SPDX-License-Identifier: Apache-2.0
/*
 * libbpf's messages: to the debug sink always, and into the thread's
 * struct bpf_diag while a gadget operation is capturing.  See diag.h.
 *
 * libbpf calls the print callback from the thread that called it, so a
 * thread-local capture pointer attributes each message to the right gadget
 * without locking.  Messages are formatted only when someone will read them:
 * libbpf prints a lot at debug level while loading.
 */
#include "bpf/diag.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "base/buf.h"
#include "base/log.h"

/* Verifier logs reach megabytes; the interesting part is the end. */
#define DIAG_MAX_MESSAGE (32u << 20)

static __thread struct bpf_diag *capture;
static bool warnings_as_warn;
static pthread_once_t diag_once = PTHREAD_ONCE_INIT;

static void copy_line(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (char *p = dst; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = ' ';
}

static size_t first_line_len(const char *s)
{
	size_t n = strcspn(s, "\n");

	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Register state dumps: "R1=ctx() R10=fp0", "R0_w=...", "frame1: R1=..." */
static bool is_reg_state(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 7 && starts_with(s, "frame"))
		return true;
	if (n < 2 || s[0] != 'R' || !isdigit((unsigned char)s[1]))
		return false;
	for (i = 1; i < n && isdigit((unsigned char)s[i]); i++)
		;
	return i < n && (s[i] == '=' || s[i] == '_');
}

static bool is_noise(const char *s, size_t n)
{
	static const char *const prefixes[] = {
		";",
		"processed ",
		"verification time",
		"stack depth",
		"max_states_per_insn",
		"from ",
		"mark_precise",
		"last_idx ",
		"regs=",
		"parent ",
		"func#",
		"Func#",
		"-- ",
		"Validating ",
		"propagating ",
		"libbpf: ",
		"Live regs",
	};

	if (n == 0 || isdigit((unsigned char)s[0]))
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (starts_with(s, prefixes[i]))
			return true;
	return is_reg_state(s, n);
}

void bpf_diag_verifier_line(const char *log, char *buf, size_t len)
{
	const char *best = NULL;
	size_t best_len = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (const char *p = log; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;

		while (n && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (!is_noise(s, n)) {
			best = s;
			best_len = n;
		}
		p = end ? end + 1 : NULL;
	}
	if (best)
		copy_line(buf, len, best, best_len);
}

/* "prog 'name': rest" or "map 'name': rest": copies name and rest. */
static bool parse_named(const char *msg, const char *kind, char *name, size_t name_len,
			char *reason, size_t reason_len)
{
	const char *p = strstr(msg, kind);
	const char *end, *nl;

	if (!p)
		return false;
	p += strlen(kind);
	end = strstr(p, "': ");
	nl = strchr(p, '\n');
	if (!end || end == p || (nl && nl < end))
		return false;
	copy_line(name, name_len, p, (size_t)(end - p));
	end += 3;
	copy_line(reason, reason_len, end, first_line_len(end));
	return true;
}

static void record(struct bpf_diag *d, const char *msg)
{
	const char *log = strstr(msg, "-- BEGIN PROG LOAD LOG --");
	char name[BPF_DIAG_MAX_NAME], reason[BPF_DIAG_MAX_LINE];

	if (starts_with(msg, "libbpf: "))
		msg += strlen("libbpf: ");
	if (log) {
		bpf_diag_verifier_line(log + strlen("-- BEGIN PROG LOAD LOG --"), d->verifier,
				       sizeof(d->verifier));
		return;
	}
	copy_line(d->last_warn, sizeof(d->last_warn), msg, first_line_len(msg));
	if (!d->first_warn[0])
		memcpy(d->first_warn, d->last_warn, sizeof(d->first_warn));
	if (parse_named(msg, "prog '", name, sizeof(name), reason, sizeof(reason))) {
		/* The load failure beats earlier complaints about the same program. */
		if (!d->prog[0] ||
		    (strcmp(d->prog, name) == 0 && strstr(reason, "BPF program load failed"))) {
			memcpy(d->prog, name, sizeof(name));
			memcpy(d->prog_reason, reason, sizeof(reason));
		}
	}
	if (!d->map[0] && parse_named(msg, "map '", name, sizeof(name), reason, sizeof(reason))) {
		memcpy(d->map, name, sizeof(name));
		memcpy(d->map_reason, reason, sizeof(reason));
	}
}

static int diag_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	struct base_buf b = BASE_BUF_INIT(DIAG_MAX_MESSAGE);
	enum base_log_level at =
		warnings_as_warn && level == LIBBPF_WARN ? BASE_LOG_WARN : BASE_LOG_DEBUG;
	bool want_log = base_log_get_level() >= at;
	bool want_capture = capture && level == LIBBPF_WARN;

	if (!want_log && !want_capture)
		return 0;
	/* A message past the maximum keeps what fits: enough to explain. */
	base_buf_vprintf(&b, fmt, ap);
	if (!b.data)
		return 0;
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (want_log)
		base_log(at, "%s%s", starts_with(b.data, "libbpf: ") ? "" : "libbpf: ", b.data);
	if (want_capture)
		record(capture, b.data);
	base_buf_done(&b);
	return 0;
}

static void diag_install(void)
{
	libbpf_set_print(diag_print);
}

void bpf_diag_init(void)
{
	pthread_once(&diag_once, diag_install);
}

void bpf_diag_warnings_to_log(bool on)
{
	warnings_as_warn = on;
}

void bpf_diag_capture(struct bpf_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
	capture = d;
}
