#!/usr/bin/env bash
# Model discovery in the other dialects: GET /v1/models (and /v1/models/{id})
# in Anthropic's list shape when the request carries anthropic-version (as
# Anthropic's SDK and Claude Code send it), Codex's manifest with
# ?client_version=... (its models manager), GET /v1beta/models (and
# /v1beta/models/{model}) in Gemini's; unknown models 404 in that dialect.
. "$(dirname "$0")/lib.sh"

AV=(-H 'anthropic-version: 2023-06-01')
st=$(req a1 "$BASE_URL/v1/models" "${AV[@]}")
assert_eq "$st" 200 "anthropic list: status"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (j.has_more !== false || !Array.isArray(j.data)) throw new Error("shape " + JSON.stringify(j).slice(0, 200));
for (const m of j.data)
  if (m.type !== "model" || typeof m.id !== "string" || typeof m.display_name !== "string" ||
      !/^\d{4}-\d\d-\d\dT/.test(m.created_at)) throw new Error("entry " + JSON.stringify(m));
const ids = j.data.map((m) => m.id);
if (!ids.includes("m-anthropic") || !ids.includes("m-gemini")) throw new Error("ids " + ids);
if (j.first_id !== ids[0] || j.last_id !== ids[ids.length - 1]) throw new Error("first/last");
' "$T/a1.body" || fail "anthropic list: $(head -c 300 "$T/a1.body")"
st=$(req a2 "$BASE_URL/v1/models/m-gemini" "${AV[@]}")
assert_eq "$st" 200 "anthropic one: status"
assert_eq "$(jget type "$T/a2.body")" model "anthropic one: type"
assert_eq "$(jget id "$T/a2.body")" m-gemini "anthropic one: id"
req a3 "$BASE_URL/v1/models/nope" "${AV[@]}" >/dev/null
assert_eq "$(cat "$T/a3.code")" 404 "anthropic unknown: status"
assert_eq "$(jget type "$T/a3.body")" error "anthropic unknown: Anthropic shape"
# without the header: OpenAI's list, as before
assert_eq "$(req o1 "$BASE_URL/v1/models")" 200 "openai list"
assert_eq "$(jget object "$T/o1.body")" list "openai list: object"
# another query parameter alone changes nothing
assert_eq "$(req o2 "$BASE_URL/v1/models?client=x")" 200 "openai list with a query"
assert_eq "$(jget object "$T/o2.body")" list "openai list with a query: object"

# Codex's model manifest (GET /v1/models?client_version=...): {"models":[...]}
# with every field codex-rs's ModelInfo requires, in its types.
st=$(req c1 "$BASE_URL/v1/models?client_version=0.98.0")
assert_eq "$st" 200 "codex manifest: status"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (!Array.isArray(j.models) || "object" in j || "data" in j) throw new Error("shape " + JSON.stringify(j).slice(0, 200));
const t = (v, ty) => typeof v === ty;
j.models.forEach((m, i) => {
  if (!t(m.slug, "string") || !t(m.display_name, "string") || !t(m.description, "string") ||
      !Array.isArray(m.supported_reasoning_levels) ||
      !["default", "local", "unified_exec", "disabled", "shell_command"].includes(m.shell_type) ||
      !["list", "hide", "none"].includes(m.visibility) || m.supported_in_api !== true ||
      !Number.isInteger(m.priority) || m.priority !== i || m.upgrade !== null ||
      !t(m.base_instructions, "string") || !t(m.supports_reasoning_summaries, "boolean") ||
      !t(m.support_verbosity, "boolean") || !("default_verbosity" in m) ||
      !("apply_patch_tool_type" in m) || !["bytes", "tokens"].includes(m.truncation_policy.mode) ||
      !Number.isInteger(m.truncation_policy.limit) || !t(m.supports_parallel_tool_calls, "boolean") ||
      !Array.isArray(m.experimental_supported_tools) ||
      JSON.stringify(m.input_modalities) !== "[\"text\",\"image\"]")
    throw new Error("entry " + JSON.stringify(m));
});
const slugs = j.models.map((m) => m.slug);
if (!slugs.includes("m-anthropic") || !slugs.includes("m-gemini") || !slugs.includes("m-openai"))
  throw new Error("slugs " + slugs);
' "$T/c1.body" || fail "codex manifest: $(head -c 400 "$T/c1.body")"
# the parameter anywhere in the query
assert_eq "$(req c2 "$BASE_URL/v1/models?a=1&client_version=1.2.3")" 200 "codex manifest, second parameter"
assert_eq "$(jget 'models.length' "$T/c2.body")" "$(jget 'models.length' "$T/c1.body")" "codex manifest, second parameter: same list"

st=$(req g1 "$BASE_URL/v1beta/models")
assert_eq "$st" 200 "gemini list: status"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const names = j.models.map((m) => m.name);
if (!names.includes("models/m-gemini") || !names.includes("models/m-openai")) throw new Error("names " + names);
for (const m of j.models)
  if (!m.supportedGenerationMethods.includes("generateContent") ||
      !m.supportedGenerationMethods.includes("countTokens")) throw new Error("methods " + JSON.stringify(m));
' "$T/g1.body" || fail "gemini list: $(head -c 300 "$T/g1.body")"
st=$(req g2 "$BASE_URL/v1beta/models/m-anthropic")
assert_eq "$st" 200 "gemini one: status"
assert_eq "$(jget name "$T/g2.body")" models/m-anthropic "gemini one: name"
req g3 "$BASE_URL/v1beta/models/nope" >/dev/null
assert_eq "$(cat "$T/g3.code")" 404 "gemini unknown: status"
assert_eq "$(jget error.status "$T/g3.body")" NOT_FOUND "gemini unknown: Gemini shape"
