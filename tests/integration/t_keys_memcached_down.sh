#!/usr/bin/env bash
# memcached stopped mid-run: fail_open keeps serving (quickly), fail_closed
# answers 503 rate_limiter_unavailable (quickly); never a hang.
. "$(dirname "$0")/lib.sh"

run_policy() { # policy expect
	cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"], "timeout_ms": 200 },
  "limits": { "on_memcached_error": "$1" },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
	own_stack_start "$T/cfg.in"
	local ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN") k t0 dt st
	req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"m","rpm":1000}' >/dev/null
	k=$(jget secret "$T/mk.body")
	sleep 1.1
	assert_eq "$(post up "$(chat_json demo hi)" -H "Authorization: Bearer $k")" 200 "$1: memcached up"
	kill -KILL "$PID_memcached"
	wait "$PID_memcached" 2>/dev/null
	for i in 1 2 3; do
		t0=$(now_ms)
		st=$(post down$i "$(chat_json demo hi)" -H "Authorization: Bearer $k")
		dt=$(($(now_ms) - t0))
		assert_le "$dt" 3000 "$1: answer time with memcached down (ms)"
	done
	measure "$1 with memcached down: HTTP $st in ${dt} ms"
	assert_eq "$st" "$2" "$1: status"
	[ "$2" = 503 ] && assert_api_error down3 503 rate_limiter_unavailable
	stack_stop
}
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
run_policy fail_open 200
run_policy fail_closed 503
