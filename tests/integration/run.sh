#!/usr/bin/env bash
# run.sh - the integration scenarios (tests/integration/t_*.sh) and the
# official-SDK tests (tests/node/*.test.mjs) through lighttpd and Caddy.
#
#   BUILD=build tests/integration/run.sh [all|shell|node]
#
# For each server one stack (scripts/stack.sh) with a generated config
# serves every scenario in turn; a scenario that needs a stack of its own
# starts it (lib.sh: own_stack_start). Then node --test runs the SDK tests
# against the same stack. The stack's logs are scanned for sanitizer
# reports. Output: one ok/FAIL line per scenario, then exactly one line
# "N passed, N failed"; exit 1 on any failure.
#
# Environment: BUILD (binaries dir, default build), SERVERS (default
# "lighttpd caddy"), ONLY (ERE on scenario names), SCEN_TIMEOUT (seconds,
# default 120), NODE_TESTS (the SDK test files to run, default all of
# tests/node/), LEAKS_FAIL=1 (LeakSanitizer reports fail the run too),
# ITEST_JOBS (1: the servers in turn, default; 2: their scenarios side by
# side, then the SDK tests alone: faster, but timing checks such as
# t_client_abort's bound can fail on a loaded 2-core machine).
set -u

ITEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$ITEST_DIR/../.." && pwd)
cd "$ROOT" || exit 1
. "$ROOT/scripts/stack.sh"

: "${BUILD:=build}"
: "${SERVERS:=lighttpd caddy}"
: "${ONLY:=}"
: "${SCEN_TIMEOUT:=120}"
: "${LEAKS_FAIL:=0}"
MODE=${1:-all}
case $MODE in all | shell | node) ;; *)
	echo "usage: run.sh [all|shell|node]" >&2
	exit 2
	;;
esac
export BUILD

# One directory per run, so that runs side by side never share sockets;
# run/itest points at the latest.
OUT=$ROOT/run/itest.$$
for d in "$ROOT"/run/itest.*; do # earlier runs that are over
	[ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"
done
mkdir -p "$OUT"
rm -rf "$ROOT/run/itest"
ln -sfn "itest.$$" "$ROOT/run/itest"

# Sanitizer builds: report (not abort on) leaks at exit, into the logs.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:print_summary=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="print_suppressions=0"
# Nothing from the caller's shell may change what the stacks do.
unset RELAY_ADMIN_TOKEN RELAY_ADMIN_TOKEN_FILE RELAY_CONFIG RELAY_THREADS \
    RELAY_LISTEN RELAY_DRAIN_MS OPENAI_API_KEY PORT MC_PORT MOCK_PORT RUN_DIR
export PROVIDER_KEY="sk-itest-provider-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export RELAY_ITEST_PROVIDER_KEY=$PROVIDER_KEY
# Keys of the providers an (anthropic), ge (gemini) and az (azure), for the
# SDK tests that check which auth header reached the mock.
export ANTHROPIC_PROVIDER_KEY="sk-ant-itest-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export GEMINI_PROVIDER_KEY="gk-itest-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export AZURE_PROVIDER_KEY="az-itest-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export RELAY_ITEST_ANTHROPIC_KEY=$ANTHROPIC_PROVIDER_KEY
export RELAY_ITEST_GEMINI_KEY=$GEMINI_PROVIDER_KEY
export RELAY_ITEST_AZURE_KEY=$AZURE_PROVIDER_KEY

PASSED=0
FAILED=0
FAILED_NAMES=()

for b in relay-chat relay-models relay-health relay-admin mock-upstream; do
	if [ ! -x "$ROOT/$BUILD/$b" ]; then
		echo "run.sh: $BUILD/$b is missing: make$([ "$BUILD" = build-san ] && echo ' SANITIZE=1') all" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
for tool in node curl memcached; do
	command -v "$tool" >/dev/null || {
		echo "run.sh: $tool is not installed (scripts/deps.sh)" >&2
		echo "0 passed, 1 failed"
		exit 1
	}
done

on_exit() {
	[ "${#STACK_PIDS[@]}" -gt 0 ] && stack_stop
}
trap on_exit EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok   %-9s %s%s\n' "$SERVER" "$1" "${2:+ ($2)}"
}
not_ok() { # name logfile [lines]
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=("$SERVER/$1")
	printf 'FAIL %-9s %s\n' "$SERVER" "$1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		tail -n "${3:-40}" "$2" | sed 's/^/     | /'
	fi
}

# The tail of every log under a directory (for a failure's context).
show_logs() {
	local f
	for f in "$1"/logs/*.log; do
		[ -s "$f" ] || continue
		echo "     --- $(basename "$f") (tail)"
		tail -n 15 "$f" | sed 's/^/     | /'
	done
}

# Shared stack config: @...@ filled in once the ports are known.
write_shared_config() {
	local dead
	dead=$(stack_free_port)
	cat >"$1" <<EOF
{
  "memcached": { "servers": ["127.0.0.1:$MC_PORT"], "timeout_ms": 250 },
  "limits": { "max_body_bytes": 1048576 },
  "stream": { "heartbeat_ms": 500 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "demo", "type": "openai",
      "base_url": "http://127.0.0.1:$MOCK_PORT/v1/",
      "api_keys": ["env:RELAY_ITEST_PROVIDER_KEY"],
      "headers": { "X-Itest-Extra": "from-config" } },
    { "name": "dead", "type": "openai",
      "base_url": "http://127.0.0.1:$dead/v1",
      "timeouts": { "connect_ms": 3000 } },
    { "name": "slow", "type": "openai",
      "base_url": "http://127.0.0.1:$MOCK_PORT/v1",
      "timeouts": { "first_byte_ms": 1500, "idle_ms": 1000 } },
    { "name": "an", "type": "anthropic",
      "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_keys": ["env:RELAY_ITEST_ANTHROPIC_KEY"] },
    { "name": "ge", "type": "gemini",
      "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_keys": ["env:RELAY_ITEST_GEMINI_KEY"] },
    { "name": "az", "type": "azure",
      "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_keys": ["env:RELAY_ITEST_AZURE_KEY"] }
  ],
  "models": [
    { "name": "demo", "targets": [{ "provider": "demo" }] },
    { "name": "renamed", "targets": [{ "provider": "demo", "model": "mock-upstream-name" }] },
    { "name": "dead", "targets": [{ "provider": "dead", "model": "demo" }] },
    { "name": "slow", "targets": [{ "provider": "slow", "model": "demo" }] },
    { "name": "m-openai", "targets": [{ "provider": "demo", "model": "up-openai" }] },
    { "name": "m-anthropic", "targets": [{ "provider": "an", "model": "up-anthropic" }] },
    { "name": "m-gemini", "targets": [{ "provider": "ge", "model": "up-gemini" }] },
    { "name": "m-azure", "targets": [{ "provider": "az", "model": "up-azure" }] },
    { "name": "c-openai", "targets": [{ "provider": "demo", "model": "up-openai" }],
      "cache": { "enabled": true, "any_temperature": true } },
    { "name": "c-anthropic", "targets": [{ "provider": "an", "model": "up-anthropic" }],
      "cache": { "enabled": true, "any_temperature": true } },
    { "name": "c-gemini", "targets": [{ "provider": "ge", "model": "up-gemini" }],
      "cache": { "enabled": true, "any_temperature": true } },
    { "name": "r-openai", "targets": [{ "provider": "demo", "model": "up-responses", "api": "responses" }] },
    { "name": "r-azure", "targets": [{ "provider": "az", "model": "up-razure", "api": "responses" }] }
  ]
}
EOF
}

# Run one scenario in its own process group (timeout makes one); anything
# of it still alive afterwards is reported and ended by PID.
run_scenario() {
	local t=$1 name sdir logf rc pid left
	name=$(basename "$t" .sh)
	sdir=$SOUT/$name
	mkdir -p "$sdir"
	logf=$sdir/output.log
	local t0=$(date +%s%3N)
	SCEN_DIR=$sdir timeout -k 5 "$SCEN_TIMEOUT" bash "$t" >"$logf" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	local ms=$(($(date +%s%3N) - t0))
	# timeout(1) leads its own process group: pgid == its pid.
	left=$(ps -eo pid=,pgid= | awk -v g="$pid" '$2 == g { print $1 }')
	if [ -n "$left" ]; then
		echo "  stray processes after the scenario: $(echo $left)" >>"$logf"
		ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" >>"$logf" 2>/dev/null
		for p in $left; do kill -KILL "$p" 2>/dev/null; done
		rc=${rc/#0/98}
	fi
	[ "$rc" = 124 ] && echo "  timed out after ${SCEN_TIMEOUT}s" >>"$logf"
	if [ "$rc" = 0 ]; then
		ok "$name" "$(awk -v m="$ms" 'BEGIN { printf "%.1f s", m / 1000 }')"
		grep -a '^  measure:' "$logf" | sed 's/^  measure:/     measure:/'
	else
		not_ok "$name" "$logf"
		[ -d "$sdir/stack/logs" ] && show_logs "$sdir/stack"
		show_logs "$STACK_DIR"
	fi
}

# node --test against the shared stack; each SDK test counts once.
run_node() {
	local logf=$SOUT/node.log np nf
	if [ ! -d "$ROOT/tests/node/node_modules/openai" ]; then
		(cd "$ROOT/tests/node" && npm ci --no-audit --no-fund) >"$SOUT/npm.log" 2>&1 ||
		    { not_ok "node: npm ci" "$SOUT/npm.log"; return; }
	fi
	RELAY_BASE_URL=$BASE_URL MOCK_URL=$MOCK_URL \
	    timeout -k 5 180 node --test --test-reporter=tap ${NODE_TESTS:-"$ROOT/tests/node/"} \
	    >"$logf" 2>&1
	local rc=$?
	np=$(awk '/^# pass /  { print $3 }' "$logf" | tail -n 1)
	nf=$(awk '/^# fail /  { print $3 }' "$logf" | tail -n 1)
	np=${np:-0}
	nf=${nf:-0}
	# Individual results as lines of their own.
	awk '/^    (not )?ok [0-9]+ - / { sub(/^    /, ""); print }' "$logf" |
	    sed 's/^/     node: /'
	PASSED=$((PASSED + np))
	if [ "$rc" != 0 ] || [ "$nf" != 0 ] || [ "$np" = 0 ]; then
		FAILED=$((FAILED + (nf > 0 ? nf : 1)))
		FAILED_NAMES+=("$SERVER/node")
		printf 'FAIL %-9s node SDK tests (%s passed, %s failed, rc %s)\n' "$SERVER" "$np" "$nf" "$rc"
		grep -a -B2 -A30 '^not ok\|^    not ok' "$logf" | head -n 120 | sed 's/^/     | /'
		show_logs "$STACK_DIR"
	else
		printf 'ok   %-9s node SDK tests (%s passed)\n' "$SERVER" "$np"
	fi
}

# Sanitizer reports in every log of this server's run.
scan_logs() {
	local hits leaks
	hits=$(grep -rlaE 'ERROR: AddressSanitizer|runtime error:|ERROR: ThreadSanitizer' \
	    --include='*.log' "$SOUT" 2>/dev/null)
	if [ -n "$hits" ]; then
		not_ok "sanitizer reports in logs"
		for f in $hits; do
			echo "     --- ${f#$OUT/}"
			grep -aE -A25 'ERROR: AddressSanitizer|runtime error:' "$f" | head -n 60 | sed 's/^/     | /'
		done
	else
		ok "sanitizers: no reports in logs"
	fi
	leaks=$(grep -rlaE 'ERROR: LeakSanitizer' --include='*.log' "$SOUT" 2>/dev/null)
	if [ -n "$leaks" ]; then
		for f in $leaks; do
			echo "     leak report: ${f#$OUT/}: $(grep -a 'SUMMARY: AddressSanitizer' "$f" | head -n 1)"
		done
		if [ "$LEAKS_FAIL" = 1 ]; then
			not_ok "LeakSanitizer reports"
		fi
	fi
}

# The scenarios (tests/integration/t_*.sh, then tests/security/t_*.sh)
# and/or the SDK tests (mode: all, shell or node) through one
# server, on a stack of its own.
one_server() {
	SERVER=$1
	local mode=$2
	export SERVER
	if ! command -v "$SERVER" >/dev/null; then
		not_ok "$SERVER is not installed"
		return
	fi
	SOUT=$OUT/$SERVER
	STACK_DIR=$SOUT/stack
	mkdir -p "$STACK_DIR"
	PORT=0
	MC_PORT=$(stack_free_port)
	MOCK_PORT=$(stack_free_port)
	while [ "$MOCK_PORT" = "$MC_PORT" ]; do MOCK_PORT=$(stack_free_port); done
	write_shared_config "$STACK_DIR/config.json"
	RUN_DIR=$STACK_DIR
	export RELAY_CONFIG=$STACK_DIR/config.json
	if ! stack_start; then
		not_ok "stack start"
		show_logs "$STACK_DIR"
		stack_stop
		return
	fi
	unset RELAY_CONFIG
	export BASE_URL STACK_DIR
	export MOCK_URL="http://127.0.0.1:$MOCK_PORT"
	export CHAT_PID=$PID_relay_chat
	echo "== $SERVER: $BASE_URL (mock $MOCK_URL, build $BUILD)"

	if [ "$mode" != node ]; then
		# tests/security/: the hardening classes (issue 19), same runner.
		for t in "$ITEST_DIR"/t_*.sh "$ROOT"/tests/security/t_*.sh; do
			[ -f "$t" ] || continue
			[ -n "$ONLY" ] && ! [[ $(basename "$t" .sh) =~ $ONLY ]] && continue
			# The soak judges RSS, which ASan's quarantine inflates:
			# make soak-short runs it on the release build instead.
			[ -z "$ONLY" ] && [ "$BUILD" = build-san ] &&
			    [ "$(basename "$t")" = t_soak_short.sh ] && continue
			run_scenario "$t"
		done
	fi
	if [ "$mode" != shell ] && { [ -z "$ONLY" ] || [[ node =~ $ONLY ]]; }; then
		run_node
	fi

	dead=""
	for p in "${STACK_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || dead="$dead $p"; done
	if [ -n "$dead" ]; then
		not_ok "shared stack: processes died during the run:$dead"
		show_logs "$STACK_DIR"
	fi
	stack_stop
	scan_logs
}

# With ITEST_JOBS=2 the servers' scenarios run side by side (default: one after the
# other): their stacks, ports and output directories are apart, and most of
# a scenario's time is spent waiting; each one's lines are printed whole,
# in order. The SDK tests, which time streams, then run alone, one server
# after the other, each on a fresh stack.
if [ "${ITEST_JOBS:-1}" -gt 1 ] && [ "$(wc -w <<<"$SERVERS")" -gt 1 ]; then
	if [ "$MODE" != node ]; then
		for s in $SERVERS; do
			(
				PASSED=0
				FAILED=0
				FAILED_NAMES=()
				one_server "$s" shell
				echo "$PASSED $FAILED ${FAILED_NAMES[*]}" >"$OUT/$s.tally"
			) >"$OUT/$s.out" 2>&1 &
		done
		wait
		for s in $SERVERS; do
			cat "$OUT/$s.out"
			read -r p f names <"$OUT/$s.tally" || { p=0 f=1 names="$s/runner"; }
			PASSED=$((PASSED + p))
			FAILED=$((FAILED + f))
			[ -n "$names" ] && FAILED_NAMES+=($names)
		done
	fi
	if [ "$MODE" != shell ] && { [ -z "$ONLY" ] || [[ node =~ $ONLY ]]; }; then
		for s in $SERVERS; do one_server "$s" node; done
	fi
else
	for s in $SERVERS; do one_server "$s" "$MODE"; done
fi

if [ "$FAILED" -gt 0 ]; then
	echo "failed: ${FAILED_NAMES[*]}"
	echo "logs: $OUT"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
