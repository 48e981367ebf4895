#!/usr/bin/env bash
# lib.sh - helpers for the integration scenarios (tests/integration/t_*.sh).
#
# A scenario is a bash script run by run.sh with, in its environment:
#   BASE_URL   the shared stack's web server (lighttpd or Caddy)
#   MOCK_URL   the shared stack's mock upstream (http://127.0.0.1:PORT)
#   SERVER     lighttpd | caddy        BUILD  build | build-san
#   STACK_DIR  the shared stack's RUN_DIR (logs in $STACK_DIR/logs)
#   CHAT_PID   the shared relay-chat's PID
#   SCEN_DIR   a scratch directory of this scenario's own
#   PROVIDER_KEY  the api key the shared config gives provider "demo"
# Models of the shared config: demo, renamed (demo provider, upstream
# model "mock-upstream-name"), dead (closed port), slow (first_byte_ms 1500,
# idle_ms 1000), all on the same mock. limits.max_body_bytes = 1 MiB.
#
# A scenario exits 0 when it passes; fail() prints why and exits 1.
# Scenarios that need their own stack call own_stack_start (stopped by the
# EXIT trap that lib.sh installs).
set -u
set -o pipefail

ITEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$ITEST_DIR/../.." && pwd)
: "${SCEN_DIR:=$(mktemp -d /tmp/itest.XXXXXX)}"
mkdir -p "$SCEN_DIR"
T=$SCEN_DIR # short name for scratch files

. "$ROOT/scripts/stack.sh"

# Background jobs a scenario started (curl clients): killed at exit.
BG_PIDS=()
_lib_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ "${#STACK_PIDS[@]}" -gt 0 ] && stack_stop
	return 0
}
trap _lib_cleanup EXIT

# --- reporting -------------------------------------------------------------
log() { printf '  %s\n' "$*"; }
# Measurements worth seeing in the runner's output (it greps "^  measure:").
measure() { printf '  measure: %s\n' "$*"; }
fail() {
	printf '  FAIL: %s\n' "$*"
	exit 1
}

# --- time ------------------------------------------------------------------
now_ms() { date +%s%3N; }
# early_in_minute [SECONDS]: wait until at least SECONDS (default 15) are
# left in this wall-clock minute. Per-minute limits (rpm, tpm) count in
# fixed minute windows: a test that expects several requests in one
# window starts early in one, or a boundary between them splits the count.
early_in_minute() {
	local need=${1:-15} s
	s=$(date +%S); s=${s#0}
	if [ "$s" -gt $((60 - need)) ]; then sleep $((61 - s)); fi
}

# --- JSON --------------------------------------------------------------------
# jget PATH [FILE]: a field by dotted path (a.b.0.c) from FILE or stdin;
# strings raw, other values as JSON; "__missing__" when absent, and
# "__invalid__" when the input is not JSON.
jget() {
	local path=$1 file=${2:-/dev/stdin}
	node -e '
const fs = require("fs");
let v;
try { v = JSON.parse(fs.readFileSync(process.argv[2], "utf8")); }
catch (e) { process.stdout.write("__invalid__"); process.exit(0); }
for (const k of process.argv[1].split(".").filter(Boolean)) {
  if (v === null || typeof v !== "object" || !(k in v)) { process.stdout.write("__missing__"); process.exit(0); }
  v = v[k];
}
process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
' "$path" "$file"
}

# chat_json MODEL CONTENT [STREAM(true|false)] [EXTRA json members]
chat_json() {
	node -e '
const [model, content, stream, extra] = process.argv.slice(1);
const o = { model, messages: [{ role: "user", content }] };
if (stream === "true") o.stream = true;
Object.assign(o, extra ? JSON.parse(extra) : {});
process.stdout.write(JSON.stringify(o));
' "$1" "$2" "${3:-false}" "${4:-}"
}

# --- HTTP ----------------------------------------------------------------------
# req NAME [curl args...]: run curl, body in $T/NAME.body, headers in
# $T/NAME.head, the status in $T/NAME.code (000 when no answer); echoes it.
req() {
	local name=$1
	shift
	curl -sS -N --max-time "${MAX_TIME:-20}" -D "$T/$name.head" \
	    -o "$T/$name.body" -w '%{http_code}' "$@" >"$T/$name.code" \
	    2>"$T/$name.err"
	cat "$T/$name.code"
}

# post NAME JSON [curl args...]: POST to /v1/chat/completions.
post() {
	local name=$1 body=$2
	shift 2
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$BASE_URL/v1/chat/completions" \
	    -H 'Content-Type: application/json' --data-binary "@$T/$name.req" "$@"
}

# header NAME HEADER: a response header's value (last one, trimmed).
header() {
	awk -v h="$(printf '%s' "$2" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { v = ""; found = 0 }
		{ i = index($0, ":"); if (i == 0) next
		  n = tolower(substr($0, 1, i - 1))
		  if (n == h) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); found = 1 } }
		END { if (found) print v }' "$T/$1.head"
}

# data_lines FILE: the SSE data: lines of a stream body, one per line.
data_lines() { grep -a '^data: ' "$1" || true; }

mock_stat() { curl -sS --max-time 5 "$MOCK_URL/_mock/stats" | jget "$1"; }
mock_reset() { curl -sS --max-time 5 -X POST "$MOCK_URL/_mock/reset" >/dev/null; }
# The mock's last recorded request as JSON into $T/$1.json.
mock_last_request() {
	curl -sS --max-time 5 "$MOCK_URL/_mock/requests" >"$T/mockreq.all" ||
	    fail "GET /_mock/requests"
	node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.stdout.write(JSON.stringify(a[a.length - 1] || null));
' "$T/mockreq.all" >"$T/$1.json"
}

# --- assertions --------------------------------------------------------------
assert_eq() { # actual expected what
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}
assert_ne() {
	[ "$1" != "$2" ] || fail "$3: got '$1', want anything else"
}
assert_match() { # actual ERE what
	[[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}
assert_file_has() { # file fixed-string what
	grep -aqF -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1"): $(head -c 600 "$1")"
}
assert_file_lacks() {
	! grep -aqF -- "$2" "$1" || fail "$3: '$2' found in $(basename "$1")"
}
assert_le() { # a b what (integers)
	[ "$1" -le "$2" ] || fail "$3: $1 > $2"
}
assert_ge() {
	[ "$1" -ge "$2" ] || fail "$3: $1 < $2"
}
# An OpenAI-shaped error body: assert_api_error NAME STATUS [CODE] [PARAM]
assert_api_error() {
	local name=$1 st=$2 code=${3:-} param=${4:-}
	assert_eq "$(cat "$T/$name.code")" "$st" "$name: status"
	assert_match "$(header "$name" content-type)" '^application/json' "$name: content-type"
	local msg type
	msg=$(jget error.message "$T/$name.body")
	type=$(jget error.type "$T/$name.body")
	case $msg in __missing__ | __invalid__ | "") fail "$name: no error.message in $(head -c 400 "$T/$name.body")" ;; esac
	case $type in __missing__ | __invalid__ | "") fail "$name: no error.type in $(head -c 400 "$T/$name.body")" ;; esac
	assert_ne "$(jget error.param "$T/$name.body")" __missing__ "$name: error.param present"
	assert_ne "$(jget error.code "$T/$name.body")" __missing__ "$name: error.code present"
	[ -z "$code" ] || assert_eq "$(jget error.code "$T/$name.body")" "$code" "$name: error.code"
	[ -z "$param" ] || assert_eq "$(jget error.param "$T/$name.body")" "$param" "$name: error.param"
	assert_match "$(header "$name" x-request-id)" '.' "$name: x-request-id"
}

# wait_until TENTHS cmd...: poll until cmd succeeds.
wait_until() { stack_wait "$@"; }

# --- a stack of the scenario's own -------------------------------------------
# own_stack_start [CONFIG_TEMPLATE_FILE]: a fresh stack in $SCEN_DIR/stack
# with the same SERVER and BUILD. A template may use @MC_PORT@ and
# @MOCK_PORT@; it is rendered to $SCEN_DIR/config.json and used as
# RELAY_CONFIG. Without one the built-in config is used. Sets BASE_URL,
# MOCK_URL, OWN_DIR and OWN_CONFIG.
own_stack_start() {
	OWN_DIR=$SCEN_DIR/stack
	rm -rf "$OWN_DIR"
	mkdir -p "$OWN_DIR"
	PORT=0
	MC_PORT=$(stack_free_port)
	MOCK_PORT=$(stack_free_port)
	while [ "$MOCK_PORT" = "$MC_PORT" ]; do MOCK_PORT=$(stack_free_port); done
	OWN_CONFIG=
	if [ -n "${1:-}" ]; then
		OWN_CONFIG=$SCEN_DIR/config.json
		render_config "$1" >"$OWN_CONFIG"
	fi
	RUN_DIR=$OWN_DIR
	export RELAY_CONFIG=$OWN_CONFIG
	stack_start ||
	    fail "own stack did not start: $(tail -n 20 "$OWN_DIR"/logs/*.log 2>/dev/null)"
	MOCK_URL="http://127.0.0.1:$MOCK_PORT"
}

render_config() {
	sed -e "s|@MC_PORT@|$MC_PORT|g" -e "s|@MOCK_PORT@|$MOCK_PORT|g" "$1"
}

# VmRSS of a process in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
