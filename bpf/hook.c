// SPDX-License-Identifier: Apache-2.0
/*
 * Attaching programs by section, and explaining failures.  See hook.h.
 *
 * libbpf reports a missing hook as a bare errno (ENOENT for an unknown
 * tracepoint or for a kernel without kprobes), so the explanation looks at
 * the kernel itself: tracefs for tracepoints, the kprobe PMU and
 * kprobe_events for kprobes.
 */
#include "bpf/hook.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "base/log.h"
#include "bpf/diag.h"

/* The kernel's ENOTSUPP, which userspace errno.h lacks. */
#define KERNEL_ENOTSUPP 524

static const struct {
	const char *prefix;
	enum bpf_hook_kind kind;
} hook_prefixes[] = {
	{"tracepoint/", BPF_HOOK_TRACEPOINT},
	{"tp/", BPF_HOOK_TRACEPOINT},
	{"raw_tracepoint/", BPF_HOOK_RAW_TRACEPOINT},
	{"raw_tp/", BPF_HOOK_RAW_TRACEPOINT},
	{"raw_tracepoint.w/", BPF_HOOK_RAW_TRACEPOINT},
	{"raw_tp.w/", BPF_HOOK_RAW_TRACEPOINT},
	{"tp_btf/", BPF_HOOK_TP_BTF},
	{"kprobe/", BPF_HOOK_KPROBE},
	{"kretprobe/", BPF_HOOK_KPROBE},
	{"kprobe.multi/", BPF_HOOK_KPROBE},
	{"kretprobe.multi/", BPF_HOOK_KPROBE},
	{"ksyscall/", BPF_HOOK_KPROBE},
	{"kretsyscall/", BPF_HOOK_KPROBE},
	{"uprobe", BPF_HOOK_UPROBE},
	{"uretprobe", BPF_HOOK_UPROBE},
	{"usdt", BPF_HOOK_UPROBE},
	{"fentry/", BPF_HOOK_FENTRY},
	{"fexit/", BPF_HOOK_FENTRY},
	{"fmod_ret/", BPF_HOOK_FENTRY},
	{"fentry.s/", BPF_HOOK_FENTRY},
	{"fexit.s/", BPF_HOOK_FENTRY},
	{"fmod_ret.s/", BPF_HOOK_FENTRY},
	{"lsm/", BPF_HOOK_LSM},
	{"lsm.s/", BPF_HOOK_LSM},
	{"iter/", BPF_HOOK_ITER},
	{"iter.s/", BPF_HOOK_ITER},
	{"socket", BPF_HOOK_SOCKET},
};

static const char *const tracefs_roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

enum bpf_hook_kind bpf_hook_kind(const char *sec, const char **target)
{
	const char *slash;

	if (target) {
		slash = sec ? strchr(sec, '/') : NULL;
		*target = slash ? slash + 1 : "";
	}
	if (!sec)
		return BPF_HOOK_OTHER;
	for (size_t i = 0; i < sizeof(hook_prefixes) / sizeof(hook_prefixes[0]); i++)
		if (strncmp(sec, hook_prefixes[i].prefix, strlen(hook_prefixes[i].prefix)) == 0)
			return hook_prefixes[i].kind;
	return BPF_HOOK_OTHER;
}

static const char *error_text(int error)
{
	const char *s;

	if (error < 0)
		error = -error;
	if (error == KERNEL_ENOTSUPP)
		return "not supported";
	s = strerrordesc_np(error);
	return s ? s : "unknown error";
}

static bool tracefs_path(const char *rel, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(tracefs_roots) / sizeof(tracefs_roots[0]); i++) {
		int n = snprintf(buf, len, "%s/%s", tracefs_roots[i], rel);

		if (n > 0 && (size_t)n < len && access(buf, F_OK) == 0)
			return true;
	}
	return false;
}

static bool tracefs_mounted(void)
{
	char path[64];

	return tracefs_path("events", path, sizeof(path));
}

bool bpf_hook_kprobes_available(void)
{
	char path[128];

	if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0)
		return true;
	return tracefs_path("kprobe_events", path, sizeof(path));
}

/* Why attaching a program of kind to target failed with error. */
static void explain_attach(enum bpf_hook_kind kind, const char *target, int error, char *buf,
			   size_t len)
{
	char path[512];
	char rel[320];

	switch (kind) {
	case BPF_HOOK_TRACEPOINT:
		if (!tracefs_mounted()) {
			snprintf(buf, len, "tracefs is not mounted (mount -t tracefs nodev %s)",
				 tracefs_roots[0]);
			return;
		}
		snprintf(rel, sizeof(rel), "events/%.300s", target);
		if (!tracefs_path(rel, path, sizeof(path))) {
			snprintf(buf, len, "tracepoint %s does not exist on this kernel", target);
			return;
		}
		break;
	case BPF_HOOK_RAW_TRACEPOINT:
		if (error == -ENOENT) {
			snprintf(buf, len, "raw tracepoint %s does not exist on this kernel",
				 target);
			return;
		}
		break;
	case BPF_HOOK_KPROBE:
		if (!bpf_hook_kprobes_available()) {
			snprintf(buf, len, "kprobes are not available on this kernel");
			return;
		}
		if (error == -ENOENT || error == -EINVAL) {
			snprintf(buf, len, "kernel function %s does not exist or cannot be probed",
				 target);
			return;
		}
		break;
	case BPF_HOOK_FENTRY:
	case BPF_HOOK_TP_BTF:
	case BPF_HOOK_LSM:
		if (error == -EOPNOTSUPP || error == -KERNEL_ENOTSUPP) {
			snprintf(buf, len, "not supported by this kernel");
			return;
		}
		break;
	default:
		break;
	}
	snprintf(buf, len, "%s", error_text(error));
}

int bpf_hook_attach(struct bpf_program *prog, struct bpf_link **ret, char *err, size_t err_len)
{
	const char *sec = bpf_program__section_name(prog);
	const char *name = bpf_program__name(prog);
	const char *target;
	enum bpf_hook_kind kind = bpf_hook_kind(sec, &target);
	struct bpf_link *link;
	char why[256];
	int error;

	*ret = NULL;
	if (kind == BPF_HOOK_ITER || kind == BPF_HOOK_SOCKET || !bpf_program__autoload(prog))
		return 0;
	link = bpf_program__attach(prog);
	if (link) {
		*ret = link;
		return 0;
	}
	error = errno ? -errno : -EINVAL;
	if (error == -EOPNOTSUPP && (kind == BPF_HOOK_UPROBE || kind == BPF_HOOK_OTHER)) {
		/* No target in the section: the program is attached by other means. */
		base_log_debug("bpf: program '%s' (%s) is not attached automatically", name, sec);
		return 0;
	}
	explain_attach(kind, target, error, why, sizeof(why));
	snprintf(err, err_len, "program '%s': cannot attach %s: %s", name, sec, why);
	return error;
}

static bool is_unsupported(int error)
{
	return error == -EPERM || error == -EOPNOTSUPP || error == -KERNEL_ENOTSUPP ||
	       error == -EINVAL;
}

void bpf_hook_explain_load(const struct bpf_program *prog, int error, const struct bpf_diag *d,
			   char *buf, size_t len)
{
	const char *sec, *name, *target;
	enum bpf_hook_kind kind;
	const char *what = NULL;

	if (!prog) {
		if (d && d->map[0])
			snprintf(buf, len, "map '%s': %s", d->map, d->map_reason);
		else if (d && d->last_warn[0])
			snprintf(buf, len, "cannot load: %s (%s)", error_text(error), d->last_warn);
		else
			snprintf(buf, len, "cannot load: %s", error_text(error));
		return;
	}
	sec = bpf_program__section_name(prog);
	name = bpf_program__name(prog);
	kind = bpf_hook_kind(sec, &target);
	if (kind == BPF_HOOK_FENTRY)
		what = "fentry/fexit unsupported";
	else if (kind == BPF_HOOK_LSM)
		what = "BPF LSM unsupported";
	else if (kind == BPF_HOOK_TP_BTF)
		what = "BTF tracepoints unsupported";

	if (what && d && strstr(d->prog_reason, "failed to find kernel BTF type ID")) {
		snprintf(buf, len, "program '%s': hook %s does not exist on this kernel", name,
			 sec);
		return;
	}
	if (what && is_unsupported(error) && !(d && d->verifier[0])) {
		snprintf(buf, len, "program '%s': hook %s cannot be loaded on this kernel (%s: %s)",
			 name, sec, what, error_text(error));
		return;
	}
	if (d && d->verifier[0])
		snprintf(buf, len, "program '%s' (%s) was rejected by the verifier: %s", name, sec,
			 d->verifier);
	else
		snprintf(buf, len, "program '%s' (%s) cannot be loaded: %s", name, sec,
			 error_text(error));
}
