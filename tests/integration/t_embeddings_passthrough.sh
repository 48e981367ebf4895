#!/usr/bin/env bash
# POST /v1/embeddings to OpenAI-compatible, Azure and Gemini targets (the
# same vectors from the mock whatever the provider, Gemini's translated to
# OpenAI's list), refused for an Anthropic target; ANY /proxy/{provider}/
# {path} forwarded with the provider's key, the client's ?key= dropped,
# escapes refused.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-oa"] },
    { "name": "az", "type": "azure", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-az"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] } ],
  "models": [ { "name": "e-oa", "targets": [{ "provider": "oa", "model": "te3" }] },
              { "name": "e-az", "targets": [{ "provider": "az", "model": "dep-emb" }] },
              { "name": "e-ge", "targets": [{ "provider": "ge", "model": "gem-emb" }] },
              { "name": "e-an", "targets": [{ "provider": "an", "model": "claude" }] } ] }
JSON
own_stack_start "$T/cfg.in"

emb() { req "$1" "$BASE_URL/v1/embeddings" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$2\",\"input\":[\"hello\",\"world\"]}"; }
for m in e-oa e-az e-ge; do
	assert_eq "$(emb $m $m)" 200 "$m"
	assert_eq "$(jget object "$T/$m.body")" list "$m: a list"
	assert_eq "$(jget data.1.index "$T/$m.body")" 1 "$m: two items"
	jget data.0.embedding "$T/$m.body" >"$T/$m.vec"
done
cmp -s "$T/e-oa.vec" "$T/e-ge.vec" || fail "Gemini's vector differs: $(cat "$T/e-ge.vec")"
cmp -s "$T/e-oa.vec" "$T/e-az.vec" || fail "Azure's vector differs"
emb ean e-an >/dev/null
assert_api_error ean 400 unsupported_for_target model
curl -sS "$MOCK_URL/_mock/requests" >"$T/reqs.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
const seen = r.map(x => `${x.path}?${x.query} ${x.headers.authorization || x.headers["api-key"] || x.headers["x-goog-api-key"]}`);
for (const want of ["/v1/embeddings? Bearer k-oa",
    "/openai/deployments/dep-emb/embeddings?api-version=2024-10-21 k-az",
    "/v1beta/models/gem-emb:batchEmbedContents? k-ge"])
  if (!seen.includes(want)) { console.log("missing upstream call: " + want + " in " + seen.join(", ")); process.exit(1); }
' "$T/reqs.json" || fail "embeddings upstream calls"

# Passthrough: method, path and query forwarded, the key injected.
assert_eq "$(req p1 "$BASE_URL/proxy/oa/models?key=client-secret&limit=2")" 200 "GET passthrough"
assert_file_has "$T/p1.body" '"object":"list"' "passthrough body"
assert_eq "$(header p1 x-relay-target)" oa "passthrough target"
curl -sS "$MOCK_URL/_mock/requests" >"$T/reqs2.json"
last=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));const x=r[r.length-1];process.stdout.write(`${x.method} ${x.path}?${x.query} ${x.headers.authorization}`)' "$T/reqs2.json")
assert_eq "$last" "GET /v1/models?limit=2 Bearer k-oa" "what the provider got"
assert_file_lacks "$T/reqs2.json" client-secret "the client's ?key= is not forwarded"
assert_eq "$(req p2 "$BASE_URL/proxy/oa/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model":"x","stream":true,"messages":[{"role":"user","content":"pass"}]}')" 200 "POST stream passthrough"
assert_file_has "$T/p2.body" 'data: [DONE]' "streamed through"
req p3 "$BASE_URL/proxy/oa/%2e%2e/admin" >/dev/null
assert_api_error p3 400 invalid_path
req p4 "$BASE_URL/proxy/nobody/x" >/dev/null
assert_api_error p4 404 unknown_provider
