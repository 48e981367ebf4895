#!/usr/bin/env bash
# TLS at the web server (issue 20, item 5), with a CA this test makes with
# openssl: lighttpd with certificate files (lighttpd/tls.conf.in), Caddy
# with given files (caddy/Caddyfile.in's "tls CERT KEY").
# - a stream over HTTPS with HTTP/2, and over HTTP/1.1, arrives event by
#   event; the certificate is checked (without the CA curl refuses it);
# - the relay sees the client's address: a key allowed only from
#   127.0.0.2 serves a client on 127.0.0.2 and refuses one on 127.0.0.4;
#   an X-Forwarded-For from a client nobody trusts changes nothing; with
#   lighttpd, a proxy listed as trusted (STACK_TRUSTED_PROXIES, mod_extforward)
#   passes its client's address on. (Caddy 2.6, Debian 12's, has no
#   trusted_proxies: the docs say what to use with a newer one.)
. "$(dirname "$0")/fault_lib.sh"

command -v openssl >/dev/null || fail "openssl is missing"
# --- a CA and a server certificate for 127.0.0.1 and localhost ----------------------
(
	cd "$T" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	    -subj "/CN=llm-relay test CA" >/dev/null 2>&1 &&
	    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
		-subj "/CN=localhost" >/dev/null 2>&1 &&
	    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
	    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out server.pem -days 2 -extfile ext.cnf >/dev/null 2>&1
) || fail "openssl could not make the certificates"
chmod 600 "$T/server.key"

export STACK_TLS_CERT=$T/server.pem STACK_TLS_KEY=$T/server.key
[ "$SERVER" = lighttpd ] && export STACK_TRUSTED_PROXIES="127.0.0.3"
export RELAY_ADMIN_TOKEN="adm-$RANDOM$RANDOM"
cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "p1", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [ { "name": "m", "targets": [{ "provider": "p1", "model": "up" }] } ] }
JSON
own_stack_start "$T/cfg.in"
case $BASE_URL in https://*) ;; *) fail "no https base URL: $BASE_URL" ;; esac
TLS=(--cacert "$T/ca.pem")

# Without the CA the certificate is refused: TLS is real.
rc=0
curl -sS -o /dev/null --max-time 5 "$BASE_URL/health" 2>"$T/nocert.err" || rc=$?
expect_eq "$rc" 60 "curl without the CA (certificate not verified)"

st=$(curl -sS "${TLS[@]}" --max-time 5 -o "$T/key.body" -w '%{http_code}' "$BASE_URL/admin/keys" \
    -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" -d '{"name":"tls","allowed_ips":["127.0.0.2/32"]}')
expect_eq "$st" 201 "a key allowed from 127.0.0.2 only ($(head -c 200 "$T/key.body"))"
KEY=$(jget secret "$T/key.body")
sleep 1.1

# --- streams over h2 and HTTP/1.1, event by event -------------------------------------
msg="over tls [[mock events=6 gap_ms=150]]"
chat_json m "$msg" true >"$T/s.req"
for v in http2 http1.1; do
	curl -sS -N "${TLS[@]}" --"$v" --interface 127.0.0.2 --max-time 20 \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary "@$T/s.req" \
	    -o "$T/$v.body" -w '%{http_code} %{http_version} %{time_starttransfer} %{time_total}' \
	    "$BASE_URL/v1/chat/completions" >"$T/$v.code" 2>"$T/$v.err"
	read -r st hv tfb ttot <"$T/$v.code"
	expect_eq "$st" 200 "$v stream: status ($(head -c 200 "$T/$v.body") $(cat "$T/$v.err"))"
	expect_eq "$hv" "$([ "$v" = http2 ] && echo 2 || echo 1.1)" "$v: HTTP version spoken"
	sse_summary "$v"
	expect_eq "$(sse "$v" done)" 1 "$v: [DONE]"
	expect_eq "$(sse "$v" text)" "$(mock_text "$msg")" "$v: the whole text"
	spread=$(awk -v a="$tfb" -v b="$ttot" 'BEGIN { printf "%d", (b - a) * 1000 }')
	expect_ge "$spread" 600 "$v: ms between the first byte and the end (event by event)"
	row "tls $v stream" "$st HTTP/$hv, first byte $(awk -v a="$tfb" 'BEGIN { printf "%d", a * 1000 }') ms, spread $spread ms" 1 \
	    "$(awk -v a="$ttot" 'BEGIN { printf "%d", a * 1000 }')"
done

# --- the client's address -----------------------------------------------------------------
# from FROM [X-Forwarded-For]: the status of a chat with the key.
# (HTTP/1.1: over h2 a request refused before its body is read may end in
# RST_STREAM before curl has sent the body, which curl reports as a stream
# error instead of the 403; see docs/deploy.md.)
from() {
	local xff=()
	[ -n "${2:-}" ] && xff=(-H "X-Forwarded-For: $2")
	curl -sS --http1.1 "${TLS[@]}" --interface "$1" --max-time 10 -o "$T/from.body" -w '%{http_code}' \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "${xff[@]}" \
	    --data-binary "$(chat_json m hi)" "$BASE_URL/v1/chat/completions"
}
expect_eq "$(from 127.0.0.2)" 200 "the allowed client"
expect_eq "$(from 127.0.0.4)" 403 "another client"
expect_eq "$(jget error.code "$T/from.body")" ip_not_allowed "another client: code"
expect_eq "$(from 127.0.0.4 127.0.0.2)" 403 "another client claiming the allowed address"
if [ "$SERVER" = lighttpd ]; then
	expect_eq "$(from 127.0.0.3 127.0.0.2)" 200 "a trusted proxy passing the allowed client on"
	expect_eq "$(from 127.0.0.3 127.0.0.9)" 403 "a trusted proxy passing another client on"
fi
fault_finish
log ok
