#!/usr/bin/env bash
# Garbage from the upstream: 200 with a body that is not JSON (garbage=1).
# A 200 with garbage is a bad answer, not one to retry (not in on_status):
# expect one clear 502 upstream_bad_response (plain), or one SSE error event
# (stream) and never a garbage event passed on; the relay stays up.
# max_attempts 2; attempts are reported as seen.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-one"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

mocks_reset "$MOCK_URL"
st=$(chat g m "garbage [[mock garbage=1]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 502 "garbage plain (OpenAI client, OpenAI upstream): status"
expect "garbage plain: a JSON error body, got: $(head -c 80 "$T/g.body")" is_openai_error g
expect_eq "$(jget error.code "$T/g.body")" upstream_bad_response "garbage plain: code"
expect_le "$n" 2 "garbage plain: calls within max_attempts"
row "garbage body (plain, same dialect)" "$st: $(head -c 40 "$T/g.body" | tr -d '\n')" "$n" "$(ms_of g)"

mocks_reset "$MOCK_URL"
st=$(messages ga m "garbage [[mock garbage=1]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 502 "garbage plain (Anthropic client): status"
expect "garbage plain (Anthropic client): Anthropic error" is_anthropic_error ga
expect_le "$n" 2 "garbage plain (Anthropic client): calls"
row "garbage body (plain, Anthropic client)" "$st $(jget error.type "$T/ga.body")" "$n" "$(ms_of ga)"

mocks_reset "$MOCK_URL"
st=$(chat gs m "garbage [[mock garbage=1]]" true)
n=$(attempts "$MOCK_URL")
sse_summary gs
expect_eq "$(sse gs bad)" 0 "garbage stream: no non-JSON data event reaches the client"
# Garbage before any event: the stream head was not sent yet, so the
# client gets a plain 502 (an error event when events had gone out).
if [ "$st" = 200 ]; then
	expect_eq "$(sse gs errors)" 1 "garbage stream: one error event"
else
	expect_eq "$st" 502 "garbage stream: status"
	expect_eq "$(jget error.code "$T/gs.body")" upstream_bad_response "garbage stream: code"
fi
expect_le "$n" 2 "garbage stream: calls"
row "garbage events (stream, same dialect)" "$st, $(sse gs bad) garbage events passed on, $(sse gs errors) error events, [DONE] x$(sse gs done)" "$n" "$(ms_of gs)"

mocks_reset "$MOCK_URL"
st=$(messages gas m "garbage [[mock garbage=1]]" true)
n=$(attempts "$MOCK_URL")
errs=$(grep -a -c '^event: error' "$T/gas.body")
if [ "$st" = 200 ]; then
	expect_eq "$errs" 1 "garbage stream (Anthropic client): one error event"
else
	expect_eq "$st" 502 "garbage stream (Anthropic client): status"
	expect_eq "$(jget error.type "$T/gas.body")" api_error "garbage stream (Anthropic client): error type"
fi
expect_le "$n" 2 "garbage stream (Anthropic client): calls"
row "garbage events (stream, Anthropic client)" "$st + $errs error event" "$n" "$(ms_of gas)"

st=$(chat after m "still alive")
expect_eq "$st" 200 "the relay still serves"
fault_finish
