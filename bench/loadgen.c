/*
 * loadgen.c - small epoll HTTP/1.1 client for make bench.
 *
 *   loadgen lat -p PORT -u PATH -b BODYFILE [-H 'k: v']... -n N [-w WARMUP]
 *       N sequential POSTs on one keep-alive connection (concurrency 1).
 *       Prints: n= err= p50_us= p90_us= p99_us= max_us= mean_us=
 *   loadgen sse -p PORT -u PATH -b BODYFILE [-H ...] -n N -c C -g GAP_MS
 *       N streaming POSTs, C at a time (C connections, kept alive); -r MS
 *       spreads the opening of the first C connections over MS milliseconds.
 *       Per stream: TTFT (request written -> first SSE data event),
 *       inter-event gaps, and lateness of event k against the mock's pacing
 *       (t_request + TTFT_direct-free schedule: k * GAP_MS after the request).
 *       Prints: n= ok= err= events= ttft_p50_us= ttft_p99_us= gap_p50_us=
 *               gap_p99_us= gap_max_us= late_max_us= late_p99_us= conn_max_us=
 *               stall_max_us= (max of TTFT and of gap minus GAP_MS: the worst
 *               delay of one event beyond the mock's pacing, which re-arms its
 *               GAP_MS timer after each event it sends)
 *
 * Only what the bench needs: Content-Length and chunked bodies, SSE events
 * split on blank lines (comment-only events are ignored).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A small non-negative decimal (the leading digits of s; 0 if none). */
static int
num(const char *s)
{
	int v = 0;

	while (*s >= '0' && *s <= '9' && v < 100000000)
		v = v * 10 + (*s++ - '0');
	return v;
}

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
die(const char *m)
{
	perror(m);
	exit(2);
}

/* growable int64 sample array */
typedef struct {
	int64_t *v;
	size_t n, cap;
} samples_t;

static void
add(samples_t *s, int64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		if (!s->v)
			die("realloc");
	}
	s->v[s->n++] = x;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* percentile in microseconds (nearest rank) */
static double
pct(samples_t *s, double p)
{
	if (!s->n)
		return -1;
	size_t i = (size_t)(p / 100.0 * (double)s->n);
	if (i >= s->n)
		i = s->n - 1;
	return (double)s->v[i] / 1000.0;
}

/* ---------------------------------------------------------------- */
enum { ST_IDLE, ST_CONNECTING, ST_SEND, ST_HEAD, ST_BODY, ST_DONE };
enum { B_LEN, B_CHUNKED, B_CLOSE };
enum { CK_SIZE, CK_DATA, CK_DATA_CRLF, CK_TRAILER };

typedef struct {
	int fd, st, keep;
	size_t out_off;
	char *in;
	size_t in_len, in_cap;
	int status, btype;
	long long left; /* B_LEN: body bytes left; chunk bytes left */
	int ck; /* chunk parser state */
	long long cksz;
	int ck_line_nonempty;
	/* SSE */
	int line_start, line_comment, ev_data, trail_nl;
	int64_t t_conn, t_sent, t_last;
	int nev;
	int active;
} conn_t;

static struct sockaddr_in g_addr;
static char *g_req;
static size_t g_req_len;
static int g_sse, g_gap_ms;
static int g_ep;
static samples_t s_lat, s_ttft, s_gap, s_late, s_conn;
static long g_err, g_ok, g_events;
static int64_t g_late_max;

static void
conn_open(conn_t *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->t_conn = now_ns();
	if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0 &&
	    errno != EINPROGRESS)
		die("connect");
	c->st = ST_CONNECTING;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
		die("epoll_ctl");
}

static void
conn_close(conn_t *c)
{
	if (c->fd >= 0) {
		epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	if (c->st != ST_DONE)
		c->st = ST_IDLE;
}

static void
want(conn_t *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};
	epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void
req_begin(conn_t *c)
{
	c->out_off = 0;
	c->in_len = 0;
	c->status = 0;
	c->nev = 0;
	c->line_start = 1;
	c->line_comment = c->ev_data = 0;
	c->st = ST_SEND;
	c->active = 1;
	want(c, EPOLLOUT | EPOLLIN);
}

/* SSE byte scanner over decoded body bytes */
static void
sse_bytes(conn_t *c, const char *p, size_t n, int64_t t)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			if (c->line_start) { /* blank line: event end */
				if (c->ev_data) {
					if (c->nev == 0)
						add(&s_ttft, t - c->t_sent);
					else
						add(&s_gap, t - c->t_last);
					int64_t late = t - c->t_sent -
					    (int64_t)c->nev * g_gap_ms *
						1000000LL;
					add(&s_late, late);
					if (late > g_late_max)
						g_late_max = late;
					c->t_last = t;
					c->nev++;
					g_events++;
				}
				c->ev_data = 0;
			}
			c->line_start = 1;
			continue;
		}
		if (c->line_start) {
			c->line_comment = ch == ':';
			if (!c->line_comment)
				c->ev_data = 1;
			c->line_start = 0;
		}
	}
}

static void
body_bytes(conn_t *c, const char *p, size_t n, int64_t t)
{
	if (g_sse)
		sse_bytes(c, p, n, t);
}

/* returns 1 when the response is complete */
static int
chunked(conn_t *c, const char *p, size_t n, int64_t t)
{
	size_t i = 0;
	while (i < n) {
		switch (c->ck) {
		case CK_SIZE: {
			char ch = p[i++];
			if (ch == '\n') {
				if (!c->ck_line_nonempty)
					break;
				c->ck_line_nonempty = 0;
				c->ck = c->cksz ? CK_DATA : CK_TRAILER;
				c->left = c->cksz;
			} else if (ch == '\r' || ch == ';') {
				if (ch == ';')
					c->ck_line_nonempty =
					    2; /* ext: ignore the rest */
			} else if (c->ck_line_nonempty != 2) {
				int d = (ch >= '0' && ch <= '9') ? ch - '0'
				    : (ch >= 'a' && ch <= 'f')   ? ch - 'a' + 10
				    : (ch >= 'A' && ch <= 'F')   ? ch - 'A' + 10
								 : -1;
				if (d < 0)
					return -1;
				c->cksz = c->cksz * 16 + d;
				c->ck_line_nonempty = 1;
			}
			break;
		}
		case CK_DATA: {
			size_t k = n - i;
			if ((long long)k > c->left)
				k = (size_t)c->left;
			body_bytes(c, p + i, k, t);
			i += k;
			c->left -= (long long)k;
			if (!c->left) {
				c->ck = CK_DATA_CRLF;
				c->cksz = 0;
			}
			break;
		}
		case CK_DATA_CRLF:
			if (p[i++] == '\n')
				c->ck = CK_SIZE;
			break;
		case CK_TRAILER: /* after 0 size: expect CRLF (no trailers used) */
			if (p[i++] == '\n')
				return 1;
			break;
		}
	}
	return 0;
}

static int
parse_head(conn_t *c)
{
	char *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!e)
		return 0;
	size_t hl = (size_t)(e - c->in) + 4;
	c->status = num(c->in + 9);
	c->btype = B_CLOSE;
	c->keep = 1;
	c->left = -1;
	for (char *l = strstr(c->in, "\r\n") + 2; l < e;
	     l = strstr(l, "\r\n") + 2) {
		if (!strncasecmp(l, "content-length:", 15)) {
			c->btype = B_LEN;
			c->left = atoll(l + 15);
		} else if (!strncasecmp(l, "transfer-encoding:", 18) &&
		    strcasestr(l, "chunked") &&
		    strcasestr(l, "chunked") < strstr(l, "\r\n")) {
			c->btype = B_CHUNKED;
		} else if (!strncasecmp(l, "connection:", 11) &&
		    strcasestr(l, "close") &&
		    strcasestr(l, "close") < strstr(l, "\r\n")) {
			c->keep = 0;
		}
	}
	if (!strncmp(c->in, "HTTP/1.0", 8))
		c->keep = 0;
	if (c->btype == B_CLOSE)
		c->keep = 0;
	c->ck = CK_SIZE;
	c->cksz = 0;
	c->ck_line_nonempty = 0;
	memmove(c->in, c->in + hl, c->in_len - hl);
	c->in_len -= hl;
	c->st = ST_BODY;
	return 1;
}

/* response finished (ok or not); returns 1 to reuse the connection */
static void
finish(conn_t *c, int ok, int64_t t)
{
	c->active = 0;
	if (ok && c->status == 200 && (!g_sse || c->nev > 0)) {
		g_ok++;
		if (!g_sse)
			add(&s_lat, t - c->t_sent);
	} else {
		g_err++;
		if (g_err <= 5)
			fprintf(stderr,
			    "loadgen: bad response: status=%d events=%d "
			    "ok=%d\n",
			    c->status, c->nev, ok);
	}
	c->st = ST_DONE;
}

/* read what is there; returns -1 on error/EOF mid-response */
static void
on_read(conn_t *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < 16384) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
			c->in = realloc(c->in, c->in_cap);
			if (!c->in)
				die("realloc");
		}
		ssize_t r =
		    read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
		int64_t t = now_ns();
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			if (c->active)
				finish(c,
				    c->st == ST_BODY && c->btype == B_CLOSE, t);
			conn_close(c);
			return;
		}
		c->in_len += (size_t)r;
		c->in[c->in_len] = 0;
		if (c->st == ST_SEND || c->st == ST_HEAD) {
			if (!parse_head(c))
				continue;
		}
		if (c->st != ST_BODY)
			continue;
		int done = 0;
		if (c->btype == B_LEN) {
			size_t k = c->in_len < (size_t)c->left
			    ? c->in_len
			    : (size_t)c->left;
			body_bytes(c, c->in, k, t);
			c->left -= (long long)k;
			done = c->left == 0;
		} else if (c->btype == B_CHUNKED) {
			done = chunked(c, c->in, c->in_len, t);
			if (done < 0) {
				finish(c, 0, t);
				conn_close(c);
				return;
			}
		} else {
			body_bytes(c, c->in, c->in_len, t);
		}
		c->in_len = 0;
		if (done) {
			finish(c, 1, t);
			if (!c->keep)
				conn_close(c);
			return;
		}
	}
}

static void
on_write(conn_t *c)
{
	if (c->st == ST_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			errno = err;
			if (g_err < 5)
				perror("loadgen: connect");
			g_err++;
			c->active = 0;
			conn_close(c);
			c->st = ST_DONE;
			return;
		}
		add(&s_conn, now_ns() - c->t_conn);
		req_begin(c);
	}
	if (c->st != ST_SEND)
		return;
	while (c->out_off < g_req_len) {
		ssize_t w =
		    write(c->fd, g_req + c->out_off, g_req_len - c->out_off);
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) {
			finish(c, 0, now_ns());
			conn_close(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	c->t_sent = now_ns();
	c->st = ST_HEAD;
	want(c, EPOLLIN);
}

static char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)sz + 1);
	if (fread(p, 1, (size_t)sz, f) != (size_t)sz)
		die("fread");
	p[sz] = 0;
	fclose(f);
	while (sz > 0 && (p[sz - 1] == '\n' || p[sz - 1] == '\r'))
		p[--sz] = 0;
	*n = (size_t)sz;
	return p;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
		    "usage: loadgen lat|sse -p PORT -u PATH -b BODY [-H h]... "
		    "-n N [-c C] [-g GAP] [-w W]\n");
		return 2;
	}
	const char *mode = argv[1];
	g_sse = !strcmp(mode, "sse");
	int port = 0, n = 100, cc = 1, warm = 0;
	const char *path = "/v1/chat/completions", *bodyf = NULL;
	char hdrs[4096] = "";
	int opt;
	optind = 2;
	int ramp_ms = 0;
	while ((opt = getopt(argc, argv, "p:u:b:H:n:c:g:w:r:")) != -1) {
		switch (opt) {
		case 'p': port = num(optarg); break;
		case 'u': path = optarg; break;
		case 'b': bodyf = optarg; break;
		case 'H': {
			size_t used = strlen(hdrs);
			snprintf(
			    hdrs + used, sizeof hdrs - used, "%s\r\n", optarg);
			break;
		}
		case 'n': n = num(optarg); break;
		case 'c': cc = num(optarg); break;
		case 'g': g_gap_ms = num(optarg); break;
		case 'w': warm = num(optarg); break;
		case 'r': ramp_ms = num(optarg); break;
		default: return 2;
		}
	}
	if (!port || !bodyf)
		return 2;
	if (!g_sse)
		cc = 1;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	size_t bl;
	char *body = slurp(bodyf, &bl);
	g_req = malloc(bl + 8192);
	g_req_len = (size_t)snprintf(g_req, bl + 8192,
	    "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
	    "application/json\r\n"
	    "Authorization: Bearer sk-bench\r\n%sContent-Length: %zu\r\n\r\n%s",
	    path, port, hdrs, bl, body);
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)port);
	g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_ep = epoll_create1(EPOLL_CLOEXEC);

	conn_t *cs = calloc((size_t)cc, sizeof *cs);
	for (int i = 0; i < cc; i++)
		cs[i].fd = -1;
	int total = n + warm, started = 0, finished = 0;
	int64_t t0 = now_ns();
	/* warmup: run `warm` requests whose samples are dropped */
	/* the first cc connections open spread evenly over ramp_ms */
	int opened = 0;
	int64_t tr = now_ns();
	struct epoll_event evs[512];
	int warm_dropped = warm == 0;
	while (finished < total) {
		int tmo = 10000;
		while (opened < cc && started < total) {
			int64_t due =
			    tr + (int64_t)ramp_ms * 1000000LL * opened / cc;
			int64_t now = now_ns();
			if (due > now) {
				tmo = (int)((due - now) / 1000000) + 1;
				break;
			}
			conn_open(&cs[opened++]);
			started++;
		}
		int k = epoll_wait(g_ep, evs, 512, tmo);
		if (k == 0 && tmo < 10000)
			continue;
		if (k == 0) {
			fprintf(stderr,
			    "loadgen: 10 s without progress (%d/%d done)\n",
			    finished, total);
			break;
		}
		for (int i = 0; i < k; i++) {
			conn_t *c = evs[i].data.ptr;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				if (c->st == ST_CONNECTING || c->st == ST_SEND)
					on_write(c);
			if (c->fd >= 0 &&
			    (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				on_read(c);
			if (c->st == ST_DONE) {
				finished++;
				if (!warm_dropped && finished >= warm) {
					s_lat.n = s_ttft.n = s_gap.n =
					    s_late.n = 0;
					g_ok = g_err = g_events = 0;
					g_late_max = 0;
					warm_dropped = 1;
					t0 = now_ns();
				}
				c->st = ST_IDLE;
				if (started < total) {
					started++;
					if (c->fd >= 0)
						req_begin(c);
					else
						conn_open(c);
				}
			}
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	qsort(s_lat.v, s_lat.n, 8, cmp64);
	qsort(s_ttft.v, s_ttft.n, 8, cmp64);
	qsort(s_gap.v, s_gap.n, 8, cmp64);
	qsort(s_late.v, s_late.n, 8, cmp64);
	qsort(s_conn.v, s_conn.n, 8, cmp64);
	if (!g_sse) {
		double sum = 0;
		for (size_t i = 0; i < s_lat.n; i++)
			sum += (double)s_lat.v[i];
		printf("n=%d ok=%ld err=%ld secs=%.3f p50_us=%.1f p90_us=%.1f "
		       "p99_us=%.1f max_us=%.1f mean_us=%.1f\n",
		    n, g_ok, g_err, secs, pct(&s_lat, 50), pct(&s_lat, 90),
		    pct(&s_lat, 99), pct(&s_lat, 100),
		    s_lat.n ? sum / (double)s_lat.n / 1000.0 : -1);
	} else {
		printf("n=%d ok=%ld err=%ld secs=%.3f events=%ld "
		       "ttft_p50_us=%.1f ttft_p99_us=%.1f gap_p50_us=%.1f "
		       "gap_p99_us=%.1f gap_max_us=%.1f late_p50_us=%.1f "
		       "late_p99_us=%.1f late_max_us=%.1f "
		       "conn_max_us=%.1f ttft_max_us=%.1f stall_max_us=%.1f\n",
		    n, g_ok, g_err, secs, g_events, pct(&s_ttft, 50),
		    pct(&s_ttft, 99), pct(&s_gap, 50), pct(&s_gap, 99),
		    pct(&s_gap, 100), pct(&s_late, 50), pct(&s_late, 99),
		    (double)g_late_max / 1000.0, pct(&s_conn, 100),
		    pct(&s_ttft, 100),
		    (pct(&s_ttft, 100) > pct(&s_gap, 100) - g_gap_ms * 1000.0
			    ? pct(&s_ttft, 100)
			    : pct(&s_gap, 100) - g_gap_ms * 1000.0));
	}
	return g_err ? 1 : 0;
}
