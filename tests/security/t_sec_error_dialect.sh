#!/usr/bin/env bash
# Every error on a dialect's route comes in that dialect's shape (issue 19
# item 8): whatever refuses the request (the router, the method, the key,
# the body, the model) and before or after the dialect is known. A table
# of (route, method, path, key, body) -> status, each answer checked for
# its dialect's members:
#   OpenAI     {"error":{"message","type","param","code"}}
#   Anthropic  {"type":"error","error":{"type","message"}}
#   Gemini     {"error":{"code":<status>,"message","status":"NOT_FOUND"...}}
# and for none of the others' (an SDK tells the shapes apart by them).
. "$(dirname "$0")/../integration/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "limits": { "max_body_bytes": 65536 },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-oa"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] } ],
  "models": [
    { "name": "m-openai", "targets": [{ "provider": "oa", "model": "up-openai" }] },
    { "name": "m-anthropic", "targets": [{ "provider": "an", "model": "up-anthropic" }] },
    { "name": "m-gemini", "targets": [{ "provider": "ge", "model": "up-gemini" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
assert_eq "$(req mk "$BASE_URL/admin/keys" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" \
    -d '{"name":"dialects"}')" 201 "create a key"
KEY=$(jget secret "$T/mk.body")
sleep 1.1 # every responder sees the new key file within a second

# --- bodies ------------------------------------------------------------------
printf '%s' '{"model":"m-openai","messages":[{"role":"user","content":"hi"}]}' >"$T/openai.ok"
printf '%s' '{"model":"nope","messages":[{"role":"user","content":"hi"}]}' >"$T/openai.nomodel"
printf '%s' '{"model":"m-anthropic","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' >"$T/anthropic.ok"
printf '%s' '{"model":"nope","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' >"$T/anthropic.nomodel"
printf '%s' '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}' >"$T/gemini.ok"
cp "$T/gemini.ok" "$T/gemini.nomodel"
printf '%s' '{"model":"m-openai","input":"hi"}' >"$T/responses.ok"
printf '%s' '{"model":"nope","input":"hi"}' >"$T/responses.nomodel"
printf '%s' '{"model":' >"$T/bad.json"
: >"$T/empty.json"
# Over the 64 KiB limit (under the web servers' bound, the limit plus a
# quarter: the relay answers it), still valid JSON: only its size is wrong.
node -e 'process.stdout.write(JSON.stringify({model: "m-openai", max_tokens: 16,
    messages: [{ role: "user", content: "x".repeat(70000) }],
    contents: [{ role: "user", parts: [{ text: "x" }] }]}))' >"$T/big.json"

GSTAT_404=NOT_FOUND GSTAT_401=UNAUTHENTICATED GSTAT_400=INVALID_ARGUMENT

# jget for several paths of one body in one node start (a table of
# dozens of answers times six members): "path=value" lines, values as
# jget gives them (__missing__ when absent).
jfields() { # file path...
	node -e '
const fs = require("fs");
let root;
try { root = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) { root = undefined; }
for (const p of process.argv.slice(2)) {
  let v = root, out;
  if (root === undefined) out = "__invalid__";
  for (const k of p.split(".")) {
    if (out !== undefined) break;
    if (v === null || typeof v !== "object" || !(k in v)) out = "__missing__";
    else v = v[k];
  }
  if (out === undefined) out = typeof v === "string" ? v : JSON.stringify(v);
  console.log(p + "=" + out.replace(/\n/g, " "));
}' "$@"
}
field() { awk -v k="$1=" 'index($0, k) == 1 { print substr($0, length(k) + 1) }' "$T/fields"; }
nonempty() { # name path shape
	case $(field "$2") in __missing__ | __invalid__ | "") fail "$1: no $2 ($3 shape): $(head -c 300 "$T/$1.body")" ;; esac
}

# The members each shape must have and must not have.
shape_openai() { # name
	nonempty "$1" error.message OpenAI
	nonempty "$1" error.type OpenAI
	assert_ne "$(field error.param)" __missing__ "$1: error.param (OpenAI shape)"
	assert_ne "$(field error.code)" __missing__ "$1: error.code (OpenAI shape)"
	assert_eq "$(field type)" __missing__ "$1: no top-level type (Anthropic's)"
	assert_eq "$(field error.status)" __missing__ "$1: no error.status (Gemini's)"
}
shape_anthropic() { # name
	assert_eq "$(field type)" error "$1: type (Anthropic shape): $(head -c 300 "$T/$1.body")"
	nonempty "$1" error.message Anthropic
	nonempty "$1" error.type Anthropic
	assert_eq "$(field error.param)" __missing__ "$1: no error.param (OpenAI's)"
	assert_eq "$(field error.status)" __missing__ "$1: no error.status (Gemini's)"
}
shape_gemini() { # name status
	local want=GSTAT_$2
	assert_eq "$(field error.code)" "$2" "$1: error.code (Gemini shape): $(head -c 300 "$T/$1.body")"
	nonempty "$1" error.message Gemini
	if [ -n "${!want:-}" ]; then
		assert_eq "$(field error.status)" "${!want}" "$1: error.status"
	else
		assert_match "$(field error.status)" '^[A-Z_]+$' "$1: error.status"
	fi
	assert_eq "$(field type)" __missing__ "$1: no top-level type (Anthropic's)"
	assert_eq "$(field error.type)" __missing__ "$1: no error.type (OpenAI's, Anthropic's)"
	assert_eq "$(field error.param)" __missing__ "$1: no error.param (OpenAI's)"
}

# case DIALECT NAME STATUS METHOD PATH KEY(good|bad|none) BODY(file|-)
N=0
case_() {
	local d=$1 name=$1.$2 want=$3 method=$4 path=$5 km=$6 bf=$7 k="" code
	local args=(-X "$method" -H 'Content-Type: application/json')
	case $km in good) k=$KEY ;; bad) k=sk-relay-$(printf '0%.0s' $(seq 48)) ;; none) ;; esac
	if [ -n "$k" ]; then
		case $d in
		openai | responses) args+=(-H "Authorization: Bearer $k") ;;
		anthropic) args+=(-H "x-api-key: $k" -H 'anthropic-version: 2023-06-01') ;;
		gemini) args+=(-H "x-goog-api-key: $k") ;;
		esac
	fi
	[ "$bf" = - ] || args+=(--data-binary "@$T/$bf")
	code=$(req "$name" "${args[@]}" "$BASE_URL$path")
	assert_eq "$code" "$want" "$name: $method $path: status ($(head -c 300 "$T/$name.body"))"
	N=$((N + 1))
	[ "$want" = 200 ] && return 0
	assert_match "$(header "$name" content-type)" '^application/json' "$name: content-type"
	jfields "$T/$name.body" type error.type error.message error.param \
	    error.code error.status >"$T/fields"
	case $d in
	openai | responses) shape_openai "$name" ;;
	anthropic) shape_anthropic "$name" ;;
	gemini) shape_gemini "$name" "$want" ;;
	esac
}

OA=/v1/chat/completions AN=/v1/messages GE=/v1beta/models/m-gemini:generateContent
RS=/v1/responses

case_ openai ok 200 POST $OA good openai.ok
case_ openai method 405 GET $OA good -
case_ openai subpath 404 POST /v1/chat/nope good openai.ok
case_ openai nomodel 404 POST $OA good openai.nomodel
case_ openai nokey 401 POST $OA none openai.ok
case_ openai badkey 401 POST $OA bad openai.ok
case_ openai badjson 400 POST $OA good bad.json
case_ openai empty 400 POST $OA good empty.json
case_ openai big 413 POST $OA good big.json

# The Responses API answers in OpenAI's shape (a websocket upgrade is a
# GET: the 405 at once).
case_ responses ok 200 POST $RS good responses.ok
case_ responses method 405 GET $RS good -
case_ responses subpath 404 POST /v1/responses/resp_1/cancel good responses.ok
case_ responses nomodel 404 POST $RS good responses.nomodel
case_ responses nokey 401 POST $RS none responses.ok
case_ responses badkey 401 POST $RS bad responses.ok
case_ responses badjson 400 POST $RS good bad.json
case_ responses empty 400 POST $RS good empty.json
case_ responses big 413 POST $RS good big.json

case_ anthropic ok 200 POST $AN good anthropic.ok
case_ anthropic method 405 GET $AN good -
case_ anthropic subpath 404 POST /v1/messages/nope good anthropic.ok
case_ anthropic count_tokens 404 POST /v1/messages/count_tokens good anthropic.ok
case_ anthropic nomodel 404 POST $AN good anthropic.nomodel
case_ anthropic nokey 401 POST $AN none anthropic.ok
case_ anthropic badkey 401 POST $AN bad anthropic.ok
case_ anthropic badjson 400 POST $AN good bad.json
case_ anthropic empty 400 POST $AN good empty.json
case_ anthropic big 413 POST $AN good big.json

case_ gemini ok 200 POST $GE good gemini.ok
case_ gemini method 405 GET $GE good -
case_ gemini nomethod 404 POST /v1beta/models/m-gemini good gemini.ok
case_ gemini nomethod_get 404 GET /v1beta/models/m-gemini good -
case_ gemini badmethod 404 POST /v1beta/models/m-gemini:countTokens good gemini.ok
case_ gemini nomodelname 404 POST /v1beta/models/:generateContent good gemini.ok
case_ gemini subpath 404 POST /v1beta/files good gemini.ok
case_ gemini list 404 GET /v1beta/models good -
case_ gemini nomodel 404 POST /v1beta/models/nope:generateContent good gemini.nomodel
case_ gemini nokey 401 POST $GE none gemini.ok
case_ gemini badkey 401 POST $GE bad gemini.ok
case_ gemini badjson 400 POST $GE good bad.json
case_ gemini empty 400 POST $GE good empty.json
case_ gemini big 413 POST $GE good big.json
case_ gemini stream_nomethod 404 POST "/v1beta/models/m-gemini:streamGenerateContentx?alt=sse" good gemini.ok

measure "error dialects $SERVER: $N requests, each in its route's shape"
