#!/usr/bin/env bash
# The client's credentials never reach the upstream; the provider's key
# from the config does (and no key at all for a provider without one).
. "$(dirname "$0")/lib.sh"

st=$(post a1 "$(chat_json demo 'who am i')" -H 'Authorization: Bearer client-secret-1234' \
    -H 'x-api-key: client-secret-1234' -H 'Cookie: session=client-secret-1234' \
    -H 'OpenAI-Organization: org-client')
assert_eq "$st" 200 "status"
mock_last_request up
assert_file_lacks "$T/up.json" client-secret-1234 "the client's secret upstream"
assert_file_lacks "$T/up.json" org-client "the client's organization upstream"
assert_eq "$(jget headers.authorization "$T/up.json")" "Bearer $PROVIDER_KEY" "provider key upstream"
assert_eq "$(jget body "$T/up.json" | jget messages.0.content)" "who am i" "the body upstream"

# Same for a stream.
st=$(post a2 "$(chat_json demo 'who am i' true)" -H 'Authorization: Bearer client-secret-1234')
assert_eq "$st" 200 "stream: status"
mock_last_request up2
assert_file_lacks "$T/up2.json" client-secret-1234 "stream: the client's secret upstream"
assert_eq "$(jget headers.authorization "$T/up2.json")" "Bearer $PROVIDER_KEY" "stream: provider key upstream"

# Provider "slow" has no api_keys: no Authorization upstream at all.
st=$(post a3 "$(chat_json slow 'no key')" -H 'Authorization: Bearer client-secret-1234')
assert_eq "$st" 200 "keyless provider: status"
mock_last_request up3
assert_eq "$(jget headers.authorization "$T/up3.json")" __missing__ "keyless provider: Authorization upstream"
assert_file_lacks "$T/up3.json" client-secret-1234 "keyless provider: the client's secret upstream"

# The key is never echoed to the client either.
cat "$T"/a1.head "$T"/a1.body "$T"/a2.head "$T"/a2.body >"$T/client.all"
assert_file_lacks "$T/client.all" "$PROVIDER_KEY" "provider key sent to the client"
