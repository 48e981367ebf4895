#!/usr/bin/env bash
# Reasoning and compaction through relay-sealed encrypted_content (issue
# 16, items 4 and 5), with a master key: the openai SDK talks to an
# Anthropic target with thinking; turn 1's reasoning item (whole and
# streamed) carries the relay's token (rly:rs1:..., not the mock's raw
# signature), turn 2 sends it back (store: false, include
# reasoning.encrypted_content, as Codex) and the mock Anthropic upstream
# gets turn 1's exact thinking text and signature; the same token sent to
# models on OpenAI chat, Gemini and OpenAI Responses reaches none of them.
# /v1/responses/compact on the Anthropic model: one compaction item
# (rly:cmp1:...), whose summary reaches the next turn's upstream, whichever
# target it is; a compaction the relay did not seal, to a translated
# target: 400.
. "$(dirname "$0")/lib.sh"

NODE_DIR=$ROOT/tests/node
if [ ! -d "$NODE_DIR/node_modules/openai" ]; then
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
	    fail "npm ci in tests/node: $(tail -n 5 "$T/npm.log")"
fi
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-oa"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "an2", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an2"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] } ],
  "models": [ { "name": "an-m", "targets": [{ "provider": "an", "model": "claude-up" }] },
              { "name": "an2-m", "targets": [{ "provider": "an2", "model": "claude-up" }] },
              { "name": "chat-m", "targets": [{ "provider": "oa", "model": "up-chat" }] },
              { "name": "ge-m", "targets": [{ "provider": "ge", "model": "up-gemini" }] },
              { "name": "rs-m", "targets": [{ "provider": "oa", "model": "up-rs", "api": "responses" }] } ] }
JSON
export RELAY_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
own_stack_start "$T/cfg.in"
curl -sS "$MOCK_URL/_mock/keys?accept=" >/dev/null

(cd "$NODE_DIR" && BASE="$BASE_URL" MOCK="$MOCK_URL" timeout 90 node --input-type=module -e '
import assert from "node:assert/strict";
import OpenAI from "openai";
const THINK_TEXT = "The user greeted me. I should reply politely.";
const THINK_SIG = "EqQBCkYIBRgCKkBtb2NrLXNpZ25hdHVyZS1tb2NrLXNpZ25hdHVyZS1tb2Nr";
const oa = new OpenAI({ baseURL: `${process.env.BASE}/v1`, apiKey: "sk-any", maxRetries: 0, timeout: 15000 });
const reqs = async () => (await fetch(`${process.env.MOCK}/_mock/requests`)).json();
const upstream = async (m) => {
  const q = (await reqs()).filter((x) => x.body.includes(m));
  assert.equal(q.length, 1, `one upstream request with ${m}: ${q.length}`);
  return q[0];
};
const opts = { store: false, include: ["reasoning.encrypted_content"], reasoning: { effort: "low", summary: "auto" } };
const tag = () => `m${Date.now()}${Math.random().toString(36).slice(2, 8)}`;

// Turn 1, whole and streamed: the reasoning item holds our token.
const said = `think ${tag()} [[mock thinking=1]]`;
const r1 = await oa.responses.create({ model: "an-m", input: said, ...opts });
const st = oa.responses.stream({ model: "an-m", input: `${said} s`, ...opts });
for await (const _ of st);
const s1 = await st.finalResponse();
for (const [how, out] of [["create", r1.output], ["stream", s1.output]]) {
  const rs = out.find((o) => o.type === "reasoning");
  assert.ok(rs, `${how}: ${JSON.stringify(out)}`);
  assert.equal(rs.summary[0]?.text, THINK_TEXT, how);
  assert.match(rs.encrypted_content, /^rly:rs1:[A-Za-z0-9_-]+$/, how);
  assert.ok(!rs.encrypted_content.includes(THINK_SIG), `${how}: not the raw signature`);
}

// Turn 2 on the same provider: thinking and signature byte for byte.
for (const [how, out] of [["create", r1.output], ["stream", s1.output]]) {
  const m2 = tag();
  const r2 = await oa.responses.create({ model: "an-m", ...opts,
    input: [{ role: "user", content: said }, ...out, { role: "user", content: `more ${m2}` }] });
  assert.ok(r2.output_text.includes(m2), r2.output_text);
  const b = JSON.parse((await upstream(m2)).body);
  const th = b.messages.flatMap((x) => (Array.isArray(x.content) ? x.content : [])).filter((c) => c.type === "thinking");
  assert.equal(th.length, 1, `${how}: ${JSON.stringify(b.messages)}`);
  assert.equal(th[0].thinking, THINK_TEXT, how);
  assert.equal(th[0].signature, THINK_SIG, how);
}

// The same token to other providers: never forwarded.
for (const model of ["an2-m", "chat-m", "ge-m", "rs-m"]) {
  const m3 = tag();
  await oa.responses.create({ model, ...opts,
    input: [{ role: "user", content: said }, ...r1.output, { role: "user", content: `again ${m3}` }] });
  const body = (await upstream(m3)).body;
  assert.ok(!body.includes("rly:"), `${model}: no relay token: ${body.slice(0, 400)}`);
  assert.ok(!body.includes(THINK_SIG), `${model}: no signature`);
  if (model !== "rs-m") assert.ok(!body.includes(THINK_TEXT), `${model}: no thinking text`);
}

// Compaction on the Anthropic model: the target summarises.
const mc = tag();
const hist = [{ type: "message", role: "user", content: [{ type: "input_text", text: `fix the bug ${mc}` }] },
  { type: "message", role: "assistant", content: [{ type: "output_text", text: "done" }] }];
const cr = await fetch(`${process.env.BASE}/v1/responses/compact`, { method: "POST",
  headers: { authorization: "Bearer sk-any", "content-type": "application/json" },
  body: JSON.stringify({ model: "an-m", instructions: "be brief", input: hist }) });
const cj = await cr.json();
assert.equal(cr.status, 200, JSON.stringify(cj));
assert.equal(cj.object, "response.compaction");
const items = cj.output.filter((i) => i.type === "compaction");
assert.equal(items.length, 1, JSON.stringify(cj.output));
assert.match(items[0].encrypted_content, /^rly:cmp1:[A-Za-z0-9_-]+$/);
assert.ok(cj.output.some((i) => i.role === "user" && JSON.stringify(i).includes(mc)), "user turn kept");
assert.ok(!cj.output.some((i) => i.role === "assistant"), "assistant turn folded");
assert.ok(cj.usage.output_tokens > 0, JSON.stringify(cj.usage));
const asked = JSON.parse((await upstream(mc)).body);
assert.equal(asked.stream, undefined, "unary");
const summaryAsk = JSON.stringify(asked.messages);
assert.ok(summaryAsk.includes("handoff summary"), summaryAsk.slice(0, 600));
// The mock answers "Hello from mock. You said: ..." - that is the summary.
for (const model of ["an-m", "ge-m", "chat-m", "rs-m"]) {
  const m4 = tag();
  await oa.responses.create({ model, store: false, input: [...cj.output, { role: "user", content: `next ${m4}` }] });
  const body = (await upstream(m4)).body;
  assert.ok(body.includes("Hello from mock."), `${model}: the summary: ${body.slice(0, 600)}`);
  assert.ok(!body.includes("rly:"), `${model}: no token`);
}
// A compaction the relay did not seal, to a translated target: 400.
await assert.rejects(oa.responses.create({ model: "an-m", store: false,
  input: [{ type: "compaction", encrypted_content: "gAAAAABforeign" }, { role: "user", content: "x" }] }),
  (e) => { assert.equal(e.status, 400); assert.match(e.message, /compaction/); return true; });
console.log("ok");
' >"$T/node.out" 2>&1) || fail "node: $(tail -n 30 "$T/node.out")"
assert_file_has "$T/node.out" ok "node finished"
! grep -q "k-an\|k-oa\|k-ge" "$OWN_DIR"/logs/*.log || fail "a provider key in the logs"
