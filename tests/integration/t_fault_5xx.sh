#!/usr/bin/env bash
# 5xx from the upstream. Policy: retry.max_attempts 3 on one target.
#  - fail_first=2 (503) then success: 200 after exactly 3 calls,
#    x-relay-attempts 3, the answer whole; the same for a stream (one
#    answer's text, never two spliced) and for 529 (Anthropic overloaded).
#  - every call 503: the last upstream 503 body passed through, 3 calls;
#    an Anthropic client gets it in its own error shape.
#  - 400 is not in retry.on_status: passed through after 1 call.
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

# 503, 503, then 200.
mocks_reset "$MOCK_URL"
msg="five hundred twice [[mock fail_first=2 status=503 key=a1]]"
st=$(chat ok3 m "$msg")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 200 "fail_first=2: status"
expect_eq "$n" 3 "fail_first=2: upstream calls"
expect_eq "$(header ok3 x-relay-attempts)" 3 "fail_first=2: x-relay-attempts"
expect_eq "$(header ok3 x-relay-target)" p1/up "fail_first=2: x-relay-target"
expect_eq "$(answer_text ok3)" "$(mock_text "$msg")" "fail_first=2: answer"
row "503 x2 then 200" "$st, whole answer, x-relay-attempts $(header ok3 x-relay-attempts)" "$n" "$(ms_of ok3)"

# The same, streamed.
mocks_reset "$MOCK_URL"
msg="stream after five hundreds [[mock fail_first=2 status=503 key=a2]]"
st=$(chat ok3s m "$msg" true)
n=$(attempts "$MOCK_URL")
sse_summary ok3s
expect_eq "$st" 200 "stream fail_first=2: status"
expect_eq "$n" 3 "stream fail_first=2: upstream calls"
expect_eq "$(header ok3s x-relay-attempts)" 3 "stream: x-relay-attempts"
expect_eq "$(sse ok3s text)" "$(mock_text "$msg")" "stream: text is exactly one answer"
expect_eq "$(sse ok3s errors)" 0 "stream: no error event"
expect_eq "$(sse ok3s done)" 1 "stream: one [DONE]"
row "503 x2 then 200 (stream)" "$st, one whole stream, [DONE] x$(sse ok3s done)" "$n" "$(ms_of ok3s)"

# 529 (Anthropic's overloaded) is retried too.
mocks_reset "$MOCK_URL"
msg="overloaded once [[mock fail_first=1 status=529 key=a3]]"
st=$(chat ok529 m "$msg")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 200 "529 once: status"
expect_eq "$n" 2 "529 once: upstream calls"
row "529 then 200" "$st, whole answer" "$n" "$(ms_of ok529)"

# Every call 503: the last one passed through.
mocks_reset "$MOCK_URL"
st=$(chat all503 m "always down [[mock status=503]]")
n=$(attempts "$MOCK_URL")
curl -sS -o "$T/direct503.body" "$MOCK_URL/v1/chat/completions" \
    -H 'Content-Type: application/json' --data-binary "@$T/all503.req"
expect_eq "$st" 503 "all 503: status"
expect_eq "$n" 3 "all 503: upstream calls = max_attempts"
expect is_openai_error is_openai_error all503
expect_eq "$(jget error.message "$T/all503.body")" "$(jget error.message "$T/direct503.body")" "all 503: the upstream's own body"
expect_eq "$(header all503 x-relay-attempts)" 3 "all 503: x-relay-attempts"
row "503 always" "$st, upstream body: $(jget error.message "$T/all503.body" | head -c 60)" "$n" "$(ms_of all503)"

# The same for an Anthropic client: its own error shape.
mocks_reset "$MOCK_URL"
st=$(messages an503 m "always down [[mock status=503]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 503 "anthropic client, all 503: status"
expect_eq "$n" 3 "anthropic client, all 503: upstream calls"
expect "anthropic client: Anthropic error shape: $(head -c 300 "$T/an503.body")" is_anthropic_error an503
row "503 always (Anthropic client)" "$st, type=$(jget type "$T/an503.body") error.type=$(jget error.type "$T/an503.body")" "$n" "$(ms_of an503)"

# The same, streamed: one error, never a half answer.
mocks_reset "$MOCK_URL"
st=$(chat all503s m "always down [[mock status=503]]" true)
n=$(attempts "$MOCK_URL")
expect_eq "$n" 3 "stream all 503: upstream calls"
if [ "$st" = 503 ]; then
	expect is_openai_error is_openai_error all503s
	saw="503 JSON error"
else
	sse_summary all503s
	expect_eq "$st" 200 "stream all 503: status (503, or 200 + an error event)"
	expect_eq "$(sse all503s errors)" 1 "stream all 503: one error event"
	expect_eq "$(sse all503s text)" "" "stream all 503: no answer text"
	saw="200 + error event"
fi
row "503 always (stream)" "$saw" "$n" "$(ms_of all503s)"

# 400 is not retried.
mocks_reset "$MOCK_URL"
st=$(chat e400 m "bad [[mock status=400]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 400 "400: status"
expect_eq "$n" 1 "400: upstream calls (not in on_status)"
row "400" "$st passed through" "$n" "$(ms_of e400)"

fault_finish
