#!/usr/bin/env bash
# relay-chat over FastCGI on TCP, two of them behind one web server (issue
# 20, item 1): lighttpd's and Caddy's configs list both (scripts/stack.sh,
# STACK_CHAT_TCP); streams spread over both; one killed mid-way: the
# streams in flight on the other arrive whole, those on the dead one are
# cut (never a hang), and the requests after the kill are served by the one
# left (lighttpd: the refused backend is disabled and the request sent to
# the other, no error; Caddy: the first request to the dead backend gets a
# 502, then fail_duration keeps it out).
. "$(dirname "$0")/fault_lib.sh"

P1=$(stack_free_port)
P2=$(stack_free_port)
while [ "$P2" = "$P1" ]; do P2=$(stack_free_port); done
export STACK_CHAT_TCP="127.0.0.1:$P1 127.0.0.1:$P2"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "breaker": { "failures": 0 },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-one"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"
[ -n "${PID_relay_chat1:-}" ] && [ -n "${PID_relay_chat2:-}" ] || fail "two relay-chat processes expected"
# The web server talks to both over TCP, and there is no chat socket.
[ -e "$OWN_DIR/chat.sock" ] && fail "a unix chat socket with STACK_CHAT_TCP"

# established FastCGI connections to a backend port
conns() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }

# --- plain requests, both backends serve --------------------------------------
for i in 1 2 3 4; do
	st=$(chat "p$i" m "plain $i")
	expect_eq "$st" 200 "plain request $i"
done

# --- streams in flight on both; one backend killed mid-way --------------------
N=8
msg="long stream [[mock events=30 gap_ms=100]]"
chat_json m "$msg" true >"$T/long.req"
for i in $(seq 1 "$N"); do
	curl -sS -N --max-time 20 -H 'Content-Type: application/json' --data-binary "@$T/long.req" \
	    -o "$T/s$i.body" -w '%{http_code}' "$BASE_URL/v1/chat/completions" >"$T/s$i.code" 2>"$T/s$i.err" &
	BG_PIDS+=($!)
	CURLS+=($!)
done
# Wait until every stream has begun, then look where they run.
wait_until 50 eval '[ "$(cat "$T"/s*.body 2>/dev/null | grep -c "^data: ")" -ge '"$N"' ]' ||
    fail "streams did not begin"
c1=$(conns "$P1") c2=$(conns "$P2")
log "FastCGI connections in flight: backend 1 $c1, backend 2 $c2"
expect_ge "$c1" 1 "streams on backend 1"
expect_ge "$c2" 1 "streams on backend 2"
t0=$(now_ms)
kill -KILL "$PID_relay_chat1"
# New requests while the streams go on: all served by backend 2.
fails=0 first_ms=""
for i in $(seq 1 10); do
	st=$(chat "after$i" m "after $i")
	[ "$st" = 200 ] || fails=$((fails + 1))
	[ -z "$first_ms" ] && [ "$st" = 200 ] && first_ms=$(($(now_ms) - t0))
done
# lighttpd: none fails (a refused connect moves the request to the other
# backend). Caddy 2.6 retries a POST only on errors it knows happened before
# anything was sent, which its fastcgi transport's dial error is not: the
# first request to the dead backend gets 502, and fail_duration keeps the
# backend out for the next ones.
want_fails=0
[ "$SERVER" = caddy ] && want_fails=1
expect_le "$fails" "$want_fails" "requests after the kill that failed (of 10)"
for p in "${CURLS[@]}"; do wait "$p" 2>/dev/null; done
whole=0 cut=0
for i in $(seq 1 "$N"); do
	if grep -q '^data: \[DONE\]' "$T/s$i.body"; then
		whole=$((whole + 1))
		[ "$(grep -c '^data: {' "$T/s$i.body")" -ge 30 ] || expect_eq "short" "30 events" "stream $i whole but short"
	else
		cut=$((cut + 1))
	fi
done
log "streams: $whole whole, $cut cut (those on the killed backend)"
expect_ge "$whole" "$c2" "streams on the surviving backend that arrived whole"
expect_le "$cut" "$c1" "streams cut (at most those on the killed backend)"
measure "$SERVER | two relay-chat over TCP, one killed: $whole of $N streams whole, $cut cut; next request served ${first_ms:-never} ms after the kill; 10 of 10 afterwards: $((10 - fails)) ok"
# Mark the dead chat as expected for fault_finish.
PID_relay_chat=$PID_relay_chat2
fault_finish
log ok
