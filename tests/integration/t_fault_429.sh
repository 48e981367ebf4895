#!/usr/bin/env bash
# 429 storms with Retry-After. Policy: max_attempts 3; a 429 rests the key
# it came on for Retry-After seconds (shared in memcached).
#  - pool of 2 keys, the first call 429s (Retry-After 30, longer than the
#    deadline): the key rests, the other key serves at once (2 calls), and
#    while the rest lasts every later call goes to the other key only.
#  - then key B 429s as well (1 call, passed through); with every key
#    resting the relay's own 429 upstream_keys_resting with Retry-After,
#    and no upstream call at all.
#  - one key, 429 every time: 3 calls (waiting Retry-After between them),
#    then the upstream's 429 passed through with its Retry-After.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 3, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "pool", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-pool-a", "k-pool-b"] },
    { "name": "solo", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-solo"] } ],
  "models": [
    { "name": "pool", "targets": [{ "provider": "pool", "model": "up" }] },
    { "name": "solo", "targets": [{ "provider": "solo", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"

# Pool of two: the first call 429s (Retry-After 30), the other key serves.
mocks_reset "$MOCK_URL"
msg="storm [[mock fail_first=1 status=429 retry_after=30 key=s1]]"
st=$(chat p1 pool "$msg")
n=$(attempts "$MOCK_URL")
keys_used "$MOCK_URL" >"$T/p1.keys"
k429=$(sed -n 1p "$T/p1.keys")
kok=$(sed -n 2p "$T/p1.keys")
expect_eq "$st" 200 "pool: status (key A 429, Retry-After 30 > deadline 20 s; key B is free)"
expect_eq "$n" 2 "pool: upstream calls"
expect_eq "$(header p1 x-relay-attempts)" 2 "pool: x-relay-attempts"
expect_ne() { [ "$1" != "$2" ] || { FAULT_FAILS+=("$3"); echo "  EXPECT FAILED: $3"; }; }
expect_ne "$k429" "$kok" "pool: the retry used the other key ($k429 then $kok)"
[ "$st" = 200 ] && expect_eq "$(answer_text p1)" "$(mock_text "$msg")" "pool: answer"
expect_le "$(ms_of p1)" 3000 "pool: the other key serves without waiting out key A's Retry-After"
row "429 (Retry-After 30) on key A of 2" "$st$([ "$st" = 200 ] && echo ", served by key B")" "$n" "$(ms_of p1)"

# While key A rests, everything goes to key B.
mocks_reset "$MOCK_URL"
for i in 1 2 3 4 5 6; do
	st=$(chat q$i pool "calm $i")
	expect_eq "$st" 200 "pool: request $i during the rest"
done
keys_used "$MOCK_URL" >"$T/q.keys"
expect_eq "$(grep -c -- "$k429" "$T/q.keys")" 0 "pool: calls on the resting key during its rest"
expect_eq "$(wc -l <"$T/q.keys")" 6 "pool: one call per request during the rest"
row "6 requests while key A rests" "6 x 200" "$(wc -l <"$T/q.keys") (on key A: $(grep -c -- "$k429" "$T/q.keys"))" "-"

# Key B 429s too: it rests as well; the 429 is passed through.
mocks_reset "$MOCK_URL"
st=$(chat both pool "both limited [[mock status=429 retry_after=30]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 429 "key B 429 as well: status"
expect_eq "$n" 1 "key B 429 as well: calls (B once, A rests)"
expect is_openai_error is_openai_error both
expect_eq "$(header both retry-after)" 30 "key B 429: Retry-After"
row "429 on key B while A rests" "$st $(jget error.type "$T/both.body"), Retry-After $(header both retry-after)" "$n" "$(ms_of both)"
# Now every key rests: the relay answers itself, no call made.
mocks_reset "$MOCK_URL"
st=$(chat rest pool "while every key rests")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 429 "every key resting: status"
expect_eq "$n" 0 "every key resting: no upstream call"
expect_eq "$(jget error.code "$T/rest.body")" upstream_keys_resting "every key resting: code"
expect_match_ra() { [[ $(header rest retry-after) =~ ^[0-9]+$ ]] && [ "$(header rest retry-after)" -le 30 ]; }
expect "every key resting: Retry-After <= 30, got '$(header rest retry-after)'" expect_match_ra
row "request while both keys rest" "$st $(jget error.code "$T/rest.body"), Retry-After $(header rest retry-after)" "$n" "$(ms_of rest)"

# One key, 429 every time, Retry-After 1: three calls a second apart, then
# the upstream's 429 and its Retry-After passed through.
mocks_reset "$MOCK_URL"
st=$(chat solo solo "solo storm [[mock status=429 retry_after=1]]")
n=$(attempts "$MOCK_URL")
expect_eq "$st" 429 "one key: status"
expect_eq "$n" 3 "one key: upstream calls = max_attempts"
expect is_openai_error is_openai_error solo
expect_eq "$(jget error.type "$T/solo.body")" requests "one key: the upstream's own 429 body"
expect_eq "$(header solo retry-after)" 1 "one key: Retry-After passed through"
expect_ge "$(ms_of solo)" 1900 "one key: Retry-After honoured between the calls"
row "429 always, 1 key, Retry-After 1" "$st passed through, Retry-After $(header solo retry-after)" "$n" "$(ms_of solo)"

# The same as a stream.
mocks_reset "$MOCK_URL"
st=$(chat solos solo "solo storm [[mock status=429 retry_after=1]]" true)
n=$(attempts "$MOCK_URL")
expect_eq "$n" 3 "one key stream: upstream calls"
expect_eq "$st" 429 "one key stream: the 429 itself (nothing reached the client before)"
expect_eq "$(header solos retry-after)" 1 "one key stream: Retry-After"
row "429 always, 1 key (stream)" "$st, Retry-After '$(header solos retry-after)'" "$n" "$(ms_of solos)"

fault_finish
