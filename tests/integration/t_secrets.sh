#!/usr/bin/env bash
# No secret of any kind in any log line, metric or admin answer, under a
# run that uses every route, successfully and with errors.
#
# Secrets: a literal provider key per provider (all four types, plus the
# providers that fail on purpose), provider keys stored through the admin
# API (one of them deleted, one refused), the master key, the admin token
# and a wrong one, virtual key secrets (rotated ones too), a wrong virtual
# key that looks like a real one, and a secret pasted into message text.
# They go everywhere a client can put them: Authorization: Bearer,
# x-api-key, x-goog-api-key, ?key=, and the body. Routes: chat (plain,
# stream), messages, Gemini generate / stream (SSE and array), embeddings,
# /proxy/{provider}/..., /v1/models[/id], /health, /health/ready, /metrics
# and every /admin call, each also refused; client errors (bad body, 404,
# 405, 413, 403, 429), upstream errors (500, 401, 429, mid-stream error,
# reset, garbage, refused, timeout, fallback), a client that leaves, cache
# hits, a config reload that is refused, memcached down; at debug level.
#
# Then every file the relay wrote (logs, web server logs, access log,
# data_dir with the usage ledger, metrics files), the /metrics body and
# every admin answer (except the two kinds that show a secret once: key
# create and rotate) are searched for each secret and for its first 13
# characters, case-insensitively (a virtual key's 13-character
# "key_prefix" field, there by design, is counted apart); the provider-side
# secrets (provider keys, stored credentials, master key, admin token) in
# no answer at all. The mock upstream must never get a virtual key, the
# admin token, the master key or another provider's key, and a Gemini key
# never in a URL query.
. "$(dirname "$0")/lib.sh"

T_START=$(now_ms)
rnd() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# --- the secrets --------------------------------------------------------------
# Providers: name type base-path key(s). Each has its own base path at the
# mock (/p-NAME), so a recorded upstream request tells which provider it
# was for, and so which keys it may carry.
declare -A PKEY=() PKEY2=() PTYPE=()
prov() { # name type [two-keys]
	PTYPE[$1]=$2
	PKEY[$1]="sk-prov-$1-LEAK-$(rnd 12)"
	[ -z "${3:-}" ] || PKEY2[$1]="sk-prov-$1-LEAK-B-$(rnd 12)"
}
prov oa openai
prov az azure
prov an anthropic
prov ge gemini
prov x5oa openai # every call 500 (the provider's x-mock-status header)
prov x5az azure
prov x5an anthropic
prov x5ge gemini
prov x401oa openai two # 401 on both keys
prov x401ge gemini
prov xroa openai two # [[mock status=429]] in the body: keys rest
prov xran anthropic
prov dead openai # nothing listens
prov slow openai # first_byte_ms 300
CRED_OA="sk-cred-openai-LEAK-$(rnd 12)"
CRED_GE="sk-cred-gemini-LEAK-$(rnd 12)"
CRED_DEL="sk-cred-deleted-LEAK-$(rnd 12)"
CRED_BAD="sk-cred-refused-LEAK-$(rnd 12)"
CRED_NOAUTH="sk-cred-noadmin-LEAK-$(rnd 12)"
export RELAY_ADMIN_TOKEN="adm-token-LEAK-$(rnd 16)"
ADMIN_WRONG="adm-wrong-LEAK-$(rnd 16)"
export RELAY_MASTER_KEY=$(rnd 32)
WRONG="sk-relay-$(rnd 24)" # the shape of a real one
BODYSEC="sk-pasted-LEAK-$(rnd 12)"
export RELAY_LOG_LEVEL=debug # the most a responder ever writes

DEAD_PORT=$(stack_free_port)
{
	echo '{ "memcached": { "servers": ["127.0.0.1:@MC_PORT@"], "timeout_ms": 200 },'
	echo '  "limits": { "max_body_bytes": 65536 },'
	echo '  "stream": { "heartbeat_ms": 500 },'
	echo '  "retry": { "max_attempts": 2, "base_delay_ms": 10, "max_delay_ms": 50, "deadline_ms": 5000 },'
	echo '  "breaker": { "failures": 0 },'
	echo '  "providers": ['
	sep=""
	for p in oa az an ge x5oa x5az x5an x5ge x401oa x401ge xroa xran dead slow; do
		keys="\"${PKEY[$p]}\""
		[ -z "${PKEY2[$p]:-}" ] || keys="$keys, \"${PKEY2[$p]}\""
		base="http://127.0.0.1:@MOCK_PORT@/p-$p"
		[ "${PTYPE[$p]}" = openai ] && base="$base/v1"
		[ "$p" = dead ] && base="http://127.0.0.1:$DEAD_PORT/p-dead/v1"
		extra=""
		case $p in
		x5*) extra=', "headers": { "x-mock-status": "500" }' ;;
		x401*) extra=', "headers": { "x-mock-status": "401" }' ;;
		slow) extra=', "timeouts": { "first_byte_ms": 300 }' ;;
		dead) extra=', "timeouts": { "connect_ms": 500 }' ;;
		esac
		printf '%s    { "name": "%s", "type": "%s", "base_url": "%s", "api_keys": [%s]%s }' \
		    "$sep" "$p" "${PTYPE[$p]}" "$base" "$keys" "$extra"
		sep=$',\n'
	done
	echo ' ],'
	cat <<'JSON'
  "models": [
    { "name": "m-oa", "targets": [{ "provider": "oa", "model": "up-oa" }], "price": { "input_per_mtok": 1, "output_per_mtok": 2 } },
    { "name": "m-az", "targets": [{ "provider": "az", "model": "dep-az" }] },
    { "name": "m-an", "targets": [{ "provider": "an", "model": "up-an" }] },
    { "name": "m-ge", "targets": [{ "provider": "ge", "model": "up-ge" }] },
    { "name": "e-oa", "targets": [{ "provider": "oa", "model": "te3" }] },
    { "name": "e-az", "targets": [{ "provider": "az", "model": "dep-emb" }] },
    { "name": "e-ge", "targets": [{ "provider": "ge", "model": "gem-emb" }] },
    { "name": "e-an", "targets": [{ "provider": "an", "model": "up-an" }] },
    { "name": "c-oa", "targets": [{ "provider": "oa", "model": "up-oa" }], "cache": { "enabled": true } },
    { "name": "c-ge", "targets": [{ "provider": "ge", "model": "up-ge" }], "cache": { "enabled": true, "any_temperature": true } },
    { "name": "x5-oa", "targets": [{ "provider": "x5oa", "model": "up" }] },
    { "name": "x5-az", "targets": [{ "provider": "x5az", "model": "dep" }] },
    { "name": "x5-an", "targets": [{ "provider": "x5an", "model": "up" }] },
    { "name": "x5-ge", "targets": [{ "provider": "x5ge", "model": "up" }] },
    { "name": "x401-oa", "targets": [{ "provider": "x401oa", "model": "up" }] },
    { "name": "x401-ge", "targets": [{ "provider": "x401ge", "model": "up" }] },
    { "name": "xr-oa", "targets": [{ "provider": "xroa", "model": "up" }] },
    { "name": "xr-an", "targets": [{ "provider": "xran", "model": "up" }] },
    { "name": "dead", "targets": [{ "provider": "dead", "model": "up" }] },
    { "name": "slow", "targets": [{ "provider": "slow", "model": "up" }] },
    { "name": "fb", "targets": [{ "provider": "oa", "model": "up-fb", "priority": 0 },
                                { "provider": "an", "model": "up-fb", "priority": 1 }] } ] }
JSON
} >"$T/cfg.in"
own_stack_start "$T/cfg.in"

# --- requests -------------------------------------------------------------------
NREQ=0
declare -A ROUTES=()
# go NAME ROUTE WANT(ERE|any) AUTH(bearer|xapi|goog|query|none) KEY METHOD PATH
#    [BODY [curl args...]]
go() {
	local n=$1 rt=$2 want=$3 mode=$4 k=$5 meth=$6 url=$BASE_URL$7 body=${8-} st
	local a=()
	shift $(($# < 8 ? $# : 8))
	case $mode in
	bearer) a=(-H "Authorization: Bearer $k") ;;
	xapi) a=(-H "x-api-key: $k") ;;
	goog) a=(-H "x-goog-api-key: $k") ;;
	query) if [[ $url == *\?* ]]; then url="$url&key=$k"; else url="$url?key=$k"; fi ;;
	none) ;;
	*) fail "go: auth $mode" ;;
	esac
	if [ -n "$body" ]; then
		printf '%s' "$body" >"$T/$n.req"
		a+=(-H 'Content-Type: application/json' --data-binary "@$T/$n.req")
	fi
	NREQ=$((NREQ + 1))
	ROUTES[$rt]=1
	st=$(req "$n" -X "$meth" "${a[@]}" "$@" "$url")
	[ "$want" = any ] || [[ $st =~ ^($want)$ ]] ||
	    fail "$n ($rt, key in $mode): status $st, want $want: $(head -c 400 "$T/$n.body")"
}
TXT="please keep my key $BODYSEC out of your logs"
oa_body() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:+,$3}"; }
an_body() { printf '{"model":"%s","max_tokens":64,"messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:+,$3}"; }
ge_body() { printf '{"contents":[{"role":"user","parts":[{"text":"%s"}]}]}' "$1"; }
emb_body() { printf '{"model":"%s","input":["%s","two"]}' "$1" "$2"; }
RC="POST /v1/chat/completions"
RM="POST /v1/messages"
RG="POST /v1beta/models/{m}:generateContent"
RGS="POST /v1beta/models/{m}:streamGenerateContent"
RE="POST /v1/embeddings"
RP="ANY /proxy/{provider}/{path}"
RL="GET /v1/models"
RLI="GET /v1/models/{id}"

# Every client route once, the key in one place. PFX names the answers;
# I (0-3) picks the model's provider type.
MODELS=(m-oa m-az m-an m-ge)
EMBS=(e-oa e-az e-oa e-ge)
client_routes() { # PFX MODE KEY I WANT
	local p=$1 mode=$2 k=$3 i=$4 want=$5 m=${MODELS[$4]} nw=$5
	# ?key= is Gemini's convention: refused on every other route.
	[ "$mode" = query ] && nw=401
	go "${p}_chat" "$RC" "$nw" "$mode" "$k" POST /v1/chat/completions "$(oa_body "$m" "$TXT $p")"
	go "${p}_chats" "$RC" "$nw" "$mode" "$k" POST /v1/chat/completions "$(oa_body "$m" "$TXT $p" '"stream":true')"
	go "${p}_msg" "$RM" "$nw" "$mode" "$k" POST /v1/messages "$(an_body "$m" "$TXT $p")"
	go "${p}_msgs" "$RM" "$nw" "$mode" "$k" POST /v1/messages "$(an_body "$m" "$TXT $p" '"stream":true')"
	go "${p}_gen" "$RG" "$want" "$mode" "$k" POST "/v1beta/models/$m:generateContent" "$(ge_body "$TXT $p")"
	go "${p}_gens" "$RGS" "$want" "$mode" "$k" POST "/v1beta/models/$m:streamGenerateContent?alt=sse" "$(ge_body "$TXT $p")"
	go "${p}_gena" "$RGS" "$want" "$mode" "$k" POST "/v1beta/models/$m:streamGenerateContent" "$(ge_body "$TXT $p")"
	go "${p}_emb" "$RE" "$nw" "$mode" "$k" POST /v1/embeddings "$(emb_body "${EMBS[$i]}" "$TXT $p")"
	case $i in
	0) go "${p}_pxg" "$RP" "$nw" "$mode" "$k" GET /proxy/oa/models
	   go "${p}_pxp" "$RP" "$nw" "$mode" "$k" POST /proxy/oa/chat/completions "$(oa_body up "$TXT $p")" ;;
	1) go "${p}_pxg" "$RP" "$nw" "$mode" "$k" GET /proxy/az/models
	   go "${p}_pxp" "$RP" "$nw" "$mode" "$k" POST "/proxy/az/openai/deployments/dep-az/chat/completions?api-version=2024-10-21" "$(oa_body dep-az "$TXT $p")" ;;
	2) go "${p}_pxg" "$RP" "$nw" "$mode" "$k" GET /proxy/an/v1/models
	   go "${p}_pxp" "$RP" "$nw" "$mode" "$k" POST /proxy/an/v1/messages "$(an_body up-an "$TXT $p")" ;;
	3) go "${p}_pxg" "$RP" "$nw" "$mode" "$k" GET /proxy/ge/v1beta/models
	   go "${p}_pxp" "$RP" "$nw" "$mode" "$k" POST "/proxy/ge/v1beta/models/up-ge:streamGenerateContent?alt=sse" "$(ge_body "$TXT $p")" ;;
	esac
	go "${p}_mod" "$RL" "$nw" "$mode" "$k" GET /v1/models
	go "${p}_modi" "$RLI" "$nw" "$mode" "$k" GET "/v1/models/$m"
}
AUTHS=(bearer xapi goog query)
health_routes() { # PFX MODE KEY
	go "${1}_h" "GET /health" 200 "$2" "$3" GET /health
	go "${1}_hr" "GET /health/ready" 200 "$2" "$3" GET /health/ready
	go "${1}_met" "GET /metrics" 200 "$2" "$3" GET /metrics
}

# Admin calls: answers named adm_* are scanned; admsecret_* bodies (key
# create and rotate: the secret shown once) are the only ones left out.
NREF=0
adm() { # NAME ROUTE WANT METHOD PATH [BODY]
	go "adm_$1" "$2" "$3" bearer "$RELAY_ADMIN_TOKEN" "$4" "$5" "${6-}"
}
# The same call refused: no token, a wrong one, a virtual key, the token
# where the admin API does not take it.
adm_refused() { # ROUTE METHOD PATH [BODY]
	NREF=$((NREF + 1))
	local n=adm_no$NREF
	go "${n}a" "$1" '401|403' none "" "$2" "$3" "${4-}"
	go "${n}b" "$1" '401|403' bearer "$ADMIN_WRONG" "$2" "$3" "${4-}"
	go "${n}c" "$1" '401|403' bearer "${K1:-$WRONG}" "$2" "$3" "${4-}"
	go "${n}d" "$1" '401|403' xapi "$RELAY_ADMIN_TOKEN" "$2" "$3" "${4-}"
	go "${n}e" "$1" '401|403' query "$RELAY_ADMIN_TOKEN" "$2" "$3" "${4-}"
}

# The mock's recorded requests (it keeps 256): saved and cleared per phase.
NMOCK=0
MOCK_N=0
GEMINI_QUERY_KEYS=0
mock_collect() {
	MOCK_N=$((MOCK_N + 1))
	curl -sS --max-time 5 "$MOCK_URL/_mock/stats" >"$T/mockstats.$MOCK_N.json" || fail "mock stats"
	curl -sS --max-time 5 "$MOCK_URL/_mock/requests" >"$T/mockreq.$MOCK_N.json" || fail "mock requests"
	local n q
	n=$(jget requests "$T/mockstats.$MOCK_N.json")
	q=$(jget gemini_query_keys "$T/mockstats.$MOCK_N.json")
	assert_le "$n" 256 "mock requests in phase $MOCK_N (it records 256)"
	NMOCK=$((NMOCK + n))
	GEMINI_QUERY_KEYS=$((GEMINI_QUERY_KEYS + q))
	mock_reset
}

# --- 1. an open relay (no key yet) given a key anyway ---------------------------
go open "$RC" 200 bearer "$WRONG" POST /v1/chat/completions "$(oa_body m-oa "$TXT open")"
go open2 "$RG" 200 query "$WRONG" POST /v1beta/models/m-ge:generateContent "$(ge_body "$TXT open")"

# --- 2. admin: keys, credentials, status ------------------------------------------
adm status "GET /admin/status" 200 GET /admin/status
adm_refused "GET /admin/status" GET /admin/status
mkkey() { # VAR NAME BODY
	go "admsecret_$1" "POST /admin/keys" 201 bearer "$RELAY_ADMIN_TOKEN" POST /admin/keys "$3"
	printf -v "$1" '%s' "$(jget secret "$T/admsecret_$1.body")"
	printf -v "ID_$1" '%s' "$(jget id "$T/admsecret_$1.body")"
	assert_match "${!1}" '^sk-relay-' "$1: a secret"
}
mkkey K1 k1 '{"name":"k1","rpm":100000,"tpm":1000000000}'
mkkey K2 k2 '{"name":"k2","models":["m-oa","c-oa","c-ge"]}'
mkkey K3 k3 '{"name":"k3"}'
mkkey K4 k4 '{"name":"k4","rpm":1}'
mkkey K5 k5 '{"name":"k5","daily_tokens":10}'
adm_refused "POST /admin/keys" POST /admin/keys '{"name":"nope"}'
adm keybad "POST /admin/keys" 400 POST /admin/keys '{"name":"x","rpm":-1}'
adm keys "GET /admin/keys" 200 GET /admin/keys
adm_refused "GET /admin/keys" GET /admin/keys
adm key1 "GET /admin/keys/{id}" 200 GET "/admin/keys/$ID_K1"
adm_refused "GET /admin/keys/{id}" GET "/admin/keys/$ID_K1"
adm keynone "GET /admin/keys/{id}" 404 GET /admin/keys/k_nosuch
adm patch1 "PATCH /admin/keys/{id}" 200 PATCH "/admin/keys/$ID_K1" '{"name":"k1-renamed"}'
adm_refused "PATCH /admin/keys/{id}" PATCH "/admin/keys/$ID_K1" '{"disabled":true}'

adm credoa "POST /admin/credentials" 201 POST /admin/credentials "{\"provider\":\"oa\",\"api_key\":\"$CRED_OA\",\"label\":\"main\"}"
adm credge "POST /admin/credentials" 201 POST /admin/credentials "{\"provider\":\"ge\",\"api_key\":\"$CRED_GE\"}"
adm creddel "POST /admin/credentials" 201 POST /admin/credentials "{\"provider\":\"an\",\"api_key\":\"$CRED_DEL\"}"
CRED_DEL_ID=$(jget id "$T/adm_creddel.body")
adm credbad "POST /admin/credentials" 400 POST /admin/credentials "{\"provider\":\"ghost\",\"api_key\":\"$CRED_BAD\"}"
adm credbad2 "POST /admin/credentials" 400 POST /admin/credentials "{\"provider\":\"oa\",\"api_key\":\"$CRED_BAD\",}"
adm_refused "POST /admin/credentials" POST /admin/credentials "{\"provider\":\"oa\",\"api_key\":\"$CRED_NOAUTH\"}"
adm creds "GET /admin/credentials" 200 GET /admin/credentials
adm_refused "GET /admin/credentials" GET /admin/credentials
sleep 1.1 # every responder sees keys and credentials within a second

# --- 3. every client route, the key in every place ---------------------------------
for i in 0 1 2 3; do
	client_routes "ok$i" "${AUTHS[$i]}" "$K1" "$i" 200
	client_routes "wr$i" "${AUTHS[$i]}" "$WRONG" "$i" 401
	health_routes "hk$i" "${AUTHS[$i]}" "$K1"
done
client_routes nokey none "" 0 401
client_routes admc bearer "$RELAY_ADMIN_TOKEN" 3 401 # the admin token as a client key
client_routes admc2 query "$RELAY_ADMIN_TOKEN" 1 401
# Both conventions at once, a wrong one and a good one.
go two "$RC" 401 xapi "$WRONG" POST "/v1/chat/completions?key=$K1" "$(oa_body m-oa "$TXT two")"
go two2 "$RGS" '200|401' goog "$K1" POST "/v1beta/models/m-ge:streamGenerateContent?key=$WRONG&alt=sse" "$(ge_body "$TXT two2")"
# A good key in the URL outside the Gemini routes: refused, never logged.
go qk "$RC" 401 query "$K1" POST /v1/chat/completions "$(oa_body m-oa "$TXT qk")"
mock_collect

# --- 4. cache hits ---------------------------------------------------------------------
go c1 "$RC" 200 bearer "$K1" POST /v1/chat/completions "$(oa_body c-oa "$TXT cache" '"temperature":0')"
go c2 "$RC" 200 xapi "$K1" POST /v1/chat/completions "$(oa_body c-oa "$TXT cache" '"temperature":0')"
go c3 "$RC" 200 xapi "$K1" POST /v1/chat/completions "$(oa_body c-oa "$TXT cache" '"temperature":0,"stream":true')"
go c4 "$RG" 200 goog "$K1" POST /v1beta/models/c-ge:generateContent "$(ge_body "$TXT cache")"
go c5 "$RGS" 200 query "$K1" POST "/v1beta/models/c-ge:streamGenerateContent?alt=sse" "$(ge_body "$TXT cache")"
go c6 "$RM" 200 xapi "$K2" POST /v1/messages "$(an_body c-oa "$TXT cache" '"temperature":0')"
go c7 "$RM" 200 xapi "$K2" POST /v1/messages "$(an_body c-oa "$TXT cache" '"temperature":0,"stream":true')"
go c8 "$RC" 200 bearer "$K1" POST /v1/chat/completions "$(oa_body c-oa "$TXT cache" '"temperature":0')" -H 'Cache-Control: no-cache'
HITS=0
for n in c2 c3 c5 c7; do
	[ "$(header $n x-relay-cache)" = HIT ] && HITS=$((HITS + 1))
done
assert_eq "$HITS" 4 "cache hits (x-relay-cache of c2 c3 c5 c7)"

# --- 5. client errors --------------------------------------------------------------------
go bad1 "$RC" 400 bearer "$K1" POST /v1/chat/completions "{\"model\":\"m-oa\",\"messages\":[{\"role\":\"user\",\"content\":\"$TXT"
go bad2 "$RC" 400 xapi "$K1" POST /v1/chat/completions "\"$TXT\""
go bad3 "$RC" 400 xapi "$K1" POST /v1/chat/completions "{\"model\":\"m-oa\",\"messages\":\"$TXT\"}"
go bad4 "$RM" 400 xapi "$K1" POST /v1/messages "{\"model\":\"m-an\",\"max_tokens\":\"$TXT\",\"messages\":[]}"
go bad5 "$RG" 400 goog "$K1" POST /v1beta/models/m-ge:generateContent "{\"contents\":\"$TXT\"}"
go bad6 "$RE" 400 xapi "$K1" POST /v1/embeddings "{\"model\":\"e-oa\",\"input\":{\"$TXT\":1}}"
# countTokens is served since issue 17: a count, whose upstream call
# carries the provider's key, never the client's
go bad7 "$RGS" 200 goog "$K1" POST "/v1beta/models/m-ge:countTokens" "$(ge_body "$TXT")"
go nf1 "$RC" 404 bearer "$K1" POST /v1/chat/completions "$(oa_body nosuch "$TXT")"
go nf2 "$RLI" 404 xapi "$K1" GET /v1/models/nosuch
go meth "$RC" 405 xapi "$K1" GET /v1/chat/completions
FILL=$(head -c 70000 /dev/zero | tr '\0' x)
go big "$RC" 413 xapi "$K1" POST /v1/chat/completions "$(oa_body m-oa "$TXT $FILL")"
go forb "$RC" 403 bearer "$K2" POST /v1/chat/completions "$(oa_body m-an "$TXT forbidden")"
go forb2 "$RG" 403 goog "$K2" POST /v1beta/models/m-ge:generateContent "$(ge_body "$TXT forbidden")"
# rpm 1: one of rl2-rl4 is refused, whatever minute boundary falls between.
go rl1 "$RC" '200|429' bearer "$K4" POST /v1/chat/completions "$(oa_body m-oa "$TXT rl1")"
go rl2 "$RM" '200|429' xapi "$K4" POST /v1/messages "$(an_body m-oa "$TXT rl2")"
go rl3 "$RG" '200|429' goog "$K4" POST /v1beta/models/m-oa:generateContent "$(ge_body "$TXT rl3")"
go rl4 "$RC" '200|429' xapi "$K4" POST /v1/chat/completions "$(oa_body m-oa "$TXT rl4")"
grep -qx 429 "$T"/rl[234].code || fail "rpm 1: none of three requests refused"
go quota "$RC" 429 bearer "$K5" POST /v1/chat/completions "$(oa_body m-oa "$TXT quota")"
# Embeddings for an Anthropic target: 400 unsupported_for_target, a path
# that once crashed relay-chat after earlier requests on the same thread.
for i in 1 2 3; do go "embx$i" "$RE" 400 bearer "$K1" POST /v1/embeddings "$(emb_body m-an "$TXT embx$i")"; done
go px404 "$RP" 404 xapi "$K1" GET /proxy/nobody/models
go pxesc "$RP" 400 goog "$K1" GET /proxy/oa/%2e%2e/admin

# --- 6. upstream errors ------------------------------------------------------------------
go x5a "$RC" 500 bearer "$K1" POST /v1/chat/completions "$(oa_body x5-oa "$TXT x5")"
go x5b "$RC" 500 xapi "$K1" POST /v1/chat/completions "$(oa_body x5-az "$TXT x5" '"stream":true')"
go x5c "$RM" '5..' xapi "$K1" POST /v1/messages "$(an_body x5-an "$TXT x5")"
go x5d "$RGS" '5..' goog "$K1" POST "/v1beta/models/x5-ge:streamGenerateContent?alt=sse" "$(ge_body "$TXT x5")"
go x5e "$RG" '5..' query "$K1" POST /v1beta/models/x5-oa:generateContent "$(ge_body "$TXT x5")"
go x5f "$RE" any goog "$K1" POST /v1/embeddings "$(emb_body x5-ge "$TXT x5")"
go x401a "$RC" '4..|5..' bearer "$K1" POST /v1/chat/completions "$(oa_body x401-oa "$TXT x401")"
go x401b "$RC" '4..|5..' xapi "$K1" POST /v1/chat/completions "$(oa_body x401-oa "$TXT x401" '"stream":true')"
go x401c "$RG" '4..|5..' goog "$K1" POST /v1beta/models/x401-ge:generateContent "$(ge_body "$TXT x401")"
go x401d "$RM" '4..|5..' query "$K1" POST /v1/messages "$(an_body x401-ge "$TXT x401")"
go x429a "$RC" 429 bearer "$K1" POST /v1/chat/completions "$(oa_body xr-oa "$TXT [[mock status=429]]")"
go x429b "$RC" 429 xapi "$K1" POST /v1/chat/completions "$(oa_body xr-oa "$TXT again")"
go x429c "$RM" 429 xapi "$K1" POST /v1/messages "$(an_body xr-an "$TXT [[mock status=429 retry_after=1]]" '"stream":true')"
go x429d "$RG" '200|429' goog "$K1" POST /v1beta/models/xr-an:generateContent "$(ge_body "$TXT resting")"
go mid1 "$RC" 200 bearer "$K1" POST /v1/chat/completions "$(oa_body m-oa "$TXT [[mock error_after=2]]" '"stream":true')"
go mid2 "$RM" 200 xapi "$K1" POST /v1/messages "$(an_body m-an "$TXT [[mock error_after=2]]" '"stream":true')"
go mid3 "$RGS" 200 goog "$K1" POST "/v1beta/models/m-ge:streamGenerateContent?alt=sse" "$(ge_body "$TXT [[mock error_after=2]]")"
go rst "$RC" any query "$K1" POST /v1/chat/completions "$(oa_body m-oa "$TXT [[mock reset_after=2]]" '"stream":true')"
go rst2 "$RP" any goog "$K1" POST /proxy/oa/chat/completions "$(oa_body up "$TXT [[mock reset_after=2]]" '"stream":true')"
go garb "$RC" any bearer "$K1" POST /v1/chat/completions "$(oa_body m-oa "$TXT [[mock garbage=1]]")"
go garb2 "$RM" any xapi "$K1" POST /v1/messages "$(an_body m-ge "$TXT [[mock garbage=1]]" '"stream":true')"
go dead1 "$RC" 502 bearer "$K1" POST /v1/chat/completions "$(oa_body dead "$TXT dead")"
go dead2 "$RP" '5..' xapi "$K1" GET /proxy/dead/models
go slow1 "$RC" 504 goog "$K1" POST /v1/chat/completions "$(oa_body slow "$TXT [[mock delay_ms=1000]]")"
go fb "$RC" 200 bearer "$K1" POST /v1/chat/completions "$(oa_body fb "$TXT [[mock fail_first=2 status=503 key=fb$RANDOM]]")"
# A client that leaves mid-stream, its key in the query and in a header.
MAX_TIME=1 go gone "$RGS" any query "$K1" POST "/v1beta/models/m-ge:streamGenerateContent?alt=sse" "$(ge_body "$TXT [[mock gap_ms=300 events=20]]")"
MAX_TIME=1 go gone2 "$RC" any goog "$K1" POST /v1/chat/completions "$(oa_body m-an "$TXT [[mock gap_ms=300 events=20]]" '"stream":true')"
mock_collect

# --- 7. admin changes: rotate, disable, allowlist, delete a credential; a config
# the responders refuse (a provider key beside a broken header value) -----------------
go admsecret_rot "POST /admin/keys/{id}/rotate" 200 bearer "$RELAY_ADMIN_TOKEN" POST "/admin/keys/$ID_K1/rotate" '{}'
K1R=$(jget secret "$T/admsecret_rot.body")
assert_match "$K1R" '^sk-relay-' "rotated secret"
adm_refused "POST /admin/keys/{id}/rotate" POST "/admin/keys/$ID_K1/rotate" '{}'
adm dis "POST /admin/keys/{id}/disable" 200 POST "/admin/keys/$ID_K2/disable" '{}'
adm_refused "POST /admin/keys/{id}/disable" POST "/admin/keys/$ID_K3/disable" '{}'
adm ip "PATCH /admin/keys/{id}" 200 PATCH "/admin/keys/$ID_K3" '{"allowed_ips":["10.0.0.0/8"]}'
adm delcred "DELETE /admin/credentials/{id}" '200|204' DELETE "/admin/credentials/$CRED_DEL_ID"
adm_refused "DELETE /admin/credentials/{id}" DELETE "/admin/credentials/$CRED_DEL_ID"
adm delcred2 "DELETE /admin/credentials/{id}" 404 DELETE "/admin/credentials/$CRED_DEL_ID"
cp "$OWN_CONFIG" "$T/config.good"
sed -e "s|\"api_keys\": \[\"${PKEY[oa]}\"\]|\"api_keys\": [\"${PKEY[oa]}\"], \"headers\": { \"X-Key\": \"${PKEY[oa]}\\\\n\" }|" \
    "$T/config.good" >"$T/config.bad"
cmp -s "$T/config.good" "$T/config.bad" && fail "the broken config is not broken"
mv "$T/config.bad" "$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"
sleep 1.1

# --- 8. after the changes: the old secret, the rotated one, disabled, allowlist ----
for i in 0 1 2 3; do
	client_routes "old$i" "${AUTHS[$i]}" "$K1" "$i" 401
	client_routes "rot$i" "${AUTHS[$(((i + 1) % 4))]}" "$K1R" "$i" 200
done
go disk "$RC" 401 bearer "$K2" POST /v1/chat/completions "$(oa_body m-oa "$TXT disabled")"
go disk2 "$RG" 401 query "$K2" POST /v1beta/models/m-oa:generateContent "$(ge_body "$TXT disabled")"
go ipk "$RC" 403 xapi "$K3" POST /v1/chat/completions "$(oa_body m-oa "$TXT ip")"
go ipk2 "$RL" '40[13]' goog "$K3" GET /v1/models
adm reload "GET /admin/status" 200 GET /admin/status
health_routes hz bearer "$K1R"
cp "$T/config.good" "$OWN_CONFIG.tmp" && mv "$OWN_CONFIG.tmp" "$OWN_CONFIG"

adm en "POST /admin/keys/{id}/enable" 200 POST "/admin/keys/$ID_K2/enable" '{}'
adm_refused "POST /admin/keys/{id}/enable" POST "/admin/keys/$ID_K2/enable" '{}'
adm del "DELETE /admin/keys/{id}" 204 DELETE "/admin/keys/$ID_K3"
adm_refused "DELETE /admin/keys/{id}" DELETE "/admin/keys/$ID_K2"
adm del2 "DELETE /admin/keys/{id}" 404 DELETE "/admin/keys/$ID_K3"
adm reenc "POST /admin/credentials/reencrypt" 200 POST /admin/credentials/reencrypt '{}'
adm_refused "POST /admin/credentials/reencrypt" POST /admin/credentials/reencrypt '{}'
TODAY=$(date -u +%Y-%m-%d)
adm usage "GET /admin/usage" 200 GET "/admin/usage?from=$TODAY&to=$TODAY"
adm usagecsv "GET /admin/usage" 200 GET "/admin/usage?from=$TODAY&to=$TODAY&format=csv"
adm usagebad "GET /admin/usage" 400 GET "/admin/usage?from=yesterday"
adm_refused "GET /admin/usage" GET "/admin/usage?format=csv"
adm purgeall "POST /admin/cache/purge" 200 POST /admin/cache/purge '{"all":true}'
adm purgem "POST /admin/cache/purge" 200 POST /admin/cache/purge '{"model":"c-oa"}'
adm purgek "POST /admin/cache/purge" 200 POST /admin/cache/purge "{\"key\":\"$ID_K1\"}"
adm purgebad "POST /admin/cache/purge" 400 POST /admin/cache/purge '{"model":1}'
adm_refused "POST /admin/cache/purge" POST /admin/cache/purge '{"all":true}'
adm unknown "ANY /admin/{other}" 404 GET /admin/nosuch
adm keys2 "GET /admin/keys" 200 GET /admin/keys
adm creds2 "GET /admin/credentials" 200 GET /admin/credentials
adm status2 "GET /admin/status" 200 GET /admin/status
mock_collect

# --- 9. memcached gone: limits fail open, the cache is bypassed, ready says 503 ----
kill -TERM "$PID_memcached"
wait "$PID_memcached" 2>/dev/null
for i in "${!STACK_PIDS[@]}"; do
	[ "${STACK_PIDS[$i]}" = "$PID_memcached" ] && unset 'STACK_PIDS[i]'
done
STACK_PIDS=("${STACK_PIDS[@]}")
go mc1 "$RC" any bearer "$K1R" POST /v1/chat/completions "$(oa_body m-oa "$TXT mc")"
go mc2 "$RC" any query "$K1R" POST /v1/chat/completions "$(oa_body c-oa "$TXT mc" '"temperature":0,"stream":true')"
go mc3 "$RG" any goog "$K1R" POST /v1beta/models/c-ge:generateContent "$(ge_body "$TXT mc")"
go mc4 "$RC" any xapi "$K4" POST /v1/chat/completions "$(oa_body xr-oa "$TXT mc")"
go mc5 "GET /health/ready" 503 query "$K1R" GET /health/ready
adm mc6 "POST /admin/cache/purge" any POST /admin/cache/purge '{"all":true}'
adm mc7 "GET /admin/status" any GET /admin/status

# --- collect -------------------------------------------------------------------------
go metrics "GET /metrics" 200 none "" GET /metrics
mock_collect
stack_stop # so that the shutdown lines are written too

# The secrets, named.
{
	echo '['
	for p in "${!PKEY[@]}"; do
		printf '{"name":"provider key of %s","v":"%s","prov":"%s"},\n' "$p" "${PKEY[$p]}" "$p"
		[ -z "${PKEY2[$p]:-}" ] || printf '{"name":"second provider key of %s","v":"%s","prov":"%s"},\n' "$p" "${PKEY2[$p]}" "$p"
	done
	printf '{"name":"stored credential (oa)","v":"%s","prov":"oa"},\n' "$CRED_OA"
	printf '{"name":"stored credential (ge)","v":"%s","prov":"ge"},\n' "$CRED_GE"
	printf '{"name":"stored credential (an, deleted)","v":"%s","prov":"an"},\n' "$CRED_DEL"
	printf '{"name":"refused credential","v":"%s","prov":"-"},\n' "$CRED_BAD"
	printf '{"name":"credential posted without admin token","v":"%s","prov":"-"},\n' "$CRED_NOAUTH"
	printf '{"name":"master key","v":"%s","server":1},\n' "$RELAY_MASTER_KEY"
	printf '{"name":"admin token","v":"%s","server":1},\n' "$RELAY_ADMIN_TOKEN"
	printf '{"name":"wrong admin token","v":"%s"},\n' "$ADMIN_WRONG"
	for v in K1 K1R K2 K3 K4 K5; do
		printf '{"name":"virtual key %s","v":"%s","vk":1},\n' "$v" "${!v}"
	done
	printf '{"name":"wrong virtual key","v":"%s","vk":1},\n' "$WRONG"
	printf '{"name":"secret pasted into message text","v":"%s","body":1}\n' "$BODYSEC"
	echo ']'
} >"$T/secrets.json"
NSECRETS=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$T/secrets.json")

# scan.js SECRETS WHICH(all|server) FILE...: every secret and its first 13
# characters, case-insensitively; prints each hit with its file, line and
# secret; the last line "N files B bytes H hits A allowed". Allowed, and
# counted apart: a virtual key's "key_prefix" ("sk-relay-" and the first 4
# of its 48 hex digits, then "..."), which keys.json and the admin key
# answers carry by design (lib/keys.c new_secret) to tell keys apart.
cat >"$T/scan.js" <<'JS'
const fs = require("fs");
const [sfile, which, ...files] = process.argv.slice(2);
let secrets = JSON.parse(fs.readFileSync(sfile, "utf8"));
if (which === "server") secrets = secrets.filter(s => s.prov || s.server);
const needles = [];
for (const s of secrets) {
  needles.push({ s, what: "whole", n: s.v.toLowerCase() });
  needles.push({ s, what: "first 13 characters", n: s.v.slice(0, 13).toLowerCase() });
}
let bytes = 0, hits = 0, allowed = 0;
for (const f of files) {
  const raw = fs.readFileSync(f);
  bytes += raw.length;
  const text = raw.toString("latin1"), low = text.toLowerCase();
  for (const nd of needles) {
    let at = low.indexOf(nd.n);
    let shown = 0;
    while (at >= 0 && shown < 3) {
      if (nd.s.vk && nd.what !== "whole" && /"key_prefix"\s*:\s*"$/.test(text.slice(Math.max(0, at - 20), at)) &&
          text.slice(at + 13, at + 17) === '..."') {
        allowed++;
        at = low.indexOf(nd.n, at + 1);
        continue;
      }
      const ls = text.lastIndexOf("\n", at) + 1, le = text.indexOf("\n", at);
      const lineno = text.slice(0, at).split("\n").length;
      const line = text.slice(ls, le < 0 ? text.length : le);
      console.log(`LEAK ${f}:${lineno}: ${nd.s.name} (${nd.what}): ${JSON.stringify(line.slice(0, 400))}`);
      hits++; shown++;
      at = low.indexOf(nd.n, at + 1);
    }
  }
}
console.log(`${files.length} files ${bytes} bytes ${hits} hits ${allowed} allowed`);
process.exit(hits ? 1 : 0);
JS

# The scan itself finds them: the config holds every provider key.
node "$T/scan.js" "$T/secrets.json" server "$OWN_CONFIG" >"$T/scan0.out" && fail "scan.js finds nothing in the config"
assert_eq "$(grep -c '^LEAK .*(whole)' "$T/scan0.out")" "$((${#PKEY[@]} + ${#PKEY2[@]}))" "provider keys scan.js finds in the config"

# What the relay wrote: logs (responders, web server, access log), data_dir
# (ledger, keys, sealed credentials), the metrics files; the /metrics body;
# every admin answer but the create/rotate bodies.
mapfile -t WROTE < <(find "$OWN_DIR/logs" "$OWN_DIR/data" "$OWN_DIR/metrics" -type f | sort)
mapfile -t ADMIN_ANSWERS < <(ls "$T"/adm_*.body "$T"/adm_*.head "$T"/admsecret_*.head)
ls "$OWN_DIR"/data/ledger/*.jsonl >/dev/null 2>&1 || fail "no usage ledger in $OWN_DIR/data/ledger"
[ -s "$OWN_DIR/logs/access.log" ] || fail "no access log"
node "$T/scan.js" "$T/secrets.json" all "${WROTE[@]}" "$T/metrics.body" "${ADMIN_ANSWERS[@]}" >"$T/scan.out"
rc=$?
grep -a '^LEAK' "$T/scan.out" | head -n 40 | sed 's/^/  /'
read -r NFILES _ NBYTES _ NHITS _ NALLOWED _ < <(tail -n 1 "$T/scan.out")
measure "scanned $NFILES files, $NBYTES bytes (logs, data_dir, metrics files, /metrics, ${#ADMIN_ANSWERS[@]} admin answers) for $NSECRETS secrets: $NHITS hits ($NALLOWED key_prefix fields of 13 characters allowed)"
# Provider-side secrets in no answer to any client at all.
mapfile -t ANSWERS < <(ls "$T"/*.body "$T"/*.head)
node "$T/scan.js" "$T/secrets.json" server "${ANSWERS[@]}" >"$T/scan2.out"
rc2=$?
grep -a '^LEAK' "$T/scan2.out" | head -n 20 | sed 's/^/  /'
measure "scanned ${#ANSWERS[@]} client answers ($(tail -n 1 "$T/scan2.out" | cut -d' ' -f3) bytes) for provider keys, credentials, master key, admin token"

# The mock upstream: per request, only its own provider's keys; no virtual
# key, admin token, master key or other provider's key; the pasted secret
# only in a body; no secret, and for Gemini no key at all, in a URL query.
cat >"$T/mock.js" <<'JS'
const fs = require("fs");
const [sfile, ...dumps] = process.argv.slice(2);
const secrets = JSON.parse(fs.readFileSync(sfile, "utf8"));
const reqs = dumps.flatMap(f => JSON.parse(fs.readFileSync(f, "utf8")));
let bad = 0, used = {};
const say = m => { if (bad++ < 30) console.log("  " + m); };
for (const r of reqs) {
  const m = /^\/p-([a-z0-9]+)\//.exec(r.path);
  const prov = m ? m[1] : null;
  const parts = { path: r.path, query: r.query || "", headers: JSON.stringify(r.headers), body: r.body || "" };
  for (const s of secrets) {
    for (const [where, text] of Object.entries(parts)) {
      if (!text.toLowerCase().includes(s.v.toLowerCase())) continue;
      if (s.prov && s.prov === prov && where === "headers") { used[s.name] = 1; continue; }
      if (s.body && where === "body") { used[s.name] = 1; continue; }
      say(`upstream ${r.method} ${r.path}?${r.query} got ${s.name} in its ${where}`);
    }
  }
  if (prov === null) say(`upstream request outside every provider's base path: ${r.method} ${r.path}`);
  if (/(^|&)key=/.test(r.query || "")) say(`upstream ${r.method} ${r.path} with a key in its query: ${r.query}`);
}
for (const want of ["provider key of oa", "provider key of az", "provider key of an", "provider key of ge",
    "stored credential (oa)", "stored credential (ge)", "secret pasted into message text"])
  if (!used[want]) say(`never seen upstream (so not exercised): ${want}`);
console.log(`${reqs.length} ${bad}`);
process.exit(bad ? 1 : 0);
JS
node "$T/mock.js" "$T/secrets.json" "$T"/mockreq.*.json >"$T/mock.out"
rc3=$?
grep -av '^[0-9]* [0-9]*$' "$T/mock.out"
read -r NUP _ < <(tail -n 1 "$T/mock.out")
assert_eq "$NUP" "$NMOCK" "upstream requests recorded = counted"
measure "$NREQ requests on ${#ROUTES[@]} routes; $NUP upstream requests checked; $(($(now_ms) - T_START)) ms"
assert_eq "$GEMINI_QUERY_KEYS" 0 "mock stats gemini_query_keys"
[ "$rc3" = 0 ] || fail "secrets reached the mock upstream (above)"
[ "$rc2" = 0 ] || fail "provider-side secrets in answers to clients (above)"
[ "$rc" = 0 ] || fail "secrets in what the relay wrote (above)"
