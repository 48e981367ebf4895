#!/usr/bin/env bash
# Issue 18: the admin console (/admin/ui/) through the web server: its
# security headers with curl, then the whole flow in headless Chromium
# (tests/browser/console.test.mjs): sign in, create a key, copy and use its
# secret, usage, playground stream, disable, language switch. Screenshots
# land in $SCEN_DIR/shots (not committed); page weight and first paint are
# measured.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/deps.sh installs it)"
[ -d "$ROOT/tests/browser/node_modules/puppeteer-core" ] ||
    (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
    fail "npm ci in tests/browser: $(tail -5 "$T/npm.log")"

cat >"$T/cfg.in" <<'JSON'
{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"] },
  "providers": [ { "name": "mock", "type": "openai", "base_url": "http://127.0.0.1:@MOCK_PORT@/v1",
                   "api_keys": ["sk-provider-console-4711"] } ],
  "models": [ { "name": "demo", "targets": [{ "provider": "mock" }],
                "price": { "input_per_mtok": 1, "output_per_mtok": 2 } } ] }
JSON
export RELAY_ADMIN_TOKEN=admin-console-$RANDOM$RANDOM$RANDOM
export RELAY_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
own_stack_start "$T/cfg.in"

# The files and their headers, as the web server passes them on.
code=$(curl -sS -o "$T/index.html" -D "$T/index.h" -w '%{http_code}' "$BASE_URL/admin/ui/")
assert_eq "$code" 200 "GET /admin/ui/"
for h in "content-security-policy: default-src 'none'; script-src 'self'" \
	"x-frame-options: DENY" "x-content-type-options: nosniff" "referrer-policy: no-referrer"; do
	grep -qi "^$h" "$T/index.h" || fail "no '$h' on /admin/ui/: $(cat "$T/index.h")"
done
grep -qiE '<script>|<script [^>]*>[^<]|\son[a-z]+="' "$T/index.html" && fail "inline script in index.html"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE_URL/admin/ui")" \
    "308 $BASE_URL/admin/ui/" "/admin/ui redirects to /admin/ui/"
for f in app.js i18n.js app.css favicon.svg; do
	assert_eq "$(curl -sS -o /dev/null -D "$T/f.h" -w '%{http_code}' "$BASE_URL/admin/ui/$f")" 200 "$f"
	grep -qi '^x-content-type-options: nosniff' "$T/f.h" || fail "$f without nosniff"
done
# A way out of ui/ is either squashed by the web server (then the admin
# API asks for the token) or no file of ours: never a 200.
for p in "../keys" "%2e%2e/keys" "..%2fkeys" "app.js/../../keys"; do
	c=$(curl -sS --path-as-is -o /dev/null -w '%{http_code}' "$BASE_URL/admin/ui/$p")
	assert_match "$c" '^(401|404|400)$' "/admin/ui/$p"
done
assert_eq "$(curl -sS -o /dev/null -D "$T/nf.h" -w '%{http_code}' "$BASE_URL/admin/ui/nope.js")" 404 "unknown file"
grep -qi '^x-frame-options: DENY' "$T/nf.h" || fail "404 without the console's headers"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' "$BASE_URL/admin/ui/")" 405 "POST to a file"

start=$(now_ms)
RELAY_BASE_URL=$BASE_URL ADMIN_TOKEN=$RELAY_ADMIN_TOKEN CHROMIUM=$CHROMIUM SHOT_DIR=$T/shots \
    MEASURE_FILE=$T/measure.txt timeout -k 5 100 node --test --test-reporter=spec \
    "$ROOT/tests/browser/" >"$T/browser.log" 2>&1 ||
    fail "browser tests: $(grep -v '^ *at ' "$T/browser.log" | tail -40)"
measure "browser flow $(($(now_ms) - start)) ms; $(cat "$T/measure.txt" 2>/dev/null)"
log "screenshots: $T/shots"

# The admin token never reached a log.
for f in "$OWN_DIR"/logs/*.log; do
	grep -qF "$RELAY_ADMIN_TOKEN" "$f" && fail "admin token in $(basename "$f")"
done
exit 0
