#!/usr/bin/env bash
# The loop runtime's FastCGI (lib/fcgi_loop.c) against libfcgi's own
# client, cgi-fcgi (Debian libfcgi-bin), straight to the responders'
# sockets of the shared stack, without a web server: a GET to relay-health
# and relay-models, a POST with a body to relay-admin (refused without a
# token, in JSON), and 40 requests at once to relay-health.
. "$(dirname "$0")/lib.sh"

command -v cgi-fcgi >/dev/null || fail "cgi-fcgi is not installed (scripts/deps.sh: libfcgi-bin)"

fcgi() { # socket method uri [body]: the CGI answer on stdout
	local sock=$1 method=$2 uri=$3 body=${4:-}
	printf '%s' "$body" | env -i REQUEST_METHOD="$method" REQUEST_URI="$uri" \
	    SCRIPT_NAME="$uri" SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
	    CONTENT_LENGTH="${#body}" CONTENT_TYPE=application/json \
	    REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "$sock"
}

out=$(fcgi "$STACK_DIR/health.sock" GET /health) || fail "cgi-fcgi to relay-health failed"
grep -q '^Status: 200' <<<"$out" || fail "relay-health: $out"
grep -q '"status":"ok"' <<<"$out" || fail "relay-health body: $out"

out=$(fcgi "$STACK_DIR/models.sock" GET /v1/models) || fail "cgi-fcgi to relay-models failed"
grep -q '^Status: 200' <<<"$out" || fail "relay-models: $out"
grep -q '"object":"list"' <<<"$out" || fail "relay-models body: $(head -c 300 <<<"$out")"

out=$(fcgi "$STACK_DIR/admin.sock" POST /admin/keys '{"name":"x"}') || fail "cgi-fcgi to relay-admin failed"
grep -qE '^Status: 40[13]' <<<"$out" || fail "relay-admin without a token: $out"

# Side by side: every one answered whole.
for i in $(seq 1 40); do
	fcgi "$STACK_DIR/health.sock" GET /health >"$T/par.$i" 2>&1 &
	BG_PIDS+=($!)
done
wait
n=$(grep -l '"status":"ok"' "$T"/par.* | wc -l)
[ "$n" = 40 ] || fail "40 requests at once: $n answered"
log "cgi-fcgi: 3 responders answered; 40 at once: $n"
