#!/usr/bin/env bash
# unit.sh - run each unit test binary given as an argument, then rerun it
# with every allocation failed in turn (RELAY_FAIL_ALLOC=1, 2, ...; see
# lib/mem.c mem_fail_after()). A binary under torture exits 0 when its
# oom-safe cases passed, 77 when none of them made N allocations any more
# (done), anything else on failure (a crash, a failed assertion, or a leak
# found by ASan at exit).
# Usage: scripts/unit.sh build/tests/test_buf build/tests/test_sse ...
# Env:   UNIT_OOM_MAX (default 1000) caps the torture runs per binary;
#        UNIT_OOM=0 skips the torture; UNIT_JOBS (default 2) binaries run
#        side by side.
set -u

oom_max=${UNIT_OOM_MAX:-1000}
jobs=${UNIT_JOBS:-2}
passed=0
failed=0
dir=$(mktemp -d "${TMPDIR:-/tmp}/unit.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# One binary, plain then tortured; its lines into $dir/N.out, "ok" or
# "fail" into $dir/N.rc.
one() { # index binary
	local i=$1 t=$2 name n rc verdict log=$dir/$1.log
	name=$(basename "$t")
	exec >"$dir/$i.out" 2>&1
	# The plain run: cmocka's own report.
	if ! "$t"; then
		echo "unit: $name FAILED"
		echo fail >"$dir/$i.rc"
		return
	fi
	if [ "${UNIT_OOM:-1}" = 0 ]; then
		echo ok >"$dir/$i.rc"
		return
	fi
	n=1
	verdict=""
	while [ "$n" -le "$oom_max" ]; do
		RELAY_FAIL_ALLOC=$n "$t" >"$log" 2>&1
		rc=$?
		if [ "$rc" = 77 ]; then
			verdict=ok
			break
		fi
		if [ "$rc" != 0 ]; then
			verdict=fail
			break
		fi
		n=$((n + 1))
	done
	if [ "$verdict" = fail ]; then
		echo "unit: $name FAILED with allocation $n failed" \
		    "(rerun: RELAY_FAIL_ALLOC=$n $t)"
		tail -40 "$log"
	elif [ "$verdict" = ok ] && [ "$n" = 1 ]; then
		echo "unit: $name has no oom-safe cases"
	elif [ "$verdict" = ok ]; then
		echo "unit: $name survived $((n - 1)) allocation failures"
	else
		echo "unit: $name still allocating after $oom_max failures" \
		    "(raise UNIT_OOM_MAX or shrink its oom-safe cases)"
		verdict=fail
	fi
	echo "$verdict" >"$dir/$i.rc"
}

# UNIT_JOBS binaries at a time (each starts its own memcached, files and
# ports where it needs them); their reports are printed whole, in order.
i=0
for t in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	one "$i" "$t" &
	i=$((i + 1))
done
wait
i=0
for t in "$@"; do
	cat "$dir/$i.out"
	if [ "$(cat "$dir/$i.rc" 2>/dev/null)" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	i=$((i + 1))
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
