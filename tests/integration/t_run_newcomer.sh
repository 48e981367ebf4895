#!/usr/bin/env bash
# The newcomer traps of make run (issue 20, item 7):
# - a config file without a "memcached" key uses the memcached make run
#   started (not 127.0.0.1:11211, where nothing may listen), so the demo
#   key is made and chat works;
# - /health/ready is valid JSON (a strict parser that refuses duplicate
#   keys) with one entry per target, though two models and an alias share
#   one;
# - a config the responders refuse stops make run at once with one line on
#   the terminal that says what is wrong and where (not lighttpd's HTML
#   503 and "could not make the demo key").
. "$(dirname "$0")/lib.sh"

unset RELAY_CONFIG RELAY_ADMIN_TOKEN RELAY_ADMIN_TOKEN_FILE RELAY_MEMCACHED
R_PORT=$(stack_free_port)
R_MC=$(stack_free_port)
while [ "$R_MC" = "$R_PORT" ]; do R_MC=$(stack_free_port); done
R_MOCK=$(stack_free_port)
while [ "$R_MOCK" = "$R_PORT" ] || [ "$R_MOCK" = "$R_MC" ]; do R_MOCK=$(stack_free_port); done

# run_sh OUT CONFIG: make run in the background, its terminal in OUT.
run_sh() {
	RELAY_CONFIG=$2 PORT=$R_PORT MC_PORT=$R_MC MOCK_PORT=$R_MOCK RUN_DIR=$T/run \
	    SERVER=$SERVER BUILD=$BUILD "$ROOT/scripts/run.sh" >"$1" 2>&1 &
	RUN_PID=$!
	BG_PIDS+=("$RUN_PID")
}
stop_run() {
	kill -TERM "$RUN_PID" 2>/dev/null
	wait_until 150 eval "! kill -0 $RUN_PID 2>/dev/null" || fail "run.sh did not stop on TERM"
}

# --- a config without memcached ----------------------------------------------
cat >"$T/nomc.json" <<EOF
{
  "providers": [{ "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:$R_MOCK/v1" }],
  "models": [
    { "name": "demo", "aliases": ["demo-alias"], "targets": [{ "provider": "mock", "model": "demo" }] },
    { "name": "demo-too", "targets": [{ "provider": "mock", "model": "demo" }] },
    { "name": "other", "targets": [{ "provider": "mock", "model": "demo" }, { "provider": "mock", "model": "m2" }] }
  ]
}
EOF
OUT=$T/run1.out
run_sh "$OUT" "$T/nomc.json"
wait_until 300 grep -q 'llm-relay is up' "$OUT" || fail "make run with a config without memcached: $(tail -n 5 "$OUT")"
KEY=$(cat "$T/run/demo.key")
BASE_URL=http://127.0.0.1:$R_PORT
st=$(post nomc "$(chat_json demo hi)" -H "Authorization: Bearer $KEY")
assert_eq "$st" 200 "chat with a config without memcached: $(head -c 300 "$T/nomc.body")"
assert_eq "$(req ready "$BASE_URL/health/ready")" 200 "/health/ready: $(head -c 300 "$T/ready.body")"
# The responders talk to make run's memcached: it has client connections
# besides the one asking (each client has a listen_addr line).
mc_clients() {
	local n
	exec 3<>"/dev/tcp/127.0.0.1/$R_MC" || return 1
	printf 'stats conns\r\nquit\r\n' >&3
	n=$(timeout 3 cat <&3 | grep -c ':listen_addr ')
	exec 3>&-
	echo $((n - 1))
}
conns=$(mc_clients)
assert_ge "$conns" 1 "client connections on make run's memcached (127.0.0.1:$R_MC)"
log "make run's memcached has $conns client connections"

# --- /health/ready: strict JSON, one entry per target ------------------------
python3 - "$T/ready.body" <<'PY' || fail "/health/ready is not strict JSON with one entry per target: $(cat "$T/ready.body")"
import json, sys
def strict(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError("duplicate keys: %s" % sorted(dup))
    return dict(pairs)
doc = json.load(open(sys.argv[1]), object_pairs_hook=strict)
want = {"mock/demo", "mock/m2"}
got = set(doc["breakers"])
if got != want:
    raise SystemExit("breakers %s, want %s" % (sorted(got), sorted(want)))
if doc["models"] != 3:
    raise SystemExit("models %r, want 3" % doc["models"])
PY
# The same parser on the admin's status, which reports the same breakers.
assert_eq "$(req status "$BASE_URL/admin/status" -H "Authorization: Bearer $(cat "$T/run/admin.token")")" 200 "/admin/status"
python3 -c '
import json, sys
def strict(p):
    k = [a for a, _ in p]
    assert len(k) == len(set(k)), "duplicate keys %r" % k
    return dict(p)
json.load(open(sys.argv[1]), object_pairs_hook=strict)' "$T/status.body" ||
    fail "/admin/status has duplicate keys: $(head -c 400 "$T/status.body")"
stop_run

# --- a config the responders refuse: one line, at once ---------------------------
printf '{"providers":[],"models":[]}\n' >"$T/bad.json"
OUT=$T/run2.out
t0=$(now_ms)
run_sh "$OUT" "$T/bad.json"
wait_until 150 eval "! kill -0 $RUN_PID 2>/dev/null" || fail "make run with a refused config still runs: $(tail -n 5 "$OUT")"
wait "$RUN_PID"
rc=$?
assert_ne "$rc" 0 "make run's exit status with a refused config"
measure "$SERVER | make run stops on a refused config after $(($(now_ms) - t0)) ms"
grep -q 'llm-relay is up' "$OUT" && fail "make run said it is up with a refused config"
grep -qi '<html\|DOCTYPE' "$OUT" && fail "make run printed a web server's HTML: $(cat "$OUT")"
n=$(grep -c '^run: ' "$OUT")
assert_eq "$n" 1 "lines of the refusal on the terminal: $(cat "$OUT")"
line=$(grep '^run: ' "$OUT")
assert_match "$line" "config $T/bad.json: \\\$\\.providers: must be a non-empty array" "the refusal line"
log "terminal: $line"
log ok
