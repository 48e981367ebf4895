#!/usr/bin/env bash
# What ties a request across tiers (issue 21): every upstream call carries
# the request's x-request-id (which a relay behind adopts as its own, see
# t_request_id), a traceparent continuing the client's trace with this
# hop's parent id (a new trace when the client sent none or a bad one),
# and a User-Agent; each dialect's provider alike.
. "$(dirname "$0")/lib.sh"

up_header() { # NAME HEADER: a header of the mock's last request
	mock_last_request "$1.up"
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String((r.headers || {})[process.argv[2]] || ""))' "$T/$1.up.json" "$2"
}

TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
for m in demo m-anthropic m-gemini m-azure; do
	assert_eq "$(post "h-$m" "$(chat_json "$m" hi)" -H "x-request-id: tier-$m-1" -H "traceparent: $TP")" 200 "$m"
	assert_eq "$(up_header "h-$m" x-request-id)" "tier-$m-1" "$m: the request id goes upstream"
	tp=$(up_header "h-$m" traceparent)
	assert_match "$tp" '^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$' "$m: the client's trace continues"
	assert_ne "$tp" "$TP" "$m: this hop's own parent id"
	assert_match "$(up_header "h-$m" user-agent)" '^llm-relay/[0-9]' "$m: User-Agent"
done
post s1 "$(chat_json demo hi true)" -H 'x-request-id: tier-stream-1' >/dev/null
assert_eq "$(up_header s1 x-request-id)" tier-stream-1 "stream: the request id goes upstream"
post n1 "$(chat_json demo hi)" -H 'traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01' >/dev/null
assert_match "$(up_header n1 traceparent)" '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$' "a bad traceparent: a new trace"
assert_ne "$(up_header n1 traceparent | cut -d- -f2)" 00000000000000000000000000000000 "never the all-zero trace id"
assert_eq "$(up_header n1 x-request-id)" "$(header n1 x-request-id)" "a generated id goes upstream too"

# The other routes that call a provider carry the same: /proxy/{provider}/
# and Anthropic's count_tokens.
TP2=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
assert_eq "$(req px1 "$BASE_URL/proxy/demo/models" -H 'x-request-id: tier-proxy-1' -H "traceparent: $TP2")" 200 "/proxy/ GET"
assert_eq "$(up_header px1 x-request-id)" tier-proxy-1 "/proxy/: the request id goes upstream"
assert_match "$(up_header px1 traceparent)" '^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$' "/proxy/: the client's trace continues"
assert_match "$(up_header px1 user-agent)" '^llm-relay/[0-9]' "/proxy/: User-Agent"
assert_eq "$(req ct1 "$BASE_URL/v1/messages/count_tokens" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' \
    -H 'x-request-id: tier-count-1' -d '{"model":"m-anthropic","messages":[{"role":"user","content":"hi"}]}')" 200 "count_tokens"
assert_eq "$(up_header ct1 x-request-id)" tier-count-1 "count_tokens: the request id goes upstream"
