#!/usr/bin/env bash
# Per-provider overrides (config "override", "anthropic_beta"): headers set
# ("headers") and deleted (the relay's and libcurl's own), client headers
# passed through by name (OpenRouter's HTTP-Referer and X-Title), body
# members set and deleted by dotted path, in a translated body and in a
# same-dialect one; anthropic-beta forwarded as the client sent it, or
# filtered by a provider's allow or deny list. What the mock received is
# the proof. (Config validation: tests/unit/test_config.c.)
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "or", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-or"],
      "headers": { "X-Set": "from-config", "X-Drop": "never-sent" },
      "override": {
        "headers_delete": ["X-Drop", "User-Agent"],
        "pass_headers": ["HTTP-Referer", "X-Title"],
        "body_set": { "provider.order": ["fast", "cheap"], "temperature": 0.25, "usage.include": true },
        "body_delete": ["user", "metadata.secret"] } },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "an-deny", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"],
      "anthropic_beta": { "deny": ["context-management-2025-06-27"] } },
    { "name": "an-allow", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"],
      "anthropic_beta": { "allow": ["prompt-caching-*", "interleaved-thinking-2025-05-14"] },
      "override": { "body_delete": ["context_management"], "body_set": { "metadata.user_id": "relay" } } } ],
  "models": [
    { "name": "or", "targets": [{ "provider": "or", "model": "up-or" }] },
    { "name": "an", "targets": [{ "provider": "an", "model": "up-an" }] },
    { "name": "an-deny", "targets": [{ "provider": "an-deny", "model": "up-an" }] },
    { "name": "an-allow", "targets": [{ "provider": "an-allow", "model": "up-an" }] } ] }
JSON
own_stack_start "$T/cfg.in"

last() { # name: the mock's last request into $T/name.json, its body into $T/name.b
	mock_last_request "$1"
	jget body "$T/$1.json" >"$T/$1.b"
}

# --- OpenAI client to an OpenAI-compatible provider (same dialect) -------------
body='{"model":"or","messages":[{"role":"user","content":"hi"}],"user":"u1","metadata":{"secret":"s","keep":"k"},"temperature":1}'
st=$(req o1 "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H 'HTTP-Referer: https://myapp.example' -H 'X-Title: My App' -H 'X-Other: not-passed' -d "$body")
assert_eq "$st" 200 "openai: status"
last o1m
assert_eq "$(jget headers.x-set "$T/o1m.json")" from-config "header set"
assert_eq "$(jget headers.x-drop "$T/o1m.json")" __missing__ "config header deleted"
assert_eq "$(jget headers.user-agent "$T/o1m.json")" __missing__ "libcurl's User-Agent deleted"
assert_eq "$(jget headers.http-referer "$T/o1m.json")" https://myapp.example "HTTP-Referer passed"
assert_eq "$(jget headers.x-title "$T/o1m.json")" "My App" "X-Title passed"
assert_eq "$(jget headers.x-other "$T/o1m.json")" __missing__ "unlisted client header not passed"
assert_eq "$(jget headers.authorization "$T/o1m.json")" "Bearer k-or" "the provider's key"
assert_eq "$(jget provider.order "$T/o1m.b")" '["fast","cheap"]' "body_set: a new nested member"
assert_eq "$(jget temperature "$T/o1m.b")" 0.25 "body_set: replaced"
assert_eq "$(jget usage.include "$T/o1m.b")" true "body_set: made on the way"
assert_eq "$(jget user "$T/o1m.b")" __missing__ "body_delete: top level"
assert_eq "$(jget metadata.secret "$T/o1m.b")" __missing__ "body_delete: nested"
assert_eq "$(jget metadata.keep "$T/o1m.b")" k "body_delete: the rest kept"
assert_eq "$(jget model "$T/o1m.b")" up-or "model still rewritten"

# translated (Anthropic client -> the same provider): the overrides apply to
# the translated body too
st=$(req o2 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' \
    -H 'X-Title: From Claude' -d '{"model":"or","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}')
assert_eq "$st" 200 "anthropic -> openai: status"
last o2m
assert_eq "$(jget headers.x-title "$T/o2m.json")" "From Claude" "translated: X-Title passed"
assert_eq "$(jget provider.order.0 "$T/o2m.b")" fast "translated: body_set"

# --- anthropic-beta ---------------------------------------------------------------
B='prompt-caching-2024-07-31, context-management-2025-06-27,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14'
ab='{"model":"MODEL","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[]}}'
for m in an an-deny an-allow; do
	st=$(req "b_$m" "$BASE_URL/v1/messages" -H 'Content-Type: application/json' \
	    -H 'anthropic-version: 2023-06-01' -H "anthropic-beta: $B" -d "${ab/MODEL/$m}")
	assert_eq "$st" 200 "$m: status"
	last "b_${m}m"
done
assert_eq "$(jget headers.anthropic-beta "$T/b_anm.json")" "$B" "no list: forwarded as sent"
assert_eq "$(jget headers.anthropic-beta "$T/b_an-denym.json")" \
    "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14" "deny list"
assert_eq "$(jget headers.anthropic-beta "$T/b_an-allowm.json")" \
    "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14" "allow list"
assert_eq "$(jget context_management "$T/b_an-allowm.b")" __missing__ "same dialect: body_delete"
assert_eq "$(jget metadata.user_id "$T/b_an-allowm.b")" relay "same dialect: body_set"
assert_eq "$(jget context_management "$T/b_anm.b")" '{"edits":[]}' "no override: the body as sent"
# nothing left after the allow list: no header at all
st=$(req b4 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' \
    -H 'anthropic-version: 2023-06-01' -H "anthropic-beta: context-management-2025-06-27" -d "${ab/MODEL/an-allow}")
assert_eq "$st" 200 "allow list, none kept: status"
last b4m
assert_eq "$(jget headers.anthropic-beta "$T/b4m.json")" __missing__ "allow list, none kept: no header"
