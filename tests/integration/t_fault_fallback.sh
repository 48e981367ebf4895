#!/usr/bin/env bash
# Fallback across providers. Model "fb": p1 (priority 0, first mock, made
# to answer 503 to everything through its configured x-mock-status header)
# then p2 (priority 1, a second mock, healthy). Policy: max_attempts 2 per
# target. Expect: 200 from p2 after 2 calls on p1 and 1 on p2,
# x-relay-target p2/..., x-relay-attempts 3; a stream is one whole answer
# from p2. Model "both" (p2 also failing, 500): the last upstream error
# (p2's 500) passed through after 2 + 2 calls, never more.
. "$(dirname "$0")/fault_lib.sh"

start_mock2
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-p1"], "headers": { "x-mock-status": "503" } },
    { "name": "p2", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-p2"] },
    { "name": "p2bad", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-p2"], "headers": { "x-mock-status": "500" } } ],
  "models": [
    { "name": "fb", "targets": [
        { "provider": "p2", "model": "second", "priority": 1 },
        { "provider": "p1", "model": "first", "priority": 0 } ] },
    { "name": "both", "targets": [
        { "provider": "p1", "model": "first", "priority": 0 },
        { "provider": "p2bad", "model": "second", "priority": 1 } ] } ] }
JSON
own_stack_start "$T/cfg.in"

for mode in false true; do
	sfx=$([ $mode = true ] && echo s)
	mocks_reset "$MOCK_URL" "$MOCK2_URL"
	msg="please fall back $sfx"
	st=$(chat fb$sfx fb "$msg" $mode)
	n1=$(attempts "$MOCK_URL")
	n2=$(attempts "$MOCK2_URL")
	expect_eq "$st" 200 "fallback $sfx: status"
	expect_eq "$n1" 2 "fallback $sfx: calls on p1 (max_attempts)"
	expect_eq "$n2" 1 "fallback $sfx: calls on p2"
	expect_eq "$(header fb$sfx x-relay-target)" p2/second "fallback $sfx: x-relay-target"
	expect_eq "$(header fb$sfx x-relay-attempts)" 3 "fallback $sfx: x-relay-attempts"
	if [ $mode = true ]; then
		sse_summary fbs
		expect_eq "$(sse fbs text)" "$(mock_text "$msg")" "fallback stream: text is p2's answer, once"
		expect_eq "$(sse fbs errors)" 0 "fallback stream: no error event"
		expect_eq "$(sse fbs done)" 1 "fallback stream: one [DONE]"
		saw="$st one whole stream"
	else
		expect_eq "$(answer_text fb)" "$(mock_text "$msg")" "fallback: answer"
		saw="$st whole answer"
	fi
	row "p1 503 always -> p2 (priority 1)$([ $mode = true ] && echo ' stream')" \
	    "$saw, x-relay-target $(header fb$sfx x-relay-target), x-relay-attempts $(header fb$sfx x-relay-attempts)" \
	    "$n1 + $n2" "$(ms_of fb$sfx)"
done

# Everything failing: the last upstream error, bounded attempts.
mocks_reset "$MOCK_URL" "$MOCK2_URL"
st=$(chat both both "nothing works")
n1=$(attempts "$MOCK_URL")
n2=$(attempts "$MOCK2_URL")
expect_eq "$st" 500 "all targets failing: the last upstream status (p2's 500)"
expect is_openai_error is_openai_error both
expect_eq "$n1" 2 "all failing: calls on p1"
expect_eq "$n2" 2 "all failing: calls on p2"
row "p1 503 + p2 500 always" "$st ($(jget error.message "$T/both.body" | head -c 50))" "$n1 + $n2" "$(ms_of both)"

fault_finish
