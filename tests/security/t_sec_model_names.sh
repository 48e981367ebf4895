#!/usr/bin/env bash
# Client-chosen model names never shape an upstream URL or header, and never
# count against an upstream (issue 19, items 1, 3 and 8).
#
# One provider of each type behind a wildcard model (oa-*, an-*, ge-*,
# az-*), all on the mock. Key A sends model names of every hostile shape
# (space, CR/LF, tab, "/", "..", "?", "#", "%2f", "%00", NUL, unicode, long,
# empty) through every route that takes a model: OpenAI chat, Anthropic
# messages, Gemini generateContent and streamGenerateContent (the name in
# the path), embeddings. Each must get a 4xx in its route's error shape,
# and the mock must receive nothing: no request at all for a hostile name,
# and none at any path but the templates'. Then key B's ordinary requests
# to the same wildcards still get 200 (A's refusals opened no breaker),
# while a real upstream failure (503 x3 on gx-*) opens the wildcard's
# breaker, visible in /admin/status, /health/ready and /metrics. A call
# libcurl refuses to form (a malformed base URL) is a 400, not retried,
# not a breaker failure. Last, a dead upstream's error names no host or
# port (the relay's log does).
. "$(dirname "$0")/../integration/fault_lib.sh"

DEAD_PORT=$(stack_free_port)
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 10, "max_delay_ms": 20, "deadline_ms": 5000 },
  "breaker": { "failures": 3, "window_s": 60, "open_s": 60 },
  "providers": [
    { "name": "oa", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-oa"] },
    { "name": "an", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-an"] },
    { "name": "ge", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-ge"] },
    { "name": "az", "type": "azure", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-az"] },
    { "name": "gx", "type": "gemini", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k-gx"] },
    { "name": "dead1", "type": "openai", "base_url": "http://127.0.0.1:$DEAD_PORT/v1", "api_keys": ["k-d1"] },
    { "name": "dead2", "type": "openai", "base_url": "http://127.0.0.1:$DEAD_PORT/v1", "api_keys": ["k-d2"] },
    { "name": "dead3", "type": "openai", "base_url": "http://127.0.0.1:$DEAD_PORT/v1", "api_keys": ["k-d3"] },
    { "name": "bad", "type": "openai", "base_url": "http://[::1", "api_keys": ["k-bad"] } ],
  "models": [ { "name": "oa-*", "targets": [{ "provider": "oa" }] },
              { "name": "an-*", "targets": [{ "provider": "an" }] },
              { "name": "ge-*", "targets": [{ "provider": "ge" }] },
              { "name": "az-*", "targets": [{ "provider": "az" }] },
              { "name": "gx-*", "targets": [{ "provider": "gx" }] },
              { "name": "dead1", "targets": [{ "provider": "dead1", "model": "up" }] },
              { "name": "dead2", "targets": [{ "provider": "dead2", "model": "up" }] },
              { "name": "dead3", "targets": [{ "provider": "dead3", "model": "up" }] },
              { "name": "bad", "targets": [{ "provider": "bad", "model": "up" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

req mka "$BASE_URL/admin/keys" "${ADM[@]}" \
    -d '{"name":"tenant-a","models":["oa-*","an-*","ge-*","az-*"]}' >/dev/null
req mkb "$BASE_URL/admin/keys" "${ADM[@]}" \
    -d '{"name":"tenant-b","models":["oa-*","an-*","ge-*","az-*","gx-*","dead1","dead2","dead3","bad"]}' >/dev/null
KA=$(jget secret "$T/mka.body")
KB=$(jget secret "$T/mkb.body")
assert_match "$KA$KB" '^sk-relay-.*sk-relay-' "two keys"
sleep 1.1 # every responder sees the new keys within a second
mocks_reset "$MOCK_URL"

# --- every hostile shape through every route ---------------------------------
# One node process sends them all (raw paths, exact bytes) and judges them.
cat >"$T/battery.js" <<'JS'
const http = require("http");
const [base, key, mock] = process.argv.slice(2);
const u = new URL(base);
const shapes = {
  space: "x y", crlf: "x\r\nX-Injected: 1", lf: "x\ny", tab: "x\ty",
  traversal: "x/../../../v1beta/files?", dotdot: "x/..", slash: "x/y",
  query: "x?alt=media", fragment: "x#frag",
  pct2f: "x%2f..%2f..%2fv1beta%2ffiles", pct00: "x%00y", nul: "x\u0000y",
  unicode: "x\u00fc\u2028y", colon: "x:streamGenerateContent",
  long: "x" + "a".repeat(300), verylong: "x" + "a".repeat(5000), empty: "",
};
// Shapes a provider that puts the name only into the JSON body may accept
// (OpenAI-compatible vendors name models "org/model" or "model:tag").
const bodyOk = new Set(["slash", "colon"]);
const provs = ["oa", "an", "ge", "az"];
const inUrl = new Set(["ge", "az"]);

// Raw in a request target where the bytes are legal there (so "/", "..",
// "%2f" reach the relay as they are), escaped where they are not.
function pathEnc(s) {
  let o = "";
  for (const ch of s) {
    if (/^[A-Za-z0-9\-._~!$&'()*+,;=:@\/%]$/.test(ch)) o += ch;
    else o += encodeURIComponent(ch).replace(/[!'()*]/g,
        c => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }
  return o;
}

function send(method, path, body, headers) {
  return new Promise(resolve => {
    const r = http.request({ host: u.hostname, port: u.port, method, path,
        headers: Object.assign({ "content-type": "application/json",
          authorization: "Bearer " + key }, headers || {}) }, res => {
      const chunks = [];
      res.on("data", c => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode,
          headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    r.on("error", e => resolve({ status: 0, body: String(e) }));
    r.setTimeout(20000, () => r.destroy(new Error("timeout")));
    r.end(body);
  });
}

const shapeOf = {
  openai: b => b && b.error && typeof b.error.message === "string" &&
      "type" in b.error,
  anthropic: b => b && b.type === "error" && b.error &&
      typeof b.error.type === "string" && typeof b.error.message === "string",
  gemini: b => b && b.error && typeof b.error.code === "number" &&
      typeof b.error.status === "string",
};

(async () => {
  const fails = [], seen = {}, accepted = {};
  let n = 0, front = 0;
  for (const p of provs) {
    for (const [sname, s] of Object.entries(shapes)) {
      const model = sname === "empty" ? "" : p + "-" + s;
      const routes = [
        ["openai", "/v1/chat/completions",
         { model, messages: [{ role: "user", content: "hi" }] }],
        ["anthropic", "/v1/messages",
         { model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }],
      ];
      // (A ':' in the path's model makes the method ambiguous: the route
      // itself is refused, which is another class.)
      if (sname !== "empty" && !s.includes(":")) {
        const g = { contents: [{ role: "user", parts: [{ text: "hi" }] }] };
        routes.push(["gemini", "/v1beta/models/" + pathEnc(model) +
            ":generateContent", g]);
        routes.push(["gemini", "/v1beta/models/" + pathEnc(model) +
            ":streamGenerateContent?alt=sse", g]);
      }
      if (p !== "an")
        routes.push(["openai", "/v1/embeddings", { model, input: "hi" }]);
      for (const [d, path, body] of routes) {
        const r = await send("POST", path, JSON.stringify(body));
        n++;
        const what = `${p} ${sname} ${path.slice(0, 40)}`;
        let b = null;
        try { b = JSON.parse(r.body); } catch (e) {}
        const mayPass = bodyOk.has(sname) && !inUrl.has(p);
        if (mayPass && r.status === 200) {
          accepted[p] = (accepted[p] || 0) + 1;
          continue;
        }
        // A control byte in a path: the web server refuses the request
        // line itself (its own 400, no x-request-id): the relay never
        // sees it, nor does the upstream.
        if (path.startsWith("/v1beta/") && r.status === 400 &&
            !r.headers["x-request-id"] && /%(0[0-9A-F]|1[0-9A-F]|7F)/.test(path)) {
          front++;
          continue;
        }
        if (r.status !== 400 && r.status !== 404)
          fails.push(`${what}: status ${r.status}: ${r.body.slice(0, 160)}`);
        else if (!shapeOf[d](b))
          fails.push(`${what}: not the ${d} error shape: ${r.body.slice(0, 160)}`);
        seen[r.status] = (seen[r.status] || 0) + 1;
      }
    }
  }
  // What reached the mock: only template paths, and nothing for a name in
  // a URL at all (every shape here is hostile there).
  const reqs = await new Promise(resolve => http.get(mock + "/_mock/requests",
      res => { let s = ""; res.on("data", c => s += c);
               res.on("end", () => resolve(JSON.parse(s))); }));
  const tmpl = [
    /^\/v1\/(chat\/completions|embeddings|messages)\?$/,
    /^\/v1beta\/models\/(ge|gx)-[A-Za-z0-9._-]+:(generateContent\?|streamGenerateContent\?alt=sse|batchEmbedContents\?)$/,
    /^\/openai\/deployments\/az-[A-Za-z0-9._-]+\/(chat\/completions|embeddings)\?api-version=[0-9a-z-]+$/,
  ];
  let up = 0;
  for (const x of reqs) {
    if (x.path.startsWith("/_mock")) continue;
    up++;
    const pq = x.path + "?" + x.query;
    if (!tmpl.some(re => re.test(pq)))
      fails.push(`upstream got a request off the templates: ${x.method} ${JSON.stringify(pq)}`);
    if (/\/(v1beta|openai)\//.test(x.path))
      fails.push(`a hostile name reached a URL: ${JSON.stringify(pq)}`);
  }
  const ok = Object.values(accepted).reduce((a, b) => a + b, 0);
  if (up !== ok)
    fails.push(`upstream calls ${up}, want ${ok} (the accepted "org/model" and "model:tag" names only)`);
  console.log(`sent ${n}, refused ${JSON.stringify(seen)}, accepted ${ok}, refused by the web server ${front}, upstream calls ${up}`);
  for (const f of fails.slice(0, 40)) console.log("  EXPECT FAILED: " + f);
  if (fails.length > 40) console.log(`  ... and ${fails.length - 40} more`);
  process.exit(fails.length ? 1 : 0);
})();
JS
out=$(node "$T/battery.js" "$BASE_URL" "$KA" "$MOCK_URL")
rc=$?
printf '%s\n' "$out" | sed 's/^/  /'
[ "$rc" = 0 ] || FAULT_FAILS+=("hostile model names: see above")
row "hostile names x routes" "$(printf '%s' "$out" | head -n 1)" "-" "-"
assert_file_lacks "$OWN_DIR/logs/relay-chat.log" "X-Injected: 1" "no header injection in the log"

# --- key A's refusals did not touch key B ------------------------------------
mocks_reset "$MOCK_URL"
for p in oa an ge az; do
	st=$(timed b-$p "$BASE_URL/v1/chat/completions" -H "Authorization: Bearer $KB" \
	    -H 'Content-Type: application/json' --data-binary "$(chat_json "$p-ok-1.5" hi)")
	expect_eq "$st" 200 "key B, $p-ok-1.5 after key A's hostile names"
done
st=$(timed b-gem "$BASE_URL/v1beta/models/ge-ok:streamGenerateContent?alt=sse" \
    -H "Authorization: Bearer $KB" -H 'Content-Type: application/json' \
    -d '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}')
expect_eq "$st" 200 "key B, Gemini route ge-ok"
curl -sS "$MOCK_URL/_mock/requests" >"$T/b.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
const p = r.filter(x => !x.path.startsWith("/_mock")).map(x => x.path + "?" + x.query).sort();
const want = ["/openai/deployments/az-ok-1.5/chat/completions?api-version=2024-10-21",
  "/v1/chat/completions?", "/v1/messages?", "/v1beta/models/ge-ok-1.5:generateContent?",
  "/v1beta/models/ge-ok:streamGenerateContent?alt=sse"].sort();
if (JSON.stringify(p) !== JSON.stringify(want)) { console.log(JSON.stringify(p)); process.exit(1); }
' "$T/b.json" >"$T/b.diff" || FAULT_FAILS+=("key B: upstream paths $(cat "$T/b.diff")")
req st1 "$BASE_URL/admin/status" "${ADM[@]}" >/dev/null
for p in oa an ge az; do
	expect_eq "$(jget "breakers.$p/*" "$T/st1.body")" closed "/admin/status: $p/* after key A"
done
row "key B after key A" "200 x5, breakers closed" "$(attempts "$MOCK_URL")" "-"

# --- a real upstream failure opens the wildcard's breaker, visibly ------------
for i in 1 2; do
	st=$(timed gx$i "$BASE_URL/v1/chat/completions" -H "Authorization: Bearer $KB" \
	    -H 'Content-Type: application/json' \
	    --data-binary "$(chat_json gx-model "fail [[mock status=503]]")")
	expect_eq "$st" 503 "gx-model 503, request $i"
done
st=$(timed gx3 "$BASE_URL/v1/chat/completions" -H "Authorization: Bearer $KB" \
    -H 'Content-Type: application/json' --data-binary "$(chat_json gx-other hi)")
expect_eq "$st" 503 "gx-* breaker open"
expect_eq "$(jget error.code "$T/gx3.body")" upstream_circuit_open "gx-*: circuit open"
sleep 1.1 # relay-admin's view of a breaker may be a second old
req st2 "$BASE_URL/admin/status" "${ADM[@]}" >/dev/null
expect_eq "$(jget "breakers.gx/*" "$T/st2.body")" open "/admin/status shows gx/*"
expect_eq "$(jget "breakers.ge/*" "$T/st2.body")" closed "/admin/status: ge/* still closed"
req ready "$BASE_URL/health/ready" >/dev/null
expect_eq "$(jget "breakers.gx/*" "$T/ready.body")" open "/health/ready shows gx/*"
req metrics "$BASE_URL/metrics" >/dev/null
expect "/metrics: relay_breaker_state{target=\"gx/*\"} 1" \
    grep -q '^relay_breaker_state{target="gx/\*"} 1$' "$T/metrics.body"
expect "/metrics: relay_breaker_state{target=\"ge/*\"} 0" \
    grep -q '^relay_breaker_state{target="ge/\*"} 0$' "$T/metrics.body"
row "gx-* 503 x2 (2 attempts each)" "$(jget error.code "$T/gx3.body"), visible" "-" "-"

# --- a call libcurl cannot form: the caller's 400, no retry, no breaker ------
for i in 1 2 3 4; do
	timed bad$i "$BASE_URL/v1/messages" -H "Authorization: Bearer $KB" \
	    -H 'Content-Type: application/json' \
	    -d '{"model":"bad","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' >/dev/null
	expect_eq "$(cat "$T/bad$i.code")" 400 "malformed upstream URL $i: status"
	expect_eq "$(jget type "$T/bad$i.body")" error "malformed upstream URL $i: Anthropic shape"
	expect_eq "$(header bad$i x-relay-attempts)" 1 "malformed upstream URL $i: not retried"
done
sleep 1.1
req st3 "$BASE_URL/admin/status" "${ADM[@]}" >/dev/null
expect_eq "$(jget "breakers.bad/up" "$T/st3.body")" closed "malformed upstream URL: breaker closed"
row "malformed upstream URL x4" "$(cat "$T/bad4.code") $(jget error.message "$T/bad4.body")" "$(header bad4 x-relay-attempts)" "$(ms_of bad4)"

# --- a dead upstream: what failed, not where ---------------------------------
H=(-H "Authorization: Bearer $KB" -H 'Content-Type: application/json')
# (one provider each: two attempts per request, the breaker opens at 3)
timed dead1 "$BASE_URL/v1/chat/completions" "${H[@]}" --data-binary "$(chat_json dead1 hi)" >/dev/null
timed dead2 "$BASE_URL/v1/messages" "${H[@]}" \
    -d '{"model":"dead2","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' >/dev/null
timed dead3 "$BASE_URL/v1/chat/completions" "${H[@]}" --data-binary "$(chat_json dead3 hi true)" >/dev/null
for n in dead1 dead2 dead3; do
	expect_eq "$(cat "$T/$n.code")" 502 "$n: status"
	for leak in 127.0.0.1 "$DEAD_PORT" "port " "Failed to connect"; do
		expect "$n: the answer names no host or port ($leak)" \
		    bash -c "! grep -aqF -- '$leak' '$T/$n.body'"
	done
done
expect "$(jget error.message "$T/dead1.body") says what failed" \
    grep -aqi 'connect' "$T/dead1.body"
expect "the relay's log keeps the detail" \
    grep -aqF "port $DEAD_PORT" "$OWN_DIR/logs/relay-chat.log"
row "dead upstream" "$(jget error.message "$T/dead1.body")" "-" "$(ms_of dead1)"

fault_finish
