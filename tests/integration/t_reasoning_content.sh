#!/usr/bin/env bash
# reasoning_content of OpenAI-compatible vendors (DeepSeek, Kimi, GLM,
# Qwen): the mock answers as they do in thinking mode (directive
# reasoning_content=1: the thinking as reasoning_content, and a 400, as
# DeepSeek's, when an assistant tool-call message comes back without it).
#  - an Anthropic client sees it as a thinking block (answer and stream),
#    a Gemini client as a thought part, an OpenAI client as it came;
#  - a tool round trip from an Anthropic client: with the provider's
#    "reasoning_content": true the thinking goes back on the tool-call
#    message and the turn is served; without it (official OpenAI refuses
#    unknown message fields) it is not sent, and such a vendor refuses.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "ds", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-ds"], "reasoning_content": true },
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-oa"] } ],
  "models": [ { "name": "ds", "targets": [{ "provider": "ds", "model": "deepseek-chat" }] },
              { "name": "oa", "targets": [{ "provider": "oa", "model": "gpt-x" }] } ] }
JSON
own_stack_start "$T/cfg.in"
THINK="The user greeted me. I should reply politely."
AH=(-H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' -H 'x-api-key: any')
TOOLS='"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]'

# Anthropic client, answer and stream.
assert_eq "$(req a1 "$BASE_URL/v1/messages" "${AH[@]}" -d '{"model":"ds","max_tokens":64,"messages":[{"role":"user","content":"hi [[mock reasoning_content=1]]"}]}')" 200 "anthropic: answer"
assert_eq "$(jget content.0.type "$T/a1.body")" thinking "anthropic: a thinking block first"
assert_eq "$(jget content.0.thinking "$T/a1.body")" "$THINK" "anthropic: the vendor's reasoning_content"
assert_eq "$(jget content.1.type "$T/a1.body")" text "anthropic: then the text"
assert_eq "$(req a2 "$BASE_URL/v1/messages" "${AH[@]}" -d '{"model":"ds","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi [[mock reasoning_content=1]]"}]}')" 200 "anthropic: stream"
got=$(data_lines "$T/a2.body" | sed 's/^data: //' | node -e '
let s = "", t = "";
for (const l of require("fs").readFileSync(0, "utf8").trim().split("\n")) {
  const e = JSON.parse(l);
  if (e.type === "content_block_delta" && e.delta.type === "thinking_delta") s += e.delta.thinking;
  if (e.type === "content_block_delta" && e.delta.type === "text_delta") t += e.delta.text;
}
console.log(s + "|" + (t.length > 0));')
assert_eq "$got" "$THINK|true" "anthropic stream: thinking deltas, then text"

# Gemini and OpenAI clients.
assert_eq "$(req g1 "$BASE_URL/v1beta/models/ds:generateContent" -H 'Content-Type: application/json' -H 'x-goog-api-key: any' -d '{"contents":[{"role":"user","parts":[{"text":"hi [[mock reasoning_content=1]]"}]}]}')" 200 "gemini: answer"
assert_eq "$(jget candidates.0.content.parts.0.thought "$T/g1.body")" true "gemini: a thought part"
assert_eq "$(jget candidates.0.content.parts.0.text "$T/g1.body")" "$THINK" "gemini: its text"
assert_eq "$(post o1 '{"model":"ds","messages":[{"role":"user","content":"hi [[mock reasoning_content=1]]"}]}')" 200 "openai: answer"
assert_eq "$(jget choices.0.message.reasoning_content "$T/o1.body")" "$THINK" "openai: as it came"

# Tool round trip from an Anthropic client.
turn1() {
	req "$1" "$BASE_URL/v1/messages" "${AH[@]}" -d "{\"model\":\"$2\",\"max_tokens\":64,$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"weather? [[mock reasoning_content=1 tool=1]]\"}]}"
}
turn2() { # NAME MODEL ASSISTANT_CONTENT_JSON TOOL_USE_ID
	req "$1" "$BASE_URL/v1/messages" "${AH[@]}" -d "{\"model\":\"$2\",\"max_tokens\":64,$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"weather? [[mock reasoning_content=1 tool=1]]\"},{\"role\":\"assistant\",\"content\":$3},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"$4\",\"content\":\"18C\"}]}]}"
}
for m in ds oa; do
	assert_eq "$(turn1 t1$m $m)" 200 "$m: tool turn 1"
	assert_eq "$(jget content.0.thinking "$T/t1$m.body")" "$THINK" "$m: thinking beside the call"
	node -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1]));
process.stdout.write(JSON.stringify(b.content));' "$T/t1$m.body" >"$T/t1$m.content"
	id=$(node -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1]));
process.stdout.write(b.content.find(c => c.type === "tool_use").id);' "$T/t1$m.body")
	turn2 t2$m $m "$(cat "$T/t1$m.content")" "$id" >/dev/null
	mock_last_request up$m
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
const b = typeof r.body === "string" ? JSON.parse(r.body) : r.body;
const a = b.messages.find(m => m.tool_calls);
process.stdout.write(String(a && a.reasoning_content));' "$T/up$m.json" >"$T/up$m.rc"
done
assert_eq "$(cat "$T/t2ds.code")" 200 "ds (reasoning_content: true): the tool result turn is served"
assert_eq "$(cat "$T/upds.rc")" "$THINK" "ds: the thinking went back as reasoning_content"
assert_eq "$(cat "$T/t2oa.code")" 400 "oa (switch off): a thinking-mode vendor refuses"
assert_file_has "$T/t2oa.body" "must be passed back" "oa: the vendor's reason"
assert_eq "$(cat "$T/upoa.rc")" undefined "oa: no reasoning_content sent"

# The official Anthropic SDK (tests/node's, when npm ci has run) sees the
# thinking block, answer and stream.
SDK=$ROOT/tests/node/node_modules/@anthropic-ai/sdk
if [ -d "$SDK" ]; then
	cat >"$T/sdk.mjs" <<'JS'
import Anthropic from '@anthropic-ai/sdk';
const c = new Anthropic({ baseURL: process.env.BASE, apiKey: 'any', maxRetries: 0 });
const p = { model: 'ds', max_tokens: 64, messages: [{ role: 'user', content: 'hi [[mock reasoning_content=1]]' }] };
const a = await c.messages.create(p);
const s = await c.messages.stream(p).finalMessage();
const th = (m) => m.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
console.log(th(a) + '|' + th(s) + '|' + s.content.at(-1).type);
JS
	mkdir -p "$T/sdk/node_modules/@anthropic-ai" && ln -s "$SDK" "$T/sdk/node_modules/@anthropic-ai/sdk"
	cp "$T/sdk.mjs" "$T/sdk/"
	got=$(BASE=$BASE_URL node "$T/sdk/sdk.mjs" 2>"$T/sdk.err") || fail "SDK: $(cat "$T/sdk.err")"
	assert_eq "$got" "$THINK|$THINK|text" "anthropic SDK: thinking in the answer and the stream"
	log "anthropic SDK saw: $got"
else
	log "anthropic SDK part skipped: no $SDK (cd tests/node && npm ci)"
fi
