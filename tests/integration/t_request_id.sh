#!/usr/bin/env bash
# x-request-id: a plain client id is echoed, anything else replaced by 32
# hex; on successes, errors and streams; every route.
. "$(dirname "$0")/lib.sh"

post r1 "$(chat_json demo hi)" -H 'x-request-id: itest-abc.123_X' >/dev/null
assert_eq "$(header r1 x-request-id)" itest-abc.123_X "success: echoed"
post r2 "$(chat_json nope hi)" -H 'x-request-id: itest-err-1' >/dev/null
assert_eq "$(header r2 x-request-id)" itest-err-1 "404: echoed"
post r3 "$(chat_json demo hi true)" -H 'x-request-id: itest-stream-1' >/dev/null
assert_eq "$(header r3 x-request-id)" itest-stream-1 "stream: echoed"
post r4 "$(chat_json demo 'x [[mock status=500]]')" -H 'x-request-id: itest-up-500' >/dev/null
assert_eq "$(header r4 x-request-id)" itest-up-500 "upstream 500: echoed"

post r5 "$(chat_json demo hi)" -H 'x-request-id: has space<script>' >/dev/null
assert_match "$(header r5 x-request-id)" '^[0-9a-f]{32}$' "unsafe id replaced"
long=$(printf 'a%.0s' $(seq 1 65))
post r6 "$(chat_json demo hi)" -H "x-request-id: $long" >/dev/null
assert_match "$(header r6 x-request-id)" '^[0-9a-f]{32}$' "65-byte id replaced"
ok64=$(printf 'b%.0s' $(seq 1 64))
post r7 "$(chat_json demo hi)" -H "x-request-id: $ok64" >/dev/null
assert_eq "$(header r7 x-request-id)" "$ok64" "64-byte id kept"

post r8 "$(chat_json demo hi)" >/dev/null
post r9 "$(chat_json demo hi)" >/dev/null
a=$(header r8 x-request-id)
b=$(header r9 x-request-id)
assert_match "$a" '^[0-9a-f]{32}$' "generated id"
assert_ne "$a" "$b" "two requests, two ids"

for u in /v1/models /v1/models/demo /health /health/ready /admin/status; do
	n=$(echo "$u" | tr '/' '_')
	req "g$n" "$BASE_URL$u" -H 'x-request-id: itest-route' >/dev/null
	assert_eq "$(header "g$n" x-request-id)" itest-route "$u: echoed"
done
