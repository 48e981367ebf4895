/* SPDX-License-Identifier: MIT */
/* fuzz_dialect_anthropic.c - libFuzzer target for the anthropic dialect (the
 * modes are described in fuzz_dialect.h). */
#define FROM DIALECT_ANTHROPIC
#include "fuzz_dialect.h"
