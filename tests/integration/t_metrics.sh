#!/usr/bin/env bash
# /metrics sums every responder process of the host: relay-chat recycles
# every 10 requests here, so 30 requests cross 3+ processes (live and
# retired) and the counters must still add up exactly. The exposition
# passes promtool, and a real Prometheus scrapes it.
. "$(dirname "$0")/lib.sh"

export RELAY_MAX_REQUESTS=10
own_stack_start
unset RELAY_MAX_REQUESTS
for i in $(seq 1 25); do
	assert_eq "$(post p$i "$(chat_json demo "hi $i")")" 200 "request $i"
done
for i in $(seq 1 5); do
	assert_eq "$(post s$i "$(chat_json demo "stream $i" true)")" 200 "stream $i"
done
post nf "$(chat_json nosuch hi)" >/dev/null
sleep 0.5
assert_eq "$(req m "$BASE_URL/metrics")" 200 "GET /metrics"
assert_match "$(header m content-type)" '^text/plain' "content type"
procs=$(grep -c "serving process .* started" "$OWN_DIR/logs/relay-chat.log")
total=$(awk '/^relay_requests_total\{/ && /route="chat"/ && /code="200"/ { s += $NF } END { print s + 0 }' "$T/m.body")
measure "relay-chat ran as $procs processes; relay_requests_total{route=chat,code=200} = $total"
assert_ge "$procs" 3 "serving processes"
assert_eq "$total" 30 "chat requests counted across processes"
nf=$(awk '/^relay_requests_total\{/ && /code="404"/ { s += $NF } END { print s + 0 }' "$T/m.body")
assert_eq "$nf" 1 "the 404 counted"
assert_file_has "$T/m.body" 'relay_time_to_first_token_seconds_bucket' "TTFT histogram"
assert_file_has "$T/m.body" 'relay_tokens_total{' "token counter"
[ -z "${PROVIDER_KEY:-}" ] || assert_file_lacks "$T/m.body" "$PROVIDER_KEY" "no secret in the metrics"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m.body" >"$T/promtool.out" 2>&1 ||
	    fail "promtool: $(head -5 "$T/promtool.out")"
	promtool check rules "$ROOT/docs/monitoring/alerts.yml" >"$T/rules.out" 2>&1 ||
	    fail "promtool check rules: $(tail -5 "$T/rules.out")"
	log "promtool check metrics and rules: ok"
fi

# A real Prometheus scrapes the relay through the web server.
if command -v prometheus >/dev/null; then
	PP=$(stack_free_port)
	cat >"$T/prom.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$ROOT/docs/monitoring/alerts.yml" ]
scrape_configs:
  - job_name: relay
    static_configs: [ { targets: ["127.0.0.1:$PORT"] } ]
YML
	prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
	    --web.listen-address="127.0.0.1:$PP" >"$T/prom.log" 2>&1 &
	BG_PIDS+=($!)
	got=""
	for _ in $(seq 1 60); do
		got=$(curl -sS --max-time 2 "http://127.0.0.1:$PP/api/v1/query?query=sum(relay_requests_total%7Broute%3D%22chat%22%2Ccode%3D%22200%22%7D)" 2>/dev/null |
		    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const r=JSON.parse(s).data.result;process.stdout.write(r.length?r[0].value[1]:"")}catch(e){}})')
		[ -n "$got" ] && break
		sleep 0.5
	done
	measure "Prometheus scraped sum(relay_requests_total{route=chat,code=200}) = ${got:-nothing}"
	assert_eq "$got" 30 "Prometheus sees the counts"
	rules=$(curl -sS --max-time 5 "http://127.0.0.1:$PP/api/v1/rules" |
	    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const g=JSON.parse(s).data.groups;process.stdout.write(String(g.reduce((n,x)=>n+x.rules.length,0)))})')
	assert_eq "$rules" 5 "alert rules loaded by Prometheus"
	# Every dashboard panel's query runs on the real Prometheus.
	node -e 'for (const p of JSON.parse(require("fs").readFileSync(process.argv[1])).panels) for (const t of p.targets) console.log(t.expr)' \
	    "$ROOT/docs/monitoring/grafana-dashboard.json" >"$T/queries"
	while IFS= read -r q; do
		curl -sS --max-time 5 -G --data-urlencode "query=$q" "http://127.0.0.1:$PP/api/v1/query" >"$T/q.json"
		assert_eq "$(jget status "$T/q.json")" success "dashboard query: $q"
		[ -n "${shown_q:-}" ] || [ "$(jget data.result "$T/q.json")" = "[]" ] && continue
		shown_q=1
		measure "dashboard query $q -> $(jget data.result "$T/q.json" | head -c 300)"
	done <"$T/queries"
	log "$(wc -l <"$T/queries") dashboard queries answered by Prometheus"
fi
