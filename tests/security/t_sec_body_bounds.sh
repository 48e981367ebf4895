#!/usr/bin/env bash
# Body bounds before any disk write (issue 19, item 5): a body far over
# limits.max_body_bytes, with and without a key, with a Content-Length and
# chunked, on the chat, Anthropic and /proxy/ routes, is answered 401/413
# long before it could all be sent, and the web server's temp dir
# (lighttpd's upload-dirs) never holds more than about the limit. A body a
# little over the limit gets the relay's 413 in the caller's dialect; a
# body under it still goes through, chunked and slowly sent too.
. "$(dirname "$0")/../integration/lib.sh"

LIMIT=1048576
cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "limits": { "max_body_bytes": $LIMIT },
  "providers": [ { "name": "demo", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-body-bounds"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "demo" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
TMPD=$OWN_DIR/tmp # lighttpd's server.upload-dirs; Caddy's scratch
assert_eq "$(req mk "$BASE_URL/admin/keys" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" \
    -d '{"name":"bounds"}')" 201 "create a key"
K=$(jget secret "$T/mk.body")
sleep 1.1 # every responder sees the new key file within a second

# 64 MiB: at RATE the whole upload would take 8 s; bounded, the answer
# comes after about the limit, well under a second.
BIG=$T/big.bin
head -c $((64 * 1024 * 1024)) /dev/zero >"$BIG"
RATE=8M
MAX_ANSWER_MS=3000
# The temp dir may hold the bound (the limit plus a quarter) and a little.
MAX_TMP_KB=$((LIMIT * 2 / 1024))

# tmp_peak PID: the temp dir's largest size (KiB) while PID runs.
tmp_peak() {
	local max=0 s
	while kill -0 "$1" 2>/dev/null; do
		s=$(du -sk "$TMPD" 2>/dev/null | cut -f1)
		[ "${s:-0}" -gt "$max" ] && max=$s
		sleep 0.05
	done
	echo "$max"
}

# big NAME WANT(ERE) URL [curl args]: a 64 MiB upload, sampled.
big() {
	local name=$1 want=$2 url=$3 t0 pid peak ms st
	shift 3
	t0=$(now_ms)
	curl -sS --max-time 20 --limit-rate "$RATE" -o "$T/$name.body" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary "@$BIG" "$@" "$url" \
	    >"$T/$name.code" 2>"$T/$name.err" &
	pid=$!
	BG_PIDS+=("$pid")
	peak=$(tmp_peak "$pid")
	wait "$pid"
	ms=$(($(now_ms) - t0))
	st=$(cat "$T/$name.code")
	measure "$SERVER | $name | status $st | $ms ms | temp dir peak ${peak} KiB"
	[[ $st =~ ^($want)$ ]] || fail "$name: status $st, want $want ($(cat "$T/$name.err"))"
	assert_le "$ms" "$MAX_ANSWER_MS" "$name: answered before the whole body was sent (ms)"
	assert_le "$peak" "$MAX_TMP_KB" "$name: temp dir peak (KiB) within about the limit"
}

CHAT=$BASE_URL/v1/chat/completions
AUTH=(-H "Authorization: Bearer $K")
TE=(-H 'Transfer-Encoding: chunked')
big nokey_cl '401|413' "$CHAT"
big nokey_chunked '401|413' "$CHAT" "${TE[@]}"
big key_cl 413 "$CHAT" "${AUTH[@]}"
big key_chunked 413 "$CHAT" "${AUTH[@]}" "${TE[@]}"
big msg_key_cl 413 "$BASE_URL/v1/messages" -H "x-api-key: $K" -H 'anthropic-version: 2023-06-01'
big proxy_key_cl 413 "$BASE_URL/proxy/demo/chat/completions" "${AUTH[@]}"
big proxy_nokey_chunked '401|413' "$BASE_URL/proxy/demo/chat/completions" "${TE[@]}"
rm -f "$BIG"

# A little over the limit reaches the relay: its 413, in the dialect.
fill() { head -c "$1" /dev/zero | tr '\0' a; }
printf '{"model":"demo","messages":[{"role":"user","content":"%s"}]}' "$(fill $((LIMIT + 1000)))" >"$T/over.json"
req over_oa "$CHAT" "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "@$T/over.json" >/dev/null
assert_api_error over_oa 413 request_too_large
req over_oa_chunked "$CHAT" "${AUTH[@]}" "${TE[@]}" -H 'Content-Type: application/json' \
    --data-binary "@$T/over.json" >/dev/null
assert_api_error over_oa_chunked 413 request_too_large
req over_an "$BASE_URL/v1/messages" -H "x-api-key: $K" -H 'anthropic-version: 2023-06-01' \
    -H 'Content-Type: application/json' --data-binary "@$T/over.json" >/dev/null
assert_eq "$(cat "$T/over_an.code")" 413 "over_an: status"
assert_eq "$(jget type "$T/over_an.body")" error "over_an: Anthropic error shape"
assert_eq "$(jget error.type "$T/over_an.body")" request_too_large "over_an: error.type"

# Under the limit: through, with a length, chunked, and chunked slowly
# (lighttpd reads a chunked body whole before the responder sees it).
printf '{"model":"demo","messages":[{"role":"user","content":"%s"}]}' "$(fill 900000)" >"$T/under.json"
for mode in cl chunked slow; do
	a=()
	[ "$mode" != cl ] && a=("${TE[@]}")
	[ "$mode" = slow ] && a+=(--limit-rate 400k)
	st=$(req "under_$mode" "$CHAT" "${AUTH[@]}" "${a[@]}" -H 'Content-Type: application/json' \
	    --data-binary "@$T/under.json")
	assert_eq "$st" 200 "under the limit, $mode: $(head -c 300 "$T/under_$mode.body")"
done
log "ok"
