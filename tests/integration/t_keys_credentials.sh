#!/usr/bin/env bash
# Provider keys stored through the admin API: sealed at rest (AES-256-GCM),
# used for upstream calls, listed only by their last four characters, and
# re-sealed under a new master key; the plaintext is in no file or log.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
OLD=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export RELAY_MASTER_KEY=$OLD
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
SECRET="sk-stored-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

assert_eq "$(req add "$BASE_URL/admin/credentials" "${ADM[@]}" -d "{\"provider\":\"mock\",\"api_key\":\"$SECRET\",\"label\":\"main\"}")" 201 "store"
assert_eq "$(jget last4 "$T/add.body")" "${SECRET: -4}" "last four shown"
assert_file_lacks "$T/add.body" "$SECRET" "answer"
req nope "$BASE_URL/admin/credentials" "${ADM[@]}" -d '{"provider":"ghost","api_key":"k"}' >/dev/null
assert_api_error nope 400 invalid_value
sleep 1.1
mock_reset
assert_eq "$(post c "$(chat_json demo hi)")" 200 "chat with the stored key"
mock_last_request up
assert_eq "$(jget headers.authorization "$T/up.json")" "Bearer $SECRET" "upstream got the stored key"
assert_file_lacks "$OWN_DIR/data/credentials.json" "$SECRET" "plaintext at rest"
req l1 "$BASE_URL/admin/credentials" "${ADM[@]}" >/dev/null
KID1=$(jget data.0.key_id "$T/l1.body")

# Rotation: relay-admin restarted with the new key and the old as previous.
NEW=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
kill -TERM "$PID_relay_admin"
wait "$PID_relay_admin" 2>/dev/null
RELAY_MASTER_KEY=$NEW RELAY_MASTER_KEY_PREVIOUS=$OLD stack_spawn relay-admin2 \
    "$ROOT/$BUILD/relay-admin" -l "unix:$OWN_DIR/admin.sock" -t 2
wait_until 50 test -S "$OWN_DIR/admin.sock"
sleep 0.3
assert_eq "$(req re "$BASE_URL/admin/credentials/reencrypt" "${ADM[@]}" -d '{}')" 200 "reencrypt"
assert_eq "$(jget reencrypted "$T/re.body")" 1 "count"
req l2 "$BASE_URL/admin/credentials" "${ADM[@]}" >/dev/null
KID2=$(jget data.0.key_id "$T/l2.body")
assert_ne "$KID2" "$KID1" "sealed under the new key"
assert_file_lacks "$OWN_DIR/data/credentials.json" "$SECRET" "plaintext at rest after rotation"
for f in "$OWN_DIR"/logs/*.log; do
	assert_file_lacks "$f" "$SECRET" "log $(basename "$f")"
	assert_file_lacks "$f" "$OLD" "master key in $(basename "$f")"
done
