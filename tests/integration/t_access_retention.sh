#!/usr/bin/env bash
# The access log in day files: RELAY_ACCESS_LOG is a symlink to today's
# file <log>.YYYY-MM-DD, written by every responder process; with
# access_log.hash_chain each line carries the hash of the line before it,
# across processes, and `relay-admin verify-access-log` finds a changed
# line; day files older than access_log.retention_days go when a
# responder starts (or the day changes), other files stay.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "access_log": { "retention_days": 30, "hash_chain": true },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["k"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
own_stack_start "$T/cfg.in"
LOGS=$OWN_DIR/logs
TODAY=$(date -u +%Y-%m-%d)

for i in 1 2 3; do
	assert_eq "$(post c$i "$(chat_json demo "hello $i")" -H "x-request-id: ret-$i")" 200 "chat $i"
done
assert_eq "$(req m "$BASE_URL/v1/models" -H 'x-request-id: ret-models')" 200 "models"
assert_eq "$(post c4 "$(chat_json demo 'stream' true)" -H 'x-request-id: ret-4')" 200 "chat stream"
sleep 0.3

assert_eq "$(readlink "$LOGS/access.log")" "access.log.$TODAY" "access.log links to today's file"
DAY=$LOGS/access.log.$TODAY
for id in ret-1 ret-2 ret-3 ret-models ret-4; do
	assert_file_has "$DAY" "\"id\":\"$id\"" "line $id in today's file"
done
n=$(wc -l <"$DAY")
assert_eq "$(grep -c '"prev":"[0-9a-f]\{64\}"}$' "$DAY")" "$n" "every line chained"
out=$("$ROOT/$BUILD/relay-admin" verify-access-log "$DAY") || fail "verify: $out"
assert_eq "$out" "$DAY: ok, $n lines chained" "verify output"

# One changed status in the 2nd line: the 3rd line no longer chains.
awk 'NR == 2 { sub(/"status":200/, "\"status\":500") } { print }' "$DAY" >"$T/tampered"
assert_ne "$(cmp -s "$DAY" "$T/tampered"; echo $?)" 0 "the copy differs"
out=$("$ROOT/$BUILD/relay-admin" verify-access-log "$T/tampered")
rc=$?
assert_eq "$rc" 1 "verify a changed line: exit status"
assert_match "$out" "BROKEN at line 3" "verify names the line after the changed one"

# Retention: 30 days. Files from before are deleted when a responder
# starts; the 10-day-old one and files not ours stay.
old40=$(date -u -d '40 days ago' +%Y-%m-%d)
old10=$(date -u -d '10 days ago' +%Y-%m-%d)
for f in access.log.2000-01-01 "access.log.$old40" "access.log.$old10" notes.2000-01-01 access.log.2000-01-01.gz; do
	echo '{}' >"$LOGS/$f"
done
i=0
for n in "${STACK_NAMES[@]}"; do
	[ "$n" = relay-chat ] && break
	i=$((i + 1))
done
kill -TERM "${STACK_PIDS[$i]}"
wait "${STACK_PIDS[$i]}" 2>/dev/null
rm -f "$OWN_DIR/chat.sock"
stack_respawn "$i"
wait_until 100 test -S "$OWN_DIR/chat.sock" || fail "relay-chat did not come back"
assert_eq "$(post c5 "$(chat_json demo 'after restart')" -H 'x-request-id: ret-5')" 200 "chat after restart"
sleep 0.3
[ ! -e "$LOGS/access.log.2000-01-01" ] || fail "a day file from 2000 survived retention_days 30"
[ ! -e "$LOGS/access.log.$old40" ] || fail "a day file 40 days old survived retention_days 30"
[ -e "$LOGS/access.log.$old10" ] || fail "a day file 10 days old was deleted"
[ -e "$LOGS/notes.2000-01-01" ] || fail "a file not ours was deleted"
[ -e "$LOGS/access.log.2000-01-01.gz" ] || fail "an archive was deleted"
out=$("$ROOT/$BUILD/relay-admin" verify-access-log "$DAY") || fail "verify after restart: $out"
measure "day file $(basename "$DAY"): $(wc -l <"$DAY") lines, chain intact after a restart"
