#!/usr/bin/env bash
# unit.sh - run each unit test binary given as an argument, then rerun it
# with every allocation failed in turn (RELAY_FAIL_ALLOC=1, 2, ...; see
# lib/mem.c mem_fail_after()). A binary under torture exits 0 when its
# oom-safe cases passed, 77 when none of them made N allocations any more
# (done), anything else on failure (a crash, a failed assertion, or a leak
# found by ASan at exit).
# Usage: scripts/unit.sh build/tests/test_buf build/tests/test_sse ...
# Env:   UNIT_OOM_MAX (default 400) caps the torture runs per binary;
#        UNIT_OOM=0 skips the torture.
set -u

oom_max=${UNIT_OOM_MAX:-400}
passed=0
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/unit.XXXXXX")
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	name=$(basename "$t")
	# The plain run: cmocka's own report goes to the terminal.
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "unit: $name FAILED"
		failed=$((failed + 1))
		continue
	fi
	[ "${UNIT_OOM:-1}" = 0 ] && continue
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
		failed=$((failed + 1))
	elif [ "$verdict" = ok ] && [ "$n" = 1 ]; then
		echo "unit: $name has no oom-safe cases"
		passed=$((passed + 1))
	elif [ "$verdict" = ok ]; then
		echo "unit: $name survived $((n - 1)) allocation failures"
		passed=$((passed + 1))
	else
		echo "unit: $name still allocating after $oom_max failures" \
		    "(raise UNIT_OOM_MAX or shrink its oom-safe cases)"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
