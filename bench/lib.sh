# bench/lib.sh - helpers shared by bench/run.sh and bench/icount.sh (sourced).
# Needs ROOT and BUILD set by the caller.

bench_deps() { # install what is missing, in the style of scripts/deps.sh
	local pkgs=(wrk nginx-light lighttpd caddy memcached valgrind nodejs npm) missing=() p
	for p in "${pkgs[@]}"; do
		case $p in
		nodejs | npm) command -v "${p/nodejs/node}" >/dev/null && continue ;;
		nginx-light) command -v nginx >/dev/null && continue ;;
		esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		    missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "bench: installing ${missing[*]}"
		local SUDO=
		[ "$(id -u)" = 0 ] || SUDO=sudo
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq \
		    --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

bench_loadgen() { # build the client into $BUILD/bench/
	mkdir -p "$ROOT/$BUILD/bench"
	LOADGEN=$ROOT/$BUILD/bench/loadgen
	if [ ! -x "$LOADGEN" ] || [ "$ROOT/bench/loadgen.c" -nt "$LOADGEN" ]; then
		cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$LOADGEN" "$ROOT/bench/loadgen.c" || return 1
	fi
}

# key=value output of loadgen -> value of one key
kv() { # line key
	local x
	for x in $1; do
		[ "${x%%=*}" = "$2" ] && { echo "${x#*=}"; return; }
	done
	echo NA
}

# utime+stime ticks summed over PIDs
cpu_ticks() {
	local s=0 p line f
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		read -r line <"/proc/$p/stat" || continue
		line=${line##*) }
		read -r -a f <<<"$line"
		s=$((s + f[11] + f[12]))
	done
	echo "$s"
}

# VmRSS in kB summed over PIDs
rss_kb() {
	local s=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# Background sampler: peak of rss_kb PIDs into FILE until killed.
rss_sampler_start() { # file pids...
	local f=$1
	shift
	(
		m=0
		while :; do
			v=$(rss_kb "$@")
			[ "$v" -gt "$m" ] && { m=$v; echo "$m" >"$f"; }
			sleep 0.1
		done
	) &
	SAMPLER=$!
}
rss_sampler_stop() {
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
}

# arithmetic on figures that may be NA; division by 0 gives NA
calc() {
	case " $* " in *NA*) echo NA; return ;; esac
	awk "BEGIN { x = $*; printf \"%.4g\", x }" 2>/dev/null || echo NA
}

# The key the load generators send (sk-bench), with every limit a key can
# have switched on (requests and tokens per minute, concurrency, tokens per
# day, monthly budget), set high enough never to refuse: each request pays
# the whole key check and the limits' memcached round trips.
bench_keys() { # data_dir
	local h
	h=$(printf '%s' sk-bench | sha256sum | cut -d' ' -f1)
	mkdir -p "$1"
	printf '{"keys":[{"id":"key_00000000be4c","name":"bench","hash":"%s","rpm":1000000000,"tpm":1000000000000,"max_concurrency":1000000,"daily_tokens":100000000000000,"monthly_budget_usd":1000000000}]}\n' \
	    "$h" >"$1/keys.json"
}

# Start a relay stack (scripts/stack.sh) on fresh ports; retry when a port
# was taken in between by someone else on this shared machine.
bench_stack_start() { # server threads run_dir
	local try
	bench_keys "$3/data"
	for try in 1 2 3; do
		PORT=0 MC_PORT=0 MOCK_PORT=0
		SERVER=$1 THREADS=$2 RUN_DIR=$3 BUILD=$BUILD stack_start >>"$3.start.log" 2>&1 && return 0
		stack_stop
		sleep 0.5
	done
	echo "bench: could not start the $1 stack (see $3/logs)" >&2
	return 1
}

# Instructions (callgrind Ir) per request inside relay-chat's worker threads,
# with relay-chat behind lighttpd. Drives N_JSON non-stream requests and
# N_SSE streams (8 events, no gap). Prints "ir_total= requests= ir_per_req=";
# leaves the callgrind file in RUN_DIR/callgrind.out.
callgrind_relay() { # run_dir n_json n_sse
	local rd=$1 nj=$2 ns=$3 vg pid ir
	bench_stack_start lighttpd 4 "$rd" || return 1
	kill -TERM "$PID_relay_chat"
	wait "$PID_relay_chat" 2>/dev/null
	rm -f "$rd/chat.sock"
	# Every thread of relay-chat counts (the loop runtime switches stacks,
	# which callgrind's --toggle-collect cannot follow): counters zeroed
	# once it listens, dumped after the workload, so start-up is left out.
	valgrind --tool=callgrind --callgrind-out-file="$rd/callgrind.out" \
	    "$ROOT/$BUILD/relay-chat" -l "unix:$rd/chat.sock" -t 2 \
	    >"$rd/logs/relay-chat-callgrind.log" 2>&1 &
	vg=$!
	stack_wait 300 test -S "$rd/chat.sock" || { echo "bench: relay-chat under valgrind did not start" >&2; kill "$vg"; stack_stop; return 1; }
	sleep 0.5
	callgrind_control -z "$vg" >/dev/null 2>&1
	"$LOADGEN" lat -p "$PORT" -b "$ROOT/bench/body-instant.json" -n "$nj" >"$rd/cg-lat.txt" || true
	if [ "$ns" -gt 0 ]; then
		"$LOADGEN" sse -p "$PORT" -b "$ROOT/bench/body-stream8.json" -n "$ns" -c 1 -g 0 >"$rd/cg-sse.txt" || true
	fi
	callgrind_control -d "$vg" >/dev/null 2>&1
	kill -TERM "$vg"
	wait "$vg" 2>/dev/null
	stack_stop
	ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$rd"/callgrind.out.1 2>/dev/null)
	local ok1 ok2
	ok1=$(kv "$(cat "$rd/cg-lat.txt")" ok)
	ok2=0
	[ "$ns" -gt 0 ] && ok2=$(kv "$(cat "$rd/cg-sse.txt")" ok)
	[[ $ok1 =~ ^[0-9]+$ ]] || ok1=0
	[[ $ok2 =~ ^[0-9]+$ ]] || ok2=0
	local n=$((ok1 + ok2))
	echo "ir_total=${ir:-NA} requests=$n ir_per_req=$(calc "${ir:-NA} / $n")"
}

# The mock upstream and nginx proxy_pass to it, of the direct and nginx
# paths, under $1/own: sets MOCKP, MOCK_PID, NGXP, NGX_PID, NGX_ALL (master
# and workers) and appends the PIDs to OWN (the caller's, ended at exit).
bench_own_mock_nginx() { # base
	mkdir -p "$1/own/logs" "$1/own/tmp"
	MOCKP=$(stack_free_port)
	"$ROOT/$BUILD/mock-upstream" -l "127.0.0.1:$MOCKP" -q >"$1/own/logs/mock.log" 2>&1 &
	MOCK_PID=$!
	OWN+=("$MOCK_PID")
	NGXP=$(stack_free_port)
	sed -e "s|@PORT@|$NGXP|g" -e "s|@MOCK_PORT@|$MOCKP|g" -e "s|@RUN@|$1/own|g" \
	    "$ROOT/bench/nginx.conf.in" >"$1/own/nginx.conf"
	nginx -c "$1/own/nginx.conf" -p "$1/own" >"$1/own/logs/nginx.out" 2>&1 &
	NGX_PID=$!
	OWN+=("$NGX_PID")
	local p
	for p in $MOCKP $NGXP; do
		stack_wait 150 stack_tcp_up "$p" || { echo "bench: port $p did not come up (logs in $1/own/logs)" >&2; return 1; }
	done
	NGX_ALL="$NGX_PID $(pgrep -P "$NGX_PID" | tr '\n' ' ')"
}

# End what a bench script started: its samplers, the relay stack, and the
# PIDs in OWN (run at exit, and between phases).
bench_cleanup() {
	[ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null
	[ -n "${PEAKS:-}" ] && kill "$PEAKS" 2>/dev/null
	stack_stop 2>/dev/null
	local p
	for p in "${OWN[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${OWN[@]}"; do wait "$p" 2>/dev/null; done
	OWN=()
}
