#!/usr/bin/env bash
# Provider "slow": first_byte_ms 1500, idle_ms 1000.
# - the upstream never answers, non-stream: 504 upstream_timeout
# - the same as a stream: heartbeats commit a 200 stream first, so the
#   timeout arrives as an SSE error event, without [DONE]
# - the upstream stalls mid-stream (2.5 s gaps): an SSE error event after
#   about idle_ms, without [DONE]
. "$(dirname "$0")/lib.sh"

t0=$(now_ms)
post h1 "$(chat_json slow 'hang [[mock hang=1]]')" >/dev/null
ms=$(($(now_ms) - t0))
measure "non-stream first-byte timeout answered after $ms ms (first_byte_ms 1500)"
assert_api_error h1 504 upstream_timeout
assert_ge "$ms" 1400 "504 came before first_byte_ms"
assert_le "$ms" 5000 "504 came late (ms)"

t0=$(now_ms)
post h2 "$(chat_json slow 'hang [[mock hang=1]]' true)" >/dev/null
ms=$(($(now_ms) - t0))
assert_eq "$(cat "$T/h2.code")" 200 "stream hang: status (committed by heartbeats)"
assert_file_has "$T/h2.body" ": keep-alive" "stream hang: heartbeats"
data_lines "$T/h2.body" >"$T/h2.data"
assert_eq "$(wc -l <"$T/h2.data")" 1 "stream hang: one data event"
sed 's/^data: //' "$T/h2.data" >"$T/h2.err"
assert_eq "$(jget error.code "$T/h2.err")" upstream_timeout "stream hang: error event code"
assert_file_lacks "$T/h2.body" "[DONE]" "stream hang: [DONE]"
assert_le "$ms" 5000 "stream hang: error event came late (ms)"

t0=$(now_ms)
MAX_TIME=8 post h3 "$(chat_json slow 'stall [[mock events=1 gap_ms=2500]]' true)" >/dev/null
ms=$(($(now_ms) - t0))
measure "mid-stream stall (idle_ms 1000, gaps 2500 ms) ended after $ms ms"
assert_eq "$(cat "$T/h3.code")" 200 "stall: status"
data_lines "$T/h3.body" >"$T/h3.data"
tail -n 1 "$T/h3.data" | sed 's/^data: //' >"$T/h3.last"
assert_eq "$(jget error.code "$T/h3.last")" upstream_timeout \
    "stall: last event is an upstream_timeout error (curl: $(cat "$T/h3.err"))"
assert_file_lacks "$T/h3.body" "[DONE]" "stall: [DONE]"
assert_le "$ms" 3000 "stall: the stream ended late (ms)"
