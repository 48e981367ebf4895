#!/usr/bin/env bash
# Outbound PII protection with pii_protection.surrogates (issue 21, item
# 2): under "pseudonymise" the provider sees a valid mobile, a resident ID
# with a valid check character and a Luhn-valid card that are not the
# originals (the email keeps its ⟦EMAIL_1⟧ placeholder); the answer (the
# mock echoes the prompt; split_ph=1 also cuts each run of 11+ digits
# into three events, drip_ms=1 cuts the bytes apart in transport) comes
# back with the originals exactly once, whole and streamed, same dialect
# (raw passthrough) and across dialects; a history the client sends back
# maps to the same surrogates.
. "$(dirname "$0")/../integration/lib.sh"

cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "pii_protection": { "action": "pseudonymise", "surrogates": true },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"] } ],
  "models": [
    { "name": "p-openai", "targets": [{ "provider": "oa" }] },
    { "name": "p-anthropic", "targets": [{ "provider": "an" }] } ] }
JSON
own_stack_start "$T/cfg.in"
ORIG=(13812345678 11010519491231002X 4111111111111111 zhang.san@example.com)
SUR=(19900000001 100000190001010010 2000000000000014)
PROMPT="手机 13812345678，身份证 11010519491231002X，卡 4111111111111111，邮箱 zhang.san@example.com"

# valid FILE: the surrogates in an upstream body pass their checks (a
# mobile, MOD 11-2, Luhn) and none is an original.
valid() {
	node -e '
const s = require("fs").readFileSync(process.argv[1], "utf8");
const luhn = d => { let t = 0; [...d].reverse().forEach((c, i) => { let v = +c; if (i % 2) { v *= 2; if (v > 9) v -= 9; } t += v; }); return t % 10 === 0; };
const w = [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2];
const id = d => "10X98765432"[w.reduce((a, x, i) => a + x * +d[i], 0) % 11] === d[17];
const nums = s.match(/\d{11,19}/g) || [];
const ok = nums.some(n => n.length === 11 && /^1[3-9]/.test(n)) &&
  nums.some(n => n.length === 18 && id(n)) &&
  nums.some(n => n.length === 16 && luhn(n) && /^[2-6]/.test(n));
process.stdout.write(ok ? "valid" : "invalid: " + nums.join(","));
' "$1"
}

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

ask() { # NAME DIALECT MODEL STREAM TEXT
	local name=$1 d=$2 model=$3 stream=$4 text=$5 url body
	if [ "$d" = openai ]; then
		url=$BASE_URL/v1/chat/completions
		body=$(chat_json "$model" "$text" "$stream")
	else
		url=$BASE_URL/v1/messages
		body=$(node -e 'process.stdout.write(JSON.stringify({model: process.argv[1], max_tokens: 200, stream: process.argv[2] === "true", messages: [{role: "user", content: process.argv[3]}]}))' "$model" "$stream" "$text")
	fi
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$url" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/$name.req"
}

n=0
for d in openai anthropic; do
	for p in openai anthropic; do
		for mode in whole split drip; do
			case $mode in
			whole) s=false dir='' ;;
			split) s=true dir=' [[mock split_ph=1]]' ;;
			drip) s=true dir=' [[mock drip_ms=1]]' ;;
			esac
			name=s-$d-$p-$mode
			assert_eq "$(ask "$name" "$d" "p-$p" "$s" "$PROMPT$dir")" 200 "$name: status"
			mock_last_request "$name.up"
			for o in "${ORIG[@]}"; do
				assert_file_lacks "$T/$name.up.json" "$o" "$name: an original reached the provider"
			done
			for x in "${SUR[@]}" '⟦EMAIL_1⟧'; do
				assert_file_has "$T/$name.up.json" "$x" "$name: surrogate sent"
			done
			assert_eq "$(valid "$T/$name.up.json")" valid "$name: surrogates pass their checks"
			assert_eq "$(text_of "$d" "$T/$name.body")" "Hello from mock. You said: $PROMPT$dir" "$name: answer restored"
			for o in "${ORIG[@]}"; do
				assert_eq "$(grep -aoF "$o" "$T/$name.body" | wc -l)" 1 "$name: $o restored exactly once"
			done
			for x in "${SUR[@]}"; do
				assert_file_lacks "$T/$name.body" "$x" "$name: no surrogate left"
			done
			n=$((n + 1))
		done
	done
done
log "surrogates: $n requests (2 dialects x 2 provider types x whole/split/drip) restored"

# The history comes back with the originals: the same surrogates.
body=$(node -e 'process.stdout.write(JSON.stringify({model: "p-openai", messages: [
  {role: "user", content: process.argv[1]},
  {role: "assistant", content: "Noted: 13812345678 and 4111111111111111."},
  {role: "user", content: "Again?"}]}))' "$PROMPT")
assert_eq "$(post h1 "$body")" 200 "history: status"
mock_last_request h1.up
for o in "${ORIG[@]}"; do
	assert_file_lacks "$T/h1.up.json" "$o" "history: an original reached the provider"
done
assert_eq "$(grep -aoF 19900000001 "$T/h1.up.json" | wc -l)" 2 "history: the same phone surrogate twice"
assert_eq "$(grep -aoF 2000000000000014 "$T/h1.up.json" | wc -l)" 2 "history: the same card surrogate twice"
exit 0
