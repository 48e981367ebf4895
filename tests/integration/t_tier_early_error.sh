#!/usr/bin/env bash
# A stream whose first event is the upstream's error (a relay behind that
# held its heartbeat and then failed, or a provider that answers 200 and
# errs at once): no answer went out, so it is a failure like an error
# status: retried, then the next target; when all fail, a 502 carrying
# the upstream's error in the caller's dialect, not a 200 stream with an
# error inside. The mock's x-mock-error-after: 0 (a provider header) makes
# the first provider do it.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "retry": { "max_attempts": 2, "base_delay_ms": 20, "max_delay_ms": 100 },
  "breaker": { "failures": 0 },
  "providers": [
    { "name": "errs", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"],
      "headers": { "x-mock-error-after": "0" } },
    { "name": "an-errs", "type": "anthropic", "base_url": "http://127.0.0.1:@MOCK_PORT@", "api_keys": ["k"],
      "headers": { "x-mock-error-after": "0" } },
    { "name": "good", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1", "api_keys": ["k"] } ],
  "models": [
    { "name": "fo", "targets": [{ "provider": "errs", "priority": 0 }, { "provider": "good", "priority": 1 }] },
    { "name": "only", "targets": [{ "provider": "errs" }] },
    { "name": "an-only", "targets": [{ "provider": "an-errs" }] } ] }
JSON
own_stack_start "$T/cfg.in"

u=$(mock_stat requests)
assert_eq "$(post f1 "$(chat_json fo 'hello there' true)")" 200 "failover: status"
assert_eq "$(( $(mock_stat requests) - u ))" 3 "failover: 2 attempts at the failing target, then the next"
assert_file_lacks "$T/f1.body" '"error"' "failover: no error in the stream"
assert_file_has "$T/f1.body" "data: [DONE]" "failover: a complete stream"

u=$(mock_stat requests)
post o1 "$(chat_json only 'hello there' true)" >/dev/null
assert_api_error o1 502
assert_eq "$(( $(mock_stat requests) - u ))" 2 "all failing: its attempts spent"
assert_eq "$(header o1 x-should-retry)" false "all failing: retries spent here"

printf '{"model":"an-only","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}' >"$T/a1.req"
req a1 "$BASE_URL/v1/messages" -H 'Content-Type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary "@$T/a1.req" >/dev/null
assert_eq "$(cat "$T/a1.code")/$(jget type "$T/a1.body")" "502/error" "Anthropic: the upstream's error as a 502 in its shape"
