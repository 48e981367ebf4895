#!/usr/bin/env bash
# The access log: one JSON line per request with the request id, the key's
# id (never the key), route, model, provider, status, latency, time to
# first token, tokens, cost and attempts; the client address anonymised;
# no secret of any kind in it.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-never-logged-0042"] },
                 { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
                 { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }],
                "price": { "input_per_mtok": 1, "output_per_mtok": 2 } },
              { "name": "an-m", "targets": [{ "provider": "an" }] },
              { "name": "ge-m", "targets": [{ "provider": "ge" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
req mk "$BASE_URL/admin/keys" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" -d '{"name":"log"}' >/dev/null
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
sleep 1.1
assert_eq "$(post a "$(chat_json demo 'one two')" -H "Authorization: Bearer $K")" 200 "json"
assert_eq "$(post b "$(chat_json demo 'three' true)" -H "Authorization: Bearer $K")" 200 "stream"
post c "$(chat_json nosuch x)" -H "Authorization: Bearer $K" >/dev/null
post d "$(chat_json demo x)" -H "Authorization: Bearer sk-relay-wrong-secret" >/dev/null
sleep 0.3
LOG=$OWN_DIR/logs/access.log
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l));
const by = Object.fromEntries(lines.map(l => [l.id, l]));
const [a, b, c, d, key] = process.argv.slice(2);
const fail = m => { console.log("  FAIL: " + m + " in " + JSON.stringify(lines)); process.exit(1); };
for (const id of [a, b, c, d]) if (!by[id]) fail("no line for " + id);
const A = by[a], B = by[b];
if (A.key !== key || A.route !== "chat" || A.model !== "demo" || A.provider !== "mock" || A.status !== 200) fail("json line fields");
if (!(A.in > 0 && A.out > 0 && A.cost_usd > 0 && A.attempts === 1 && A.ms > 0)) fail("json line usage");
if (!(B.ttft_ms > 0 && B.out > 0)) fail("stream ttft/tokens");
if (by[c].status !== 404 || by[d].status !== 401 || by[d].key !== "-") fail("refusals");
for (const l of lines) if (l.ip !== "127.0.0.0") fail("address not anonymised: " + l.ip);
console.log("  measure: " + lines.length + " lines, e.g. " + JSON.stringify(A));
' "$LOG" "$(header a x-request-id)" "$(header b x-request-id)" "$(header c x-request-id)" "$(header d x-request-id)" "$ID" ||
    fail "access log"
for s in "$K" sk-relay-wrong-secret sk-provider-never-logged-0042 "$RELAY_ADMIN_TOKEN"; do
	assert_file_lacks "$LOG" "$s" "secret in the access log"
done

# The usage ledger: every charged request, summed by day, key and model.
TODAY=$(date -u +%Y-%m-%d)
assert_eq "$(req u "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN")" 200 "GET /admin/usage"
node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1])).data;
const row = d.find(r => r.key === process.argv[2] && r.model === "demo");
if (!row || row.requests !== 2 || !(row.tokens_in > 0) || !(row.tokens_out > 0) || !(row.cost_usd > 0) || row.day !== process.argv[3]) {
  console.log("  FAIL: usage rows " + JSON.stringify(d)); process.exit(1); }
console.log("  measure: usage " + JSON.stringify(row));
' "$T/u.body" "$ID" "$TODAY" || fail "usage report"
assert_eq "$(req uc "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY&format=csv" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN")" 200 "CSV"
assert_eq "$(head -1 "$T/uc.body")" "day,key,model,requests,cache_hits,tokens_in,tokens_out,cost_usd,end_user" "CSV header"
assert_file_has "$T/uc.body" "$TODAY,$ID,demo,2," "CSV row"
req ub "$BASE_URL/admin/usage?from=yesterday" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" >/dev/null
assert_api_error ub 400 invalid_value
# A torn last line (a crash mid-write) is skipped, the rest still counts.
printf '{"ts":1,"key":"torn' >>"$(ls "$OWN_DIR"/data/ledger/*.jsonl | head -1)"
assert_eq "$(req u2 "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN")" 200 "report with a torn line"
assert_file_has "$T/u2.body" '"requests":2' "counts kept"

# Tokens charged = the usage the provider reported, in every dialect, whole
# and streamed (read without a full parse of the answer: usage_raw()).
AB='{"model":"an-m","max_tokens":50,"messages":[{"role":"user","content":"count these four words"}]'
GB='{"contents":[{"role":"user","parts":[{"text":"count these four words please"}]}]}'
post u1 "$(chat_json demo 'count these words')" -H "Authorization: Bearer $K" >/dev/null
post u2 "$(chat_json demo 'count these words too' true '{"stream_options":{"include_usage":true}}')" -H "Authorization: Bearer $K" >/dev/null
req u3 "$BASE_URL/v1/messages" -H "x-api-key: $K" -H 'Content-Type: application/json' -d "$AB}" >/dev/null
req u4 "$BASE_URL/v1/messages" -H "x-api-key: $K" -H 'Content-Type: application/json' -d "$AB,\"stream\":true}" >/dev/null
req u5 "$BASE_URL/v1beta/models/ge-m:generateContent" -H "x-goog-api-key: $K" -H 'Content-Type: application/json' -d "$GB" >/dev/null
req u6 "$BASE_URL/v1beta/models/ge-m:streamGenerateContent?alt=sse" -H "x-goog-api-key: $K" -H 'Content-Type: application/json' -d "$GB" >/dev/null
sleep 0.3
ids=""
for n in u1 u2 u3 u4 u5 u6; do ids="$ids $n=$(header $n x-request-id)"; done
node -e '
const fs = require("fs"), T = process.argv[1];
const by = Object.fromEntries(fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map(l => JSON.parse(l)).map(l => [l.id, l]));
const body = n => fs.readFileSync(T + "/" + n + ".body", "utf8");
const sse = (n, term) => body(n).split(term).filter(e => e.includes("data: ")).map(e => e.slice(e.indexOf("data: ") + 6)).filter(d => d.startsWith("{")).map(d => JSON.parse(d));
const want = {
  u1: () => { const u = JSON.parse(body("u1")).usage; return [u.prompt_tokens, u.completion_tokens]; },
  u2: () => { const u = sse("u2", "\n\n").filter(e => e.usage).at(-1).usage; return [u.prompt_tokens, u.completion_tokens]; },
  u3: () => { const u = JSON.parse(body("u3")).usage; return [u.input_tokens, u.output_tokens]; },
  u4: () => { const e = sse("u4", "\n\n"); return [e.find(x => x.type === "message_start").message.usage.input_tokens, e.filter(x => x.type === "message_delta").at(-1).usage.output_tokens]; },
  u5: () => { const u = JSON.parse(body("u5")).usageMetadata; return [u.promptTokenCount, u.candidatesTokenCount]; },
  u6: () => { const u = sse("u6", "\r\n\r\n").filter(f => f.usageMetadata).at(-1).usageMetadata; return [u.promptTokenCount, u.candidatesTokenCount]; },
};
const seen = [];
for (const kv of process.argv.slice(3)) {
  const [n, id] = kv.split("="), l = by[id], w = want[n]();
  if (!l || l.in !== w[0] || l.out !== w[1] || !(w[0] > 0 && w[1] > 0)) { console.log("  FAIL: " + n + " charged " + (l && [l.in, l.out]) + ", provider said " + w); process.exit(1); }
  seen.push(n + " " + w.join("/"));
}
console.log("  measure: charged = reported: " + seen.join(", "));
' "$T" "$LOG" $ids || fail "tokens charged differ from the usage reported"
