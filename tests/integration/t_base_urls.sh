#!/usr/bin/env bash
# A provider with several base_urls (nodes of one API, e.g. overseas relay
# nodes): each call goes to one by weight; each has its own breaker, so a
# dead node is retried on another node at once and, once its breaker is
# open, no longer called, while the provider's other nodes serve.
#  - "spread": two live mocks, weights 3:1 -> both serve, the first ~3x;
#  - "half": a closed port and a live mock (1:1), breaker failures 2 ->
#    every request 200; the dead node costs at most 2 failed calls plus
#    breaker probes, never one per request.
. "$(dirname "$0")/fault_lib.sh"

start_mock2
DEAD=$(stack_free_port)
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 10, "max_delay_ms": 50, "deadline_ms": 20000 },
  "breaker": { "failures": 2, "window_s": 60, "open_s": 60 },
  "providers": [
    { "name": "spread", "type": "openai", "api_keys": ["k"],
      "base_urls": [{ "url": "http://127.0.0.1:@MOCK_PORT@/v1", "weight": 3 },
                    { "url": "http://127.0.0.1:$MOCK2_PORT/v1/", "weight": 1 }] },
    { "name": "half", "type": "openai", "api_keys": ["k"],
      "base_urls": ["http://127.0.0.1:$DEAD/v1", "http://127.0.0.1:$MOCK2_PORT/v1"] } ],
  "models": [
    { "name": "spread", "targets": [{ "provider": "spread", "model": "up" }] },
    { "name": "half", "targets": [{ "provider": "half", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

mocks_reset "$MOCK_URL" "$MOCK2_URL"
for i in $(seq 1 40); do
	st=$(chat s$i spread "spread $i")
	expect_eq "$st" 200 "spread $i: status"
done
n1=$(attempts "$MOCK_URL")
n2=$(attempts "$MOCK2_URL")
row "40 requests, weights 3:1" "node 1: $n1 calls, node 2: $n2" "$((n1 + n2))" "-"
expect_eq "$((n1 + n2))" 40 "spread: one call per request"
expect_ge "$n2" 2 "spread: the weight-1 node serves too"
expect_ge "$n1" "$((n2 + 1))" "spread: the weight-3 node serves more"

mocks_reset "$MOCK2_URL"
total=0
for i in $(seq 1 20); do
	st=$(chat h$i half "half $i")
	expect_eq "$st" 200 "half $i: status"
	total=$((total + $(header h$i x-relay-attempts)))
done
n=$(attempts "$MOCK2_URL")
row "20 requests, 1 of 2 nodes dead" "20 x 200, live node $n calls" "$total" "$(ms_of h20)"
expect_eq "$n" 20 "half: the live node served each request once"
expect_le "$total" 23 "half: calls in all (20 + at most 2 failures + 1 probe)"
fault_finish
