#!/usr/bin/env bash
# The client leaves while the relay waits between attempts. The upstream
# answers 503 with Retry-After 3 (max_attempts 3, so the relay would call
# again after 3 s); the client gives up after 1 s.
#
# Over HTTP/2 lighttpd passes the client's RST_STREAM on at once (it
# closes the FastCGI connection the relay watches): no further call may
# reach the mock. Over HTTP/1.1 neither web server tells the relay before
# it writes, and during a backoff it has nothing it may write yet (the
# status must stay the upstream's if the retries fail); there the policy
# still bounds the calls (at most max_attempts) and the relay must not
# hang. The relay then serves normally.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 3, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-one"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

for mode in false true; do
	sfx=$([ $mode = true ] && echo s)
	mocks_reset "$MOCK_URL"
	MAX_TIME=1 chat gone$sfx m "leaving [[mock status=503 retry_after=3]]" $mode >/dev/null
	n1=$(attempts "$MOCK_URL")
	sleep 5
	n2=$(attempts "$MOCK_URL")
	expect_eq "$n1" 1 "client gone $sfx: calls before it left"
	[ "$n2" -le 3 ] || expect_eq "$n2" "<= 3" "client gone $sfx (HTTP/1.1): calls bounded by the policy"
	row "client leaves during a 3 s backoff$([ $mode = true ] && echo ' (stream)')" "curl gave up at 1 s (code $(cat "$T/gone$sfx.code"))" "$n2 (5 s later)" "$(ms_of gone$sfx)"
done
if [ "$SERVER" = lighttpd ]; then
	for mode in false true; do
		mocks_reset "$MOCK_URL"
		chat_json m "leaving [[mock status=503 retry_after=3]]" $mode >"$T/h2.req"
		curl -sS -N --http2-prior-knowledge --max-time 1 -o /dev/null \
		    -H 'Content-Type: application/json' --data-binary "@$T/h2.req" \
		    "$BASE_URL/v1/chat/completions" 2>/dev/null
		sleep 5
		n2=$(attempts "$MOCK_URL")
		expect_eq "$n2" 1 "client gone over h2 (stream=$mode): no call after it left"
		row "client leaves during a 3 s backoff, HTTP/2$([ $mode = true ] && echo ' (stream)')" "RST_STREAM at 1 s" "$n2 (5 s later)" "-"
	done
fi
st=$(chat after m "still serving")
expect_eq "$st" 200 "served afterwards"
fault_finish
