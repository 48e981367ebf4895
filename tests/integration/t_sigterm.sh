#!/usr/bin/env bash
# SIGTERM to relay-chat while a stream is open: the stream completes, then
# the process exits by itself (status 0, "stopped" logged), well before
# the 30 s drain limit. Own stack (built-in config).
. "$(dirname "$0")/lib.sh"
own_stack_start

chat=$PID_relay_chat
curl -sS -N --max-time 20 "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "$(chat_json demo 'drain me [[mock events=8 gap_ms=300]]' true)" \
    -o "$T/s.body" 2>"$T/s.err" &
client=$!
BG_PIDS+=($client)
wait_until 50 grep -q '^data: ' "$T/s.body" || fail "the stream did not start"
kill -TERM "$chat"
t_term=$(now_ms)
sleep 0.3
grep -q '"content"' "$T/s.body" || fail "no content yet"
[ -d "/proc/$chat" ] && ! grep -q '^State:.*Z' "/proc/$chat/status" ||
    fail "relay-chat exited at once instead of draining"
wait "$client"
crc=$?
BG_PIDS=()
t_done=$(now_ms)
assert_eq "$crc" 0 "client curl: $(cat "$T/s.err")"
n=$(grep -c '^data: ' "$T/s.body")
assert_eq "$n" 11 "events of the drained stream"
assert_eq "$(grep '^data: ' "$T/s.body" | tail -n 1)" "data: [DONE]" "the drained stream ends with [DONE]"
# Exits soon after its last request finished.
for _ in $(seq 1 100); do
	{ [ ! -d "/proc/$chat" ] || grep -q '^State:.*Z' "/proc/$chat/status"; } && break
	sleep 0.1
done
t_exit=$(now_ms)
if [ -d "/proc/$chat" ] && ! grep -q '^State:.*Z' "/proc/$chat/status"; then
	fail "relay-chat still running $((t_exit - t_done)) ms after its stream ended (threads: $(threads_of "$chat"))"
fi
wait "$chat"
rc=$?
measure "relay-chat exited $((t_exit - t_done)) ms after the drained stream ended ($((t_exit - t_term)) ms after SIGTERM)"
assert_eq "$rc" 0 "relay-chat exit status"
assert_le "$((t_exit - t_done))" 3000 "exit after the stream ended (ms)"
assert_file_has "$OWN_DIR/logs/relay-chat.log" draining "log: draining"
assert_file_has "$OWN_DIR/logs/relay-chat.log" stopped "log: stopped"
assert_file_lacks "$OWN_DIR/logs/relay-chat.log" "still running after the drain" "log: cut requests"
