#!/usr/bin/env bash
# Two tiers on loopback: relay A (the domestic tier) whose providers are
# relay B (the overseas tier), B's tier virtual keys as A's credentials;
# B's providers are B's mock. What must hold across the hop:
#  (a) B holds its heartbeat for a tier key until the first upstream byte,
#      and A takes a stream of comments then an error (before any data) as
#      a failed attempt: [[mock fail_first=2 status=503 delay_ms=1200]]
#      through A (two B nodes as targets) ends in a 200 stream after >= 2
#      attempts at A, also when B's key is not a tier key.
#  (b) a provider 401 at B reaches A as 502 upstream_auth_failed, one
#      provider call (A does not retry it), and A's other models serve.
#  (c) retries do not multiply: a 503 every time with 2 attempts per tier
#      costs exactly 2 provider calls (B says x-should-retry: false).
#  (d) a Retry-After beyond retry.max_retry_after_ms is passed on at once.
#  (e) tracing: A's client's x-request-id is B's request id (and, B's
#      provider being marked "relay" too, the id the provider sees), the
#      client's trace id goes through in traceparent, every hop sends a
#      User-Agent llm-relay/..., and A's end user (its key id, signed with
#      RELAY_TIER_SECRET) is in B's access log and usage report; a forged
#      claim is not recorded.
#  (g) a client that leaves A mid-stream cancels B's upstream call; each
#      tier logs and charges the request once (the tokens it saw), under
#      the client's request id.
. "$(dirname "$0")/fault_lib.sh"

export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
export RELAY_TIER_SECRET=tier-$RANDOM$RANDOM$RANDOM

# tier_stack NAME TEMPLATE: a whole stack in $SCEN_DIR/NAME (own memcached,
# mock, responders and web server); sets <NAME>_URL, <NAME>_MOCK, <NAME>_DIR.
tier_stack() {
	local name=$1 dir=$SCEN_DIR/$1
	rm -rf "$dir"
	mkdir -p "$dir"
	RUN_DIR=$dir PORT=0
	MC_PORT=$(stack_free_port)
	MOCK_PORT=$(stack_free_port)
	while [ "$MOCK_PORT" = "$MC_PORT" ]; do MOCK_PORT=$(stack_free_port); done
	render_config "$2" >"$dir.json"
	export RELAY_CONFIG=$dir.json
	stack_start || fail "stack $name did not start: $(tail -n 20 "$dir"/logs/*.log 2>/dev/null)"
	printf -v "${name}_URL" '%s' "$BASE_URL"
	printf -v "${name}_MOCK" '%s' "http://127.0.0.1:$MOCK_PORT"
	printf -v "${name}_DIR" '%s' "$dir"
}

newkey() { # URL NAME JSON: a virtual key's secret on stdout
	req "mk$2" "$1/admin/keys" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" \
	    -d "$3" >/dev/null
	jget secret "$T/mk$2.body"
}

start_mock2 -k k-good
cat >"$T/b.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 200, "deadline_ms": 60000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-b"],
      "relay": true },
    { "name": "revoked", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1", "api_keys": ["k-bad"] } ],
  "models": [
    { "name": "demo", "targets": [{ "provider": "mock", "model": "up" }] },
    { "name": "other", "targets": [{ "provider": "mock", "model": "up2" }] },
    { "name": "auth", "targets": [{ "provider": "revoked", "model": "up" }] } ] }
JSON
tier_stack B "$T/b.in"
KT1=$(newkey "$B_URL" t1 '{"name":"tier-a1","tier":true}')
KT2=$(newkey "$B_URL" t2 '{"name":"tier-a2","tier":true}')
KP=$(newkey "$B_URL" p '{"name":"plain"}')
case "$KT1$KT2$KP" in *__*) fail "B's keys: $(cat "$T"/mkt1.body)" ;; esac

cat >"$T/a.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 50, "max_delay_ms": 200, "deadline_ms": 60000 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "b1", "type": "openai", "base_url": "$B_URL/v1", "api_keys": ["$KT1", "$KT2"],
      "relay": true },
    { "name": "b2", "type": "openai", "base_url": "$B_URL/v1", "api_keys": ["$KT1"] },
    { "name": "plain1", "type": "openai", "base_url": "$B_URL/v1", "api_keys": ["$KP"] },
    { "name": "plain2", "type": "openai", "base_url": "$B_URL/v1", "api_keys": ["$KP"] } ],
  "models": [
    { "name": "demo", "targets": [{ "provider": "b1", "model": "demo", "priority": 1 },
                                  { "provider": "b2", "model": "demo", "priority": 2 }] },
    { "name": "plain", "targets": [{ "provider": "plain1", "model": "demo", "priority": 1 },
                                   { "provider": "plain2", "model": "demo", "priority": 2 }] },
    { "name": "solo", "targets": [{ "provider": "b1", "model": "demo" }] },
    { "name": "other", "targets": [{ "provider": "b1", "model": "other" }] },
    { "name": "auth", "targets": [{ "provider": "b1", "model": "auth" }] } ] }
JSON
tier_stack A "$T/a.in"
BASE_URL=$A_URL
OWN_DIR=$A_DIR
sleep 1.1 # B's key file is re-read within a second

# (a) heartbeat vs failover, streamed, with tier keys and with plain ones.
for m in demo plain; do
	mocks_reset "$B_MOCK"
	chat ha_$m $m "hold on $m [[mock fail_first=2 status=503 delay_ms=1200]]" true >/dev/null
	sse_summary ha_$m
	n=$(attempts "$B_MOCK")
	expect_eq "$(cat "$T/ha_$m.code")" 200 "(a) $m: status"
	expect_eq "$(sse ha_$m errors)" 0 "(a) $m: error events in the stream"
	expect_eq "$(sse ha_$m done)" 1 "(a) $m: [DONE]"
	expect_eq "$(sse ha_$m text)" "$(mock_text "hold on $m [[mock fail_first=2 status=503 delay_ms=1200]]")" "(a) $m: answer"
	expect_eq "$n" 3 "(a) $m: provider calls (2 at B for node 1, 1 for node 2)"
	row "(a) $m: 503 twice, 1.2 s each, stream A->B" "$(cat "$T/ha_$m.code") errors=$(sse ha_$m errors) done=$(sse ha_$m done)" "$n" "$(ms_of ha_$m)"
done

# (c) retries do not multiply: 2 attempts per tier, 503 always.
for s in false true; do
	mocks_reset "$B_MOCK"
	chat mu_$s solo "always failing $s [[mock fail_first=99 status=503]]" $s >/dev/null
	n=$(attempts "$B_MOCK")
	expect_eq "$n" 2 "(c) stream=$s: provider calls for one 503 with 2 attempts per tier"
	if [ "$s" = false ]; then
		expect_eq "$(cat "$T/mu_$s.code")" 503 "(c) stream=$s: status"
		expect_eq "$(header mu_$s x-should-retry)" false "(c) stream=$s: x-should-retry at A"
	fi
	row "(c) 503 always, stream=$s" "$(cat "$T/mu_$s.code")" "$n" "$(ms_of mu_$s)"
done

# (b) a provider 401 at B: 502 upstream_auth_failed, one call each time;
# A's other models keep serving.
mocks_reset "$MOCK2_URL"
for i in 1 2 3; do
	chat au$i auth "who am I $i" >/dev/null
	expect_eq "$(cat "$T/au$i.code")" 502 "(b) $i: status"
	expect_eq "$(jget error.code "$T/au$i.body")" upstream_auth_failed "(b) $i: error.code"
done
n=$(attempts "$MOCK2_URL")
expect_eq "$n" 3 "(b) provider calls for 3 requests"
row "(b) 401 at B, 3 requests" "$(cat "$T/au3.code") $(jget error.code "$T/au3.body")" "$n" "$(ms_of au3)"
mocks_reset "$B_MOCK"
for m in other demo; do
	chat ok_$m $m "still here $m" >/dev/null
	expect_eq "$(cat "$T/ok_$m.code")" 200 "(b) after the 401s: $m serves"
	expect_eq "$(answer_text ok_$m)" "$(mock_text "still here $m")" "(b) $m answer"
done

# (d) Retry-After 30 s (beyond 10 s): passed on at once, through both tiers.
mocks_reset "$B_MOCK"
MAX_TIME=25 chat ra solo "later [[mock fail_first=99 status=503 retry_after=30]]" >/dev/null
n=$(attempts "$B_MOCK")
expect_eq "$(cat "$T/ra.code")" 503 "(d) status"
expect_eq "$(header ra retry-after)" 30 "(d) Retry-After passed on"
expect_le "$(ms_of ra)" 3000 "(d) answered at once (ms)"
expect_eq "$n" 1 "(d) provider calls"
row "(d) 503 Retry-After 30" "$(cat "$T/ra.code") Retry-After $(header ra retry-after)" "$n" "$(ms_of ra)"

# (e) tracing and the signed end user. A gets a key of its own now (its
# end user); every request to A needs it from here on.
KA=$(newkey "$A_URL" ea '{"name":"end-user"}')
IDA=$(jget id "$T/mkea.body")
sleep 1.1
mocks_reset "$B_MOCK"
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
chat_json solo "trace me" >"$T/tr.req"
req tr "$A_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $KA" -H 'x-request-id: tier-trace-1' \
    -H "traceparent: $TP" --data-binary "@$T/tr.req" >/dev/null
expect_eq "$(cat "$T/tr.code")" 200 "(e) status"
MOCK_URL=$B_MOCK mock_last_request up
expect_eq "$(jget headers.x-request-id "$T/up.json")" tier-trace-1 "(e) A's client id reaches B's provider"
tp=$(jget headers.traceparent "$T/up.json")
expect_eq "${tp:0:36}" "${TP:0:36}" "(e) the client's trace id, two hops up"
expect "(e) a span of B's own, got $tp" test "${tp:36:16}" != "${TP:36:16}"
expect_eq "$(jget headers.user-agent "$T/up.json" | cut -d/ -f1)" llm-relay "(e) B's User-Agent"
sleep 0.3
node -e '
const fs = require("fs");
const [logf, id, user] = process.argv.slice(1);
const l = fs.readFileSync(logf, "utf8").trim().split("\n").map(x => JSON.parse(x)).find(x => x.id === id);
if (!l) { console.log("  EXPECT FAILED: no line " + id + " in B access log"); process.exit(1); }
if (l.end_user !== user) { console.log("  EXPECT FAILED: B end_user " + JSON.stringify(l)); process.exit(1); }
console.log("  measure: B access line " + JSON.stringify(l));
' "$B_DIR/logs/access.log" tier-trace-1 "$IDA" || FAULT_FAILS+=("(e) B's access log")
TODAY=$(date -u +%Y-%m-%d)
req bu "$B_URL/admin/usage?from=$TODAY&to=$TODAY" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" >/dev/null
node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1])).data;
if (!d.some(r => r.end_user === process.argv[2] && r.model === "demo" && r.requests === 1)) {
  console.log("  EXPECT FAILED: B usage rows " + JSON.stringify(d)); process.exit(1); }
' "$T/bu.body" "$IDA" || FAULT_FAILS+=("(e) B's usage report by end user")
# A forged claim straight at B (a tier key, a made-up signature).
chat_json demo "forged" >"$T/fg.req"
req fg "$B_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $KT1" -H 'x-request-id: tier-forged-1' \
    -H "x-relay-end-user: someone.$(date +%s).$(printf '0%.0s' $(seq 1 64))" \
    --data-binary "@$T/fg.req" >/dev/null
expect_eq "$(cat "$T/fg.code")" 200 "(e) forged claim: still served"
sleep 0.3
expect_eq "$(grep -a '"tier-forged-1"' "$B_DIR/logs/access.log" | grep -c end_user)" 0 "(e) forged claim not recorded"

# (g) the client leaves A mid-stream.
before=$(curl -sS --max-time 5 "$B_MOCK/_mock/stats" | jget streams_aborted)
t0=$(now_ms)
curl -sS -N --max-time 1 "$A_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $KA" -H 'x-request-id: tier-abort-1' \
    -d "$(chat_json solo 'abort me [[mock events=30 gap_ms=300]]' true)" >"$T/ab.body" 2>/dev/null
expect_eq "$?" 28 "(g) curl cut by --max-time"
expect "(g) events reached the client" grep -q '^data: ' "$T/ab.body"
now=$before
while [ "$now" -le "$before" ] && [ $(($(now_ms) - t0)) -lt 8000 ]; do
	sleep 0.1
	now=$(curl -sS --max-time 5 "$B_MOCK/_mock/stats" | jget streams_aborted)
done
ms=$(($(now_ms) - t0 - 1000))
expect_ge "$now" "$((before + 1))" "(g) B's upstream stream aborted"
row "(g) client leaves A mid-stream" "B's provider call cancelled $ms ms later" 1 "$ms"
sleep 0.5
for d in "$A_DIR" "$B_DIR"; do
	expect_eq "$(grep -ac '"id":"tier-abort-1"' "$d/logs/access.log")" 1 "(g) one access line in $(basename "$d")"
	expect "(g) $(basename "$d") charged the tokens it saw" grep -aqE '"id":"tier-abort-1".*"out":[1-9]' "$d/logs/access.log"
done
measure "(g) access lines: $(grep -ah '"tier-abort-1"' "$A_DIR/logs/access.log" "$B_DIR/logs/access.log" | grep -o '"provider":"[^"]*"\|"out":[0-9]*' | tr '\n' ' ')"

for d in "$A_DIR" "$B_DIR"; do
	grep -aqE 'AddressSanitizer|runtime error:' "$d"/logs/relay-chat.log 2>/dev/null &&
	    FAULT_FAILS+=("sanitizer report in $d/logs/relay-chat.log")
done
fault_finish
