#!/usr/bin/env bash
# A client that goes away mid-stream cancels the upstream request: the
# mock sees its connection close (streams_aborted) long before the stream
# would have ended. Once while events flow (gap_ms), once while the
# upstream is still silent and only heartbeats flow (first_ms).
. "$(dirname "$0")/lib.sh"

# Caddy notices a gone client later than lighttpd.
bound=1500
[ "$SERVER" = caddy ] && bound=3000

abort_case() { # name directive
	local name=$1 dir=$2 before opened t0 ms now
	before=$(mock_stat streams_aborted)
	opened=$(mock_stat streams_started)
	t0=$(now_ms)
	curl -sS -N --max-time 0.6 "$BASE_URL/v1/chat/completions" \
	    -H 'Content-Type: application/json' \
	    -d "$(chat_json demo "abort me [[mock $dir]]" true)" >"$T/$name.body" 2>"$T/$name.err"
	assert_eq "$?" 28 "$name: curl should have been cut by --max-time"
	assert_eq "$(mock_stat streams_started)" "$((opened + 1))" "$name: the upstream stream started"
	while :; do
		now=$(mock_stat streams_aborted)
		ms=$(($(now_ms) - t0))
		[ "$now" -gt "$before" ] && break
		[ "$ms" -gt $((600 + bound + 3000)) ] && break
		sleep 0.05
	done
	measure "$name: upstream cancelled $((ms - 600)) ms after the client left (bound $bound ms)"
	[ "$now" -gt "$before" ] || fail "$name: the mock never saw the upstream connection close"
	assert_le "$((ms - 600))" "$bound" "$name: upstream cancelled late (ms after the client left)"
	# The upstream stream would have lasted >= 10 s.
	assert_le "$ms" 5000 "$name: not long before the stream would have ended"
	wait_until 30 test "$(mock_stat open_streams)" = 0 ||
	    fail "$name: open_streams stays $(mock_stat open_streams)"
}

abort_case flowing 'events=20 gap_ms=500'
assert_file_has "$T/flowing.body" "data: " "flowing: events reached the client"
abort_case silent 'events=3 first_ms=10000'
assert_file_has "$T/silent.body" ": keep-alive" "silent: heartbeats reached the client"

# The relay is fine afterwards.
st=$(post after "$(chat_json demo 'still there?')")
assert_eq "$st" 200 "a request after the aborts"
