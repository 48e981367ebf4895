#!/usr/bin/env bash
# POST /v1/responses/compact (Codex's remote compaction, unary): to a
# model's OpenAI Responses target it is passed on to the provider's
# /responses/compact, answer as it came and tokens settled; without a
# master key a model with no Responses target gets a clear 400 (the relay
# summarises through other targets only with one: t_responses_reasoning.sh);
# stream is refused; the response cache never
# answers it with a /v1/responses answer of the same body.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "cache": { "enabled": true, "ttl_s": 600 },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-one"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] } ],
  "models": [ { "name": "rs", "targets": [{ "provider": "oa", "model": "up-rs", "api": "responses" }] },
              { "name": "an-m", "targets": [{ "provider": "an", "model": "claude-up" }] } ] }
JSON
own_stack_start "$T/cfg.in"
curl -sS "$MOCK_URL/_mock/keys?accept=" >/dev/null

cpost() { # name body
	printf '%s' "$2" >"$T/$1.req"
	req "$1" "$BASE_URL/v1/responses/compact" -H 'Authorization: Bearer sk-any' \
	    -H 'Content-Type: application/json' --data-binary "@$T/$1.req"
}
BODY='{"model":"rs","temperature":0,"instructions":"be brief","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"compact me"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok"}]}]}'
# The same body on /v1/responses first: cached, it must not answer compact.
printf '%s' "$BODY" >"$T/r0.req"
assert_eq "$(req r0 "$BASE_URL/v1/responses" -H 'Authorization: Bearer sk-any' -H 'Content-Type: application/json' --data-binary "@$T/r0.req")" 200 "responses: same body"
assert_eq "$(header r0 x-relay-cache)" MISS "responses: same body, cacheable"
assert_eq "$(cpost c1 "$BODY")" 200 "compact: status"
assert_eq "$(header c1 x-relay-cache)" "" "compact: not through the cache"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const c = j.output.filter((i) => i.type === "compaction");
if (j.object !== "response.compaction" || c.length !== 1 || typeof c[0].encrypted_content !== "string")
  throw new Error("shape " + JSON.stringify(j).slice(0, 300));
if (!JSON.stringify(j.output).includes("compact me")) throw new Error("user turn kept");
' "$T/c1.body" || fail "compact: $(head -c 400 "$T/c1.body")"
curl -sS "$MOCK_URL/_mock/requests" >"$T/reqs.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const q = r.filter((x) => x.path === "/v1/responses/compact");
if (q.length !== 1) throw new Error("upstream compact calls: " + q.length);
const b = JSON.parse(q[0].body);
if (b.model !== "up-rs" || b.instructions !== "be brief" || b.input.length !== 2) throw new Error("body " + q[0].body);
if (q[0].headers.authorization !== "Bearer k-one") throw new Error("key");
' "$T/reqs.json" || fail "compact upstream: $(head -c 600 "$T/reqs.json")"
assert_eq "$(header c1 x-relay-target)" "oa/up-rs" "compact: the target"
grep -q '"route":"responses_compact".*"status":200' "$OWN_DIR"/logs/access.log ||
    fail "compact: access line $(tail -n 2 "$OWN_DIR/logs/access.log")"
grep '"route":"responses_compact"' "$OWN_DIR"/logs/access.log | grep -q '"in":[1-9]' ||
    fail "compact: tokens settled $(grep responses_compact "$OWN_DIR/logs/access.log")"

# Other providers: a clear 400 (no summary made up); stream refused.
cpost c2 '{"model":"an-m","input":[{"type":"message","role":"user","content":"x"}]}' >/dev/null
assert_api_error c2 400 unsupported_for_target
assert_match "$(jget error.message "$T/c2.body")" 'Responses' "compact elsewhere: says why"
cpost c3 '{"model":"rs","stream":true,"input":[{"type":"message","role":"user","content":"x"}]}' >/dev/null
assert_api_error c3 400 "" stream
# GET on it is no stored response
assert_eq "$(req c4 "$BASE_URL/v1/responses/compact" -H 'Authorization: Bearer sk-any')" 405 "compact: GET"
