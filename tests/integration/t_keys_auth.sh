#!/usr/bin/env bash
# Virtual keys: every auth convention, every refusal (401/403 in the OpenAI
# shape), disable/enable, rotate, expiry, model and address allowlists,
# delete; /v1/models needs a key once keys exist; no secret in any log or
# admin answer.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-do-not-leak-4711"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] },
              { "name": "other", "targets": [{ "provider": "mock", "model": "demo" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
body=$(chat_json demo hi)

assert_eq "$(post open "$body")" 200 "no keys yet: the relay is open"

assert_eq "$(req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"a","models":["demo"]}')" 201 "create"
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
assert_match "$K" '^sk-relay-[0-9a-f]{48}$' "secret format"
assert_eq "$(jget hash "$T/mk.body")" __missing__ "no hash in the answer"
sleep 1.1 # every responder sees the new file within a second

post none "$body" >/dev/null
assert_api_error none 401 missing_api_key
post wrong "$body" -H "Authorization: Bearer sk-relay-000" >/dev/null
assert_api_error wrong 401 invalid_api_key
assert_eq "$(post bearer "$body" -H "Authorization: Bearer $K")" 200 "Bearer"
assert_eq "$(post xapi "$body" -H "x-api-key: $K")" 200 "x-api-key"
assert_eq "$(post goog "$body" -H "x-goog-api-key: $K")" 200 "x-goog-api-key"
# ?key= is Gemini's convention: accepted on its routes only.
assert_eq "$(req q "$BASE_URL/v1beta/models/demo:generateContent?key=$K" -H 'Content-Type: application/json' -d '{"contents":[{"parts":[{"text":"hi"}]}]}')" 200 "?key= (Gemini route)"
req q2 "$BASE_URL/v1/chat/completions?key=$K" -H 'Content-Type: application/json' -d "$body" >/dev/null
assert_api_error q2 401 api_key_in_query
post model "$(chat_json other hi)" -H "Authorization: Bearer $K" >/dev/null
assert_api_error model 403 model_not_allowed
req mnone "$BASE_URL/v1/models" >/dev/null
assert_api_error mnone 401 missing_api_key
assert_eq "$(req mok "$BASE_URL/v1/models" -H "Authorization: Bearer $K")" 200 "/v1/models with a key"

assert_eq "$(req dis "$BASE_URL/admin/keys/$ID/disable" "${ADM[@]}" -d '{}')" 200 "disable"
sleep 1.1
post d1 "$body" -H "Authorization: Bearer $K" >/dev/null
assert_api_error d1 401 invalid_api_key
assert_file_has "$T/d1.body" disabled "disabled message"
req en "$BASE_URL/admin/keys/$ID/enable" "${ADM[@]}" -d '{}' >/dev/null
sleep 1.1
assert_eq "$(post d2 "$body" -H "Authorization: Bearer $K")" 200 "enabled again"

assert_eq "$(req rot "$BASE_URL/admin/keys/$ID/rotate" "${ADM[@]}" -d '{}')" 200 "rotate"
K2=$(jget secret "$T/rot.body")
assert_ne "$K2" "$K" "a new secret"
sleep 1.1
post old "$body" -H "Authorization: Bearer $K" >/dev/null
assert_api_error old 401 invalid_api_key
assert_eq "$(post new "$body" -H "Authorization: Bearer $K2")" 200 "rotated secret works"

req ip "$BASE_URL/admin/keys/$ID" -X PATCH "${ADM[@]}" -d '{"allowed_ips":["10.0.0.0/8"]}' >/dev/null
sleep 1.1
post ip1 "$body" -H "Authorization: Bearer $K2" >/dev/null
assert_api_error ip1 403 ip_not_allowed
req ip2 "$BASE_URL/admin/keys/$ID" -X PATCH "${ADM[@]}" -d '{"allowed_ips":["127.0.0.0/8","::1/128"]}' >/dev/null
sleep 1.1
assert_eq "$(post ip3 "$body" -H "Authorization: Bearer $K2")" 200 "loopback allowed"

req exp "$BASE_URL/admin/keys/$ID" -X PATCH "${ADM[@]}" -d '{"expires_at":"2001-01-01T00:00:00Z"}' >/dev/null
sleep 1.1
post e1 "$body" -H "Authorization: Bearer $K2" >/dev/null
assert_api_error e1 401 invalid_api_key
assert_file_has "$T/e1.body" expired "expired message"

req bad "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"x","rpm":-1}' >/dev/null
assert_api_error bad 400 invalid_value
req bad2 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"x","allowed_ips":["nonsense"]}' >/dev/null
assert_api_error bad2 400 invalid_value
req noadm "$BASE_URL/admin/keys" >/dev/null
assert_api_error noadm 401

# The same refusals in the Anthropic and Gemini shapes, and a rate limit
# with Anthropic's headers.
req an1 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' \
    -d '{"model":"demo","max_tokens":10,"messages":[{"role":"user","content":"x"}]}' >/dev/null
assert_eq "$(cat "$T/an1.code")" 401 "Anthropic without a key"
assert_eq "$(jget type "$T/an1.body")" error "Anthropic error shape"
assert_eq "$(jget error.type "$T/an1.body")" authentication_error "Anthropic error type"
req ge1 "$BASE_URL/v1beta/models/demo:generateContent" -H 'Content-Type: application/json' \
    -d '{"contents":[{"role":"user","parts":[{"text":"x"}]}]}' >/dev/null
assert_eq "$(cat "$T/ge1.code")" 401 "Gemini without a key"
assert_eq "$(jget error.status "$T/ge1.body")" UNAUTHENTICATED "Gemini error status"
req mk3 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"r","rpm":1}' >/dev/null
K3=$(jget secret "$T/mk3.body")
sleep 1.1
early_in_minute 10 # an2 and an3 in one minute window
assert_eq "$(req an2 "$BASE_URL/v1/messages" -H "x-api-key: $K3" -H 'Content-Type: application/json' \
    -d '{"model":"demo","max_tokens":10,"messages":[{"role":"user","content":"x"}]}')" 200 "Anthropic with x-api-key"
assert_eq "$(header an2 anthropic-ratelimit-requests-limit)" 1 "anthropic-ratelimit-requests-limit"
assert_match "$(header an2 anthropic-ratelimit-requests-reset)" '^20[0-9-]+T[0-9:]+Z$' "reset as RFC 3339"
req an3 "$BASE_URL/v1/messages" -H "x-api-key: $K3" -H 'Content-Type: application/json' \
    -d '{"model":"demo","max_tokens":10,"messages":[{"role":"user","content":"x"}]}' >/dev/null
assert_eq "$(cat "$T/an3.code")" 429 "Anthropic rate limited"
assert_eq "$(jget error.type "$T/an3.body")" rate_limit_error "Anthropic 429 type"
assert_match "$(header an3 retry-after)" '^[0-9]+$' "Anthropic Retry-After"
req ge3 "$BASE_URL/v1beta/models/demo:generateContent" -H "x-goog-api-key: $K3" -H 'Content-Type: application/json' \
    -d '{"contents":[{"role":"user","parts":[{"text":"x"}]}]}' >/dev/null
assert_eq "$(cat "$T/ge3.code")" 429 "Gemini rate limited"
assert_eq "$(jget error.status "$T/ge3.body")" RESOURCE_EXHAUSTED "Gemini 429 status"

assert_eq "$(req del "$BASE_URL/admin/keys/$ID" -X DELETE "${ADM[@]}")" 204 "delete"
req del2 "$BASE_URL/admin/keys/$ID" -X DELETE "${ADM[@]}" >/dev/null
assert_api_error del2 404

assert_eq "$(req list "$BASE_URL/admin/keys" "${ADM[@]}")" 200 "list"
for s in "$K" "$K2" "$K3" sk-provider-do-not-leak-4711 "$RELAY_ADMIN_TOKEN"; do
	for f in "$OWN_DIR"/logs/*.log "$T"/*.body "$T"/*.head; do
		case $f in */mk.body | */rot.body | */mk3.body) continue ;; esac
		assert_file_lacks "$f" "$s" "secret in $(basename "$f")"
	done
	assert_file_lacks "$OWN_DIR/data/keys.json" "$s" "secret in keys.json"
done
