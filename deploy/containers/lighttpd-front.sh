#!/bin/sh
# lighttpd-front.sh - the lighttpd front end's entrypoint: renders the
# project's lighttpd/lighttpd.conf.in into /tmp (the root file system is
# read-only) with every responder over FastCGI on TCP, then runs lighttpd.
# CHAT_HOST, MODELS_HOST, HEALTH_HOST, ADMIN_HOST name the responders
# (compose's service names by default), FCGI_PORT their port (9000).
# lighttpd resolves names once, at start: every address CHAT_HOST has then
# becomes a chat backend (compose's replicas all answer to "chat"), and
# one that goes away is skipped for disable-time. After scaling chat, restart
# the front end (Caddy's front end re-resolves every 2 s by itself).
set -eu
: "${CHAT_HOST:=chat}" "${MODELS_HOST:=models}" "${HEALTH_HOST:=health}" "${ADMIN_HOST:=admin}"
: "${FCGI_PORT:=9000}" "${PORT:=8080}" "${BODY_MAX_KIB:=20480}" "${RESOLVE_WAIT_S:=30}"
RUN=/tmp/lighttpd
mkdir -p "$RUN/www" "$RUN/tmp" "$RUN/logs"

# addrs NAME: its IPv4 addresses, one a line, waiting up to RESOLVE_WAIT_S
# for the name to exist (compose starts the containers in parallel).
addrs() {
	i=0
	while :; do
		a=$(getent ahostsv4 "$1" | awk '$2 == "STREAM" { print $1 }' | sort -u)
		[ -n "$a" ] && { echo "$a"; return 0; }
		i=$((i + 1))
		[ "$i" -ge "$RESOLVE_WAIT_S" ] && { echo "lighttpd-front: $1 does not resolve" >&2; return 1; }
		sleep 1
	done
}
backend() { printf '( "host" => "%s", "port" => %s, "check-local" => "disable" )' "$1" "$FCGI_PORT"; }
one() { backend "$(addrs "$1" | head -n 1)"; }
# Replicas that start together register their names a moment apart: the
# union of two answers CHAT_SETTLE_S apart.
chat=$({ addrs "$CHAT_HOST"; sleep "${CHAT_SETTLE_S:-2}"; addrs "$CHAT_HOST"; } | sort -u |
    while read -r a; do backend "$a"; printf ', '; done)
chat=${chat%, }
models=$(one "$MODELS_HOST")
health=$(one "$HEALTH_HOST")
admin=$(one "$ADMIN_HOST")
echo "lighttpd-front: chat backends: $chat" >&2
# The template's unix-socket routes become the responders' TCP addresses;
# the error log is stderr (the container's log).
sed -e "s|@BIND@|0.0.0.0|; s|@PORT@|$PORT|; s|@BODY_MAX_KIB@|$BODY_MAX_KIB|" \
    -e "s|@CHAT_LIGHTTPD@|$chat|g" \
    -e "s|(( \"socket\" => \"@RUN@/models.sock\", \"check-local\" => \"disable\" ))|( $models )|" \
    -e "s|(( \"socket\" => \"@RUN@/health.sock\", \"check-local\" => \"disable\" ))|( $health )|" \
    -e "s|((  *\"socket\" => \"@RUN@/admin.sock\",  *\"check-local\" => \"disable\" ))|( $admin )|" \
    -e '/^[[:space:]]*#/d' -e '/^server.errorlog/d' -e "s|@RUN@|$RUN|g" \
    /etc/lighttpd/llm-relay.conf.in >"$RUN/lighttpd.conf"
if grep -q '@\|\.sock' "$RUN/lighttpd.conf"; then
	echo "lighttpd-front: unrendered placeholder in the config" >&2
	exit 1
fi
exec lighttpd -D -f "$RUN/lighttpd.conf"
