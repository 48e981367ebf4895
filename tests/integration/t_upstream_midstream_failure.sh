#!/usr/bin/env bash
# The upstream dies in the middle of a stream (reset, or a clean close
# before the end): the client gets the events so far and then an SSE error
# event, never [DONE], so SDKs raise instead of truncating silently.
. "$(dirname "$0")/lib.sh"

for d in reset_after close_after; do
	st=$(post m_$d "$(chat_json demo "die [[mock events=6 $d=3]]" true)")
	assert_eq "$st" 200 "$d: status"
	data_lines "$T/m_$d.body" >"$T/m_$d.data"
	assert_eq "$(wc -l <"$T/m_$d.data")" 4 "$d: 3 events then the error event"
	tail -n 1 "$T/m_$d.data" | sed 's/^data: //' >"$T/m_$d.last"
	assert_ne "$(jget error.message "$T/m_$d.last")" __missing__ "$d: last event is an error: $(cat "$T/m_$d.last")"
	assert_file_lacks "$T/m_$d.body" "[DONE]" "$d: [DONE]"
done

# A non-stream answer whose body is cut short (head with Content-Length,
# then the connection closes): 502, not a 200 with half a body.
st=$(post m_ns "$(chat_json demo 'cut [[mock close_after=0]]')")
assert_api_error m_ns 502
