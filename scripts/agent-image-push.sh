#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make agent-image-push: uploads the agent's image (build/agent-image.tar, an
# OCI image layout) to the registry reference the user names, with the
# project's own registry client: ig image import, tag and push, in a store of
# its own that is removed afterwards.  Credentials are the ones `ig login`
# saved (or $REGISTRY_AUTH_FILE); INSECURE=1 speaks plain HTTP to the
# registry.
#
#   scripts/agent-image-push.sh IG TARBALL LOCAL_NAME REF [INSECURE]
set -euo pipefail

if [[ $# -lt 4 || -z "$4" ]]; then
	echo "agent-image-push: name the image to push: make agent-image-push" \
		"AGENT_IMAGE_REF=registry.example[:port]/gadget-agent:TAG" >&2
	exit 2
fi
ig=$1 tarball=$2 local_name=$3 ref=$4 insecure=${5:-}
registry=${ref%%/*}
if [[ "$registry" == "$ref" || ( "$registry" != *.* && "$registry" != *:* && "$registry" != localhost ) ]]; then
	echo "agent-image-push: '$ref' names no registry (registry.example[:port]/name:tag)" >&2
	exit 2
fi

store=$(mktemp -d /tmp/agent-image-push.XXXXXX)
trap 'rm -rf "$store"' EXIT

"$ig" image import "$tarball" --store "$store" >/dev/null
# the tarball names docker.io/library/<name>, the way the kubelet expands it
"$ig" image tag "docker.io/library/$local_name" "$ref" --store "$store" >/dev/null
flags=()
[[ "$insecure" == 1 ]] && flags+=(--insecure-registries "$registry")
"$ig" image push "$ref" --store "$store" "${flags[@]}"
echo "deploy it with: kubectl gadget deploy --image $ref"
echo "           or: helm install gadget charts/gadget --set image.repository=${ref%:*},image.tag=${ref##*:}"
