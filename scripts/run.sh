#!/usr/bin/env bash
# run.sh - make run: the whole relay in the foreground on 127.0.0.1:$PORT,
# stopped (all of it) by Ctrl-C. State that should outlive a run (keys,
# stored credentials, the admin token and master key made for the demo)
# lives in run/.
set -u
. "$(dirname "$0")/stack.sh"
: "${PORT:=8080}" "${MC_PORT:=11311}" "${MOCK_PORT:=18081}"
RUN_DIR="$STACK_ROOT/run"
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
if ! stack_start; then
	echo "start failed; logs in $RUN_DIR/logs" >&2
	exit 1
fi

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
	echo "could not make the demo key: $out" >&2
	exit 1
fi

cat <<MSG

llm-relay is up on $BASE_URL (web server: $SERVER, config: ${RELAY_CONFIG:-built-in})
demo key:    $KEY
admin token: in ${RELAY_ADMIN_TOKEN_FILE:-\$RELAY_ADMIN_TOKEN}
logs:        $RUN_DIR/logs/

  curl -N $BASE_URL/v1/chat/completions -H "Authorization: Bearer $KEY" \\
    -H 'Content-Type: application/json' \\
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

  curl $BASE_URL/v1/models -H "Authorization: Bearer $KEY"
  curl $BASE_URL/health/ready

Ctrl-C stops everything.
MSG
wait -n "${STACK_PIDS[@]}"
echo "a component exited; see $RUN_DIR/logs" >&2
exit 1
