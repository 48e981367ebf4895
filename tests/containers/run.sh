#!/usr/bin/env bash
# tests/containers/run.sh - make test-containers: the images of make images
# started with podman, as a deployment runs them, on loopback:
#   memcached and the mock upstream on the host; two relay-chat containers
#   (FastCGI over TCP), relay-models, -health and -admin containers (unix
#   sockets in a bind-mounted run dir), every one with a read-only root
#   file system, non-root, one data volume shared (keys, credentials);
#   lighttpd on the host in front (scripts/stack.sh's rendering).
# Checks: a stream through the front end; /v1/models; a key made through
# admin used at once on each chat replica directly (cgi-fcgi); one chat
# container killed with streams in flight: those on the other replica end
# whole and new requests are served; memcached restarted: chat answers
# throughout (fail-open, docs/resilience.md). Everything it started is
# removed at the end (containers by name, processes by PID).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CONTAINERS_CONF=$ROOT/deploy/containers/containers.conf
export CONTAINERS_STORAGE_CONF=$ROOT/deploy/containers/storage.conf
: "${BUILD:=build}" "${IMAGE_TAG:=latest}"
export BUILD SERVER=lighttpd
SCEN_DIR=$(mktemp -d /tmp/ctest.XXXXXX)
. "$ROOT/tests/integration/fault_lib.sh"

P=ctest$$
NAMES=()
cleanup_containers() {
	local n
	for n in "${NAMES[@]}"; do podman rm -f -t 2 "$n" >/dev/null 2>&1; done
	podman volume rm -f "$P-data" >/dev/null 2>&1
}
trap 'cleanup_containers; _lib_cleanup' EXIT

for h in chat models health admin; do
	podman image exists "localhost/llm-relay-$h:$IMAGE_TAG" ||
	    fail "image localhost/llm-relay-$h:$IMAGE_TAG missing: make images"
done
command -v cgi-fcgi >/dev/null || fail "cgi-fcgi is missing (libfcgi-bin)"

t_start=$(now_ms)
RUN_DIR=$T/stack
mkdir -p "$RUN_DIR"/{logs,www,tmp}
chmod 755 "$T"
chmod 777 "$RUN_DIR" # the containers' user (10001) makes its sockets here
MC_PORT=$(stack_free_port)
MOCK_PORT=$(stack_free_port)
C1=$(stack_free_port)
C2=$(stack_free_port)
export RELAY_ADMIN_TOKEN="adm-$RANDOM$RANDOM"
MASTER=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
stack_mc_spawn
stack_mock_spawn
wait_until 50 stack_tcp_up "$MC_PORT" || fail "memcached did not start"
wait_until 50 stack_tcp_up "$MOCK_PORT" || fail "mock did not start"
MOCK_URL=http://127.0.0.1:$MOCK_PORT
cat >"$RUN_DIR/relay.json" <<JSON
{ "memcached": { "servers": ["127.0.0.1:$MC_PORT"] },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:$MOCK_PORT/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
chmod 644 "$RUN_DIR/relay.json"
podman volume create "$P-data" >/dev/null || fail "podman volume create"

# crun NAME HANDLER LISTEN: one responder container.
crun() {
	local name=$P-$1
	NAMES+=("$name")
	podman run -d --name "$name" --network host --read-only --tmpfs /tmp \
	    -v "$P-data:/data" -v "$RUN_DIR:/run/relay" \
	    -e RELAY_CONFIG=/run/relay/relay.json -e RELAY_LISTEN="$3" \
	    -e RELAY_ADMIN_TOKEN -e RELAY_MASTER_KEY="$MASTER" -e RELAY_THREADS=2 \
	    "localhost/llm-relay-$2:$IMAGE_TAG" >/dev/null || fail "podman run $name"
}
t0=$(now_ms)
crun chat1 chat "tcp:127.0.0.1:$C1"
crun chat2 chat "tcp:127.0.0.1:$C2"
crun models models unix:/run/relay/models.sock
crun health health unix:/run/relay/health.sock
crun admin admin unix:/run/relay/admin.sock
wait_until 100 stack_tcp_up "$C1" || fail "chat1 did not listen: $(podman logs "$P-chat1" 2>&1 | tail -n 3)"
wait_until 100 stack_tcp_up "$C2" || fail "chat2 did not listen: $(podman logs "$P-chat2" 2>&1 | tail -n 3)"
for h in models health admin; do
	wait_until 100 test -S "$RUN_DIR/$h.sock" || fail "$h did not start: $(podman logs "$P-$h" 2>&1 | tail -n 3)"
done
measure "containers: five responders listening $(($(now_ms) - t0)) ms after podman run"
# Non-root, read-only root.
[ "$(podman inspect --format '{{.Config.User}}' "$P-chat1")" = 10001:10001 ] || fail "chat runs as $(podman inspect --format '{{.Config.User}}' "$P-chat1")"
[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$P-chat1")" = true ] || fail "root file system not read-only"

export STACK_CHAT_TCP="127.0.0.1:$C1 127.0.0.1:$C2"
PORT=$(stack_free_port)
stack_web_spawn
wait_until 100 stack_tcp_up "$PORT" || fail "lighttpd did not start: $(stack_last_error lighttpd)"
BASE_URL=http://127.0.0.1:$PORT
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

# --- a key through admin, at once on each replica ------------------------------------------
st=$(req key "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"ctest"}')
[ "$st" = 201 ] || fail "admin key: $st $(head -c 200 "$T/key.body")"
KEY=$(jget secret "$T/key.body")
fcgi_chat() { # port: the status line relay-chat answers on it directly
	local body
	body=$(chat_json m hi)
	printf '%s' "$body" | env -i REQUEST_METHOD=POST REQUEST_URI=/v1/chat/completions \
	    SCRIPT_NAME=/v1/chat/completions SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
	    CONTENT_LENGTH="${#body}" CONTENT_TYPE=application/json REMOTE_ADDR=127.0.0.1 \
	    HTTP_AUTHORIZATION="Bearer ${2:-$KEY}" cgi-fcgi -bind -connect "127.0.0.1:$1" |
	    head -n 1 | tr -d '\r' | cut -c1-11
}
t0=$(now_ms)
expect_eq "$(fcgi_chat "$C1")" "Status: 200" "the new key on replica 1 at once"
expect_eq "$(fcgi_chat "$C2")" "Status: 200" "the new key on replica 2 at once"
expect_eq "$(fcgi_chat "$C2" sk-relay-not-a-key)" "Status: 401" "an unknown key on replica 2"
measure "containers: a key made through admin served by both replicas within $(($(now_ms) - t0)) ms"
AUTH=(-H "Authorization: Bearer $KEY")

# --- the front end: models, a stream --------------------------------------------------------
expect_eq "$(req models "$BASE_URL/v1/models" "${AUTH[@]}")" 200 "/v1/models"
msg="through containers [[mock events=6 gap_ms=150]]"
chat_json m "$msg" true >"$T/s.req"
curl -sS -N --max-time 20 "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "@$T/s.req" \
    -o "$T/s.body" -w '%{http_code} %{time_starttransfer} %{time_total}' "$BASE_URL/v1/chat/completions" >"$T/s.code"
read -r st tfb ttot <"$T/s.code"
expect_eq "$st" 200 "stream status"
sse_summary s
expect_eq "$(sse s text)" "$(mock_text "$msg")" "stream text"
expect_eq "$(sse s done)" 1 "stream [DONE]"
measure "containers: stream first byte $(awk -v a="$tfb" 'BEGIN { printf "%d", a * 1000 }') ms, total $(awk -v a="$ttot" 'BEGIN { printf "%d", a * 1000 }') ms (6 events 150 ms apart)"

# --- a replica killed with streams in flight ------------------------------------------------
msg="long [[mock events=30 gap_ms=100]]"
chat_json m "$msg" true >"$T/l.req"
CURLS=()
for i in 1 2 3 4 5 6; do
	curl -sS -N --max-time 20 "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "@$T/l.req" \
	    -o "$T/l$i.body" "$BASE_URL/v1/chat/completions" 2>/dev/null &
	CURLS+=($!)
	BG_PIDS+=($!)
done
wait_until 50 eval '[ "$(cat "$T"/l*.body 2>/dev/null | grep -c "^data: ")" -ge 6 ]' || fail "streams did not begin"
on2=$(ss -Htn state established "( sport = :$C2 )" | wc -l)
podman kill -s KILL "$P-chat1" >/dev/null || fail "podman kill"
fails=0
for i in 1 2 3 4 5; do
	[ "$(post after$i "$(chat_json m hi)" "${AUTH[@]}")" = 200 ] || fails=$((fails + 1))
done
expect_eq "$fails" 0 "requests after a replica was killed that failed (of 5)"
for p in "${CURLS[@]}"; do wait "$p" 2>/dev/null; done
whole=$(grep -l '^data: \[DONE\]' "$T"/l*.body | wc -l)
expect_ge "$whole" "$on2" "streams on the surviving replica that ended whole"
measure "containers: replica killed with 6 streams in flight: $whole whole ($on2 were on the survivor), 5 of 5 later requests: $((5 - fails)) ok"

# --- memcached restarted ---------------------------------------------------------------------
kill -KILL "$PID_memcached"
wait "$PID_memcached" 2>/dev/null
st=$(post mcdown "$(chat_json m hi)" "${AUTH[@]}")
expect_eq "$st" 200 "chat with memcached down (fail-open)"
stack_mc_spawn
wait_until 50 stack_tcp_up "$MC_PORT" || fail "memcached did not come back"
sleep 0.5
expect_eq "$(post mcback "$(chat_json m hi)" "${AUTH[@]}")" 200 "chat with memcached back"
expect_eq "$(req ready "$BASE_URL/health/ready")" 200 "/health/ready with memcached back"

# Sanitizer-free images: no crash in any container's log.
for n in "${NAMES[@]}"; do
	if podman logs "$n" 2>&1 | grep -qE 'Segmentation|Aborted|runtime error'; then
		expect_eq "$n" "no crash" "container log"
	fi
done
measure "containers: the whole test $(($(now_ms) - t_start)) ms"
fault_finish
echo "1 passed, 0 failed"
