#!/usr/bin/env bash
# The key store survives kill -9 at any point of a write: two clients
# create keys concurrently (two writer threads contending for the file
# lock) while relay-admin is SIGKILLed over and over; afterwards keys.json
# parses and every key whose creation was acknowledged (201) is there.
. "$(dirname "$0")/lib.sh"

export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

creator() { # tag count
	local i code
	for i in $(seq 1 "$2"); do
		code=$(curl -sS -o "$T/c.$1.$i" -w '%{http_code}' --max-time 5 \
		    "${ADM[@]}" -d "{\"name\":\"$1-$i\"}" "$BASE_URL/admin/keys" 2>/dev/null)
		if [ "$code" = 201 ]; then
			jget id "$T/c.$1.$i" >>"$T/acked.$1" && echo >>"$T/acked.$1"
		else
			sleep 0.05 # the admin is down: do not burn the attempts
		fi
	done
}
creator a 100 &
C1=$!
creator b 100 &
C2=$!
acked_now() { cat "$T"/acked.* 2>/dev/null | grep -c '^key_'; }
kills=0
last=0
while kill -0 "$C1" 2>/dev/null || kill -0 "$C2" 2>/dev/null; do
	sleep 0.$((RANDOM % 30 + 15))
	# Kill once a create went through since the last kill, so that the
	# kills fall among writes (not into the web server's back-off after
	# the last one).
	for _ in $(seq 1 60); do
		[ "$(acked_now)" -gt "$last" ] && break
		sleep 0.05
	done
	last=$(acked_now)
	kill -KILL "$PID_relay_admin" 2>/dev/null && kills=$((kills + 1))
	wait "$PID_relay_admin" 2>/dev/null
	stack_spawn relay-admin "$ROOT/$BUILD/relay-admin" -l "unix:$OWN_DIR/admin.sock" -t 4
	wait_until 50 test -S "$OWN_DIR/admin.sock"
done
wait "$C1" "$C2"
acked=$(cat "$T"/acked.* 2>/dev/null | grep -c '^key_')
measure "$kills SIGKILLs of relay-admin during 200 concurrent creates: $acked acknowledged"
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$OWN_DIR/data/keys.json" ||
    fail "keys.json does not parse"
missing=0
for id in $(cat "$T"/acked.*); do
	grep -q "\"$id\"" "$OWN_DIR/data/keys.json" || missing=$((missing + 1))
done
assert_eq "$missing" 0 "acknowledged keys lost"
assert_ge "$acked" 5 "some creates were acknowledged"
stored=$(grep -o '"id":"key_' "$OWN_DIR/data/keys.json" | wc -l)
assert_ge "$stored" "$acked" "stored keys"
assert_ge "$kills" 3 "the admin was killed"
