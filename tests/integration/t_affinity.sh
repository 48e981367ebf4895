#!/usr/bin/env bash
# Prompt-cache affinity (lib/affinity.h): a pool of 3 provider keys; the
# mock plays a per-key prompt cache (a key that saw the conversation's
# first message before reports half the prompt as cached_tokens).
#  - one conversation of 6 turns without a session id: the pool rotates
#    (several keys), each key warms its own cache;
#  - one of 6 turns with Claude Code's x-claude-code-session-id: every
#    turn on one key; the cached-token share (access log "cached"/"in",
#    /metrics relay_tokens_total{direction="cached"}) measured for both;
#  - Codex's prompt_cache_key in the body: two sessions interleaved, each
#    on one key;
#  - the session's key 429s (it rests): that turn is served by another
#    key, and the later turns stay on the new one;
#  - two targets of one weight: a session stays on one; when that one
#    fails (5xx, its breaker opens) the other serves and keeps the session.
. "$(dirname "$0")/fault_lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 3, "base_delay_ms": 50, "max_delay_ms": 400, "deadline_ms": 20000 },
  "breaker": { "failures": 1, "window_s": 60, "open_s": 60 },
  "affinity": { "ttl_s": 600 },
  "providers": [
    { "name": "pool", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["k-aff-a", "k-aff-b", "k-aff-c"] },
    { "name": "t1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-t1"] },
    { "name": "t2", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-t2"] } ],
  "models": [ { "name": "pool", "targets": [{ "provider": "pool", "model": "up" }] },
              { "name": "two", "targets": [{ "provider": "t1", "model": "up" }, { "provider": "t2", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"
SYS="You are a careful coding agent working in a large repository with many files and long instructions that stay the same on every turn of the session"

# turn NAME CONV I [curl args...]: turn I of conversation CONV.
turn() {
	local name=$1 conv=$2 i=$3 extra=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	post "$name" "{\"model\":\"pool\",${extra}\"messages\":[{\"role\":\"system\",\"content\":\"$SYS ($conv)\"},{\"role\":\"user\",\"content\":\"turn $i of $conv\"}]}" "$@"
}

# share IDS...: "cached in" summed over the access log lines of IDS.
share() {
	sleep 0.3
	node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l));
const want = new Set(process.argv.slice(2));
let c = 0, n = 0;
for (const l of lines) if (want.has(l.id)) { c += l.cached; n += l.in; }
console.log(c + " " + n);' "$OWN_DIR/logs/access.log" "$@"
}

# 1. No session id: the pool rotates.
mocks_reset "$MOCK_URL"
ids=()
for i in 1 2 3 4 5 6; do
	expect_eq "$(turn n$i plain "$i" '')" 200 "no session: turn $i"
	ids+=("$(header n$i x-request-id)")
done
keys_used "$MOCK_URL" >"$T/n.keys"
expect_ge "$(sort -u "$T/n.keys" | wc -l)" 2 "no session: the pool rotates over its keys"
read -r c0 in0 <<<"$(share "${ids[@]}")"
measure "$SERVER | no session id: 6 turns on $(sort -u "$T/n.keys" | wc -l) keys, cached $c0 of $in0 input tokens ($((100 * c0 / in0))%)"

# 2. Claude Code's session header: one key for the whole session.
mocks_reset "$MOCK_URL"
SID=sess-$$-$RANDOM-cc
ids=()
for i in 1 2 3 4 5 6; do
	expect_eq "$(turn s$i claude "$i" '' -H "x-claude-code-session-id: $SID")" 200 "session: turn $i"
	ids+=("$(header s$i x-request-id)")
done
keys_used "$MOCK_URL" >"$T/s.keys"
expect_eq "$(sort -u "$T/s.keys" | wc -l)" 1 "session: every turn on one key"
expect_eq "$(wc -l <"$T/s.keys")" 6 "session: one call per turn"
read -r c1 in1 <<<"$(share "${ids[@]}")"
measure "$SERVER | session id: 6 turns on $(sort -u "$T/s.keys" | wc -l) key, cached $c1 of $in1 input tokens ($((100 * c1 / in1))%)"
expect_ge "$((100 * c1 / in1))" "$((100 * c0 / in0 + 1))" "session: a larger cached-token share than without"
req met "$BASE_URL/metrics" >/dev/null
grep -a '^relay_tokens_total{.*direction="cached"' "$T/met.body" >"$T/met.cached" || true
mc=$(awk '{ s += $NF } END { print s + 0 }' "$T/met.cached")
expect_eq "$mc" "$((c0 + c1))" "/metrics: cached tokens as in the access log"

# 3. Codex's prompt_cache_key: one key per session, two sessions two
# records (interleaved over 3 keys: a rotation would split each).
mocks_reset "$MOCK_URL"
for i in 1 2 3; do
	for cv in x y; do
		expect_eq "$(turn c$cv$i codex-$cv "$i" "\"prompt_cache_key\":\"pck-$$-$cv\",")" 200 "codex $cv: turn $i"
	done
done
keys_used "$MOCK_URL" >"$T/c.keys"
expect_eq "$(wc -l <"$T/c.keys")" 6 "codex: one call per turn"
for off in 0 1; do
	expect_eq "$(awk -v o=$off 'NR % 2 == o' "$T/c.keys" | sort -u | wc -l)" 1 "codex session $off: one key"
done

# Codex's session_id header (an underscore: the web server must pass it).
mocks_reset "$MOCK_URL"
for i in 1 2 3; do
	expect_eq "$(turn h$i codex-h "$i" '' -H "session_id: sid-$$-h")" 200 "codex session_id header: turn $i"
done
keys_used "$MOCK_URL" >"$T/h.keys"
expect_eq "$(sort -u "$T/h.keys" | wc -l)" 1 "codex session_id header: one key"

# 4. The session's key 429s: another key serves; the session moves there.
mocks_reset "$MOCK_URL"
turn r1 rest 1 '' -H "x-session-affinity: $SID-oc" >/dev/null
k1=$(keys_used "$MOCK_URL" | tail -n 1)
mocks_reset "$MOCK_URL"
post r2 "{\"model\":\"pool\",\"messages\":[{\"role\":\"system\",\"content\":\"$SYS (rest)\"},{\"role\":\"user\",\"content\":\"turn 2 [[mock fail_first=1 status=429 retry_after=30 key=aff$$]]\"}]}" -H "x-session-affinity: $SID-oc" >/dev/null
keys_used "$MOCK_URL" >"$T/r2.keys"
expect_eq "$(cat "$T/r2.code")" 200 "rest: the turn is served"
expect_eq "$(sed -n 1p "$T/r2.keys")" "$k1" "rest: first asked the session's key"
k2=$(sed -n 2p "$T/r2.keys")
expect_ne() { [ "$1" != "$2" ] || { FAULT_FAILS+=("$3"); echo "  EXPECT FAILED: $3"; }; }
expect_ne "$k2" "$k1" "rest: another key served"
mocks_reset "$MOCK_URL"
for i in 3 4 5; do
	turn r$i rest "$i" '' -H "x-session-affinity: $SID-oc" >/dev/null
done
keys_used "$MOCK_URL" >"$T/r3.keys"
expect_eq "$(sort -u "$T/r3.keys")" "$k2" "rest: the session stays on its new key"
row "session key 429s (rests 30 s)" "served by another key, session moved" "$(wc -l <"$T/r2.keys")" "-"

# 5. Two targets: the session's target; its breaker opens, it moves.
tw() { post "$1" "{\"model\":\"two\",\"messages\":[{\"role\":\"system\",\"content\":\"$SYS (two)\"},{\"role\":\"user\",\"content\":\"$2\"}]}" -H "x-session-affinity: $SID-two"; }
mocks_reset "$MOCK_URL"
for i in 1 2 3 4; do
	expect_eq "$(tw w$i "turn $i")" 200 "two targets: turn $i"
done
keys_used "$MOCK_URL" >"$T/w.keys"
expect_eq "$(sort -u "$T/w.keys" | wc -l)" 1 "two targets: the session stays on one target"
ka=$(sed -n 1p "$T/w.keys")
mocks_reset "$MOCK_URL"
expect_eq "$(tw w5 "turn 5 [[mock fail_first=3 status=500 key=brk$$]]")" 200 "two targets: served by the other target"
keys_used "$MOCK_URL" >"$T/w5.keys"
expect_eq "$(sed -n 1p "$T/w5.keys")" "$ka" "two targets: the session's target first"
kb=$(tail -n 1 "$T/w5.keys")
expect_ne "$kb" "$ka" "two targets: the other target served"
mocks_reset "$MOCK_URL"
for i in 6 7 8; do
	tw w$i "turn $i" >/dev/null
done
keys_used "$MOCK_URL" >"$T/w6.keys"
expect_eq "$(sort -u "$T/w6.keys")" "$kb" "two targets: the session stays on the target that served"
row "session target 5xx (breaker opens)" "other target serves, session moved" "$(wc -l <"$T/w5.keys")" "-"
fault_finish
