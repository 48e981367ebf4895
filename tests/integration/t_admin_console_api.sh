#!/usr/bin/env bash
# Issue 18: what the console needs from the admin API, through the web
# server: /admin/status lists each model's targets (named as its
# breakers), /admin/keys?use=1 each key's counters now, admin answers are
# neither cached nor sniffed, and wrong admin tokens are slowed down per
# address (429 + Retry-After past RELAY_ADMIN_FAIL_FREE, the right token
# refused too while it lasts).
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-console-api"] },
                 { "name": "spare", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-spare"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }, { "provider": "spare", "model": "other" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

assert_eq "$(req st "$BASE_URL/admin/status" "${ADM[@]}")" 200 "status"
assert_eq "$(jget config.targets.demo.0 "$T/st.body")" mock/demo "first target"
assert_eq "$(jget config.targets.demo.1 "$T/st.body")" spare/other "second target"
assert_eq "$(jget memcached.servers.0 "$T/st.body")" "127.0.0.1:$MC_PORT" "memcached server listed"
assert_eq "$(jget memcached.ok "$T/st.body")" true "memcached answers"
grep -q '"mock/demo":"closed"' "$T/st.body" || fail "breaker of mock/demo: $(cat "$T/st.body")"
grep -qi '^cache-control: no-store' "$T/st.head" || fail "admin answer without Cache-Control: no-store"
grep -qi '^x-content-type-options: nosniff' "$T/st.head" || fail "admin answer without nosniff"

req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"u","rpm":100,"tpm":100000,"daily_tokens":1000000,"monthly_budget_usd":10}' >/dev/null
K=$(jget secret "$T/mk.body")
early_in_minute 10 # the three below, and the read of them, in one minute window
for i in 1 2 3; do
	assert_eq "$(post c$i "$(chat_json demo hi)" -H "Authorization: Bearer $K")" 200 "chat $i"
done
sleep 0.2 # settling does not wait for memcached
assert_eq "$(req ls "$BASE_URL/admin/keys?use=1" "${ADM[@]}")" 200 "keys with use"
assert_eq "$(jget data.0.use.minute_requests "$T/ls.body")" 3 "this minute's requests"
assert_ge "$(jget data.0.use.minute_tokens "$T/ls.body")" 3 "this minute's tokens"
assert_ge "$(jget data.0.use.day_tokens "$T/ls.body")" 3 "today's tokens"
assert_eq "$(jget data.0.use.in_flight "$T/ls.body")" 0 "nothing in flight"
req ls0 "$BASE_URL/admin/keys" "${ADM[@]}" >/dev/null
assert_eq "$(jget data.0.use "$T/ls0.body")" __missing__ "no counters unless asked"
assert_file_lacks "$T/ls.body" "$K" "no secret in the list"

# The access log line of a request, by its id; recent errors; processes.
RID=$(header c1 x-request-id)
[ -n "$RID" ] || fail "no x-request-id on c1"
assert_eq "$(req lg "$BASE_URL/admin/logs?id=$RID" "${ADM[@]}")" 200 "logs by id"
assert_eq "$(jget data.0.id "$T/lg.body")" "$RID" "the request's line"
assert_eq "$(jget data.0.status "$T/lg.body")" 200 "its status"
assert_eq "$(jget data.1 "$T/lg.body")" __missing__ "that line only"
post bad "$(chat_json demo hi)" -H "Authorization: Bearer sk-relay-wrong" >/dev/null
assert_eq "$(req le "$BASE_URL/admin/logs?errors=1" "${ADM[@]}")" 200 "recent errors"
assert_eq "$(jget data.0.status "$T/le.body")" 401 "the newest error first"
assert_file_lacks "$T/le.body" "sk-relay-wrong" "no secret in the log view"
assert_eq "$(req pr "$BASE_URL/admin/processes" "${ADM[@]}")" 200 "processes"
grep -q '"prog":"relay-chat","pid":[0-9]*,"alive":true' "$T/pr.body" || fail "relay-chat not listed alive: $(cat "$T/pr.body")"
grep -q '"prog":"relay-admin"' "$T/pr.body" || fail "relay-admin not listed: $(cat "$T/pr.body")"

# Wrong tokens: RELAY_ADMIN_FAIL_FREE (20) pass as 401, then 429.
for i in $(seq 1 20); do
	c=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-$i" "$BASE_URL/admin/status")
	assert_eq "$c" 401 "wrong token $i"
done
# A request without any token guesses nothing: never counted.
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE_URL/admin/status")" 401 "no token"
c=$(curl -sS -o "$T/slow.body" -D "$T/slow.h" -w '%{http_code}' -H "Authorization: Bearer wrong-21" "$BASE_URL/admin/status")
assert_eq "$c" 401 "21st wrong token: refused, and from now on slowed"
c=$(curl -sS -o "$T/slow.body" -D "$T/slow.h" -w '%{http_code}' "${ADM[@]}" "$BASE_URL/admin/status")
assert_eq "$c" 429 "the right token waits too while the address is slowed"
grep -qi '^retry-after: [1-9]' "$T/slow.h" || fail "no Retry-After: $(cat "$T/slow.h")"
assert_eq "$(jget error.code "$T/slow.body")" too_many_failed_attempts "error code"
assert_file_lacks "$T/slow.body" "$RELAY_ADMIN_TOKEN" "no token in the answer"
sleep "$(grep -i '^retry-after' "$T/slow.h" | tr -dc 0-9)"
sleep 1
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "${ADM[@]}" "$BASE_URL/admin/status")" 200 "after the pause"
