#!/usr/bin/env bash
# Time to first byte of a stream: the mock directly vs through the relay
# (median of 20 curl time_starttransfer each). Printed; the relay may add
# at most 100 ms (generous: sanitizer builds on a loaded 2-core machine).
. "$(dirname "$0")/lib.sh"

body=$(chat_json demo 'ttft [[mock events=3]]' true)
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
run20() { # url file
	for _ in $(seq 1 20); do
		curl -sS -N --max-time 10 -o /dev/null -w '%{time_starttransfer}\n' "$1" \
		    -H 'Content-Type: application/json' -d "$body" || echo 99
	done >"$2"
}
run20 "$MOCK_URL/v1/chat/completions" "$T/direct"
run20 "$BASE_URL/v1/chat/completions" "$T/relay"
d=$(median <"$T/direct")
r=$(median <"$T/relay")
dms=$(awk -v x="$d" 'BEGIN { printf "%.2f", x * 1000 }')
rms=$(awk -v x="$r" 'BEGIN { printf "%.2f", x * 1000 }')
measure "stream TTFT median of 20: mock directly $dms ms, through $SERVER + relay-chat ($BUILD) $rms ms"
awk -v d="$d" -v r="$r" 'BEGIN { exit !(r - d < 0.100) }' ||
    fail "the relay adds $(awk -v d="$d" -v r="$r" 'BEGIN { printf "%.1f", (r - d) * 1000 }') ms to the first byte"
