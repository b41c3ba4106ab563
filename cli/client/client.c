// SPDX-License-Identifier: Apache-2.0
/*
 * What the client commands share: the program's name in messages, error
 * and warning lines, and the signals they wait for.  See client.h.
 */
#include "cli/client/client.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/signalfd.h>

/* read by agents.c too */
const char *client_prog = "ig";

void client_set_prog(const char *prog)
{
	client_prog = prog;
}

static void say(const char *what, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s: ", client_prog, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void client_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("error", fmt, ap);
	va_end(ap);
}

void client_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("warning", fmt, ap);
	va_end(ap);
}

int client_block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}
