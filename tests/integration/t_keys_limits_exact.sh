#!/usr/bin/env bash
# Limits hold exactly across hosts: two complete stacks (web server +
# responders each, as two hosts would run them) share one data directory
# and two memcached servers. 60 parallel requests, 30 through each, against
# rpm 25 admit exactly 25. Then max_concurrency 4 against 10 parallel
# streams admits exactly 4 at once, and the slots come back afterwards.
. "$(dirname "$0")/lib.sh"

MC2=$(stack_free_port)
mcuser=()
[ "$(id -u)" = 0 ] && mcuser=(-u root)
memcached "${mcuser[@]}" -l 127.0.0.1 -p "$MC2" -U 0 -m 16 &
MC2_PID=$!
BG_PIDS+=("$MC2_PID")
wait_until 50 stack_tcp_up "$MC2" || fail "second memcached"

cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@", "127.0.0.1:$MC2"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
export STACK_SHARED_DATA=$SCEN_DIR/shared-data
own_stack_start "$T/cfg.in"
A_URL=$BASE_URL
# Host B: its own web server and responders, the same config and data.
RUN_DIR=$SCEN_DIR/hostb PORT=0 MC_PORT=$(stack_free_port) MOCK_PORT=$(stack_free_port) \
    stack_start || fail "host B did not start"
B_URL=$BASE_URL
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

req mk "$A_URL/admin/keys" "${ADM[@]}" -d '{"name":"exact","rpm":25}' >/dev/null
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
sleep 1.1
early_in_minute 15 # all 60 inside one minute window
body=$(chat_json demo hi)
printf '%s' "$body" >"$T/body.json"
for i in $(seq 1 60); do
	url=$A_URL
	[ $((i % 2)) = 0 ] && url=$B_URL
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 \
	    -H "Authorization: Bearer $K" -H 'Content-Type: application/json' \
	    --data-binary "@$T/body.json" "$url/v1/chat/completions" >"$T/r.$i" &
	BG_PIDS+=($!)
done
wait "${BG_PIDS[@]:1}" 2>/dev/null
ok=$(cat "$T"/r.* | grep -c '^200$')
lim=$(cat "$T"/r.* | grep -c '^429$')
measure "rpm 25, 60 parallel requests over 2 hosts and 2 memcached: $ok admitted, $lim refused"
assert_eq "$ok" 25 "admitted"
assert_eq "$lim" 35 "refused"
post after "$body" -H "Authorization: Bearer $K" >/dev/null
assert_api_error after 429 rate_limit_exceeded
assert_match "$(header after retry-after)" '^[0-9]+$' "Retry-After"
assert_eq "$(header after x-ratelimit-remaining-requests)" 0 "remaining"
assert_eq "$(header after x-ratelimit-limit-requests)" 25 "limit header"

# Concurrency: 10 slow streams at once against max_concurrency 4.
req mk2 "$A_URL/admin/keys" "${ADM[@]}" -d '{"name":"conc","max_concurrency":4}' >/dev/null
K2=$(jget secret "$T/mk2.body")
sleep 1.1
chat_json demo "hold [[mock events=4 gap_ms=400]]" true >"$T/slow.json"
PIDS=()
for i in $(seq 1 10); do
	url=$A_URL
	[ $((i % 2)) = 0 ] && url=$B_URL
	curl -sS -o "$T/s.$i.body" -w '%{http_code}\n' --max-time 20 \
	    -H "Authorization: Bearer $K2" -H 'Content-Type: application/json' \
	    --data-binary "@$T/slow.json" "$url/v1/chat/completions" >"$T/s.$i" &
	PIDS+=($!)
done
wait "${PIDS[@]}"
ok=$(cat "$T"/s.? "$T"/s.10 | grep -c '^200$')
measure "max_concurrency 4, 10 parallel streams: $ok admitted"
assert_eq "$ok" 4 "streams admitted at once"
for i in 1 2 3 4 5; do
	assert_eq "$(post free$i "$body" -H "Authorization: Bearer $K2")" 200 "slot $i free again"
done
