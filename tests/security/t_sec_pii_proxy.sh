#!/usr/bin/env bash
# Outbound PII protection on /proxy/ (issue 21, "opt-in /proxy JSON"):
# with pii_protection.proxy "json", a JSON body sent through /proxy/ is
# protected as a chat request is (the mock sees placeholders, never the
# originals), the whole answer comes back restored; a stream that would
# need restoring is refused (a masking key's streams through); a body that is not JSON, or a kind the
# policy blocks, is refused and the mock sees no call; a GET passes.
. "$(dirname "$0")/../integration/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "pii_protection": { "action": "pseudonymise", "entities": { "card": "block" }, "proxy": "json" },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "oa" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"plain"}' >/dev/null
KEY=(-H "Authorization: Bearer $(jget secret "$T/mk.body")")
req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"masked","pii_protection":"mask"}' >/dev/null
KM=$(jget secret "$T/mk.body")
up() { mock_stat requests; }
PROMPT="我的手机 13812345678，邮箱 zhang.san@example.com [[mock split_ph=1]]"
WANT="Hello from mock. You said: $PROMPT"

# Whole: the provider reads placeholders, the client reads its own data.
assert_eq "$(req w "$BASE_URL/proxy/oa/chat/completions" "${KEY[@]}" -H 'Content-Type: application/json' \
    --data-binary "$(chat_json m "$PROMPT")")" 200 "whole"
mock_last_request w.up
assert_file_has "$T/w.up.json" '⟦PHONE_1⟧' "the phone went as a placeholder"
assert_file_has "$T/w.up.json" '⟦EMAIL_1⟧' "the email went as a placeholder"
assert_file_lacks "$T/w.up.json" 13812345678 "no phone upstream"
assert_file_lacks "$T/w.up.json" zhang.san@example.com "no email upstream"
assert_eq "$(jget choices.0.message.content "$T/w.body")" "$WANT" "whole answer restored"

# Streamed: a byte pipe cannot restore a placeholder the provider streams
# in pieces, so a stream that needs restoring is refused before it goes;
# a key whose policy masks (nothing to restore) streams through.
u=$(up)
req s "$BASE_URL/proxy/oa/chat/completions" "${KEY[@]}" -H 'Content-Type: application/json' \
    --data-binary "$(chat_json m "$PROMPT" true)" >/dev/null
assert_api_error s 400 pii_protection_stream stream
assert_eq "$(up)" "$u" "refused stream: the mock saw 0 calls"
assert_eq "$(req sm "$BASE_URL/proxy/oa/chat/completions" -H "Authorization: Bearer $KM" -H 'Content-Type: application/json' \
    --data-binary "$(chat_json m "$PROMPT" true)")" 200 "masked stream"
assert_file_has "$T/sm.body" 'data: [DONE]' "masked stream streamed through"
mock_last_request sm.up
assert_file_lacks "$T/sm.up.json" 13812345678 "masked stream: no phone upstream"
assert_file_lacks "$T/sm.up.json" '⟦' "masked stream: masks, not placeholders"

# Fail closed: not JSON, or a blocked kind: refused, the mock sees no call.
u=$(up)
req nj "$BASE_URL/proxy/oa/chat/completions" "${KEY[@]}" -H 'Content-Type: text/plain' --data-binary 'call 13812345678' >/dev/null
assert_api_error nj 400 pii_protection_failed
req bl "$BASE_URL/proxy/oa/chat/completions" "${KEY[@]}" -H 'Content-Type: application/json' \
    --data-binary "$(chat_json m 'card 4111111111111111')" >/dev/null
assert_api_error bl 400 pii_blocked
assert_file_lacks "$T/bl.body" 4111111111111111 "the refusal names the kind, never the value"
assert_eq "$(up)" "$u" "fail closed: the mock saw 0 calls"

# A body-less call goes as it is.
assert_eq "$(req g "$BASE_URL/proxy/oa/models" "${KEY[@]}")" 200 "GET through /proxy/"
assert_eq "$(up)" "$((u + 1))" "the GET reached the mock"
