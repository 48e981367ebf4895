#!/usr/bin/env bash
# /health is alive; /health/ready follows memcached: 200, then 503 with a
# reason once memcached is gone. Own stack (built-in config).
. "$(dirname "$0")/lib.sh"
own_stack_start

st=$(req h1 "$BASE_URL/health")
assert_eq "$st" 200 "/health: status"
assert_eq "$(jget status "$T/h1.body")" ok "/health: body"
st=$(req h2 "$BASE_URL/health/ready")
assert_eq "$st" 200 "/health/ready: status"
assert_eq "$(jget status "$T/h2.body")" ready "/health/ready: body"
assert_eq "$(jget memcached "$T/h2.body")" ok "/health/ready: memcached"
assert_match "$(jget config_generation "$T/h2.body")" '^[1-9]' "/health/ready: generation"
req h3 "$BASE_URL/health" -X POST -d x >/dev/null
assert_api_error h3 405

# Several checks first, so that every pooled memcached handle has answered.
for i in 1 2 3 4 5 6; do
	assert_eq "$(req h2b "$BASE_URL/health/ready")" 200 "/health/ready, check $i"
done
kill -TERM "$PID_memcached"
wait "$PID_memcached" 2>/dev/null
t0=$(now_ms)
st=$(req h4 "$BASE_URL/health/ready")
ms=$(($(now_ms) - t0))
log "first check without memcached: $st $(cat "$T/h4.body")"
assert_eq "$st" 503 "/health/ready without memcached: status"
assert_eq "$(jget status "$T/h4.body")" unavailable "without memcached: body status"
reason=$(jget reason "$T/h4.body")
case $reason in __missing__ | __invalid__ | "") fail "without memcached: no reason: $(cat "$T/h4.body")" ;; esac
log "reason: $reason ($ms ms)"
assert_le "$ms" 3000 "not-ready answer took (ms)"
st=$(req h5 "$BASE_URL/health")
assert_eq "$st" 200 "/health without memcached (liveness only)"
for i in 1 2 3 4 5 6; do
	assert_eq "$(req h6 "$BASE_URL/health/ready")" 503 "/health/ready without memcached, check $i"
done

# memcached back on its port: ready again within a few seconds.
stack_spawn memcached memcached $([ "$(id -u)" = 0 ] && echo -u root) -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 16
wait_until 50 stack_tcp_up "$MC_PORT" || fail "memcached did not restart"
t0=$(now_ms)
back=""
while [ $(($(now_ms) - t0)) -lt 10000 ]; do
	if [ "$(req h7 "$BASE_URL/health/ready")" = 200 ]; then back=$(($(now_ms) - t0)); break; fi
	sleep 0.2
done
measure "ready again ${back:-never} ms after memcached came back"
[ -n "$back" ] || fail "not ready 10 s after memcached came back: $(cat "$T/h7.body")"
