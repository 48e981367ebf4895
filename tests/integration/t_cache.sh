#!/usr/bin/env bash
# The response cache: a miss goes upstream and is stored, a hit is served
# from memcached without an upstream call, in the caller's dialect and
# form (stream or whole, either way round), with x-relay-cache and Age;
# one key's answers never reach another unless the model shares them;
# sampled, partial and failed answers are not cached; answers larger than
# one memcached item come back whole; Cache-Control no-store / no-cache;
# purges by model, key and all; hits accounted as hits (access log, usage
# ledger, /metrics) at no token cost; concurrent identical requests;
# memcached down serves uncached. Measures a hit against a miss.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"], "timeout_ms": 200 },
  "cache": { "enabled": true, "ttl_s": 300, "part_bytes": 4096, "max_bytes": 1048576 },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["sk-provider-cache-0099"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] } ],
  "models": [
    { "name": "c", "targets": [{ "provider": "mock" }], "price": { "input_per_mtok": 1, "output_per_mtok": 2 } },
    { "name": "shared", "targets": [{ "provider": "mock", "model": "c" }], "cache": { "shared": true } },
    { "name": "hot", "targets": [{ "provider": "mock", "model": "c" }], "cache": { "any_temperature": true } },
    { "name": "off", "targets": [{ "provider": "mock", "model": "c" }], "cache": { "enabled": false } },
    { "name": "claude-c", "targets": [{ "provider": "an" }] },
    { "name": "gem-c", "targets": [{ "provider": "ge" }] },
    { "name": "x-c", "targets": [{ "provider": "an", "model": "claude-up" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mka "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"a"}' >/dev/null
req mkb "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"b"}' >/dev/null
KA=$(jget secret "$T/mka.body")
IDA=$(jget id "$T/mka.body")
KB=$(jget secret "$T/mkb.body")
sleep 1.1
N=$RANDOM$RANDOM # this run's prompts are its own

up() { mock_stat requests; }
cache_of() { header "$1" x-relay-cache; }
# oa NAME KEY JSON [curl args]: an OpenAI chat call.
oa() {
	local name=$1 key=$2 body=$3
	shift 3
	post "$name" "$body" -H "Authorization: Bearer $key" "$@"
}
# expect NAME STATUS CACHE UPSTREAM_CALLS_BEFORE UPSTREAM_CALLS_MORE what
expect() {
	assert_eq "$(cat "$T/$1.code")" "$2" "$6: status"
	assert_eq "$(cache_of "$1")" "$3" "$6: x-relay-cache"
	assert_eq "$(up)" "$(($4 + $5))" "$6: upstream calls"
}
T0='{"temperature":0}'
T0S='{"temperature":0,"stream":true}'

# --- OpenAI, whole: miss, then hit ------------------------------------------
u=$(up)
oa j1 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect j1 200 MISS "$u" 1 "first call"
oa j2 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect j2 200 HIT "$u" 1 "second call"
cmp -s "$T/j1.body" "$T/j2.body" || fail "a hit differs from the answer it keeps"
assert_match "$(header j2 age)" '^[0-9]+$' "Age on a hit"
assert_eq "$(header j2 x-relay-attempts)" 0 "x-relay-attempts on a hit"
assert_eq "$(header j2 x-relay-target)" mock/c "x-relay-target on a hit"
# Members that do not change the answer do not matter.
oa j3 "$KA" "$(chat_json c "whole $N" false '{"temperature":0,"user":"someone","metadata":{"a":"b"}}')" >/dev/null
expect j3 200 HIT "$u" 1 "user and metadata differ"
oa j4 "$KA" "$(chat_json c "whole $N" false '{"temperature":0,"max_tokens":7}')" >/dev/null
expect j4 200 MISS "$u" 2 "max_tokens differs"

# --- what is not cached --------------------------------------------------------
u=$(up)
oa s1 "$KA" "$(chat_json c "sampled $N")" >/dev/null
oa s2 "$KA" "$(chat_json c "sampled $N")" >/dev/null
expect s2 200 BYPASS "$u" 2 "temperature unset: sampled, never cached"
oa h1 "$KA" "$(chat_json hot "sampled $N" false '{"temperature":0.9}')" >/dev/null
oa h2 "$KA" "$(chat_json hot "sampled $N" false '{"temperature":0.9}')" >/dev/null
expect h2 200 HIT "$u" 3 "any_temperature caches sampled answers"
oa o1 "$KA" "$(chat_json off "off $N" false "$T0")" >/dev/null
oa o2 "$KA" "$(chat_json off "off $N" false "$T0")" >/dev/null
expect o2 200 BYPASS "$u" 5 "cache off for the model"
# Failed and partial answers.
u=$(up)
for body in "$(chat_json c "[[mock status=500]] fail $N" false "$T0")" \
    "$(chat_json c "[[mock error_after=3]] partial $N" true "$T0")" \
    "$(chat_json c "[[mock reset_after=3]] reset $N" true "$T0")"; do
	oa f1 "$KA" "$body" >/dev/null
	oa f2 "$KA" "$body" >/dev/null
	assert_eq "$(cache_of f2)" MISS "a failed or partial answer was not stored: $(head -c 200 "$T/f2.body")"
done
assert_ge "$(up)" "$((u + 6))" "failed answers went upstream every time"

# --- tenants ------------------------------------------------------------------------
u=$(up)
oa t1 "$KB" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect t1 200 MISS "$u" 1 "key B never sees key A's answer"
oa t2 "$KA" "$(chat_json shared "shared $N" false "$T0")" >/dev/null
oa t3 "$KB" "$(chat_json shared "shared $N" false "$T0")" >/dev/null
expect t3 200 HIT "$u" 2 "a shared model serves every key"

# --- OpenAI streams, and the other form -------------------------------------------
u=$(up)
oa st1 "$KA" "$(chat_json c "stream $N" true "$T0")" >/dev/null
expect st1 200 MISS "$u" 1 "stream miss"
oa st2 "$KA" "$(chat_json c "stream $N" true "$T0")" >/dev/null
expect st2 200 HIT "$u" 1 "stream hit"
cmp -s "$T/st1.body" "$T/st2.body" || fail "a replayed stream differs from the original"
assert_eq "$(header st2 content-type)" "text/event-stream" "replay content-type"
oa st3 "$KA" "$(chat_json c "stream $N" false "$T0")" >/dev/null
expect st3 200 HIT "$u" 1 "whole request, streamed original"
oa st4 "$KA" "$(chat_json c "stream $N" true '{"temperature":0,"stream_options":{"include_usage":true}}')" >/dev/null
expect st4 200 HIT "$u" 1 "include_usage differs"
oa st5 "$KA" "$(chat_json c "whole2 $N and then some more words so that the answer runs past one piece of a stream" false "$T0")" >/dev/null
oa st6 "$KA" "$(chat_json c "whole2 $N and then some more words so that the answer runs past one piece of a stream" true "$T0")" >/dev/null
expect st6 200 HIT "$u" 2 "stream request, whole original"
node -e '
const fs = require("fs"), T = process.argv[1];
const fail = m => { console.log("  FAIL: " + m); process.exit(1); };
const chunks = f => fs.readFileSync(T + "/" + f + ".body", "utf8").split("\n\n").filter(Boolean)
  .map(e => e.replace(/^data: /, "")).filter(d => d !== "[DONE]").map(d => JSON.parse(d));
const text = cs => cs.map(c => (c.choices[0] && c.choices[0].delta.content) || "").join("");
const s1 = chunks("st1"), s4 = chunks("st4");
const whole = JSON.parse(fs.readFileSync(T + "/st3.body", "utf8"));
if (whole.object !== "chat.completion" || whole.choices[0].message.content !== text(s1)) fail("whole from stream: " + JSON.stringify(whole));
if (whole.choices[0].finish_reason !== "stop") fail("finish_reason " + whole.choices[0].finish_reason);
const pieces = cs => cs.filter(c => c.choices[0] && c.choices[0].delta.content).map(c => c.choices[0].delta.content);
if (JSON.stringify(pieces(s4)) !== JSON.stringify(pieces(s1))) fail("usage retell changed the pieces");
const us = s4.filter(c => c.usage && c.choices.length === 0);
if (us.length !== 1 || !(us[0].usage.prompt_tokens > 0 && us[0].usage.completion_tokens > 0)) fail("no usage chunk: " + JSON.stringify(s4.slice(-2)));
if (s1.some(c => c.usage)) fail("usage in a stream that did not ask");
if (!fs.readFileSync(T + "/st4.body", "utf8").trimEnd().endsWith("data: [DONE]")) fail("no [DONE]");
const w2 = JSON.parse(fs.readFileSync(T + "/st5.body", "utf8")).choices[0].message.content;
const s6 = chunks("st6");
if (text(s6) !== w2 || pieces(s6).length < 2) fail("stream from whole: " + JSON.stringify(pieces(s6)));
console.log("  measure: stream replay: " + pieces(s1).length + " pieces as recorded; usage retold " + JSON.stringify(us[0].usage));
' "$T" || fail "OpenAI replay fidelity"

# --- Anthropic ---------------------------------------------------------------------------
an() {
	local name=$1 body=$2
	printf '%s' "$body" >"$T/$name.req"
	req "$name" "$BASE_URL/v1/messages" -H "x-api-key: $KA" -H 'anthropic-version: 2023-06-01' \
	    -H 'Content-Type: application/json' --data-binary "@$T/$name.req"
}
AB="{\"model\":\"claude-c\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"anthropic $N\"}]"
u=$(up)
an a1 "$AB,\"stream\":true}" >/dev/null
an a2 "$AB,\"stream\":true}" >/dev/null
expect a2 200 HIT "$u" 1 "Anthropic stream hit"
cmp -s "$T/a1.body" "$T/a2.body" || fail "Anthropic replay differs"
an a3 "$AB}" >/dev/null
expect a3 200 HIT "$u" 1 "Anthropic whole from stream"
node -e '
const fs = require("fs"), T = process.argv[1];
const evs = fs.readFileSync(T + "/a1.body", "utf8").split("\n\n").filter(Boolean).map(e => JSON.parse(e.split("\n").find(l => l.startsWith("data: ")).slice(6)));
const text = evs.filter(e => e.type === "content_block_delta").map(e => e.delta.text).join("");
const w = JSON.parse(fs.readFileSync(T + "/a3.body", "utf8"));
if (w.type !== "message" || w.content[0].text !== text || w.stop_reason !== "end_turn" || !(w.usage.output_tokens > 0)) {
  console.log("  FAIL: " + JSON.stringify(w)); process.exit(1); }
' "$T" || fail "Anthropic whole from stream"

# --- Gemini: SSE, JSON array, whole ----------------------------------------------------
ge() {
	local name=$1 method=$2
	printf '{"contents":[{"role":"user","parts":[{"text":"gemini %s"}]}],"generationConfig":{"temperature":0}}' "$N" >"$T/$name.req"
	req "$name" "$BASE_URL/v1beta/models/gem-c:$method" -H "x-goog-api-key: $KA" \
	    -H 'Content-Type: application/json' --data-binary "@$T/$name.req"
}
u=$(up)
ge g1 'streamGenerateContent?alt=sse' >/dev/null
ge g2 'streamGenerateContent?alt=sse' >/dev/null
expect g2 200 HIT "$u" 1 "Gemini SSE hit"
cmp -s "$T/g1.body" "$T/g2.body" || fail "Gemini replay differs"
ge g3 streamGenerateContent >/dev/null
expect g3 200 HIT "$u" 1 "Gemini JSON-array stream from the SSE original"
ge g4 generateContent >/dev/null
expect g4 200 HIT "$u" 1 "Gemini whole from the stream"
node -e '
const fs = require("fs"), T = process.argv[1];
const frames = fs.readFileSync(T + "/g1.body", "utf8").split("\r\n\r\n").filter(Boolean).map(f => JSON.parse(f.slice(6)));
const text = fs => fs.map(f => f.candidates[0].content.parts.map(p => p.text || "").join("")).join("");
const arr = JSON.parse(fs.readFileSync(T + "/g3.body", "utf8"));
const whole = JSON.parse(fs.readFileSync(T + "/g4.body", "utf8"));
const fail = m => { console.log("  FAIL: " + m); process.exit(1); };
if (!Array.isArray(arr) || arr.length !== frames.length || text(arr) !== text(frames)) fail("array " + JSON.stringify(arr));
if (text([whole]) !== text(frames) || whole.candidates[0].finishReason !== "STOP") fail("whole " + JSON.stringify(whole));
' "$T" || fail "Gemini replay fidelity"

# --- across dialects: an OpenAI client served by Anthropic -----------------------------
u=$(up)
oa x1 "$KA" "$(chat_json x-c "across $N" true "$T0")" >/dev/null
oa x2 "$KA" "$(chat_json x-c "across $N" true "$T0")" >/dev/null
expect x2 200 HIT "$u" 1 "translated stream hit"
cmp -s "$T/x1.body" "$T/x2.body" || fail "translated replay differs"

# --- large answers: many parts, and too large for max_bytes ------------------------
u=$(up)
oa l1 "$KA" "$(chat_json c "[[mock size=60000]] large $N" true "$T0")" >/dev/null
oa l2 "$KA" "$(chat_json c "[[mock size=60000]] large $N" true "$T0")" >/dev/null
expect l2 200 HIT "$u" 1 "a large answer (many parts)"
cmp -s "$T/l1.body" "$T/l2.body" || fail "a large replay differs"
assert_ge "$(wc -c <"$T/l2.body")" 60000 "large answer size"
oa l3 "$KA" "$(chat_json c "[[mock size=1200000]] huge $N" false "$T0")" >/dev/null
oa l4 "$KA" "$(chat_json c "[[mock size=1200000]] huge $N" false "$T0")" >/dev/null
expect l4 200 MISS "$u" 3 "over max_bytes: served, not stored"
measure "large: $(wc -c <"$T/l2.body") bytes replayed whole from $((($(wc -c <"$T/l2.body") + 4095) / 4096)) parts"

# --- Cache-Control ---------------------------------------------------------------------------
u=$(up)
oa c1 "$KA" "$(chat_json c "whole $N" false "$T0")" -H 'Cache-Control: no-store' >/dev/null
expect c1 200 BYPASS "$u" 1 "no-store"
oa c2 "$KA" "$(chat_json c "whole $N" false "$T0")" -H 'Cache-Control: no-cache' >/dev/null
expect c2 200 REFRESH "$u" 2 "no-cache"
oa c3 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect c3 200 HIT "$u" 2 "after a refresh"

# --- purges ------------------------------------------------------------------------------------
u=$(up)
assert_eq "$(req pm "$BASE_URL/admin/cache/purge" "${ADM[@]}" -d '{"model":"c"}')" 200 "purge model"
assert_eq "$(jget purged "$T/pm.body")" model "purge answer"
oa p1 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect p1 200 MISS "$u" 1 "after a model purge"
oa p2 "$KB" "$(chat_json shared "shared $N" false "$T0")" >/dev/null
expect p2 200 HIT "$u" 1 "another model's entries stay"
oa p3 "$KB" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect p3 200 MISS "$u" 2 "key B's entry was purged with its model too"
assert_eq "$(req pk "$BASE_URL/admin/cache/purge" "${ADM[@]}" -d "{\"key\":\"$IDA\"}")" 200 "purge key"
oa p4 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect p4 200 MISS "$u" 3 "after a key purge"
oa p5 "$KB" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect p5 200 HIT "$u" 3 "another key's entries stay"
assert_eq "$(req pa "$BASE_URL/admin/cache/purge" "${ADM[@]}" -d '{"all":true}')" 200 "purge all"
oa p6 "$KB" "$(chat_json c "whole $N" false "$T0")" >/dev/null
expect p6 200 MISS "$u" 4 "after purging all"
req pbad "$BASE_URL/admin/cache/purge" "${ADM[@]}" -d '{"all":true,"model":"c"}' >/dev/null
assert_api_error pbad 400 invalid_value
req pnone "$BASE_URL/admin/cache/purge" "${ADM[@]}" -d '{"model":"nosuch"}' >/dev/null
assert_api_error pnone 404 model_not_found
assert_eq "$(req pnoauth "$BASE_URL/admin/cache/purge" -d '{"all":true}')" 401 "purge needs the admin token"

# --- concurrent identical requests ---------------------------------------------------------
# Whole answers: the first miss leads, the others wait for its entry.
u=$(up)
body=$(chat_json c "[[mock delay_ms=300]] at once $N" false "$T0")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	oa "w$i" "$KA" "$body" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6 7 8; do
	assert_eq "$(cat "$T/w$i.code")" 200 "concurrent whole $i"
	cmp -s "$T/w1.body" "$T/w$i.body" || fail "concurrent whole answers differ"
done
assert_eq "$(up)" "$((u + 1))" "8 identical whole requests at once: upstream calls"
assert_eq "$(for i in 1 2 3 4 5 6 7 8; do cache_of "w$i"; done | sort | uniq -c | awk '{ printf "%s%s ", $1, $2 }')" "7HIT 1MISS " "one leader, seven followers"
measure "8 identical whole requests at once (mock 300 ms): 1 upstream call, 7 served from the leader's entry"
# Streams do not wait for each other.
u=$(up)
body=$(chat_json c "[[mock gap_ms=20 events=12]] together $N" true "$T0")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	oa "cc$i" "$KA" "$body" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}" # only these: the stack's servers are children too
for i in 1 2 3 4 5 6 7 8; do
	assert_eq "$(cat "$T/cc$i.code")" 200 "concurrent $i"
	assert_file_has "$T/cc$i.body" "data: [DONE]" "concurrent $i complete"
done
oa cc9 "$KA" "$body" >/dev/null
assert_eq "$(cache_of cc9)" HIT "after concurrent misses"
# Each miss wrote its own answer (ids differ); the entry left is one
# of them, whole, never a mix of two.
same=0
for i in 1 2 3 4 5 6 7 8; do cmp -s "$T/cc$i.body" "$T/cc9.body" && same=$((same + 1)); done
assert_ge "$same" 1 "the entry written by concurrent misses is one of their answers"
measure "8 identical concurrent streams: $(($(up) - u)) upstream calls, then a whole hit"

# --- accounting ---------------------------------------------------------------------------------
sleep 0.3
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l));
const hits = lines.filter(l => l.cache === "HIT"), misses = lines.filter(l => l.cache === "MISS");
const fail = m => { console.log("  FAIL: " + m); process.exit(1); };
if (hits.length < 10 || misses.length < 10) fail("cache fields: " + hits.length + " hits, " + misses.length + " misses");
for (const h of hits) if (h.in !== 0 || h.out !== 0 || h.cost_usd !== 0 || h.attempts !== 0 || h.status !== 200) fail("a hit was charged: " + JSON.stringify(h));
if (!misses.some(m => m.in > 0 && m.cost_usd > 0)) fail("misses not charged");
console.log("  measure: access log hit line " + JSON.stringify(hits[0]));
' "$OWN_DIR/logs/access.log" || fail "access log"
TODAY=$(date -u +%Y-%m-%d)
req us "$BASE_URL/admin/usage?from=$TODAY&to=$TODAY" "${ADM[@]}" >/dev/null
node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1])).data;
const row = d.find(r => r.key === process.argv[2] && r.model === "c");
if (!row || !(row.cache_hits >= 5) || !(row.requests > row.cache_hits)) { console.log("  FAIL: " + JSON.stringify(d)); process.exit(1); }
' "$T/us.body" "$IDA" || fail "usage ledger counts hits"
req met "$BASE_URL/metrics" >/dev/null
hits=$(awk '/^relay_cache_total\{result="hit"\}/ { print $2 }' "$T/met.body")
assert_ge "${hits%.*}" 15 "relay_cache_total hits"
assert_file_has "$T/met.body" 'relay_cache_total{result="miss"}' "relay_cache_total misses"
for s in "$KA" "$KB" sk-provider-cache-0099 "$RELAY_ADMIN_TOKEN"; do
	assert_file_lacks "$OWN_DIR/logs/access.log" "$s" "secret in the access log"
done

# --- a hit against a miss --------------------------------------------------------------------
lat() { # NAME JSON [curl args]: seconds of one call
	printf '%s' "$2" >"$T/lat.req"
	local n=$1
	shift 2
	curl -sS -o /dev/null -w '%{time_total}\n' "$BASE_URL/v1/chat/completions" \
	    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' --data-binary "@$T/lat.req" "$@"
}
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }'; }
for i in $(seq 1 30); do lat m "$(chat_json c "latency $N $i" false "$T0")"; done | median >"$T/miss.ms"
lat h "$(chat_json c "latency $N 1" false "$T0")" >/dev/null
for i in $(seq 1 30); do lat h "$(chat_json c "latency $N 1" false "$T0")"; done | median >"$T/hit.ms"
for i in $(seq 1 10); do lat m "$(chat_json c "[[mock delay_ms=200]] slow $N $i" false "$T0")"; done | median >"$T/smiss.ms"
lat h "$(chat_json c "[[mock delay_ms=200]] slow $N 1" false "$T0")" >/dev/null
for i in $(seq 1 10); do lat h "$(chat_json c "[[mock delay_ms=200]] slow $N 1" false "$T0")"; done | median >"$T/shit.ms"
measure "median latency, instant mock: miss $(cat "$T/miss.ms") ms, hit $(cat "$T/hit.ms") ms; mock taking 200 ms: miss $(cat "$T/smiss.ms") ms, hit $(cat "$T/shit.ms") ms"

# --- memcached down: served uncached ----------------------------------------------------------
kill -KILL "$PID_memcached"
wait "$PID_memcached" 2>/dev/null
t0=$(now_ms)
oa d1 "$KA" "$(chat_json c "whole $N" false "$T0")" >/dev/null
dt=$(($(now_ms) - t0))
assert_eq "$(cat "$T/d1.code")" 200 "memcached down: served"
assert_eq "$(cache_of d1)" BYPASS "memcached down: uncached"
assert_le "$dt" 3000 "memcached down: answer time (ms)"
measure "memcached down: 200 BYPASS in $dt ms"
