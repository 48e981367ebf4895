#!/usr/bin/env bash
# Egress proxies per provider and per key (issue 20, item 6), through real
# proxies on loopback: tinyproxy (HTTP CONNECT, with Basic credentials) and
# microsocks (SOCKS5; socks5h: the proxy resolves the upstream's name).
# - streams arrive event by event through each proxy;
# - providers without a proxy go direct although HTTP(S)_PROXY/ALL_PROXY
#   name a dead proxy in the responders' environment;
# - a key's own proxy wins over its provider's;
# - proxy failures (no proxy listening, refused credentials, the proxy
#   cannot reach the upstream; HTTP and SOCKS) are 502 egress_proxy_error,
#   "error":"egress_proxy" in the access log and kind="proxy" in
#   /metrics, apart from the provider's own errors (a 500 through a proxy
#   stays the provider's);
# - the proxy's password is in no log, error or metric.
. "$(dirname "$0")/fault_lib.sh"

command -v tinyproxy >/dev/null || fail "tinyproxy is not installed (scripts/deps.sh)"
command -v microsocks >/dev/null || fail "microsocks is not installed (scripts/deps.sh)"

PW="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
TP=$(stack_free_port)
SP=$(stack_free_port)
DEAD=$(stack_free_port)
while [ "$SP" = "$TP" ]; do SP=$(stack_free_port); done
while [ "$DEAD" = "$TP" ] || [ "$DEAD" = "$SP" ]; do DEAD=$(stack_free_port); done

cat >"$T/tinyproxy.conf" <<EOF
Port $TP
Listen 127.0.0.1
Timeout 60
Allow 127.0.0.1
BasicAuth relay $PW
LogLevel Connect
MaxClients 200
EOF
tinyproxy -d -c "$T/tinyproxy.conf" >"$T/tinyproxy.log" 2>&1 &
BG_PIDS+=($!)
microsocks -i 127.0.0.1 -p "$SP" >"$T/microsocks.log" 2>&1 &
BG_PIDS+=($!)
wait_until 50 stack_tcp_up "$TP" || fail "tinyproxy did not start: $(tail -n 3 "$T/tinyproxy.log")"
wait_until 50 stack_tcp_up "$SP" || fail "microsocks did not start"

# The responders' environment names a proxy that is not there: a provider
# without a proxy of its own must not use it.
export HTTP_PROXY="http://127.0.0.1:$DEAD" HTTPS_PROXY="http://127.0.0.1:$DEAD"
export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY ALL_PROXY=$HTTP_PROXY NO_PROXY=
export EGRESS_HTTP="http://relay:$PW@127.0.0.1:$TP"

cat >"$T/cfg.in" <<JSON
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 1 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "direct", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-direct"] },
    { "name": "via_http", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-http"],
      "proxy": "env:EGRESS_HTTP" },
    { "name": "via_socks", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-socks"],
      "proxy": "socks5://127.0.0.1:$SP" },
    { "name": "via_socks5h", "type": "openai", "base_url": "http://localhost:@MOCK_PORT@/v1", "api_keys": ["k-socks5h"],
      "proxy": "socks5h://127.0.0.1:$SP" },
    { "name": "key_proxy", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "proxy": "socks5://127.0.0.1:$SP",
      "api_keys": [{ "key": "k-keyproxy", "proxy": "http://127.0.0.1:$DEAD" }] },
    { "name": "bad_auth", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-bad"],
      "proxy": "http://relay:wrong-$PW@127.0.0.1:$TP" },
    { "name": "no_proxy", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k-np"],
      "proxy": "http://127.0.0.1:$DEAD" },
    { "name": "http_unreach", "type": "openai", "base_url": "http://127.0.0.1:$DEAD/v1", "api_keys": ["k-hu"],
      "proxy": "env:EGRESS_HTTP" },
    { "name": "socks_unreach", "type": "openai", "base_url": "http://127.0.0.1:$DEAD/v1", "api_keys": ["k-su"],
      "proxy": "socks5://127.0.0.1:$SP" },
    { "name": "stored", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" }
  ],
  "models": [
    { "name": "direct", "targets": [{ "provider": "direct", "model": "up" }] },
    { "name": "via_http", "targets": [{ "provider": "via_http", "model": "up" }] },
    { "name": "via_socks", "targets": [{ "provider": "via_socks", "model": "up" }] },
    { "name": "via_socks5h", "targets": [{ "provider": "via_socks5h", "model": "up" }] },
    { "name": "key_proxy", "targets": [{ "provider": "key_proxy", "model": "up" }] },
    { "name": "bad_auth", "targets": [{ "provider": "bad_auth", "model": "up" }] },
    { "name": "no_proxy", "targets": [{ "provider": "no_proxy", "model": "up" }] },
    { "name": "http_unreach", "targets": [{ "provider": "http_unreach", "model": "up" }] },
    { "name": "socks_unreach", "targets": [{ "provider": "socks_unreach", "model": "up" }] },
    { "name": "stored", "targets": [{ "provider": "stored", "model": "up" }] }
  ] }
JSON
export RELAY_ADMIN_TOKEN="adm-$RANDOM$RANDOM"
RELAY_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export RELAY_MASTER_KEY
own_stack_start "$T/cfg.in"
# (Only the responders keep them: this script's own curls go direct.)
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY NO_PROXY
ACCESS=$OWN_DIR/logs/access.log

# --- streams through each way out, event by event --------------------------------
# 6 events 150 ms apart: the first must arrive well before the last.
msg="stream through [[mock events=6 gap_ms=150]]"
for m in direct via_http via_socks via_socks5h; do
	mocks_reset "$MOCK_URL"
	chat_json "$m" "$msg" true >"$T/$m.req"
	curl -sS -N --max-time 20 -H 'Content-Type: application/json' --data-binary "@$T/$m.req" \
	    -o "$T/$m.body" -w '%{http_code} %{time_starttransfer} %{time_total}' \
	    "$BASE_URL/v1/chat/completions" >"$T/$m.code" 2>"$T/$m.err"
	read -r st tfb ttot <"$T/$m.code"
	expect_eq "$st" 200 "$m: stream status ($(head -c 200 "$T/$m.body"))"
	sse_summary "$m"
	expect_eq "$(sse "$m" done)" 1 "$m: [DONE]"
	expect_eq "$(sse "$m" errors)" 0 "$m: no error event"
	expect_eq "$(sse "$m" text)" "$(mock_text "$msg")" "$m: the whole text"
	spread=$(awk -v a="$tfb" -v b="$ttot" 'BEGIN { printf "%d", (b - a) * 1000 }')
	expect_ge "$spread" 600 "$m: ms between the first byte and the end (event by event)"
	expect_eq "$(attempts "$MOCK_URL")" 1 "$m: calls reaching the mock"
	row "$m stream" "$st, first byte $(awk -v a="$tfb" 'BEGIN { printf "%d", a * 1000 }') ms, spread $spread ms" 1 \
	    "$(awk -v a="$ttot" 'BEGIN { printf "%d", a * 1000 }')"
done
# tinyproxy saw the tunnels (CONNECT) of via_http only.
n=$(grep -c "CONNECT 127.0.0.1:$MOCK_PORT" "$T/tinyproxy.log" || true)
expect_ge "$n" 1 "CONNECTs tinyproxy logged"

# --- a stored credential's own proxy, sealed like its key ----------------------------
# (The proxy named as localhost: a connection kept from via_http's calls to
# the same proxy URL would carry the call without a new CONNECT.)
before=$(grep -c "CONNECT 127.0.0.1:$MOCK_PORT" "$T/tinyproxy.log" || true)
st=$(req cred "$BASE_URL/admin/credentials" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" \
    -d "{\"provider\":\"stored\",\"api_key\":\"sk-stored-1234567\",\"proxy\":\"http://relay:$PW@localhost:$TP\"}")
expect_eq "$st" 201 "store a credential with a proxy ($(head -c 200 "$T/cred.body"))"
expect_eq "$(jget proxy "$T/cred.body")" "http://***@localhost:$TP" "the proxy as the admin API shows it"
sleep 0.5
st=$(chat stored stored "hello")
expect_eq "$st" 200 "chat with the stored key through its proxy ($(head -c 200 "$T/stored.body"))"
after=$(grep -c "CONNECT 127.0.0.1:$MOCK_PORT" "$T/tinyproxy.log" || true)
expect_eq "$after" "$((before + 1))" "CONNECTs of the stored credential's call"
grep -q -- "$PW" "$OWN_DIR/data/credentials.json" && expect_eq "clear" "sealed" "proxy password in credentials.json"

# --- failures: the proxy's, told apart -------------------------------------------------
# proxy_error NAME MODEL WORDS: 502 egress_proxy_error whose message has WORDS.
proxy_error() {
	local st code m
	st=$(chat "$1" "$2" "hello")
	code=$(jget error.code "$T/$1.body")
	m=$(jget error.message "$T/$1.body")
	expect_eq "$st" 502 "$1: status ($(head -c 200 "$T/$1.body"))"
	expect_eq "$code" egress_proxy_error "$1: error code"
	case $m in *"$3"*) ;; *) expect_eq "$m" "...$3..." "$1: message" ;; esac
	log "$1: $st $code: $m"
}
proxy_error keyp key_proxy "could not connect to the egress proxy"
proxy_error auth bad_auth "proxy authentication required"
proxy_error noproxy no_proxy "could not connect to the egress proxy"
proxy_error hunreach http_unreach "the egress proxy refused the tunnel"
proxy_error sunreach socks_unreach "the egress proxy could not connect to the upstream"

# The provider's own error through a proxy is the provider's.
st=$(chat p500 via_http "fail [[mock status=500]]")
expect_eq "$st" 500 "a provider's 500 through the proxy: status"
expect_ne_code=$(jget error.code "$T/p500.body")
[ "$expect_ne_code" = egress_proxy_error ] && expect_eq "$expect_ne_code" "not egress_proxy_error" "a provider's 500 through the proxy: code"

# --- access log and metrics ----------------------------------------------------------
sleep 0.3
for m in key_proxy bad_auth no_proxy http_unreach socks_unreach; do
	line=$(grep "\"model\":\"$m\"" "$ACCESS" | tail -n 1)
	case $line in *'"error":"egress_proxy"'*) ;; *) expect_eq "$line" '..."error":"egress_proxy"...' "access line of $m" ;; esac
done
line=$(grep '"model":"via_http"' "$ACCESS" | grep '"status":500' | tail -n 1)
case $line in *'"error"'*) expect_eq "$line" "no error member" "access line of a provider's 500" ;; esac
curl -sS --max-time 5 "$BASE_URL/metrics" >"$T/metrics.txt"
for p in key_proxy bad_auth no_proxy http_unreach socks_unreach; do
	grep -q "relay_upstream_errors_total{provider=\"$p\",kind=\"proxy\"} 1" "$T/metrics.txt" ||
	    expect_eq "$(grep "provider=\"$p\"" "$T/metrics.txt" | head -n 2 | tr '\n' ' ')" "kind=proxy 1" "metrics of $p"
done
grep -q 'relay_upstream_errors_total{provider="via_http",kind="server_error"} 1' "$T/metrics.txt" ||
    expect_eq "$(grep 'provider="via_http"' "$T/metrics.txt" | tr '\n' ' ')" "kind=server_error 1" "metrics of via_http's 500"

# --- the proxy's password is nowhere -----------------------------------------------------
for f in "$OWN_DIR"/logs/*.log "$T"/*.body "$T/metrics.txt"; do
	if grep -q -- "$PW" "$f"; then
		expect_eq "$f" "no proxy password" "proxy password leaked into $(basename "$f")"
	fi
done
fault_finish
log ok
