#!/usr/bin/env bash
# A provider key is benched only for its own refusals, never by what one
# tenant's request did; the bench is bounded and re-checked; a caller whose
# every upstream key is refused hears 502 upstream_auth_failed in its own
# dialect (never a 429 "rate limited"); the operator sees benched keys by
# fingerprint in /admin/status and /metrics, never the key.
#
# Provider "pool": the config key k-good and a stored credential k-revoked
# (the shape that locked a provider for an hour); "allbad": two keys the
# mock refuses; "onebad": one. The mock (a second one) accepts k-good only
# until told otherwise (POST /_mock/keys?accept=...).
. "$(dirname "$0")/../integration/fault_lib.sh"

start_mock2 -k k-good
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 3, "base_delay_ms": 10, "max_delay_ms": 50, "deadline_ms": 20000 },
  "breaker": { "failures": 0 },
  "keypool": { "auth_bench_s": 120, "auth_recheck_s": 6 },
  "providers": [
    { "name": "pool", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-good"] },
    { "name": "allbad", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-bad1", "k-bad2"] },
    { "name": "onebad", "type": "openai", "base_url": "http://127.0.0.1:$MOCK2_PORT/v1",
      "api_keys": ["k-bad1"] } ],
  "models": [
    { "name": "pool", "targets": [{ "provider": "pool", "model": "up" }] },
    { "name": "allbad", "targets": [{ "provider": "allbad", "model": "up" }] },
    { "name": "onebad", "targets": [{ "provider": "onebad", "model": "up" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
RELAY_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export RELAY_MASTER_KEY
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")

fp() { printf '%s' "$1" | sha256sum | cut -c1-16; }
FP_REVOKED=$(fp k-revoked)

req cred "$BASE_URL/admin/credentials" "${ADM[@]}" \
    -d '{"provider":"pool","api_key":"k-revoked","label":"revoked"}' >/dev/null
expect_eq "$(cat "$T/cred.code")" 201 "store k-revoked"
for t in a b; do
	req "mk$t" "$BASE_URL/admin/keys" "${ADM[@]}" -d "{\"name\":\"tenant-$t\"}" >/dev/null
	expect_eq "$(cat "$T/mk$t.code")" 201 "create tenant $t"
done
KA=$(jget secret "$T/mka.body")
KB=$(jget secret "$T/mkb.body")
sleep 1.1 # every responder sees the new files within a second

# chat_as NAME KEY MODEL CONTENT: an OpenAI chat call of one tenant.
chat_as() {
	chat_json "$3" "$4" false >"$T/$1.req"
	timed "$1" "$BASE_URL/v1/chat/completions" -H "Authorization: Bearer $2" \
	    -H 'Content-Type: application/json' --data-binary "@$T/$1.req"
}
# dialect_call NAME DIALECT KEY MODEL: the same question in a dialect.
dialect_call() {
	case $2 in
	openai) chat_as "$1" "$3" "$4" "hi" ;;
	anthropic)
		printf '{"model":"%s","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' "$4" >"$T/$1.req"
		timed "$1" "$BASE_URL/v1/messages" -H "x-api-key: $3" \
		    -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' \
		    --data-binary "@$T/$1.req" ;;
	gemini)
		printf '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}' >"$T/$1.req"
		timed "$1" "$BASE_URL/v1beta/models/$4:generateContent" -H "x-goog-api-key: $3" \
		    -H 'Content-Type: application/json' --data-binary "@$T/$1.req" ;;
	esac
}
# auth_failed NAME DIALECT: a 502 that says the upstream refused the
# relay's key, in the dialect's error shape (its own type vocabulary:
# OpenAI's code upstream_auth_failed, Anthropic's api_error, Gemini's
# UNAVAILABLE).
auth_failed() {
	local n=$1
	expect_eq "$(cat "$T/$n.code")" 502 "$n: status"
	expect_eq "$(grep -c upstream_keys_resting "$T/$n.body")" 0 "$n: not 'keys resting'"
	case $2 in
	openai)
		expect_eq "$(jget error.code "$T/$n.body")" upstream_auth_failed "$n: error.code" ;;
	anthropic)
		expect_eq "$(jget type "$T/$n.body")" error "$n: type"
		expect_eq "$(jget error.type "$T/$n.body")" api_error "$n: error.type" ;;
	gemini)
		expect_eq "$(jget error.code "$T/$n.body")" 502 "$n: error.code"
		expect_eq "$(jget error.status "$T/$n.body")" UNAVAILABLE "$n: error.status" ;;
	esac
	expect_eq "$(grep -ci 'refused' "$T/$n.body")" 1 "$n: says the key was refused"
}
status_json() { req "$1" "$BASE_URL/admin/status" "${ADM[@]}" >/dev/null; }
# benched PROVIDER FP: "auth"/"rate_limited" as /admin/status says, or "".
benched() {
	status_json st
	node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const k = (s.benched_keys || []).find(k => k.provider === process.argv[2] && k.key === process.argv[3]);
process.stdout.write(k ? k.reason : "");' "$T/st.body" "$1" "$2"
}
nbenched() {
	status_json st
	node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.stdout.write(String((s.benched_keys || []).length));' "$T/st.body"
}
metrics_line() {
	req m "$BASE_URL/metrics" >/dev/null
	grep -a "^relay_upstream_key_benched_seconds{provider=\"$1\",key=\"$2\",reason=\"$3\"} [0-9]" "$T/m.body" || true
}

# 1. Tenant A's request draws a 401 from every key (the mock refuses on
# the request's say-so): that is the request's doing, not the keys'.
mocks_reset "$MOCK2_URL"
chat_as hostile "$KA" pool "[[mock status=401]] a request every key fails" >/dev/null
auth_failed hostile openai
expect_eq "$(attempts "$MOCK2_URL")" 2 "hostile: calls (each key once, then stop)"
row "401 on every key, caused by A's request" "$(cat "$T/hostile.code")" "$(attempts "$MOCK2_URL")" "$(ms_of hostile)"
expect_eq "$(nbenched)" 0 "hostile: no key benched"
for i in 1 2 3 4; do
	st=$(chat_as b$i "$KB" pool "tenant B after A $i")
	expect_eq "$st" 200 "tenant B after A's 401s, request $i"
done

# 2. One key revoked: only it is benched, the other serves every tenant.
mocks_reset "$MOCK2_URL"
st=$(chat_as r0 "$KB" pool "meet the revoked key")
expect_eq "$st" 200 "revoked key met: served by the other"
for i in 1 2 3; do
	[ "$(benched pool "$FP_REVOKED")" = auth ] && break
	chat_as r$i "$KA" pool "meet the revoked key $i" >/dev/null
done
expect_eq "$(benched pool "$FP_REVOKED")" auth "/admin/status: k-revoked benched for auth"
expect_eq "$(nbenched)" 1 "/admin/status: only k-revoked benched"
expect_eq "$(grep -c k-revoked "$T/st.body")" 0 "/admin/status: no key"
ml=$(metrics_line pool "$FP_REVOKED" auth)
expect_eq "$(printf '%s' "$ml" | grep -c .)" 1 "/metrics: the benched gauge"
expect_eq "$(grep -c k-revoked "$T/m.body")" 0 "/metrics: no key"
expect_ge "$(grep -c "key $FP_REVOKED benched for 120 s (auth" "$OWN_DIR/logs/relay-chat.log")" 1 "log: the bench"
mocks_reset "$MOCK2_URL"
for i in 1 2 3 4 5 6; do
	k=$KA
	[ $((i % 2)) = 0 ] && k=$KB
	st=$(chat_as s$i "$k" pool "after the bench $i")
	expect_eq "$st" 200 "after the bench $i"
done
keys_used "$MOCK2_URL" >"$T/after.keys"
expect_eq "$(grep -c k-revoked "$T/after.keys")" 0 "after the bench: calls with k-revoked"
expect_eq "$(wc -l <"$T/after.keys")" 6 "after the bench: one call per request"
row "1 of 2 keys revoked, 6 requests of 2 tenants" "6 x 200" "$(wc -l <"$T/after.keys")" "-"

# 3. The key is made good again: after the re-check interval one request
# tries it, and it is back in rotation.
curl -sS --max-time 5 -X POST "$MOCK2_URL/_mock/keys?accept=k-good,k-revoked" >/dev/null
sleep 6.2
mocks_reset "$MOCK2_URL"
for i in 1 2 3 4 5 6 7 8; do
	st=$(chat_as g$i "$KA" pool "good again $i")
	expect_eq "$st" 200 "good again $i"
	grep -q k-revoked <(keys_used "$MOCK2_URL") && break
done
expect_eq "$(keys_used "$MOCK2_URL" | grep -c k-revoked)" 1 "re-check: k-revoked tried"
expect_eq "$(benched pool "$FP_REVOKED")" "" "re-check: k-revoked back in rotation"
expect_eq "$(metrics_line pool "$FP_REVOKED" auth)" "" "/metrics: no longer benched"
curl -sS --max-time 5 -X POST "$MOCK2_URL/_mock/keys?accept=k-good" >/dev/null

# 4. Only refused keys: 502 upstream_auth_failed in each dialect, never a
# 429, and no key benched on a refusal no other key contradicts.
for d in openai anthropic gemini; do
	mocks_reset "$MOCK2_URL"
	dialect_call all_$d $d "$KB" allbad >/dev/null
	auth_failed all_$d $d
	expect_eq "$(attempts "$MOCK2_URL")" 2 "all_$d: calls"
	dialect_call one_$d $d "$KB" onebad >/dev/null
	auth_failed one_$d $d
done
row "every key refused" "$(cat "$T/all_openai.code") upstream_auth_failed" 2 "$(ms_of all_openai)"
expect_eq "$(nbenched)" 0 "refusals alone bench nothing"

# 5. Every key benched for auth (as memcached holds it): 502, no call;
# benched for a rate limit: 429 with Retry-After, as before.
mc_set() { # key value ttl
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'set %s 0 %s %s\r\n%s\r\n' "$1" "$3" "${#2}" "$2" >&3
	read -r -t 5 line <&3
	exec 3<&-
	[ "${line%$'\r'}" = STORED ] || FAULT_FAILS+=("memcached set $1: $line")
}
now=$(date +%s)
mc_set "kp:allbad:$(fp k-bad1)" "$((now + 100)) auth $((now + 100))" 100
mc_set "kp:allbad:$(fp k-bad2)" "$((now + 100)) auth $((now + 100))" 100
expect_eq "$(nbenched)" 2 "/admin/status: both allbad keys benched"
for d in openai anthropic gemini; do
	mocks_reset "$MOCK2_URL"
	dialect_call ben_$d $d "$KA" allbad >/dev/null
	auth_failed ben_$d $d
	expect_eq "$(attempts "$MOCK2_URL")" 0 "ben_$d: calls"
done
mc_set "kp:allbad:$(fp k-bad2)" "$((now + 40)) rate_limited 0" 40
mocks_reset "$MOCK2_URL"
st=$(chat_as rl "$KA" allbad "rate limited")
expect_eq "$st" 429 "one key rate limited: 429"
expect_eq "$(jget error.code "$T/rl.body")" upstream_keys_resting "rate limited: code"
expect_ge "$(header rl retry-after)" 30 "rate limited: Retry-After"
row "every key benched (auth) / one rate limited" "$(cat "$T/ben_openai.code") / $st" 0 "-"

for f in "$OWN_DIR"/logs/*.log "$T/st.body" "$T/m.body"; do
	for k in k-revoked k-bad1 k-bad2 k-good; do
		expect_eq "$(grep -c -- "$k" "$f")" 0 "$k in $(basename "$f")"
	done
done
fault_finish
