#!/usr/bin/env bash
# tests/containers/compose.sh - deploy/compose.yaml as a user runs it
# (podman-compose, the images of make images), on a network of its own
# (names resolved by podman's aardvark-dns): two chat replicas; /health/ready through the front end
# (memcached reached by name); a key made through admin; /v1/models with
# it; a stream through the front end from the mock upstream, which runs in
# a container of its own on the compose network (localhost/llm-relay-mock,
# added by a second compose file: no traffic leaves the machine), event by
# event (first byte and end measured); chat requests answered 200 with the
# key whichever of the two replicas serves (which one is not checked here:
# run.sh does); all removed afterwards. A copy of the compose file runs
# from a scratch directory with its own relay.compose.json and secrets. RELAY_FRONT=
# front-lighttpd runs it with the lighttpd front end instead of Caddy.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CONTAINERS_CONF=$ROOT/deploy/containers/containers.conf
export CONTAINERS_STORAGE_CONF=$ROOT/deploy/containers/storage.conf
T=$(mktemp -d /tmp/ccompose.XXXXXX)
P=ccompose$$
fail() { echo "  FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
cleanup() {
	(cd "$T" && podman-compose -p "$P" -f compose.yaml -f mock.yaml down -v -t 2 >/dev/null 2>&1)
	podman volume rm -f "${P}_data" >/dev/null 2>&1
	podman network rm -f "${P}_default" >/dev/null 2>&1
	rm -rf "$T"
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
command -v podman-compose >/dev/null || fail "podman-compose is missing (scripts/deps.sh)"
cp "$ROOT/deploy/compose.yaml" "$T/"
mkdir -p "$T/secrets"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$T/secrets/master.key"
TOKEN="adm-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$TOKEN" >"$T/secrets/admin.token"
chmod 644 "$T/secrets/"* # read by the containers' user (10001)
cat >"$T/relay.compose.json" <<'JSON'
{ "memcached": { "servers": ["memcached:11211"] },
  "providers": [ { "name": "p", "type": "openai", "base_url": "http://mock:8000/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p", "model": "up" }] } ] }
JSON
cat >"$T/mock.yaml" <<'YAML'
services:
  mock:
    image: localhost/llm-relay-mock:latest
    read_only: true
YAML
podman image exists localhost/llm-relay-mock:latest || fail "image localhost/llm-relay-mock missing: make images"
. "$ROOT/scripts/stack.sh"
PORT=$(stack_free_port)
t0=$(date +%s%3N)
echo "  front end: localhost/llm-relay-${RELAY_FRONT:-front}"
(cd "$T" && RELAY_PORT=$PORT podman-compose -p "$P" -f compose.yaml -f mock.yaml up -d) >"$T/up.log" 2>&1 ||
    fail "podman-compose up: $(tail -n 5 "$T/up.log")"
B=http://127.0.0.1:$PORT
stack_wait 150 eval "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $B/health/ready)\" = 200 ]" ||
    fail "/health/ready not 200: $(curl -s "$B/health/ready") $(tail -n 5 "$T/up.log")"
echo "  measure: compose: ready $(($(date +%s%3N) - t0)) ms after up"
n=$(podman ps --filter "label=io.podman.compose.project=$P" --format '{{.Names}}' | grep -c chat)
[ "$n" = 2 ] || fail "chat replicas running: $n, want 2"
if [ "${RELAY_FRONT:-front}" = front-lighttpd ]; then
	# lighttpd resolved "chat" at start: both replicas must be backends.
	fl=$(podman ps --filter "label=io.podman.compose.project=$P" --format '{{.Names}}' | grep front)
	be=$(podman logs "$fl" 2>&1 | grep 'chat backends:' | grep -o '"host"' | wc -l)
	[ "$be" = 2 ] || fail "lighttpd front end: $be chat backends, want 2: $(podman logs "$fl" 2>&1 | tail -n 3)"
fi
key=$(curl -sS "$B/admin/keys" -H "Authorization: Bearer $TOKEN" -d '{"name":"compose"}')
KEY=$(printf '%s' "$key" | grep -o '"secret":"[^"]*"' | cut -d'"' -f4)
[ -n "$KEY" ] || fail "admin key: $key"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/models" -H "Authorization: Bearer $KEY")
[ "$st" = 200 ] || fail "/v1/models: $st"
# A stream, 6 events 150 ms apart: it must arrive event by event (the
# first byte long before the end), whole, ending in [DONE].
curl -sS -N --max-time 20 "$B/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"compose [[mock events=6 gap_ms=150]]"}]}' \
    -o "$T/s.body" -w '%{http_code} %{time_starttransfer} %{time_total}' >"$T/s.code" || fail "stream: curl failed"
read -r st tfb ttot <"$T/s.code"
tfb=$(awk -v a="$tfb" 'BEGIN { printf "%d", a * 1000 }')
ttot=$(awk -v a="$ttot" 'BEGIN { printf "%d", a * 1000 }')
[ "$st" = 200 ] || fail "stream: $st $(head -c 200 "$T/s.body")"
ev=$(grep -c '^data: {' "$T/s.body")
[ "$ev" -ge 6 ] && grep -q '^data: \[DONE\]' "$T/s.body" || fail "stream: $ev events, [DONE] $(grep -c DONE "$T/s.body")"
[ "$ttot" -ge 700 ] && [ $((ttot - tfb)) -ge 500 ] || fail "stream not event by event: first byte $tfb ms, end $ttot ms"
echo "  measure: compose: stream first byte $tfb ms, end $ttot ms (6 events 150 ms apart, $ev data events)"
# Several requests: least_conn spreads them; each passes the key check and
# gets the mock's answer on whichever replica served.
for i in 1 2 3 4 5 6; do
	st=$(curl -s -o "$T/c.body" -w '%{http_code}' "$B/v1/chat/completions" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}')
	[ "$st" = 200 ] || fail "chat $i: $st $(head -c 200 "$T/c.body")"
done
echo "  measure: compose: the whole test $(($(date +%s%3N) - t0)) ms"
echo "  ok"
echo "1 passed, 0 failed"
