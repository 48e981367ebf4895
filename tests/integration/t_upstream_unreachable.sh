#!/usr/bin/env bash
# A provider on a closed port: 502 upstream_unreachable, fast, stream or not.
. "$(dirname "$0")/lib.sh"

t0=$(now_ms)
post u1 "$(chat_json dead 'anyone there?')" >/dev/null
ms=$(($(now_ms) - t0))
assert_api_error u1 502 upstream_unreachable
assert_eq "$(jget error.type "$T/u1.body")" server_error "error.type"
assert_le "$ms" 3000 "a refused connection took (ms)"

post u2 "$(chat_json dead 'anyone there?' true)" >/dev/null
assert_api_error u2 502 upstream_unreachable
