#!/usr/bin/env bash
# Outbound PII protection's external detector (issue 21): names and
# addresses found by a Presidio-compatible service (a second mock's
# /_detector/analyze, which knows 张三, Alice Smith, two addresses, and
# Carol with a score below the threshold) reach the provider as
# placeholders (⟦NAME_1⟧, ⟦ADDR_1⟧), in a Chinese and an English prompt,
# history included, and come back restored whole and streamed; the
# detector is asked once per request and only when a kind needs it; mask
# and block act on the new kinds; fail closed: detector answering 503,
# garbage, offsets out of the text, hanging (refused within its timeout)
# or gone (connection refused) -> 503 in the caller's dialect and the
# provider saw 0 calls; with on_error "skip" the request is served by the
# built-in detectors only and a warning without the text is logged.
. "$(dirname "$0")/fault_lib.sh"

start_mock2
DET_PID=${BG_PIDS[-1]}
DET_URL=$MOCK2_URL
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "pii_protection": { "action": "pseudonymise",
    "detector": { "url": "$DET_URL/_detector/analyze", "timeout_ms": 500,
                  "entities": ["PERSON", "LOCATION"], "language": "zh", "score_threshold": 0.5 } },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] } ],
  "models": [
    { "name": "p-openai", "targets": [{ "provider": "oa" }] },
    { "name": "p-anthropic", "targets": [{ "provider": "an" }] },
    { "name": "p-mask", "targets": [{ "provider": "oa" }], "pii_protection": { "action": "mask" } },
    { "name": "p-block", "targets": [{ "provider": "oa" }], "pii_protection": { "entities": { "name": "block" } } },
    { "name": "p-numbers", "targets": [{ "provider": "oa" }], "pii_protection": { "entities": { "name": "off", "address": "off" } } },
    { "name": "p-off", "targets": [{ "provider": "oa" }], "pii_protection": { "action": "off" } } ] }
JSON
own_stack_start "$T/cfg.in"
det_mode() { curl -sS --max-time 5 -X POST "$DET_URL/_mock/detector?mode=$1" >/dev/null || fail "detector mode $1"; }

ZH="我叫张三，住在北京市海淀区中关村大街27号，手机 13812345678。张三明天到。"
EN="I am Alice Smith of 221B Baker Street; Carol says hi. [[mock split_ph=1]]"

# text_of DIALECT FILE: the answer text of a whole body or a stream.
text_of() {
	node -e '
const [d, f] = process.argv.slice(1);
const s = require("fs").readFileSync(f, "utf8");
let t = "";
if (s.trimStart().startsWith("{")) {
  const o = JSON.parse(s);
  t = d === "openai" ? o.choices[0].message.content : o.content.filter(b => b.type === "text").map(b => b.text).join("");
} else for (const l of s.split(/\r?\n/)) {
  if (!l.startsWith("data: {")) continue;
  const o = JSON.parse(l.slice(6));
  if (d === "openai") { const c = o.choices && o.choices[0]; if (c && c.delta && c.delta.content) t += c.delta.content; }
  else if (o.type === "content_block_delta" && o.delta.type === "text_delta") t += o.delta.text;
}
process.stdout.write(t);
' "$1" "$2"
}

# ask NAME DIALECT MODEL STREAM TEXT
ask() {
	local name=$1 d=$2 model=$3 stream=$4 text=$5
	if [ "$d" = openai ]; then
		chat_json "$model" "$text" "$stream" >"$T/$name.req"
		req "$name" "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary "@$T/$name.req"
	else
		node -e 'process.stdout.write(JSON.stringify({model: process.argv[1], max_tokens: 200, stream: process.argv[2] === "true", messages: [{role: "user", content: process.argv[3]}]}))' "$model" "$stream" "$text" >"$T/$name.req"
		req "$name" "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/$name.req"
	fi
}

# --- placeholders out, originals back, both languages, whole and streamed ----------
for d in openai anthropic; do
	for s in false true; do
		for lang in zh en; do
			name=d-$d-$s-$lang
			text=$ZH
			[ $lang = en ] && text=$EN
			mocks_reset "$MOCK_URL" "$DET_URL"
			assert_eq "$(ask "$name" "$d" "p-$d" "$s" "$text")" 200 "$name: status"
			assert_eq "$(attempts "$DET_URL")" 1 "$name: the detector asked once"
			mock_last_request "$name.up"
			assert_file_has "$T/$name.up.json" '⟦NAME_1⟧' "$name: name placeholder"
			assert_file_has "$T/$name.up.json" '⟦ADDR_1⟧' "$name: address placeholder"
			for o in 张三 北京市海淀区中关村大街27号 "Alice Smith" "221B Baker Street" 13812345678; do
				assert_file_lacks "$T/$name.up.json" "$o" "$name: '$o' reached the provider"
			done
			assert_eq "$(text_of "$d" "$T/$name.body")" "Hello from mock. You said: $text" "$name: answer restored"
			[ $s = true ] && assert_file_lacks "$T/$name.body" '⟦' "$name: no placeholder left"
		done
	done
done
# Both occurrences of 张三 are the same placeholder; Carol (scored below
# the threshold) is left alone.
assert_eq "$(node -e '
const b = JSON.parse(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).body);
const t = JSON.stringify(b.messages);
process.stdout.write(String((t.match(/⟦NAME_1⟧/g) || []).length));
' "$T/d-anthropic-true-zh.up.json")" 2 "one name, one placeholder, each occurrence"
assert_file_has "$T/d-anthropic-true-en.up.json" 'Carol' "a finding under the threshold passes"
# What the detector was asked: the texts, the language, the types.
curl -sS --max-time 5 "$DET_URL/_mock/requests" >"$T/det.all"
assert_eq "$(node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const b = JSON.parse(a[a.length - 1].body);
process.stdout.write([b.language, b.entities.join("+"), b.score_threshold, b.text.includes("Alice Smith")].join(" "));
' "$T/det.all")" "zh PERSON+LOCATION 0.5 true" "the detector's request"

# History: the name in an earlier turn and in the new one, one placeholder.
node -e 'process.stdout.write(JSON.stringify({model: "p-openai", messages: [
 {role: "user", content: "我是张三"}, {role: "assistant", content: "你好，张三。"},
 {role: "user", content: "张三的地址是北京市海淀区中关村大街27号"}]}))' >"$T/h.req"
assert_eq "$(req h "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary "@$T/h.req")" 200 "history"
mock_last_request h.up
node -e '
const b = JSON.parse(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).body);
const m = b.messages.map(x => x.content);
if (!m.every(x => x.includes("⟦NAME_1⟧")) || !m[2].includes("⟦ADDR_1⟧") || JSON.stringify(m).includes("张三"))
  { console.log("  FAIL: " + JSON.stringify(m)); process.exit(1); }
' "$T/h.up.json" || fail "history masked into the same placeholders"
assert_eq "$(text_of openai "$T/h.body")" "Hello from mock. You said: 张三的地址是北京市海淀区中关村大街27号" "history: answer restored"

# mask and block act on the new kinds too.
assert_eq "$(ask mk openai p-mask false "$ZH")" 200 "mask"
mock_last_request mk.up
assert_file_has "$T/mk.up.json" '我叫**，住在**************' "name and address masked, one * per character"
assert_file_lacks "$T/mk.up.json" '张三' "mask: the name never leaves"
mocks_reset "$MOCK_URL" "$DET_URL"
ask bl openai p-block false "$ZH" >/dev/null
assert_api_error bl 400 pii_blocked
assert_match "$(jget error.message "$T/bl.body")" '\(name\)' "block names the kind"
assert_file_lacks "$T/bl.body" '张三' "block: no value in the error"
assert_eq "$(attempts "$MOCK_URL")" 0 "block: the provider saw 0 calls"

# The detector is asked only when a kind needs it.
mocks_reset "$MOCK_URL" "$DET_URL"
assert_eq "$(ask nm openai p-numbers false "$ZH")" 200 "names and addresses off"
assert_eq "$(ask of openai p-off false "$ZH")" 200 "protection off"
assert_eq "$(attempts "$DET_URL")" 0 "no kind needs the detector: not asked"
mock_last_request of.up
assert_file_has "$T/of.up.json" '张三' "off: sent as it is (the grep can see it)"

# --- fail closed ----------------------------------------------------------------------
for mode in status garbage offsets hang; do
	det_mode $mode
	mocks_reset "$MOCK_URL"
	t0=$(now_ms)
	ask f-$mode-oa openai p-openai false "$ZH" >/dev/null
	ms=$(($(now_ms) - t0))
	assert_api_error f-$mode-oa 503 pii_protection_unavailable
	ask f-$mode-an anthropic p-anthropic true "$EN" >/dev/null
	assert_eq "$(cat "$T/f-$mode-an.code")/$(jget type "$T/f-$mode-an.body")" "503/error" "$mode: Anthropic shape"
	assert_ne "$(jget error.type "$T/f-$mode-an.body")" __missing__ "$mode: Anthropic error.type"
	assert_eq "$(attempts "$MOCK_URL")" 0 "$mode: the provider saw 0 calls"
	assert_file_lacks "$T/f-$mode-oa.body" '张三' "$mode: no value in the error"
	measure "detector $mode: 503 after $ms ms"
	[ $mode = hang ] && assert_le "$ms" 1500 "a hanging detector: refused within its timeout (500 ms)"
done
det_mode ok
assert_eq "$(ask back openai p-openai false "$ZH")" 200 "detector back: served"
kill "$DET_PID"
wait "$DET_PID" 2>/dev/null
mocks_reset "$MOCK_URL"
ask gone openai p-openai false "$ZH" >/dev/null
assert_api_error gone 503 pii_protection_unavailable
assert_eq "$(attempts "$MOCK_URL")" 0 "detector gone: the provider saw 0 calls"

# --- counts in /metrics and the access log ---------------------------------------------
assert_eq "$(req met "$BASE_URL/metrics")" 200 "metrics"
assert_match "$(grep -a '^relay_pii_entities_total{entity="name",action="pseudonymise"}' "$T/met.body")" ' [1-9][0-9]*$' "name/pseudonymise counted"
assert_match "$(grep -a '^relay_pii_entities_total{entity="address",action="mask"}' "$T/met.body")" ' [1-9][0-9]*$' "address/mask counted"
sleep 0.3
assert_file_has "$OWN_DIR/logs/access.log" '"pii":"phone:pseudonymise=1,name:pseudonymise=2,address:pseudonymise=1"' "access log counts"
assert_file_has "$OWN_DIR/logs/relay-chat.log" 'pii detector failed' "the failure logged"
cat "$OWN_DIR"/logs/* >"$T/logs.all" 2>/dev/null
for o in 张三 北京市海淀区中关村大街27号 "Alice Smith" "221B Baker Street"; do
	assert_eq "$(grep -aoF "$o" "$T/logs.all" | wc -l)" 0 "'$o' in no log"
done

# --- on_error "skip": served by the built-in detectors, a warning logged ------------------
sed -e 's|"score_threshold": 0.5 }|"score_threshold": 0.5, "on_error": "skip" }|' "$T/cfg.in" >"$T/cfg2.in"
grep -q '"on_error": "skip"' "$T/cfg2.in" || fail "cfg2"
stack_stop
SCEN_DIR=$T/two
mkdir -p "$SCEN_DIR"
own_stack_start "$T/cfg2.in"
assert_eq "$(ask sk openai p-openai false "$ZH")" 200 "on_error skip: served without the detector"
mock_last_request sk.up
assert_file_has "$T/sk.up.json" '⟦PHONE_1⟧' "skip: the built-in detectors still act"
assert_file_has "$OWN_DIR/logs/relay-chat.log" 'names and addresses not looked for' "skip: a warning"
assert_file_lacks "$OWN_DIR/logs/relay-chat.log" '张三' "skip: no text in the log"
exit 0
