#!/usr/bin/env bash
# Refused connections (a closed port). max_attempts 2.
#  - "fb": the closed port at priority 0, the mock at priority 1: 200 from
#    the mock, x-relay-target names it, x-relay-attempts 3, fast.
#  - "dead": only the closed port: 502 after 2 tries, fast; streamed: one
#    error, no answer text.
. "$(dirname "$0")/fault_lib.sh"

DEAD=$(stack_free_port)
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "dead", "type": "openai", "base_url": "http://127.0.0.1:$DEAD/v1",
      "api_keys": ["k-dead"], "timeouts": { "connect_ms": 1000 } },
    { "name": "live", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-live"] } ],
  "models": [
    { "name": "fb", "targets": [
        { "provider": "dead", "model": "up", "priority": 0 },
        { "provider": "live", "model": "up", "priority": 1 } ] },
    { "name": "dead", "targets": [{ "provider": "dead", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

for mode in false true; do
	sfx=$([ $mode = true ] && echo s)
	mocks_reset "$MOCK_URL"
	msg="around the dead one $sfx"
	st=$(chat fb$sfx fb "$msg" $mode)
	n=$(attempts "$MOCK_URL")
	expect_eq "$st" 200 "refused -> fallback $sfx: status"
	expect_eq "$n" 1 "refused -> fallback $sfx: calls on the live mock"
	expect_eq "$(header fb$sfx x-relay-target)" live/up "refused -> fallback $sfx: x-relay-target"
	expect_eq "$(header fb$sfx x-relay-attempts)" 3 "refused -> fallback $sfx: x-relay-attempts (2 refused + 1)"
	if [ $mode = true ]; then
		sse_summary fbs
		expect_eq "$(sse fbs text)" "$(mock_text "$msg")" "refused -> fallback stream: text"
		expect_eq "$(sse fbs errors)" 0 "refused -> fallback stream: no error"
	else
		expect_eq "$(answer_text fb)" "$(mock_text "$msg")" "refused -> fallback: text"
	fi
	expect_le "$(ms_of fb$sfx)" 2000 "refused -> fallback $sfx: fast"
	row "refused -> fallback$([ $mode = true ] && echo ' (stream)')" "$st whole answer, x-relay-target $(header fb$sfx x-relay-target), x-relay-attempts $(header fb$sfx x-relay-attempts)" "2 refused + $n" "$(ms_of fb$sfx)"
done

before=$(grep -ac 'attempt [0-9] on dead/up failed' "$OWN_DIR/logs/relay-chat.log")
st=$(chat d dead "nobody home")
expect_eq "$st" 502 "refused only: status"
expect is_openai_error is_openai_error d
expect_eq "$(header d x-relay-attempts)" 2 "refused only: x-relay-attempts"
expect_eq "$(($(grep -ac 'attempt [0-9] on dead/up failed' "$OWN_DIR/logs/relay-chat.log") - before))" 2 "refused only: tries logged"
expect_le "$(ms_of d)" 2000 "refused only: fast"
row "refused, no fallback" "$st $(jget error.code "$T/d.body")" "2 (refused)" "$(ms_of d)"

st=$(chat ds dead "nobody home" true)
if [ "$st" = 200 ]; then
	sse_summary ds
	expect_eq "$(sse ds errors)" 1 "refused only stream: one error event"
	expect_eq "$(sse ds text)" "" "refused only stream: no text"
	saw="200 + error event ($(sse ds first_error.code))"
else
	expect is_openai_error is_openai_error ds
	saw="$st $(jget error.code "$T/ds.body")"
fi
row "refused, no fallback (stream)" "$saw" "2 (refused)" "$(ms_of ds)"

fault_finish
