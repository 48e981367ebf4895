#!/usr/bin/env bash
# The content filter: word lists from files (case-insensitive, CJK, a
# phrase split across stream events), requests holding a listed word
# refused in the caller's dialect before any upstream call, answers masked
# or stopped with the dialect's content-filter finish, whole and streamed,
# per model and per key; the list reloaded when its file changes.
. "$(dirname "$0")/lib.sh"

WORDS=$SCEN_DIR/words.txt
printf '# test words\nbadword\nopen sesame\n违禁词\n' >"$WORDS"
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "content_filter": { "word_files": ["$WORDS"], "input": true, "output": "mask" },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] } ],
  "models": [
    { "name": "f", "targets": [{ "provider": "mock" }] },
    { "name": "fout", "targets": [{ "provider": "mock" }], "content_filter": { "input": false } },
    { "name": "fstop", "targets": [{ "provider": "mock" }], "content_filter": { "input": false, "output": "stop" } },
    { "name": "fan", "targets": [{ "provider": "an" }], "content_filter": { "input": false } },
    { "name": "fge", "targets": [{ "provider": "ge" }], "content_filter": { "input": false, "output": "stop" } },
    { "name": "plain", "targets": [{ "provider": "mock" }], "content_filter": { "input": false, "output": "off" } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
up() { mock_stat requests; }
# text_of FILE: the answer text of an OpenAI body or stream.
text_of() {
	node -e '
const s = require("fs").readFileSync(process.argv[1], "utf8");
if (s.startsWith("{")) { process.stdout.write(JSON.parse(s).choices[0].message.content); process.exit(0); }
let t = "";
for (const l of s.split("\n")) if (l.startsWith("data: {")) { const c = JSON.parse(l.slice(6)).choices[0]; if (c && c.delta && c.delta.content) t += c.delta.content; }
process.stdout.write(t);
' "$1"
}
finish_of() {
	node -e '
const s = require("fs").readFileSync(process.argv[1], "utf8");
if (s.startsWith("{")) { process.stdout.write(JSON.parse(s).choices[0].finish_reason); process.exit(0); }
let f = "";
for (const l of s.split("\n")) if (l.startsWith("data: {")) { const c = JSON.parse(l.slice(6)).choices[0]; if (c && c.finish_reason) f = c.finish_reason; }
process.stdout.write(f);
' "$1"
}

# --- input: refused in each dialect, nothing sent upstream ------------------
u=$(up)
post in1 "$(chat_json f 'please say BADWORD')" >/dev/null
assert_api_error in1 400 content_filter
printf '{"model":"f","max_tokens":20,"messages":[{"role":"user","content":[{"type":"text","text":"x 违禁词 y"}]}]}' >"$T/in2.req"
req in2 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/in2.req" >/dev/null
assert_eq "$(cat "$T/in2.code")" 400 "Anthropic refusal status"
assert_eq "$(jget type "$T/in2.body")/$(jget error.type "$T/in2.body")" "error/invalid_request_error" "Anthropic error shape"
printf '{"contents":[{"role":"user","parts":[{"text":"open sesame"}]}]}' >"$T/in3.req"
req in3 "$BASE_URL/v1beta/models/f:generateContent" -H 'Content-Type: application/json' --data-binary "@$T/in3.req" >/dev/null
assert_eq "$(cat "$T/in3.code")" 400 "Gemini refusal status"
assert_eq "$(jget error.status "$T/in3.body")/$(jget error.code "$T/in3.body")" "INVALID_ARGUMENT/400" "Gemini error shape"
assert_eq "$(up)" "$u" "refused requests never reach the provider"
assert_eq "$(post in4 "$(chat_json f 'a clean question')")" 200 "a clean request passes"

# --- output: masked, whole and streamed -------------------------------------------
post o1 "$(chat_json fout 'say badword now')" >/dev/null
assert_eq "$(text_of "$T/o1.body")" "Hello from mock. You said: say ******* now" "whole answer masked"
post o2 "$(chat_json fout 'x open sesame y 这是违禁词吗' true)" >/dev/null
assert_eq "$(cat "$T/o2.code")" 200 "stream status"
assert_eq "$(text_of "$T/o2.body")" "Hello from mock. You said: x *********** y 这是***吗" "stream masked, the phrase split across events"
assert_file_lacks "$T/o2.body" "sesame" "no piece of the phrase leaks"
assert_file_has "$T/o2.body" "data: [DONE]" "stream complete"
assert_ge "$(grep -c '^data: {' "$T/o2.body")" 8 "still streamed piece by piece"
post o3 "$(chat_json plain 'say badword now')" >/dev/null
assert_eq "$(text_of "$T/o3.body")" "Hello from mock. You said: say badword now" "a model without the filter"

# --- output: stopped ---------------------------------------------------------------
post s1 "$(chat_json fstop 'one two badword three four')" >/dev/null
assert_eq "$(text_of "$T/s1.body")" "Hello from mock. You said: one two " "whole answer cut"
assert_eq "$(finish_of "$T/s1.body")" content_filter "whole finish_reason"
post s2 "$(chat_json fstop '[[mock gap_ms=30]] one two badword three four five six' true)" >/dev/null
assert_eq "$(text_of "$T/s2.body")" "Hello from mock. You said: [[mock gap_ms=30]] one two " "stream cut before the word"
assert_eq "$(finish_of "$T/s2.body")" content_filter "stream finish_reason"
assert_file_lacks "$T/s2.body" "three" "nothing after the cut"
assert_file_has "$T/s2.body" "data: [DONE]" "a cut stream still ends properly"
wait_until 30 test "$(mock_stat streams_aborted)" -ge 1 || fail "the upstream stream was not abandoned after the cut"

# --- other dialects ----------------------------------------------------------------
printf '{"model":"fan","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"an open sesame here"}]}' >"$T/a1.req"
req a1 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/a1.req" >/dev/null
node -e '
const s = require("fs").readFileSync(process.argv[1], "utf8");
const evs = s.split("\n\n").filter(Boolean).map(e => JSON.parse(e.split("\n").find(l => l.startsWith("data: ")).slice(6)));
const t = evs.filter(e => e.type === "content_block_delta" && e.delta.type === "text_delta").map(e => e.delta.text).join("");
if (t !== "Hello from mock. You said: an *********** here" || evs.at(-1).type !== "message_stop") { console.log("  FAIL: " + t); process.exit(1); }
' "$T/a1.body" || fail "Anthropic stream masked"
printf '{"contents":[{"role":"user","parts":[{"text":"g badword h"}]}]}' >"$T/g1.req"
req g1 "$BASE_URL/v1beta/models/fge:streamGenerateContent?alt=sse" -H 'Content-Type: application/json' --data-binary "@$T/g1.req" >/dev/null
node -e '
const s = require("fs").readFileSync(process.argv[1], "utf8");
const fr = s.split("\r\n\r\n").filter(Boolean).map(f => JSON.parse(f.slice(6)));
const t = fr.map(f => (f.candidates[0].content ? f.candidates[0].content.parts.map(p => p.text || "").join("") : "")).join("");
const fin = fr.map(f => f.candidates[0].finishReason).filter(Boolean);
if (t !== "Hello from mock. You said: g " || fin.at(-1) !== "SAFETY") { console.log("  FAIL: " + t + " " + fin); process.exit(1); }
' "$T/g1.body" || fail "Gemini stream stopped with SAFETY"

# --- the list reloads when its file changes ------------------------------------------
post r1 "$(chat_json fout 'say freshword')" >/dev/null
assert_eq "$(text_of "$T/r1.body")" "Hello from mock. You said: say freshword" "before the change"
printf 'freshword\n' >>"$WORDS"
sleep 1.3
post r2 "$(chat_json fout 'say freshword')" >/dev/null
assert_eq "$(text_of "$T/r2.body")" "Hello from mock. You said: say *********" "after the change, without a restart"
# --- per key: a key's own setting for its answers wins over the model's ----
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req ks "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"strict","content_filter":"stop"}' >/dev/null
req ko "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"raw","content_filter":"off"}' >/dev/null
req kd "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"default"}' >/dev/null
assert_eq "$(req kbad "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"x","content_filter":"loud"}')" 400 "a bad content_filter value"
KS=$(jget secret "$T/ks.body")
KO=$(jget secret "$T/ko.body")
KD=$(jget secret "$T/kd.body")
assert_eq "$(jget content_filter "$T/ks.body")" stop "the key shows its setting"
sleep 1.1
post k1 "$(chat_json fout 'one badword two')" -H "Authorization: Bearer $KS" >/dev/null
assert_eq "$(text_of "$T/k1.body")/$(finish_of "$T/k1.body")" "Hello from mock. You said: one /content_filter" "key stop over model mask"
post k2 "$(chat_json fout 'one badword two')" -H "Authorization: Bearer $KO" >/dev/null
assert_eq "$(text_of "$T/k2.body")" "Hello from mock. You said: one badword two" "key off over model mask"
post k3 "$(chat_json fout 'one badword two')" -H "Authorization: Bearer $KD" >/dev/null
assert_eq "$(text_of "$T/k3.body")" "Hello from mock. You said: one ******* two" "a key without a setting: the model's"
post k4 "$(chat_json f 'one badword two')" -H "Authorization: Bearer $KO" >/dev/null
assert_api_error k4 400 content_filter
measure "input refused in 3 dialects with 0 upstream calls; output masked (whole, stream, phrase split across events, CJK) and stopped (OpenAI content_filter, Gemini SAFETY); list reloaded; per-key stop/off over the model's mask"
