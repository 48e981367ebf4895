/* SPDX-License-Identifier: MIT */
/* chatreq.c - the checks OpenAI itself makes first (model, messages,
 * stream), with its wording, so SDK users see familiar errors. */
#include <stdio.h>
#include <string.h>

#include "chatreq.h"
#include "jsonx.h"
#include "limits.h"

static enum relay_err
fail(char *errbuf, size_t errsz, const char **param, const char *name,
    const char *msg)
{
	snprintf(errbuf, errsz, "%s", msg);
	*param = name;
	return RELAY_EINVAL;
}

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
		if (cr->max_tokens == 0)
			cr->max_tokens = json_integer_value(v);
	}
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

static enum relay_err
gemini_look(json_t *root, struct chatreq *cr, char *errbuf, size_t errsz,
    const char **param)
{
	json_t *contents = json_object_get(root, "contents");
	json_t *gc = json_object_get(root, "generationConfig");
	json_t *max = json_object_get(gc, "maxOutputTokens");

	if (!json_is_array(contents) || json_array_size(contents) == 0)
		return fail(errbuf, errsz, param, "contents",
		    "* GenerateContentRequest.contents: contents is not "
		    "specified");
	if (max != NULL &&
	    (!json_is_integer(max) || json_integer_value(max) < 1))
		return fail(errbuf, errsz, param, "generationConfig",
		    "* GenerateContentRequest.generation_config.max_output_"
		    "tokens: must be a positive integer");
	cr->max_tokens = max != NULL ? json_integer_value(max) : 0;
	cr->include_usage = 1; /* Gemini streams always carry usage */
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
