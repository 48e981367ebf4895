/* SPDX-License-Identifier: MIT */
/* fuzz_config.c - libFuzzer target for config_parse(): never a crash or a
 * leak, and every accepted config is internally consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/config.h"
#include "../../lib/limits.h"

static void
check(const struct config *c)
{
	size_t i, j;

	if (c->nmodels == 0 || c->nproviders == 0 || c->nkv_servers == 0 ||
	    c->refs != 1)
		abort();
	if (c->body_max < 1024 || c->body_max > RELAY_BODY_MAX_CEILING)
		abort();
	for (i = 0; i < c->nproviders; i++) {
		const struct config_provider *p = &c->providers[i];

		if (p->name == NULL || p->base_url == NULL ||
		    (strncmp(p->base_url, "http://", 7) != 0 &&
			strncmp(p->base_url, "https://", 8) != 0))
			abort();
		for (j = 0; j < p->nkeys; j++)
			if (p->keys[j] == NULL || p->keys[j][0] == '\0')
				abort();
		for (j = 0; j < i; j++)
			if (strcmp(c->providers[j].name, p->name) == 0)
				abort();
	}
	for (i = 0; i < c->nmodels; i++) {
		const struct config_model *m = &c->models[i];

		if (m->name == NULL || m->ntargets == 0 ||
		    config_find_model(c, span_str(m->name)) != m)
			abort();
		for (j = 0; j < m->ntargets; j++) {
			const struct config_provider *p =
			    m->targets[j].provider;

			if (p == NULL || p < c->providers ||
			    p >= c->providers + c->nproviders ||
			    m->targets[j].model == NULL)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	char eb[512];
	enum relay_err err;

	if (size > 65536)
		return 0;
	setenv("FUZZ_KEY", "sk-fuzz", 0);
	eb[0] = '\0';
	err = config_parse((const char *)data, size, &c, eb, sizeof(eb));
	if (err == RELAY_OK) {
		check(c);
		config_release(c);
	} else if (err != RELAY_EINVAL || c != NULL || eb[0] != '$')
		abort(); /* refusals name a JSON path */
	return 0;
}
