// check.mjs - deploy/k8s/*.yaml validated offline (scripts/k8s_check.sh,
// part of make deploy-check): every object against the official OpenAPI
// schema of its apiVersion/kind (kubernetes-models, compiled from
// Kubernetes' own openapi spec), fields the schema does not know refused as
// `kubectl apply --validate=strict` refuses them, then the relay's own
// rules: what a Service selects exists, probes, securityContext, requests,
// and the front end's ConfigMap names only Services that exist.
// Usage: node check.mjs FILE.yaml...   Exit 1 on the first file with errors.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const modelsDir = dirname(require.resolve("kubernetes-models/package.json"));

// The compiled schema validator of apiVersion/kind, or null if unknown.
async function schemaOf(apiVersion, kind) {
	if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z]+$/.test(kind)) return null;
	let src;
	try {
		src = readFileSync(join(modelsDir, apiVersion, kind + ".js"), "utf8");
	} catch {
		return null;
	}
	const m = src.match(/from"(\.\.\/(?:\.\.\/)?_schemas\/[A-Za-z0-9]+\.js)"/);
	if (!m) return null;
	const mod = await import(join(modelsDir, apiVersion, m[1]));
	return mod.validate;
}

// Strict fields: the compiled validator reads every property its schema
// knows (and every key of a free map); a key it never read is unknown to
// the schema. A proxy records the reads.
function tracked(value, path, seen) {
	if (value === null || typeof value !== "object") return value;
	const reads = new Set();
	seen.push({ path, value, reads });
	const kids = Array.isArray(value) ? [] : {};
	for (const k of Object.keys(value)) kids[k] = tracked(value[k], `${path}/${k}`, seen);
	return new Proxy(kids, {
		get(t, k, r) {
			if (typeof k === "string") reads.add(k);
			return Reflect.get(t, k, r);
		},
	});
}

function unknownFields(seen) {
	const out = [];
	for (const { path, value, reads } of seen) {
		if (Array.isArray(value)) continue;
		for (const k of Object.keys(value)) {
			const at = `${path}/${k}`;
			// Only the outermost: what is under an unknown field is unknown too.
			if (!reads.has(k) && !out.some((o) => at.startsWith(o + "/"))) out.push(at);
		}
	}
	return out.map((p) => `${p}: unknown field`);
}

function fmt(e) {
	return `${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`;
}

const files = process.argv.slice(2);
if (!files.length) {
	console.error("usage: node check.mjs FILE.yaml...");
	process.exit(2);
}
const objs = [];
let bad = 0;
for (const f of files) {
	const docs = parseAllDocuments(readFileSync(f, "utf8"), { uniqueKeys: true });
	for (const d of docs) {
		if (d.errors.length) {
			console.error(`${f}: YAML: ${d.errors[0].message}`);
			bad++;
			continue;
		}
		const o = d.toJS();
		if (o === null || o === undefined) continue;
		objs.push({ f, o });
	}
}
for (const { f, o } of objs) {
	const id = `${f}: ${o.kind}/${o.metadata?.name}`;
	const validate = await schemaOf(String(o.apiVersion), String(o.kind));
	if (!validate) {
		console.error(`${id}: unknown apiVersion/kind ${o.apiVersion} ${o.kind}`);
		bad++;
		continue;
	}
	const seen = [];
	const p = tracked(o, "", seen);
	const ok = validate(p);
	const errs = ok ? [] : validate.errors.map(fmt);
	// Top-level apiVersion/kind are not in every schema's reads.
	errs.push(...unknownFields(seen).filter((e) => !/^\/(apiVersion|kind): /.test(e)));
	if (!o.metadata?.name) errs.push("metadata.name missing");
	for (const e of errs) console.error(`${id}: ${e}`);
	bad += errs.length;
}

// The relay's rules, across objects.
const byKind = (k) => objs.filter(({ o }) => o.kind === k).map(({ o }) => o);
const rule = (cond, msg) => {
	if (!cond) {
		console.error(`rule: ${msg}`);
		bad++;
	}
};
const deployments = byKind("Deployment");
const services = byKind("Service");
const matches = (sel, labels) => Object.entries(sel ?? {}).every(([k, v]) => labels?.[k] === v);
for (const s of services) {
	const sel = s.spec?.selector;
	rule(sel && deployments.some((d) => matches(sel, d.spec?.template?.metadata?.labels)),
	    `Service ${s.metadata?.name} selects no Deployment's pods`);
	for (const port of s.spec?.ports ?? []) {
		if (typeof port.targetPort !== "string") continue;
		rule(deployments.some((d) => matches(sel, d.spec?.template?.metadata?.labels) &&
		    d.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === port.targetPort))),
		    `Service ${s.metadata?.name}: targetPort ${port.targetPort} is no container port of its pods`);
	}
}
for (const d of deployments) {
	const n = d.metadata?.name;
	const spec = d.spec?.template?.spec ?? {};
	rule(matches(d.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels),
	    `Deployment ${n}: selector does not match its template's labels`);
	rule(spec.automountServiceAccountToken === false, `Deployment ${n}: automountServiceAccountToken must be false`);
	rule(spec.securityContext?.runAsNonRoot === true, `Deployment ${n}: pod runAsNonRoot must be true`);
	for (const c of spec.containers ?? []) {
		const sc = c.securityContext ?? {};
		const cn = `Deployment ${n} container ${c.name}`;
		rule(sc.readOnlyRootFilesystem === true, `${cn}: readOnlyRootFilesystem must be true`);
		rule(sc.allowPrivilegeEscalation === false, `${cn}: allowPrivilegeEscalation must be false`);
		rule((sc.capabilities?.drop ?? []).includes("ALL"), `${cn}: capabilities must drop ALL`);
		rule(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${cn}: cpu and memory requests`);
		rule(c.resources?.limits?.memory, `${cn}: a memory limit`);
		rule(c.livenessProbe && c.readinessProbe, `${cn}: liveness and readiness probes`);
	}
	for (const v of spec.volumes ?? []) {
		for (const [k, ref] of [["configMap", "ConfigMap"], ["secret", "Secret"], ["persistentVolumeClaim", "PersistentVolumeClaim"]]) {
			if (!v[k]) continue;
			const name = v[k].name ?? v[k].secretName ?? v[k].claimName;
			rule(byKind(ref).some((o) => o.metadata?.name === name), `Deployment ${n}: volume ${v.name} names ${ref} ${name}, not defined`);
		}
	}
}
for (const h of byKind("HorizontalPodAutoscaler")) {
	const t = h.spec?.scaleTargetRef;
	rule(deployments.some((d) => d.metadata?.name === t?.name && t?.kind === "Deployment"),
	    `HorizontalPodAutoscaler ${h.metadata?.name} targets no Deployment here`);
}
// The front end's Caddyfile reaches each handler by its Service name.
for (const cm of byKind("ConfigMap")) {
	const cf = cm.data?.Caddyfile;
	if (!cf) continue;
	const named = [...cf.matchAll(/dynamic a ([a-z0-9-]+) (\d+)/g), ...cf.matchAll(/reverse_proxy @\w+ ([a-z0-9-]+):(\d+)/g)];
	rule(named.length >= 4, `ConfigMap ${cm.metadata?.name}: Caddyfile names ${named.length} handlers, not 4`);
	for (const m of named) {
		const s = services.find((x) => x.metadata?.name === m[1]);
		rule(s && (s.spec?.ports ?? []).some((p) => p.port === Number(m[2])),
		    `ConfigMap ${cm.metadata?.name}: Caddyfile names ${m[1]}:${m[2]}, no such Service port`);
	}
}
if (bad) {
	console.error(`k8s-check: ${bad} error(s)`);
	process.exit(1);
}
console.log(`k8s-check: ${objs.length} objects valid (${files.join(" ")})`);
