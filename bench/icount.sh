#!/usr/bin/env bash
# icount.sh - regression guard: user-space instructions per request of
# relay-chat (callgrind Ir of every thread, counted from a zero to a dump
# of the counters around the workload; relay-chat -t 2 behind lighttpd)
# for a fixed small workload (the bench key, every limit
# on): 150 non-stream requests and 10 streams of 8 events. Compares with
# bench/icount.baseline and fails when more than 20% higher. UPDATE=1
# rewrites the baseline. ~30 s.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
LIMIT_PCT=${LIMIT_PCT:-20}
BASELINE=$ROOT/bench/icount.baseline
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
command -v valgrind >/dev/null || bench_deps || exit 1
bench_loadgen || exit 1
RD=$(mktemp -d /tmp/llm-relay-icount.XXXXXX)
trap 'stack_stop 2>/dev/null' EXIT
line=$(callgrind_relay "$RD/cg" 150 10) || { echo "icount: measurement failed ($RD)"; exit 1; }
ir=$(kv "$line" ir_per_req)
n=$(kv "$line" requests)
if [ "$n" != 160 ] || [ "$ir" = NA ]; then
	echo "icount: expected 160 good requests, got $n ($line); see $RD"
	exit 1
fi
ir=$(printf '%.0f' "$ir")
if [ "${UPDATE:-0}" = 1 ] || [ ! -f "$BASELINE" ]; then
	printf '# relay-chat user-space instructions per request (bench/icount.sh workload: key sk-bench with every limit on)\n# written %s on %s for %s, %s\n%s\n' \
	    "$(date -u +%F)" "$(uname -m)" "${BENCH_REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')}" \
	    "$(dpkg-query -W -f='libcurl ${Version}, ' libcurl4 2>/dev/null)$(dpkg-query -W -f='jansson ${Version}' libjansson4 2>/dev/null)" \
	    "$ir" >"$BASELINE"
	echo "icount: baseline written: $ir instructions per request"
	rm -rf "$RD"
	exit 0
fi
base=$(grep -v '^#' "$BASELINE" | head -1)
pct=$(awk -v a="$ir" -v b="$base" 'BEGIN { printf "%+.1f", (a - b) * 100 / b }')
echo "icount: $ir instructions per request, baseline $base ($pct%)"
if awk -v a="$ir" -v b="$base" -v l="$LIMIT_PCT" 'BEGIN { exit !(a > b * (1 + l / 100)) }'; then
	echo "icount: FAILED: more than $LIMIT_PCT% above the baseline (callgrind output: $RD/cg/callgrind.out)"
	exit 1
fi
rm -rf "$RD"
echo "icount: ok"
