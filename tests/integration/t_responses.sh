#!/usr/bin/env bash
# POST /v1/responses (the OpenAI Responses API) as the other chat routes
# are: keys and their model allowlists, tokens reserved from
# max_output_tokens and settled from the usage response.completed reports
# (JSON and stream), the relay's own errors in OpenAI's shape, the access
# log and metrics under route "responses", previous_response_id refused
# with a pointer to sending the history, and a websocket upgrade refused at
# once (Codex then falls back to SSE without its retries).
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] },
              { "name": "rdemo", "targets": [{ "provider": "mock", "model": "up-rs", "api": "responses" }] },
              { "name": "cached", "targets": [{ "provider": "mock", "model": "demo" }],
                "cache": { "enabled": true, "any_temperature": true } },
              { "name": "claude", "targets": [{ "provider": "an", "model": "claude-up" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"r","daily_tokens":100000,"models":["demo"]}' >/dev/null
K=$(jget secret "$T/mk.body")
ID=$(jget id "$T/mk.body")
req mk2 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"small","daily_tokens":300}' >/dev/null
K2=$(jget secret "$T/mk2.body")
req mk3 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"c"}' >/dev/null
K3=$(jget secret "$T/mk3.body")
sleep 1.1

# rpost NAME JSON [curl args...]: POST to /v1/responses.
rpost() {
	local name=$1 body=$2
	shift 2
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$BASE_URL/v1/responses" \
	    -H 'Content-Type: application/json' --data-binary "@$T/$name.req" "$@"
}
counter() {
	local v
	exec 5<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'get %s\r\n' "$1" >&5
	v=$(timeout 2 head -n 2 <&5 | sed -n 2p | tr -d '\r ')
	exec 5>&-
	echo "${v:-0}"
}
D="rl:$ID:d:$(date -u +%Y%m%d)"

# The relay's own errors, in OpenAI's shape.
rpost noauth '{"model":"demo","input":"hi"}' >/dev/null
assert_eq "$(cat "$T/noauth.code")" 401 "no key: status"
assert_match "$(jget error.type "$T/noauth.body")" 'authentication_error|invalid_request_error' "no key: OpenAI shape"
rpost other '{"model":"claude","input":"hi"}' -H "Authorization: Bearer $K" >/dev/null
assert_match "$(cat "$T/other.code")" '^40[34]$' "a model outside the key's list"
assert_ne "$(jget error.message "$T/other.body")" __missing__ "outside the list: OpenAI shape"
rpost bad '{"model":"demo","input":42}' -H "Authorization: Bearer $K" >/dev/null
assert_api_error bad 400 "" input
rpost prev '{"model":"demo","input":"go on","previous_response_id":"resp_x"}' -H "Authorization: Bearer $K" >/dev/null
assert_api_error prev 400 "" previous_response_id
assert_match "$(jget error.message "$T/prev.body")" 'history' "previous_response_id: says to send the history"

# Settled from the usage: JSON, then a stream (response.completed). (A
# request refused after admission, as previous_response_id above, was
# charged its prompt estimate, as on every route: counted from here.)
c0=$(counter "$D")
assert_eq "$(rpost j1 '{"model":"demo","input":"one two three","max_output_tokens":500}' -H "Authorization: Bearer $K")" 200 "json"
assert_eq "$(jget object "$T/j1.body")" response "json: a response object"
t1=$(jget usage.total_tokens "$T/j1.body")
assert_match "$t1" '^[1-9][0-9]*$' "json: usage"
assert_eq "$(counter "$D")" $((c0 + t1)) "daily counter after a JSON answer"
assert_eq "$(rpost s1 '{"model":"demo","input":"four five","stream":true}' -H "Authorization: Bearer $K")" 200 "stream"
assert_match "$(header s1 content-type)" '^text/event-stream' "stream: content-type"
assert_eq "$(grep -a '^event: ' "$T/s1.body" | head -n 1)" "event: response.created" "stream: response.created first"
t2=$(data_lines "$T/s1.body" | grep '"response.completed"' | sed 's/^data: //' | jget response.usage.total_tokens)
assert_match "$t2" '^[1-9][0-9]*$' "stream: usage in response.completed"
assert_eq "$(counter "$D")" $((c0 + t1 + t2)) "daily counter after the stream"

# Same dialect (a Responses target): relayed as it is, settled the same.
req mk4 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"rs","daily_tokens":100000,"models":["rdemo"]}' >/dev/null
K4=$(jget secret "$T/mk4.body")
D4="rl:$(jget id "$T/mk4.body"):d:$(date -u +%Y%m%d)"
sleep 1.1
# (the mock, as OpenAI, knows only the previous ids it made)
assert_eq "$(rpost p0 '{"model":"rdemo","input":"first turn"}' -H "Authorization: Bearer $K4")" 200 "passthrough: first turn"
t0p=$(jget usage.total_tokens "$T/p0.body")
assert_eq "$(rpost p1 "{\"model\":\"rdemo\",\"input\":\"same dialect\",\"previous_response_id\":\"$(jget id "$T/p0.body")\"}" -H "Authorization: Bearer $K4")" 200 "passthrough: json"
assert_match "$(jget id "$T/p1.body")" '^resp_mock' "passthrough: the upstream's id"
t3=$(jget usage.total_tokens "$T/p1.body")
assert_eq "$(rpost p2 '{"model":"rdemo","input":"same dialect","stream":true}' -H "Authorization: Bearer $K4")" 200 "passthrough: stream"
t4=$(data_lines "$T/p2.body" | grep '"response.completed"' | sed 's/^data: //' | jget response.usage.total_tokens)
assert_match "$t4" '^[1-9][0-9]*$' "passthrough: usage in the stream"
assert_eq "$(counter "$D4")" $((t0p + t3 + t4)) "passthrough: daily counter settled from the upstream's usage"

# An upstream error in the middle of a translated stream: response.failed.
rpost mid '{"model":"demo","input":"break [[mock error_after=2]]","stream":true}' -H "Authorization: Bearer $K" >/dev/null
assert_file_has "$T/mid.body" 'event: response.failed' "mid-stream error: response.failed"
code=$(data_lines "$T/mid.body" | grep '"response.failed"' | sed 's/^data: //' | jget response.error.code)
assert_eq "$code" server_error "mid-stream error: the code Codex reads"

# A reservation from max_output_tokens bigger than what is left.
rpost q1 '{"model":"demo","input":"hi","max_output_tokens":1000}' -H "Authorization: Bearer $K2" >/dev/null
assert_api_error q1 429 insufficient_quota
assert_eq "$(rpost q2 '{"model":"demo","input":"hi","max_output_tokens":100}' -H "Authorization: Bearer $K2")" 200 "a smaller one fits"

# A translated target: an Anthropic provider behind the same route.
assert_eq "$(rpost an '{"model":"claude","input":"hello claude","max_output_tokens":50}' -H "Authorization: Bearer $K2")" 200 "anthropic target"
assert_eq "$(jget output.0.content.0.text "$T/an.body")" "Hello from mock. You said: hello claude" "anthropic target: text"

# The response cache: recorded in the Responses form, told again as the
# other form (a JSON answer as a stream, a stream as a JSON answer).
for form in json stream; do
	other=$([ $form = json ] && echo true || echo false)
	first=$([ $form = json ] && echo false || echo true)
	b1="{\"model\":\"cached\",\"input\":\"cache me $form\",\"stream\":$first}"
	b2="{\"model\":\"cached\",\"input\":\"cache me $form\",\"stream\":$other}"
	assert_eq "$(rpost c1$form "$b1" -H "Authorization: Bearer $K3")" 200 "cache $form: first"
	assert_eq "$(header c1$form x-relay-cache)" MISS "cache $form: first is a miss"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		rpost c2$form "$b2" -H "Authorization: Bearer $K3" >/dev/null
		[ "$(header c2$form x-relay-cache)" = HIT ] && break
		sleep 0.2
	done
	assert_eq "$(header c2$form x-relay-cache)" HIT "cache $form: told again in the other form"
	if [ $form = json ]; then
		assert_eq "$(grep -a '^event: ' "$T/c2json.body" | head -n 1)" "event: response.created" "cache: a JSON answer told as a stream"
		got=$(data_lines "$T/c2json.body" | grep '"response.output_text.done"' | sed 's/^data: //' | jget text)
		assert_eq "$got" "$(jget output.0.content.0.text "$T/c1json.body")" "cache: the text told as a stream"
		assert_file_has "$T/c2json.body" '"response.completed"' "cache: the stream is whole"
	else
		assert_eq "$(jget object "$T/c2stream.body")" response "cache: a stream told as a JSON answer"
		assert_eq "$(jget output.0.content.0.text "$T/c2stream.body")" "Hello from mock. You said: cache me stream" "cache: the text told whole"
	fi
done

# Stored responses are the provider's: a pointer to the passthrough.
req stored "$BASE_URL/v1/responses/resp_abc" -H "Authorization: Bearer $K" >/dev/null
assert_api_error stored 404 unknown_url
assert_match "$(jget error.message "$T/stored.body")" '/proxy/' "stored responses: the way to them"
req px "$BASE_URL/proxy/mock/responses/resp_abc" -H "Authorization: Bearer $K3" >/dev/null
curl -sS "$MOCK_URL/_mock/requests" >"$T/px.reqs"
assert_file_has "$T/px.reqs" '"/v1/responses/resp_abc"' "stored responses: the passthrough reaches the provider"

# A websocket upgrade is refused at once.
t0=$(now_ms)
req ws "$BASE_URL/v1/responses" -H "Authorization: Bearer $K" -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' >/dev/null
ms=$(($(now_ms) - t0))
measure "websocket upgrade on /v1/responses: HTTP $(cat "$T/ws.code") in $ms ms"
assert_match "$(cat "$T/ws.code")" '^4[0-9][0-9]$' "websocket: refused"
assert_le "$ms" 2000 "websocket: refused at once"
assert_ne "$(jget error.message "$T/ws.body")" __missing__ "websocket: OpenAI shape"

# The access log and the metrics name the route.
LOG=$OWN_DIR/logs/access.log
wait_until 30 grep -q '"route":"responses"' "$LOG" || fail "no route responses in the access log"
assert_file_has "$LOG" '"dialect":"responses"' "access log: dialect"
req m "$BASE_URL/metrics" >/dev/null
n=$(awk '/^relay_requests_total\{/ && /route="responses"/ && /code="200"/ { s += $NF } END { print s + 0 }' "$T/m.body")
measure "relay_requests_total{route=responses,code=200} = $n"
assert_ge "$n" 4 "metrics: route responses"

# The usage ledger: the passthrough key's three requests on rdemo, with the
# tokens settled above.
TODAY=$(date -u +%Y-%m-%d)
assert_eq "$(req u "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY" "${ADM[@]}")" 200 "GET /admin/usage"
node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1])).data;
const row = d.find(r => r.key === process.argv[2] && r.model === "rdemo");
if (!row || row.requests !== 3 || row.tokens_in + row.tokens_out !== Number(process.argv[3])) {
  console.log("  FAIL: usage rows " + JSON.stringify(d)); process.exit(1); }
console.log("  measure: ledger " + JSON.stringify(row));
' "$T/u.body" "$(jget id "$T/mk4.body")" $((t0p + t3 + t4)) || fail "usage ledger"
