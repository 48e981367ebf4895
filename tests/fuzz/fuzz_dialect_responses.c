/* SPDX-License-Identifier: MIT */
/* fuzz_dialect_responses.c - libFuzzer target for the Responses API
 * dialect (the modes are described in fuzz_dialect.h): its request parser
 * to every provider wire, its answer and event-stream parsers to every
 * client. The streams of the other dialects into it are fuzzed by their
 * own targets (they translate for every client). */
#define FROM DIALECT_RESPONSES
#include "fuzz_dialect.h"
