#!/usr/bin/env bash
# run_agent.sh AGENT MODEL PROMPT - one coding agent, non-interactive, one
# prompt, against the relay at $RELAY_BASE_URL with model MODEL; its answer
# on stdout. Each run gets its own HOME (and XDG dirs) under $AGENT_HOME,
# telemetry, update checks and other outside traffic off; the agent runs
# in $AGENT_CWD. AGENT: claude (Anthropic Messages), gemini (Gemini API),
# qwen (OpenAI Chat Completions), opencode (OpenAI-compatible provider).
set -u
A=$1 M=$2 P=$3
DIR=$(cd "$(dirname "$0")" && pwd)
BIN=$DIR/node_modules/.bin
: "${RELAY_BASE_URL:?}" "${AGENT_HOME:?}" "${AGENT_CWD:?}"
: "${AGENT_KEY:=sk-relay-agent-test}" "${AGENT_TIMEOUT:=120}"
mkdir -p "$AGENT_HOME"
cd "$AGENT_CWD" || exit 1
export HOME=$AGENT_HOME XDG_CONFIG_HOME=$AGENT_HOME/.config \
    XDG_DATA_HOME=$AGENT_HOME/.local/share XDG_CACHE_HOME=$AGENT_HOME/.cache \
    XDG_STATE_HOME=$AGENT_HOME/.local/state
export NO_COLOR=1 CI=1 TERM=dumb
# No registry behind an agent's back (OpenCode installs plugins with npm).
export npm_config_registry=http://127.0.0.1:9/ npm_config_offline=true
case $A in
claude)
	export ANTHROPIC_BASE_URL=$RELAY_BASE_URL ANTHROPIC_API_KEY=$AGENT_KEY \
	    DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
	    DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1 \
	    ANTHROPIC_MODEL=$M ANTHROPIC_SMALL_FAST_MODEL=$M \
	    ANTHROPIC_DEFAULT_HAIKU_MODEL=$M ANTHROPIC_DEFAULT_SONNET_MODEL=$M \
	    ANTHROPIC_DEFAULT_OPUS_MODEL=$M
	exec timeout -k 5 "$AGENT_TIMEOUT" "$BIN/claude" -p "$P" --model "$M"
	;;
gemini)
	mkdir -p "$HOME/.gemini"
	cat >"$HOME/.gemini/settings.json" <<'JSON'
{ "telemetry": { "enabled": false },
  "privacy": { "usageStatisticsEnabled": false },
  "general": { "disableAutoUpdate": true, "disableUpdateNag": true },
  "security": { "auth": { "selectedType": "gemini-api-key" } } }
JSON
	export GEMINI_API_KEY=$AGENT_KEY GOOGLE_GEMINI_BASE_URL=$RELAY_BASE_URL \
	    GEMINI_CLI_NO_RELAUNCH=1 GEMINI_CLI_TRUST_WORKSPACE=true
	exec timeout -k 5 "$AGENT_TIMEOUT" "$BIN/gemini" -p "$P" -m "$M"
	;;
qwen)
	mkdir -p "$HOME/.qwen"
	cat >"$HOME/.qwen/settings.json" <<'JSON'
{ "telemetry": { "enabled": false },
  "privacy": { "usageStatisticsEnabled": false },
  "general": { "disableAutoUpdate": true },
  "security": { "auth": { "selectedType": "openai" } } }
JSON
	export OPENAI_API_KEY=$AGENT_KEY OPENAI_BASE_URL=$RELAY_BASE_URL/v1 \
	    OPENAI_MODEL=$M
	exec timeout -k 5 "$AGENT_TIMEOUT" "$BIN/qwen" -p "$P" --auth-type openai -m "$M"
	;;
opencode)
	export OPENCODE_CONFIG_CONTENT="{\"autoupdate\":false,\"share\":\"disabled\",
 \"provider\":{\"relay\":{\"npm\":\"@ai-sdk/openai-compatible\",\"name\":\"relay\",
  \"options\":{\"baseURL\":\"$RELAY_BASE_URL/v1\",\"apiKey\":\"$AGENT_KEY\"},
  \"models\":{\"$M\":{\"name\":\"$M\"}}}},\"model\":\"relay/$M\"}"
	export OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 \
	    OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 \
	    OPENCODE_DISABLE_SHARE=1 OPENCODE_DISABLE_CLAUDE_CODE=1 \
	    OPENCODE_DISABLE_EXTERNAL_SKILLS=1
	exec timeout -k 5 "$AGENT_TIMEOUT" "$BIN/opencode" run -m "relay/$M" "$P"
	;;
*)
	echo "run_agent.sh: unknown agent $A" >&2
	exit 2
	;;
esac
