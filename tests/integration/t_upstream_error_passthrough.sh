#!/usr/bin/env bash
# Upstream HTTP errors pass through with their status, body and
# Retry-After, stream or not; but a 401 (the provider refused the relay's
# own key) becomes 502 upstream_auth_failed.
. "$(dirname "$0")/lib.sh"

st=$(post e1 "$(chat_json demo 'Slow down [[mock status=429 retry_after=7]]')")
assert_eq "$st" 429 "429: status"
assert_eq "$(header e1 retry-after)" 7 "429: Retry-After"
assert_eq "$(jget error.code "$T/e1.body")" rate_limit_exceeded "429: the mock's error.code"
assert_eq "$(jget error.message "$T/e1.body")" "Rate limit reached for requests (mock)." "429: the mock's message"
assert_match "$(header e1 x-request-id)" '.' "429: x-request-id"

# The same for a stream request: the error comes before any event, so it
# is a plain JSON error response, not a 200 stream.
st=$(post e2 "$(chat_json demo 'Slow down [[mock status=429 retry_after=3]]' true)")
assert_eq "$st" 429 "stream 429: status"
assert_eq "$(header e2 retry-after)" 3 "stream 429: Retry-After"
assert_match "$(header e2 content-type)" '^application/json' "stream 429: content-type"
assert_eq "$(jget error.code "$T/e2.body")" rate_limit_exceeded "stream 429: error.code"

for s in 400 401 500 503; do
	st=$(post e$s "$(chat_json demo "Fail [[mock status=$s]]")")
	# A 401 refused the relay's provider key, not the client's: 502
	# upstream_auth_failed (tests/security/t_sec_key_bench.sh).
	if [ "$s" = 401 ]; then
		assert_eq "$st" 502 "upstream 401: status"
		assert_eq "$(jget error.code "$T/e$s.body")" upstream_auth_failed "upstream 401: error.code"
		continue
	fi
	assert_eq "$st" "$s" "upstream $s: status"
	assert_ne "$(jget error.message "$T/e$s.body")" __missing__ "upstream $s: error.message"
	[ -z "$(header e$s retry-after)" ] || fail "upstream $s: a Retry-After out of nowhere"
done
