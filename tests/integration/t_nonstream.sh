#!/usr/bin/env bash
# A plain (non-stream) completion: the mock's answer passes through whole,
# with x-request-id and x-relay-target; the model is rewritten for a target
# whose upstream model name differs.
. "$(dirname "$0")/lib.sh"

st=$(post r1 "$(chat_json demo 'Hello relay')")
assert_eq "$st" 200 "status"
assert_match "$(header r1 content-type)" '^application/json' "content-type"
assert_eq "$(header r1 x-relay-target)" "demo/demo" "x-relay-target"
assert_match "$(header r1 x-request-id)" '^[0-9a-f]{32}$' "x-request-id"
assert_eq "$(jget object "$T/r1.body")" "chat.completion" "object"
assert_eq "$(jget choices.0.message.content "$T/r1.body")" \
    "Hello from mock. You said: Hello relay" "content"
assert_eq "$(jget choices.0.finish_reason "$T/r1.body")" stop "finish_reason"
assert_match "$(jget usage.total_tokens "$T/r1.body")" '^[1-9][0-9]*$' "usage.total_tokens"
assert_match "$(jget id "$T/r1.body")" '^chatcmpl-' "id"
# Content-Length, when the server keeps it, matches the body.
cl=$(header r1 content-length)
[ -z "$cl" ] || assert_eq "$cl" "$(stat -c %s "$T/r1.body")" "content-length"

# What the mock got: the client's body, the model unchanged, Accept json.
mock_last_request up1
assert_eq "$(jget body "$T/up1.json" | jget model)" demo "upstream model"
assert_eq "$(jget headers.accept "$T/up1.json")" application/json "upstream accept"
assert_eq "$(jget path "$T/up1.json")" /v1/chat/completions "upstream path (base_url trailing / trimmed)"
assert_eq "$(jget headers.x-itest-extra "$T/up1.json")" from-config "config header sent upstream"

# A target with its own model name: the upstream sees it, the client the
# target in x-relay-target; the rest of the body is untouched.
st=$(post r2 "$(chat_json renamed 'Rename me' false '{"temperature":0.25,"user":"u-1"}')")
assert_eq "$st" 200 "renamed: status"
assert_eq "$(header r2 x-relay-target)" "demo/mock-upstream-name" "renamed: x-relay-target"
mock_last_request up2
jget body "$T/up2.json" >"$T/up2.body"
assert_eq "$(jget model "$T/up2.body")" mock-upstream-name "renamed: upstream model"
assert_eq "$(jget temperature "$T/up2.body")" 0.25 "renamed: temperature kept"
assert_eq "$(jget user "$T/up2.body")" u-1 "renamed: user kept"
assert_eq "$(jget messages.0.content "$T/up2.body")" "Rename me" "renamed: messages kept"

# Unicode and escapes survive the relay byte for byte.
st=$(post r3 "$(chat_json demo 'Grüße "quoted" \\ émoji 🎉 line\nbreak')")
assert_eq "$st" 200 "unicode: status"
assert_eq "$(jget choices.0.message.content "$T/r3.body")" \
    'Hello from mock. You said: Grüße "quoted" \\ émoji 🎉 line\nbreak' "unicode content"
