#!/usr/bin/env bash
# images.sh - make images: one image per responder (localhost/llm-relay-
# chat, -models, -health, -admin), built with podman from a Debian base
# made here from the Debian archive (mmdebstrap, then podman import): no
# container registry is needed. podman's settings are the project's own
# (deploy/containers/containers.conf: runc, cgroupfs, explicit ulimits).
# Prints each image's size and the build times.
set -eu
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=$PWD/deploy/containers/containers.conf
export CONTAINERS_STORAGE_CONF=$PWD/deploy/containers/storage.conf
BASE=localhost/llm-relay-base:bookworm
: "${IMAGE_TAG:=latest}"
for t in podman mmdebstrap runc; do
	command -v "$t" >/dev/null || { echo "images: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
t0=$(date +%s)
if ! podman image exists "$BASE"; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "images: making the Debian base (mmdebstrap bookworm)"
	mmdebstrap --quiet --variant=apt --include=ca-certificates bookworm "$tmp/base.tar"
	podman import -q "$tmp/base.tar" "$BASE" >/dev/null
	rm -f "$tmp/base.tar"
fi
t1=$(date +%s)
# The build steps' apt-get reaches the Debian archive through the host's
# network and resolver (on this VM a bridge network's DNS does not resolve
# deb.debian.org); nothing else runs with it.
for h in chat models health admin; do
	podman build --network=host -q --build-arg "HANDLER=$h" -t "localhost/llm-relay-$h:$IMAGE_TAG" \
	    -f deploy/containers/handler.Containerfile . >/dev/null
done
t2=$(date +%s)
# The front ends (Caddy; lighttpd) and memcached, for deploy/compose.yaml;
# the mock upstream for tests/containers/compose.sh (tests only).
for i in front front-lighttpd memcached mock; do
	podman build --network=host -q -t "localhost/llm-relay-$i:$IMAGE_TAG" -f "deploy/containers/$i.Containerfile" . >/dev/null
done
t3=$(date +%s)
for h in chat models health admin front front-lighttpd memcached mock; do
	printf 'images: localhost/llm-relay-%-14s %s\n' "$h" \
	    "$(podman image inspect --format '{{.Size}}' "localhost/llm-relay-$h:$IMAGE_TAG" |
		awk '{ printf "%.1f MB", $1 / 1e6 }')"
done
echo "images: base $((t1 - t0)) s, the four responders $((t2 - t1)) s, front ends, memcached and the mock $((t3 - t2)) s"
