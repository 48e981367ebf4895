#!/usr/bin/env bash
# A stream: SSE headers, every event relayed in order, [DONE] last, the
# assembled text equals the mock's reply, include_usage passes through.
. "$(dirname "$0")/lib.sh"

st=$(post s1 "$(chat_json demo 'Stream please [[mock events=6]]' true)")
assert_eq "$st" 200 "status"
assert_match "$(header s1 content-type)" '^text/event-stream' "content-type"
assert_eq "$(header s1 x-relay-target)" "demo/demo" "x-relay-target"
assert_match "$(header s1 x-request-id)" '^[0-9a-f]{32}$' "x-request-id"
assert_eq "$(header s1 cache-control)" no-cache "cache-control"
data_lines "$T/s1.body" >"$T/s1.data"
# role chunk + 6 content chunks + finish chunk + [DONE]
assert_eq "$(wc -l <"$T/s1.data")" 9 "data events"
assert_eq "$(tail -n 1 "$T/s1.data")" "data: [DONE]" "last event"
assert_file_lacks "$T/s1.body" '"error"' "no error event"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
let text = "", fin = null;
for (const l of lines.slice(0, -1)) {
  const j = JSON.parse(l.slice(6));
  if (j.object !== "chat.completion.chunk") throw new Error("object " + j.object);
  text += j.choices[0].delta.content || "";
  if (j.choices[0].finish_reason) fin = j.choices[0].finish_reason;
}
if (fin !== "stop") throw new Error("finish_reason " + fin);
if (!text.startsWith("Hello from mock. You said: Stream please")) throw new Error("text " + text);
' "$T/s1.data" || fail "stream chunks do not assemble to the reply"

# Events are relayed byte for byte as the upstream sent them (the relay
# asks the upstream for usage, which adds "usage":null to each chunk, and
# keeps the final usage chunk from a client that did not ask for it).
assert_file_lacks "$T/s1.body" '"usage":{' "usage chunk sent to a client that did not ask"
mock_last_request up1
jget body "$T/up1.json" >"$T/up1.body"
curl -sS -N --max-time 10 "$MOCK_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    --data-binary @"$T/up1.body" -o "$T/direct.body" || fail "mock direct"
norm() { sed -E 's/"created":[0-9]+/"created":0/; s/chatcmpl-mock[0-9]+/chatcmpl-mockN/; s/,"usage":null//' "$1"; }
norm "$T/s1.body" >"$T/a"
norm "$T/direct.body" | grep -v '"usage":{' | cat -s >"$T/b"
cmp -s "$T/a" "$T/b" || fail "relayed stream differs from the mock's own: $(diff "$T/a" "$T/b" | head -n 10)"

# stream_options.include_usage: the last chunk before [DONE] has usage.
st=$(post s2 "$(chat_json demo 'Usage please [[mock events=3]]' true '{"stream_options":{"include_usage":true}}')")
assert_eq "$st" 200 "usage: status"
data_lines "$T/s2.body" | tail -n 2 | head -n 1 | sed 's/^data: //' >"$T/s2.last"
assert_match "$(jget usage.completion_tokens "$T/s2.last")" '^[1-9][0-9]*$' "usage chunk"
mock_last_request up2
assert_eq "$(jget headers.accept "$T/up2.json")" text/event-stream "upstream accept for a stream"
