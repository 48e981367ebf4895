#!/usr/bin/env bash
# Response ids that say which provider made them (issue 16): with a master
# key, a Responses target's answers carry relay ids (resp_rly-..., sealed:
# provider, key, upstream id), and the openai SDK's responses.retrieve,
# .inputItems.list, .cancel, .delete and previous_response_id reach that
# provider with that key (two keys: the mock, as OpenAI, keeps a response
# for the key that made it). Other ids: 404 naming /proxy/; a relay id
# sent to a model that is no Responses target of its provider: 400.
. "$(dirname "$0")/lib.sh"

NODE_DIR=$ROOT/tests/node
if [ ! -d "$NODE_DIR/node_modules/openai" ]; then
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
	    fail "npm ci in tests/node: $(tail -n 5 "$T/npm.log")"
fi
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-one", "k-two"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] } ],
  "models": [ { "name": "rs", "targets": [{ "provider": "oa", "model": "up-rs", "api": "responses" }] },
              { "name": "chat-oa", "targets": [{ "provider": "oa", "model": "up-chat" }] },
              { "name": "an-m", "targets": [{ "provider": "an", "model": "claude-up" }] } ] }
JSON
export RELAY_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
own_stack_start "$T/cfg.in"
curl -sS "$MOCK_URL/_mock/keys?accept=" >/dev/null

t0=$(now_ms)
(cd "$NODE_DIR" && BASE="$BASE_URL" MOCK="$MOCK_URL" timeout 60 node --input-type=module -e '
import assert from "node:assert/strict";
import OpenAI from "openai";
const oa = new OpenAI({ baseURL: `${process.env.BASE}/v1`, apiKey: "sk-any", maxRetries: 0, timeout: 15000 });
const reqs = async () => (await fetch(`${process.env.MOCK}/_mock/requests`)).json();
const byMarker = async (m) => (await reqs()).filter((q) => q.body.includes(m));
const status = async (p) => { try { await p; return 200; } catch (e) { return e.status; } };

// Several rounds: the two keys take turns, and each id finds its own.
for (let i = 0; i < 4; i++) {
  const said = `rid-${i}-${Date.now()}`;
  const r = await oa.responses.create({ model: "rs", input: said });
  assert.match(r.id, /^resp_rly-[A-Za-z0-9_-]+$/, `a relay id: ${r.id}`);
  assert.ok(r.output_text.includes(said), r.output_text);
  const [made] = await byMarker(said);
  const got = await oa.responses.retrieve(r.id);
  assert.equal(got.id, r.id, "retrieve: the relay id again");
  assert.equal(got.output_text, r.output_text, "retrieve: the stored answer");
  const all = await reqs();
  const get = all.filter((q) => q.method === "GET" && q.path.startsWith("/v1/responses/resp_mock")).pop();
  assert.ok(get, "the GET reached the provider");
  assert.equal(get.headers.authorization, made.headers.authorization, "with the key that made it");
  const items = await oa.responses.inputItems.list(r.id);
  assert.ok(JSON.stringify(items.data).includes(said), "input_items: the input");
}

// A stream: its events carry the relay id; previous_response_id unwrapped.
const s = `rid-s-${Date.now()}`;
const st = oa.responses.stream({ model: "rs", input: s });
let created;
for await (const ev of st) if (ev.type === "response.created") created = ev.response.id;
const fin = await st.finalResponse();
assert.match(fin.id, /^resp_rly-/);
assert.equal(created, fin.id, "response.created and the final response: one id");
assert.equal((await oa.responses.retrieve(fin.id)).id, fin.id);
const [sq] = await byMarker(s);
const p = `rid-p-${Date.now()}`;
const next = await oa.responses.create({ model: "rs", input: p, previous_response_id: fin.id });
assert.match(next.id, /^resp_rly-/);
const [pq] = await byMarker(p);
const pb = JSON.parse(pq.body);
assert.match(pb.previous_response_id, /^resp_mock\d+$/, "the provider got its own id");
assert.equal(pq.headers.authorization, sq.headers.authorization, "and the same key");

// cancel reaches the provider (the mock, as OpenAI: only background ones).
const c = await oa.responses.cancel(fin.id).then(() => 200, (e) => e);
assert.equal(c.status, 400);
assert.match(c.message, /background/);
// delete, then it is gone
const d = await oa.responses.delete(fin.id).then(() => "ok", (e) => e);
assert.equal(d, "ok", String(d));
assert.equal(await status(oa.responses.retrieve(fin.id)), 404, "deleted");

// Ids the relay did not make, or forged: 404.
const other = await oa.responses.retrieve("resp_abc").catch((e) => e);
assert.equal(other.status, 404);
assert.match(other.message, /\/proxy\//);
assert.equal(await status(oa.responses.retrieve("resp_rly-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), 404, "forged");
// A relay id to a model its provider does not serve through Responses.
for (const model of ["an-m", "chat-oa"]) {
  const e = await oa.responses.create({ model, input: "go on", previous_response_id: next.id }).catch((x) => x);
  assert.equal(e.status, 400, model);
  assert.equal(e.param, "previous_response_id", model);
  assert.match(e.message, /history/, model);
}
console.log("ok");
' >"$T/node.out" 2>"$T/node.err") || fail "responses ids: $(tail -n 30 "$T/node.err")"
assert_file_has "$T/node.out" ok "responses ids: the SDK run"
measure "relay response ids: SDK run in $(($(now_ms) - t0)) ms"

# Without the master key nothing is wrapped (the shared stack's node tests
# see the upstream's ids); the relay's logs hold no upstream key.
! grep -q "k-one\|k-two" "$OWN_DIR"/logs/*.log || fail "a provider key in the logs"
