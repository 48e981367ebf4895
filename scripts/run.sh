#!/usr/bin/env bash
# run.sh - make run: the whole relay in the foreground on 127.0.0.1:$PORT,
# stopped (all of it) by Ctrl-C.
set -u
. "$(dirname "$0")/stack.sh"
: "${PORT:=8080}" "${MC_PORT:=11311}" "${MOCK_PORT:=18081}"
RUN_DIR="$STACK_ROOT/run"
rm -f "$RUN_DIR"/*.sock
trap 'echo; echo "stopping..."; stack_stop; exit 0' INT TERM
trap 'stack_stop' EXIT
if ! stack_start; then
	echo "start failed; logs in $RUN_DIR/logs" >&2
	exit 1
fi
cat <<MSG

llm-relay is up on $BASE_URL (web server: $SERVER, config: ${RELAY_CONFIG:-built-in})
logs: $RUN_DIR/logs/

  curl -N $BASE_URL/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

  curl $BASE_URL/v1/models
  curl $BASE_URL/health/ready

Ctrl-C stops everything.
MSG
wait -n "${STACK_PIDS[@]}"
echo "a component exited; see $RUN_DIR/logs" >&2
exit 1
