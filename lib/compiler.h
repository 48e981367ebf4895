/* SPDX-License-Identifier: MIT */
/* compiler.h - attribute macros used in every header's prototypes. */
#ifndef RELAY_COMPILER_H
#define RELAY_COMPILER_H

#define RELAY_MUST_CHECK __attribute__((warn_unused_result))
#define RELAY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RELAY_NONNULL __attribute__((nonnull))
#define RELAY_COLD __attribute__((cold))
#define RELAY_UNUSED __attribute__((unused))
/* A helper with a large frame that runs before or after a wait: kept out
 * of its caller's frame, which stays live for the whole wait (on the loop
 * runtime a coroutine's stack pages are resident as long as a stream). */
#define RELAY_NOINLINE __attribute__((noinline))

#endif
