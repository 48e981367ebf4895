#!/usr/bin/env bash
# Client mistakes get OpenAI-shaped errors and never reach the upstream.
. "$(dirname "$0")/lib.sh"

before=$(mock_stat requests)

post b1 '{"model":"demo","messages":[' >/dev/null
assert_api_error b1 400

post b2 '{"messages":[{"role":"user","content":"hi"}]}' >/dev/null
assert_api_error b2 400

post b3 '{"model":"demo"}' >/dev/null
assert_api_error b3 400

post b4 '[1,2,3]' >/dev/null
assert_api_error b4 400

post b5 '' >/dev/null
assert_api_error b5 400

post b6 "$(chat_json no-such-model hi)" >/dev/null
assert_api_error b6 404 model_not_found
assert_file_has "$T/b6.body" no-such-model "404 names the model"

post b7 '{"model":42,"messages":[{"role":"user","content":"hi"}]}' >/dev/null
assert_api_error b7 400

post b8 '{"model":"demo","messages":"hi"}' >/dev/null
assert_api_error b8 400

# Over limits.max_body_bytes (1 MiB in the shared config): 413.
head -c 1200000 /dev/zero | tr '\0' a >"$T/big.txt"
printf '{"model":"demo","messages":[{"role":"user","content":"%s"}]}' "$(cat "$T/big.txt")" >"$T/big.json"
req b9 "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary @"$T/big.json" >/dev/null
assert_api_error b9 413 request_too_large
# Chunked (no Content-Length) and over the limit: 413 as well.
req b10 "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json" >/dev/null
assert_api_error b10 413 request_too_large
# Just under the limit is fine.
head -c 1000000 /dev/zero | tr '\0' b >"$T/ok.txt"
printf '{"model":"demo","messages":[{"role":"user","content":"%s"}]}' "$(cat "$T/ok.txt")" >"$T/ok.json"
st=$(req b11 "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary @"$T/ok.json")
assert_eq "$st" 200 "body under the limit"

req b12 "$BASE_URL/v1/chat/completions" >/dev/null
assert_api_error b12 405

req b13 "$BASE_URL/v1/chat/nope" -H 'Content-Type: application/json' -d "$(chat_json demo hi)" >/dev/null
assert_eq "$(cat "$T/b13.code")" 404 "unknown chat path: status"
req b14 "$BASE_URL/v1/nothing-here" >/dev/null
assert_eq "$(cat "$T/b14.code")" 404 "unknown path: status"

# None of these except the one valid request reached the upstream.
after=$(mock_stat requests)
assert_eq "$((after - before))" 1 "upstream requests made"

# error.param names the field at fault (checked last: the rest runs first).
assert_eq "$(jget error.param "$T/b2.body")" model "missing model: error.param"
assert_eq "$(jget error.param "$T/b3.body")" messages "missing messages: error.param"
assert_eq "$(jget error.param "$T/b7.body")" model "model not a string: error.param"
assert_eq "$(jget error.param "$T/b8.body")" messages "messages not an array: error.param"
