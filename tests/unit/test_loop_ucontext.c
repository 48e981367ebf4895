/* SPDX-License-Identifier: MIT */
/* test_loop_ucontext.c - test_loop.c's cases over the portable switch
 * (swapcontext(3)), the one every architecture but x86-64 takes: the loop
 * built here with RELAY_CORO_UCONTEXT, in place of the library's. */
#define RELAY_CORO_UCONTEXT 1
#include "../../lib/loop.c"

#include "test_loop.c"
