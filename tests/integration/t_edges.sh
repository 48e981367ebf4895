#!/usr/bin/env bash
# The relay's edges, through either web server: HEAD / and GET /api/hello
# answer 200; a browser's GET / is sent to the admin console (302
# /admin/ui/); every path the relay does not serve gets a JSON 404 in the
# caller's dialect (by the path, or by its SDK's headers), never the web
# server's HTML page; count_tokens answers in Anthropic's shape.
. "$(dirname "$0")/lib.sh"

st=$(req h1 -I "$BASE_URL/")
assert_eq "$st" 200 "HEAD /"
st=$(req h2 "$BASE_URL/")
assert_eq "$st" 200 "GET / from a program"
assert_eq "$(jget status "$T/h2.body")" ok "GET /: body"
st=$(req h3 "$BASE_URL/api/hello")
assert_eq "$st" 200 "GET /api/hello"
st=$(req h4 -I "$BASE_URL/api/hello")
assert_eq "$st" 200 "HEAD /api/hello"
st=$(req h5 "$BASE_URL/" -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8')
assert_eq "$st" 302 "GET / from a browser"
assert_eq "$(header h5 location)" /admin/ui/ "browser: sent to the console"

# Unknown paths, any method: JSON, in the caller's dialect.
for p in /nope /v1/nope /index.html /v2/chat/completions /.env /favicon.ico; do
	n=u$(printf '%s' "$p" | tr -c 'a-z0-9' _)
	req "$n" "$BASE_URL$p" >/dev/null
	assert_api_error "$n" 404 unknown_url
done
req up -X POST "$BASE_URL/nope" -d '{}' >/dev/null
assert_api_error up 404 unknown_url
req ua "$BASE_URL/v1/complete" -H 'anthropic-version: 2023-06-01' -d '{}' >/dev/null
assert_eq "$(cat "$T/ua.code")" 404 "anthropic caller: status"
assert_eq "$(jget type "$T/ua.body")" error "anthropic caller: Anthropic shape"
assert_eq "$(jget error.type "$T/ua.body")" not_found_error "anthropic caller: error type"
req ug "$BASE_URL/v1/files" -H 'x-goog-api-key: x' >/dev/null
assert_eq "$(cat "$T/ug.code")" 404 "gemini caller: status"
assert_eq "$(jget error.status "$T/ug.body")" NOT_FOUND "gemini caller: Gemini shape"
req ug2 "$BASE_URL/v1beta/cachedContents" >/dev/null
assert_eq "$(jget error.status "$T/ug2.body")" NOT_FOUND "gemini path: Gemini shape"
req um "$BASE_URL/v1/messages/batches" -H 'anthropic-version: 2023-06-01' >/dev/null
assert_eq "$(jget type "$T/um.body")" error "under /v1/messages: Anthropic shape"
