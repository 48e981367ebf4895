#!/usr/bin/env bash
# A /proxy/ passthrough cut by the upstream (issue 19, item 6) must not
# look whole: the relay ends the FastCGI request torn (no END_REQUEST), and
# the web server aborts the client's response, so curl sees an incomplete
# transfer (exit 18 or 56) where a whole stream ends cleanly (exit 0).
# Streams (SSE) and plain bodies alike; the upstream resets (RST) or
# closes (FIN, no final chunk) mid-body.
#
# Caddy before 2.8.0 logs "aborting with incomplete response" and then
# ends the response like a whole one anyway (caddy#5951, fixed in 2.8.0
# by a panic(http.ErrAbortHandler)): there the check is that Caddy saw the
# cut, which it did not while the relay ended the request cleanly.
. "$(dirname "$0")/../integration/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "demo", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-passthru-cut"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "demo" }] } ] }
JSON
own_stack_start "$T/cfg.in"
URL=$BASE_URL/proxy/demo/chat/completions

# Whether this server shows a torn backend response to the client.
caddy_aborts() {
	local v
	v=$(caddy version 2>/dev/null | grep -o '^v\?[0-9]*\.[0-9]*' | tr -d v)
	[ -n "$v" ] && [ "${v%%.*}" -ge 2 ] && { [ "${v%%.*}" -gt 2 ] || [ "${v#*.}" -ge 8 ]; }
}
TELLS=1
[ "$SERVER" = caddy ] && ! caddy_aborts && TELLS=0

# pipe NAME STREAM DIRECTIVES [curl args]: curl's exit status.
pipe() {
	local name=$1 stream=$2 dir=$3 rc
	shift 3
	printf '{"model":"demo","stream":%s,"messages":[{"role":"user","content":"one two three four five six seven [[mock %s gap_ms=20]]"}]}' \
	    "$stream" "$dir" >"$T/$name.req"
	curl -sS -N --max-time 20 -o "$T/$name.body" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary "@$T/$name.req" "$@" "$URL" \
	    >"$T/$name.code" 2>"$T/$name.err"
	rc=$?
	measure "$SERVER | $name | http $(cat "$T/$name.code") | curl exit $rc $(head -c 80 "$T/$name.err")" >&2
	echo "$rc"
}

# Whole answers end cleanly, streamed or not.
rc=$(pipe whole_stream true "")
assert_eq "$rc" 0 "whole stream: curl exit"
assert_file_has "$T/whole_stream.body" 'data: [DONE]' "whole stream: [DONE]"
rc=$(pipe whole_plain false "")
assert_eq "$rc" 0 "whole body: curl exit"
assert_match "$(jget choices.0.message.content "$T/whole_plain.body")" 'Hello from mock' "whole body"

n_aborts() { grep -c 'aborting with incomplete response' "$OWN_DIR/logs/caddy.log" 2>/dev/null || true; }
for c in "cut_reset_stream true reset_after=3" "cut_close_stream true close_after=3" \
    "cut_reset_plain false reset_after=0"; do
	set -- $c
	before=$(n_aborts)
	rc=$(pipe "$1" "$2" "$3")
	assert_eq "$(cat "$T/$1.code")" 200 "$1: the head went out before the cut"
	if [ "$TELLS" = 1 ]; then
		assert_match "$rc" '^(18|56)$' "$1: curl sees an incomplete transfer (exit)"
	else
		# Caddy < 2.8: it must at least have seen the response torn.
		wait_until 20 test "$(n_aborts)" -gt "$before" ||
		    fail "$1: caddy did not see the cut (no 'aborting with incomplete response')"
		log "$1: caddy $(caddy version | cut -d' ' -f1) ends a torn response like a whole one (curl exit $rc)"
	fi
	[ "$2" = true ] && assert_file_lacks "$T/$1.body" 'data: [DONE]' "$1: no [DONE]"
done
assert_file_has "$OWN_DIR/logs/relay-chat.log" 'passthrough to demo broke after' "the cut is logged"

# HTTP/2 (h2c), measured only: lighttpd 1.4.69 ends the stream with
# END_STREAM after a backend error, which a client cannot tell from a
# whole one.
pipe h2_cut_stream true reset_after=3 --http2-prior-knowledge >/dev/null

# The relay serves on after torn requests.
rc=$(pipe whole_after true "")
assert_eq "$rc" 0 "a whole stream after the cuts: curl exit"
kill -0 "$PID_relay_chat" || fail "relay-chat died"
log ok
