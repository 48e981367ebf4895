#!/usr/bin/env bash
# A revoked key. The provider has keys k-good and k-bad; its mock (a second
# one, started with -k k-good) answers 401 to k-bad. Policy: a 401 moves
# the call on to the next key, and when that key serves, the refused one is
# benched (keypool.auth_bench_s, re-checked after auth_recheck_s). Expect:
# the first request that lands on k-bad gets 200 after 2 calls; from then
# on every request uses k-good only, 1 call each.
# With k-bad as the only key: no other key to try; after 1 call the client
# gets 502 upstream_auth_failed (the relay's key was refused, not the
# client's; retrying the same revoked key cannot help).
# tests/security/t_sec_key_bench.sh covers the rest of the class.
. "$(dirname "$0")/fault_lib.sh"

start_mock2 -k k-good
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 3, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "pool", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-good", "k-bad"] },
    { "name": "revoked", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-bad"] } ],
  "models": [
    { "name": "pool", "targets": [{ "provider": "pool", "model": "up" }] },
    { "name": "revoked", "targets": [{ "provider": "revoked", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

# Until one request meets k-bad (round robin: within 2 requests).
benched=0
for i in 1 2 3; do
	mocks_reset "$MOCK2_URL"
	st=$(chat b$i pool "who am I $i")
	keys_used "$MOCK2_URL" >"$T/b$i.keys"
	expect_eq "$st" 200 "request $i: status"
	expect_eq "$(answer_text b$i)" "$(mock_text "who am I $i")" "request $i: answer"
	if grep -q k-bad "$T/b$i.keys"; then
		expect_eq "$(tr '\n' ' ' <"$T/b$i.keys")" "k-bad k-good " "request $i: k-bad (401), then k-good"
		expect_eq "$(header b$i x-relay-attempts)" 2 "request $i: x-relay-attempts"
		row "401 on key k-bad of 2" "$st, served by k-good" "$(wc -l <"$T/b$i.keys")" "$(ms_of b$i)"
		benched=1
		break
	fi
done
expect_eq "$benched" 1 "some request met k-bad"

mocks_reset "$MOCK2_URL"
for i in 1 2 3 4 5 6; do
	st=$(chat a$i pool "after the bench $i")
	expect_eq "$st" 200 "after the bench $i: status"
done
keys_used "$MOCK2_URL" >"$T/after.keys"
expect_eq "$(grep -c k-bad "$T/after.keys")" 0 "after the bench: calls with k-bad"
expect_eq "$(wc -l <"$T/after.keys")" 6 "after the bench: one call per request"
row "6 requests after the bench" "6 x 200" "$(wc -l <"$T/after.keys") (k-bad: $(grep -c k-bad "$T/after.keys"))" "-"

mocks_reset "$MOCK2_URL"
st=$(chat r revoked "only a revoked key")
n=$(attempts "$MOCK2_URL")
expect_eq "$st" 502 "only key revoked: 502"
expect is_openai_error is_openai_error r
expect_eq "$(jget error.code "$T/r.body")" upstream_auth_failed "only key revoked: error.code"
expect_eq "$n" 1 "only key revoked: calls (no other key to try)"
row "401, the only key" "$st upstream_auth_failed" "$n" "$(ms_of r)"

fault_finish
