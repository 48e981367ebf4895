#!/usr/bin/env bash
# Tier keys (issue 21): a relay in front calls this one with a key marked
# "tier": true. Its streams get no heartbeat before the first upstream
# byte, so a provider that fails slowly (503 after 1.2 s, heartbeat every
# 300 ms) is retried here and the caller still gets a clean 200 stream;
# with an ordinary key the heartbeat has committed the 200 and the caller
# gets the error inside the stream after one call (as before). A final
# error after retries says x-should-retry: false, so that a relay in front
# (or an OpenAI SDK) does not multiply them.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "stream": { "heartbeat_ms": 300 },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 200 },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req kt "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"relay-a","tier":true}' >/dev/null
req kn "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"plain"}' >/dev/null
assert_eq "$(req kx "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"x","tier":"yes"}')" 400 "tier must be a boolean"
KT=$(jget secret "$T/kt.body")
KN=$(jget secret "$T/kn.body")

# Recovers here: a clean stream either way, the tier key's without a
# heartbeat before the first byte.
u=$(mock_stat requests)
post t1 "$(chat_json demo 'slow failure [[mock fail_first=1 status=503 delay_ms=1200 key=tier1]]' true)" -H "Authorization: Bearer $KT" >/dev/null
assert_eq "$(cat "$T/t1.code")" 200 "tier key: status"
assert_eq "$(( $(mock_stat requests) - u ))" 2 "tier key: the failure was retried here"
assert_file_lacks "$T/t1.body" ": keep-alive" "tier key: no heartbeat before the first byte"
assert_file_has "$T/t1.body" "data: [DONE]" "tier key: a complete stream"

# Fails here for good (both attempts): the tier key's caller gets the
# status (503), which the relay in front can fail over on; an ordinary
# key's caller got a 200 from the heartbeat and the error inside it.
u=$(mock_stat requests)
post t2 "$(chat_json demo 'slow failure [[mock fail_first=2 status=503 delay_ms=1200 key=tier2]]' true)" -H "Authorization: Bearer $KT" >/dev/null
assert_eq "$(cat "$T/t2.code")" 503 "tier key: the failure is the status"
assert_eq "$(( $(mock_stat requests) - u ))" 2 "tier key: its attempts spent"
assert_file_lacks "$T/t2.body" ": keep-alive" "tier key: no heartbeat"
assert_eq "$(header t2 x-should-retry)" false "retries spent here: x-should-retry: false"
post t3 "$(chat_json demo 'bad [[mock status=400]]' true)" -H "Authorization: Bearer $KT" >/dev/null
assert_eq "$(cat "$T/t3.code")/$(header t3 x-should-retry)" "400/" "one call, nothing retried: no x-should-retry"
u=$(mock_stat requests)
post n2 "$(chat_json demo 'slow failure [[mock fail_first=2 status=503 delay_ms=1200 key=plain2]]' true)" -H "Authorization: Bearer $KN" >/dev/null
assert_eq "$(cat "$T/n2.code")" 200 "ordinary key: the heartbeat committed the status"
assert_file_has "$T/n2.body" ": keep-alive" "ordinary key: heartbeats"
assert_eq "$(( $(mock_stat requests) - u ))" 2 "ordinary key: its attempts spent"
assert_file_has "$T/n2.body" '"error"' "ordinary key: the error inside the stream"
