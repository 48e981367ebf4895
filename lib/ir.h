/* SPDX-License-Identifier: MIT */
/* ir.h - the one internal representation of a chat request, a chat
 * response and a response stream, shared by the three wire dialects
 * (wire_openai, wire_anthropic, wire_gemini). Not a wire format itself. */
#ifndef RELAY_IR_H
#define RELAY_IR_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"

/* Thinking budgets of the translation, in tokens (chatreq.c reserves what
 * they add). OpenAI's reasoning_effort values, when an OpenAI client asks
 * an Anthropic or Gemini model to reason: */
#define OA_EFFORT_LOW 1024
#define OA_EFFORT_MEDIUM 8192
#define OA_EFFORT_HIGH 24576
/* thinkingBudget -1 asks Gemini to decide; other providers need a number. */
#define GM_DYNAMIC_BUDGET 8192
/* The smallest thinking budget the Messages API accepts. */
#define AN_BUDGET_MIN 1024
#include "jsonx.h"
#include "limits.h"

struct creds_master;

/*
 * Strings in the IR are jansson string values (json_t *), each holding one
 * reference: taken from the parsed document (json_incref, no copy) or made
 * with json_stringn(). They keep their length and any NUL byte, and an
 * emitter hands them on with json_incref, so text, tool arguments and
 * thinking signatures reach the other side byte for byte. NULL means
 * absent.
 */

/* Who speaks. Tool results are parts of a user message, as in Anthropic's
 * Messages API; the OpenAI emitter splits them into role "tool" messages.
 * IR_ROLE_SYSTEM: a system message inside the conversation (Anthropic's
 * role "system" in messages, text parts only); only the OpenAI emitter
 * sees one, the others get it folded by ir_fold_system() (ir_fold.h). */
enum ir_role { IR_ROLE_USER, IR_ROLE_ASSISTANT, IR_ROLE_SYSTEM, IR_ROLE__MAX };

enum ir_part_type {
	IR_PART_TEXT, /* text */
	IR_PART_IMAGE, /* media_type + data (base64), or url */
	IR_PART_TOOL_CALL, /* id, name, args (JSON text), signature */
	IR_PART_TOOL_RESULT, /* id, name (when known), text, is_error */
	IR_PART_THINKING, /* text (may be empty), signature */
	IR_PART_REDACTED_THINKING, /* data: Anthropic's opaque blob */
	IR_PART__MAX
};

/* One content part; the fields a type does not use stay NULL. */
struct ir_part {
	enum ir_part_type type;
	json_t *text;
	json_t *media_type;
	json_t *data;
	json_t *url;
	json_t *id;
	json_t *name;
	json_t *args; /* the arguments object as JSON text, exactly as sent */
	json_t *signature; /* thinking signature / Gemini thoughtSignature */
	int is_error;
};

struct ir_msg {
	enum ir_role role;
	struct ir_part *parts;
	size_t nparts, cap;
};

struct ir_tool {
	json_t *name;
	json_t *description;
	json_t *schema; /* JSON Schema object of the parameters */
	int freeform; /* a Responses custom tool: one string "input" */
};

enum ir_tool_choice {
	IR_TOOL_CHOICE_UNSET, /* the provider's default (auto with tools) */
	IR_TOOL_CHOICE_AUTO,
	IR_TOOL_CHOICE_NONE,
	IR_TOOL_CHOICE_REQUIRED, /* any tool: OpenAI required, Anthropic any */
	IR_TOOL_CHOICE_TOOL, /* the one named tool_choice_name */
	IR_TOOL_CHOICE__MAX
};

enum ir_format {
	IR_FORMAT_TEXT,
	IR_FORMAT_JSON_OBJECT, /* any JSON object */
	IR_FORMAT_JSON_SCHEMA, /* format_schema, named format_name */
	IR_FORMAT__MAX
};

struct ir_request {
	json_t *model; /* as the client named it (absent for Gemini) */
	struct ir_msg system; /* system prompt: text parts, role unused */
	struct ir_msg *msgs;
	size_t nmsgs, capmsgs;
	struct ir_tool *tools;
	size_t ntools, captools;
	enum ir_tool_choice tool_choice;
	json_t *tool_choice_name;
	int parallel_tool_calls; /* -1 unset, 0 no, 1 yes */
	json_t *stop; /* array of strings, or NULL */
	json_t *temperature, *top_p, *top_k; /* numbers, or NULL */
	json_t *presence_penalty, *frequency_penalty, *seed;
	long long max_tokens; /* 0: the source set none */
	long long thinking_budget; /* 0: thinking off or not asked */
	json_t *reasoning_effort; /* OpenAI's string, when the source had it */
	/* OpenAI's user, safety_identifier and prompt_cache_key (strings),
	 * between its two wires (Chat Completions, Responses). */
	json_t *user, *safety_id, *cache_key;
	enum ir_format format;
	json_t *format_schema, *format_name;
	int stream;
	int include_usage; /* the client wants usage in its stream */
	/* Emit to an OpenAI-compatible vendor that wants its thinking back
	 * (DeepSeek, Kimi, GLM, Qwen: "reasoning_content must be passed
	 * back"): an assistant tool-call message carries its thinking as
	 * reasoning_content. Off for official OpenAI, which refuses unknown
	 * message fields. */
	int reasoning_back;
	/* In for the Responses parser (set before it runs): the master key
	 * that opens the relay's sealed reasoning and compaction items
	 * (lib/rseal.h; NULL: none), and the config name of the provider
	 * the request goes to (reasoning sealed for another is left out). */
	const struct creds_master *master;
	const char *provider;
};

/* Why generation stopped, normalised; the raw provider value rides along. */
enum ir_finish {
	IR_FINISH_NONE, /* not known (yet) */
	IR_FINISH_STOP, /* natural end: stop / end_turn / STOP */
	IR_FINISH_LENGTH, /* token limit: length / max_tokens / MAX_TOKENS */
	IR_FINISH_TOOL_CALLS, /* tool_calls / tool_use */
	IR_FINISH_STOP_SEQUENCE, /* Anthropic stop_sequence */
	IR_FINISH_CONTENT_FILTER, /* content_filter / SAFETY, RECITATION... */
	IR_FINISH_REFUSAL, /* Anthropic refusal */
	IR_FINISH_PAUSE, /* Anthropic pause_turn */
	IR_FINISH_OTHER, /* anything else: see the raw value */
	IR_FINISH__MAX
};

/*
 * Token counts, normalised to OpenAI's semantics: input counts every
 * prompt token, cache reads and cache writes included (OpenAI
 * prompt_tokens includes cached_tokens; Gemini promptTokenCount includes
 * cachedContentTokenCount; Anthropic input_tokens EXCLUDES
 * cache_read_input_tokens and cache_creation_input_tokens, so the
 * Anthropic parser adds them and its emitter subtracts them). output
 * counts every generated token, reasoning included (Gemini reports
 * thoughtsTokenCount beside candidatesTokenCount: the parser adds them).
 * cache_read, cache_write and reasoning are subsets. -1 in a field means
 * "not reported".
 */
struct ir_usage {
	long long input;
	long long output;
	long long cache_read;
	long long cache_write;
	long long reasoning;
};

struct ir_response {
	json_t *id;
	json_t *model;
	long long created; /* unix seconds; 0 when unknown */
	struct ir_msg msg; /* the assistant's parts */
	enum ir_finish finish;
	json_t *finish_raw; /* the provider's own string */
	json_t *stop_sequence; /* the sequence that matched, when told */
	struct ir_usage usage;
};

/* --- lifetime ----------------------------------------------------------- */

/* Zero r (nothing allocated); parallel_tool_calls -1. */
void ir_request_init(struct ir_request *r) RELAY_NONNULL;
/* Release everything r holds and init it again. */
void ir_request_reset(struct ir_request *r) RELAY_NONNULL;
/* Zero r, usage fields -1. */
void ir_response_init(struct ir_response *r) RELAY_NONNULL;
/* Release everything r holds and init it again. */
void ir_response_reset(struct ir_response *r) RELAY_NONNULL;
/* Usage with every field -1 (nothing reported). */
void ir_usage_init(struct ir_usage *u) RELAY_NONNULL;

/*
 * Append a message with role to r (its parts empty) and return it in
 * *out; the pointer is valid until the next ir_request_add_msg().
 * RELAY_ENOMEM.
 */
enum relay_err ir_request_add_msg(struct ir_request *r, enum ir_role role,
    struct ir_msg **out) RELAY_MUST_CHECK RELAY_NONNULL;
/*
 * Append a zeroed part of type t to m; *out points at it until the next
 * append to m. RELAY_ENOMEM.
 */
enum relay_err ir_msg_add_part(struct ir_msg *m, enum ir_part_type t,
    struct ir_part **out) RELAY_MUST_CHECK RELAY_NONNULL;
/* Append a zeroed tool; *out valid until the next append. RELAY_ENOMEM. */
enum relay_err ir_request_add_tool(
    struct ir_request *r, struct ir_tool **out) RELAY_MUST_CHECK RELAY_NONNULL;
/* Release the parts of m (m itself is the caller's). */
void ir_msg_reset(struct ir_msg *m) RELAY_NONNULL;

/*
 * The name of the tool call whose id is id among r's assistant messages,
 * or NULL (borrowed). Gemini's functionResponse needs the function name,
 * which OpenAI and Anthropic tool results do not repeat.
 */
json_t *ir_request_tool_name(const struct ir_request *r, const json_t *id);

/*
 * The text of m's parts of type t (TEXT, THINKING or TOOL_RESULT) joined
 * by sep (a new reference), or NULL when m has none or memory is short
 * (*oom then set to 1).
 */
json_t *ir_msg_text(
    const struct ir_msg *m, enum ir_part_type t, const char *sep, int *oom);

/* --- helpers for the wire modules --------------------------------------- */

/*
 * Write into out (size n >= 8) a fresh identifier: prefix then 24
 * random characters from [A-Za-z0-9], e.g. "chatcmpl-…", "msg_…",
 * "toolu_…". Truncated (still NUL-terminated) when n is too small.
 */
void ir_new_id(char *out, size_t n, const char *prefix) RELAY_NONNULL;

/*
 * Tool-call identifiers may carry a Gemini thoughtSignature for clients
 * whose dialect has no field for it (OpenAI, Anthropic): "<id>" +
 * IR_SIG_MARK + "<signature>". The client echoes the id verbatim in the
 * next turn, and the parsers split it again, so Gemini 3 gets its
 * signature back ("Function call is missing a thought_signature").
 */
#define IR_SIG_MARK "__thought__"

/*
 * Split id at IR_SIG_MARK: *plain gets the id before it and *sig the
 * signature after it (both new references), or *plain = id (incref) and
 * *sig = NULL when there is no mark. RELAY_ENOMEM.
 */
enum relay_err ir_id_split(
    json_t *id, json_t **plain, json_t **sig) RELAY_MUST_CHECK;
/* id joined with sig by IR_SIG_MARK (new reference); id alone (incref)
 * when sig is NULL. NULL on OOM. */
json_t *ir_id_join(json_t *id, json_t *sig);

/* A new reference to s when it is a string, else NULL (no error). */
json_t *ir_str(json_t *s);
/* The integer value of v when it is an integer >= 0, else -1. */
long long ir_count(const json_t *v);
/* JSON integer n, or JSON null when n < 0 (new reference, NULL on OOM). */
json_t *ir_count_json(long long n);
/* Assign into dst every field of src that is reported (>= 0). */
void ir_usage_merge(
    struct ir_usage *dst, const struct ir_usage *src) RELAY_NONNULL;
/* Assign into dst the fields of src that are reported (>= 0) where dst's
 * are not (< 0): counts from elsewhere never override the ones seen. */
void ir_usage_fill(
    struct ir_usage *dst, const struct ir_usage *src) RELAY_NONNULL;

/*
 * Parse JSON text held by the string s into a new reference; an empty
 * string gives {}. NULL when s is not valid JSON or memory is short (*oom
 * says which).
 */
json_t *ir_parse_args(const json_t *s, int *oom);

/*
 * Report invalid input: format the message into errbuf (size errsz), set
 * *param to name (a static string, may be NULL) and return RELAY_EINVAL.
 */
enum relay_err ir_fail(char *errbuf, size_t errsz, const char **param,
    const char *name, const char *fmt, ...) RELAY_PRINTF(5, 6) RELAY_COLD;

/*
 * json_object_set_new() that always consumes v (also when o or v is NULL,
 * as after an allocation failure): 1 on failure, 0 on success, so that a
 * builder can write "bad |= ir_set(o, k, v)" and test bad once.
 */
int ir_set(json_t *o, const char *key, json_t *v);
/* The same for json_array_append_new(). */
int ir_push(json_t *a, json_t *v);
/* JSON string for the span s (NULL on OOM). */
json_t *ir_span_json(struct span s);

/*
 * Append one SSE event to out: "event: <name>\n" when name is not NULL,
 * then "data: <compact JSON of v>" and the terminator term ("\n\n", or
 * "\r\n\r\n" for Gemini). v NULL (a failed builder) gives RELAY_ENOMEM.
 * On failure out is truncated back to its former length.
 */
enum relay_err ir_sse(struct buf *out, const char *name, const json_t *v,
    const char *term) RELAY_MUST_CHECK;

/* --- streaming: normalised events ---------------------------------------- */

/*
 * A stream is decoded from its upstream dialect into this sequence and
 * encoded into the client's dialect from it (lib/dialect.c joins the two):
 *
 *   START (BLOCK_START DELTA* BLOCK_STOP)* END
 *
 * with ERROR possible anywhere (and last). Blocks are numbered from 0 in
 * order and never overlap, except that a tool-argument fragment may name
 * an earlier, already stopped tool block when an upstream interleaves
 * parallel calls (OpenAI allows it; no provider is known to do it).
 */
enum ir_sev_kind {
	IR_SEV_START, /* id, model, created, usage so far */
	IR_SEV_BLOCK_START, /* index, part (TEXT, THINKING, TOOL_CALL); id,
			       name, signature for a tool call */
	IR_SEV_DELTA, /* index, delta, text */
	IR_SEV_BLOCK_STOP, /* index */
	IR_SEV_END, /* finish, finish_raw, usage (final) */
	IR_SEV_ERROR, /* status, text = message, name = provider's type */
	IR_SEV__MAX
};

enum ir_delta {
	IR_DELTA_TEXT,
	IR_DELTA_THINKING,
	IR_DELTA_SIGNATURE, /* thinking signature, to be appended */
	IR_DELTA_ARGS, /* a fragment of a tool call's JSON arguments */
	IR_DELTA__MAX
};

/* One event; spans borrow from the decoder and live for the callback. */
struct ir_sev {
	enum ir_sev_kind kind;
	size_t index;
	enum ir_part_type part;
	enum ir_delta delta;
	struct span text;
	struct span id, name, signature, model;
	long long created;
	enum ir_finish finish;
	struct span finish_raw;
	int status;
	const struct ir_usage *usage;
};

/* Receives the normalised events; a non-OK return stops the stream. */
typedef enum relay_err (*ir_sev_fn)(void *arg, const struct ir_sev *ev);

/* One tool block of a stream: the upstream's key for it, our index. */
struct ir_norm_tool {
	long long key;
	size_t index;
};

/*
 * The normaliser between a decoder and an encoder: it numbers blocks,
 * opens and stops them when the kind of content changes, and turns the
 * upstream's terminal events into one END. Callers allocate it; the
 * fields are private to ir.c.
 */
struct ir_norm {
	ir_sev_fn emit;
	void *arg;
	int started, ended;
	int open;
	size_t open_index;
	enum ir_part_type open_type;
	long long open_key;
	size_t next;
	struct ir_norm_tool *tools;
	size_t ntools, captools;
	enum ir_finish finish;
	char finish_raw[64];
	size_t finish_raw_len;
	struct ir_usage usage;
};

/* Start a normaliser that hands its events to emit(arg, ev). */
void ir_norm_init(struct ir_norm *n, ir_sev_fn emit, void *arg) RELAY_NONNULL;
/* Release its memory. */
void ir_norm_reset(struct ir_norm *n) RELAY_NONNULL;

/*
 * The decoders' calls. Each returns RELAY_OK or what emit() returned
 * (RELAY_ENOMEM, RELAY_ETOOBIG from the output buffer). After END or
 * ERROR every call is a no-op returning RELAY_OK. START is sent once,
 * before anything else, also when the decoder never calls
 * ir_norm_start() (ids are then the encoder's own).
 */
enum relay_err ir_norm_start(struct ir_norm *n, struct span id,
    struct span model, long long created) RELAY_MUST_CHECK;
/* Text or thinking text (kind TEXT or THINKING); empty pieces are
 * dropped. */
enum relay_err ir_norm_text(
    struct ir_norm *n, enum ir_delta kind, struct span s) RELAY_MUST_CHECK;
/* A thinking signature (piece); opens a thinking block when none is. */
enum relay_err ir_norm_signature(
    struct ir_norm *n, struct span s) RELAY_MUST_CHECK;
/* A tool call begins; key is the upstream's handle for later fragments.
 * id may be empty (the encoder makes one); sig may be empty. */
enum relay_err ir_norm_tool(struct ir_norm *n, long long key, struct span id,
    struct span name, struct span sig) RELAY_MUST_CHECK;
/* A fragment of the arguments of the tool call key (or of the open tool
 * block when key is unknown; dropped when there is none). */
enum relay_err ir_norm_args(
    struct ir_norm *n, long long key, struct span s) RELAY_MUST_CHECK;
/* The upstream closed its current block. */
enum relay_err ir_norm_stop(struct ir_norm *n) RELAY_MUST_CHECK;
/* Record the finish reason (the last one wins). */
void ir_norm_finish(
    struct ir_norm *n, enum ir_finish f, struct span raw) RELAY_NONNULL;
/* Merge reported counts (cumulative: assigned, not added). */
void ir_norm_usage(struct ir_norm *n, const struct ir_usage *u) RELAY_NONNULL;
/* The stream is complete: stop the open block and send END once. */
enum relay_err ir_norm_end(struct ir_norm *n) RELAY_MUST_CHECK;
/* The upstream reported an error: send ERROR; the stream is over. */
enum relay_err ir_norm_error(struct ir_norm *n, int status, struct span type,
    struct span msg) RELAY_MUST_CHECK;

/* --- replay: whole responses and streams, one told as the other --------- */

/* Text and thinking told as a stream go in pieces of at most this many
 * bytes, cut before a space when one lies past IR_PIECE_MIN: a few
 * tokens' worth, as a provider would send them. */
#define IR_PIECE_MIN 16
#define IR_PIECE_MAX 48

/*
 * Tell r again through n as a decoder would have: its prompt counts, START
 * with r's id, model and created, each text, thinking and tool call part
 * as a block of its own (text and thinking in pieces of IR_PIECE_MAX bytes
 * at most, never cut inside a UTF-8 sequence; a thinking signature after
 * its text; tool arguments in one fragment), then the whole usage, the
 * finish and END. Images, tool results and redacted thinking have no
 * stream event and are left out (a live translated stream drops them
 * too). Returns what n returned.
 */
enum relay_err ir_response_replay(const struct ir_response *r,
    struct ir_norm *n) RELAY_MUST_CHECK RELAY_NONNULL;

/* One block being gathered: its text, thinking or tool arguments, and its
 * thinking signature. */
struct ir_gather_blk {
	struct buf text;
	struct buf sig;
};

/*
 * The reverse: normalised events gathered into a whole response.
 * ir_gather_event() is an ir_sev_fn whose arg is the gatherer; each block
 * becomes a part of r->msg (fragments joined, a thinking signature kept),
 * START gives id, model, created and END finish, finish_raw and usage. An
 * ERROR event gives RELAY_EPROTO. Callers allocate it; the fields are
 * private to ir.c.
 */
struct ir_gather {
	struct ir_response *r;
	struct ir_gather_blk *blk;
	size_t nblk, capblk;
	int done; /* END was gathered: r is whole */
};

/* Start gathering into r (initialised by the caller, who resets it). */
void ir_gather_init(struct ir_gather *g, struct ir_response *r) RELAY_NONNULL;
/* Release the gatherer's own memory (not r). */
void ir_gather_reset(struct ir_gather *g) RELAY_NONNULL;
/* The ir_sev_fn. RELAY_OK, RELAY_ENOMEM, RELAY_EPROTO (ERROR, or a block
 * out of order). */
enum relay_err ir_gather_event(
    void *arg, const struct ir_sev *ev) RELAY_MUST_CHECK;

/* --- stream coder state, private to the wire modules --------------------- */

/* How many upstream tool indexes a decoder remembers (OpenAI
 * delta.tool_calls[].index); fragments for higher ones follow the open
 * call. */
#define IR_DEC_TOOL_SLOTS 64

/* An upstream decoder's state. */
struct ir_dec {
	long long keys; /* tool calls seen */
	long long slot_key[IR_DEC_TOOL_SLOTS]; /* upstream index -> key + 1 */
	long long last_key;
	int saw_tool;
	/* Anthropic's own counts (input_tokens excludes the cache). */
	long long raw_input, raw_cache_read, raw_cache_write;
	/* Gemini: the response id, for tool call ids. */
	char id[64];
};

/* A client encoder's state. */
struct ir_enc {
	char id[128];
	char model[RELAY_NAME_MAX + 1];
	long long created;
	int include_usage;
	int started, done;
	size_t *tool_ord; /* block index -> tool ordinal + 1 (0: not a tool) */
	size_t nblk, capblk;
	size_t ntools;
	/* Gemini: the open call, sent whole at its block stop. */
	struct buf args;
	json_t *tool_id, *tool_name, *tool_sig;
	/* Gemini: a thinking signature waiting for its part. */
	json_t *think_sig;
	/* Responses: the events' sequence_number, the output items done so
	 * far, the open item (its block, part type or -1, id and text or
	 * arguments gathered), the custom tool names (borrowed, see
	 * wire_responses.h). */
	long long seq;
	json_t *items;
	size_t item_block;
	int item_kind;
	char item_id[64];
	struct buf acc;
	const char *custom;
};

/* Start enc for a client that asked for model (may be NULL). */
void ir_enc_init(
    struct ir_enc *enc, const char *model, int include_usage) RELAY_NONNULL;
/* Release its memory. */
void ir_enc_reset(struct ir_enc *enc) RELAY_NONNULL;
/* Remember that block index is the tool call with ordinal ord.
 * RELAY_ENOMEM. */
enum relay_err ir_enc_set_tool(struct ir_enc *enc, size_t index,
    size_t ord) RELAY_MUST_CHECK RELAY_NONNULL;
/* The ordinal of the tool call in block index, or -1. */
long long ir_enc_tool(const struct ir_enc *enc, size_t index) RELAY_NONNULL;
/* Copy s into dst (size n) unless s is empty, NUL-terminated, truncated
 * (at the start of a UTF-8 sequence). */
void ir_copy_span(char *dst, size_t n, struct span s) RELAY_NONNULL;

#endif
