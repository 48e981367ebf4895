#!/usr/bin/env bash
# /admin/status: 403 with no token configured (the shared stack); with
# RELAY_ADMIN_TOKEN (own stack): 401 without or with a wrong token, 200
# with it, and never a secret in the body.
. "$(dirname "$0")/lib.sh"

req a0 "$BASE_URL/admin/status" -H 'Authorization: Bearer anything' >/dev/null
assert_api_error a0 403

export RELAY_ADMIN_TOKEN="adm-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export ITEST_ENV_KEY="sk-env-secret-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$T/config.in" <<'JSON'
{
  "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [
    { "name": "demo", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
      "api_keys": ["sk-literal-secret-0123456789", "env:ITEST_ENV_KEY"],
      "headers": { "X-Secret-Header": "hdr-secret-value" } }
  ],
  "models": [ { "name": "demo", "targets": [{ "provider": "demo" }] } ]
}
JSON
own_stack_start "$T/config.in"

req a1 "$BASE_URL/admin/status" >/dev/null
assert_api_error a1 401
req a2 "$BASE_URL/admin/status" -H 'Authorization: Bearer wrong' >/dev/null
assert_api_error a2 401
req a3 "$BASE_URL/admin/status" -H "Authorization: Bearer ${RELAY_ADMIN_TOKEN}x" >/dev/null
assert_api_error a3 401
req a4 "$BASE_URL/admin/status" -H "Authorization: ${RELAY_ADMIN_TOKEN}" >/dev/null
assert_api_error a4 401
st=$(req a5 "$BASE_URL/admin/status" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
assert_eq "$st" 200 "right token: status"
assert_eq "$(jget config.providers.0.name "$T/a5.body")" demo "status: provider"
assert_eq "$(jget config.providers.0.api_keys "$T/a5.body")" 2 "status: key count"
assert_eq "$(jget config.models "$T/a5.body")" '["demo"]' "status: models"
assert_eq "$(jget config.source "$T/a5.body")" "$OWN_CONFIG" "status: source"
for s in sk-literal-secret-0123456789 "$ITEST_ENV_KEY" hdr-secret-value "$RELAY_ADMIN_TOKEN"; do
	assert_file_lacks "$T/a5.body" "$s" "a secret in /admin/status"
	assert_file_lacks "$T/a5.head" "$s" "a secret in the admin headers"
done
req a6 "$BASE_URL/admin/nothing" -H "Authorization: Bearer $RELAY_ADMIN_TOKEN" >/dev/null
assert_api_error a6 404
# Secrets stay out of every log too.
for s in sk-literal-secret-0123456789 "$ITEST_ENV_KEY" "$RELAY_ADMIN_TOKEN"; do
	! grep -rqF -- "$s" "$OWN_DIR/logs/" || fail "a secret in the logs: $(grep -rlF -- "$s" "$OWN_DIR/logs/")"
done
