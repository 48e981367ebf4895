#!/usr/bin/env bash
# The content filter on POST /v1/responses: a listed word in the input
# (a message, or a tool's output) refused before any upstream call; the
# answer masked or stopped (status incomplete, incomplete_details
# content_filter), whole and streamed, translated or from a Responses
# target (which then goes through the translator).
. "$(dirname "$0")/lib.sh"

WORDS=$SCEN_DIR/words.txt
printf 'badword\n' >"$WORDS"
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "content_filter": { "word_files": ["$WORDS"], "input": true, "output": "mask" },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] } ],
  "models": [
    { "name": "f", "targets": [{ "provider": "mock" }] },
    { "name": "fan", "targets": [{ "provider": "an" }], "content_filter": { "input": false } },
    { "name": "fstop", "targets": [{ "provider": "mock" }], "content_filter": { "input": false, "output": "stop" } },
    { "name": "frs", "targets": [{ "provider": "mock", "api": "responses" }], "content_filter": { "input": false } } ] }
JSON
own_stack_start "$T/cfg.in"
rpost() {
	local name=$1 body=$2
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$BASE_URL/v1/responses" -H 'Content-Type: application/json' --data-binary "@$T/$name.req"
}
# stext FILE: the text of a Responses stream's output_text deltas.
stext() {
	node -e '
let t = "";
for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n"))
  if (l.startsWith("data: {")) { const e = JSON.parse(l.slice(6)); if (e.type === "response.output_text.delta") t += e.delta; }
process.stdout.write(t);' "$1"
}
up() { mock_stat requests; }

n0=$(up)
rpost in1 '{"model":"f","input":"say badword"}' >/dev/null
assert_api_error in1 400 content_filter
rpost in2 '{"model":"f","input":[{"role":"user","content":"weather?"},{"type":"function_call","call_id":"c1","name":"w","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"it is badword outside"}]}' >/dev/null
assert_api_error in2 400 content_filter
assert_eq "$(up)" "$n0" "refused before any upstream call"

for m in fan frs; do
	assert_eq "$(rpost w$m "{\"model\":\"$m\",\"input\":\"say badword now\"}")" 200 "$m: whole"
	got=$(jget output.0.content.0.text "$T/w$m.body")
	assert_match "$got" 'say \*+ now' "$m: whole answer masked ($got)"
	assert_eq "$(rpost s$m "{\"model\":\"$m\",\"input\":\"say badword now\",\"stream\":true}")" 200 "$m: stream"
	got=$(stext "$T/s$m.body")
	assert_match "$got" 'say \*+ now' "$m: streamed answer masked ($got)"
	assert_file_lacks "$T/s$m.body" badword "$m: the word nowhere in the stream"
	assert_file_has "$T/s$m.body" '"response.completed"' "$m: the stream completes"
done

assert_eq "$(rpost st1 '{"model":"fstop","input":"say badword now"}')" 200 "stop: whole"
assert_eq "$(jget status "$T/st1.body")" incomplete "stop: status"
assert_eq "$(jget incomplete_details.reason "$T/st1.body")" content_filter "stop: reason"
rpost st2 '{"model":"fstop","input":"say badword now","stream":true}' >/dev/null
assert_file_has "$T/st2.body" 'event: response.incomplete' "stop: the stream ends incomplete"
assert_file_lacks "$T/st2.body" badword "stop: the word never sent"
