#!/usr/bin/env bash
# deploy_check.sh - make deploy-check (part of make test): the deployment
# files are valid offline. deploy/systemd/: systemd-analyze verify of each
# responder's instance and the target (any warning fails: verify itself
# exits 0 on unknown keys or bad values), and systemd-analyze security's
# exposure level, at most RELAY_MAX_EXPOSURE (2.0). deploy/k8s/: schema
# checked by scripts/k8s_check.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
: "${BUILD:=build}" "${RELAY_MAX_EXPOSURE:=2.0}"
rc=0
if ! command -v systemd-analyze >/dev/null; then
	echo "deploy-check: systemd-analyze is missing (Debian: systemd)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify wants ExecStart's binary: the built one stands in for
# /usr/local/bin.
sed "s|/usr/local/bin/|$PWD/$BUILD/|" deploy/systemd/llm-relay@.service >"$tmp/llm-relay@.service"
cp deploy/systemd/llm-relay.target "$tmp/"
for h in chat models health admin; do
	[ -x "$BUILD/relay-$h" ] || { echo "deploy-check: $BUILD/relay-$h missing (make all)" >&2; exit 1; }
	out=$(systemd-analyze verify --man=no "$tmp/llm-relay@$h.service" 2>&1)
	st=$?
	if [ "$st" != 0 ] || [ -n "$out" ]; then
		echo "deploy-check: llm-relay@$h.service: ${out:-exit $st}" >&2
		rc=1
	fi
	level=$(systemd-analyze security --offline=yes --no-pager "$tmp/llm-relay@$h.service" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$level" ] || awk -v l="$level" -v m="$RELAY_MAX_EXPOSURE" 'BEGIN { exit !(l > m) }'; then
		echo "deploy-check: llm-relay@$h.service: exposure ${level:-unknown} > $RELAY_MAX_EXPOSURE" >&2
		rc=1
	else
		echo "deploy-check: llm-relay@$h.service: verified, exposure $level"
	fi
done
out=$(systemd-analyze verify --man=no "$tmp/llm-relay.target" 2>&1)
if [ $? != 0 ] || [ -n "$out" ]; then
	echo "deploy-check: llm-relay.target: $out" >&2
	rc=1
fi
scripts/k8s_check.sh || rc=1
[ "$rc" = 0 ] && echo "deploy-check: ok"
exit "$rc"
