#!/usr/bin/env bash
# Issue 18: a key is usable the moment the admin answers. Create then use
# at once, many times: no 401; disable then use at once: refused; enable:
# accepted; rotate: the old secret refused, the new one accepted; delete:
# refused. No sleeps anywhere (the responders stat the keys file at every
# request).
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-at-once"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }] } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-$RANDOM$RANDOM
own_stack_start "$T/cfg.in"
ADM=(-H "Authorization: Bearer $RELAY_ADMIN_TOKEN")
body=$(chat_json demo hi)

# One key first: the relay is no longer open, so a stale "no keys" view
# would let requests through rather than refuse them.
req k0 "$BASE_URL/admin/keys" "${ADM[@]}" -d '{"name":"first"}' >/dev/null
bad=0
start=$(now_ms)
# Created then used at once, many times (each admin write is fsynced: the
# loop is bounded by the disk, not by the relay).
for i in $(seq 1 20); do
	req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d "{\"name\":\"c$i\"}" >/dev/null
	c=$(post use "$body" -H "Authorization: Bearer $(jget secret "$T/mk.body")")
	[ "$c" = 200 ] || { bad=$((bad + 1)); log "created then used: $c"; }
done
measure "20 creates, each used at once: $(($(now_ms) - start)) ms"
start=$(now_ms)
for i in $(seq 1 5); do
	req mk "$BASE_URL/admin/keys" "${ADM[@]}" -d "{\"name\":\"n$i\"}" >/dev/null
	K=$(jget secret "$T/mk.body")
	ID=$(jget id "$T/mk.body")
	c=$(post use "$body" -H "Authorization: Bearer $K")
	[ "$c" = 200 ] || { bad=$((bad + 1)); log "created then used: $c"; }
	req dis "$BASE_URL/admin/keys/$ID/disable" "${ADM[@]}" -d '{}' >/dev/null
	c=$(post d "$body" -H "Authorization: Bearer $K")
	[ "$c" = 401 ] || { bad=$((bad + 1)); log "disabled then used: $c"; }
	req en "$BASE_URL/admin/keys/$ID/enable" "${ADM[@]}" -d '{}' >/dev/null
	c=$(post e "$body" -H "Authorization: Bearer $K")
	[ "$c" = 200 ] || { bad=$((bad + 1)); log "enabled then used: $c"; }
	req rot "$BASE_URL/admin/keys/$ID/rotate" "${ADM[@]}" -d '{}' >/dev/null
	K2=$(jget secret "$T/rot.body")
	c=$(post o "$body" -H "Authorization: Bearer $K")
	[ "$c" = 401 ] || { bad=$((bad + 1)); log "rotated, old secret: $c"; }
	c=$(post n "$body" -H "Authorization: Bearer $K2")
	[ "$c" = 200 ] || { bad=$((bad + 1)); log "rotated, new secret: $c"; }
	req del "$BASE_URL/admin/keys/$ID" -X DELETE "${ADM[@]}" >/dev/null
	c=$(post x "$body" -H "Authorization: Bearer $K2")
	[ "$c" = 401 ] || { bad=$((bad + 1)); log "deleted then used: $c"; }
done
measure "5 rounds of create/use/disable/enable/rotate/delete: $(($(now_ms) - start)) ms"
assert_eq "$bad" 0 "every change seen by the very next request"
