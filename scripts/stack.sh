#!/usr/bin/env bash
# stack.sh - start and stop a whole relay stack on loopback: memcached, the
# mock upstream, the four responders and lighttpd or Caddy. Sourced by
# scripts/run.sh (make run) and by the integration tests.
#
# Inputs (environment): BUILD (binaries), RUN_DIR, SERVER (lighttpd|caddy),
# PORT, MC_PORT, MOCK_PORT (0: pick free ports), THREADS, RELAY_CONFIG,
# STACK_SHARED_DATA (a data_dir shared with another stack; default: own).
# After stack_start: STACK_PIDS, PORT, MC_PORT, MOCK_PORT, BASE_URL.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_PIDS=()

# A TCP port on 127.0.0.1 that nothing listens on.
stack_free_port() {
	local p
	for _ in $(seq 1 200); do
		# Below the kernel's ephemeral range (32768 and up by default),
		# where outgoing connections would make a later bind fail.
		p=$((10000 + RANDOM % 22000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# The last error a component logged (its log's last "error" or "fatal"
# line, else its last line), without the timestamp: what a terminal shows
# so that nobody has to open the log to learn why something failed.
stack_last_error() { # name
	local f="$RUN_DIR/logs/$1.log" line
	[ -s "$f" ] || return 0
	line=$(grep -aiE '(^|[] ])(error|fatal|emerg|crit)[]: ]|panic|refused|cannot|could not' "$f" | tail -n 1)
	[ -n "$line" ] || line=$(tail -n 1 "$f")
	# relay: "2026-...Z error relay-x[pid] msg"; lighttpd: "2026-... (file.c.N) msg".
	printf '%s\n' "$line" | sed -E 's/^[0-9]{4}-[0-9-]+[T ][0-9:.]+Z? //' | cut -c1-400
}

# Wait until cmd succeeds, at most $1 tenths of a second.
stack_wait() {
	local n=$1
	shift
	for _ in $(seq 1 "$n"); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stack_tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# STACK_NAMES[i] is the component STACK_PIDS[i] runs (stack_respawn).
STACK_NAMES=()
stack_spawn() { # name, command...
	local name=$1
	shift
	"$@" >>"$RUN_DIR/logs/$name.log" 2>&1 &
	STACK_PIDS+=($!)
	STACK_NAMES+=("$name")
	eval "PID_${name//-/_}=$!"
}

# The relay's limits.max_body_bytes from RELAY_CONFIG, else its default
# (RELAY_BODY_MAX_DEFAULT in lib/limits.h: keep the two in step).
STACK_BODY_MAX_DEFAULT=16777216
stack_body_max() {
	local v=""
	if [ -n "${RELAY_CONFIG:-}" ] && [ -r "$RELAY_CONFIG" ]; then
		if command -v jq >/dev/null; then
			v=$(jq -r '.limits.max_body_bytes // empty' "$RELAY_CONFIG" 2>/dev/null)
		else
			# The config's schema has this key under limits only.
			v=$(grep -o '"max_body_bytes"[[:space:]]*:[[:space:]]*[0-9]*' "$RELAY_CONFIG" |
			    grep -o '[0-9]*$' | head -n 1)
		fi
	fi
	[[ $v =~ ^[0-9]+$ ]] || v=$STACK_BODY_MAX_DEFAULT
	echo "$v"
}

# The web server's request body bound: the relay's limit plus a quarter
# (a body just over the limit still reaches the relay, whose 413 speaks
# the caller's dialect), in bytes (Caddy) and KiB (lighttpd).
# relay-chat's backends as the web server names them: its unix socket, or
# with STACK_CHAT_TCP ("host:port host:port ...") one FastCGI over TCP
# backend per address (one relay-chat each), which the web server spreads
# requests over and skips when one goes away.
stack_chat_lighttpd() {
	local a out=""
	if [ -z "${STACK_CHAT_TCP:-}" ]; then
		echo "( \"socket\" => \"$RUN_DIR/chat.sock\", \"check-local\" => \"disable\" )"
		return
	fi
	for a in $STACK_CHAT_TCP; do
		out+="${out:+, }( \"host\" => \"${a%:*}\", \"port\" => ${a##*:}, \"check-local\" => \"disable\" )"
	done
	echo "$out"
}
stack_chat_caddy() {
	local a out=""
	if [ -z "${STACK_CHAT_TCP:-}" ]; then
		echo "unix/$RUN_DIR/chat.sock"
		return
	fi
	for a in $STACK_CHAT_TCP; do out+="${out:+ }$a"; done
	echo "$out"
}

stack_render() { # template output
	local b
	b=$(stack_body_max)
	b=$((b + b / 4))
	local lb=""
	[ -n "${STACK_CHAT_TCP:-}" ] &&
	    lb='lb_policy least_conn\n\t\tlb_try_duration 2s\n\t\tlb_try_interval 50ms\n\t\tfail_duration 5s'
	# TLS (STACK_TLS_CERT, STACK_TLS_KEY: PEM files) and the proxies
	# whose X-Forwarded-For lighttpd trusts (STACK_TRUSTED_PROXIES).
	local scheme=http ctls="" trust="" a
	if [ -n "${STACK_TLS_CERT:-}" ]; then
		scheme=https
		ctls="tls $STACK_TLS_CERT $STACK_TLS_KEY"
	fi
	for a in ${STACK_TRUSTED_PROXIES:-}; do
		trust+="${trust:+, }\"$a\" => \"trust\""
	done
	sed -e "s|@CHAT_LIGHTTPD@|$(stack_chat_lighttpd)|g" \
	    -e "s|@SCHEME@|$scheme|g" -e "s|@CADDY_TLS@|$ctls|g" \
	    -e "s|@TLS_CERT@|${STACK_TLS_CERT:-}|g" -e "s|@TLS_KEY@|${STACK_TLS_KEY:-}|g" \
	    -e "s|@TRUSTED_LIGHTTPD@|$trust|g" \
	    -e "s|@CHAT_CADDY_LB@|$lb|g" \
	    -e "s|@CHAT_CADDY@|$(stack_chat_caddy)|g" \
	    -e "s|@PORT@|$PORT|g" -e "s|@BIND@|${BIND:-127.0.0.1}|g" \
	    -e "s|@RUN@|$RUN_DIR|g" -e "s|@BODY_MAX@|$b|g" \
	    -e "s|@BODY_MAX_KIB@|$(((b + 1023) / 1024))|g" "$1" >"$2"
}

stack_web_start() {
	stack_web_spawn
}

stack_web_spawn() {
	case $SERVER in
	lighttpd)
		stack_render "$STACK_ROOT/lighttpd/lighttpd.conf.in" "$RUN_DIR/lighttpd.conf"
		local conf=$RUN_DIR/lighttpd.conf
		if [ -n "${STACK_TLS_CERT:-}" ] || [ -n "${STACK_TRUSTED_PROXIES:-}" ]; then
			conf=$RUN_DIR/lighttpd-front.conf
			echo "include \"$RUN_DIR/lighttpd.conf\"" >"$conf"
			if [ -n "${STACK_TLS_CERT:-}" ]; then
				stack_render "$STACK_ROOT/lighttpd/tls.conf.in" "$RUN_DIR/tls.conf"
				grep -v '^include' "$RUN_DIR/tls.conf" >>"$conf"
			fi
			if [ -n "${STACK_TRUSTED_PROXIES:-}" ]; then
				stack_render "$STACK_ROOT/lighttpd/trust.conf.in" "$RUN_DIR/trust.conf"
				cat "$RUN_DIR/trust.conf" >>"$conf"
			fi
		fi
		stack_spawn lighttpd lighttpd -D -f "$conf"
		;;
	caddy)
		stack_render "$STACK_ROOT/caddy/Caddyfile.in" "$RUN_DIR/Caddyfile"
		HOME="$RUN_DIR" XDG_DATA_HOME="$RUN_DIR/tmp" XDG_CONFIG_HOME="$RUN_DIR/tmp" \
		    stack_spawn caddy caddy run --config "$RUN_DIR/Caddyfile" --adapter caddyfile
		;;
	*)
		echo "SERVER must be lighttpd or caddy" >&2
		return 1
		;;
	esac
}

stack_mc_spawn() {
	local mcuser=()
	[ "$(id -u)" = 0 ] && mcuser=(-u root)
	stack_spawn memcached memcached "${mcuser[@]}" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -c 4096
}

stack_mock_spawn() {
	stack_spawn mock "$STACK_ROOT/$BUILD/mock-upstream" -l "127.0.0.1:$MOCK_PORT" -q
}

stack_relay_spawn() { # chat|models|health|admin|chatN (N-th of STACK_CHAT_TCP)
	# Every responder runs on the loop runtime, one loop thread per
	# core. RELAY_RUNTIME=threads: relay-chat on the old runtime, with
	# THREADS request threads.
	local t=() l="unix:$RUN_DIR/$1.sock" bin=$1
	case $1 in chat[0-9]*)
		bin=chat
		l="tcp:$(echo $STACK_CHAT_TCP | cut -d' ' -f"${1#chat}")"
		;;
	esac
	[ "$bin" = chat ] && [ "${RELAY_RUNTIME:-}" = threads ] &&
	    t=(-t "$THREADS")
	stack_spawn "relay-$1" "$STACK_ROOT/$BUILD/relay-$bin" -l "$l" "${t[@]}"
}
# The responders stack_start runs: relay-chat once per STACK_CHAT_TCP address.
stack_relays() {
	local n=0 a
	if [ -z "${STACK_CHAT_TCP:-}" ]; then
		echo chat models health admin
		return
	fi
	for a in $STACK_CHAT_TCP; do n=$((n + 1)); printf 'chat%d ' "$n"; done
	echo models health admin
}
# A responder is up: its unix socket exists, or its TCP port answers.
stack_relay_up() { # chat|chatN|models|health|admin
	case $1 in
	chat[0-9]*) stack_tcp_up "$(echo $STACK_CHAT_TCP | cut -d' ' -f"${1#chat}" | sed 's/.*://')" ;;
	*) test -S "$RUN_DIR/$1.sock" ;;
	esac
}

# Start the component of STACK_PIDS[i] again, in its slot (after it died).
stack_respawn() { # i
	local i=$1
	case ${STACK_NAMES[$i]} in
	memcached) stack_mc_spawn ;;
	mock) stack_mock_spawn ;;
	relay-*) stack_relay_spawn "${STACK_NAMES[$i]#relay-}" ;;
	lighttpd | caddy) stack_web_spawn ;;
	*) return 1 ;;
	esac
	STACK_PIDS[$i]=${STACK_PIDS[-1]}
	unset 'STACK_PIDS[-1]' 'STACK_NAMES[-1]'
}

stack_start() {
	: "${BUILD:=build}" "${SERVER:=lighttpd}" "${THREADS:=128}"
	: "${RUN_DIR:=$STACK_ROOT/run}"
	mkdir -p "$RUN_DIR"/{logs,www,tmp}
	[ "${PORT:-0}" = 0 ] && PORT=$(stack_free_port)
	[ "${MC_PORT:-0}" = 0 ] && MC_PORT=$(stack_free_port)
	[ "${MOCK_PORT:-0}" = 0 ] && MOCK_PORT=$(stack_free_port)
	export RELAY_MEMCACHED="127.0.0.1:$MC_PORT"
	export RELAY_DEMO_URL="http://127.0.0.1:$MOCK_PORT/v1"
	# Each stack its own keys, unless a test shares them (two "hosts").
	export RELAY_DATA_DIR="${STACK_SHARED_DATA:-$RUN_DIR/data}"
	export RELAY_METRICS_DIR="$RUN_DIR/metrics"
	export RELAY_ACCESS_LOG="$RUN_DIR/logs/access.log"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"

	stack_mc_spawn
	stack_mock_spawn
	stack_wait 50 stack_tcp_up "$MC_PORT" ||
	    { echo "memcached did not start on 127.0.0.1:$MC_PORT: $(stack_last_error memcached)" >&2; return 1; }
	stack_wait 50 stack_tcp_up "$MOCK_PORT" ||
	    { echo "mock upstream did not start on 127.0.0.1:$MOCK_PORT: $(stack_last_error mock)" >&2; return 1; }
	local h
	for h in $(stack_relays); do
		stack_relay_spawn "$h"
	done
	for h in $(stack_relays); do
		stack_wait 100 stack_relay_up "$h" ||
		    { echo "relay-$h did not start: $(stack_last_error "relay-$h") (log: $RUN_DIR/logs/relay-$h.log)" >&2; return 1; }
	done
	# A port found free may be taken by the time the server binds it
	# (other tests run beside us): try a few.
	local try
	for try in 1 2 3; do
		stack_web_start || return 1
		stack_wait 100 stack_tcp_up "$PORT" && break
		kill -0 "${STACK_PIDS[-1]}" 2>/dev/null &&
		    { echo "$SERVER did not start: $(stack_last_error "$SERVER") (logs: $RUN_DIR/logs)" >&2; return 1; }
		unset 'STACK_PIDS[-1]' 'STACK_NAMES[-1]'
		[ "$try" = 3 ] && { echo "$SERVER did not start: $(stack_last_error "$SERVER") (logs: $RUN_DIR/logs)" >&2; return 1; }
		PORT=$(stack_free_port)
	done
	BASE_URL="http://127.0.0.1:$PORT"
	if [ -n "${STACK_TLS_CERT:-}" ]; then
		BASE_URL="https://127.0.0.1:$PORT"
	fi
}

# Stop what stack_start started (by PID, newest first), then wait for it.
stack_stop() {
	local i pid
	for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${STACK_PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${STACK_PIDS[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	STACK_PIDS=()
	STACK_NAMES=()
}
