/* SPDX-License-Identifier: MIT */
/* fuzz_dialect_openai.c - libFuzzer target for the openai dialect (the
 * modes are described in fuzz_dialect.h). */
#define FROM DIALECT_OPENAI
#include "fuzz_dialect.h"
