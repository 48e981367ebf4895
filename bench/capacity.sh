#!/usr/bin/env bash
# capacity.sh - how many concurrent long streams a default `make run` carries
# (issue 15): N streams of EVENTS events GAP ms apart, all open at once
# (their starts spread over RAMP_MS), through the mock alone, nginx
# proxy_pass, relay+lighttpd and relay+Caddy, in one run. The relay stacks
# run with the default settings (no THREADS or RELAY_RUNTIME override).
#
# Per path and N: streams completed, TTFT p50/p99, the worst event's delay
# beyond the mock's pacing (loadgen's stall_max: the larger of the TTFT and
# of a gap minus GAP), the peak RSS and the CPU per stream event of each
# process apart (relay-chat, the web server; nginx: master + workers; the
# mock alone: the mock).
#
#   bench/capacity.sh [OUT.md]        (make bench runs it; QUICK=1: N=500)
# Env: LEVELS ("500 1000 2000 4000"), EVENTS (100), GAP (50), RAMP_MS (2000),
#      PATHS ("direct nginx lighttpd caddy").
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
OUTMD=${1:-}
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
if [ "${QUICK:-0}" = 1 ]; then
	: "${LEVELS:=500}" "${EVENTS:=40}"
fi
: "${LEVELS:=500 1000 2000 4000}" "${EVENTS:=100}" "${GAP:=50}" "${RAMP_MS:=2000}"
: "${PATHS:=direct nginx lighttpd caddy}"
unset RELAY_RUNTIME RELAY_THREADS THREADS
# CAPACITY_RUNTIME=threads: the same table for the old thread-per-request
# runtime (its default 128 threads), for a before/after comparison.
[ -n "${CAPACITY_RUNTIME:-}" ] && export RELAY_RUNTIME=$CAPACITY_RUNTIME

bench_deps || exit 1
bench_loadgen || exit 1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BASE=$(mktemp -d /tmp/llm-relay-capacity.XXXXXX)
OWN=()
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
log() { printf 'capacity: %s\n' "$*" >&2; }

# The mock and nginx of the direct and nginx paths.
bench_own_mock_nginx "$BASE" || exit 1
sed "s/events=64 gap_ms=20/events=$EVENTS gap_ms=$GAP/" bench/body-stream.json >"$BASE/body.json"
grep -q "events=$EVENTS gap_ms=$GAP" "$BASE/body.json" || { log "bench/body-stream.json changed its mock directive"; exit 1; }

# Peaks of two process groups' RSS, sampled every 100 ms into two files.
peaks_start() { # file_a "pids a" file_b "pids b"
	(
		ma=0 mb=0
		while :; do
			a=$(rss_kb $2) b=$(rss_kb $4)
			[ "$a" -gt "$ma" ] && { ma=$a; echo "$ma" >"$1"; }
			[ "$b" -gt "$mb" ] && { mb=$b; echo "$mb" >"$3"; }
			sleep 0.1
		done
	) &
	PEAKS=$!
}
peaks_stop() { kill "$PEAKS" 2>/dev/null; wait "$PEAKS" 2>/dev/null; }
us_per() { calc "$1 * 1000000 / $(getconf CLK_TCK) / $2"; }

ROWS=()
declare -A V # path.n.{ok,ttft99,stall,rss_a,rss_b,cpu_a,cpu_b}
# One path at one N: a row of the table.
run_level() { # path n
	local p=$1 n=$2 port a b an bn line a0 a1 b0 b1 ev d=$BASE/$1-$2
	case $p in
	direct) port=$MOCKP a=$MOCK_PID an=mock b="" bn=- ;;
	nginx) port=$NGXP a=$NGX_ALL an=nginx b="" bn=- ;;
	lighttpd | caddy)
		bench_stack_start "$p" 64 "$d" || return 1
		port=$PORT a=$PID_relay_chat an=relay-chat
		b=PID_$p
		b=${!b} bn=$p
		;;
	esac
	log "$p: $n streams of $EVENTS events $GAP ms apart"
	peaks_start "$d.rss_a" "$a" "$d.rss_b" "$b"
	a0=$(cpu_ticks $a) b0=$(cpu_ticks $b)
	line=$("$LOADGEN" sse -p "$port" -b "$BASE/body.json" -n "$n" -c "$n" -g "$GAP" -r "$RAMP_MS" 2>>"$BASE/loadgen.err")
	a1=$(cpu_ticks $a) b1=$(cpu_ticks $b)
	peaks_stop
	[ "$p" = lighttpd ] || [ "$p" = caddy ] && { stack_stop; unset PID_mock; }
	echo "$p $n: $line" >>"$BASE/lines.txt"
	ev=$(kv "$line" events)
	local ra rb
	ra=$(cat "$d.rss_a" 2>/dev/null || echo NA) rb=$(cat "$d.rss_b" 2>/dev/null || echo NA)
	V[$p.$n.ok]=$(kv "$line" ok) V[$p.$n.ttft99]=$(kv "$line" ttft_p99_us)
	V[$p.$n.stall]=$(kv "$line" stall_max_us) V[$p.$n.rss_a]=$ra V[$p.$n.rss_b]=$rb
	V[$p.$n.cpu_a]=$(us_per "$((a1 - a0))" "$ev") V[$p.$n.cpu_b]=$(us_per "$((b1 - b0))" "$ev")
	ROWS+=("| $p | $n | $(kv "$line" ok) | $(calc "$(kv "$line" ttft_p50_us) / 1000") | $(calc "$(kv "$line" ttft_p99_us) / 1000") | $(calc "$(kv "$line" stall_max_us) / 1000") | $an $(mb "$ra") MB$([ -n "$b" ] && echo ", $bn $(mb "$rb") MB") | $an $(us_per "$((a1 - a0))" "$ev")$([ -n "$b" ] && echo ", $bn $(us_per "$((b1 - b0))" "$ev")") |")
	log "$p $n: ok=$(kv "$line" ok) stall_max_us=$(kv "$line" stall_max_us)"
}
mb() { calc "$1 / 1024"; }

for n in $LEVELS; do
	for p in $PATHS; do run_level "$p" "$n" || log "$p $n: could not run"; done
done

{
	echo "### Capacity: N concurrent streams of $EVENTS events $GAP ms apart (default \`make run\` settings$([ -n "${CAPACITY_RUNTIME:-}" ] && echo ", RELAY_RUNTIME=$CAPACITY_RUNTIME"))"
	echo
	echo "All N open at once (their starts spread over $RAMP_MS ms); \"worst delay\" is the worst event's delay beyond the mock's pacing (the larger of the TTFT and of an inter-event gap minus $GAP ms). RSS is each process's peak; CPU is utime+stime per stream event (10 ms ticks). $(nproc) cores, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo), load before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| path | N | completed | TTFT p50 (ms) | TTFT p99 (ms) | worst delay (ms) | peak RSS | CPU per event (µs) |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	if [ -n "${V[lighttpd.2000.ok]:-}" ]; then
		met() { [ "$(calc "$1")" = 1 ] && echo met || echo MISSED; }
		local_ms() { calc "$1 / 1000"; }
		echo
		echo "Issue 15's targets at 2,000 streams (relay behind lighttpd; nginx in the same run):"
		echo
		echo "| target | measured | result |"
		echo "|---|---|---|"
		echo "| all 2,000 complete | ${V[lighttpd.2000.ok]} | $(met "${V[lighttpd.2000.ok]} == 2000") |"
		echo "| TTFT p99 <= 50 ms (or no worse than nginx) | $(local_ms "${V[lighttpd.2000.ttft99]}") ms (nginx $(local_ms "${V[nginx.2000.ttft99]:-NA}") ms) | $(met "${V[lighttpd.2000.ttft99]} <= 50000 || ${V[lighttpd.2000.ttft99]} <= ${V[nginx.2000.ttft99]:-0}") |"
		echo "| no event > 50 ms late (or no worse than nginx) | $(local_ms "${V[lighttpd.2000.stall]}") ms (nginx $(local_ms "${V[nginx.2000.stall]:-NA}") ms) | $(met "${V[lighttpd.2000.stall]} <= 50000 || ${V[lighttpd.2000.stall]} <= ${V[nginx.2000.stall]:-0}") |"
		echo "| relay-chat CPU per stream event <= lighttpd's | ${V[lighttpd.2000.cpu_a]} µs vs ${V[lighttpd.2000.cpu_b]} µs | $(met "${V[lighttpd.2000.cpu_a]} <= ${V[lighttpd.2000.cpu_b]}") |"
		echo "| relay-chat RSS at 2,000 streams <= 64 MB | $(mb "${V[lighttpd.2000.rss_a]}") MB | $(met "${V[lighttpd.2000.rss_a]} <= 65536") |"
	fi
} >"$BASE/capacity.md"
if [ -n "$OUTMD" ]; then cp "$BASE/capacity.md" "$OUTMD"; else cat "$BASE/capacity.md"; fi
log "raw loadgen lines: $BASE/lines.txt"
