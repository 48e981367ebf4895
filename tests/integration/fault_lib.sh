#!/usr/bin/env bash
# fault_lib.sh - helpers for the fault-injection scenarios
# (tests/integration/t_fault_*.sh), on top of lib.sh.
#
# Faults come from "[[mock ...]]" directives in the request body (the relay
# does not forward client headers), or from a provider's configured
# "headers" ("x-mock-status": "503"): those reach one provider only, which
# is how a fallback target is made to fail while the other one serves the
# very same body.
#
# Checks are soft: expect_* record a failure and go on, so that one run
# gives the whole outcome table; fault_finish fails the scenario at the end
# when anything was wrong. Every case prints one "measure:" row:
#   fault | what the client saw | upstream attempts | time to answer
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FAULT_FAILS=()

expect() { # description, command...
	local what=$1
	shift
	"$@" || {
		FAULT_FAILS+=("$what")
		printf '  EXPECT FAILED: %s\n' "$what"
	}
}
expect_eq() { # actual expected what
	[ "$1" = "$2" ] && return 0
	FAULT_FAILS+=("$3: got '$1', want '$2'")
	printf '  EXPECT FAILED: %s: got %s, want %s\n' "$3" "'$1'" "'$2'"
}
expect_le() {
	[ "$1" -le "$2" ] 2>/dev/null && return 0
	FAULT_FAILS+=("$3: $1 > $2")
	printf '  EXPECT FAILED: %s: %s > %s\n' "$3" "$1" "$2"
}
expect_ge() {
	[ "$1" -ge "$2" ] 2>/dev/null && return 0
	FAULT_FAILS+=("$3: $1 < $2")
	printf '  EXPECT FAILED: %s: %s < %s\n' "$3" "$1" "$2"
}
fault_finish() {
	local pid=${PID_relay_chat:-}
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		FAULT_FAILS+=("relay-chat (pid $pid) died")
	fi
	if [ -n "${OWN_DIR:-}" ] &&
	    grep -aqE 'AddressSanitizer|runtime error:' "$OWN_DIR"/logs/relay-chat.log 2>/dev/null; then
		FAULT_FAILS+=("sanitizer report in relay-chat.log")
	fi
	[ "${#FAULT_FAILS[@]}" = 0 ] && return 0
	printf '  FAIL: %d expectation(s) failed:\n' "${#FAULT_FAILS[@]}"
	printf '    - %s\n' "${FAULT_FAILS[@]}"
	exit 1
}

# row FAULT SAW ATTEMPTS MS: one line of the outcome table.
row() { measure "$SERVER | $1 | $2 | attempts $3 | ${4} ms"; }

# --- mocks -------------------------------------------------------------------
# start_mock2 [-k KEY]: a second mock upstream; sets MOCK2_PORT, MOCK2_URL.
start_mock2() {
	MOCK2_PORT=$(stack_free_port)
	while [ "$MOCK2_PORT" = "${MC_PORT:-}" ] || [ "$MOCK2_PORT" = "${MOCK_PORT:-}" ]; do
		MOCK2_PORT=$(stack_free_port)
	done
	"$ROOT/$BUILD/mock-upstream" -l "127.0.0.1:$MOCK2_PORT" -q "$@" \
	    >>"$T/mock2.log" 2>&1 &
	BG_PIDS+=($!)
	MOCK2_URL="http://127.0.0.1:$MOCK2_PORT"
	wait_until 50 stack_tcp_up "$MOCK2_PORT" || fail "second mock did not start"
}

# mocks_reset URL...: clear the mocks' logs and fail_first counters.
mocks_reset() {
	local u
	for u in "$@"; do
		curl -sS --max-time 5 -X POST "$u/_mock/reset" >/dev/null ||
		    fail "reset $u"
	done
}

# attempts URL [PATH_SUBSTRING]: upstream calls a mock recorded (its
# /_mock/* control calls left out) since its last reset.
attempts() {
	curl -sS --max-time 5 "$1/_mock/requests" >"$T/reqs.json" ||
	    fail "GET $1/_mock/requests"
	node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const sub = process.argv[2] || "";
process.stdout.write(String(a.filter(r => !r.path.startsWith("/_mock") &&
    r.path.includes(sub)).length));
' "$T/reqs.json" "${2:-}"
}

# keys_used URL: the credential of each recorded call, in order, one a line.
keys_used() {
	curl -sS --max-time 5 "$1/_mock/requests" >"$T/reqs.json" ||
	    fail "GET $1/_mock/requests"
	node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const r of a) {
  if (r.path.startsWith("/_mock")) continue;
  const h = r.headers;
  const k = h["x-api-key"] || h["x-goog-api-key"] || h["api-key"] ||
      (h["authorization"] || "").replace(/^Bearer /, "") || "-";
  console.log(k);
}' "$T/reqs.json"
}

# --- clients -------------------------------------------------------------------
# timed NAME curl-args...: like req, plus $T/NAME.ms (wall time).
timed() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	req "$name" "$@" >/dev/null
	echo $(($(now_ms) - t0)) >"$T/$name.ms"
	cat "$T/$name.code"
}
ms_of() { cat "$T/$1.ms"; }

# chat NAME MODEL CONTENT [stream] : POST an OpenAI chat request (timed).
chat() {
	chat_json "$2" "$3" "${4:-false}" >"$T/$1.req"
	timed "$1" "$BASE_URL/v1/chat/completions" \
	    -H 'Content-Type: application/json' --data-binary "@$T/$1.req"
}
# messages NAME MODEL CONTENT [stream]: the same as an Anthropic client.
messages() {
	node -e '
const [model, content, stream] = process.argv.slice(1);
const o = { model, max_tokens: 256, messages: [{ role: "user", content }] };
if (stream === "true") o.stream = true;
process.stdout.write(JSON.stringify(o));
' "$2" "$3" "${4:-false}" >"$T/$1.req"
	timed "$1" "$BASE_URL/v1/messages" -H 'Content-Type: application/json' \
	    -H 'anthropic-version: 2023-06-01' --data-binary "@$T/$1.req"
}

# The mock's whole answer to a user message (see tests/mock/README.md).
mock_text() { printf 'Hello from mock. You said: %s' "${1:0:200}"; }

# sse_summary NAME: an OpenAI stream body summed up as JSON:
#   {text, events, errors, done, first_error, bad}
# text: the content deltas joined; errors: data events carrying "error";
# done: [DONE] seen; bad: data lines that are not JSON.
sse_summary() {
	node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").split(/\r?\n/);
const s = { text: "", events: 0, errors: 0, done: 0, bad: 0, first_error: null, after_error: 0 };
for (const l of lines) {
  if (!l.startsWith("data:")) continue;
  const d = l.slice(5).trim();
  if (d === "[DONE]") { s.done++; continue; }
  let v;
  try { v = JSON.parse(d); } catch (e) { s.bad++; continue; }
  if (s.errors > 0) s.after_error++;
  if (v.error) { s.errors++; if (!s.first_error) s.first_error = v.error; continue; }
  s.events++;
  for (const c of v.choices || [])
    if (c.delta && typeof c.delta.content === "string") s.text += c.delta.content;
}
process.stdout.write(JSON.stringify(s));
' "$T/$1.body" >"$T/$1.sse"
}
sse() { jget "$2" "$T/$1.sse"; }

# The text of a non-stream OpenAI answer.
answer_text() { jget choices.0.message.content "$T/$1.body"; }

# is_openai_error NAME: the body is {"error":{"message",...}}.
is_openai_error() {
	local m
	m=$(jget error.message "$T/$1.body")
	[ "$m" != __missing__ ] && [ "$m" != __invalid__ ] && [ -n "$m" ]
}
is_anthropic_error() {
	[ "$(jget type "$T/$1.body")" = error ] &&
	    [ "$(jget error.message "$T/$1.body")" != __missing__ ]
}
