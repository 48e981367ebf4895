#!/usr/bin/env bash
# k8s_check.sh - deploy/k8s/ validated offline (make deploy-check, part of
# make test): tests/k8s/check.mjs checks every object against the
# Kubernetes OpenAPI schema of its apiVersion/kind (kubernetes-models,
# installed by scripts/deps.sh from tests/k8s/package-lock.json; nothing
# is fetched here), refuses unknown fields as kubectl --validate=strict
# does, and applies the relay's rules (securityContext, probes, requests,
# every name a Service, volume or the front end's Caddyfile uses exists).
# Then the checker is shown to fail: each broken copy below must be refused.
set -u
cd "$(dirname "$0")/.." || exit 1
if [ ! -d tests/k8s/node_modules/kubernetes-models ]; then
	echo "k8s-check: tests/k8s/node_modules missing (scripts/deps.sh: npm ci in tests/k8s)" >&2
	exit 1
fi
check() { node tests/k8s/check.mjs "$@"; }
check deploy/k8s/*.yaml || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
# The front end's Caddyfile (front.yaml's ConfigMap): Caddy parses it, and
# it is deploy/containers/Caddyfile (which compose runs) with the Service
# names for the hosts, so the two cannot drift apart.
node --input-type=module -e '
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const { parseAllDocuments } = createRequire(process.cwd() + "/tests/k8s/")("yaml");
for (const d of parseAllDocuments(readFileSync("deploy/k8s/front.yaml", "utf8")))
	if (d.toJS()?.data?.Caddyfile) process.stdout.write(d.toJS().data.Caddyfile);
' >"$tmp/Caddyfile.k8s"
sed -e 's/{\$\([A-Z]*\)_HOST:\([a-z]*\)}/llm-relay-\2/' -e '/^#/d' deploy/containers/Caddyfile |
    sed '/./,$!d' >"$tmp/Caddyfile.compose"
if ! diff -u "$tmp/Caddyfile.compose" "$tmp/Caddyfile.k8s" >"$tmp/diff"; then
	echo "k8s-check: front.yaml's Caddyfile is not deploy/containers/Caddyfile with the Service names:" >&2
	cat "$tmp/diff" >&2
	rc=1
fi
if command -v caddy >/dev/null; then
	if ! out=$(caddy adapt --config "$tmp/Caddyfile.k8s" --adapter caddyfile 2>&1 >/dev/null); then
		echo "k8s-check: caddy adapt refuses front.yaml's Caddyfile: $out" >&2
		rc=1
	fi
fi
rm -f "$tmp"/Caddyfile.*
# sed expression | what the checker must say
while IFS='|' read -r expr want; do
	[ -n "$expr" ] || continue
	rm -f "$tmp"/*.yaml
	for f in deploy/k8s/*.yaml; do sed "$expr" "$f" >"$tmp/${f##*/}"; done
	if cmp -s <(cat deploy/k8s/*.yaml) <(cat "$tmp"/*.yaml); then
		echo "k8s-check: broken copy '$expr' changed nothing" >&2
		rc=1
		continue
	fi
	out=$(check "$tmp"/*.yaml 2>&1)
	if [ $? = 0 ] || ! grep -q -- "$want" <<<"$out"; then
		echo "k8s-check: broken copy '$expr' not refused as '$want': $out" >&2
		rc=1
	fi
done <<'CASES'
s/readinessProbe:/readinessProbes:/|readinessProbes: unknown field
s/containerPort: 9000/containerPort: "9000"/|containerPort type
s/cpu: 400m/cpu: 400mc/|format {"format":"quantity"}
s/apiVersion: autoscaling\/v2/apiVersion: autoscaling\/v3/|unknown apiVersion/kind
s/^kind: PodDisruptionBudget/kind: PodDisruptionBudgets/|unknown apiVersion/kind
s/^    matchLabels:/    matchLabelz:/|matchLabelz: unknown field
s/^  selector:$/  selectors:/|required
s/claimName: llm-relay-data/claimName: llm-relay-state/|names PersistentVolumeClaim llm-relay-state
s/dynamic a llm-relay-chat 9000/dynamic a llm-relay-chat 9001/|names llm-relay-chat:9001
s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/|readOnlyRootFilesystem must be true
s/drop: \["ALL"\]/drop: ["NET_RAW"]/|must drop ALL
s/runAsNonRoot: true/runAsNonRoot: false/|runAsNonRoot must be true
s/targetPort: fastcgi/targetPort: fcgi/|targetPort fcgi
s/      app.kubernetes.io\/name: llm-relay-models$/      app.kubernetes.io\/name: llm-relay-model/|selects no Deployment
s/  labels:$/  labels:\n    a: 1\n    a: 2/|YAML
CASES
[ "$rc" = 0 ] && echo "k8s-check: the front end's Caddyfile adapts and matches compose's; 15 broken copies refused"
exit "$rc"
