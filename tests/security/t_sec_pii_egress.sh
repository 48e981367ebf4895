#!/usr/bin/env bash
# Outbound PII protection (issue 21): a prompt holding a mobile number, a
# resident ID, a bank card and an email, under "pseudonymise", reaches
# every provider type from every client dialect as placeholders
# (⟦PHONE_1⟧...), whole and streamed; the answer (the mock echoes the
# prompt, and with split_ph=1 cuts each placeholder into three events;
# one stream per dialect also drips byte by byte, cutting the 3-byte ⟦
# apart in transport) comes back restored; the originals are in
# no upstream body, log, prompt log or cache entry (grep counts); numbers
# that only look like data pass unchanged; mask and block per model and
# per key; fail closed (blocked kind, term list gone): the mock sees no
# call; counts in /metrics and the access log.
. "$(dirname "$0")/../integration/lib.sh"

TERMS=$T/terms.txt
printf 'Project Phoenix\n' >"$TERMS"
GONE=$T/gone.txt
printf 'Nobody\n' >"$GONE"
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "prompt_log": { "enabled": true, "retention_h": 2 },
  "pii_protection": { "action": "pseudonymise", "word_files": ["$TERMS"] },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] },
    { "name": "az", "type": "azure", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] } ],
  "models": [
    { "name": "p-openai", "targets": [{ "provider": "oa" }], "cache": { "enabled": true, "any_temperature": true } },
    { "name": "p-anthropic", "targets": [{ "provider": "an" }], "cache": { "enabled": true, "any_temperature": true } },
    { "name": "p-gemini", "targets": [{ "provider": "ge" }], "cache": { "enabled": true, "any_temperature": true } },
    { "name": "p-azure", "targets": [{ "provider": "az" }] },
    { "name": "p-mask", "targets": [{ "provider": "oa" }], "pii_protection": { "action": "mask" } },
    { "name": "p-block", "targets": [{ "provider": "oa" }], "pii_protection": { "entities": { "id": "block", "card": "block" } } },
    { "name": "p-off", "targets": [{ "provider": "oa" }], "pii_protection": { "action": "off" } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ORIG=(13812345678 11010519491231002X 4111111111111111 zhang.san@example.com)
PROMPT="我的手机 13812345678，身份证 11010519491231002X，银行卡 4111111111111111，邮箱 zhang.san@example.com [[mock split_ph=1]]"
WANT="Hello from mock. You said: $PROMPT"
up() { mock_stat requests; }

# text_of DIALECT FILE: the answer text of a whole body or a stream.
text_of() {
	node -e '
const [d, f] = process.argv.slice(1);
const s = require("fs").readFileSync(f, "utf8");
const whole = s.trimStart().startsWith("{");
let t = "";
const gem = o => (o.candidates || []).forEach(c => ((c.content || {}).parts || []).forEach(p => { if (p.text && !p.thought) t += p.text; }));
if (whole) {
  const o = JSON.parse(s);
  if (d === "openai") t = o.choices[0].message.content;
  else if (d === "anthropic") t = o.content.filter(b => b.type === "text").map(b => b.text).join("");
  else gem(o);
} else for (const l of s.split(/\r?\n/)) {
  if (!l.startsWith("data: {")) continue;
  const o = JSON.parse(l.slice(6));
  if (d === "openai") { const c = o.choices && o.choices[0]; if (c && c.delta && c.delta.content) t += c.delta.content; }
  else if (d === "anthropic") { if (o.type === "content_block_delta" && o.delta.type === "text_delta") t += o.delta.text; }
  else gem(o);
}
process.stdout.write(t);
' "$1" "$2"
}

# ask NAME DIALECT MODEL STREAM TEXT: one request in the client dialect.
ask() {
	local name=$1 d=$2 model=$3 stream=$4 text=$5 url body
	case $d in
	openai)
		url=$BASE_URL/v1/chat/completions
		body=$(chat_json "$model" "$text" "$stream") ;;
	anthropic)
		url=$BASE_URL/v1/messages
		body=$(node -e 'process.stdout.write(JSON.stringify({model: process.argv[1], max_tokens: 200, stream: process.argv[2] === "true", system: "Agent on duty", messages: [{role: "user", content: [{type: "text", text: process.argv[3]}]}]}))' "$model" "$stream" "$text") ;;
	gemini)
		if [ "$stream" = true ]; then url="$BASE_URL/v1beta/models/$model:streamGenerateContent?alt=sse"; else url="$BASE_URL/v1beta/models/$model:generateContent"; fi
		body=$(node -e 'process.stdout.write(JSON.stringify({contents: [{role: "user", parts: [{text: process.argv[1]}]}]}))' "$text") ;;
	esac
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$url" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/$name.req"
}

# --- every client dialect x every provider type, whole and streamed ------------
n=0
for d in openai anthropic gemini; do
	for p in openai anthropic gemini azure; do
		for s in false true; do
			name=e-$d-$p-$s
			assert_eq "$(ask "$name" "$d" "p-$p" "$s" "$PROMPT")" 200 "$name: status"
			mock_last_request "$name.up"
			for o in "${ORIG[@]}"; do
				assert_file_lacks "$T/$name.up.json" "$o" "$name: an original reached the provider"
			done
			for ph in '⟦PHONE_1⟧' '⟦ID_1⟧' '⟦CARD_1⟧' '⟦EMAIL_1⟧'; do
				assert_file_has "$T/$name.up.json" "$ph" "$name: placeholder sent"
			done
			assert_eq "$(text_of "$d" "$T/$name.body")" "$WANT" "$name: answer restored"
			if [ "$s" = true ]; then
				# The placeholder really was cut inside the bracket
				# (its first byte alone in one event), and the client
				# still got it whole, once.
				assert_eq "$(grep -aoF '13812345678' "$T/$name.body" | wc -l)" 1 "$name: restored exactly once"
				assert_file_lacks "$T/$name.body" '⟦' "$name: no placeholder left"
			fi
			n=$((n + 1))
		done
	done
done
log "egress: $n requests (3 dialects x 4 provider types x whole/stream) restored"

# Tool-call arguments: the mock echoes the prompt into them, streamed in
# fragments cut inside a placeholder; OpenAI and Anthropic clients get
# them restored (JSON-escaped inside OpenAI's argument text).
TP="${PROMPT/split_ph=1/split_ph=1 tool=1}"
TWANT="Hello from mock. You said: $TP"
for d in openai anthropic; do
	for p in openai anthropic gemini; do
		for s in false true; do
			name=tool-$d-$p-$s
			if [ "$d" = openai ]; then
				body=$(chat_json "p-$p" "$TP" "$s" '{"tools":[{"type":"function","function":{"name":"note","parameters":{"type":"object"}}}]}')
				printf '%s' "$body" >"$T/$name.req"
				req "$name" "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary "@$T/$name.req" >/dev/null
			else
				node -e 'process.stdout.write(JSON.stringify({model: process.argv[1], max_tokens: 200, stream: process.argv[2] === "true", tools: [{name: "note", input_schema: {type: "object"}}], messages: [{role: "user", content: process.argv[3]}]}))' "p-$p" "$s" "$TP" >"$T/$name.req"
				req "$name" "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/$name.req" >/dev/null
			fi
			assert_eq "$(cat "$T/$name.code")" 200 "$name: status"
			got=$(node -e '
const [d, f] = process.argv.slice(1);
const s = require("fs").readFileSync(f, "utf8");
let a = "";
if (s.trimStart().startsWith("{")) {
  const o = JSON.parse(s);
  a = d === "openai" ? o.choices[0].message.tool_calls[0].function.arguments
                     : JSON.stringify(o.content.find(b => b.type === "tool_use").input);
} else for (const l of s.split(/\r?\n/)) {
  if (!l.startsWith("data: {")) continue;
  const o = JSON.parse(l.slice(6));
  if (d === "openai") { const c = o.choices && o.choices[0]; if (c && c.delta && c.delta.tool_calls) a += c.delta.tool_calls[0].function.arguments || ""; }
  else if (o.type === "content_block_delta" && o.delta.type === "input_json_delta") a += o.delta.partial_json;
}
process.stdout.write(JSON.parse(a).said);
' "$d" "$T/$name.body")
			assert_eq "$got" "$TWANT" "$name: tool arguments restored"
		done
	done
done

# Gemini's streamGenerateContent without alt=sse: a JSON array of frames.
node -e 'process.stdout.write(JSON.stringify({contents: [{role: "user", parts: [{text: process.argv[1]}]}]}))' "$PROMPT" >"$T/ga.req"
assert_eq "$(req ga "$BASE_URL/v1beta/models/p-openai:streamGenerateContent" -H 'Content-Type: application/json' --data-binary "@$T/ga.req")" 200 "Gemini JSON-array stream"
assert_eq "$(node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.stdout.write(a.map(f => (f.candidates || []).map(c => ((c.content || {}).parts || []).map(p => p.text || "").join("")).join("")).join(""));
' "$T/ga.body")" "$WANT" "Gemini JSON-array stream restored"

# Byte by byte: every placeholder's bytes cut apart in transport.
for d in openai anthropic gemini; do
	assert_eq "$(ask drip-$d "$d" p-$d true "${PROMPT/split_ph=1/split_ph=1 drip_ms=1}")" 200 "drip $d"
	assert_eq "$(text_of "$d" "$T/drip-$d.body")" "Hello from mock. You said: ${PROMPT/split_ph=1/split_ph=1 drip_ms=1}" "drip $d: restored"
done

# The same request again: an answer restored for its client is never cached.
ask c1 openai p-openai false "$PROMPT" >/dev/null
assert_eq "$(header c1 x-relay-cache)" MISS "a restored answer was not stored"

# History sent back (the restored answer as the assistant's turn) is masked
# into the same placeholders.
HIST=$(node -e 'process.stdout.write(JSON.stringify({model: "p-openai", messages: [
 {role: "user", content: process.argv[1]}, {role: "assistant", content: process.argv[2]},
 {role: "user", content: "and my other phone 13900000000, same card 4111111111111111, [[mock tool=1]]"}],
 tools: [{type: "function", function: {name: "lookup", parameters: {type: "object"}}}]}))' "$PROMPT" "$WANT")
assert_eq "$(post h1 "$HIST")" 200 "history"
mock_last_request h1.up
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const b = JSON.parse(r.body);
const m = b.messages.map(x => x.content);
const fail = s => { console.log("  FAIL: " + s + ": " + JSON.stringify(m)); process.exit(1); };
if (!m[0].includes("⟦PHONE_1⟧") || !m[1].includes("⟦PHONE_1⟧") || !m[1].includes("⟦EMAIL_1⟧")) fail("history not masked into the same placeholders");
if (!m[2].includes("⟦PHONE_2⟧") || !m[2].includes("⟦CARD_1⟧")) fail("a new number numbered next, a known one the same");
' "$T/h1.up.json" || fail "history masking"

# Operator terms through the word list.
assert_eq "$(post t1 "$(chat_json p-openai 'status of project phoenix?')")" 200 "term"
mock_last_request t1.up
assert_file_has "$T/t1.up.json" '⟦TERM_1⟧' "a listed term becomes a placeholder"
assert_file_lacks "$T/t1.up.json" 'phoenix' "the term never leaves"
assert_eq "$(text_of openai "$T/t1.body")" "Hello from mock. You said: status of project phoenix?" "term restored as the client wrote it"

# --- no false positives ------------------------------------------------------------
FP="order 1202412071234567890 ts 1700000000123 S3/C4 550e8400-e29b-41d4-a716-446655440000 id 110105194912310021 card 4111111111111112"
assert_eq "$(post fp "$(chat_json p-openai "$FP")")" 200 "look-alikes"
mock_last_request fp.up
assert_file_has "$T/fp.up.json" "$FP" "look-alike numbers pass unchanged"
assert_file_lacks "$T/fp.up.json" '⟦' "no placeholder for a look-alike"

# --- mask (irreversible) and off ------------------------------------------------------
assert_eq "$(post mk "$(chat_json p-mask "$PROMPT")")" 200 "mask"
mock_last_request mk.up
assert_file_has "$T/mk.up.json" '138****5678' "phone masked"
assert_file_has "$T/mk.up.json" 'z***@example.com' "email masked"
assert_file_has "$T/mk.body" '138****5678' "a mask is not restored"
# A control that proves the grep can see an original at all.
assert_eq "$(post off "$(chat_json p-off 'control 13700000000')")" 200 "off"
mock_last_request off.up
assert_file_has "$T/off.up.json" 13700000000 "off: sent as it is"

# --- block and fail closed: the mock sees nothing ------------------------------------------
u=$(up)
post b1 "$(chat_json p-block "$PROMPT")" >/dev/null
assert_api_error b1 400 pii_blocked
assert_match "$(jget error.message "$T/b1.body")" 'id, card' "the blocked kinds named"
for o in "${ORIG[@]}"; do assert_file_lacks "$T/b1.body" "$o" "block: no value in the error"; done
ask b2 anthropic p-block false "$PROMPT" >/dev/null
assert_eq "$(cat "$T/b2.code")/$(jget type "$T/b2.body")/$(jget error.type "$T/b2.body")" "400/error/invalid_request_error" "block: Anthropic shape"
ask b3 gemini p-block true "$PROMPT" >/dev/null
assert_eq "$(cat "$T/b3.code")/$(jget error.status "$T/b3.body")" "400/INVALID_ARGUMENT" "block: Gemini shape"
printf '{"model":"p-openai","messages":[{"role":"user","content":"13812345678"' >"$T/bad.req"
req bad "$BASE_URL/v1/chat/completions" -H 'Content-Type: application/json' --data-binary "@$T/bad.req" >/dev/null
assert_eq "$(cat "$T/bad.code")" 400 "an unparseable body is refused"
assert_eq "$(up)" "$u" "fail closed: the mock saw 0 calls"

# Embeddings input is protected too; /proxy/ (bodies unread) is refused
# while protection is on.
node -e 'process.stdout.write(JSON.stringify({model: "p-openai", input: ["mail zhang.san@example.com", "13812345678"]}))' >"$T/emb.req"
assert_eq "$(req emb "$BASE_URL/v1/embeddings" -H 'Content-Type: application/json' --data-binary "@$T/emb.req")" 200 "embeddings"
mock_last_request emb.up
assert_file_has "$T/emb.up.json" '⟦EMAIL_1⟧' "embeddings input pseudonymised"
assert_file_lacks "$T/emb.up.json" 13812345678 "embeddings: no original"
u=$(up)
assert_eq "$(req px "$BASE_URL/proxy/oa/chat/completions" -H 'Content-Type: application/json' --data-binary "$(chat_json m 'x 13812345678')")" 403 "/proxy/ refused"
assert_eq "$(jget error.code "$T/px.body")" pii_protection_passthrough "/proxy/ refusal code"
assert_eq "$(up)" "$u" "/proxy/: the mock saw 0 calls"

# --- per key: a key's own action over the model's ----------------------------------------
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req kb "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"strict","pii_protection":"block"}' >/dev/null
req km "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"masked","pii_protection":"mask"}' >/dev/null
assert_eq "$(req kx "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"x","pii_protection":"loud"}')" 400 "a bad pii_protection value"
KB=$(jget secret "$T/kb.body")
KM=$(jget secret "$T/km.body")
u=$(up)
post kb1 "$(chat_json p-openai 'mail zhang.san@example.com')" -H "Authorization: Bearer $KB" >/dev/null
assert_api_error kb1 400 pii_blocked
assert_eq "$(up)" "$u" "a key that blocks: no call"
assert_eq "$(post km1 "$(chat_json p-openai 'mail zhang.san@example.com')" -H "Authorization: Bearer $KM")" 200 "a key that masks"
mock_last_request km1.up
assert_file_has "$T/km1.up.json" 'z***@example.com' "the key's mask over the model's pseudonymise"

# --- counts in /metrics and the access log -----------------------------------------------
assert_eq "$(req met "$BASE_URL/metrics")" 200 "metrics"
assert_match "$(grep -a '^relay_pii_entities_total{entity="phone",action="pseudonymise"}' "$T/met.body")" ' [1-9][0-9]*$' "phone/pseudonymise counted"
assert_match "$(grep -a '^relay_pii_entities_total{entity="id",action="block"}' "$T/met.body")" ' [1-9][0-9]*$' "id/block counted"
sleep 0.3
ALOG=$OWN_DIR/logs/access.log
assert_file_has "$ALOG" '"pii":"phone:pseudonymise=1,id:pseudonymise=1,card:pseudonymise=1,email:pseudonymise=1"' "access log counts"

# --- egress grep counts: upstream bodies, logs, prompt log, cache --------------------------
curl -sS --max-time 5 "$MOCK_URL/_mock/requests" >"$T/upstream.all"
cat "$OWN_DIR"/logs/* >"$T/logs.all" 2>/dev/null
cat "$OWN_DIR"/data/prompts/*.jsonl >"$T/prompts.all" 2>/dev/null || : >"$T/prompts.all"
assert_ge "$(wc -l <"$T/prompts.all")" 20 "the prompt log was written"
node -e '
const net = require("net");
const c = net.connect(+process.argv[1], "127.0.0.1");
let buf = Buffer.alloc(0), keys = null, out = [];
c.on("data", d => {
  buf = Buffer.concat([buf, d]);
  if (keys === null && buf.toString("latin1").endsWith("END\r\n")) {
    keys = buf.toString("latin1").split("\r\n").filter(l => l.startsWith("key=")).map(l => decodeURIComponent(l.split(" ")[0].slice(4)));
    buf = Buffer.alloc(0);
    if (!keys.length) { c.end(); return; }
    c.write("get " + keys.join(" ") + "\r\n");
  } else if (keys !== null && buf.toString("latin1").endsWith("END\r\n")) {
    process.stdout.write(buf); c.end();
  }
});
c.write("lru_crawler metadump all\r\n");
setTimeout(() => process.exit(0), 4000);
' "$MC_PORT" >"$T/cache.all"
assert_ge "$(wc -c <"$T/cache.all")" 1 "memcached held something to look at"
for o in "${ORIG[@]}"; do
	cu=$(grep -aoF "$o" "$T/upstream.all" | wc -l)
	cl=$(grep -aoF "$o" "$T/logs.all" | wc -l)
	cp=$(grep -aoF "$o" "$T/prompts.all" | wc -l)
	cc=$(grep -aoF "$o" "$T/cache.all" | wc -l)
	measure "egress $o: upstream=$cu logs=$cl prompt_log=$cp cache=$cc"
	assert_eq "$cu/$cl/$cp/$cc" 0/0/0/0 "$o: upstream/logs/prompt log/cache"
done
assert_ge "$(grep -aoF '⟦PHONE_1⟧' "$T/upstream.all" | wc -l)" 24 "the placeholders did go upstream"

# --- the term list gone before it was ever loaded: refused, not sent -------------------------
cat >"$T/cfg2.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "pii_protection": { "action": "pseudonymise", "word_files": ["$GONE"] },
  "providers": [ { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "p", "targets": [{ "provider": "oa" }] } ] }
JSON
stack_stop
SCEN_DIR=$T/two
mkdir -p "$SCEN_DIR"
own_stack_start "$T/cfg2.in"
rm -f "$GONE"
u=$(up)
post g1 "$(chat_json p 'hello 13812345678')" >/dev/null
assert_api_error g1 503 pii_protection_unavailable
assert_eq "$(up)" "$u" "no term list: the mock saw 0 calls"
exit 0
