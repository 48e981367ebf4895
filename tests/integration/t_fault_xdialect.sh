#!/usr/bin/env bash
# Cross-dialect fallback. Model "x": an Anthropic-type target (first mock,
# 529 overloaded on every call via its x-mock-status header) at priority 0,
# then an OpenAI-type target (second mock) at priority 1, for an OpenAI
# client. Policy: max_attempts 2. Expect: 2 calls on /v1/messages, 1 on
# /chat/completions, the OpenAI answer whole (plain and stream).
# Model "y" the other way round (OpenAI target 503, Anthropic target 529):
# the final error is the Anthropic 529 translated into the OpenAI shape.
. "$(dirname "$0")/fault_lib.sh"

start_mock2
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@",
      "api_keys": ["k-an"], "headers": { "x-mock-status": "529" } },
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-oa"] },
    { "name": "oabad", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-oa"], "headers": { "x-mock-status": "503" } } ],
  "models": [
    { "name": "x", "targets": [
        { "provider": "an", "model": "claude-up", "priority": 0 },
        { "provider": "oa", "model": "gpt-up", "priority": 1 } ] },
    { "name": "y", "targets": [
        { "provider": "oabad", "model": "gpt-up", "priority": 0 },
        { "provider": "an", "model": "claude-up", "priority": 1 } ] } ] }
JSON
own_stack_start "$T/cfg.in"

for mode in false true; do
	sfx=$([ $mode = true ] && echo s)
	mocks_reset "$MOCK_URL" "$MOCK2_URL"
	msg="cross the border $sfx"
	st=$(chat x$sfx x "$msg" $mode)
	n1=$(attempts "$MOCK_URL" /v1/messages)
	n2=$(attempts "$MOCK2_URL" /chat/completions)
	expect_eq "$st" 200 "xdialect $sfx: status"
	expect_eq "$n1" 2 "xdialect $sfx: Anthropic calls"
	expect_eq "$n2" 1 "xdialect $sfx: OpenAI calls"
	expect_eq "$(header x$sfx x-relay-target)" oa/gpt-up "xdialect $sfx: x-relay-target"
	if [ $mode = true ]; then
		sse_summary xs
		expect_eq "$(sse xs text)" "$(mock_text "$msg")" "xdialect stream: text"
		expect_eq "$(sse xs errors)" 0 "xdialect stream: no error event"
		expect_eq "$(sse xs done)" 1 "xdialect stream: [DONE]"
	else
		expect_eq "$(answer_text x)" "$(mock_text "$msg")" "xdialect: answer"
		expect_eq "$(jget object "$T/x.body")" chat.completion "xdialect: OpenAI shape"
	fi
	row "anthropic 529 always -> openai (OpenAI client)$([ $mode = true ] && echo ' stream')" \
	    "$st whole answer, x-relay-target $(header x$sfx x-relay-target)" "$n1 + $n2" "$(ms_of x$sfx)"
done

# The other way round, everything failing: Anthropic's 529 last, in the
# OpenAI client's shape.
mocks_reset "$MOCK_URL" "$MOCK2_URL"
st=$(chat y y "all overloaded")
n1=$(attempts "$MOCK2_URL")
n2=$(attempts "$MOCK_URL")
expect_eq "$st" 529 "y: the last upstream status"
expect "y: an OpenAI-shaped error: $(head -c 200 "$T/y.body")" is_openai_error y
expect_eq "$n1 + $n2" "2 + 2" "y: calls"
row "openai 503 + anthropic 529 always (OpenAI client)" "$st $(jget error.type "$T/y.body"): $(jget error.message "$T/y.body" | head -c 40)" "$n1 + $n2" "$(ms_of y)"

# An Anthropic client served by the OpenAI fallback.
mocks_reset "$MOCK_URL" "$MOCK2_URL"
st=$(messages ax x "anthropic client crossing")
n1=$(attempts "$MOCK_URL")
n2=$(attempts "$MOCK2_URL")
expect_eq "$st" 200 "anthropic client: status"
expect_eq "$(jget content.0.text "$T/ax.body")" "$(mock_text "anthropic client crossing")" "anthropic client: text"
expect_eq "$n1 + $n2" "2 + 1" "anthropic client: calls"
row "anthropic 529 always -> openai (Anthropic client)" "$st $(jget type "$T/ax.body")" "$n1 + $n2" "$(ms_of ax)"

fault_finish
