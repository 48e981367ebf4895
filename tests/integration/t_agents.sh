#!/usr/bin/env bash
# scenario-timeout: 420
# The coding agents themselves through the relay (issue 17): Claude Code
# (Anthropic Messages), Gemini CLI (Gemini API), Qwen Code (OpenAI Chat
# Completions) and OpenCode (an OpenAI-compatible provider), pinned in
# tests/agents/package-lock.json, each run non-interactively (its own
# HOME, telemetry and updates off) against the shared stack with a model
# of every provider type: OpenAI, Anthropic, Gemini, Azure (one of them the
# agent's own dialect, the others translated). Each turn is a tool round
# trip: the mock answers the agent's first request with a call to the
# agent's own file-reading tool (its "call=" directive), the agent reads a
# marker file and sends the result back, and the mock's final answer
# quotes it: the agent must print that answer. No request of theirs may be
# refused (access log). AGENT_JOBS (default 4) agents run side by side.
. "$(dirname "$0")/lib.sh"

ADIR=$ROOT/tests/agents
if [ ! -x "$ADIR/node_modules/.bin/claude" ] ||
    ! cmp -s "$ADIR/package-lock.json" "$ADIR/node_modules/.lock-stamp"; then
	# npm install, not npm ci: npm's lockfile leaves out the other
	# platforms' optional binaries (OpenCode's, a clipboard module's), and
	# npm ci then refuses it as out of sync; install keeps every version
	# the lockfile pins.
	(cd "$ADIR" && npm install --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
	    fail "npm install in tests/agents: $(tail -n 5 "$T/npm.log")"
	cp "$ADIR/package-lock.json" "$ADIR/node_modules/.lock-stamp"
fi

ACCESS=$STACK_DIR/logs/access.log
before=$(wc -l <"$ACCESS" 2>/dev/null || echo 0)

# agent, its file-reading tool
AGENTS="claude:Read gemini:read_file qwen:read_file opencode:read"
MODELS="m-openai m-anthropic m-gemini m-azure"
jobs_max=${AGENT_JOBS:-4}

one() { # agent tool model
	local a=$1 tool=$2 m=$3 w marker
	# Short paths: the mock's directive values are short words.
	w=$(mktemp -d /tmp/agent.XXXXXX)
	marker="relay-marker-$RANDOM$RANDOM"
	echo "$marker" >"$w/m.txt"
	local t0=$(now_ms)
	RELAY_BASE_URL=$BASE_URL AGENT_HOME=$T/home-$a-$m AGENT_CWD=$w \
	    "$ADIR/run_agent.sh" "$a" "$m" \
	    "Read the file $w/m.txt and say what it holds. [[mock call=$tool arg=$w/m.txt]]" \
	    >"$T/$a-$m.out" 2>"$T/$a-$m.err"
	echo "$? $(($(now_ms) - t0)) $marker" >"$T/$a-$m.rc"
	rm -rf "$w"
}

t0=$(now_ms)
for at in $AGENTS; do
	for m in $MODELS; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 0.2; done
		one "${at%%:*}" "${at#*:}" "$m" &
	done
done
wait
total=$(($(now_ms) - t0))

failed=0
matrix=""
for at in $AGENTS; do
	a=${at%%:*}
	row="$a:"
	for m in $MODELS; do
		read -r rc ms marker <"$T/$a-$m.rc"
		if [ "$rc" = 0 ] && grep -aq "Hello from mock. Tool said:" "$T/$a-$m.out" &&
		    grep -aq "$marker" "$T/$a-$m.out"; then
			row="$row ${m#m-}=ok(${ms}ms)"
		else
			row="$row ${m#m-}=FAIL"
			failed=1
			log "$a -> $m: rc $rc; stdout: $(tail -c 400 "$T/$a-$m.out")"
			log "  stderr: $(tail -c 600 "$T/$a-$m.err")"
		fi
	done
	matrix="$matrix
  $row"
done
log "agent x provider (tool round trip):$matrix"
measure "16 agent runs, $jobs_max side by side: $total ms"

# No request of theirs refused: every line the runs added to the access
# log (the scenarios run one at a time) is a success.
tail -n +"$((before + 1))" "$ACCESS" >"$T/access.new"
n=$(wc -l <"$T/access.new")
assert_ge "$n" 32 "access log: at least two requests per run"
refused=$(grep -c '"status":[45][0-9][0-9]' "$T/access.new" || true)
[ "$refused" = 0 ] || {
	grep '"status":[45][0-9][0-9]' "$T/access.new" | head -n 5 | sed 's/^/  /'
	fail "$refused agent requests refused"
}
[ "$failed" = 0 ] || fail "an agent did not complete its turn"
