#!/usr/bin/env bash
# 50 concurrent streams on one relay-chat process: all complete with every
# event and [DONE]; the process's RSS while they are open is printed.
. "$(dirname "$0")/lib.sh"

N=50
EVENTS=10
body=$(chat_json demo "concurrent [[mock events=$EVENTS gap_ms=300]]" true)
rss0=$(rss_kb "$CHAT_PID")
t0=$(now_ms)
for i in $(seq 1 $N); do
	curl -sS -N --max-time 30 "$BASE_URL/v1/chat/completions" \
	    -H 'Content-Type: application/json' -d "$body" \
	    -o "$T/c$i.body" -w '%{http_code}' >"$T/c$i.code" 2>"$T/c$i.err" &
	BG_PIDS+=($!)
done
# All open at once: the mock holds N streams.
peak=0
rss=0
for _ in $(seq 1 60); do
	o=$(mock_stat open_streams)
	[ "$o" -gt "$peak" ] && peak=$o
	if [ "$o" -ge "$N" ]; then
		rss=$(rss_kb "$CHAT_PID")
		thr=$(threads_of "$CHAT_PID")
		break
	fi
	sleep 0.1
done
for p in "${BG_PIDS[@]}"; do wait "$p"; done
BG_PIDS=()
ms=$(($(now_ms) - t0))
measure "relay-chat ($BUILD) VmRSS ${rss} kB with $N streams open (idle before: ${rss0} kB, threads ${thr:-?}); all done in $ms ms"
assert_eq "$peak" "$N" "streams open at the mock at once"
bad=0
for i in $(seq 1 $N); do
	code=$(cat "$T/c$i.code")
	n=$(grep -c '^data: ' "$T/c$i.body")
	last=$(grep '^data: ' "$T/c$i.body" | tail -n 1)
	if [ "$code" != 200 ] || [ "$n" != $((EVENTS + 3)) ] || [ "$last" != "data: [DONE]" ]; then
		log "stream $i: status $code, $n data events, last '$last' $(cat "$T/c$i.err")"
		bad=$((bad + 1))
	fi
done
assert_eq "$bad" 0 "broken streams"
# 11 gaps of 300 ms each: concurrent, not one after another.
assert_le "$ms" 15000 "50 streams took (ms)"
