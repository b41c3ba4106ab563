#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make krew: the kubectl-gadget archive krew installs and its plugin
# manifest, from packaging/krew/gadget.yaml.in.
#
#   scripts/krew.sh BINARY VERSION URI_BASE OUTDIR
#
# OUTDIR/kubectl-gadget-linux-<arch>.tar.gz holds the binary alone, owned by
# root and dated SOURCE_DATE_EPOCH (default 0), gzipped without a name or
# time: the same binary gives the same archive and sha256.
# OUTDIR/gadget.yaml points at URI_BASE/<archive>.
set -euo pipefail

if [[ $# -ne 4 ]]; then
	echo "usage: $0 BINARY VERSION URI_BASE OUTDIR" >&2
	exit 2
fi
bin=$1 version=$2 base=$3 out=$4
case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
archive="kubectl-gadget-linux-$arch.tar.gz"
stage=$(mktemp -d /tmp/krew.XXXXXX)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$out"
install -m 0755 "$bin" "$stage/kubectl-gadget"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner \
	--mtime="@${SOURCE_DATE_EPOCH:-0}" -cf - kubectl-gadget | gzip -9n > "$out/$archive"
sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@URI@|$base/$archive|" \
	-e "s|@SHA256@|$sha|" packaging/krew/gadget.yaml.in > "$out/gadget.yaml"
echo "$out/gadget.yaml: $archive sha256 $sha"
