#!/usr/bin/env bash
# Codex CLI itself (tests/codex: @openai/codex, pinned with its lockfile),
# run non-interactively (codex exec) against the relay's /v1/responses with
# the mock upstream: to an OpenAI target and to an Anthropic target, a
# plain turn and a turn with a tool call (the mock calls Codex's first tool
# once; Codex runs it, sends the output back, and prints the answer).
. "$(dirname "$0")/lib.sh"

CODEX_DIR=$ROOT/tests/codex
if [ ! -x "$CODEX_DIR/node_modules/.bin/codex" ]; then
	(cd "$CODEX_DIR" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
	    fail "npm ci in tests/codex: $(tail -n 5 "$T/npm.log")"
fi
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] } ],
  "models": [ { "name": "c-openai", "targets": [{ "provider": "mock", "model": "up-openai" }] },
              { "name": "c-responses", "targets": [{ "provider": "mock", "model": "up-rs", "api": "responses" }] },
              { "name": "c-anthropic", "targets": [{ "provider": "an", "model": "claude-up" }] } ] }
JSON
own_stack_start "$T/cfg.in"
export CODEX_HOME=$SCEN_DIR/codex-home
mkdir -p "$CODEX_HOME" "$SCEN_DIR/work"
export RELAY_KEY=sk-anything

# codex_run NAME MODEL PROMPT: codex exec, its stdout in $T/NAME.out.
codex_run() {
	local t0=$(now_ms) rc
	(cd "$SCEN_DIR/work" && timeout 90 "$CODEX_DIR/node_modules/.bin/codex" exec \
	    --skip-git-repo-check --sandbox read-only \
	    -c model_provider=relay \
	    -c "model_providers.relay={ name = \"relay\", base_url = \"$BASE_URL/v1\", env_key = \"RELAY_KEY\", wire_api = \"responses\" }" \
	    -c 'model_reasoning_effort="low"' -c 'web_search="disabled"' \
	    -m "$2" "$3" </dev/null >"$T/$1.out" 2>"$T/$1.err")
	rc=$?
	measure "codex exec -m $2: rc $rc in $(($(now_ms) - t0)) ms, $(curl -sS "$MOCK_URL/_mock/requests" | jget length) upstream calls so far"
	return $rc
}

for m in c-openai c-responses c-anthropic; do
	codex_run plain-$m $m "say hello $m" || fail "codex exec $m: $(tail -n 20 "$T/plain-$m.err")"
	# The mock echoes the last user turn: Codex's environment context and
	# the prompt (consecutive user messages are one turn once translated).
	assert_file_has "$T/plain-$m.out" "Hello from mock. You said:" "codex $m: the answer printed"
	curl -sS "$MOCK_URL/_mock/requests" >"$T/reqs-$m.json"
	assert_file_has "$T/reqs-$m.json" "say hello $m" "codex $m: the prompt upstream"
	codex_run tool-$m $m "run a tool $m [[mock tool_once=1]]" || fail "codex exec tool $m: $(tail -n 20 "$T/tool-$m.err")"
	assert_file_has "$T/tool-$m.out" "Hello from mock. You said:" "codex $m: the answer after the tool"
	# Two calls upstream: the tool call, then the answer to its output.
	curl -sS "$MOCK_URL/_mock/requests" >"$T/treqs-$m.json"
	n=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));
console.log(r.filter((q)=>q.body.includes(process.argv[2])).length)' "$T/treqs-$m.json" "run a tool $m")
	assert_eq "$n" 2 "codex $m: the tool's round trip upstream"
done
