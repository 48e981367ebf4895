#!/usr/bin/env bash
# Every command and SDK snippet of README.md and README.zh-CN.md runs as
# printed against make run (issue 20, item 7), so the two cannot drift:
# the fenced blocks are taken from the files themselves.
# - ```sh blocks run with bash -e in a folder whose run/ is make run's
#   (the README's "run/demo.key", "run/admin.token"), except the blocks
#   that start make itself (this test starts scripts/run.sh, which is what
#   make run does after building);
# - ```js blocks run with node and the official SDKs of tests/node;
# - ```python blocks run with python3 when their SDK is importable, else
#   they are compiled only (said in the output: Debian has no openai or
#   anthropic package, and PyPI is not reachable here).
# The only change to a block is the port: 8080 becomes this test's port.
# Each block must exit 0, print something, and print no error.
. "$(dirname "$0")/lib.sh"

unset RELAY_CONFIG RELAY_ADMIN_TOKEN RELAY_ADMIN_TOKEN_FILE KEY
R_PORT=$(stack_free_port)
R_MC=$(stack_free_port)
while [ "$R_MC" = "$R_PORT" ]; do R_MC=$(stack_free_port); done
R_MOCK=$(stack_free_port)
while [ "$R_MOCK" = "$R_PORT" ] || [ "$R_MOCK" = "$R_MC" ]; do R_MOCK=$(stack_free_port); done
OUT=$T/run.out
(cd "$T" && PORT=$R_PORT MC_PORT=$R_MC MOCK_PORT=$R_MOCK RUN_DIR=$T/run SERVER=$SERVER \
    BUILD=$BUILD exec "$ROOT/scripts/run.sh") >"$OUT" 2>&1 &
BG_PIDS+=($!)
wait_until 300 grep -q 'llm-relay is up' "$OUT" || fail "run.sh did not start: $(tail -n 5 "$OUT")"

NODE_MODULES=$ROOT/tests/node/node_modules
[ -d "$NODE_MODULES/openai" ] || (cd "$ROOT/tests/node" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
    fail "npm ci in tests/node: $(tail -n 3 "$T/npm.log")"
ln -s "$NODE_MODULES" "$T/node_modules"

# The blocks, one file each: $T/blocks/NNN.LANG, and NNN.where (file:line).
mkdir -p "$T/blocks"
python3 - "$T/blocks" "$ROOT/README.md" "$ROOT/README.zh-CN.md" <<'PY' || fail "could not read the READMEs' blocks"
import re, sys
out, files = sys.argv[1], sys.argv[2:]
n = 0
for f in files:
    lines = open(f, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang, start, body = m.group(1), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if lang not in ("sh", "python", "js"):
            continue
        n += 1
        ext = {"sh": "sh", "python": "py", "js": "mjs"}[lang]
        open("%s/%03d.%s" % (out, n, ext), "w").write("\n".join(body) + "\n")
        open("%s/%03d.where" % (out, n), "w").write("%s:%d" % (f.split("/")[-1], start))
PY

ran=0 compiled=0 skipped=0
for b in "$T"/blocks/*.sh "$T"/blocks/*.py "$T"/blocks/*.mjs; do
	[ -f "$b" ] || continue
	where=$(cat "${b%.*}.where")
	# make run / make test start the whole thing: this test did that.
	if grep -qE '^[[:space:]]*make (run|test)([[:space:]]|$)' "$b"; then
		skipped=$((skipped + 1))
		continue
	fi
	sed -i -e "s/127\.0\.0\.1:8080/127.0.0.1:$R_PORT/g" -e "s/localhost:8080/localhost:$R_PORT/g" "$b"
	case $b in
	*.sh) cmd=(timeout 30 bash -e "$b") ;;
	*.mjs) cmd=(timeout 60 node "$b") ;;
	*.py)
		mod=$(grep -oE '^(from|import) [a-z_]+' "$b" | awk '$2 != "os" { print $2 }' | head -n 1)
		mod=${mod:-openai}
		if ! python3 -c "import $mod" 2>/dev/null; then
			python3 -m py_compile "$b" || fail "$where: python snippet does not compile"
			log "$where: python '$mod' is not installed: compiled, not run"
			compiled=$((compiled + 1))
			continue
		fi
		cmd=(timeout 60 python3 "$b")
		;;
	esac
	# The README's commands assume make run's folder: run/ is make run's.
	ln -sfn "$T/run" "$T/blocks/run"
	# The sh blocks export KEY themselves (from run/demo.key); the SDK
	# snippets read the KEY that the README's first block exported.
	rc=0
	if [ "${b##*.}" = sh ]; then
		(cd "$T/blocks" && env -u KEY "${cmd[@]}") >"$b.out" 2>"$b.err" || rc=$?
	else
		(cd "$T/blocks" && KEY=$(cat run/demo.key) "${cmd[@]}") >"$b.out" 2>"$b.err" || rc=$?
	fi
	[ "$rc" = 0 ] || fail "$where: exit $rc: $(head -c 400 "$b.err") $(head -c 200 "$b.out")"
	[ -s "$b.out" ] || fail "$where: printed nothing ($(head -c 300 "$b.err"))"
	if grep -qiE '"error"|Incorrect API key|<html' "$b.out"; then
		fail "$where: an error: $(head -c 400 "$b.out")"
	fi
	log "$where: ran ($(head -c 60 "$b.out" | tr '\n' ' ')...)"
	ran=$((ran + 1))
done
# Both READMEs have blocks of every kind: a block that stopped being found
# (a changed fence) must not pass silently.
assert_ge "$ran" 6 "blocks run"
measure "$SERVER | README blocks: $ran run, $compiled compiled only (SDK missing), $skipped make itself"
log ok
