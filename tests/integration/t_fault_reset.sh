#!/usr/bin/env bash
# Connection resets. max_attempts 2.
#  - reset mid-stream after events reached the client (reset_after=4,
#    gap_ms=100): the events so far, then one SSE error event; NO retry
#    (1 call); the text is a prefix of the answer, never repeated.
#  - reset right after the head, before any event (reset_after=0), target
#    p1, with p2 as fallback (same mock, p1 gets the fault through its
#    x-mock-reset-after header): retried transparently, the client gets
#    exactly p2's whole stream; calls 2 (p1) + 1 (p2).
#  - the same with no fallback: 2 calls, then one error.
#  - a plain answer cut short (close_after=0): retried, then 502.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-p1"], "headers": { "x-mock-reset-after": "0" } },
    { "name": "p2", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-p2"] } ],
  "models": [
    { "name": "m", "targets": [{ "provider": "p2", "model": "up" }] },
    { "name": "fb", "targets": [
        { "provider": "p1", "model": "up", "priority": 0 },
        { "provider": "p2", "model": "up", "priority": 1 } ] } ] }
JSON
own_stack_start "$T/cfg.in"

mocks_reset "$MOCK_URL"
msg="reset in the middle of it all [[mock reset_after=4 gap_ms=100]]"
st=$(chat mid m "$msg" true)
n=$(attempts "$MOCK_URL")
sse_summary mid
full=$(mock_text "$msg")
got=$(sse mid text)
expect_eq "$st" 200 "mid-stream reset: status"
expect_eq "$n" 1 "mid-stream reset: calls (no retry once events reached the client)"
expect_eq "$(sse mid events)" 4 "mid-stream reset: the 4 events sent"
expect_eq "$(sse mid errors)" 1 "mid-stream reset: one error event"
expect_eq "$(sse mid done)" 0 "mid-stream reset: no [DONE]"
expect_eq "${full:0:${#got}}" "$got" "mid-stream reset: text is a prefix of the answer, once"
row "reset after 4 events (stream)" "200, $(sse mid events) events + $(sse mid errors) error event, [DONE] x$(sse mid done)" "$n" "$(ms_of mid)"

mocks_reset "$MOCK_URL"
msg="reset before any event"
st=$(chat early fb "$msg" true)
keys_used "$MOCK_URL" >"$T/early.keys"
n1=$(grep -c k-p1 "$T/early.keys")
n2=$(grep -c k-p2 "$T/early.keys")
sse_summary early
expect_eq "$st" 200 "early reset + fallback: status"
expect_eq "$n1 + $n2" "2 + 1" "early reset + fallback: calls p1 + p2"
expect_eq "$(sse early text)" "$(mock_text "$msg")" "early reset + fallback: exactly one whole answer"
expect_eq "$(sse early errors)" 0 "early reset + fallback: no error event"
expect_eq "$(sse early done)" 1 "early reset + fallback: one [DONE]"
expect_eq "$(grep -a -c '"role":"assistant"' "$T/early.body")" 1 "early reset + fallback: one role chunk (no splice)"
expect_eq "$(header early x-relay-target)" p2/up "early reset + fallback: x-relay-target names the target that served"
row "reset before any event -> fallback (stream)" "200 one whole stream from $(header early x-relay-target)" "$n1 + $n2" "$(ms_of early)"

mocks_reset "$MOCK_URL"
st=$(chat early1 m "reset always [[mock reset_after=0]]" true)
n=$(attempts "$MOCK_URL")
expect_eq "$n" 2 "early reset, one target: calls"
if [ "$st" = 200 ]; then
	sse_summary early1
	expect_eq "$(sse early1 errors)" 1 "early reset, one target: one error event"
	expect_eq "$(sse early1 text)" "" "early reset, one target: no text"
	saw="200 + error event ($(sse early1 first_error.code))"
else
	expect is_openai_error is_openai_error early1
	saw="$st JSON error"
fi
row "reset before any event, no fallback (stream)" "$saw" "$n" "$(ms_of early1)"

mocks_reset "$MOCK_URL"
st=$(chat cut m "cut [[mock close_after=0]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 502 "plain answer cut: status"
expect is_openai_error is_openai_error cut
expect_eq "$n" 2 "plain answer cut: calls"
row "plain answer cut after the head" "$st $(jget error.code "$T/cut.body")" "$n" "$(ms_of cut)"

fault_finish
