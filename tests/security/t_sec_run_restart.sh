#!/usr/bin/env bash
# make run as a small deployment (issue 19, item 9): scripts/run.sh starts a
# component that died again and says so on the terminal, while the rest
# serve on. memcached killed: chat requests are answered (fail-open, as
# docs/resilience.md says) and memcached is back within seconds;
# relay-chat killed: it comes back and requests succeed again; a component
# that dies in a loop is given up after RUN_RESTART_MAX restarts, said on
# the terminal, and the rest still serve.
. "$(dirname "$0")/../integration/lib.sh"

unset RELAY_CONFIG RELAY_ADMIN_TOKEN RELAY_ADMIN_TOKEN_FILE
R_PORT=$(stack_free_port)
R_MC=$(stack_free_port)
while [ "$R_MC" = "$R_PORT" ]; do R_MC=$(stack_free_port); done
R_MOCK=$(stack_free_port)
while [ "$R_MOCK" = "$R_PORT" ] || [ "$R_MOCK" = "$R_MC" ]; do R_MOCK=$(stack_free_port); done
OUT=$T/run.out
PORT=$R_PORT MC_PORT=$R_MC MOCK_PORT=$R_MOCK RUN_DIR=$T/run SERVER=$SERVER BUILD=$BUILD \
    RUN_RESTART_MAX=3 RUN_RESTART_WINDOW=60 "$ROOT/scripts/run.sh" >"$OUT" 2>&1 &
RUN_PID=$!
BG_PIDS+=("$RUN_PID")
wait_until 300 grep -q 'llm-relay is up' "$OUT" || fail "run.sh did not start: $(tail -n 20 "$OUT")"
KEY=$(grep -o 'sk-relay-[0-9a-f]*' "$OUT" | head -n 1)
[ -n "$KEY" ] || fail "no demo key in run.sh's output"
BASE_URL=http://127.0.0.1:$R_PORT

# The PID of run.sh's child running the program NAME.
child() { ps -o pid=,args= --ppid "$RUN_PID" | awk -v n="$1" '$2 ~ "(^|/)" n "$" { print $1; exit }'; }
chat_ok() {
	[ "$(post "$1" "$(chat_json demo hi)" -H "Authorization: Bearer $KEY")" = 200 ]
}
# said PATTERN: the terminal got a line matching PATTERN (ERE) within 10 s.
said() { wait_until 100 grep -qE "$1" "$OUT"; }

chat_ok first || fail "chat before any kill: $(cat "$T/first.code") $(head -c 300 "$T/first.body")"
PIDS_BEFORE=$(ps -o pid= --ppid "$RUN_PID" | tr -s ' \n' ' ')

# --- memcached dies: fail-open, and it comes back -------------------------
MC=$(child memcached)
[ -n "$MC" ] || fail "no memcached under run.sh"
t0=$(now_ms)
kill -KILL "$MC"
for i in 1 2 3; do
	chat_ok "mc_down$i" || fail "chat with memcached killed: $(cat "$T/mc_down$i.code") $(head -c 300 "$T/mc_down$i.body")"
done
said "run: memcached \\(pid $MC\\) died \\(killed by SIGKILL\\); restarted as pid [0-9]+" ||
    fail "no restart line for memcached: $(tail -n 5 "$OUT")"
wait_until 100 stack_tcp_up "$R_MC" || fail "memcached not back on $R_MC"
measure "$SERVER | memcached back after $(($(now_ms) - t0)) ms"
MC2=$(child memcached)
[ -n "$MC2" ] && [ "$MC2" != "$MC" ] || fail "memcached: no new process"
grep -E "run: memcached" "$OUT" | sed 's/^/  terminal: /'
kill -0 "$RUN_PID" || fail "run.sh exited after memcached died"

# --- relay-chat dies: it comes back, requests succeed again ------------------
CH=$(child relay-chat)
[ -n "$CH" ] || fail "no relay-chat under run.sh"
t0=$(now_ms)
kill -KILL "$CH"
said "run: relay-chat \\(pid $CH\\) died \\(killed by SIGKILL\\); restarted as pid [0-9]+" ||
    fail "no restart line for relay-chat: $(tail -n 5 "$OUT")"
wait_until 100 chat_ok chat_back || fail "chat not back after relay-chat restarted: $(cat "$T/chat_back.code")"
measure "$SERVER | relay-chat serving again after $(($(now_ms) - t0)) ms"
grep -E "run: relay-chat" "$OUT" | sed 's/^/  terminal: /'

# --- a component that dies in a loop is given up -------------------------------
for n in 1 2 3 4; do
	M=$(child mock-upstream)
	[ -n "$M" ] || fail "no mock under run.sh (death $n)"
	kill -KILL "$M"
	if [ "$n" -le 3 ]; then
		said "run: mock \\(pid $M\\) died .*restarted as pid [0-9]+ \\($n of 3" ||
		    fail "mock death $n: no restart line: $(tail -n 3 "$OUT")"
	else
		said "run: mock \\(pid $M\\) died .*gave up after 3 restarts" ||
		    fail "mock death $n: not given up: $(tail -n 3 "$OUT")"
	fi
done
grep -E "run: mock" "$OUT" | sed 's/^/  terminal: /'
sleep 1
[ -z "$(child mock-upstream)" ] || fail "a mock runs again after it was given up"
kill -0 "$RUN_PID" || fail "run.sh exited after giving up the mock"
# The rest serves: the web server, the responders (chat answers, with the
# upstream gone, with its own error).
assert_eq "$(req live "$BASE_URL/health")" 200 "/health after the mock was given up"
assert_eq "$(req models "$BASE_URL/v1/models" -H "Authorization: Bearer $KEY")" 200 "/v1/models after the mock was given up"
st=$(post nomock "$(chat_json demo hi)" -H "Authorization: Bearer $KEY")
assert_match "$st" '^50[234]$' "chat without an upstream: the relay's own error"

# --- Ctrl-C (TERM) stops everything it started -------------------------------------
LEFT=$(ps -o pid= --ppid "$RUN_PID" | tr -s ' \n' ' ')
kill -TERM "$RUN_PID"
wait_until 150 eval "! kill -0 $RUN_PID 2>/dev/null" || fail "run.sh did not stop on TERM"
for p in $PIDS_BEFORE $LEFT; do
	if kill -0 "$p" 2>/dev/null && ps -o args= -p "$p" | grep -q "$T/run\|$R_MC\|$R_MOCK"; then
		fail "process $p of run.sh still alive after TERM"
	fi
done
log ok
