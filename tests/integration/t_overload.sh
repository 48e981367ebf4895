#!/usr/bin/env bash
# Overload is an answer, not a queue (issue 15): relay-chat on the loop
# runtime with a ceiling of 3 requests in flight (RELAY_MAX_INFLIGHT=3).
# Three slow streams fill it; a fourth request, in each dialect, is
# answered 503 at once with Retry-After in its own error shape and counted
# in /metrics; once the streams end, requests pass again. And on the
# default ceiling, 150 streams side by side all stream at once (no request
# waits behind another's stream). Own stack.
. "$(dirname "$0")/lib.sh"

export RELAY_RUNTIME=loop RELAY_MAX_INFLIGHT=3
own_stack_start
unset RELAY_MAX_INFLIGHT

slow=$(chat_json demo 'hi [[mock events=20 gap_ms=150]]' true)
for i in 1 2 3; do
	MAX_TIME=30 post "slow$i" "$slow" >/dev/null &
	BG_PIDS+=($!)
done
# Until the three are in flight (each has its first event out).
wait_until 100 bash -c "grep -qs '^data: ' '$T/slow1.body' && grep -qs '^data: ' '$T/slow2.body' && grep -qs '^data: ' '$T/slow3.body'" ||
    fail "the three slow streams did not start"

t0=$(now_ms)
st=$(post o1 "$(chat_json demo hello)")
ms=$(($(now_ms) - t0))
assert_eq "$st" 503 "4th request (OpenAI): status"
assert_api_error o1 503 overloaded
assert_match "$(header o1 retry-after)" '^[0-9]+$' "OpenAI: Retry-After"
assert_le "$ms" 1000 "the 503 came at once (ms)"

st=$(req o2 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' \
    -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"demo","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}')
assert_eq "$st" 503 "4th request (Anthropic): status"
assert_eq "$(jget type "$T/o2.body")" error "Anthropic shape: type"
assert_eq "$(jget error.type "$T/o2.body")" api_error "Anthropic shape: error.type (503)"
assert_match "$(jget error.message "$T/o2.body")" 'in flight' "Anthropic shape: error.message"
assert_match "$(header o2 retry-after)" '^[0-9]+$' "Anthropic: Retry-After"

st=$(req o3 "$BASE_URL/v1beta/models/demo:generateContent" -H 'Content-Type: application/json' \
    -d '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}')
assert_eq "$st" 503 "4th request (Gemini): status"
assert_eq "$(jget error.code "$T/o3.body")" 503 "Gemini shape: error.code"
assert_eq "$(jget error.status "$T/o3.body")" UNAVAILABLE "Gemini shape: error.status"

wait "${BG_PIDS[@]}" # (not a bare wait: the stack is our child too)
BG_PIDS=()
for i in 1 2 3; do
	assert_eq "$(cat "$T/slow$i.code")" 200 "slow stream $i: status"
	assert_ge "$(data_lines "$T/slow$i.body" | wc -l)" 20 "slow stream $i: events"
done
st=$(post after "$(chat_json demo hello)")
assert_eq "$st" 200 "after the streams: status"

metrics=$(curl -sS "$BASE_URL/metrics")
n=$(grep -E '^relay_ratelimit_refusals_total\{kind="overload"\}' <<<"$metrics" | awk '{ print $2 }')
assert_eq "${n:-0}" 3 "relay_ratelimit_refusals_total{kind=overload}"

# Far below the default ceiling nothing is refused, and no stream waits
# behind another: 150 streams of 10 events 400 ms apart, started
# together, each gets its first event within 2 s (a pool of 128 threads
# holds the 129th for a whole stream, 4 s).
stack_stop
own_stack_start
many=$(chat_json demo 'hi [[mock events=10 gap_ms=400]]' true)
printf '%s' "$many" >"$T/many.req"
for i in $(seq 1 150); do
	curl -sS -N --max-time 30 -o "$T/m$i.body" -w '%{http_code} %{time_starttransfer}\n' \
	    "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
	    --data-binary "@$T/many.req" >"$T/m$i.out" 2>/dev/null &
	BG_PIDS+=($!)
done
wait "${BG_PIDS[@]}"
BG_PIDS=()
ok=$(cat "$T"/m*.out | awk '$1 == 200' | wc -l)
slowest=$(cat "$T"/m*.out | awk '{ if ($2 > m) m = $2 } END { printf "%d", m * 1000 }')
assert_eq "$ok" 150 "150 streams at once: answered 200"
assert_le "$slowest" 2000 "150 streams at once: the slowest first byte (ms)"
measure "ceiling 3: 503 in ${ms} ms in each dialect; 150 streams at once: slowest first byte ${slowest} ms"
