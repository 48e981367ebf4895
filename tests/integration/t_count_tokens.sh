#!/usr/bin/env bash
# Token counting: POST /v1/messages/count_tokens (Anthropic shape, ?beta=true
# tolerated) and POST /v1beta/models/{m}:countTokens (Gemini shape). Asked of
# the target's own counting endpoint when it speaks the client's dialect
# (the mock validates both), estimated by the relay otherwise; never a
# generation; errors in the caller's dialect; keys, model allowlists and rpm
# apply, and nothing is charged.
. "$(dirname "$0")/lib.sh"

AN=(-H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01')
GM=(-H 'Content-Type: application/json')
cc_body='{"model":"MODEL","system":[{"type":"text","text":"You are Claude Code."}],
 "messages":[{"role":"user","content":"count these five words"},
  {"role":"system","content":"a reminder"}],
 "tools":[{"name":"Read","description":"Read a file","input_schema":{"type":"object",
  "properties":{"file_path":{"type":"string"}}},"defer_loading":true}],
 "thinking":{"type":"adaptive"}}'
an_body() { printf '%s' "${cc_body/MODEL/$1}"; }
gm_body='{"contents":[{"role":"user","parts":[{"text":"count these five words"}]}]}'

mock_reset
gen0=$(mock_stat streams_started)

# --- Anthropic client, Anthropic target: the upstream counts ---------------
st=$(req a1 "$BASE_URL/v1/messages/count_tokens?beta=true" "${AN[@]}" \
    -H 'anthropic-beta: token-counting-2024-11-01' --data-binary "$(an_body m-anthropic)")
assert_eq "$st" 200 "anthropic->anthropic: status"
assert_eq "$(header a1 x-relay-count)" upstream "anthropic->anthropic: counted upstream"
assert_match "$(jget input_tokens "$T/a1.body")" '^[1-9][0-9]*$' "anthropic->anthropic: input_tokens"
mock_last_request a1m
assert_match "$(jget path "$T/a1m.json")" '/v1/messages/count_tokens$' "anthropic->anthropic: upstream path"
jget body "$T/a1m.json" >"$T/a1m.body"
assert_eq "$(jget model "$T/a1m.body")" up-anthropic "anthropic->anthropic: model rewritten"
assert_eq "$(jget headers.anthropic-beta "$T/a1m.json")" token-counting-2024-11-01 "anthropic-beta forwarded"
# the mock counts words as it does for generations: system prompt 4, the
# user's 4, the system message 2
assert_eq "$(jget input_tokens "$T/a1.body")" 10 "anthropic->anthropic: the mock's count"
# an upstream 400 (a generation-only member) comes back as it was
req a2 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" \
    --data-binary '{"model":"m-anthropic","max_tokens":5,"messages":[{"role":"user","content":"x"}]}' >/dev/null
assert_eq "$(cat "$T/a2.code")" 400 "upstream 400: status"
assert_eq "$(jget type "$T/a2.body")" error "upstream 400: Anthropic shape"
assert_file_has "$T/a2.body" "Extra inputs are not permitted" "upstream 400: its message"

# --- Anthropic client, other targets: the relay estimates -------------------
for m in m-openai m-gemini m-azure; do
	st=$(req "a_$m" "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" --data-binary "$(an_body "$m")")
	assert_eq "$st" 200 "anthropic->$m: status"
	assert_eq "$(header "a_$m" x-relay-count)" estimate "anthropic->$m: estimated"
	n=$(jget input_tokens "$T/a_$m.body")
	assert_match "$n" '^[0-9]+$' "anthropic->$m: input_tokens"
	assert_ge "$n" 20 "anthropic->$m: the estimate counts text, tools, messages"
	assert_le "$n" 60 "anthropic->$m: the estimate stays near the text"
done

# --- Gemini client ------------------------------------------------------------
st=$(req g1 "$BASE_URL/v1beta/models/m-gemini:countTokens" "${GM[@]}" --data-binary "$gm_body")
assert_eq "$st" 200 "gemini->gemini: status"
assert_eq "$(header g1 x-relay-count)" upstream "gemini->gemini: counted upstream"
assert_eq "$(jget totalTokens "$T/g1.body")" 4 "gemini->gemini: the mock's count"
mock_last_request g1m
assert_match "$(jget path "$T/g1m.json")" '/models/up-gemini:countTokens$' "gemini->gemini: upstream model in the path"

st=$(req g2 "$BASE_URL/v1beta/models/m-gemini:countTokens" "${GM[@]}" \
    --data-binary '{"generateContentRequest":{"model":"models/m-gemini","contents":[{"role":"user","parts":[{"text":"a b c"}]}]}}')
assert_eq "$st" 200 "gemini generateContentRequest: status"
assert_eq "$(jget totalTokens "$T/g2.body")" 3 "gemini generateContentRequest: count"
mock_last_request g2m
jget body "$T/g2m.json" >"$T/g2m.body"
assert_eq "$(jget generateContentRequest.model "$T/g2m.body")" models/up-gemini "gemini generateContentRequest: model rewritten"

for m in m-anthropic m-openai; do
	st=$(req "g_$m" "$BASE_URL/v1beta/models/$m:countTokens" "${GM[@]}" --data-binary "$gm_body")
	assert_eq "$st" 200 "gemini->$m: status"
	assert_eq "$(header "g_$m" x-relay-count)" estimate "gemini->$m: estimated"
	assert_eq "$(jget totalTokens "$T/g_$m.body")" 10 "gemini->$m: (22 bytes)/4 + 4 for the message"
done

# --- never a generation ------------------------------------------------------------
assert_eq "$(mock_stat streams_started)" "$gen0" "no stream was started"
curl -sS "$MOCK_URL/_mock/requests" >"$T/all.json"
node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const gen = a.filter((r) => /\/v1\/messages$|:generateContent|:streamGenerateContent|chat\/completions$/.test(r.path));
if (gen.length) { console.error(JSON.stringify(gen.map((r) => r.path))); process.exit(1); }
' "$T/all.json" || fail "a count reached a generation endpoint"

# --- errors in the caller's dialect ---------------------------------------------
req e1 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" --data-binary '{"model":"m-anthropic"}' >/dev/null
assert_eq "$(cat "$T/e1.code")" 400 "anthropic: no messages: status"
assert_eq "$(jget error.type "$T/e1.body")" invalid_request_error "anthropic: no messages: shape"
assert_file_has "$T/e1.body" "messages: Field required" "anthropic: no messages: message"
req e2 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" --data-binary "$(an_body no-such)" >/dev/null
assert_eq "$(cat "$T/e2.code")" 404 "anthropic: unknown model: status"
assert_eq "$(jget type "$T/e2.body")" error "anthropic: unknown model: shape"
req e3 "$BASE_URL/v1beta/models/m-gemini:countTokens" "${GM[@]}" --data-binary '{"nope":1}' >/dev/null
assert_eq "$(cat "$T/e3.code")" 400 "gemini: no contents: status"
assert_eq "$(jget error.status "$T/e3.body")" INVALID_ARGUMENT "gemini: no contents: shape"
req e4 "$BASE_URL/v1/messages/count_tokens" -X GET >/dev/null
assert_eq "$(cat "$T/e4.code")" 405 "GET: status"
assert_eq "$(jget type "$T/e4.body")" error "GET: Anthropic shape"

# --- keys: allowlist, rpm, nothing charged ----------------------------------------------
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@" },
                 { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "claude", "targets": [{ "provider": "an", "model": "up" }],
                "price": { "input_per_mtok": 1000, "output_per_mtok": 2000 } },
              { "name": "gpt", "targets": [{ "provider": "oa", "model": "up" }],
                "price": { "input_per_mtok": 1000, "output_per_mtok": 2000 } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"c","models":["claude"],"rpm":3,"daily_tokens":100000,"monthly_budget_usd":1000}' >/dev/null
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
sleep 1.1
early_in_minute 15 # k2-k5 in one minute window
counter() {
	local v
	exec 5<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'get %s\r\n' "$1" >&5
	v=$(timeout 2 head -n 2 <&5 | sed -n 2p | tr -d '\r ')
	exec 5>&-
	echo "${v:-0}"
}
req k0 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" --data-binary "$(an_body claude)" >/dev/null
assert_eq "$(cat "$T/k0.code")" 401 "no key: 401"
assert_eq "$(jget type "$T/k0.body")" error "no key: Anthropic shape"
req k1 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" -H "x-api-key: $K" --data-binary "$(an_body gpt)" >/dev/null
assert_eq "$(cat "$T/k1.code")" 403 "model not allowed: 403"
assert_eq "$(req k2 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" -H "x-api-key: $K" --data-binary "$(an_body claude)")" 200 "count 1"
assert_eq "$(req k3 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" -H "x-api-key: $K" --data-binary "$(an_body claude)")" 200 "count 2"
assert_eq "$(req k4 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" -H "x-api-key: $K" --data-binary "$(an_body claude)")" 200 "count 3"
req k5 "$BASE_URL/v1/messages/count_tokens" "${AN[@]}" -H "x-api-key: $K" --data-binary "$(an_body claude)" >/dev/null
assert_eq "$(cat "$T/k5.code")" 429 "rpm 3: the fourth count is refused"
assert_eq "$(jget type "$T/k5.body")" error "rpm: Anthropic shape"
day=$(date -u +%Y%m%d)
month=$(date -u +%Y%m)
assert_eq "$(counter "rl:$ID:d:$day")" 0 "no tokens charged"
assert_eq "$(counter "rl:$ID:u:$month")" 0 "nothing spent"
