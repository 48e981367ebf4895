#!/usr/bin/env bash
# Hangs and stalls. Provider timeouts first_byte_ms 800, idle_ms 800;
# max_attempts 2; heartbeat 500 ms.
#  - hang before the head (hang=1): retried, then 504 (plain) or one error
#    (stream); 2 calls; the mock sees both connections closed.
#  - head, then silence before the first event (first_ms=3000): nothing
#    reached the client, so retried; then one error.
#  - a stream that stalls after its first event (gap_ms=3000): no retry
#    (1 call), the events so far and then one SSE error event, no [DONE].
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "stream": { "heartbeat_ms": 500 },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-one"], "timeouts": { "first_byte_ms": 800, "idle_ms": 800 } } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

# stream_error NAME WHAT (sets SAW): the client saw 200 + exactly one error event and
# no answer beyond what the stream had, or a JSON error.
stream_error() {
	local name=$1 what=$2 st
	st=$(cat "$T/$name.code")
	if [ "$st" = 200 ]; then
		sse_summary "$name"
		expect_eq "$(sse "$name" errors)" 1 "$what: one error event"
		expect_eq "$(sse "$name" done)" 0 "$what: no [DONE]"
		expect_eq "$(sse "$name" after_error)" 0 "$what: nothing after the error"
		SAW="200 + error event ($(sse "$name" first_error.code))"
	else
		expect is_openai_error is_openai_error "$name"
		SAW="$st JSON error"
	fi
}

mocks_reset "$MOCK_URL"
st=$(chat h m "hang [[mock hang=1]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 504 "hang: status"
expect is_openai_error is_openai_error h
expect_eq "$n" 2 "hang: calls"
expect_ge "$(ms_of h)" 1600 "hang: two first-byte timeouts"
expect_le "$(ms_of h)" 4000 "hang: not much more"
wait_until 30 test "$(mock_stat open_hung)" = 0
expect_eq "$(mock_stat open_hung)" 0 "hang: the relay closed the hung connections"
row "hang before the head" "$st $(jget error.code "$T/h.body")" "$n" "$(ms_of h)"

mocks_reset "$MOCK_URL"
chat hs m "hang [[mock hang=1]]" true >/dev/null
n=$(attempts "$MOCK_URL")
stream_error hs "hang stream"; saw=$SAW
expect_eq "$n" 2 "hang stream: calls"
row "hang before the head (stream)" "$saw" "$n" "$(ms_of hs)"

mocks_reset "$MOCK_URL"
chat fm m "late first event [[mock first_ms=3000]]" true >/dev/null
n=$(attempts "$MOCK_URL")
stream_error fm "silent after head"; saw=$SAW
expect_eq "$n" 2 "silent after head: calls (nothing reached the client: retried)"
row "head, then silence > idle_ms (stream)" "$saw" "$n" "$(ms_of fm)"

mocks_reset "$MOCK_URL"
msg="stall midway [[mock gap_ms=3000]]"
chat st m "$msg" true >/dev/null
n=$(attempts "$MOCK_URL")
expect_eq "$(cat "$T/st.code")" 200 "stall: status"
stream_error st "stall mid-stream"; saw=$SAW
expect_eq "$n" 1 "stall mid-stream: calls (an event reached the client: no retry)"
full=$(mock_text "$msg")
got=$(sse st text)
expect_eq "${full:0:${#got}}" "$got" "stall: the text so far is a prefix of the answer"
row "stall after the first event (stream)" "$saw, $(sse st events) events first" "$n" "$(ms_of st)"

fault_finish
