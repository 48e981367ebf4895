/* SPDX-License-Identifier: MIT */
/* fuzz_dialect_gemini.c - libFuzzer target for the gemini dialect (the
 * modes are described in fuzz_dialect.h). */
#define FROM DIALECT_GEMINI
#include "fuzz_dialect.h"
