/* SPDX-License-Identifier: MIT */
/* err.c - names of enum relay_err, for logs and tests. */
#include "err.h"

static const char *const err_names[RELAY__MAX] = {
    [RELAY_OK] = "ok",
    [RELAY_ENOMEM] = "enomem",
    [RELAY_EINVAL] = "einval",
    [RELAY_ETOOBIG] = "etoobig",
    [RELAY_ENOTFOUND] = "enotfound",
    [RELAY_EMETHOD] = "emethod",
    [RELAY_EPROTO] = "eproto",
    [RELAY_EUPSTREAM] = "eupstream",
    [RELAY_ETIMEOUT] = "etimeout",
    [RELAY_ECACHE] = "ecache",
    [RELAY_ECLOSED] = "eclosed",
    [RELAY_EIO] = "eio",
};

const char *
err_name(enum relay_err err)
{
	if ((unsigned)err >= RELAY__MAX)
		return "unknown";
	return err_names[err];
}
