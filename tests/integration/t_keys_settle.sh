#!/usr/bin/env bash
# Tokens are reserved before the call and settled with the real usage:
# the daily counter in memcached ends equal to the usage the provider
# reported, for a JSON answer, a stream (usage asked upstream and kept from
# a client that did not ask), and an aborted stream (estimate + events).
# A reservation larger than what is left is refused as insufficient_quota.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }],
                "price": { "input_per_mtok": 1000, "output_per_mtok": 2000 } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"s","daily_tokens":100000,"tpm":100000,"monthly_budget_usd":1000}' >/dev/null
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
sleep 1.1

# memcached get of a counter, over its text protocol.
counter() {
	local v
	exec 5<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'get %s\r\n' "$1" >&5
	v=$(timeout 2 head -n 2 <&5 | sed -n 2p | tr -d '\r ')
	exec 5>&-
	echo "${v:-0}"
}
day=$(date -u +%Y%m%d)
month=$(date -u +%Y%m)
D="rl:$ID:d:$day"
U="rl:$ID:u:$month"

assert_eq "$(post j1 "$(chat_json demo 'one two three' false '{"max_tokens":500}')" -H "Authorization: Bearer $K")" 200 "json"
t1=$(jget usage.total_tokens "$T/j1.body")
in1=$(jget usage.prompt_tokens "$T/j1.body")
out1=$(jget usage.completion_tokens "$T/j1.body")
assert_eq "$(counter "$D")" "$t1" "daily counter after a JSON answer"
assert_eq "$(counter "$U")" $((in1 * 1000 + out1 * 2000)) "spend (micro-USD) after a JSON answer"

post s1 "$(chat_json demo 'four five' true)" -H "Authorization: Bearer $K" >/dev/null
assert_file_lacks "$T/s1.body" '"usage"' "no usage for a client that did not ask"
assert_file_has "$T/s1.body" '[DONE]' "stream complete"
post s2 "$(chat_json demo 'four five' true '{"stream_options":{"include_usage":true}}')" -H "Authorization: Bearer $K" >/dev/null
t2=$(data_lines "$T/s2.body" | grep '"usage":{' | sed 's/^data: //' | jget usage.total_tokens)
assert_match "$t2" '^[0-9]+$' "usage chunk for a client that asked"
assert_eq "$(counter "$D")" $((t1 + t2 + t2)) "daily counter after two streams"

# An aborted stream: charged the input estimate plus the events relayed.
before=$(counter "$D")
chat_json demo "abort me [[mock events=50 gap_ms=100]]" true >"$T/ab.json"
curl -sS -N --max-time 0.8 -H "Authorization: Bearer $K" -H 'Content-Type: application/json' \
    --data-binary "@$T/ab.json" "$BASE_URL/v1/chat/completions" >"$T/ab.body" 2>/dev/null
sleep 1.5
after=$(counter "$D")
events=$(data_lines "$T/ab.body" | wc -l)
est=$((($(wc -c <"$T/ab.json") + 3) / 4))
measure "aborted stream: $events events seen by the client, charged $((after - before)) tokens (input estimate $est)"
assert_ge $((after - before)) $((est + events - 2)) "aborted stream charged"
assert_le $((after - before)) $((est + events + 6)) "aborted stream not overcharged"

# Reservation bigger than what is left today: refused as a quota.
req mk2 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"small","daily_tokens":300}' >/dev/null
K2=$(jget secret "$T/mk2.body")
sleep 1.1
post q1 "$(chat_json demo hi false '{"max_tokens":1000}')" -H "Authorization: Bearer $K2" >/dev/null
assert_api_error q1 429 insufficient_quota
assert_eq "$(jget error.type "$T/q1.body")" insufficient_quota "quota type"
assert_match "$(header q1 retry-after)" '^[0-9]+$' "Retry-After"
assert_eq "$(post q2 "$(chat_json demo hi false '{"max_tokens":100}')" -H "Authorization: Bearer $K2")" 200 "a smaller one fits"
