#!/usr/bin/env bash
# The access log: one JSON line per request with the request id, the key's
# id (never the key), route, model, provider, status, latency, time to
# first token, tokens, cost and attempts; the client address anonymised;
# no secret of any kind in it.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-never-logged-0042"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }],
                "price": { "input_per_mtok": 1, "output_per_mtok": 2 } } ] }
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
assert_eq "$(head -1 "$T/uc.body")" "day,key,model,requests,cache_hits,tokens_in,tokens_out,cost_usd" "CSV header"
assert_file_has "$T/uc.body" "$TODAY,$ID,demo,2," "CSV row"
req ub "$BASE_URL/admin/usage?from=yesterday" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" >/dev/null
assert_api_error ub 400 invalid_value
# A torn last line (a crash mid-write) is skipped, the rest still counts.
printf '{"ts":1,"key":"torn' >>"$(ls "$OWN_DIR"/data/ledger/*.jsonl | head -1)"
assert_eq "$(req u2 "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN")" 200 "report with a torn line"
assert_file_has "$T/u2.body" '"requests":2' "counts kept"
