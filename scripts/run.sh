#!/usr/bin/env bash
# run.sh - make run: the whole relay in the foreground on 127.0.0.1:$PORT,
# stopped (all of it) by Ctrl-C. State that should outlive a run (keys,
# stored credentials, the admin token and master key made for the demo)
# lives in $RUN_DIR (default run/).
#
# A component that dies is started again, and the terminal says so in one
# line, while the rest serve on (memcached gone means fail-open, see
# docs/resilience.md). One that dies RUN_RESTART_MAX times (default 5)
# within RUN_RESTART_WINDOW seconds (60) is given up (said too); the
# restarts back off (0.2 s doubling, at most 5 s). Without a web server
# nothing serves: giving that up stops the whole stack.
#
# Environment: PORT, MC_PORT, MOCK_PORT, RUN_DIR, SERVER, BUILD,
# RELAY_CONFIG, RUN_RESTART_MAX, RUN_RESTART_WINDOW.
set -u
. "$(dirname "$0")/stack.sh"
: "${PORT:=8080}" "${MC_PORT:=11311}" "${MOCK_PORT:=18081}"
: "${RUN_DIR:=$STACK_ROOT/run}"
: "${RUN_RESTART_MAX:=5}" "${RUN_RESTART_WINDOW:=60}"
mkdir -p "$RUN_DIR/data"
chmod 700 "$RUN_DIR/data"
rm -f "$RUN_DIR"/*.sock

# A secret made once and kept in run/ (mode 0600).
secret_file() {
	[ -s "$1" ] || (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1")
}
if [ -z "${RELAY_ADMIN_TOKEN:-}" ] && [ -z "${RELAY_ADMIN_TOKEN_FILE:-}" ]; then
	secret_file "$RUN_DIR/admin.token"
	export RELAY_ADMIN_TOKEN_FILE="$RUN_DIR/admin.token"
fi
if [ -z "${RELAY_MASTER_KEY:-}" ] && [ -z "${RELAY_MASTER_KEY_FILE:-}" ]; then
	secret_file "$RUN_DIR/master.key"
	export RELAY_MASTER_KEY_FILE="$RUN_DIR/master.key"
fi
ADMIN=${RELAY_ADMIN_TOKEN:-$(cat "${RELAY_ADMIN_TOKEN_FILE}")}

trap 'echo; echo "stopping..."; stack_stop; exit 0' INT TERM
trap 'stack_stop' EXIT
for f in "$RUN_DIR"/logs/*.log; do [ -f "$f" ] && : >"$f"; done
# Every error goes to the terminal in one line (the logs keep the rest).
if ! stack_start 2> >(sed -u 's/^/run: /' >&2); then
	echo "run: start failed; logs in $RUN_DIR/logs" >&2
	exit 1
fi
# A responder that refuses its config (or dies at once) has bound its
# socket already: look again after it had time to read the config.
sleep 0.3
for i in "${!STACK_PIDS[@]}"; do
	if ! kill -0 "${STACK_PIDS[$i]}" 2>/dev/null; then
		wait "${STACK_PIDS[$i]}"
		st=$?
		echo "run: ${STACK_NAMES[$i]} exited at start (status $st): $(stack_last_error "${STACK_NAMES[$i]}")" >&2
		exit 1
	fi
done

# The demo key: rotated on every start (only its hash is stored, so a
# fresh secret is the only way to print one), created the first time.
admin() { curl -sS --max-time 5 -H "Authorization: Bearer $ADMIN" "$@"; }
out=""
[ -s "$RUN_DIR/demo.key-id" ] &&
    out=$(admin -d '{}' "$BASE_URL/admin/keys/$(cat "$RUN_DIR/demo.key-id")/rotate")
case $out in
*'"secret"'*) ;;
*) out=$(admin -d '{"name":"demo"}' "$BASE_URL/admin/keys") ;;
esac
KEY=$(printf '%s' "$out" | grep -o '"secret":"[^"]*"' | cut -d'"' -f4)
printf '%s' "$out" | grep -o '"id":"key_[0-9a-f]*"' | cut -d'"' -f4 >"$RUN_DIR/demo.key-id"
if [ -z "$KEY" ]; then
	# The answer may be the web server's HTML: the reason is in a log.
	why=$(printf '%s' "$out" | grep -o '"message":"[^"]*"' | head -n 1)
	[ -n "$why" ] || why=$(stack_last_error relay-admin)
	[ -n "$why" ] || why=$(stack_last_error "$SERVER")
	echo "run: could not make the demo key through $BASE_URL/admin/keys: ${why:-no answer} (logs: $RUN_DIR/logs)" >&2
	exit 1
fi

# For the README's snippets: KEY=$(cat run/demo.key).
(umask 077 && printf '%s\n' "$KEY" >"$RUN_DIR/demo.key")

cat <<MSG

llm-relay is up on $BASE_URL (web server: $SERVER, config: ${RELAY_CONFIG:-built-in})
demo key:    $KEY  (also in $RUN_DIR/demo.key: export KEY=\$(cat $RUN_DIR/demo.key))
admin token: in ${RELAY_ADMIN_TOKEN_FILE:-\$RELAY_ADMIN_TOKEN}
console:     $BASE_URL/admin/ui/ (sign in with the admin token)
logs:        $RUN_DIR/logs/

  curl -N $BASE_URL/v1/chat/completions -H "Authorization: Bearer $KEY" \\
    -H 'Content-Type: application/json' \\
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

  curl $BASE_URL/v1/models -H "Authorization: Bearer $KEY"
  curl $BASE_URL/health/ready

Ctrl-C stops everything.
MSG
# How a process ended, from wait's status.
exit_text() {
	if [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
		echo "killed by SIG$(kill -l "$(($1 - 128))" 2>/dev/null || echo "$(($1 - 128))")"
	else
		echo "exit status $1"
	fi
}

# Restart times (epoch seconds) of each component, within the window.
declare -A RESTARTS=()
# Component i died with status st: start it again or give it up.
supervise_one() { # i st
	local i=$1 st=$2 name=${STACK_NAMES[$1]} old=${STACK_PIDS[$1]}
	local now t recent=() delay
	now=$(date +%s)
	for t in ${RESTARTS[$name]:-}; do
		[ $((now - t)) -lt "$RUN_RESTART_WINDOW" ] && recent+=("$t")
	done
	if [ "${#recent[@]}" -ge "$RUN_RESTART_MAX" ]; then
		echo "run: $name (pid $old) died ($(exit_text "$st")): $(stack_last_error "$name"); gave up after ${#recent[@]} restarts in ${RUN_RESTART_WINDOW}s, see $RUN_DIR/logs/$name.log" >&2
		unset 'STACK_PIDS[i]' 'STACK_NAMES[i]'
		STACK_PIDS=("${STACK_PIDS[@]}")
		STACK_NAMES=("${STACK_NAMES[@]}")
		case $name in lighttpd | caddy)
			echo "run: no web server, nothing can serve: stopping" >&2
			exit 1
			;;
		esac
		return
	fi
	# Back off: 0.2 s, doubled for each restart in the window, at most 5 s.
	delay=$(awk -v n="${#recent[@]}" 'BEGIN { d = 0.2 * 2 ^ n; print (d > 5 ? 5 : d) }')
	sleep "$delay"
	recent+=("$(date +%s)")
	RESTARTS[$name]=${recent[*]}
	if ! stack_respawn "$i"; then
		echo "run: $name (pid $old) died ($(exit_text "$st")): $(stack_last_error "$name"); could not restart it" >&2
		return
	fi
	local why
	why=$(stack_last_error "$name")
	echo "run: $name (pid $old) died ($(exit_text "$st")); restarted as pid ${STACK_PIDS[$i]} (${#recent[@]} of $RUN_RESTART_MAX in ${RUN_RESTART_WINDOW}s)${why:+; its log last said: $why}" >&2
}

while [ "${#STACK_PIDS[@]}" -gt 0 ]; do
	dead=""
	# (bash's own "Killed" job notice goes to the wait's stderr: the line
	# below says it better.)
	{
		wait -n -p dead "${STACK_PIDS[@]}"
		st=$?
	} 2>/dev/null
	[ -n "$dead" ] || continue # a trapped signal, or nothing to wait for
	for i in "${!STACK_PIDS[@]}"; do
		if [ "${STACK_PIDS[$i]}" = "$dead" ]; then
			supervise_one "$i" "$st"
			break
		fi
	done
done
echo "run: every component was given up; see $RUN_DIR/logs" >&2
exit 1
