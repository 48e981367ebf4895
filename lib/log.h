/* SPDX-License-Identifier: MIT */
/* log.h - the responders' diagnostic log: one line per event, on stderr. */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include "compiler.h"

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL__MAX
};

/*
 * Set the process name shown in each line and the lowest level written.
 * The level may also come from RELAY_LOG_LEVEL (error, warn, info, debug).
 */
void log_init(const char *prog, enum log_level level);

/*
 * Write one line: time, level, program, pid, then the message. Never pass
 * secrets or unescaped client bytes: format untrusted data with %.*s after
 * log_sanitize(). Thread-safe; a line is written with a single write(2).
 */
void log_msg(enum log_level level, const char *fmt, ...) RELAY_PRINTF(2, 3);

/*
 * Copy at most n bytes of p into out (size outsz, NUL-terminated), turning
 * control and non-ASCII bytes into \xHH so that a log line stays one line.
 */
void log_sanitize(
    char *out, unsigned long outsz, const char *p, unsigned long n);

#define log_err(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
