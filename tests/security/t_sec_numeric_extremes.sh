#!/usr/bin/env bash
# Integer and float extremes in every numeric field of every dialect
# (issue 19, item 2: a $0.01 budget admitted max_tokens
# 4611686018427387903, whose price beyond 2^64 micro-USD converted to 0).
#
# Two keys: one with monthly_budget_usd 0.01, one with tpm 1000. Each
# request carries one field at one extreme (0, 1, 100, INT_MAX, 2^53,
# 2^62-1, 2^63-1, 2^64, -2^63, 1e308, 1e400, -1, -0, -0.0, 1.5, "7",
# null, true), in its own dialect and across dialects for the fields that
# feed the reservation (max_tokens, max_completion_tokens, maxOutputTokens,
# max_output_tokens, n, candidateCount, thinkingBudget, reasoning_effort:
# the last two add to max_tokens when translated for an Anthropic
# provider). memcached is
# flushed before each request, so each is judged alone against its limit.
# Each one is either refused with a 4xx in its dialect's error shape, or
# admitted with a reservation that fits the limit (and the key's counter
# after it within the limit); never a 5xx, never a dropped connection. The
# relay's logs must hold no sanitizer report.
. "$(dirname "$0")/../integration/lib.sh"

# Prices: a token out costs 40 micro-USD, in 10; the $0.01 budget is
# 10000 micro-USD: 100 output tokens fit, 4611686018427387903 do not (and
# their price, 1.8e20 micro-USD, is beyond 2^64).
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "breaker": { "failures": 0 },
  "retry": { "max_attempts": 1 },
  "providers": [
    { "name": "p-oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-oa"] },
    { "name": "p-an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "p-gm", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-gm"] } ],
  "models": [
    { "name": "oa", "targets": [{ "provider": "p-oa", "model": "up-oa" }],
      "price": { "input_per_mtok": 10, "output_per_mtok": 40 } },
    { "name": "an", "targets": [{ "provider": "p-an", "model": "up-an" }],
      "price": { "input_per_mtok": 10, "output_per_mtok": 40 } },
    { "name": "gm", "targets": [{ "provider": "p-gm", "model": "up-gm" }],
      "price": { "input_per_mtok": 10, "output_per_mtok": 40 } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
req mkb "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"tiny-budget","monthly_budget_usd":0.01}' >/dev/null
req mkt "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"small-tpm","tpm":1000}' >/dev/null
KB=$(jget secret "$T/mkb.body")
KT=$(jget secret "$T/mkt.body")
IDB=$(jget id "$T/mkb.body")
IDT=$(jget id "$T/mkt.body")
assert_ne "$KB" __missing__ "budget key made"
assert_ne "$KT" __missing__ "tpm key made"
sleep 1.1 # the responders see new keys within a second

# The example of the issue first, in the shape it was reported.
flush() { exec 5<>"/dev/tcp/127.0.0.1/$MC_PORT" && printf 'flush_all\r\n' >&5 && timeout 2 head -n 1 <&5 >/dev/null; exec 5>&-; }
flush
assert_eq "$(post small "$(chat_json oa hi false '{"max_tokens":100}')" -H "Authorization: Bearer $KB")" 200 \
    "the \$0.01 budget admits max_tokens 100"
flush
st=$(post huge "$(chat_json oa hi false '{"max_tokens":4611686018427387903}')" -H "Authorization: Bearer $KB")
assert_api_error huge 429 insufficient_quota
assert_match "$(jget error.message "$T/huge.body")" '^Request too large for this key.s monthly budget' "huge: says why"

node - "$BASE_URL" "$MC_PORT" "$KB" "$IDB" "$KT" "$IDT" >"$T/driver.out" 2>&1 <<'NODE'
const http = require("http"), net = require("net");
const [base, mcPort, kb, idb, kt, idt] = process.argv.slice(2);
const BUDGET = 10000, TPM = 1000; // micro-USD, tokens

// JSON literals, spliced into bodies as text (2^64, 1e400, -0.0 have no
// exact JavaScript value).
const VALUES = ["0", "1", "100", "2147483647", "9007199254740992",
  "4611686018427387903", "9223372036854775807", "18446744073709551616",
  "-9223372036854775808", "1e308", "1e400", "-1", "-0", "-0.0", "1.5",
  "\"7\"", "null", "true"];
// Values whose reservation fits both limits, by the kind of field: a
// token limit up to 100; a choice count up to 1 (with max 10: n = 100
// asks for 1000 tokens); a thinking budget none at all when the model's
// provider is Anthropic (the translation adds at least 1024 tokens to
// max_tokens; -1, Gemini's dynamic budget, 8192); anything for a field
// that reserves nothing.
const num = (v) => /^-?[0-9]+$/.test(v) ? BigInt(v) : null;
function fits(kind, v, m) {
  const n = num(v);
  if (kind === "tok") return n === null || n <= 100n;
  if (kind === "mul") return n === null || n <= 1n;
  if (kind === "think") return m !== "an" || n === null || n === 0n;
  if (kind === "effort") return m !== "an" || !/^"(low|medium|high)"$/.test(v);
  return true;
}
const EFFORTS = ['"low"', '"medium"', '"high"', '"max"', '""', "1e308", "null"];

function mc(cmd) {
  return new Promise((res) => {
    const s = net.connect(+mcPort, "127.0.0.1");
    let out = "";
    s.on("data", (d) => { out += d; if (/(END|OK)\r\n$/.test(out)) s.end(); });
    s.on("close", () => res(out));
    s.on("error", () => res(out));
    s.write(cmd + "\r\n");
  });
}
async function counter(id) {
  const minute = Math.floor(Date.now() / 60000), d = new Date();
  const month = d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
  const keys = [`rl:${id}:u:${month}`, `rl:${id}:t:${minute}`, `rl:${id}:t:${minute - 1}`];
  const out = await mc("get " + keys.join(" "));
  const r = {};
  for (const m of out.matchAll(/VALUE (\S+) \d+ \d+\r\n(\d+)/g)) r[m[1].split(":")[2]] = Math.max(r[m[1].split(":")[2]] || 0, +m[2]);
  return r;
}

function post(path, headers, body) {
  return new Promise((res) => {
    const u = new URL(base + path);
    const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST",
      headers: Object.assign({ "content-type": "application/json", "content-length": Buffer.byteLength(body) }, headers),
      timeout: 20000 }, (rs) => {
      let b = "";
      rs.on("data", (d) => { b += d; });
      rs.on("end", () => res({ status: rs.statusCode, body: b }));
      rs.on("error", (e) => res({ status: 0, body: String(e) }));
    });
    rq.on("error", (e) => res({ status: 0, body: String(e) }));
    rq.on("timeout", () => rq.destroy(new Error("timeout")));
    rq.end(body);
  });
}

// A body of dialect d for model m with field `path` (dotted) set to the
// literal v; everything else small (max 10).
const MARK = "\u0001V\u0001";
function body(d, m, path, v) {
  let o;
  if (d === "openai") o = { model: m, messages: [{ role: "user", content: "hi" }], max_tokens: 10 };
  if (d === "anthropic") o = { model: m, messages: [{ role: "user", content: "hi" }], max_tokens: 10 };
  if (d === "gemini") o = { contents: [{ role: "user", parts: [{ text: "hi" }] }], generationConfig: { maxOutputTokens: 10 } };
  const ks = path.split(".");
  let p = o;
  for (const k of ks.slice(0, -1)) p = p[k] = p[k] || {};
  if (path === "thinking.budget_tokens") p.type = "enabled";
  p[ks[ks.length - 1]] = MARK;
  return JSON.stringify(o).replace(JSON.stringify(MARK), v);
}
function route(d, m, key) {
  if (d === "openai") return ["/v1/chat/completions", { authorization: "Bearer " + key }];
  if (d === "anthropic") return ["/v1/messages", { "x-api-key": key, "anthropic-version": "2023-06-01" }];
  return [`/v1beta/models/${m}:generateContent`, { "x-goog-api-key": key }];
}
// The error shape of each dialect.
function shaped(d, status, text) {
  let j;
  try { j = JSON.parse(text); } catch (e) { return false; }
  if (d === "anthropic")
    return j.type === "error" && j.error && typeof j.error.type === "string" && typeof j.error.message === "string";
  if (d === "gemini")
    return j.error && j.error.code === status && typeof j.error.message === "string" && typeof j.error.status === "string";
  return j.error && typeof j.error.message === "string" && typeof j.error.type === "string";
}

const FIELDS = {
  openai: [["max_tokens", "tok"], ["max_completion_tokens", "tok"], ["n", "mul"],
    ["reasoning_effort", "effort"],
    ["temperature", ""], ["top_p", ""], ["seed", ""], ["presence_penalty", ""],
    ["frequency_penalty", ""], ["top_logprobs", ""]],
  anthropic: [["max_tokens", "tok"], ["temperature", ""], ["top_p", ""], ["top_k", ""],
    ["thinking.budget_tokens", ""]],
  gemini: [["generationConfig.maxOutputTokens", "tok"], ["generationConfig.max_output_tokens", "tok"],
    ["generationConfig.candidateCount", "mul"], ["generationConfig.temperature", ""],
    ["generationConfig.topP", ""], ["generationConfig.topK", ""], ["generationConfig.seed", ""],
    ["generationConfig.thinkingConfig.thinkingBudget", "think"]],
};
const NATIVE = { openai: "oa", anthropic: "an", gemini: "gm" };

(async () => {
  let n = 0, bad = 0, admitted = 0, refused = 0;
  const cases = [];
  for (const d of Object.keys(FIELDS))
    for (const [f, kind] of FIELDS[d])
      for (const m of kind ? ["oa", "an", "gm"] : [NATIVE[d]])
        cases.push([d, m, f, kind]);
  for (const [who, key, id] of [["budget", kb, idb], ["tpm", kt, idt]])
    for (const [d, m, f, kind] of cases)
      for (const v of kind === "effort" ? EFFORTS : VALUES) {
        await mc("flush_all");
        const [path, h] = route(d, m, key);
        const r = await post(path, h, body(d, m, f, v));
        const what = `${who} ${d}->${m} ${f}=${v}: ${r.status}`;
        n++;
        let why = null;
        if (r.status === 200) {
          admitted++;
          const c = await counter(id);
          if (!fits(kind, v, m)) why = "admitted past the limit";
          else if (who === "budget" && (c.u || 0) > BUDGET) why = `budget counter ${c.u} > ${BUDGET}`;
          else if (who === "tpm" && (c.t || 0) > TPM) why = `tpm counter ${c.t} > ${TPM}`;
        } else if (r.status >= 400 && r.status < 500) {
          refused++;
          if (!shaped(d, r.status, r.body)) why = "not in the dialect's error shape";
        } else why = "neither admitted nor refused";
        if (why !== null) {
          bad++;
          console.log(`BAD ${what}: ${why}: ${r.body.slice(0, 200)}`);
        }
      }
  console.log(`requests ${n} admitted ${admitted} refused ${refused} bad ${bad}`);
  process.exit(bad === 0 && n > 0 ? 0 : 1);
})();
NODE
rc=$?
grep -v '^BAD' "$T/driver.out" | sed 's/^/  /'
grep '^BAD' "$T/driver.out" | head -n 40 | sed 's/^/  /'
measure "numeric extremes: $(tail -n 1 "$T/driver.out")"
[ "$rc" = 0 ] || fail "$(grep -c '^BAD' "$T/driver.out") requests answered wrongly (above)"

# Every responder still up, and no sanitizer report in the relay's logs.
flush
assert_eq "$(post after "$(chat_json oa hi false '{"max_tokens":1}')" -H "Authorization: Bearer $KT")" 200 "still serving"
if grep -laE 'ERROR: AddressSanitizer|runtime error:' "$OWN_DIR"/logs/*.log >/dev/null 2>&1; then
	grep -ahE -A5 'ERROR: AddressSanitizer|runtime error:' "$OWN_DIR"/logs/*.log | head -n 30 | sed 's/^/  | /'
	fail "sanitizer reports in the relay's logs"
fi
exit 0
