#!/usr/bin/env bash
# Circuit breaker: failures 3 in window_s 30 opens it for open_s 5 (whole
# seconds: the steps below, a few hundred ms each on a slow machine, must
# all fall inside it).
# max_attempts 1 (one failure per request). Target p1/up serves models
# "cb" (p1 only) and "cbf" (p1, then p2 at priority 1 on a second mock).
#  - 3 requests with status=503: 3 calls, 3 x 503.
#  - the 4th (healthy) fails fast: no call, 503 upstream_circuit_open.
#  - "cbf" meanwhile goes straight to p2: no call on p1.
#  - after open_s one probe (healthy) goes through: 200, and the breaker
#    is closed again (the next request: 200, 1 call).
. "$(dirname "$0")/fault_lib.sh"

start_mock2
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 1, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 3, "window_s": 30, "open_s": 5 },
  "providers": [
    { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-1"] },
    { "name": "p2", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1", "api_keys": ["k-2"] } ],
  "models": [
    { "name": "cb", "targets": [{ "provider": "p1", "model": "up" }] },
    { "name": "cbf", "targets": [
        { "provider": "p1", "model": "up", "priority": 0 },
        { "provider": "p2", "model": "up", "priority": 1 } ] } ] }
JSON
own_stack_start "$T/cfg.in"

# Start early in a second-aligned 30 s window so the 3 failures share one.
while [ $(( $(date +%s) % 30 )) -gt 25 ]; do sleep 0.5; done
mocks_reset "$MOCK_URL" "$MOCK2_URL"
for i in 1 2 3; do
	st=$(chat f$i cb "failing $i [[mock status=503]]")
	expect_eq "$st" 503 "failure $i: status"
done
n=$(attempts "$MOCK_URL")
expect_eq "$n" 3 "3 failures: calls"
row "3 x 503 (failures 3)" "503 x3" "$n" "$(ms_of f3)"

mocks_reset "$MOCK_URL"
st=$(chat open cb "healthy but the breaker is open")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 503 "open: status"
expect_eq "$(jget error.code "$T/open.body")" upstream_circuit_open "open: code"
expect_eq "$n" 0 "open: no upstream call"
expect_le "$(ms_of open)" 300 "open: fails fast"
row "4th request, breaker open" "$st $(jget error.code "$T/open.body")" "$n" "$(ms_of open)"

mocks_reset "$MOCK_URL" "$MOCK2_URL"
st=$(chat openfb cbf "open, with a fallback")
n1=$(attempts "$MOCK_URL")
n2=$(attempts "$MOCK2_URL")
expect_eq "$st" 200 "open + fallback: status"
expect_eq "$n1 + $n2" "0 + 1" "open + fallback: calls p1 + p2"
expect_eq "$(header openfb x-relay-target)" p2/up "open + fallback: x-relay-target"
row "breaker open, model with fallback" "$st from $(header openfb x-relay-target)" "$n1 + $n2" "$(ms_of openfb)"

sleep 5.2
mocks_reset "$MOCK_URL"
st=$(chat probe cb "probe after open_s")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 200 "half-open probe: status"
expect_eq "$n" 1 "half-open probe: calls"
row "probe after open_s" "$st" "$n" "$(ms_of probe)"
mocks_reset "$MOCK_URL"
for i in 1 2 3; do
	st=$(chat closed$i cb "closed again $i")
	expect_eq "$st" 200 "closed again $i: status"
done
n=$(attempts "$MOCK_URL")
expect_eq "$n" 3 "closed again: calls"
row "3 requests after the probe" "200 x3" "$n" "-"

fault_finish
