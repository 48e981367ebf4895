#!/usr/bin/env bash
# While the upstream is silent the client gets ": keep-alive" comments
# (stream.heartbeat_ms 500), before the first data event; none while
# events flow faster than that; none in a non-stream answer.
. "$(dirname "$0")/lib.sh"

body=$(chat_json demo 'wait for it [[mock events=2 first_ms=1500]]' true)
t0=$(now_ms)
hb_first=""
hb_before=0
data_first=""
while IFS= read -r line; do
	case $line in
	": keep-alive"*)
		[ -z "$hb_first" ] && hb_first=$(($(now_ms) - t0))
		[ -z "$data_first" ] && hb_before=$((hb_before + 1))
		;;
	data:*)
		[ -z "$data_first" ] && data_first=$(($(now_ms) - t0))
		echo "$line" >>"$T/hb.data"
		;;
	esac
done < <(curl -sS -N --max-time 10 -D "$T/hb.head" "$BASE_URL/v1/chat/completions" \
    -H 'Content-Type: application/json' -d "$body")
measure "first heartbeat after ${hb_first:-none} ms, $hb_before heartbeats before the first data event at ${data_first:-none} ms"
[ -n "$hb_first" ] || fail "no heartbeat"
assert_ge "$hb_before" 2 "heartbeats before the first event (upstream silent 1.5 s)"
assert_le "$hb_first" 1100 "first heartbeat late (ms)"
assert_ge "$data_first" 1400 "first event before first_ms"
assert_eq "$(tail -n 1 "$T/hb.data")" "data: [DONE]" "stream completes"
assert_eq "$(wc -l <"$T/hb.data")" 5 "data events"

# Events every 150 ms: no heartbeat needed.
st=$(post fast "$(chat_json demo 'fast [[mock events=8 gap_ms=150]]' true)")
assert_eq "$st" 200 "fast: status"
assert_file_lacks "$T/fast.body" ": keep-alive" "fast: heartbeat while events flow"

# A non-stream request that takes 1.2 s: a plain JSON body, no comments.
st=$(post slow "$(chat_json demo 'slow [[mock delay_ms=1200]]')")
assert_eq "$st" 200 "non-stream slow: status"
assert_file_lacks "$T/slow.body" "keep-alive" "non-stream slow: heartbeat in a JSON body"
assert_eq "$(jget object "$T/slow.body")" chat.completion "non-stream slow: JSON body"
