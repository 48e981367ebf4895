/* SPDX-License-Identifier: MIT */
/* adminview.c - the access log's tail and the host's responder processes,
 * for the admin console's status and playground pages. Plain file reads
 * of bounded size: a few hundred microseconds on a loop thread. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adminview.h"
#include "limits.h"
#include "mem.h"
#include "num.h"

/* The last at most n bytes of path into a new buffer (*len bytes,
 * NUL-terminated), starting after the first newline when the read began
 * mid-file. *buf NULL and *len 0 for a missing file. */
static enum relay_err
read_tail(const char *path, size_t n, char **buf, size_t *len)
{
	struct stat st;
	off_t from;
	ssize_t got;
	size_t have = 0;
	char *b, *nl;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? RELAY_OK : RELAY_EIO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return RELAY_EIO;
	}
	from = st.st_size > (off_t)n ? st.st_size - (off_t)n : 0;
	b = mem_malloc(n + 1);
	if (b == NULL) {
		close(fd);
		return RELAY_ENOMEM;
	}
	while (have < n) {
		got = pread(fd, b + have, n - have, from + (off_t)have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	close(fd);
	b[have] = '\0';
	if (from > 0 && (nl = memchr(b, '\n', have)) != NULL) {
		have -= (size_t)(nl + 1 - b);
		memmove(b, nl + 1, have + 1);
	}
	*buf = b;
	*len = have;
	return RELAY_OK;
}

/* 1 when the access line object v is wanted. */
static int
wanted(json_t *v, const char *id, int errors_only)
{
	json_t *s;

	if (!json_is_object(v))
		return 0;
	if (id != NULL) {
		s = json_object_get(v, "id");
		return json_is_string(s) &&
		    strcmp(json_string_value(s), id) == 0;
	}
	if (errors_only) {
		s = json_object_get(v, "status");
		return json_is_integer(s) && json_integer_value(s) >= 400;
	}
	return 1;
}

/* Append the wanted lines of buf to arr, newest (last) first. */
static enum relay_err
scan(char *buf, size_t len, const char *id, int errors_only, size_t max,
    json_t *arr)
{
	char *end = buf + len, *start;
	json_t *v;

	while (end > buf && json_array_size(arr) < max) {
		if (end[-1] == '\n')
			end--;
		start = end;
		while (start > buf && start[-1] != '\n')
			start--;
		if (end > start) {
			v = json_loadb(start, (size_t)(end - start),
			    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
			if (v != NULL && wanted(v, id, errors_only) &&
			    json_array_append(arr, v) != 0) {
				json_decref(v);
				return RELAY_ENOMEM;
			}
			json_decref(v);
		}
		end = start;
	}
	return RELAY_OK;
}

enum relay_err
adminview_log(
    const char *path, const char *id, int errors_only, size_t max, json_t **out)
{
	char older[4096], *buf = NULL;
	enum relay_err err;
	size_t len = 0;
	int pass;

	*out = json_array();
	if (*out == NULL)
		return RELAY_ENOMEM;
	/* The current file, then the rotated one when the current is short
	 * (it was just rotated) and more lines are wanted. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (len >= RELAY_ADMIN_LOG_TAIL / 2 ||
			    json_array_size(*out) >= max ||
			    snprintf(older, sizeof(older), "%s.1", path) >=
				(int)sizeof(older))
				break;
			path = older;
		}
		mem_free(buf);
		err = read_tail(path, RELAY_ADMIN_LOG_TAIL, &buf, &len);
		if (err == RELAY_OK)
			err = scan(buf, len, id, errors_only, max, *out);
		if (err != RELAY_OK) {
			mem_free(buf);
			json_decref(*out);
			*out = NULL;
			return err;
		}
	}
	mem_free(buf);
	return RELAY_OK;
}

static int
proc_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "prog")),
	    json_string_value(json_object_get(y, "prog")));
	json_int_t px = json_integer_value(json_object_get(x, "pid"));
	json_int_t py = json_integer_value(json_object_get(y, "pid"));

	return c != 0 ? c : (px > py) - (px < py);
}

/* "<prog>.<pid>.metrics" into prog and pid; 0 for any other name. */
static int
parse_name(const char *name, char *prog, size_t progsz, long *pid)
{
	static const char suffix[] = ".metrics";
	size_t n = strlen(name), s = sizeof(suffix) - 1;
	const char *dot, *end;
	char digits[16];
	long long v;

	if (n <= s || strcmp(name + n - s, suffix) != 0 || name[0] == '.')
		return 0;
	end = name + n - s;
	dot = end;
	while (dot > name && dot[-1] != '.')
		dot--;
	if (dot <= name + 1 || dot == end || (size_t)(dot - 1 - name) >= progsz)
		return 0;
	if ((size_t)(end - dot) >= sizeof(digits))
		return 0;
	memcpy(digits, dot, (size_t)(end - dot));
	digits[end - dot] = '\0';
	if (num_parse(digits, 1, 0x7fffffff, &v) != RELAY_OK)
		return 0;
	*pid = (long)v;
	memcpy(prog, name, (size_t)(dot - 1 - name));
	prog[dot - 1 - name] = '\0';
	return 1;
}

enum relay_err
adminview_processes(const char *dir, json_t **out)
{
	json_t *list[RELAY_ADMIN_PROCS_MAX], *v;
	struct dirent *de;
	size_t n = 0, i;
	char prog[64];
	long pid;
	DIR *d;

	*out = json_array();
	if (*out == NULL)
		return RELAY_ENOMEM;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? RELAY_OK : RELAY_EIO;
	while ((de = readdir(d)) != NULL && n < RELAY_ADMIN_PROCS_MAX) {
		if (!parse_name(de->d_name, prog, sizeof(prog), &pid))
			continue;
		v = json_pack("{s:s,s:I,s:b}", "prog", prog, "pid",
		    (json_int_t)pid, "alive",
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH);
		if (v == NULL)
			break;
		list[n++] = v;
	}
	closedir(d);
	qsort(list, n, sizeof(list[0]), proc_cmp);
	for (i = 0; i < n; i++)
		if (json_array_append_new(*out, list[i]) != 0) {
			while (++i < n)
				json_decref(list[i]);
			json_decref(*out);
			*out = NULL;
			return RELAY_ENOMEM;
		}
	return RELAY_OK;
}
