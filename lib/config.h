/* SPDX-License-Identifier: MIT */
/* config.h - the relay's JSON configuration: validated snapshots, shared
 * read-only by every thread, swapped when the file changes. */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "compiler.h"
#include "err.h"
#include "pii.h"

enum provider_type {
	PROVIDER_OPENAI, /* OpenAI or any OpenAI-compatible base URL */
	PROVIDER_AZURE, /* Azure OpenAI: deployments, api-version */
	PROVIDER_ANTHROPIC, /* Anthropic Messages API */
	PROVIDER_GEMINI, /* Google Gemini generateContent */
	PROVIDER__MAX
};

struct config_header {
	char *name;
	char *value;
};

/* All config structs are read-only outside config.c. */
/* A list of strings from the config. */
struct config_strs {
	char **v;
	size_t n;
};

/*
 * Per-provider changes to what is sent (config "override", and
 * "anthropic_beta"), applied by override.c after the call is built.
 */
struct config_override {
	struct config_strs beta_allow; /* anthropic-beta values kept ("x-*") */
	struct config_strs beta_deny; /* anthropic-beta values removed */
	struct config_strs headers_delete; /* never sent (curl's too) */
	struct config_strs pass_headers; /* client headers passed on */
	struct config_strs body_delete; /* dotted paths */
	struct config_strs body_set_path; /* dotted paths ... */
	struct config_strs body_set_json; /* ... their values, as "[value]" */
};

/* One of a provider's base_urls (several nodes of one API). */
struct config_base_url {
	char *url; /* without trailing '/' */
	int weight; /* share, >= 1 */
};

struct config_provider {
	struct config_override ov;
	char *name;
	enum provider_type type;
	char *base_url; /* without trailing '/'; base_urls: the first */
	/* base_urls: chosen per call by weight, each with its own breaker
	 * ("<provider>@<index>"); none when the provider has one base_url. */
	struct config_base_url *urls;
	size_t nurls;
	char **keys; /* resolved secrets; never log them */
	int *key_weights; /* per key, >= 1 */
	size_t nkeys;
	char
	    *api_version; /* azure: api-version; anthropic: anthropic-version */
	struct config_header *headers;
	size_t nheaders;
	long connect_ms;
	long first_byte_ms;
	long idle_ms;
	long total_ms; /* 0: no cap */
	/* Egress proxy URLs (egress.h), may hold credentials: never log.
	 * NULL: direct. key_proxies[i] (NULL: the provider's) for keys[i]. */
	char *proxy;
	char **key_proxies;
	/* "relay": another llm-relay (a tier above): it gets our request
	 * id, a traceparent and the signed end user (tier.h). */
	int relay;
	/* "reasoning_content": an OpenAI-compatible vendor (DeepSeek, Kimi,
	 * GLM, Qwen) that wants an assistant tool call's thinking back. */
	int reasoning_content;
};

struct config_target {
	const struct config_provider *provider;
	char *model; /* the provider's own model name */
	int priority; /* lower first; targets of one priority share load */
	int weight; /* share within its priority, >= 1 */
	/* "api": "responses": served by the provider's Responses API
	 * (OpenAI /v1/responses, Azure /openai/v1/responses), not Chat
	 * Completions; for models that exist only there. */
	int responses;
};

/* Retries of one request (config "retry"). */
struct config_retry {
	int max_attempts; /* per target, >= 1 */
	long base_delay_ms; /* backoff: base * 2^(attempt-1), jittered */
	long max_delay_ms;
	long deadline_ms; /* no new attempt after this since the start */
	/* An upstream Retry-After longer than this is not waited for: the
	 * answer goes on (to the next target, or to the client) at once. */
	long max_retry_after_ms;
	int on_status[16]; /* upstream statuses worth another attempt */
	size_t non_status;
};

/* Circuit breakers (config "breaker"); failures 0 turns them off. */
struct config_breaker {
	int failures; /* in one window, to open */
	int window_s;
	int open_s; /* fail fast this long, then one probe */
};

/* Provider keys the provider refused (401/403): config "keypool". */
struct config_keypool {
	long auth_bench_s; /* out of rotation at most this long */
	long auth_recheck_s; /* then one call re-checks it */
};

/* Prompt-cache affinity (config "affinity", lib/affinity.h): one agent
 * session's requests stay on one target and key for ttl_s. */
struct config_affinity {
	int enabled;
	long ttl_s;
	struct config_strs headers; /* more headers naming a session */
	struct config_strs body_paths; /* more dotted body paths naming one */
};

/* The response cache of one model (config "cache", top level and per
 * model; a model's own keys override the top level's). */
struct config_cache {
	int enabled;
	long ttl_s; /* entry lifetime, seconds */
	int any_temperature; /* also cache sampled answers (temperature > 0 or
				unset); off: only temperature 0 */
	int shared; /* one key's answers may serve another key */
};

/* What the content filter does with an answer. */
enum filter_output {
	FILTER_OUT_OFF,
	FILTER_OUT_MASK, /* listed words become '*' */
	FILTER_OUT_STOP, /* the answer ends before the first listed word,
			    with the dialect's content-filter finish reason */
	FILTER_OUT__MAX
};

/* The content filter of one model (config "content_filter", top level
 * and per model). */
struct config_filter {
	int input; /* refuse requests holding a listed word */
	enum filter_output output;
};

/* What outbound protection does with one kind of personal data before a
 * request leaves (config "pii_protection", top level, per model, and a
 * key's own override; lib/pii_out.h acts on it). */
enum pii_action {
	PII_ACT_OFF, /* sent as it is */
	PII_ACT_MASK, /* irreversibly masked: 138****5678 */
	PII_ACT_PSEUDO, /* a placeholder (⟦PHONE_1⟧), restored in the answer */
	PII_ACT_BLOCK, /* the request is refused (400) */
	PII_ACT__MAX
};

/* One action per entity kind (enum pii_entity). */
struct config_pii {
	unsigned char act[PII_ENT__MAX];
	/* pii_protection.surrogates (top level only): pseudonymised phones,
	 * IDs and cards go out as format-preserving surrogates (a valid
	 * mobile, an ID with a valid check character, a Luhn-valid card)
	 * instead of ⟦…⟧ placeholders. */
	unsigned char surrogates;
};

/* pii_protection.detector: an external detector over HTTP speaking the
 * Presidio analyzer's REST API (POST {text, language, entities,
 * score_threshold}, an array of {entity_type, start, end, score}), for
 * what no scanner can find: names and addresses (lib/pii_detect.h). */
struct config_detector {
	char *url; /* NULL: no detector */
	long timeout_ms; /* the whole call, connect included */
	struct config_strs entities; /* the detector's types asked for */
	char *language; /* "en", "zh", ... */
	double score_threshold; /* findings scored lower are ignored */
	int skip_on_error; /* on_error "skip": go on without it */
};

struct config_model {
	struct config_cache cache;
	struct config_filter filter;
	struct config_pii pii;
	char *name; /* the public name clients send; may hold '*' wildcards
		       ("claude-*"), matched after exact names and aliases */
	char **aliases; /* other public names of the same model */
	size_t naliases;
	int pattern; /* name holds a wildcard */
	double price_in; /* USD per million input tokens, 0: free */
	double price_out; /* USD per million output tokens */
	struct config_target *targets;
	size_t ntargets;
};

struct config {
	char **kv_servers; /* "host:port" or "/unix/path" */
	size_t nkv_servers;
	long kv_timeout_ms;
	size_t body_max;
	long heartbeat_ms;
	int fail_open; /* limits.on_memcached_error is fail_open */
	long default_max_tokens; /* reservation when a request sets none */
	char *data_dir; /* keys and credentials live here */
	struct config_retry retry;
	struct config_breaker breaker;
	struct config_keypool keypool;
	struct config_affinity affinity;
	struct config_cache cache; /* the defaults models inherit */
	struct config_filter filter; /* the defaults models inherit */
	int prompt_log; /* prompt_log.enabled: keep masked prompts/answers */
	long prompt_log_hours; /* prompt_log.retention_h */
	/* access_log: day files kept this many days (0: for ever), each line
	 * chained to the one before it by its hash (accesslog.h). Read when
	 * a responder starts. */
	int access_retention_days;
	int access_hash_chain;
	char **filter_files; /* word lists, one word per line */
	size_t nfilter_files;
	struct config_pii pii; /* the defaults models inherit */
	char **pii_files; /* pii_protection.word_files: TERM entities */
	size_t npii_files;
	/* pii_protection.proxy "json": /proxy/ protects JSON bodies (else
	 * it refuses while a policy is on) */
	int pii_proxy_json;
	struct config_detector pii_detector; /* NAME and ADDRESS entities */
	size_t cache_max_bytes; /* larger answers are not cached */
	size_t cache_part_bytes; /* one memcached item holds this much */
	struct config_provider *providers;
	size_t nproviders;
	struct config_model *models;
	size_t nmodels;
	unsigned long generation; /* bumps on every successful reload */
	char *source; /* file path, or "built-in" */
	int refs; /* private */
};

/* Provider type names as written in the config ("openai"). */
const char *config_provider_type_name(enum provider_type t);

/*
 * Parse and validate config text. On success *out is a new snapshot with
 * one reference. On failure RELAY_EINVAL with a message in errbuf naming
 * the JSON path at fault ("$.providers[0].type: ..."), or RELAY_ENOMEM.
 */
enum relay_err config_parse(const char *text, size_t len, struct config **out,
    char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/*
 * The built-in configuration, written into b as JSON: memcached on
 * 127.0.0.1:11211 (or RELAY_MEMCACHED), a "demo" model served by the mock
 * upstream at RELAY_DEMO_URL (default http://127.0.0.1:18081/v1), and the
 * usual OpenAI models when OPENAI_API_KEY is set.
 */
enum relay_err config_default_json(struct buf *b) RELAY_MUST_CHECK;

/* The egress proxy of a call to p with key (a keys[] entry, a stored
 * credential or NULL): the key's own, else the provider's; NULL: direct. */
const char *config_key_proxy(const struct config_provider *p, const char *key)
    __attribute__((nonnull(1)));

/* Find a public model by name: exact names, then aliases, then wildcard
 * patterns in config order; NULL when nothing matches. */
const struct config_model *config_find_model(
    const struct config *cfg, struct span name) RELAY_NONNULL;

/* Drop a reference; the snapshot is freed with the last one. NULL is ok. */
void config_release(struct config *cfg);

struct config_store;

/*
 * Load path (NULL: the built-in default) and watch it. On failure NULL with
 * the reason in errbuf; the caller exits, since there is no config to keep.
 */
struct config_store *config_store_new(
    const char *path, char *errbuf, size_t errsz) RELAY_MUST_CHECK;

/*
 * Current snapshot with a reference the caller must config_release(). At
 * most once per RELAY_CONFIG_CHECK_MS it looks at the file; when it changed
 * and is valid, the new snapshot takes over for later callers; when it is
 * invalid, the refusal is logged once and the old snapshot stays.
 */
struct config *config_acquire(struct config_store *st) RELAY_NONNULL;

/* Free the store and its reference to the current snapshot. */
void config_store_free(struct config_store *st);

#endif
