/* SPDX-License-Identifier: MIT */
/* test_config.c - unit tests for lib/config.c: the minimal config, every
 * kind of refusal with its JSON path, the built-in default, hot reload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../lib/config.h"
#include "../../lib/limits.h"
#include "../../lib/mem.h"

#include "oom_test.h"

/* Under torture RELAY_ENOMEM ends the case through its cleanup at out:. */
#define TRY(call, want)                                                        \
	do {                                                                   \
		enum relay_err e_ = (call);                                    \
		if (e_ == RELAY_ENOMEM && oom_n != 0)                          \
			goto out;                                              \
		assert_int_equal(e_, (want));                                  \
	} while (0)

/* The minimal config from the issue. */
#define MINIMAL                                                                \
	"{\"memcached\":{\"servers\":[\"127.0.0.1:11211\"]},\"providers\":"    \
	"[{\"name\":\"oa\",\"type\":\"openai\",\"base_url\":"                  \
	"\"https://api.openai.com/v1\",\"api_keys\":[\"env:OPENAI_API_KEY\"]}" \
	"],\"models\":[{\"name\":\"gpt-4o-mini\",\"targets\":[{\"provider\":"  \
	"\"oa\",\"model\":\"gpt-4o-mini\"}]}]}"

/* Pieces to build variants from. */
#define MC "\"memcached\":{\"servers\":[\"127.0.0.1:11211\"]}"
#define PROV(extra)                                                            \
	"\"providers\":[{\"name\":\"p\",\"type\":\"openai\",\"base_url\":"     \
	"\"http://127.0.0.1:9/v1\"" extra "}]"
#define MODELS                                                                 \
	"\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\"}]}]"

/*
 * jansson 2.14's lexer drops the result of growing its token buffer
 * (lex_save() ignores strbuffer_append_byte() failing) and then truncates
 * the token or reads past it. The oom-safe cases therefore keep every JSON
 * token (strings with their quotes, keys, numbers) under 16 bytes, so that
 * buffer never grows; long tokens are covered by the plain cases.
 */
#define SHORT_CFG                                                              \
	"{\"memcached\":{\"servers\":[\"m:1\"]},\"providers\":[{\"name\":"     \
	"\"oa\",\"type\":\"openai\",\"base_url\":\"http://h:9/v1\","           \
	"\"api_keys\":[\"env:RK\",\"lit\"],\"timeouts\":{\"idle_ms\":5}}],"    \
	"\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"oa\"},"      \
	"{\"provider\":\"oa\",\"model\":\"m2\"}]},{\"name\":\"n\","            \
	"\"targets\":[{\"provider\":\"oa\"}]}]}"

static enum relay_err
parse(const char *text, struct config **out, char *eb, size_t ebsz)
{
	eb[0] = '\0';
	return config_parse(text, strlen(text), out, eb, ebsz);
}

/* text must be refused with a message that starts with prefix. */
static void
refused(const char *text, const char *prefix)
{
	struct config *c = (struct config *)1;
	char eb[512];

	assert_int_equal(parse(text, &c, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(c);
	if (strncmp(eb, prefix, strlen(prefix)) != 0)
		fail_msg(
		    "for %s\n got \"%s\"\nwant \"%s...\"", text, eb, prefix);
}

/* --- cases with long tokens (plain) ------------------------------------ */

static void
test_minimal_accepted(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	setenv("OPENAI_API_KEY", "sk-test-123", 1);
	TRY(parse(MINIMAL, &c, eb, sizeof(eb)), RELAY_OK);
	assert_non_null(c);
	assert_int_equal(c->nkv_servers, 1);
	assert_string_equal(c->kv_servers[0], "127.0.0.1:11211");
	assert_int_equal(c->kv_timeout_ms, RELAY_KV_TIMEOUT_MS_DEFAULT);
	assert_int_equal(c->body_max, RELAY_BODY_MAX_DEFAULT);
	assert_int_equal(c->heartbeat_ms, RELAY_HEARTBEAT_MS_DEFAULT);
	assert_int_equal(c->nproviders, 1);
	assert_string_equal(c->providers[0].name, "oa");
	assert_int_equal(c->providers[0].type, PROVIDER_OPENAI);
	assert_string_equal(
	    c->providers[0].base_url, "https://api.openai.com/v1");
	assert_int_equal(c->providers[0].nkeys, 1);
	assert_string_equal(c->providers[0].keys[0], "sk-test-123");
	assert_int_equal(c->providers[0].connect_ms, RELAY_CONNECT_MS_DEFAULT);
	assert_int_equal(c->providers[0].total_ms, RELAY_TOTAL_MS_DEFAULT);
	assert_int_equal(c->nmodels, 1);
	assert_string_equal(c->models[0].name, "gpt-4o-mini");
	assert_int_equal(c->models[0].ntargets, 1);
	assert_ptr_equal(c->models[0].targets[0].provider, &c->providers[0]);
	assert_string_equal(c->models[0].targets[0].model, "gpt-4o-mini");
	assert_ptr_equal(
	    config_find_model(c, SPAN_LIT("gpt-4o-mini")), &c->models[0]);
	assert_null(config_find_model(c, SPAN_LIT("gpt-4o")));
	assert_null(config_find_model(c, SPAN_LIT("gpt-4o-mini ")));
out:
	config_release(c);
}

/* pii_protection: one action for every kind, per kind over it, a model's
 * over the top level's; bad values and a "term" without a list refused. */
static void
test_pii_protection(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse("{" MC "," PROV(
		      "") ",\"pii_protection\":{\"action\":"
			  "\"pseudonymize\",\"entities\":{\"id\":\"block\","
			  "\"term\":\"off\"}},\"models\":[{\"name\":\"m\","
			  "\"targets\":[{\"provider\":\"p\"}]},{\"name\":\"n\","
			  "\"targets\":[{\"provider\":\"p\"}],\"pii_"
			  "protection\":{"
			  "\"entities\":{\"email\":\"mask\"}}}]}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->pii.act[PII_ENT_PHONE], PII_ACT_PSEUDO);
	assert_int_equal(c->pii.act[PII_ENT_ID], PII_ACT_BLOCK);
	assert_int_equal(c->pii.act[PII_ENT_TERM], PII_ACT_OFF);
	assert_int_equal(c->models[0].pii.act[PII_ENT_EMAIL], PII_ACT_PSEUDO);
	assert_int_equal(c->models[1].pii.act[PII_ENT_EMAIL], PII_ACT_MASK);
	assert_int_equal(c->models[1].pii.act[PII_ENT_ID], PII_ACT_BLOCK);
	assert_int_equal(c->npii_files, 0);
	config_release(c);
	c = NULL;
	TRY(parse(MINIMAL, &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->models[0].pii.act[PII_ENT_PHONE], PII_ACT_OFF);
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"action\":"
				    "\"hide\"}," MODELS "}",
	    "$.pii_protection: \"action\" must be");
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"entities\":{"
				    "\"passport\":\"mask\"}}," MODELS "}",
	    "$.pii_protection");
	/* "action" alone needs no term list: there are then no terms. */
	config_release(c);
	c = NULL;
	TRY(parse("{" MC "," PROV("") ",\"pii_protection\":{\"action\":"
				      "\"mask\"}," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->models[0].pii.act[PII_ENT_TERM], PII_ACT_MASK);
	assert_int_equal(c->models[0].pii.surrogates, 0);
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"word_files\":"
				    "[\"/nonexistent/terms.txt\"]}," MODELS "}",
	    "$.pii_protection");
	/* surrogates: top level only, models inherit it. */
	config_release(c);
	c = NULL;
	TRY(parse("{" MC "," PROV(
		      "") ",\"pii_protection\":{\"action\":"
			  "\"pseudonymise\",\"surrogates\":true}," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->pii.surrogates, 1);
	assert_int_equal(c->models[0].pii.surrogates, 1);
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"surrogates\":"
				    "\"yes\"}," MODELS "}",
	    "$.pii_protection: \"surrogates\" must be true or false");
	refused("{" MC
		"," PROV("") ",\"models\":[{\"name\":\"m\","
			     "\"targets\":[{\"provider\":\"p\"}],"
			     "\"pii_protection\":{\"surrogates\":true}}]}",
	    "$.models[0].pii_protection: unknown key \"surrogates\"");
out:
	config_release(c);
}

/* pii_protection.detector: its defaults, every member, and bad values
 * refused; name and address are kinds of their own. */
static void
test_pii_detector(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse("{" MC "," PROV(
		      "") ",\"pii_protection\":{\"entities\":{"
			  "\"name\":\"pseudonymise\",\"address\":"
			  "\"mask\"},\"detector\":{\"url\":"
			  "\"http://127.0.0.1:5002/analyze\"}}," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->pii.act[PII_ENT_NAME], PII_ACT_PSEUDO);
	assert_int_equal(c->pii.act[PII_ENT_ADDRESS], PII_ACT_MASK);
	assert_int_equal(c->pii.act[PII_ENT_PHONE], PII_ACT_OFF);
	assert_string_equal(
	    c->pii_detector.url, "http://127.0.0.1:5002/analyze");
	assert_int_equal(c->pii_detector.timeout_ms, 500);
	assert_string_equal(c->pii_detector.language, "en");
	assert_true(c->pii_detector.score_threshold == 0.5);
	assert_false(c->pii_detector.skip_on_error);
	assert_int_equal(c->pii_detector.entities.n, 2);
	assert_string_equal(c->pii_detector.entities.v[0], "PERSON");
	assert_string_equal(c->pii_detector.entities.v[1], "LOCATION");
	config_release(c);
	c = NULL;
	TRY(parse("{" MC "," PROV("") ",\"pii_protection\":{\"detector\":{"
				      "\"url\":\"http://d/analyze\",\"timeout_"
				      "ms\":2000,\"entities\":[\"PERSON\"],"
				      "\"language\":\"zh\",\"score_threshold\":"
				      "0.7,\"on_error\":\"skip\"}}," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->pii_detector.timeout_ms, 2000);
	assert_string_equal(c->pii_detector.language, "zh");
	assert_true(c->pii_detector.score_threshold == 0.7);
	assert_true(c->pii_detector.skip_on_error);
	assert_int_equal(c->pii_detector.entities.n, 1);
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"detector\":{"
				    "\"timeout_ms\":100}}," MODELS "}",
	    "$.pii_protection.detector: missing required key \"url\"");
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"detector\":{"
				    "\"url\":\"ftp://x\"}}," MODELS "}",
	    "$.pii_protection.detector: \"url\" must be");
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"detector\":{"
				    "\"url\":\"http://x\",\"on_error\":"
				    "\"open\"}}," MODELS "}",
	    "$.pii_protection.detector: \"on_error\" must be");
	refused("{" MC "," PROV("") ",\"pii_protection\":{\"detector\":{"
				    "\"url\":\"http://x\",\"score_threshold\":"
				    "2}}," MODELS "}",
	    "$.pii_protection.detector: \"score_threshold\" must be");
	refused("{" MC "," PROV(
		    "") ",\"pii_protection\":{\"detector\":{"
			"\"url\":\"http://x\",\"entities\":[]}}," MODELS "}",
	    "$.pii_protection.detector: \"entities\" must name");
	refused("{" MC "," PROV(
		    "") ",\"pii_protection\":{\"detector\":{"
			"\"url\":\"http://x\",\"timeout_ms\":1}}," MODELS "}",
	    "$.pii_protection.detector: \"timeout_ms\" must be between");
	refused("{" MC "," PROV(
		    "") ",\"pii_protection\":{\"detector\":{"
			"\"url\":\"http://x\",\"lang\":\"en\"}}," MODELS "}",
	    "$.pii_protection.detector");
out:
	config_release(c);
}

/* A config without memcached.servers uses the memcached the environment
 * names (make run exports the one it started), else the usual local one. */
static void
test_memcached_default(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	setenv("RELAY_MEMCACHED", "127.0.0.1:11311", 1);
	assert_int_equal(
	    parse("{" PROV("") "," MODELS "}", &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->nkv_servers, 1);
	assert_string_equal(c->kv_servers[0], "127.0.0.1:11311");
	assert_int_equal(c->kv_timeout_ms, RELAY_KV_TIMEOUT_MS_DEFAULT);
	config_release(c);
	/* timeout_ms alone: the servers still come from the environment. */
	assert_int_equal(
	    parse("{\"memcached\":{\"timeout_ms\":99}," PROV("") "," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_string_equal(c->kv_servers[0], "127.0.0.1:11311");
	assert_int_equal(c->kv_timeout_ms, 99);
	config_release(c);
	/* Named servers win over the environment. */
	assert_int_equal(
	    parse("{" MC "," PROV("") "," MODELS "}", &c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_string_equal(c->kv_servers[0], "127.0.0.1:11211");
	config_release(c);
	unsetenv("RELAY_MEMCACHED");
	assert_int_equal(
	    parse("{" PROV("") "," MODELS "}", &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->nkv_servers, 1);
	assert_string_equal(c->kv_servers[0], RELAY_KV_SERVER_DEFAULT);
	config_release(c);
}

/* Egress proxies: the provider's, a key's own (which wins), env:NAME;
 * a bad one refused without quoting it (it may hold a password). */
static void
test_proxies(void **state)
{
	struct config *c = NULL;
	const struct config_provider *p;
	char eb[512];

	(void)state;
	setenv("RELAY_TEST_PROXY", "http://u:pw@127.0.0.1:3128", 1);
	assert_int_equal(
	    parse("{" MC ",\"providers\":[{\"name\":\"p\",\"type\":"
		  "\"openai\",\"base_url\":\"http://h/v1\",\"proxy\":"
		  "\"env:RELAY_TEST_PROXY\",\"api_keys\":[\"k1\",{\"key\":"
		  "\"k2\",\"proxy\":\"socks5h://127.0.0.1:1080\"}]},{"
		  "\"name\":\"q\",\"type\":\"openai\",\"base_url\":"
		  "\"http://h/v1\"}]," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	p = &c->providers[0];
	assert_string_equal(p->proxy, "http://u:pw@127.0.0.1:3128");
	assert_string_equal(
	    config_key_proxy(p, p->keys[0]), "http://u:pw@127.0.0.1:3128");
	assert_string_equal(
	    config_key_proxy(p, p->keys[1]), "socks5h://127.0.0.1:1080");
	/* A stored credential (not of keys[]) or no key: the provider's. */
	assert_string_equal(
	    config_key_proxy(p, "k2"), "http://u:pw@127.0.0.1:3128");
	assert_string_equal(
	    config_key_proxy(p, NULL), "http://u:pw@127.0.0.1:3128");
	assert_null(config_key_proxy(&c->providers[1], NULL));
	config_release(c);
	unsetenv("RELAY_TEST_PROXY");
	refused("{" MC "," PROV(",\"proxy\":\"ftp://u:s3cret@h:1\"") "," MODELS
								     "}",
	    "$.providers[0]: \"proxy\" must start with");
	assert_int_equal(parse("{" MC "," PROV(",\"proxy\":\"http://u:s3cret@h:"
					       "1/x\"") "," MODELS "}",
			     &c, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_null(strstr(eb, "s3cret"));
	refused("{" MC
		"," PROV(",\"proxy\":\"env:RELAY_TEST_PROXY\"") "," MODELS "}",
	    "$.providers[0]: environment variable RELAY_TEST_PROXY");
	refused("{" MC "," PROV(",\"api_keys\":[{\"key\":\"k\",\"proxy\":"
				"\"h:1\"}]") "," MODELS "}",
	    "$.providers[0].api_keys[0]: \"proxy\" must start with");
}

#define KP_HEAD "{" MC "," PROV("") "," MODELS

/* A provider's "override" and "anthropic_beta": parsed; credentials and
 * framing headers are never passed on; paths are dotted. */
static void
test_override_section(void **state)
{
	struct config *c = NULL;
	char eb[512];
	const struct config_override *ov;

	(void)state;
	TRY(parse("{" MC "," PROV(",\"override\":{\"headers_delete\":[\"User-"
				  "Agent\"],"
				  "\"pass_headers\":[\"HTTP-Referer\",\"X-"
				  "Title\"],"
				  "\"body_delete\":[\"a.b\"],\"body_set\":{\"x."
				  "y\":"
				  "[1,\"z\"],\"n\":null}},\"anthropic_beta\":{"
				  "\"allow\":[\"prompt-caching-*\"],\"deny\":["
				  "\"x\"]}") "," MODELS "}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	ov = &c->providers[0].ov;
	assert_int_equal(ov->headers_delete.n, 1);
	assert_string_equal(ov->headers_delete.v[0], "User-Agent");
	assert_int_equal(ov->pass_headers.n, 2);
	assert_string_equal(ov->pass_headers.v[1], "X-Title");
	assert_string_equal(ov->body_delete.v[0], "a.b");
	assert_int_equal(ov->body_set_path.n, 2);
	assert_string_equal(ov->body_set_path.v[0], "x.y");
	assert_string_equal(ov->body_set_json.v[0], "[[1,\"z\"]]");
	assert_string_equal(ov->body_set_json.v[1], "[null]");
	assert_string_equal(ov->beta_allow.v[0], "prompt-caching-*");
	assert_string_equal(ov->beta_deny.v[0], "x");
	refused("{" MC "," PROV(",\"override\":{\"pass_headers\":"
				"[\"Authorization\"]}") "," MODELS "}",
	    "$.providers[0].override: \"pass_headers\"[0] must be a header "
	    "name the relay does not set itself");
	refused("{" MC "," PROV(",\"override\":{\"pass_headers\":"
				"[\"x-goog-api-key\"]}") "," MODELS "}",
	    "$.providers[0].override: \"pass_headers\"[0]");
	refused("{" MC "," PROV(",\"override\":{\"body_delete\":"
				"[\"a..b\"]}") "," MODELS "}",
	    "$.providers[0].override: \"body_delete\"[0] must be a dotted");
	refused("{" MC "," PROV(",\"override\":{\"bogus\":1}") "," MODELS "}",
	    "$.providers[0].override: unknown key \"bogus\"");
	refused("{" MC "," PROV(",\"anthropic_beta\":[]") "," MODELS "}",
	    "$.providers[0].anthropic_beta: must be an object");
out:
	config_release(c);
}

/* keypool: minutes by default, bounded, the re-check within the bench. */
static void
test_keypool_section(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse(KP_HEAD "}", &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->keypool.auth_bench_s, RELAY_KEY_AUTH_BENCH_S);
	assert_int_equal(c->keypool.auth_recheck_s, RELAY_KEY_AUTH_RECHECK_S);
	assert_true(RELAY_KEY_AUTH_BENCH_S < 3600);
	config_release(c);
	c = NULL;
	TRY(parse(KP_HEAD ",\"keypool\":{\"auth_bench_s\":120,"
			  "\"auth_recheck_s\":5}}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->keypool.auth_bench_s, 120);
	assert_int_equal(c->keypool.auth_recheck_s, 5);
	refused(KP_HEAD ",\"keypool\":{\"auth_bench_s\":10,"
			"\"auth_recheck_s\":20}}",
	    "$.keypool: \"auth_recheck_s\" must not exceed");
	refused(KP_HEAD ",\"keypool\":{\"auth_bench_s\":0}}", "$.keypool");
	refused(KP_HEAD ",\"keypool\":{\"bench\":1}}", "$.keypool");
	refused(KP_HEAD ",\"keypool\":7}", "$.keypool: must be an object");
out:
	config_release(c);
}

/* affinity (on by default, its TTL and extra places of a session id) and
 * a provider's reasoning_content switch (off by default). */
static void
test_affinity_and_reasoning(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse("{" MC "," PROV("") "," MODELS "}", &c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->affinity.enabled, 1);
	assert_int_equal(c->affinity.ttl_s, RELAY_AFFINITY_TTL_S);
	assert_int_equal(c->affinity.headers.n, 0);
	assert_int_equal(c->providers[0].reasoning_content, 0);
	config_release(c);
	c = NULL;
	TRY(parse(
		"{" MC "," PROV(
		    ",\"reasoning_content\":true") "," MODELS
						   ",\"affinity\":{\"enabled\":"
						   "false,\"ttl_s\":60,"
						   "\"headers\":[\"x-my-"
						   "session\"],"
						   "\"body_paths\":[\"metadata."
						   "conv\"]}}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->affinity.enabled, 0);
	assert_int_equal(c->affinity.ttl_s, 60);
	assert_string_equal(c->affinity.headers.v[0], "x-my-session");
	assert_string_equal(c->affinity.body_paths.v[0], "metadata.conv");
	assert_int_equal(c->providers[0].reasoning_content, 1);
	config_release(c);
	refused("{" MC "," PROV("") "," MODELS ",\"affinity\":{\"ttl_s\":0}}",
	    "$.affinity");
	refused("{" MC "," PROV("") "," MODELS ",\"affinity\":{\"x\":1}}",
	    "$.affinity: unknown key");
	refused("{" MC
		"," PROV("") "," MODELS
			     ",\"affinity\":{\"headers\":[\"bad header\"]}}",
	    "$.affinity: \"headers\"[0] must be a header name");
	refused("{" MC "," PROV(
		    "") "," MODELS ",\"affinity\":{\"body_paths\":[\"a..b\"]}}",
	    "$.affinity: \"body_paths\"[0] must be a dotted path");
	refused("{" MC "," PROV(",\"reasoning_content\":1") "," MODELS "}",
	    "$.providers[0]: \"reasoning_content\" must be true or false");
	return;
out:
	config_release(c);
}

#define URLS(list)                                                             \
	"{" MC ",\"providers\":[{\"name\":\"p\",\"type\":\"openai\","          \
	"\"base_urls\":" list "}]," MODELS "}"

/* base_urls: strings or {url, weight}; the first is base_url; never both;
 * and the tier settings (relay, max_retry_after_ms, access_log). */
static void
test_base_urls_and_tier(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse(URLS("[\"http://a:1/v1/\",{\"url\":\"https://b/v1\","
		       "\"weight\":3}]"),
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->providers[0].nurls, 2);
	assert_string_equal(c->providers[0].base_url, "http://a:1/v1");
	assert_string_equal(c->providers[0].urls[0].url, "http://a:1/v1");
	assert_int_equal(c->providers[0].urls[0].weight, 1);
	assert_string_equal(c->providers[0].urls[1].url, "https://b/v1");
	assert_int_equal(c->providers[0].urls[1].weight, 3);
	assert_int_equal(c->providers[0].relay, 0);
	assert_int_equal(c->retry.max_retry_after_ms, 10000);
	assert_int_equal(c->access_retention_days, 180);
	assert_int_equal(c->access_hash_chain, 0);
	config_release(c);
	c = NULL;
	TRY(parse(
		"{" MC "," PROV(
		    ",\"relay\":true") "," MODELS
				       ",\"retry\":{\"max_retry_after_ms\":0},"
				       "\"access_log\":{\"retention_days\":0,"
				       "\"hash_chain\":true}}",
		&c, eb, sizeof(eb)),
	    RELAY_OK);
	assert_int_equal(c->providers[0].relay, 1);
	assert_int_equal(c->providers[0].nurls, 0);
	assert_int_equal(c->retry.max_retry_after_ms, 0);
	assert_int_equal(c->access_retention_days, 0);
	assert_int_equal(c->access_hash_chain, 1);
	refused(URLS("[]"), "$.providers[0]: \"base_urls\" must be");
	refused(URLS("\"http://a/v1\""), "$.providers[0]: \"base_urls\"");
	refused(URLS("[\"ftp://a\"]"), "$.providers[0].base_urls[0]: must be");
	refused(URLS("[\"http://\"]"), "$.providers[0].base_urls[0]: must be");
	refused(URLS("[{\"url\":\"http://a\",\"weight\":0}]"),
	    "$.providers[0].base_urls[0]");
	refused(URLS("[{\"url\":\"http://a\",\"w\":1}]"),
	    "$.providers[0].base_urls[0]: unknown key");
	refused("{" MC "," PROV(",\"base_urls\":[\"http://a\"]") "," MODELS "}",
	    "$.providers[0]: give \"base_url\" or \"base_urls\"");
	refused("{" MC "," PROV(",\"relay\":1") "," MODELS "}",
	    "$.providers[0]: \"relay\" must be true or false");
	refused("{" MC "," PROV("") "," MODELS
				    ",\"access_log\":{\"retention_days\":-1}}",
	    "$.access_log");
	refused("{" MC "," PROV("") "," MODELS ",\"access_log\":{\"keep\":1}}",
	    "$.access_log: unknown key");
out:
	config_release(c);
}

static void
test_minimal_without_key_refused(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	unsetenv("OPENAI_API_KEY");
	TRY(parse(MINIMAL, &c, eb, sizeof(eb)), RELAY_EINVAL);
	assert_null(c);
	assert_string_equal(eb,
	    "$.providers[0].api_keys[0]: environment "
	    "variable OPENAI_API_KEY is not set");
	setenv("OPENAI_API_KEY", "", 1);
	TRY(parse(MINIMAL, &c, eb, sizeof(eb)), RELAY_EINVAL);
	assert_non_null(strstr(eb, "$.providers[0].api_keys[0]"));
out:
	config_release(c);
}

static void
test_full_options(void **state)
{
	static const char text[] =
	    "{\"memcached\":{\"servers\":[\"10.0.0.1:11211\",\"/run/mc.sock\","
	    "\"[::1]:11212\"],\"timeout_ms\":100},"
	    "\"limits\":{\"max_body_bytes\":1048576},"
	    "\"stream\":{\"heartbeat_ms\":0},"
	    "\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"base_url\":"
	    "\"http://h:1/v1///\",\"api_keys\":[\"lit1\",\"lit2\"],"
	    "\"headers\":{\"X-Org\":\"o1\"},\"timeouts\":{\"connect_ms\":5,"
	    "\"first_byte_ms\":6,\"idle_ms\":7,\"total_ms\":8}},"
	    "{\"name\":\"b\",\"type\":\"openai\",\"base_url\":\"https://b\"}],"
	    "\"models\":[{\"name\":\"x\",\"targets\":[{\"provider\":\"b\"},"
	    "{\"provider\":\"a\",\"model\":\"a-x\"}]},{\"name\":\"y\","
	    "\"targets\":[{\"provider\":\"a\"}]}]}";
	struct config *c = NULL;
	char eb[512];

	(void)state;
	TRY(parse(text, &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->nkv_servers, 3);
	assert_int_equal(c->kv_timeout_ms, 100);
	assert_int_equal(c->body_max, 1048576);
	assert_int_equal(c->heartbeat_ms, 0);
	assert_string_equal(c->providers[0].base_url, "http://h:1/v1");
	assert_int_equal(c->providers[0].nkeys, 2);
	assert_string_equal(c->providers[0].keys[1], "lit2");
	assert_int_equal(c->providers[0].nheaders, 1);
	assert_string_equal(c->providers[0].headers[0].name, "X-Org");
	assert_string_equal(c->providers[0].headers[0].value, "o1");
	assert_int_equal(c->providers[0].connect_ms, 5);
	assert_int_equal(c->providers[0].first_byte_ms, 6);
	assert_int_equal(c->providers[0].idle_ms, 7);
	assert_int_equal(c->providers[0].total_ms, 8);
	assert_int_equal(c->providers[1].nkeys, 0);
	assert_int_equal(c->models[0].ntargets, 2);
	assert_ptr_equal(c->models[0].targets[0].provider, &c->providers[1]);
	assert_string_equal(c->models[0].targets[0].model, "x");
	assert_string_equal(c->models[0].targets[1].model, "a-x");
	assert_ptr_equal(config_find_model(c, SPAN_LIT("y")), &c->models[1]);
out:
	config_release(c);
}

/* --- oom-safe cases ----------------------------------------------------- */

static void
test_short_config_accepted(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	setenv("RK", "k1", 1);
	TRY(parse(SHORT_CFG, &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->nkv_servers, 1);
	assert_string_equal(c->providers[0].base_url, "http://h:9/v1");
	assert_int_equal(c->providers[0].nkeys, 2);
	assert_string_equal(c->providers[0].keys[0], "k1");
	assert_string_equal(c->providers[0].keys[1], "lit");
	assert_int_equal(c->providers[0].idle_ms, 5);
	assert_int_equal(c->nmodels, 2);
	assert_int_equal(c->models[0].ntargets, 2);
	assert_string_equal(c->models[0].targets[0].model, "m");
	assert_string_equal(c->models[0].targets[1].model, "m2");
	assert_ptr_equal(config_find_model(c, SPAN_LIT("n")), &c->models[1]);
out:
	config_release(c);
}

static void
test_refusal_under_pressure(void **state)
{
	struct config *c = NULL;
	char eb[512];

	(void)state;
	/* Fails late (the second model), after much was allocated. */
	TRY(parse("{\"memcached\":{\"servers\":[\"m:1\"]},\"providers\":"
		  "[{\"name\":\"p\",\"type\":\"openai\",\"base_url\":"
		  "\"http://h\"}],\"models\":[{\"name\":\"m\",\"targets\":"
		  "[{\"provider\":\"p\"}]},{\"name\":\"m\",\"targets\":"
		  "[{\"provider\":\"p\"}]}]}",
		&c, eb, sizeof(eb)),
	    RELAY_EINVAL);
	assert_null(c);
	assert_string_equal(eb, "$.models[1]: duplicate model name \"m\"");
	unsetenv("RK");
	TRY(parse(SHORT_CFG, &c, eb, sizeof(eb)), RELAY_EINVAL);
	assert_string_equal(eb,
	    "$.providers[0].api_keys[0]: environment "
	    "variable RK is not set");
out:
	config_release(c);
}

static void
test_default_json(void **state)
{
	struct config *c = NULL;
	struct buf b;
	char eb[512];

	(void)state;
	buf_init(&b, RELAY_CONFIG_MAX);
	unsetenv("OPENAI_API_KEY");
	unsetenv("RELAY_DEMO_URL");
	setenv("RELAY_MEMCACHED", "mc\"host:1", 1); /* must be escaped */
	TRY(config_default_json(&b), RELAY_OK);
	TRY(config_parse(b.data, b.len, &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(c->nmodels, 1);
	assert_string_equal(c->models[0].name, "demo");
	assert_string_equal(c->kv_servers[0], "mc\"host:1");
	assert_string_equal(
	    c->providers[0].base_url, "http://127.0.0.1:18081/v1");
	config_release(c);
	c = NULL;
	buf_clear(&b);
	setenv("OPENAI_API_KEY", "sk-x", 1);
	setenv("RELAY_DEMO_URL", "http://127.0.0.1:1/v1", 1);
	TRY(config_default_json(&b), RELAY_OK);
	TRY(config_parse(b.data, b.len, &c, eb, sizeof(eb)), RELAY_OK);
	assert_non_null(config_find_model(c, SPAN_LIT("demo")));
	assert_non_null(config_find_model(c, SPAN_LIT("gpt-4o-mini")));
	assert_string_equal(c->providers[0].base_url, "http://127.0.0.1:1/v1");
out:
	unsetenv("RELAY_MEMCACHED");
	unsetenv("RELAY_DEMO_URL");
	config_release(c);
	buf_reset(&b);
}

static void
test_store_builtin(void **state)
{
	struct config_store *st;
	struct config *c;
	char eb[512] = "";

	(void)state;
	unsetenv("OPENAI_API_KEY");
	st = config_store_new(NULL, eb, sizeof(eb));
	if (st == NULL && oom_n != 0) {
		assert_true(strstr(eb, "out of memory") != NULL ||
		    strstr(eb, "enomem") != NULL);
		return;
	}
	assert_non_null(st);
	c = config_acquire(st);
	assert_int_equal(c->generation, 1);
	assert_string_equal(c->source, "built-in");
	assert_non_null(config_find_model(c, SPAN_LIT("demo")));
	config_release(c);
	config_store_free(st);
}

/* --- plain cases -------------------------------------------------------- */

static void
test_refusals(void **state)
{
	(void)state;
	refused("", "$: invalid JSON");
	refused("[]", "$: must be an object");
	refused("{\"memcached\":1,\"memcached\":2}", "$: invalid JSON");
	refused("{" MC "," PROV("") "," MODELS ",\"extra\":1}",
	    "$: unknown key \"extra\"");
	refused("{\"memcached\":[]," PROV("") "," MODELS "}",
	    "$.memcached: must be an object");
	refused("{\"memcached\":{\"servers\":[],\"x\":1}," PROV("") "," MODELS
								    "}",
	    "$.memcached: unknown key \"x\"");
	refused("{\"memcached\":{\"servers\":[]}," PROV("") "," MODELS "}",
	    "$.memcached.servers: ");
	refused("{\"memcached\":{\"servers\":[\"localhost\"]}," PROV(
		    "") "," MODELS "}",
	    "$.memcached.servers[0]: ");
	refused("{\"memcached\":{\"servers\":[\"a:1\",7]}," PROV("") "," MODELS
								     "}",
	    "$.memcached.servers[1]: ");
	refused("{\"memcached\":{\"servers\":[\"a:1\"],\"timeout_ms\":0}," PROV(
		    "") "," MODELS "}",
	    "$.memcached: \"timeout_ms\" must be between 1 and 60000");
	refused("{" MC ",\"providers\":[]," MODELS "}",
	    "$.providers: must be a non-empty array");
	refused("{" MC ",\"providers\":{}," MODELS "}",
	    "$.providers: must be a non-empty array");
	refused("{" MC ",\"providers\":[1]," MODELS "}",
	    "$.providers[0]: must be an object");
	refused("{" MC "," PROV(",\"typo\":1") "," MODELS "}",
	    "$.providers[0]: unknown key \"typo\"");
	refused("{" MC ",\"providers\":[{\"type\":\"openai\",\"base_url\":"
		"\"http://x\"}]," MODELS "}",
	    "$.providers[0]: missing required key \"name\"");
	refused("{" MC ",\"providers\":[{\"name\":\"p\",\"type\":\"bedrock\","
		"\"base_url\":\"http://x\"}]," MODELS "}",
	    "$.providers[0]: \"type\" must be openai, azure, anthropic or "
	    "gemini");
	refused("{" MC ",\"providers\":[{\"name\":\"p\",\"type\":7,"
		"\"base_url\":\"http://x\"}]," MODELS "}",
	    "$.providers[0]: \"type\" must be a non-empty string");
	refused("{" MC ",\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
		"\"base_url\":\"ftp://x\"}]," MODELS "}",
	    "$.providers[0]: \"base_url\" must be http://");
	refused("{" MC ",\"providers\":[{\"name\":\"\",\"type\":\"openai\","
		"\"base_url\":\"http://x\"}]," MODELS "}",
	    "$.providers[0]: \"name\" must be a non-empty string");
	refused("{" MC "," PROV(",\"api_keys\":\"k\"") "," MODELS "}",
	    "$.providers[0]: \"api_keys\" must be an array");
	refused("{" MC "," PROV(",\"api_keys\":[\"k\",3]") "," MODELS "}",
	    "$.providers[0].api_keys[1]: must be a non-empty string");
	refused("{" MC "," PROV(",\"api_keys\":[\"env:RELAY_TEST_UNSET_"
				"VAR\"]") "," MODELS "}",
	    "$.providers[0].api_keys[0]: environment variable "
	    "RELAY_TEST_UNSET_VAR is not set");
	refused("{" MC "," PROV(",\"headers\":{\"Bad Name\":\"v\"}") "," MODELS
								     "}",
	    "$.providers[0]: header \"Bad Name\"");
	refused("{" MC "," PROV(",\"headers\":{\"X\":\"a\\r\\nb\"}") "," MODELS
								     "}",
	    "$.providers[0]: header \"X\"");
	refused("{" MC "," PROV(",\"headers\":[]") "," MODELS "}",
	    "$.providers[0]: \"headers\" must be an object");
	refused("{" MC "," PROV(",\"timeouts\":5") "," MODELS "}",
	    "$.providers[0].timeouts: must be an object");
	refused("{" MC "," PROV(",\"timeouts\":{\"connect_ms\":0}") "," MODELS
								    "}",
	    "$.providers[0].timeouts: \"connect_ms\" must be between");
	refused("{" MC "," PROV(",\"timeouts\":{\"idle_ms\":1.5}") "," MODELS
								   "}",
	    "$.providers[0].timeouts: \"idle_ms\" must be an integer");
	refused("{" MC "," PROV(",\"timeouts\":{\"total_ms\":-1}") "," MODELS
								   "}",
	    "$.providers[0].timeouts: \"total_ms\" must be between");
	refused("{" MC "," PROV(",\"timeouts\":{\"connect\":1}") "," MODELS "}",
	    "$.providers[0].timeouts: unknown key \"connect\"");
	refused(
	    "{" MC ",\"providers\":[{\"name\":\"p\",\"type\":\"openai\","
	    "\"base_url\":\"http://x\"},{\"name\":\"p\",\"type\":\"openai\","
	    "\"base_url\":\"http://y\"}]," MODELS "}",
	    "$.providers[1]: duplicate provider name \"p\"");
	refused("{" MC "," PROV("") "}", "$.models: must be a non-empty array");
	refused("{" MC "," PROV("") ",\"models\":[]}",
	    "$.models: must be a non-empty array");
	refused("{" MC "," PROV("") ",\"models\":[\"m\"]}",
	    "$.models[0]: must be an object");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\"}]}",
	    "$.models[0]: \"targets\" must be a non-empty array");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\",\"targets\":"
				    "[]}]}",
	    "$.models[0]: \"targets\" must be a non-empty array");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\",\"targets\":"
				    "[{\"provider\":\"nope\"}]}]}",
	    "$.models[0].targets[0]: unknown provider \"nope\"");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\",\"targets\":"
				    "[{\"provider\":\"p\"},{\"provider\":\"p\","
				    "\"wieght\":1}]}]}",
	    "$.models[0].targets[1]: unknown key \"wieght\"");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\",\"targets\":"
				    "[{\"model\":\"x\"}]}]}",
	    "$.models[0].targets[0]: missing required key \"provider\"");
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"m\",\"targets\":"
				    "[7]}]}",
	    "$.models[0].targets[0]: must be an object");
	refused("{" MC "," PROV(
		    "") ",\"models\":[{\"name\":\"m\",\"targets\":"
			"[{\"provider\":\"p\"}]},{\"name\":\"m\",\"targets\":"
			"[{\"provider\":\"p\"}]}]}",
	    "$.models[1]: duplicate model name \"m\"");
	refused("{" MC "," PROV("") "," MODELS ",\"limits\":[]}",
	    "$.limits: must be an object");
	refused("{" MC "," PROV("") "," MODELS
				    ",\"limits\":{\"max_body_bytes\":"
				    "10}}",
	    "$.limits: \"max_body_bytes\" must be between 1024");
	refused("{" MC "," PROV("") "," MODELS ",\"limits\":{\"max_body\":1}}",
	    "$.limits: unknown key \"max_body\"");
	refused("{" MC "," PROV("") "," MODELS ",\"stream\":{\"heartbeat_ms\":"
				    "\"1\"}}",
	    "$.stream: \"heartbeat_ms\" must be an integer");
	refused("{" MC "," PROV("") "," MODELS ",\"stream\":true}",
	    "$.stream: must be an object");
}

static void
test_name_length_bound(void **state)
{
	char text[1024], name[RELAY_NAME_MAX + 2];
	struct config *c = NULL;
	char eb[512];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[RELAY_NAME_MAX] = '\0'; /* exactly the bound: accepted */
	snprintf(text, sizeof(text),
	    "{" MC "," PROV("") ",\"models\":[{\"name\":"
				"\"%s\",\"targets\":[{\"provider\":\"p\"}]}]}",
	    name);
	assert_int_equal(parse(text, &c, eb, sizeof(eb)), RELAY_OK);
	assert_int_equal(strlen(c->models[0].name), RELAY_NAME_MAX);
	config_release(c);
	name[RELAY_NAME_MAX] = 'n';
	name[RELAY_NAME_MAX + 1] = '\0';
	snprintf(text, sizeof(text),
	    "{" MC "," PROV("") ",\"models\":[{\"name\":"
				"\"%s\",\"targets\":[{\"provider\":\"p\"}]}]}",
	    name);
	refused(text,
	    "$.models[0]: \"name\" must be a non-empty string of at "
	    "most 256 bytes");
	/* An embedded NUL would make two names compare equal. */
	refused("{" MC "," PROV("") ",\"models\":[{\"name\":\"a\\u0000b\","
				    "\"targets\":[{\"provider\":\"p\"}]}]}",
	    "$.models[0]: \"name\"");
}

static void
test_errbuf_bounded(void **state)
{
	struct config *c = NULL;
	char eb[8];

	(void)state;
	memset(eb, 'z', sizeof(eb));
	assert_int_equal(
	    config_parse("[]", 2, &c, eb, sizeof(eb)), RELAY_EINVAL);
	assert_int_equal(strlen(eb), sizeof(eb) - 1);
	assert_memory_equal(eb, "$: must", 7);
	assert_string_equal(
	    config_provider_type_name(PROVIDER_OPENAI), "openai");
	assert_string_equal(
	    config_provider_type_name(PROVIDER__MAX), "unknown");
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void
test_store_reload(void **state)
{
	char path[] = "/tmp/relay-test-config-XXXXXX";
	struct config_store *st;
	struct config *c1, *c2, *c3;
	char eb[512];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "{" MC "," PROV("") "," MODELS "}");
	st = config_store_new(path, eb, sizeof(eb));
	assert_non_null(st);
	c1 = config_acquire(st);
	assert_int_equal(c1->generation, 1);
	assert_string_equal(c1->source, path);
	assert_non_null(config_find_model(c1, SPAN_LIT("m")));

	/* A change (different size) is picked up after the check interval. */
	write_file(path,
	    "{" MC "," PROV("") ",\"models\":[{\"name\":\"m2\","
				"\"targets\":[{\"provider\":\"p\"}]}]}");
	sleep_ms(RELAY_CONFIG_CHECK_MS + 100);
	c2 = config_acquire(st);
	assert_int_equal(c2->generation, 2);
	assert_non_null(config_find_model(c2, SPAN_LIT("m2")));
	assert_null(config_find_model(c2, SPAN_LIT("m")));
	/* The old snapshot stays valid for whoever holds it. */
	assert_int_equal(c1->generation, 1);
	assert_non_null(config_find_model(c1, SPAN_LIT("m")));
	config_release(c1);

	/* An invalid rewrite is refused; generation 2 stays. */
	write_file(path, "{\"memcached\":");
	sleep_ms(RELAY_CONFIG_CHECK_MS + 100);
	c3 = config_acquire(st);
	assert_ptr_equal(c3, c2);
	assert_int_equal(c3->generation, 2);
	config_release(c3);
	config_release(c2);

	/* Fixed again: generation 3. */
	write_file(path, "{" MC "," PROV("") "," MODELS "}");
	sleep_ms(RELAY_CONFIG_CHECK_MS + 100);
	c3 = config_acquire(st);
	assert_int_equal(c3->generation, 3);
	config_release(c3);
	config_store_free(st);
	unlink(path);
}

static void
test_store_missing_or_invalid_file(void **state)
{
	char path[] = "/tmp/relay-test-config-XXXXXX";
	char eb[512] = "";
	int fd;

	(void)state;
	assert_null(
	    config_store_new("/nonexistent/relay.json", eb, sizeof(eb)));
	assert_non_null(strstr(eb, "/nonexistent/relay.json"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "{" MC "," PROV("") "}");
	assert_null(config_store_new(path, eb, sizeof(eb)));
	assert_non_null(strstr(eb, "$.models"));
	unlink(path);
	config_store_free(NULL);
	config_release(NULL);
}

int
main(void)
{
	const struct CMUnitTest oom_cases[] = {
	    OOM_CASE(test_short_config_accepted),
	    OOM_CASE(test_refusal_under_pressure),
	};
	const struct CMUnitTest cases[] = {
	    cmocka_unit_test(test_minimal_accepted),
	    cmocka_unit_test(test_keypool_section),
	    cmocka_unit_test(test_memcached_default),
	    cmocka_unit_test(test_proxies),
	    cmocka_unit_test(test_pii_protection),
	    cmocka_unit_test(test_pii_detector),
	    cmocka_unit_test(test_override_section),
	    cmocka_unit_test(test_base_urls_and_tier),
	    cmocka_unit_test(test_minimal_without_key_refused),
	    cmocka_unit_test(test_full_options),
	    cmocka_unit_test(test_default_json),
	    cmocka_unit_test(test_store_builtin),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_name_length_bound),
	    cmocka_unit_test(test_errbuf_bounded),
	    cmocka_unit_test(test_affinity_and_reasoning),
	    cmocka_unit_test(test_store_missing_or_invalid_file),
	    cmocka_unit_test(test_store_reload),
	};
	int failed;

	oom_init();
	failed = cmocka_run_group_tests_name(
	    "config (oom-safe)", oom_cases, NULL, NULL);
	if (oom_n == 0)
		failed +=
		    cmocka_run_group_tests_name("config", cases, NULL, NULL);
	return oom_exit(failed);
}
