#!/usr/bin/env bash
# A slow drip: the body one byte per write, 1 ms apart (idle_ms 2000 is
# never reached). Both a stream and a plain answer arrive whole, in 1 call.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-one"], "timeouts": { "first_byte_ms": 2000, "idle_ms": 2000 } } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

mocks_reset "$MOCK_URL"
msg="drip drip [[mock drip_ms=1]]"
st=$(chat ds m "$msg" true)
n=$(attempts "$MOCK_URL")
sse_summary ds
expect_eq "$st" 200 "drip stream: status"
expect_eq "$n" 1 "drip stream: calls"
expect_eq "$(sse ds text)" "$(mock_text "$msg")" "drip stream: text"
expect_eq "$(sse ds errors)" 0 "drip stream: no error"
expect_eq "$(sse ds bad)" 0 "drip stream: every event whole JSON"
expect_eq "$(sse ds done)" 1 "drip stream: [DONE]"
row "drip 1 byte / 1 ms (stream, $(wc -c <"$T/ds.body") B)" "$st whole stream" "$n" "$(ms_of ds)"

mocks_reset "$MOCK_URL"
msg="drip plain [[mock drip_ms=1]]"
st=$(chat dp m "$msg")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 200 "drip plain: status"
expect_eq "$n" 1 "drip plain: calls"
expect_eq "$(answer_text dp)" "$(mock_text "$msg")" "drip plain: text"
row "drip 1 byte / 1 ms (plain)" "$st whole answer" "$n" "$(ms_of dp)"

fault_finish
