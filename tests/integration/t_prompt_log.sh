#!/usr/bin/env bash
# The optional prompt log (prompt_log.enabled): each exchange as one JSON
# line in <data_dir>/prompts, with phone numbers, emails and keys masked
# before they are written, in the request and in the answer (the mock
# echoes the prompt); files past the retention removed, also ones another
# host wrote.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "prompt_log": { "enabled": true, "retention_h": 2 },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
own_stack_start "$T/cfg.in"
P=$OWN_DIR/data/prompts
mkdir -p "$P"
old=$(date -u -d '-4 hours' +%Y-%m-%dT%H)
kept=$(date -u -d '-1 hours' +%Y-%m-%dT%H)
printf '{"old":1}\n' >"$P/$old.otherhost.jsonl"
printf '{"recent":1}\n' >"$P/$kept.otherhost.jsonl"
printf 'not ours\n' >"$P/notes.txt"

SAID='call me on 13812345678 or zhang.san@example.com, key sk-abcdefghijklmnop1234567890'
assert_eq "$(post a "$(chat_json demo "$SAID")")" 200 "whole"
assert_eq "$(post b "$(chat_json demo "$SAID" true)")" 200 "stream"
sleep 0.3
[ ! -e "$P/$old.otherhost.jsonl" ] || fail "a file past the retention was kept"
[ -e "$P/$kept.otherhost.jsonl" ] || fail "a file within the retention was removed"
[ -e "$P/notes.txt" ] || fail "a file that is not the log's was removed"
cat "$P"/*.jsonl >"$T/all.jsonl"
for s in 13812345678 zhang.san@example.com sk-abcdefghijklmnop1234567890 abcdefghijklmnop1234567890; do
	assert_file_lacks "$T/all.jsonl" "$s" "raw personal data or key in the prompt log"
done
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l)).filter(l => l.id);
const fail = m => { console.log("  FAIL: " + m); process.exit(1); };
for (const id of process.argv.slice(2)) {
  const l = lines.find(x => x.id === id);
  if (!l) fail("no line for " + id);
  if (l.model !== "demo" || l.status !== 200) fail("fields " + JSON.stringify(l));
  for (const f of ["request", "answer"]) {
    if (!l[f].includes("138****5678") || !l[f].includes("z***@example.com") || !l[f].includes("sk-...[redacted]")) fail(f + " not masked: " + l[f]);
  }
  if (!l.answer.includes("Hello")) fail("no answer: " + l.answer);
}
console.log("  measure: masked prompt log line " + JSON.stringify(lines[0]).slice(0, 400));
' "$T/all.jsonl" "$(header a x-request-id)" "$(header b x-request-id)" || fail "prompt log lines"
measure "files past ${old} removed, ${kept} kept"
