#!/usr/bin/env bash
# Hot reload: a model added to the config file is served ~1 s later by
# relay-chat and relay-models; an invalid file is refused (logged) and the
# old config stays.
. "$(dirname "$0")/lib.sh"

cat >"$T/v1.in" <<'JSON'
{
  "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1" } ],
  "models": [ { "name": "first", "targets": [{ "provider": "mock", "model": "demo" }] } ]
}
JSON
own_stack_start "$T/v1.in"

st=$(post c1 "$(chat_json first hi)")
assert_eq "$st" 200 "first model"
post c2 "$(chat_json second hi)" >/dev/null
assert_api_error c2 404 model_not_found

sed 's/"models": \[/"models": [ { "name": "second", "targets": [{ "provider": "mock", "model": "demo" }] },/' \
    "$T/v1.in" >"$T/v2.in"
render_config "$T/v2.in" >"$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"
t0=$(now_ms)
sleep 1.5
got=""
while [ $(($(now_ms) - t0)) -lt 6000 ]; do
	if [ "$(post c3 "$(chat_json second hi)")" = 200 ]; then
		got=$(($(now_ms) - t0))
		break
	fi
	sleep 0.2
done
measure "new model served ${got:-never} ms after the file changed"
[ -n "$got" ] || fail "the added model is not served: $(cat "$T/c3.body")"
assert_le "$got" 3000 "reload took (ms)"
assert_eq "$(header c3 x-relay-target)" mock/demo "new model: target"
st=$(req m1 "$BASE_URL/v1/models")
# relay-models checks on its own request: give it its second.
sleep 1.1
st=$(req m1 "$BASE_URL/v1/models")
assert_file_has "$T/m1.body" '"second"' "relay-models lists the new model"

# Invalid JSON: refused, logged, the old config keeps serving.
printf '{ "memcached": { "servers": [ broken' >"$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"
sleep 1.5
for i in 1 2 3; do
	st=$(post c4 "$(chat_json second hi)")
	assert_eq "$st" 200 "after an invalid file, request $i"
	sleep 0.3
done
assert_file_has "$OWN_DIR/logs/relay-chat.log" refused "relay-chat log"
grep -a refused "$OWN_DIR/logs/relay-chat.log" | head -n 1 | sed 's/^/  log: /'

# A valid file but an invalid config (unknown provider): refused as well.
sed 's/"provider": "mock", "model": "demo" }] },/"provider": "nope" }] },/' "$T/v2.in" >"$T/v3.in"
render_config "$T/v3.in" >"$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"
sleep 1.5
st=$(post c5 "$(chat_json second hi)")
assert_eq "$st" 200 "after an invalid config"
st=$(post c6 "$(chat_json second hi)")
assert_eq "$st" 200 "after an invalid config (2)"
n=$(grep -ac refused "$OWN_DIR/logs/relay-chat.log")
assert_ge "$n" 2 "refusals logged"
assert_file_has "$OWN_DIR/logs/relay-chat.log" 'unknown provider' "refusal names the fault"

# And the fixed file loads again.
render_config "$T/v1.in" >"$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"
sleep 1.5
post c7 "$(chat_json second hi)" >/dev/null
post c7 "$(chat_json second hi)" >/dev/null
assert_api_error c7 404 model_not_found
