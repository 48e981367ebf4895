/* SPDX-License-Identifier: MIT */
/* err.h - the one error enum of the project and its names. */
#ifndef RELAY_ERR_H
#define RELAY_ERR_H

/*
 * Every function that can fail returns one of these and delivers its result
 * through out-parameters. apierr.c is the only place that turns them into an
 * HTTP status and a body.
 */
enum relay_err {
	RELAY_OK = 0,
	RELAY_ENOMEM, /* allocation failed: 503 */
	RELAY_EINVAL, /* caller's request is malformed: 400 */
	RELAY_ETOOBIG, /* a bound was exceeded: 413 */
	RELAY_ENOTFOUND, /* unknown model or route: 404 */
	RELAY_EMETHOD, /* method not allowed on the route: 405 */
	RELAY_EPROTO, /* the peer broke its protocol: 502 */
	RELAY_EUPSTREAM, /* upstream unreachable or reset: 502 */
	RELAY_ETIMEOUT, /* upstream too slow: 504 */
	RELAY_ECACHE, /* memcached unavailable: 503 */
	RELAY_ECLOSED, /* the client went away: nothing to answer */
	RELAY_EIO, /* a local file or socket failed */
	RELAY__MAX
};

/* Return a static, lowercase name for err ("enomem"); never NULL. */
const char *err_name(enum relay_err err);

#endif
