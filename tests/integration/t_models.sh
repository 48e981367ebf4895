#!/usr/bin/env bash
# GET /v1/models and /v1/models/{id} in the OpenAI list format.
. "$(dirname "$0")/lib.sh"

st=$(req m1 "$BASE_URL/v1/models")
assert_eq "$st" 200 "list: status"
assert_match "$(header m1 content-type)" '^application/json' "list: content-type"
assert_eq "$(jget object "$T/m1.body")" list "list: object"
ids=$(node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const m of j.data) {
  if (m.object !== "model" || typeof m.created !== "number" || typeof m.owned_by !== "string")
    throw new Error("bad entry " + JSON.stringify(m));
}
console.log(j.data.map((m) => m.id).sort().join(","));
' "$T/m1.body") || fail "list: entries"
assert_eq "$ids" "c-anthropic,c-gemini,c-openai,dead,demo,m-anthropic,m-azure,m-gemini,m-openai,r-azure,r-openai,renamed,slow" "list: ids"

st=$(req m2 "$BASE_URL/v1/models/demo")
assert_eq "$st" 200 "one: status"
assert_eq "$(jget id "$T/m2.body")" demo "one: id"
assert_eq "$(jget object "$T/m2.body")" model "one: object"
assert_eq "$(jget owned_by "$T/m2.body")" demo "one: owned_by"

req m3 "$BASE_URL/v1/models/no-such-model" >/dev/null
assert_api_error m3 404 model_not_found

req m4 "$BASE_URL/v1/models" -X POST -d '{}' >/dev/null
assert_api_error m4 405

st=$(req m5 "$BASE_URL/v1/models?limit=5")
assert_eq "$st" 200 "query string ignored: status"
