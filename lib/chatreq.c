/* SPDX-License-Identifier: MIT */
/* chatreq.c - the checks OpenAI itself makes first (model, messages,
 * stream), with its wording, so SDK users see familiar errors. */
#include <stdio.h>
#include <string.h>

#include "chatreq.h"
#include "config.h"
#include "jsonx.h"
#include "limits.h"
#include "num.h"

static enum relay_err
fail(char *errbuf, size_t errsz, const char **param, const char *name,
    const char *msg)
{
	snprintf(errbuf, errsz, "%s", msg);
	*param = name;
	return RELAY_EINVAL;
}

/* A choice count (n, candidateCount): one when absent or not a positive
 * integer (the upstream refuses those, and nothing is spent). */
static long long
choices_of(json_t *n)
{
	return json_is_integer(n) && json_integer_value(n) > 1
	    ? json_integer_value(n)
	    : 1;
}

/* Whether a call of dialect d to model m may be translated for an
 * Anthropic provider, which adds a thinking budget to max_tokens. */
static int
to_anthropic(const struct config_model *m, enum dialect d)
{
	size_t i;

	if (m == NULL || d == DIALECT_ANTHROPIC)
		return 0;
	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i].provider != NULL &&
		    m->targets[i].provider->type == PROVIDER_ANTHROPIC)
			return 1;
	return 0;
}

long long
chatreq_reserve(
    const struct chatreq *cr, const struct config_model *m, long long def)
{
	uint64_t out = cr->max_tokens > 0 ? (uint64_t)cr->max_tokens
	    : def > 0                     ? (uint64_t)def
					  : 0;
	uint64_t r;

	if (cr->think > 0 && to_anthropic(m, cr->d))
		out = num_add_sat(out,
		    cr->think > AN_BUDGET_MIN ? (uint64_t)cr->think
					      : AN_BUDGET_MIN);
	r = num_mul_sat(out, cr->choices > 1 ? (uint64_t)cr->choices : 1);
	return r > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)r;
}

/* The thinking budget wire_openai.c asks for a reasoning_effort. */
static long long
effort_budget(const char *e)
{
	if (e == NULL)
		return 0;
	return strcmp(e, "low") == 0   ? OA_EFFORT_LOW
	    : strcmp(e, "medium") == 0 ? OA_EFFORT_MEDIUM
	    : strcmp(e, "high") == 0   ? OA_EFFORT_HIGH
				       : 0;
}

/* Every spelling the upstream honours is checked, and the largest is
 * reserved: reading one while the upstream obeys another would reserve
 * the default for a request that asks for any amount. */
static enum relay_err
max_tokens(json_t *root, struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param)
{
	static const char *const names[] = {
	    "max_completion_tokens", "max_tokens"};
	json_t *v;
	size_t i;

	for (i = 0; i < 2; i++) {
		v = json_object_get(root, names[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return fail(errbuf, errsz, param, names[i],
			    "Invalid value: expected an integer >= 1.");
		if (cr->max_tokens < json_integer_value(v))
			cr->max_tokens = json_integer_value(v);
	}
	cr->choices = choices_of(json_object_get(root, "n"));
	cr->think = effort_budget(
	    json_string_value(json_object_get(root, "reasoning_effort")));
	return RELAY_OK;
}

enum relay_err
chatreq_parse(const char *p, size_t n, struct chatreq *cr, char *errbuf,
    size_t errsz, const char **param)
{
	json_t *root, *model, *msgs, *stream, *opts, *usage;
	enum relay_err err;

	memset(cr, 0, sizeof(*cr));
	*param = NULL;
	if (n == 0)
		return fail(errbuf, errsz, param, NULL,
		    "We could not parse the JSON body of your request: the "
		    "body is empty.");
	err = jsonx_parse(p, n, &root, errbuf, errsz);
	if (err != RELAY_OK)
		return err;
	cr->root = root;
	if (!json_is_object(root))
		return fail(errbuf, errsz, param, NULL,
		    "The request body must be a JSON object.");
	model = json_object_get(root, "model");
	if (model == NULL || !json_is_string(model) ||
	    json_string_length(model) == 0)
		return fail(errbuf, errsz, param, "model",
		    "you must provide a model parameter");
	if (json_string_length(model) > RELAY_NAME_MAX)
		return fail(
		    errbuf, errsz, param, "model", "model name is too long");
	cr->model.p = json_string_value(model);
	cr->model.len = json_string_length(model);
	msgs = json_object_get(root, "messages");
	if (msgs == NULL)
		return fail(errbuf, errsz, param, "messages",
		    "Missing required parameter: 'messages'.");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return fail(errbuf, errsz, param, "messages",
		    "Invalid 'messages': expected a non-empty array.");
	stream = json_object_get(root, "stream");
	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return fail(errbuf, errsz, param, "stream",
		    "Invalid type for 'stream': expected a boolean.");
	cr->stream = json_is_true(stream);
	opts = json_object_get(root, "stream_options");
	usage = json_is_object(opts) ? json_object_get(opts, "include_usage")
				     : NULL;
	cr->include_usage = json_is_true(usage);
	return max_tokens(root, cr, errbuf, errsz, param);
}

static enum relay_err
anthropic_look(json_t *root, struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param)
{
	json_t *model = json_object_get(root, "model");
	json_t *msgs = json_object_get(root, "messages");
	json_t *max = json_object_get(root, "max_tokens");
	json_t *stream = json_object_get(root, "stream");

	if (!json_is_string(model) || json_string_length(model) == 0 ||
	    json_string_length(model) > RELAY_NAME_MAX)
		return fail(
		    errbuf, errsz, param, "model", "model: Field required");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return fail(errbuf, errsz, param, "messages",
		    "messages: Field required (a non-empty list)");
	if (!json_is_integer(max) || json_integer_value(max) < 1)
		return fail(errbuf, errsz, param, "max_tokens",
		    "max_tokens: Field required (an integer >= 1)");
	if (stream != NULL && !json_is_boolean(stream))
		return fail(errbuf, errsz, param, "stream",
		    "stream: Input should be a valid boolean");
	cr->model.p = json_string_value(model);
	cr->model.len = json_string_length(model);
	cr->max_tokens = json_integer_value(max);
	cr->stream = json_is_true(stream);
	cr->include_usage = 1; /* Anthropic streams always carry usage */
	return RELAY_OK;
}

/* generationConfig's member in either spelling Gemini reads (the JSON
 * mapping of its protos takes lowerCamel and snake_case alike). */
static json_t *
gc_get(json_t *gc, const char *camel, const char *snake)
{
	json_t *v = json_object_get(gc, camel);

	return v != NULL ? v : json_object_get(gc, snake);
}

static enum relay_err
gemini_look(json_t *root, struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param)
{
	static const char *const names[] = {
	    "maxOutputTokens", "max_output_tokens"};
	json_t *contents = json_object_get(root, "contents");
	json_t *gc = json_object_get(root, "generationConfig");
	json_t *max, *think;
	size_t i;

	if (gc == NULL)
		gc = json_object_get(root, "generation_config");
	if (!json_is_array(contents) || json_array_size(contents) == 0)
		return fail(errbuf, errsz, param, "contents",
		    "* GenerateContentRequest.contents: contents is not "
		    "specified");
	for (i = 0; i < 2; i++) {
		max = json_object_get(gc, names[i]);
		if (max == NULL)
			continue;
		if (!json_is_integer(max) || json_integer_value(max) < 1)
			return fail(errbuf, errsz, param, "generationConfig",
			    "* GenerateContentRequest.generation_config.max_"
			    "output_tokens: must be a positive integer");
		if (cr->max_tokens < json_integer_value(max))
			cr->max_tokens = json_integer_value(max);
	}
	/* The thinking budget as wire_gemini.c reads it (-1: Gemini's
	 * dynamic budget). */
	think = gc_get(gc_get(gc, "thinkingConfig", "thinking_config"),
	    "thinkingBudget", "thinking_budget");
	if (json_is_integer(think) && json_integer_value(think) != 0)
		cr->think = json_integer_value(think) < 0
		    ? GM_DYNAMIC_BUDGET
		    : json_integer_value(think);
	cr->choices =
	    choices_of(gc_get(gc, "candidateCount", "candidate_count"));
	cr->include_usage = 1; /* Gemini streams always carry usage */
	return RELAY_OK;
}

/* The Responses API: model, input, stream, max_output_tokens and the
 * thinking budget reasoning.effort asks (wire_responses.c's mapping). */
static enum relay_err
responses_look(json_t *root, struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param)
{
	json_t *model = json_object_get(root, "model");
	json_t *input = json_object_get(root, "input");
	json_t *max = json_object_get(root, "max_output_tokens");
	json_t *stream = json_object_get(root, "stream");
	const char *e = json_string_value(
	    json_object_get(json_object_get(root, "reasoning"), "effort"));

	if (!json_is_string(model) || json_string_length(model) == 0 ||
	    json_string_length(model) > RELAY_NAME_MAX)
		return fail(errbuf, errsz, param, "model",
		    "you must provide a model parameter");
	if (!json_is_string(input) && !json_is_array(input))
		return fail(errbuf, errsz, param, "input",
		    "Missing required parameter: 'input' (a string or an "
		    "array of input items).");
	if (max != NULL && !json_is_null(max) &&
	    (!json_is_integer(max) || json_integer_value(max) < 1))
		return fail(errbuf, errsz, param, "max_output_tokens",
		    "Invalid 'max_output_tokens': expected an integer >= 1.");
	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return fail(errbuf, errsz, param, "stream",
		    "Invalid type for 'stream': expected a boolean.");
	cr->model.p = json_string_value(model);
	cr->model.len = json_string_length(model);
	cr->max_tokens = json_is_integer(max) ? json_integer_value(max) : 0;
	cr->stream = json_is_true(stream);
	cr->include_usage = 1; /* response.completed always carries it */
	if (e != NULL && strcmp(e, "minimal") == 0)
		e = "low";
	if (e != NULL && strcmp(e, "xhigh") == 0)
		e = "high";
	cr->think = effort_budget(e);
	cr->choices = 1;
	return RELAY_OK;
}

enum relay_err
chatreq_parse_dialect(enum dialect d, const char *p, size_t n,
    struct chatreq *cr, char *errbuf, size_t errsz, const char **param)
{
	enum relay_err err;
	json_t *root;

	if (d == DIALECT_OPENAI)
		return chatreq_parse(p, n, cr, errbuf, errsz, param);
	memset(cr, 0, sizeof(*cr));
	*param = NULL;
	if (n == 0)
		return fail(errbuf, errsz, param, NULL, "The body is empty.");
	err = jsonx_parse(p, n, &root, errbuf, errsz);
	if (err != RELAY_OK)
		return err;
	cr->root = root;
	if (!json_is_object(root))
		return fail(errbuf, errsz, param, NULL,
		    "The request body must be a JSON object.");
	cr->d = d;
	if (d == DIALECT_RESPONSES)
		return responses_look(root, cr, errbuf, errsz, param);
	return d == DIALECT_ANTHROPIC
	    ? anthropic_look(root, cr, errbuf, errsz, param)
	    : gemini_look(root, cr, errbuf, errsz, param);
}

enum relay_err
chatreq_parse_embeddings(const char *p, size_t n, struct chatreq *cr,
    char *errbuf, size_t errsz, const char **param)
{
	json_t *root, *model, *input;
	enum relay_err err;

	memset(cr, 0, sizeof(*cr));
	*param = NULL;
	cr->embed = 1;
	if (n == 0)
		return fail(errbuf, errsz, param, NULL, "The body is empty.");
	err = jsonx_parse(p, n, &root, errbuf, errsz);
	if (err != RELAY_OK)
		return err;
	cr->root = root;
	model = json_object_get(root, "model");
	input = json_object_get(root, "input");
	if (!json_is_object(root))
		return fail(errbuf, errsz, param, NULL,
		    "The request body must be a JSON object.");
	if (!json_is_string(model) || json_string_length(model) == 0 ||
	    json_string_length(model) > RELAY_NAME_MAX)
		return fail(errbuf, errsz, param, "model",
		    "you must provide a model parameter");
	if (!json_is_string(input) &&
	    (!json_is_array(input) || json_array_size(input) == 0))
		return fail(errbuf, errsz, param, "input",
		    "'input' must be a string or a non-empty array");
	cr->model.p = json_string_value(model);
	cr->model.len = json_string_length(model);
	return RELAY_OK;
}

void
chatreq_free(struct chatreq *cr)
{
	json_decref(cr->root);
	memset(cr, 0, sizeof(*cr));
}
