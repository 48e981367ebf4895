#!/usr/bin/env bash
# The first event reaches the client as soon as the upstream sends it, not
# when the upstream is done: events=5 gap_ms=300 lasts >= 1.8 s upstream.
. "$(dirname "$0")/lib.sh"

body=$(chat_json demo 'Early [[mock events=5 gap_ms=300]]' true)
t0=$(now_ms)
first=""
n=0
while IFS= read -r line; do
	case $line in
	data:*)
		[ -z "$first" ] && first=$(($(now_ms) - t0))
		n=$((n + 1))
		;;
	esac
done < <(curl -sS -N --max-time 15 "$BASE_URL/v1/chat/completions" \
    -H 'Content-Type: application/json' -d "$body")
total=$(($(now_ms) - t0))
measure "first data event after ${first:-none} ms, stream done after $total ms"
[ -n "$first" ] || fail "no data event"
assert_eq "$n" 8 "data events (role + 5 + finish + [DONE])"
assert_le "$first" 250 "first event (ms) came late: buffered?"
assert_ge "$total" 1200 "total time (ms): the gaps were not honoured"
