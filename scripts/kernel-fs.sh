#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Mounts tracefs and bpffs where a fresh machine has neither.  ig and the
# agent do this themselves before attaching; the unit tests open gadgets
# through the library directly, which (like libbpf) does not mount anything.
set -euo pipefail

if [[ ! -d /sys/kernel/tracing/events && ! -d /sys/kernel/debug/tracing/events ]]; then
	mount -t tracefs nodev /sys/kernel/tracing
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
