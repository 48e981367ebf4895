#!/usr/bin/env bash
# Credentials where they belong, read one way: the Authorization scheme is
# case-insensitive (RFC 7235) for the admin token as for virtual keys, and
# a wrong token is refused the same whatever its case; a key in the URL
# (?key=) is accepted on the Gemini routes only and refused (401, the
# route's own error shape) everywhere else, never echoed or logged.
. "$(dirname "$0")/../integration/fault_lib.sh"

export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM$RANDOM
own_stack_start
TOK=$RELAY_ADMIN_TOKEN

# --- the admin API: "Bearer" in any case -----------------------------------
for scheme in Bearer bearer BEARER bEaReR; do
	st=$(req adm_$scheme "$BASE_URL/admin/status" -H "Authorization: $scheme $TOK")
	expect_eq "$st" 200 "admin, '$scheme <token>'"
done
for scheme in Bearer bearer BEARER; do
	req badm_$scheme "$BASE_URL/admin/status" -H "Authorization: $scheme wrong-$TOK" >/dev/null
	expect_eq "$(cat "$T/badm_$scheme.code")" 401 "admin, '$scheme <wrong>': status"
	expect_eq "$(jget error.code "$T/badm_$scheme.body")" invalid_admin_token "admin, '$scheme <wrong>': code"
	expect_eq "$(jget error.message "$T/badm_$scheme.body")" "$(jget error.message "$T/badm_Bearer.body")" "admin, '$scheme <wrong>': the same refusal"
done
req badm_basic "$BASE_URL/admin/status" -H "Authorization: Basic $TOK" >/dev/null
expect_eq "$(cat "$T/badm_basic.code")" 401 "admin, another scheme"
row "admin token, scheme in 4 cases / wrong in 3" "$(cat "$T/adm_bearer.code") / $(cat "$T/badm_bearer.code")" - -

# --- virtual keys ---------------------------------------------------------------
req mk "$BASE_URL/admin/keys" -H "Authorization: bearer $TOK" -d '{"name":"schemes"}' >/dev/null
expect_eq "$(cat "$T/mk.code")" 201 "create a key (lower-case scheme)"
K=$(jget secret "$T/mk.body")
sleep 1.1 # every responder sees the new file within a second
OA=$(chat_json demo "hello" false)
AN='{"model":"demo","max_tokens":32,"messages":[{"role":"user","content":"hello"}]}'
GE='{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}'
for scheme in bearer BEARER; do
	expect_eq "$(post vk_$scheme "$OA" -H "Authorization: $scheme $K")" 200 "virtual key, '$scheme'"
done

# --- ?key= on the Gemini routes: accepted ------------------------------------------
st=$(req gq1 "$BASE_URL/v1beta/models/demo:generateContent?key=$K" -H 'Content-Type: application/json' -d "$GE")
expect_eq "$st" 200 "Gemini generateContent ?key="
st=$(req gq2 "$BASE_URL/v1beta/models/demo:streamGenerateContent?alt=sse&key=$K" -H 'Content-Type: application/json' -d "$GE")
expect_eq "$st" 200 "Gemini streamGenerateContent ?alt=sse&key="
req gq3 "$BASE_URL/v1beta/models/demo:generateContent?key=sk-relay-wrong" -H 'Content-Type: application/json' -d "$GE" >/dev/null
expect_eq "$(cat "$T/gq3.code")" 401 "Gemini, a wrong ?key="
expect_eq "$(jget error.code "$T/gq3.body")" 401 "Gemini, a wrong ?key=: Gemini's shape"

# --- ?key= anywhere else: refused in the route's shape, even with a good header
refused() { # NAME what [shape]
	expect_eq "$(cat "$T/$1.code")" 401 "$2: status"
	case ${3:-openai} in
	openai) expect_eq "$(jget error.code "$T/$1.body")" api_key_in_query "$2: error.code" ;;
	anthropic)
		expect_eq "$(jget type "$T/$1.body")" error "$2: Anthropic's shape"
		expect_eq "$(jget error.type "$T/$1.body")" authentication_error "$2: error.type" ;;
	admin) expect_eq "$(jget error.code "$T/$1.body")" invalid_admin_token "$2: error.code" ;;
	esac
	expect_eq "$(grep -c -- "$K" "$T/$1.body")" 0 "$2: the key is not echoed"
}
req q1 "$BASE_URL/v1/chat/completions?key=$K" -H 'Content-Type: application/json' -d "$OA" >/dev/null
refused q1 "/v1/chat/completions?key="
req q2 "$BASE_URL/v1/chat/completions?key=$K" -H "Authorization: Bearer $K" -H 'Content-Type: application/json' -d "$OA" >/dev/null
refused q2 "/v1/chat/completions?key= and a good header"
req q3 "$BASE_URL/v1/messages?key=$K" -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' -d "$AN" >/dev/null
refused q3 "/v1/messages?key=" anthropic
req q4 "$BASE_URL/v1/models?key=$K" >/dev/null
refused q4 "/v1/models?key="
req q5 "$BASE_URL/v1/models?x=1&key=$K" -H "x-api-key: $K" >/dev/null
refused q5 "/v1/models?x=1&key= and a good header"
req q6 "$BASE_URL/proxy/demo/models?key=$K" >/dev/null
refused q6 "/proxy/?key="
req q7 "$BASE_URL/admin/status?key=$TOK" >/dev/null
refused q7 "/admin/status?key=<admin token>" admin
req q8 "$BASE_URL/admin/status?key=$TOK" -H "Authorization: Bearer $TOK" >/dev/null
refused q8 "/admin/status?key= and the right header" admin
row "?key= on Gemini / on OpenAI, Anthropic, models, proxy, admin" "$(cat "$T/gq1.code") / $(cat "$T/q1.code") $(cat "$T/q3.code") $(cat "$T/q4.code") $(cat "$T/q6.code") $(cat "$T/q7.code")" - -

for f in "$OWN_DIR"/logs/*.log; do
	expect_eq "$(grep -c -- "$K" "$f")" 0 "virtual key in $(basename "$f")"
	expect_eq "$(grep -c -- "$TOK" "$f")" 0 "admin token in $(basename "$f")"
done
fault_finish
