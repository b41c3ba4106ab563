#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian packages the project needs to build, test and
# benchmark itself.  Idempotent and silent when everything is present, so the
# Makefile can call it before every build.
set -euo pipefail

pkgs=(
	# toolchain and BPF; gadgets are built with clang-19, the newest Debian 12
	# offers: clang 14 cannot build every gadget (docs/gadget-devel.md)
	clang llvm clang-19 llvm-19 bpftool libbpf-dev libelf-dev zlib1g-dev
	# libraries
	libyaml-dev libjansson-dev libssl-dev libcurl4-openssl-dev libarchive-dev
	libprotobuf-c-dev protobuf-c-compiler libwebsockets-dev libnghttp2-dev nettle-dev
	# compresses record batches on the cluster path (agent/raw.c)
	libzstd-dev
	# -F regexes in IG's syntax family (PCRE2 with its JIT)
	libpcre2-dev
	# man pages from the --help texts; shells the completion scripts are tested in
	help2man bash-completion zsh
	# a real HTTP CONNECT proxy for kubeconfig proxy-url tests
	tinyproxy-bin
	# tests
	libcmocka-dev python3-pytest python3-yaml valgrind
	# losetup: the block I/O gadgets' tests write to a loop device of their own
	mount
	# an independent gRPC server for the CRI transport tests
	python3-grpcio
	# stand-in API server certificates; unpacking kubectl/helm (scripts/k8s-tools.sh)
	openssl unzip
	# real peers the integration tests start: an OCI registry and an independent
	# client, htpasswd for its basic auth, a CRI runtime and a static shell image
	docker-registry skopeo apache2-utils containerd runc busybox-static
	# pods with network namespaces of their own: the CNI loopback plugin
	containernetworking-plugins
	# scrapes and lints the agent's /metrics
	prometheus
	# peers the benchmark compares against
	libbpf-tools bpftrace
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ig-deps.log 2>&1; then
	apt-get update -qq >>/tmp/ig-deps.log 2>&1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/ig-deps.log 2>&1 || {
		echo "deps: apt-get failed, see /tmp/ig-deps.log" >&2
		tail -20 /tmp/ig-deps.log >&2
		exit 1
	}
fi
