#!/usr/bin/env bash
# run.sh - make bench: the same workload, in one run, through
#   direct   the mock upstream itself
#   nginx    nginx proxy_pass, upstream keep-alive, proxy_buffering off (the floor)
#   lighttpd the relay (relay-chat) behind lighttpd
#   caddy    the relay behind Caddy
#   portkey  the Portkey gateway (node) pointed at the mock
# and writes bench/RESULTS.md. QUICK=1 for a short run (under a minute).
# See bench/README.md for what each figure means.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
QUICK=${QUICK:-0}
OUT=${OUT:-$ROOT/bench/RESULTS.md}
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

bench_deps || exit 1
bench_loadgen || exit 1
if [ ! -d bench/node_modules/@portkey-ai/gateway ] ||
    ! cmp -s bench/package-lock.json bench/node_modules/.lock-stamp; then
	echo "bench: npm ci in bench/ (Portkey gateway)"
	(cd bench && npm ci --no-audit --no-fund --loglevel=error) || exit 1
	cp bench/package-lock.json bench/node_modules/.lock-stamp
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ "$QUICK" = 1 ]; then
	LAT_N=300 LAT_W=50 LAT_REPS=1 WRK_D=2 WRK_RUNS=1 SSE_N=8 SSE_C=8 CG_N=60
	LEVELS="256" LADDER_PATHS="direct nginx lighttpd" LADDER_EVENTS=50 RAMP_MS=300
else
	LAT_N=2000 LAT_W=200 LAT_REPS=3 WRK_D=6 WRK_RUNS=2 SSE_N=32 SSE_C=8 CG_N=400
	LEVELS="256 512 1024 2000" LADDER_PATHS="direct nginx lighttpd caddy portkey" LADDER_EVENTS=150 RAMP_MS=1000
fi
PATHS="direct nginx lighttpd caddy portkey"
GAP=20
BASE=$(mktemp -d /tmp/llm-relay-bench.XXXXXX)
T_START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A R PORTOF PIDS RSSPIDS
OWN=()

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }

# --- the shared mock, nginx and Portkey ---------------------------------
bench_own_mock_nginx "$BASE" || exit 1
PKP=$(stack_free_port)
(cd bench && NODE_ENV=production exec node node_modules/@portkey-ai/gateway/build/start-server.js \
    --port="$PKP" --headless >"$BASE/own/logs/portkey.log" 2>&1) &
PK_PID=$!
OWN+=("$PK_PID")
stack_wait 150 stack_tcp_up "$PKP" || { log "port $PKP did not come up (logs in $BASE/own/logs)"; exit 1; }
PKH=(-H "x-portkey-provider: openai" -H "x-portkey-custom-host: http://127.0.0.1:$MOCKP/v1")
PORTOF[direct]=$MOCKP PORTOF[nginx]=$NGXP PORTOF[portkey]=$PKP
PIDS[direct]=$MOCK_PID PIDS[nginx]=$NGX_ALL PIDS[portkey]=$PK_PID
RSSPIDS[direct]=$MOCK_PID RSSPIDS[nginx]=$NGX_ALL RSSPIDS[portkey]=$PK_PID

hdrs() { [ "$1" = portkey ] && printf '%s\n' "${PKH[@]}"; }

# --- one path: latency, throughput, CPU, streaming ----------------------
measure() { # path
	local p=$1 port=${PORTOF[$1]} line out n t0 t1 h=()
	mapfile -t h < <(hdrs "$p")
	R[$p.rss_idle]=$(rss_kb ${RSSPIDS[$p]})
	log "$p: c=1 latency ($LAT_REPS x $LAT_N requests)"
	local a50=() a99=() i
	for ((i = 0; i < LAT_REPS; i++)); do
		line=$("$LOADGEN" lat -p "$port" -b bench/body-instant.json -n "$LAT_N" -w "$LAT_W" "${h[@]}")
		echo "$p lat $i: $line" >>"$BASE/lat.txt"
		a50+=("$(kv "$line" p50_us)") a99+=("$(kv "$line" p99_us)")
	done
	# median of the runs: one burst from a neighbour's job moves one run only
	R[$p.lat_p50]=$(printf '%s\n' "${a50[@]}" | sort -g | sed -n "$(((LAT_REPS + 1) / 2))p")
	R[$p.lat_p99]=$(printf '%s\n' "${a99[@]}" | sort -g | sed -n "$(((LAT_REPS + 1) / 2))p")
	for w in instant delay20; do
		log "$p: wrk -c32 $w (${WRK_D}s)"
		rss_sampler_start "$BASE/$p.rss_load" ${RSSPIDS[$p]}
		t0=$(cpu_ticks ${PIDS[$p]})
		local m0 m1
		m0=$(cpu_ticks "$MOCK_PID" ${PID_mock:-})
		out=$(BODY=bench/body-$w.json wrk -t2 -c32 -d"${WRK_D}s" -s bench/post.lua "${h[@]}" \
		    "http://127.0.0.1:$port/v1/chat/completions" 2>&1)
		t1=$(cpu_ticks ${PIDS[$p]})
		m1=$(cpu_ticks "$MOCK_PID" ${PID_mock:-})
		rss_sampler_stop
		echo "$out" >"$BASE/$p.wrk-$w.txt"
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		R[$p.rps_$w]=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
		local k out2 r2
		for ((k = 1; k < WRK_RUNS; k++)); do # best of WRK_RUNS: neighbours' jobs only ever slow a run down
			out2=$(BODY=bench/body-$w.json wrk -t2 -c32 -d"${WRK_D}s" -s bench/post.lua "${h[@]}" \
			    "http://127.0.0.1:$port/v1/chat/completions" 2>&1)
			echo "$out2" >>"$BASE/$p.wrk-$w.txt"
			r2=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out2")
			[ "${r2:-0}" -gt "${R[$p.rps_$w]:-0}" ] && R[$p.rps_$w]=$r2
			out+=$'\n'"$out2"
		done
		R[$p.err_$w]=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
		if [ "$w" = instant ]; then
			R[$p.cpu_us]=$(calc "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / ${n:-NA}")
			R[$p.mockcpu_us]=$(calc "($m1 - $m0) * 1000000 / $(getconf CLK_TCK) / ${n:-NA}")
			R[$p.rss_load]=$(cat "$BASE/$p.rss_load" 2>/dev/null || echo NA)
		fi
		[ -n "${R[$p.err_$w]}" ] && log "$p: wrk $w: ${R[$p.err_$w]}"
	done
	log "$p: $SSE_N streams of 64 events ${GAP} ms apart, $SSE_C at a time"
	line=$("$LOADGEN" sse -p "$port" -b bench/body-stream.json -n "$SSE_N" -c "$SSE_C" -g "$GAP" "${h[@]}")
	R[$p.ttft_p50]=$(kv "$line" ttft_p50_us) R[$p.ttft_p99]=$(kv "$line" ttft_p99_us)
	R[$p.gap_p99]=$(kv "$line" gap_p99_us) R[$p.sse_ok]=$(kv "$line" ok)
	R[$p.gap_p50]=$(kv "$line" gap_p50_us)
	[ "$(calc "${R[$p.gap_p50]} < $GAP * 500")" = 1 ] && log "$p: WARNING: events arrive bunched (gap p50 ${R[$p.gap_p50]} us): not streaming"
	R[$p.sse_events]=$(kv "$line" events)
	sleep 1
	R[$p.rss_after]=$(rss_kb ${RSSPIDS[$p]})
}

# --- the concurrent-streams ladder ---------------------------------------
ladder() { # path [relay: server]
	local p=$1 lvl line ok stall peak best=0 bestmem=NA bestthreads=NA h=()
	mapfile -t h < <(hdrs "$p")
	for lvl in $LEVELS; do
		if [ "$p" = lighttpd ] || [ "$p" = caddy ]; then
			bench_stack_start "$p" $((lvl + 16)) "$BASE/$p-$lvl" || break
			PORTOF[$p]=$PORT
			local w=PID_$p
			RSSPIDS[$p]="$PID_relay_chat ${!w}"
		fi
		log "$p: $lvl concurrent streams"
		rss_sampler_start "$BASE/$p-$lvl.rss" ${RSSPIDS[$p]}
		local k0 k1 try
		for try in 1 2; do # one retry: a neighbour's burst can stall any path once
			k0=$(cpu_ticks ${RSSPIDS[$p]})
			line=$("$LOADGEN" sse -p "${PORTOF[$p]}" -b "$BASE/body-ladder.json" -n "$lvl" -c "$lvl" -g "$GAP" -r "$RAMP_MS" "${h[@]}" 2>>"$BASE/ladder.err")
			k1=$(cpu_ticks ${RSSPIDS[$p]})
			echo "$p $lvl try $try: $line" >>"$BASE/ladder.txt"
			[ "$(kv "$line" ok)" = "$lvl" ] && [ "$(calc "$(kv "$line" stall_max_us) <= 50000")" = 1 ] && break
			[ "$try" = 1 ] && log "$p: $lvl streams failed once, retrying" && sleep 1
		done
		rss_sampler_stop
		peak=$(cat "$BASE/$p-$lvl.rss" 2>/dev/null || echo NA)
		local cpe
		cpe=$(calc "($k1 - $k0) * 1000000 / $(getconf CLK_TCK) / $(kv "$line" events)")
		if [ "$p" = lighttpd ] || [ "$p" = caddy ]; then stack_stop; unset PID_mock; fi
		ok=$(kv "$line" ok) stall=$(kv "$line" stall_max_us)
		R[$p.ladder]+="$lvl: $([ "$try" = 2 ] && echo "(2nd try) ")ok $ok, worst delay $(calc "$stall / 1000") ms (TTFT max $(calc "$(kv "$line" ttft_max_us) / 1000") ms, gap max $(calc "$(kv "$line" gap_max_us) / 1000") ms, gap p50 $(calc "$(kv "$line" gap_p50_us) / 1000") ms), RSS $(calc "$peak / 1024") MB, CPU $cpe µs per event; "
		log "$p: $lvl streams: ok=$ok stall_max_us=$stall peak_rss_kb=$peak"
		if [ "$ok" = "$lvl" ] && [ "$(calc "$stall <= 50000")" = 1 ]; then
			best=$lvl bestmem=$peak
		else
			break
		fi
	done
	R[$p.streams]=$best R[$p.streams_rss]=$bestmem
}

for p in direct nginx; do measure "$p"; done
for p in lighttpd caddy; do
	bench_stack_start "$p" 64 "$BASE/$p" || exit 1
	PORTOF[$p]=$PORT
	web=PID_$p
	PIDS[$p]="$PID_relay_chat ${!web} $PID_memcached" # memcached: the breaker reads it per request
	RSSPIDS[$p]="$PID_relay_chat ${!web}"
	R[$p.rss_idle_chat]=$(rss_kb "$PID_relay_chat")
	measure "$p"
	stack_stop
	unset PID_mock
done
measure portkey
# CPU split for the relay paths: one more wrk run, web server and relay-chat apart
for p in lighttpd caddy; do
	bench_stack_start "$p" 64 "$BASE/$p-cpu" || exit 1
	web=PID_$p
	[ "$QUICK" = 1 ] || BODY=bench/body-instant.json wrk -t2 -c32 -d1s -s bench/post.lua \
	    "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null 2>&1
	c0=$(cpu_ticks "$PID_relay_chat") w0=$(cpu_ticks "${!web}") mc0=$(cpu_ticks "$PID_memcached")
	out=$(BODY=bench/body-instant.json wrk -t2 -c32 -d"${WRK_D}s" -s bench/post.lua \
	    "http://127.0.0.1:$PORT/v1/chat/completions" 2>&1)
	c1=$(cpu_ticks "$PID_relay_chat") w1=$(cpu_ticks "${!web}") mc1=$(cpu_ticks "$PID_memcached")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	R[$p.cpu_chat_us]=$(calc "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / ${n:-NA}")
	R[$p.cpu_web_us]=$(calc "($w1 - $w0) * 1000000 / $(getconf CLK_TCK) / ${n:-NA}")
	R[$p.cpu_mc_us]=$(calc "($mc1 - $mc0) * 1000000 / $(getconf CLK_TCK) / ${n:-NA}")
	stack_stop
done

sed "s/events=64/events=$LADDER_EVENTS/" bench/body-stream.json >"$BASE/body-ladder.json"
for p in $LADDER_PATHS; do ladder "$p"; done

# The capacity table (bench/capacity.sh): long streams at 500..4000 on the
# default settings, each process's RSS and CPU per event apart.
bench_cleanup
log "capacity table"
QUICK=$QUICK BUILD=$BUILD bench/capacity.sh "$BASE/capacity.md" || log "capacity: failed"

log "callgrind: relay-chat, $CG_N requests"
cg=$(callgrind_relay "$BASE/cg" "$CG_N" 0)
R[cg.ir]=$(kv "$cg" ir_per_req)
callgrind_annotate --inclusive=no "$BASE/cg/callgrind.out.1" 2>/dev/null | sed -n '1,200p' >"$BASE/cg/annotate-self.txt"
callgrind_annotate --inclusive=yes "$BASE/cg/callgrind.out.1" 2>/dev/null | sed -n '1,200p' >"$BASE/cg/annotate-incl.txt"

bench_cleanup

# Outbound PII protection (issue 21): the rewrite of a 32 KB prompt and the
# stream restore per event, in-process (bench/piibench.c), no network.
log "piibench"
make -s BUILD="$BUILD" "$BUILD/bench/piibench" >/dev/null 2>&1 &&
    "$BUILD/bench/piibench" $([ "$QUICK" = 1 ] && echo 300) >"$BASE/piibench.txt" 2>&1
R[pii.p50]=$(awk '/rewrite \+ splice/ { for (i = 1; i <= NF; i++) if ($i == "p50") print $(i + 1) }' "$BASE/piibench.txt" 2>/dev/null)
R[pii.restore]=$(awk '/stream restore/ { print $3 }' "$BASE/piibench.txt" 2>/dev/null)
R[pii.copy]=$(awk '/stream restore/ { for (i = 1; i <= NF; i++) if ($i == "copy:") print $(i + 1) }' "$BASE/piibench.txt" 2>/dev/null)
: "${R[pii.p50]:=NA}" "${R[pii.restore]:=NA}" "${R[pii.copy]:=NA}"

# --- RESULTS.md ----------------------------------------------------------
# "| Ir per request | % | function |" rows: relay-chat's functions and the
# json_/curl_/FCGX_ entry points, inclusive cost.
cg_inclusive() { # callgrind.out requests
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
	    grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  ' | grep -v '=>' |
	    grep -E 'relay-chat\]|\?\?\?:(json|curl|FCGX)_[A-Za-z_]+ ' |
	    sed -E 's/^ *([0-9,]+) \( *([0-9.]+)%\)  ([^ ]+).*$/\1 \2 \3/' |
	    sed -E "s|$ROOT/||; s|^([^ ]+ [^ ]+ )\?\?\?:|\1|" |
	    awk -v n="$2" '!seen[$3]++ { ir = $1; gsub(",", "", ir)
	        printf "| %.0f | %s %% | `%s` |\n", ir / n, $2, $3 }'
}
ms() { calc "$1 / 1000"; }
mb() { calc "$1 / 1024"; }
add() { calc "(${R[$1.$2]} - ${R[direct.$2]}) / 1000"; } # added ms over direct
ratio() { calc "$1 / $2"; }
met() { [ "$(calc "$1")" = 1 ] && echo met || echo MISSED; }

for p in nginx lighttpd caddy portkey; do
	R[$p.add_p50]=$(add "$p" lat_p50) R[$p.add_p99]=$(add "$p" lat_p99)
	R[$p.add_ttft]=$(add "$p" ttft_p50) R[$p.add_ttft99]=$(add "$p" ttft_p99)
	R[$p.add_gap99]=$(add "$p" gap_p99)
done
row() { # label key unit-fn [lower|higher] -> path columns + ratios
	local label=$1 key=$2 fn=$3 l c n k
	l=$($fn "${R[lighttpd.$key]:-NA}") c=$($fn "${R[caddy.$key]:-NA}")
	n=$($fn "${R[nginx.$key]:-NA}") k=$($fn "${R[portkey.$key]:-NA}")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
	    "$($fn "${R[direct.$key]:-NA}")" "$n" "$l" "$c" "$k" \
	    "$(ratio "$l" "$n")" "$(ratio "$l" "$k")" "$(ratio "$c" "$n")" "$(ratio "$c" "$k")"
}
id() { echo "$1"; }
lhv=$(lighttpd -v 2>&1 | head -1)
cav=$(caddy version 2>&1 | head -1)
ngv=$(nginx -v 2>&1 | head -1)
pkv=$(node -p 'require("./bench/node_modules/@portkey-ai/gateway/package.json").version' 2>/dev/null)
hnv=$(node -p 'require("./bench/node_modules/@hono/node-server/package.json").version' 2>/dev/null)
T_END=$(date +%s)
if [ -n "${BENCH_REV:-}" ]; then
	REV=$BENCH_REV
elif git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
	REV=$(git -C "$ROOT" rev-parse --short HEAD)
	git -C "$ROOT" diff --quiet HEAD -- lib handlers Makefile 2>/dev/null || REV="$REV + uncommitted changes in lib/, handlers/ or Makefile"
else
	REV=unknown
fi
{
	echo "# llm-relay benchmark results"
	echo
	echo "Generated by \`$([ "$QUICK" = 1 ] && echo "QUICK=1 ")make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), in $((T_END - T_START)) s."
	echo "Code measured: $REV."
	echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM, load average before the run: $LOAD0."
	echo "Versions: $lhv; Caddy $cav; $ngv; node $(node --version); @portkey-ai/gateway $pkv with @hono/node-server $hnv; wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'); $(valgrind --version)."
	echo "Loopback only; everything (client, mock, servers) shares the same cores with other people's jobs, so expect noise of tens of percent between runs."
	echo
	echo "Workload: POST /v1/chat/completions with a small OpenAI body (bench/body-*.json); the mock's directives are in the body."
	echo "Latency: $LAT_N sequential requests on one keep-alive connection (bench/loadgen, $LAT_W warm-up requests dropped), $LAT_REPS time(s); each percentile is the median over the runs."
	echo "Throughput: wrk -t2 -c32 -d${WRK_D}s, best of $WRK_RUNS runs (CPU per request from the first). Streams: $SSE_N streams of 64 events ${GAP} ms apart, $SSE_C at a time, with stream_options.include_usage so every path gets the same upstream events (the relay asks for usage anyway)."
	echo "\"added\" = figure of the path minus the mock's own (direct) figure. Ratio columns: relay path / nginx and relay path / Portkey."
	echo
	echo "| figure | direct (mock) | nginx | relay+lighttpd | relay+Caddy | Portkey | lighttpd/nginx | lighttpd/Portkey | Caddy/nginx | Caddy/Portkey |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	row "c=1 p50 latency (ms)" lat_p50 ms
	row "c=1 p99 latency (ms)" lat_p99 ms
	row "added p50 at c=1 (ms)" add_p50 id
	row "added p99 at c=1 (ms)" add_p99 id
	row "throughput c=32, instant mock (req/s)" rps_instant id
	row "throughput c=32, delay_ms=20 (req/s)" rps_delay20 id
	row "stream TTFT p50 (ms)" ttft_p50 ms
	row "added TTFT p50 (ms)" add_ttft id
	row "added TTFT p99 (ms)" add_ttft99 id
	row "inter-event gap p50 (ms; ~${GAP} = streams, ~0 = buffered)" gap_p50 ms
	row "inter-event gap p99 (ms)" gap_p99 ms
	row "added inter-event gap p99 (ms)" add_gap99 id
	row "max stall-free concurrent streams (tried: $LEVELS)" streams id
	row "RSS at that point (MB)" streams_rss mb
	row "CPU per request, all processes of the path (µs)" cpu_us id
	row "mock's CPU per request in that run (µs)" mockcpu_us id
	row "RSS idle (MB)" rss_idle mb
	row "RSS under load, c=32 peak (MB)" rss_load mb
	row "RSS after load (MB)" rss_after mb
	echo
	echo "Relay side split (separate ${WRK_D}s wrk -c32 instant run): lighttpd ${R[lighttpd.cpu_web_us]:-NA} µs + relay-chat ${R[lighttpd.cpu_chat_us]:-NA} µs + memcached ${R[lighttpd.cpu_mc_us]:-NA} µs per request;"
	echo "Caddy ${R[caddy.cpu_web_us]:-NA} µs + relay-chat ${R[caddy.cpu_chat_us]:-NA} µs + memcached ${R[caddy.cpu_mc_us]:-NA} µs per request; nginx (all workers) ${R[nginx.cpu_us]:-NA} µs."
	echo "The relay paths' \"all processes\" CPU includes memcached (rate limits and quotas when a key has them; circuit-breaker state at most once a second per process); RSS figures are relay-chat + web server only."
	echo "relay-chat RSS idle: ${R[lighttpd.rss_idle_chat]:-NA} kB with 64 threads. CPU per request is from /proc/PID/stat utime+stime (10 ms ticks) over the whole wrk run."
	echo
	echo "relay-chat user-space instructions per non-stream request (callgrind, -t 2, $CG_N requests behind lighttpd, every thread between a zero and a dump of the counters): **${R[cg.ir]}**"
	echo
	echo "Streams ladder: N streams of $LADDER_EVENTS events ${GAP} ms apart, all N open at once (their starts spread over $RAMP_MS ms); the relay restarted with THREADS=N+16. A level passes when all N complete (one retry allowed) and no event is late by more than 50 ms (an event later than ${GAP} ms after the one before it by more than 50 ms, or a TTFT over 50 ms). RSS = peak of relay-chat + web server (nginx: master + workers; direct: the mock)."
	echo
	for p in $LADDER_PATHS; do echo "- $p: ${R[$p.ladder]:-not run}"; done
	echo
	cat "$BASE/capacity.md" 2>/dev/null || echo "(capacity table: not run)"
	echo
	echo "## Targets (relay behind lighttpd unless said)"
	echo
	echo "| target | measured | result |"
	echo "|---|---|---|"
	echo "| added p99 at c=1 <= 0.25 ms | ${R[lighttpd.add_p99]} ms (Caddy ${R[caddy.add_p99]} ms, nginx ${R[nginx.add_p99]} ms) | $(met "${R[lighttpd.add_p99]} <= 0.25") |"
	echo "| throughput >= 0.5 x nginx (instant mock) | $(ratio "${R[lighttpd.rps_instant]}" "${R[nginx.rps_instant]}") x (Caddy $(ratio "${R[caddy.rps_instant]}" "${R[nginx.rps_instant]}") x) | $(met "${R[lighttpd.rps_instant]} >= 0.5 * ${R[nginx.rps_instant]}") |"
	echo "| throughput >= 0.5 x nginx (delay_ms=20) | $(ratio "${R[lighttpd.rps_delay20]}" "${R[nginx.rps_delay20]}") x (Caddy $(ratio "${R[caddy.rps_delay20]}" "${R[nginx.rps_delay20]}") x) | $(met "${R[lighttpd.rps_delay20]} >= 0.5 * ${R[nginx.rps_delay20]}") |"
	echo "| added TTFT <= 0.3 ms | ${R[lighttpd.add_ttft]} ms (Caddy ${R[caddy.add_ttft]} ms) | $(met "${R[lighttpd.add_ttft]} <= 0.3") |"
	echo "| >= 2,000 stall-free concurrent streams | ${R[lighttpd.streams]:-NA} (Caddy ${R[caddy.streams]:-NA}) | $(met "${R[lighttpd.streams]:-0} >= 2000") |"
	echo "| ... in <= 256 MB (relay-chat + web server) | $(mb "${R[lighttpd.streams_rss]:-NA}") MB at ${R[lighttpd.streams]:-NA} streams | $(met "${R[lighttpd.streams]:-0} >= 2000 && ${R[lighttpd.streams_rss]:-NA} <= 262144") |"
	echo "| responder (relay-chat) CPU per request <= 2 x nginx | $(ratio "${R[lighttpd.cpu_chat_us]:-NA}" "${R[nginx.cpu_us]}") x | $(met "${R[lighttpd.cpu_chat_us]:-NA} <= 2 * ${R[nginx.cpu_us]}") |"
	echo "| (whole relay side, lighttpd + relay-chat + memcached, <= 2 x nginx) | $(ratio "${R[lighttpd.cpu_us]}" "${R[nginx.cpu_us]}") x | $(met "${R[lighttpd.cpu_us]} <= 2 * ${R[nginx.cpu_us]}") |"
	echo "| throughput >= 15 x Portkey (instant mock) | $(ratio "${R[lighttpd.rps_instant]}" "${R[portkey.rps_instant]}") x | $(met "${R[lighttpd.rps_instant]} >= 15 * ${R[portkey.rps_instant]}") |"
	echo "| masking a 32 KB prompt (pseudonymise) adds <= 0.2 ms at p50 | ${R[pii.p50]} µs | $(met "${R[pii.p50]} <= 200") |"
	echo "| the stream restore adds no measurable TTFT (< 1 µs per event) | ${R[pii.restore]} µs per event (a plain copy ${R[pii.copy]} µs) | $(met "${R[pii.restore]} < 1") |"
	echo
	echo "## Where relay-chat spends its instructions (callgrind)"
	echo
	echo "Inclusive cost per non-stream request of relay-chat's own functions and of the library entry points they call (Ir / requests):"
	echo
	echo '| Ir per request | % | function |'
	echo '|---|---|---|'
	cg_inclusive "$BASE/cg/callgrind.out.1" "$CG_N" | head -30
	echo
	echo "Self cost, top 25 (library internals without symbols show as addresses):"
	echo
	echo '```'
	awk '/^-+$/ {d++; next} d>=3 && NF' "$BASE/cg/annotate-self.txt" | head -25
	echo '```'
	echo
	echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg). wrk errors (non-2xx, socket errors), if any: $(for p in $PATHS; do for w in instant delay20; do [ -n "${R[$p.err_$w]:-}" ] && printf '%s %s: %s; ' "$p" "$w" "${R[$p.err_$w]}"; done; done)"
	echo
	echo "Raw output of this run: $BASE (wrk output, loadgen lines, logs, callgrind.out)."
} >"$OUT"
cat "$OUT"
